//! The wire contract: Debezium-compatible JSON keys and values for Kafka records.
//!
//! ```text
//! ChangeEvent ──► EnvelopeEncoder::encode ──► Record { topic, key, value }
//!                     │  (schemas.enable = true: {"schema":…,"payload":…})
//!                     └─ rendered schemas cached per (table, schema version)
//! ```
//! Invariants: the key is a deterministic function of the primary-key values (compaction-safe);
//! the value layout follows Debezium 3.x (`before`, `after`, `source`, `transaction`, `op`,
//! `ts_ms`, `ts_us`, `ts_ns`); a delete is followed by a tombstone record (value `None`).
//!
//! Here: the encoder (rendered schemas per table shape, keys, payloads, record buffers).
//! Beside it: `options` (what it is asked to write), `modes` (values under Debezium's
//! handling modes), `source` (the `source` block), `markers` (transaction boundaries,
//! heartbeats, schema changes, messages), `writer` (row images and values as JSON), and the
//! schema, Avro, decimal and float writers.

pub mod avro;
mod ddl;
mod decimal;
mod java_float;
pub(crate) mod json;
mod markers;
mod modes;
mod options;
mod schema;
mod source;
mod transaction;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::{ChangeEvent, ColumnType, Op, Position, TableId, Value};
use avro::AvroShape;
use transaction::OpenTx;

use modes::{binary_text, decimal_plain, iso_duration, trimmed_decimal};
use modes::{effective_type, moded_value, shown_fallbacks, write_moded};
pub use options::{
    AvroParts, BigintUnsigned, BinaryHandling, ColumnFilter, DecimalHandling, EnvelopeOptions,
    HstoreHandling, IntervalHandling, SkippedOps, SourceKind, SourceOutput, TimePrecision,
    ValueModes,
};
pub(crate) use source::SourceAt;
use source::{source_key, Scalar, SourceBlock};
pub(crate) use writer::write_value;
use writer::{write_now, write_row, write_tx_block, write_unavailable};

pub(crate) use decimal::{
    civil_from_days, days_from_civil, format_instant, format_tod, unscaled_bytes,
};

/// The value Debezium writes for a column whose value the source did not send.
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// Header of the delete half of a primary-key change: the new key (Debezium's name).
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";
/// Header of the create half of a primary-key change: the old key (Debezium's name).
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// The Kafka key of a truncate event of a keyed table: JSON `null`.
const TRUNCATE_KEY: &[u8] = b"null";
/// The same with `schemas.enable`.
const TRUNCATE_KEY_WITH_SCHEMA: &[u8] = br#"{"schema":null,"payload":null}"#;

/// One Kafka record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Destination topic.
    pub topic: Arc<str>,
    /// Record key (`None` for tables without a primary key and for truncates).
    pub key: Option<Vec<u8>>,
    /// Record value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Kafka record headers (heartbeats carry the acknowledged position).
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// How key and value are written.
    pub form: Form,
}

impl Record {
    /// A record of the encoder's own (a transaction boundary, a schema change, a message):
    /// JSON with schemas, no headers.
    fn envelope(topic: &Arc<str>, key: Vec<u8>, value: Vec<u8>) -> Self {
        Self {
            topic: Arc::clone(topic),
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            form: Form::Envelope,
        }
    }
}

/// How a record's parts are written.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Form {
    /// JSON: with schemas whenever the sink writes some part as Avro (the sink then rewrites
    /// each part into its format), else final.
    #[default]
    Envelope,
    /// Each part in its final format. An Avro part (wire header, then the datum) carries its
    /// shape here; its schema id (bytes 1..5, zero as written) is the sink's to fill in.
    Final {
        /// The key's Avro shape, when the key is Avro.
        key: Option<Arc<AvroShape>>,
        /// The value's Avro shape, when the value is Avro.
        value: Option<Arc<AvroShape>>,
    },
}

/// The Avro shapes of a table's key and value parts (`None` where the part is JSON, the
/// table has no key, or the schema cannot become Avro: such records take the JSON path).
#[derive(Debug)]
struct AvroShapes {
    key: Option<Arc<AvroShape>>,
    value: Option<Arc<AvroShape>>,
}

#[derive(Debug)]
struct Rendered {
    table: TableId,
    /// Each column's type as written under the handling modes.
    types: Vec<ColumnType>,
    /// Whether each column is written (the column filter; key columns always are).
    kept: Vec<bool>,
    /// For required (NOT NULL) columns, what a missing value is written as: the column's
    /// default, else its type's zero value. A null there would break the schema; it happens
    /// only for the unsent non-key columns of a delete's before image.
    fallback: Vec<Option<Value>>,
    /// `"column":` for every column, pre-escaped.
    col_keys: Vec<Vec<u8>>,
    topic: Arc<str>,
    key_schema: String,
    value_schema: String,
    /// Set when some part is Avro.
    avro: Option<AvroShapes>,
}

impl Rendered {
    /// The written cells of a row: each kept column's index, type as written and value (a
    /// required column's missing value replaced by its fallback).
    fn cells<'a>(
        &'a self,
        row: &'a [Value],
    ) -> impl Iterator<Item = (usize, &'a ColumnType, &'a Value)> + 'a {
        self.types
            .iter()
            .zip(row)
            .zip(&self.kept)
            .zip(&self.fallback)
            .enumerate()
            .filter_map(|(i, (((ty, v), kept), fallback))| {
                if !kept {
                    return None;
                }
                let v = match (v, fallback) {
                    (Value::Null, Some(f)) => f,
                    _ => v,
                };
                Some((i, ty, v))
            })
    }
}

/// Encodes change events into Debezium JSON records. Cheap to keep per connector.
#[derive(Debug)]
pub struct EnvelopeEncoder {
    opts: EnvelopeOptions,
    /// Processing time for `ts_*`, fixed per batch by [`EnvelopeEncoder::set_now`].
    now_ns: Option<i64>,
    /// The payload's closing `,"ts_ms":…,"ts_us":…,"ts_ns":…}` for `now_ns`, when set.
    now_tail: Vec<u8>,
    /// Keyed by schema version, which is unique per process.
    rendered: HashMap<u64, Arc<Rendered>>,
    /// Capacity for the next value buffer: the last value's size plus slack, so a typical
    /// value is written without regrowing its buffer.
    value_capacity: usize,
    /// The source transaction being written (with transaction metadata on).
    tx: Option<OpenTx>,
    /// `<prefix>.transaction`.
    transaction_topic: Arc<str>,
    /// `<prefix>.message`.
    message_topic: Arc<str>,
    /// `<prefix>`.
    schema_change_topic: Arc<str>,
    /// `__debezium-heartbeat.<prefix>`.
    heartbeat_topic: Arc<str>,
    /// Whether records in [`Form::Envelope`] carry schemas: as `schemas_enable` says, and
    /// always when some part is Avro (the sink derives the Avro schema from them).
    wrap: bool,
    /// The last snapshot read's `source` block as JSON, with what it was written from: the
    /// rows of a snapshot share it (streamed changes each have their own position, so they
    /// are neither looked up nor kept).
    last_source: std::sync::Mutex<Option<SourceBlock>>,
    /// Buffers of records already handed to the producer (see [`EnvelopeEncoder::recycle`]),
    /// written into again instead of allocating a buffer per key and value: those under
    /// [`SPARE_SMALL`] bytes (keys, mostly), then the others.
    spare: [Vec<Vec<u8>>; 2],
    /// The capacity held in `spare`, at most [`SPARE_BYTES`].
    spare_bytes: usize,
}

/// The most buffer capacity an encoder keeps for reuse.
const SPARE_BYTES: usize = 4 << 20;
/// Buffers larger than this are freed, not kept.
const SPARE_LARGEST: usize = 64 << 10;
/// The capacity that divides small spare buffers from large ones.
const SPARE_SMALL: usize = 1024;

/// Which spare list holds buffers of `capacity`.
fn spare_class(capacity: usize) -> usize {
    usize::from(capacity >= SPARE_SMALL)
}

/// A written event's place in its transaction: id, `total_order`, `data_collection_order`.
type TxBlock = (String, i64, i64);

impl EnvelopeEncoder {
    /// Create an encoder.
    pub fn new(opts: EnvelopeOptions) -> Self {
        let topic = |suffix: &str| -> Arc<str> {
            Arc::from(sanitize_topic(&format!("{}.{suffix}", opts.topic_prefix)))
        };
        Self {
            transaction_topic: topic("transaction"),
            message_topic: topic("message"),
            schema_change_topic: Arc::from(sanitize_topic(&opts.topic_prefix)),
            heartbeat_topic: Arc::from(sanitize_topic(&format!(
                "__debezium-heartbeat.{}",
                opts.topic_prefix
            ))),
            wrap: opts.schemas_enable || opts.avro.any(),
            last_source: std::sync::Mutex::new(None),
            opts,
            now_ns: None,
            now_tail: Vec::new(),
            rendered: HashMap::new(),
            value_capacity: 256,
            tx: None,
            spare: [Vec::new(), Vec::new()],
            spare_bytes: 0,
        }
    }

    /// Give back a record the producer has copied: its key and value buffers are written
    /// into again by later records (up to [`SPARE_BYTES`] of them), which saves an
    /// allocation and a free per part.
    pub fn recycle(&mut self, record: Record) {
        for mut buf in [record.key, record.value].into_iter().flatten() {
            let cap = buf.capacity();
            if cap > SPARE_LARGEST || self.spare_bytes + cap > SPARE_BYTES {
                continue;
            }
            buf.clear();
            self.spare_bytes += cap;
            self.spare[spare_class(cap)].push(buf);
        }
    }

    /// An empty buffer of at least `capacity`: a recycled one when there is one.
    fn buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare[spare_class(capacity)].pop() {
            Some(mut buf) => {
                self.spare_bytes -= buf.capacity();
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// The topic of transaction BEGIN/END records (`<prefix>.transaction`).
    pub fn transaction_topic(&self) -> &str {
        &self.transaction_topic
    }

    /// Whether transaction BEGIN/END records are written at all
    /// (`provide_transaction_metadata`).
    pub fn writes_transactions(&self) -> bool {
        self.opts.transaction_metadata
    }

    /// The topic of logical decoding messages (`<prefix>.message`).
    pub fn message_topic(&self) -> &str {
        &self.message_topic
    }

    /// Count a written event in the open transaction (writing BEGIN before its first one):
    /// its transaction block, or `None` without transaction metadata or outside one.
    fn in_transaction(
        &mut self,
        position: &Position,
        collection: &str,
        out: &mut Vec<Record>,
    ) -> Option<TxBlock> {
        if !self.opts.transaction_metadata {
            return None;
        }
        let id = transaction::transaction_id(position)?;
        let tx = self.tx.as_mut()?;
        if !tx.begun {
            tx.begun = true;
            let ts = tx.commit_ts_us;
            let (key, value) = self.wrap_tx(&id, |id, v| transaction::begin_payload(id, ts, v));
            out.push(Record::envelope(&self.transaction_topic, key, value));
        }
        let tx = self.tx.as_mut()?;
        let (total, in_collection) = tx.count(collection);
        Some((id, total, in_collection))
    }

    /// A BEGIN/END record's key and value, with schemas when enabled.
    fn wrap_tx(&self, id: &str, payload: impl FnOnce(&str, &mut Vec<u8>)) -> (Vec<u8>, Vec<u8>) {
        let mut key = Vec::with_capacity(64);
        let mut value = Vec::with_capacity(128);
        if self.wrap {
            key.extend_from_slice(b"{\"schema\":");
            key.extend_from_slice(transaction::KEY_SCHEMA.as_bytes());
            key.extend_from_slice(b",\"payload\":");
            value.extend_from_slice(b"{\"schema\":");
            value.extend_from_slice(transaction::VALUE_SCHEMA.as_bytes());
            value.extend_from_slice(b",\"payload\":");
        }
        transaction::key_payload(id, &mut key);
        payload(id, &mut value);
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        (key, value)
    }

    fn now_ns(&self) -> i64 {
        self.now_ns.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0)
        })
    }

    /// Use one processing timestamp for the following events (one clock read per batch);
    /// `None` reads the clock per event.
    pub fn set_now(&mut self, now_ns: Option<i64>) {
        self.now_ns = now_ns;
        self.now_tail.clear();
        if let Some(now) = now_ns {
            write_now(&mut self.now_tail, now);
        }
    }

    /// The topic a table's events go to: `<prefix>.<namespace>.<table>` with characters Kafka
    /// does not accept replaced by `_`.
    pub fn topic_for(&self, table: &TableId) -> String {
        topic_name(&self.opts.topic_prefix, table)
    }

    fn rendered(&mut self, ev: &ChangeEvent) -> Arc<Rendered> {
        if let Some(r) = self.rendered.get(&ev.schema.version) {
            return Arc::clone(r);
        }
        // Old versions of the same table are no longer needed once a newer one is seen.
        self.rendered.retain(|_, r| r.table != ev.schema.table);
        let modes = self.opts.modes;
        let types: Vec<ColumnType> = ev
            .schema
            .columns
            .iter()
            .map(|c| effective_type(&c.ty, modes))
            .collect();
        let kept: Vec<bool> = ev
            .schema
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ev.schema.key_columns.contains(&i)
                    || self.opts.columns.keeps(&ev.schema.table, &c.name)
            })
            .collect();
        // The schemas describe the columns as written.
        let mut shown = (*ev.schema).clone();
        for (c, t) in shown.columns.iter_mut().zip(&types) {
            if let Some(d) = c.default.take() {
                c.default = Some(moded_value(t, d, modes));
            }
            c.ty = t.clone();
        }
        if kept.iter().any(|k| !k) {
            let new_index: Vec<usize> = kept
                .iter()
                .scan(0, |n, &k| {
                    let i = *n;
                    *n += usize::from(k);
                    Some(i)
                })
                .collect();
            shown.key_columns = shown.key_columns.iter().map(|&k| new_index[k]).collect();
            let mut keep = kept.iter();
            shown
                .columns
                .retain(|_| keep.next().copied().unwrap_or(true));
        }
        let fallback = shown_fallbacks(&ev.schema, &types, modes);
        // The effective types are already the millisecond ones; only their names differ.
        let connect_time = modes.time == TimePrecision::Connect;
        let key_schema = schema::key_schema(&self.opts.topic_prefix, &shown, connect_time);
        let value_schema = schema::envelope_schema(
            &self.opts.topic_prefix,
            &shown,
            self.opts.source_kind,
            connect_time,
        );
        let parts = self.opts.avro;
        let avro = parts.any().then(|| {
            let shape = |text: &str| {
                let connect = serde_json::from_str(text).ok()?;
                AvroShape::from_connect(&connect).ok().map(Arc::new)
            };
            AvroShapes {
                key: (parts.key && !shown.key_columns.is_empty())
                    .then(|| shape(&key_schema))
                    .flatten(),
                value: parts.value.then(|| shape(&value_schema)).flatten(),
            }
        });
        let r = Arc::new(Rendered {
            table: ev.schema.table.clone(),
            types,
            kept,
            fallback,
            col_keys: ev
                .schema
                .columns
                .iter()
                .map(|c| {
                    let mut k = Vec::with_capacity(c.name.len() + 3);
                    json::string(&mut k, &c.name);
                    k.push(b':');
                    k
                })
                .collect(),
            topic: Arc::from(self.topic_for(&ev.schema.table)),
            key_schema,
            value_schema,
            avro,
        });
        self.rendered.insert(ev.schema.version, Arc::clone(&r));
        r
    }

    /// Encode one event into its record, plus a tombstone when the event is a delete.
    pub fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) {
        if self.opts.modes.skipped.skips(ev.op) {
            return;
        }
        let r = self.rendered(ev);
        let tx = if self.tx.is_some() {
            let collection = format!("{}.{}", ev.schema.table.namespace, ev.schema.table.name);
            self.in_transaction(&ev.position, &collection, out)
        } else {
            None
        };
        let (key, value, form) = match self.encode_final(ev, &r, tx.as_ref()) {
            Some(done) => done,
            None => {
                // `key_json` reserves what the key needs: a fresh key buffer is allocated
                // once, at that size.
                let key_buf = self.buffer(0);
                let value_buf = self.buffer(self.value_capacity);
                (
                    self.encode_key(ev, &r, self.wrap, key_buf),
                    self.json_value(ev, &r, tx.as_ref(), self.wrap, value_buf),
                    Form::Envelope,
                )
            }
        };
        self.value_capacity = (value.len() + 64).clamp(256, 64 * 1024);
        // The tombstone's null value needs no schema id: its form is the record's.
        let tombstone = if ev.needs_tombstone() && self.opts.modes.tombstones_on_delete {
            let copy = key.as_ref().map(|k| {
                let mut c = self.buffer(k.len());
                c.extend_from_slice(k);
                c
            });
            Some((copy, form.clone()))
        } else {
            None
        };
        // A primary-key change: Debezium's headers name the other half's key (as JSON, with
        // its schema when schemas are on, whatever the key format).
        let headers = match (&ev.moved_key, ev.op) {
            (Some(k), Op::Delete) => self
                .key_json(ev, k, &r, self.wrap, Vec::new())
                .map(|v| vec![(NEW_KEY_HEADER, v)])
                .unwrap_or_default(),
            (Some(k), Op::Create) => self
                .key_json(ev, k, &r, self.wrap, Vec::new())
                .map(|v| vec![(OLD_KEY_HEADER, v)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        out.push(Record {
            topic: Arc::clone(&r.topic),
            key,
            value: Some(value),
            headers,
            form,
        });
        if let Some((key, form)) = tombstone {
            out.push(Record {
                topic: Arc::clone(&r.topic),
                key,
                value: None,
                headers: Vec::new(),
                form,
            });
        }
    }

    /// Key and value in their final formats when some part is Avro (see [`AvroParts`]);
    /// `None` where the JSON path must write the record: a truncate, or an event its Avro
    /// schema does not fit (the sink's JSON-through-Avro writer then names the mismatch).
    #[allow(clippy::type_complexity)]
    fn encode_final(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
    ) -> Option<(Option<Vec<u8>>, Vec<u8>, Form)> {
        let shapes = r.avro.as_ref()?;
        if ev.op == Op::Truncate {
            return None;
        }
        let parts = self.opts.avro;
        let (key, key_shape) = if ev.key.is_empty() {
            (None, None)
        } else if parts.key {
            let shape = shapes.key.as_ref()?;
            let mut k = Vec::with_capacity(32);
            k.extend_from_slice(&[0; 5]);
            self.avro_key(ev, r, shape, &mut k).ok()?;
            (Some(k), Some(Arc::clone(shape)))
        } else {
            (
                self.encode_key(ev, r, self.opts.schemas_enable, Vec::new()),
                None,
            )
        };
        let (value, value_shape) = if parts.value {
            let shape = shapes.value.as_ref()?;
            let mut v = Vec::with_capacity(self.value_capacity / 2);
            v.extend_from_slice(&[0; 5]);
            self.avro_value(ev, r, tx, shape, &mut v).ok()?;
            (v, Some(Arc::clone(shape)))
        } else {
            (
                self.json_value(
                    ev,
                    r,
                    tx,
                    self.opts.schemas_enable,
                    Vec::with_capacity(self.value_capacity),
                ),
                None,
            )
        };
        Some((
            key,
            value,
            Form::Final {
                key: key_shape,
                value: value_shape,
            },
        ))
    }

    /// An event's JSON value, with its schema when `schemas` is set, written into `value`
    /// (empty).
    fn json_value(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
        schemas: bool,
        mut value: Vec<u8>,
    ) -> Vec<u8> {
        if schemas {
            value.extend_from_slice(b"{\"schema\":");
            value.extend_from_slice(r.value_schema.as_bytes());
            value.extend_from_slice(b",\"payload\":");
        }
        self.write_payload(ev, r, tx, &mut value);
        if schemas {
            value.push(b'}');
        }
        value
    }

    fn encode_key(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        schemas: bool,
        out: Vec<u8>,
    ) -> Option<Vec<u8>> {
        if ev.op == Op::Truncate && !ev.schema.key_columns.is_empty() {
            // A keyed table's topic is compacted, and a compacted topic refuses a null key.
            // The JSON null (what JsonConverter writes for a null key when it writes one at
            // all) decodes to a null key for Debezium consumers, and the broker accepts it.
            return Some(if schemas {
                TRUNCATE_KEY_WITH_SCHEMA.to_vec()
            } else {
                TRUNCATE_KEY.to_vec()
            });
        }
        if ev.op == Op::Truncate {
            return None;
        }
        self.key_json(ev, &ev.key, r, schemas, out)
    }

    /// The JSON key of `ev`'s table for the key values `key`, written into `out` (empty);
    /// `None` for a key-less table.
    fn key_json(
        &self,
        ev: &ChangeEvent,
        key: &[Value],
        r: &Rendered,
        schemas: bool,
        mut out: Vec<u8>,
    ) -> Option<Vec<u8>> {
        if key.is_empty() {
            return None;
        }
        out.reserve(if schemas { r.key_schema.len() + 64 } else { 32 });
        if schemas {
            out.extend_from_slice(b"{\"schema\":");
            out.extend_from_slice(r.key_schema.as_bytes());
            out.extend_from_slice(b",\"payload\":");
        }
        out.push(b'{');
        for (n, (&ci, v)) in ev.schema.key_columns.iter().zip(key).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&r.col_keys[ci]);
            write_moded(&mut out, &r.types[ci], v, self.opts.modes);
        }
        out.push(b'}');
        if schemas {
            out.push(b'}');
        }
        Some(out)
    }

    fn write_payload(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
        out: &mut Vec<u8>,
    ) {
        let modes = self.opts.modes;
        out.extend_from_slice(b"{\"before\":");
        let placeholder = &self.opts.placeholder;
        write_row(out, r, ev.before.as_deref(), modes, placeholder);
        out.extend_from_slice(b",\"after\":");
        write_row(out, r, ev.after.as_deref(), modes, placeholder);
        out.extend_from_slice(b",\"source\":");
        self.write_source(SourceAt::of(ev), out);
        out.extend_from_slice(b",\"transaction\":");
        write_tx_block(out, tx);
        out.extend_from_slice(b",\"op\":");
        json::string(out, ev.op.code());
        if self.now_ns.is_some() {
            out.extend_from_slice(&self.now_tail);
        } else {
            write_now(out, self.now_ns());
        }
    }
}

/// Kafka topic for a table under `prefix`.
pub fn topic_name(prefix: &str, table: &TableId) -> String {
    sanitize_topic(&format!("{prefix}.{}.{}", table.namespace, table.name))
}

/// `name` with the characters Kafka does not accept in topic names replaced by `_`.
fn sanitize_topic(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Column, ColumnType, Op, SnapshotMarker, TableSchema};

    /// A MySQL transaction's changes to one table share a cached `source` block with the row
    /// index written in: every record equals what a fresh encoder (nothing cached) writes,
    /// across tables, transactions, GTIDs, commit times and snapshot reads.
    #[test]
    fn cached_mysql_source_blocks_equal_fresh_ones() {
        let schema = |name: &str, version| {
            Arc::new(TableSchema {
                table: TableId::new("db", name),
                columns: vec![Column {
                    name: "id".into(),
                    ty: ColumnType::Int64,
                    nullable: false,
                    default: None,
                }],
                key_columns: vec![0],
                version,
            })
        };
        let (a, b) = (schema("a", 9_001), schema("b", 9_002));
        let at = |pos: u64, row: u32, gtid: Option<&str>| Position::Mysql {
            db: "db".into(),
            server_id: 1,
            file: "mysql-bin.000001".into(),
            pos,
            row,
            gtid: gtid.map(Into::into),
        };
        let cases = [
            (&a, at(4, 0, None), 1, None),
            (&a, at(4, 1, None), 1, None),
            (&a, at(4, 123_456, None), 1, None),
            (&b, at(4, 2, None), 1, None),
            (&a, at(4, 3, None), 1, None),
            (&a, at(900, 0, Some("0-1-2")), 2, None),
            (&a, at(900, 1, Some("0-1-2")), 2, None),
            (&a, at(900, 1, Some("0-1-3")), 2, None),
            (&a, at(900, 2, Some("0-1-3")), 3, None),
            (&a, at(900, 0, None), 3, Some(SnapshotMarker::True)),
            (&a, at(900, 0, None), 3, Some(SnapshotMarker::Last)),
            (&a, at(900, 7, None), 3, None),
        ];
        let opts = || {
            EnvelopeOptions::new(
                "p".into(),
                true,
                SourceOutput::new(crate::envelope::SourceKind::Mysql),
            )
        };
        let mut cached = EnvelopeEncoder::new(opts());
        cached.set_now(Some(1_000_000_007));
        for (i, (schema, position, commit_ts_us, snapshot)) in cases.into_iter().enumerate() {
            let mut ev = ChangeEvent::new(
                Op::Create,
                Arc::clone(schema),
                None,
                Some(vec![Value::Int(i as i64)]),
                position,
                commit_ts_us,
            )
            .expect("event");
            ev.snapshot = snapshot;
            let mut fresh = EnvelopeEncoder::new(opts());
            fresh.set_now(Some(1_000_000_007));
            let (mut got, mut want) = (Vec::new(), Vec::new());
            cached.encode(&ev, &mut got);
            fresh.encode(&ev, &mut want);
            let text = |r: &[Record]| -> Vec<String> {
                r.iter()
                    .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
                    .collect()
            };
            assert_eq!(text(&got), text(&want), "case {i}");
        }
    }
}
