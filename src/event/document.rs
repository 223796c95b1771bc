//! Changes as document stores apply them: a stable id, an optional version, upsert or delete.
//!
//! Sink connectors read change topics; the changelog source decodes each record into a
//! [`DocChange`] at its boundary, so targets (search, caches) never parse envelopes.

use std::sync::Arc;

/// Where a record came from (for offsets and dead-letter headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Kafka topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// What to do with the document.
#[derive(Debug, Clone, PartialEq)]
pub enum DocAction {
    /// Insert or replace the whole document.
    Upsert(serde_json::Map<String, serde_json::Value>),
    /// Remove the document (missing is fine).
    Delete,
}

/// One change for a document store.
#[derive(Debug, Clone, PartialEq)]
pub struct DocChange {
    /// Source record position.
    pub origin: Origin,
    /// Schema (PostgreSQL) or database (MySQL) of the table, empty when unknown.
    pub namespace: String,
    /// Table name, empty when unknown.
    pub table: String,
    /// Stable document id derived from the record key.
    pub id: String,
    /// Monotonic per key in source order (PostgreSQL LSN; MySQL binlog file/pos/row), when
    /// the record carries a position.
    pub version: Option<i64>,
    /// Upsert or delete.
    pub action: DocAction,
}

/// Stable id for a key object: a single column's value as text; several columns joined by
/// `|` with `%` and `|` percent-escaped.
pub fn doc_id(key: &serde_json::Map<String, serde_json::Value>) -> String {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    if key.len() == 1 {
        return key.values().next().map(text).unwrap_or_default();
    }
    key.values()
        .map(|v| text(v).replace('%', "%25").replace('|', "%7C"))
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are stable and unambiguous for composite keys.
    #[test]
    fn ids() {
        let k: serde_json::Map<_, _> = serde_json::from_str(r#"{"id":7}"#).expect("json");
        assert_eq!(doc_id(&k), "7");
        let k: serde_json::Map<_, _> = serde_json::from_str(r#"{"a":"x|y","b":2}"#).expect("json");
        assert_eq!(doc_id(&k), "x%7Cy|2");
    }
}
