//! Changes as document stores apply them: a stable id, an optional version, upsert or delete.
//!
//! Sink connectors read change topics; the changelog source decodes each record into a
//! [`DocChange`] at its boundary, so targets (search, caches) never parse envelopes.

use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object as text, exactly as a target stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document(String);

impl Document {
    /// Wrap text the caller built as one JSON object (the changelog decoder does).
    pub(crate) fn from_object_text(text: String) -> Self {
        Document(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The top-level fields in document order, values as raw JSON text.
    pub fn fields(&self) -> Vec<(String, &RawValue)> {
        serde_json::from_str::<Fields<'_>>(&self.0)
            .map(|f| f.0)
            .unwrap_or_default()
    }
}

/// A JSON object's members in order, values borrowed as raw text.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Fields<'a>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

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
    Upsert(Document),
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
    /// Upsert or delete.
    pub action: DocAction,
    /// Fields of an upsert whose value the source did not have (an unchanged TOASTed column
    /// under PostgreSQL's default replica identity: the record holds the
    /// `unavailable.value.placeholder`). They are left out of the document, and the target
    /// keeps what it holds for them (merge) instead of writing the placeholder.
    pub unavailable: Vec<String>,
    /// On the delete half of a primary-key change (Debezium's `__debezium.newkey` header):
    /// the new key's document id. Before the old document goes, the target gives the new
    /// one the old one's values for fields it lacks (the create of the new key carries the
    /// placeholder for unchanged TOASTed columns).
    pub moved_to: Option<String>,
}

impl DocChange {
    /// The version targets guard with: the record's offset in its partition, plus one (so
    /// every record's version is above 0, which a key change's seed of a document not yet
    /// written uses). One key is always in one partition, in source order, so offsets grow
    /// per key; deletes and tombstones have one like every record, and compaction keeps
    /// offsets. (Source positions do not do this: a PostgreSQL change's LSN can be lower
    /// than the snapshot's consistent point when its transaction began before it, and
    /// tombstones carry none.)
    pub fn version(&self) -> i64 {
        self.origin.offset.saturating_add(1)
    }
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

    /// Fields keep their order and their exact text.
    #[test]
    fn document_fields() {
        let d = Document::from_object_text(r#"{"b":0.14285714285714285714,"a":"x\"y"}"#.into());
        let f = d.fields();
        assert_eq!(f[0].0, "b");
        assert_eq!(f[0].1.get(), "0.14285714285714285714");
        assert_eq!(f[1].0, "a");
    }
}
