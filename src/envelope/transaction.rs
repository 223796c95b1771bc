//! Debezium's transaction metadata (`provide.transaction.metadata`): the BEGIN/END records
//! of the `<prefix>.transaction` topic and the `transaction` block of each event.
//!
//! Invariants, as in Debezium: a transaction's BEGIN is written just before its first
//! written event (a transaction that touched no captured table writes neither BEGIN nor
//! END); `total_order` counts the transaction's written events from 1, and
//! `data_collection_order` counts them per data collection (a table, or `message` for
//! logical decoding messages); END lists the per-collection counts in the order a Java
//! `HashMap<String, Long>` iterates them, which is what Debezium writes.

use super::json;
use crate::event::Position;

/// The transaction id Debezium writes: PostgreSQL `<txId>:<lsn>` (the LSN of the record
/// at hand), MySQL/MariaDB the GTID (else `<file>:<pos>` of the transaction).
pub(super) fn transaction_id(p: &Position) -> Option<String> {
    match p {
        Position::Postgres {
            tx_id: Some(x),
            lsn,
            ..
        } => Some(format!("{x}:{}", lsn.0)),
        Position::Mysql { gtid: Some(g), .. } => Some(g.to_string()),
        Position::Mysql { file, pos, .. } => Some(format!("{file}:{pos}")),
        _ => None,
    }
}

/// Schema of a BEGIN/END record's key (`schemas.enable`).
pub(super) const KEY_SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}"#;

/// Schema of a BEGIN/END record's value.
pub(super) const VALUE_SCHEMA: &str = concat!(
    r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},"#,
    r#"{"type":"string","optional":false,"field":"id"},"#,
    r#"{"type":"int64","optional":true,"field":"event_count"},"#,
    r#"{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},"#,
    r#"{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},"#,
    r#"{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}"#
);

/// The open transaction, as far as the encoder has written it.
#[derive(Debug, Default)]
pub(super) struct OpenTx {
    /// Commit time, microseconds since the epoch.
    pub(super) commit_ts_us: i64,
    /// Whether BEGIN was written.
    pub(super) begun: bool,
    /// Events written so far.
    total: i64,
    /// Events per data collection, in first-seen order.
    per_collection: Vec<(String, i64)>,
}

impl OpenTx {
    pub(super) fn new(commit_ts_us: i64) -> Self {
        Self {
            commit_ts_us,
            ..Self::default()
        }
    }

    /// Count one written event of `collection`: its `(total_order, data_collection_order)`.
    pub(super) fn count(&mut self, collection: &str) -> (i64, i64) {
        self.total += 1;
        let n = match self
            .per_collection
            .iter_mut()
            .find(|(c, _)| c == collection)
        {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_collection.push((collection.to_string(), 1));
                1
            }
        };
        (self.total, n)
    }

    /// The END record's value payload.
    pub(super) fn end_payload(&self, id: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"status":"END","id":"#);
        json::string(out, id);
        out.extend_from_slice(br#","event_count":"#);
        json::int(out, self.total);
        out.extend_from_slice(br#","data_collections":["#);
        let names: Vec<&str> = self
            .per_collection
            .iter()
            .map(|(c, _)| c.as_str())
            .collect();
        for (n, i) in java_hashmap_order(&names).into_iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"data_collection":"#);
            json::string(out, &self.per_collection[i].0);
            out.extend_from_slice(br#","event_count":"#);
            json::int(out, self.per_collection[i].1);
            out.push(b'}');
        }
        out.extend_from_slice(br#"],"ts_ms":"#);
        json::int(out, self.commit_ts_us.div_euclid(1000));
        out.push(b'}');
    }
}

/// The BEGIN record's value payload.
pub(super) fn begin_payload(id: &str, commit_ts_us: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"status":"BEGIN","id":"#);
    json::string(out, id);
    out.extend_from_slice(br#","event_count":null,"data_collections":null,"ts_ms":"#);
    json::int(out, commit_ts_us.div_euclid(1000));
    out.push(b'}');
}

/// The key payload of a BEGIN/END record.
pub(super) fn key_payload(id: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"id":"#);
    json::string(out, id);
    out.push(b'}');
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, u| h.wrapping_mul(31).wrapping_add(u32::from(u)))
}

/// The order in which a `java.util.HashMap` (default capacity 16, load factor 0.75) iterates
/// `keys` inserted in the given order: by bucket of the final table, insertion order within
/// a bucket (resizing keeps it). Bins that Java would turn into trees (8 or more keys in one
/// bucket of a table of 64 or more) are not modelled.
fn java_hashmap_order(keys: &[&str]) -> Vec<usize> {
    let spread: Vec<u32> = keys
        .iter()
        .map(|k| {
            let h = java_hash(k);
            h ^ (h >> 16)
        })
        .collect();
    let mut capacity = 16usize;
    for n in 1..=keys.len() {
        // A bin reaching 9 entries in a table below 64 doubles the table instead.
        let last = spread[n - 1] as usize & (capacity - 1);
        let in_bin = spread[..n]
            .iter()
            .filter(|&&h| h as usize & (capacity - 1) == last)
            .count();
        if in_bin >= 9 && capacity < 64 {
            capacity *= 2;
        }
        if n > capacity * 3 / 4 {
            capacity *= 2;
        }
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| (spread[i] as usize & (capacity - 1), i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debezium 3.6.3 listed `public.tx_b` before `public.tx_a` (recorded case
    /// pg_transactions), whichever came first.
    #[test]
    fn hashmap_order_as_java() {
        assert_eq!(
            java_hash("public.tx_a"),
            "public.tx_a"
                .chars()
                .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(c as u32))
        );
        assert_eq!(
            java_hashmap_order(&["public.tx_a", "public.tx_b"]),
            vec![1, 0]
        );
        assert_eq!(
            java_hashmap_order(&["public.tx_b", "public.tx_a"]),
            vec![0, 1]
        );
        // "Aa" and "BB" share a hash: insertion order decides.
        assert_eq!(java_hashmap_order(&["BB", "Aa"]), vec![0, 1]);
        let many: Vec<String> = (0..40).map(|i| format!("s.t{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut order = java_hashmap_order(&refs);
        order.sort_unstable();
        assert_eq!(order, (0..40).collect::<Vec<_>>(), "a permutation");
    }

    /// END lists counts and the commit time in milliseconds.
    #[test]
    fn end_record() {
        let mut tx = OpenTx::new(1_500_999);
        assert_eq!(tx.count("public.a"), (1, 1));
        assert_eq!(tx.count("public.b"), (2, 1));
        assert_eq!(tx.count("public.a"), (3, 2));
        let mut out = Vec::new();
        tx.end_payload("7:99", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["event_count"], 3);
        assert_eq!(v["ts_ms"], 1500);
        assert_eq!(v["data_collections"].as_array().map(Vec::len), Some(2));
    }
}
