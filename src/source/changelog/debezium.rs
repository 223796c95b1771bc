//! Decoding Debezium-format change records (sluice's or Debezium's own), with or without
//! `schemas.enable`, into [`DocChange`]s with values a document store wants.
//!
//! With schemas, logical types are converted: Decimal/VariableScaleDecimal → number or exact
//! string, Date → `YYYY-MM-DD`, Time/MicroTime/NanoTime → `HH:MM:SS[.f]`,
//! Timestamp/MicroTimestamp/NanoTimestamp → ISO-8601 UTC, Json → object. Without schemas,
//! values pass through as they are (decimals stay base64, times stay numbers).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use crate::config::DecimalFormat;
use crate::event::{doc_id, DocAction, DocChange, Origin};

/// Why a record was not turned into a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// An operation a document store does not apply (`t`, `m`, heartbeats, schema changes).
    Ignored(&'static str),
    /// The record can never be applied (not JSON, no key, ...). Goes to the dead-letter topic.
    Poison(String),
}

/// Options for value conversion.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Decimal output.
    pub decimal_format: DecimalFormat,
    /// Keep only these fields (empty: all).
    pub include: Vec<String>,
    /// Drop these fields.
    pub exclude: Vec<String>,
}

/// Parsed `after` field schemas by their raw schema text: a topic's schema repeats in every
/// record, so it is parsed once, not per record. Bounded: cleared past 256 distinct schemas.
#[derive(Debug, Default)]
pub struct SchemaCache {
    fields: HashMap<String, Option<Arc<FieldSchemas>>>,
}

/// Field schemas of a row, by field name.
type FieldSchemas = HashMap<String, Json>;

impl SchemaCache {
    fn after_fields(&mut self, raw: &str) -> Option<Arc<FieldSchemas>> {
        if let Some(f) = self.fields.get(raw) {
            return f.clone();
        }
        if self.fields.len() >= 256 {
            self.fields.clear();
        }
        let parsed: Option<Json> = serde_json::from_str(raw).ok();
        let f = parsed
            .as_ref()
            .and_then(|s| row_schema(s, "after"))
            .map(|fields| {
                Arc::new(
                    fields
                        .iter()
                        .filter_map(|f| Some((f.get("field")?.as_str()?.to_string(), f.clone())))
                        .collect(),
                )
            });
        self.fields.insert(raw.to_string(), f.clone());
        f
    }
}

/// Top-level fields of a record, borrowed from the record bytes (envelope keys never need
/// unescaping).
type RawFields<'a> = BTreeMap<&'a str, &'a RawValue>;

fn unwrap_payload(v: Json) -> (Json, Option<Json>) {
    match v {
        Json::Object(mut m) if m.contains_key("payload") && m.contains_key("schema") => {
            let schema = m.remove("schema");
            (m.remove("payload").unwrap_or(Json::Null), schema)
        }
        other => (other, None),
    }
}

/// The version of a change from its `source` block.
fn version(source: &Map<String, Json>) -> Option<i64> {
    if let Some(lsn) = source.get("lsn").and_then(Json::as_i64) {
        return Some(lsn);
    }
    let file = source.get("file").and_then(Json::as_str)?;
    let pos = source.get("pos").and_then(Json::as_i64)?;
    let row = source.get("row").and_then(Json::as_i64).unwrap_or(0);
    let seq: i64 = file.rsplit('.').next()?.parse().ok()?;
    Some((seq << 40) | ((pos & 0xFFFF_FFFF) << 8) | row.clamp(0, 255))
}

/// Decode one record.
pub fn decode(
    origin: Origin,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    opts: &DecodeOptions,
    cache: &mut SchemaCache,
) -> Result<DocChange, Skip> {
    let key = key.ok_or(Skip::Ignored("record without key"))?;
    let key: Json =
        serde_json::from_slice(key).map_err(|e| Skip::Poison(format!("key is not JSON: {e}")))?;
    let (key, _) = unwrap_payload(key);
    let key = match key {
        Json::Object(m) => m,
        Json::Null => return Err(Skip::Ignored("record with null key")),
        _ => return Err(Skip::Poison("key is not a JSON object".into())),
    };
    // Heartbeats and schema-change records have other keys.
    if key.contains_key("serverName") || key.contains_key("databaseName") {
        return Err(Skip::Ignored("heartbeat or schema change"));
    }
    let id = doc_id(&key);
    let Some(value) = value else {
        // Tombstone: delete without version (the delete before it carried one). It has no
        // source block: the table comes from the topic name `<prefix>.<schema>.<table>`.
        let mut parts = origin.topic.rsplitn(3, '.');
        let table = parts.next().unwrap_or_default().to_string();
        let namespace = parts.next().unwrap_or_default().to_string();
        return Ok(DocChange {
            origin,
            namespace,
            table,
            id,
            version: None,
            action: DocAction::Delete,
        });
    };
    // Parse only the top level; the schema text is looked up in the cache, and of the payload
    // only `op`, `source` and `after` are parsed.
    let poison = |e: serde_json::Error| Skip::Poison(format!("value is not a JSON object: {e}"));
    let top: RawFields = serde_json::from_slice(value).map_err(poison)?;
    let (fields, after_schema) = match (top.get("schema"), top.get("payload")) {
        (Some(schema), Some(payload)) => {
            let inner: RawFields = serde_json::from_str(payload.get()).map_err(poison)?;
            (inner, cache.after_fields(schema.get()))
        }
        _ => (top, None),
    };
    let op: String = fields
        .get("op")
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .ok_or(Skip::Ignored("record without op"))?;
    let source: Map<String, Json> = fields
        .get("source")
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default();
    let text = |k: &str| {
        source
            .get(k)
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    };
    let namespace = match source.get("schema").and_then(Json::as_str) {
        Some(s) => s.to_string(),
        None => text("db"),
    };
    let table = text("table");
    let version = version(&source);
    let action = match op.as_str() {
        "c" | "r" | "u" => {
            let after: Option<Map<String, Json>> = fields
                .get("after")
                .and_then(|r| serde_json::from_str(r.get()).ok());
            let Some(after) = after else {
                return Err(Skip::Poison(format!("op {op} without an after image")));
            };
            DocAction::Upsert(convert_row(after, after_schema.as_deref(), opts))
        }
        "d" => DocAction::Delete,
        "t" => return Err(Skip::Ignored("truncate")),
        "m" => return Err(Skip::Ignored("message")),
        _ => return Err(Skip::Ignored("unknown op")),
    };
    Ok(DocChange {
        origin,
        namespace,
        table,
        id,
        version,
        action,
    })
}

/// The field schemas of the `after`/`before` struct in an envelope schema.
fn row_schema<'a>(schema: &'a Json, field: &str) -> Option<&'a Vec<Json>> {
    schema
        .get("fields")?
        .as_array()?
        .iter()
        .find(|f| f.get("field").and_then(Json::as_str) == Some(field))?
        .get("fields")?
        .as_array()
}

fn convert_row(
    row: Map<String, Json>,
    fields: Option<&FieldSchemas>,
    opts: &DecodeOptions,
) -> Map<String, Json> {
    let mut out = Map::with_capacity(row.len());
    for (name, v) in row {
        if (!opts.include.is_empty() && !opts.include.contains(&name))
            || opts.exclude.contains(&name)
        {
            continue;
        }
        let f = fields.and_then(|fs| fs.get(&name));
        let v = match f {
            Some(f) => convert_value(v, f, opts),
            None => v,
        };
        out.insert(name, v);
    }
    out
}

fn decimal_text(bytes: &[u8], scale: u32) -> String {
    // Two's-complement big-endian → signed magnitude in base 10.
    let neg = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = if neg {
        // Negate: invert and add one.
        let mut v: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for b in v.iter_mut().rev() {
            let (n, carry) = b.overflowing_add(1);
            *b = n;
            if !carry {
                break;
            }
        }
        v
    } else {
        bytes.to_vec()
    };
    // Repeated division by 10.
    let mut digits = Vec::new();
    while mag.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    let scale = scale as usize;
    while digits.len() <= scale {
        digits.push(b'0');
    }
    digits.reverse();
    let s = String::from_utf8(digits).unwrap_or_default();
    let (int, frac) = s.split_at(s.len() - scale);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(int);
    if scale > 0 {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn decimal_json(text: String, format: DecimalFormat) -> Json {
    match format {
        DecimalFormat::String => Json::String(text),
        DecimalFormat::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::String(text), Json::Number),
    }
}

fn iso_date(days: i64) -> String {
    let (y, m, d) = crate::envelope::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn convert_value(v: Json, f: &Json, opts: &DecodeOptions) -> Json {
    if v.is_null() {
        return v;
    }
    let name = f.get("name").and_then(Json::as_str).unwrap_or("");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok();
    match (name, &v) {
        ("org.apache.kafka.connect.data.Decimal", Json::String(s)) => {
            let scale = f
                .pointer("/parameters/scale")
                .and_then(Json::as_str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match b64(s) {
                Some(bytes) => decimal_json(decimal_text(&bytes, scale), opts.decimal_format),
                None => v,
            }
        }
        ("io.debezium.data.VariableScaleDecimal", Json::Object(o)) => {
            let scale = o.get("scale").and_then(Json::as_u64).unwrap_or(0) as u32;
            match o.get("value").and_then(Json::as_str).and_then(b64) {
                Some(bytes) => decimal_json(decimal_text(&bytes, scale), opts.decimal_format),
                None => v,
            }
        }
        ("io.debezium.time.Date", Json::Number(n)) => {
            n.as_i64().map_or(v.clone(), |d| Json::String(iso_date(d)))
        }
        ("io.debezium.time.Time", Json::Number(n)) => n.as_i64().map_or(v.clone(), |ms| {
            Json::String(crate::envelope::format_tod(ms * 1000, None))
        }),
        ("io.debezium.time.MicroTime", Json::Number(n)) => n.as_i64().map_or(v.clone(), |us| {
            Json::String(crate::envelope::format_tod(us, None))
        }),
        ("io.debezium.time.NanoTime", Json::Number(n)) => n.as_i64().map_or(v.clone(), |ns| {
            Json::String(crate::envelope::format_tod(ns / 1000, None))
        }),
        ("io.debezium.time.Timestamp", Json::Number(n)) => n.as_i64().map_or(v.clone(), |ms| {
            Json::String(crate::envelope::format_instant(ms * 1000, 3))
        }),
        ("io.debezium.time.MicroTimestamp", Json::Number(n)) => {
            n.as_i64().map_or(v.clone(), |us| {
                Json::String(crate::envelope::format_instant(us, 6))
            })
        }
        ("io.debezium.time.NanoTimestamp", Json::Number(n)) => n.as_i64().map_or(v.clone(), |ns| {
            Json::String(crate::envelope::format_instant(ns / 1000, 6))
        }),
        ("io.debezium.data.Json", Json::String(s)) => serde_json::from_str(s).unwrap_or(v),
        _ => match (f.get("type").and_then(Json::as_str), v) {
            // Search engines reject non-finite numbers: NaN and ±Infinity become null.
            (Some("float" | "double"), Json::String(_)) => Json::Null,
            (Some("array"), Json::Array(items)) => match f.get("items") {
                Some(inner) => Json::Array(
                    items
                        .into_iter()
                        .map(|i| convert_value(i, inner, opts))
                        .collect(),
                ),
                None => Json::Array(items),
            },
            (_, v) => v,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn origin() -> Origin {
        Origin {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
        }
    }

    /// Decimal bytes decode to exact text, negative values included.
    #[test]
    fn decimals() {
        assert_eq!(decimal_text(&[0x11, 0x94], 3), "4.500");
        assert_eq!(decimal_text(&[0xff], 2), "-0.01");
        assert_eq!(
            decimal_text(&[0xfd, 0xab, 0xf4, 0x1c, 0x01], 3),
            "-9999999.999"
        );
        assert_eq!(decimal_text(&[0x00], 0), "0");
    }

    /// Records from the Debezium reference (schemas on) convert to search-friendly values;
    /// tombstones delete; the LSN is the version.
    #[test]
    fn reference_records() {
        let text =
            include_str!("../../../schemas/golden/debezium-3.6.3/pg_types.schemas-true.jsonl");
        let line: Json = serde_json::from_str(text.lines().nth(1).expect("line")).expect("json");
        let key = serde_json::to_vec(&line["key"]).expect("key");
        let value = serde_json::to_vec(&line["value"]).expect("value");
        let c = decode(
            origin(),
            Some(&key),
            Some(&value),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        )
        .expect("decodes");
        assert_eq!(c.id, "2");
        assert_eq!(c.table, "golden_types");
        assert_eq!(c.namespace, "public");
        assert!(c.version.is_some());
        let DocAction::Upsert(doc) = c.action else {
            panic!("upsert expected");
        };
        assert_eq!(doc["c_numeric"], serde_json::json!(1234.567));
        assert_eq!(doc["c_date"], "2024-02-29");
        assert_eq!(doc["c_time"], "13:45:56.123456");
        assert_eq!(doc["c_timestamp"], "2024-02-29T13:45:56.123456Z");
        assert_eq!(doc["c_jsonb"]["b"], serde_json::json!([1, 2, 3]));
        assert_eq!(doc["c_money"], serde_json::json!(12.34));
        let mut o = origin();
        o.topic = Arc::from("anchor.public.golden_types");
        let tomb = decode(
            o,
            Some(&key),
            None,
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        )
        .expect("tomb");
        assert_eq!(tomb.action, DocAction::Delete);
        assert_eq!(
            (tomb.namespace.as_str(), tomb.table.as_str()),
            ("public", "golden_types")
        );
    }

    /// MySQL positions give increasing versions; bad input is poison, not a panic.
    #[test]
    fn versions_and_poison() {
        let a: Map<String, Json> =
            serde_json::from_str(r#"{"file":"mysql-bin.000003","pos":484,"row":0}"#).expect("j");
        let b: Map<String, Json> =
            serde_json::from_str(r#"{"file":"mysql-bin.000003","pos":484,"row":1}"#).expect("j");
        let c: Map<String, Json> =
            serde_json::from_str(r#"{"file":"mysql-bin.000004","pos":4,"row":0}"#).expect("j");
        assert!(version(&a) < version(&b) && version(&b) < version(&c));
        let r = decode(
            origin(),
            Some(b"{\"id\":1}"),
            Some(b"not json"),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        );
        assert!(matches!(r, Err(Skip::Poison(_))));
        let r = decode(
            origin(),
            Some(b"{\"id\":1}"),
            Some(b"{\"op\":\"t\"}"),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        );
        assert_eq!(r, Err(Skip::Ignored("truncate")));
    }
}
