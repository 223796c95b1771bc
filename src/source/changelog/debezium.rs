//! Decoding Debezium-format change records (sluice's or Debezium's own), with or without
//! `schemas.enable`, into [`DocChange`]s with values a document store wants.
//!
//! With schemas, logical types are converted: Decimal/VariableScaleDecimal → number or exact
//! string, Date → `YYYY-MM-DD`, Time/MicroTime/NanoTime → `HH:MM:SS[.f]`,
//! Timestamp/MicroTimestamp/NanoTimestamp → ISO-8601 UTC, Json → object. Without schemas,
//! values pass through as they are (decimals stay base64, times stay numbers).
//!
//! Invariants: the document is written as text, field by field: a value that needs no
//! conversion is copied byte for byte (numbers keep every digit), converted decimals and JSON
//! columns are written from their exact text, never through `f64`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use crate::config::DecimalFormat;
use crate::envelope::json::string as write_json_string;
use crate::event::{doc_id, DocAction, DocChange, Document, Fields, Origin};

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
    /// The producing connector's `unavailable.value.placeholder` (`None`: Debezium's
    /// default, `__debezium_unavailable_value`).
    pub placeholder: Option<String>,
}

/// The forms a placeholder takes in a record, as JSON text: a string column's value, a
/// bytes column's (base64 of the placeholder's bytes), a string array's (one element).
#[derive(Debug)]
struct PlaceholderForms {
    string: String,
    bytes: String,
    array: String,
}

impl PlaceholderForms {
    fn new(placeholder: &str) -> Self {
        let mut string = Vec::new();
        write_json_string(&mut string, placeholder);
        let string = String::from_utf8(string).unwrap_or_default();
        let bytes = format!(
            "\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(placeholder)
        );
        let array = format!("[{string}]");
        Self {
            string,
            bytes,
            array,
        }
    }

    /// Whether `raw` is the placeholder, in the form the field's Connect schema (if any)
    /// gives it.
    fn matches(&self, raw: &str, schema: Option<&Json>) -> bool {
        let ty = schema.and_then(|f| f.get("type")).and_then(Json::as_str);
        let named = schema.and_then(|f| f.get("name")).is_some();
        match ty {
            Some("string") => raw == self.string,
            Some("bytes") if !named => raw == self.bytes,
            Some("array") => raw == self.array,
            Some(_) => false,
            None => raw == self.string || raw == self.bytes || raw == self.array,
        }
    }
}

/// Parsed `after` field schemas by their raw schema text: a topic's schema repeats in every
/// record, so it is parsed once, not per record. Bounded: cleared past 256 distinct schemas.
///
/// The few schemas seen last are also matched against the record bytes directly (the
/// envelope's `schema` text compared byte for byte), so a record of a known shape skips
/// both the scan of its schema text and its hashing.
#[derive(Debug, Default)]
pub struct SchemaCache {
    fields: HashMap<String, Option<Arc<FieldSchemas>>>,
    /// The last schema texts seen (most recent first, at most [`RECENT_SCHEMAS`]).
    recent: Vec<(Arc<str>, Option<Arc<FieldSchemas>>)>,
    /// The placeholder's forms, for the placeholder they were made from.
    forms: Option<(String, Arc<PlaceholderForms>)>,
}

/// How many schema texts are matched byte for byte before a record is parsed in full.
const RECENT_SCHEMAS: usize = 8;

/// Field schemas of a row, by field name.
type FieldSchemas = HashMap<String, Json>;

impl SchemaCache {
    fn forms(&mut self, placeholder: &str) -> Arc<PlaceholderForms> {
        match &self.forms {
            Some((p, f)) if p == placeholder => Arc::clone(f),
            _ => {
                let f = Arc::new(PlaceholderForms::new(placeholder));
                self.forms = Some((placeholder.to_string(), Arc::clone(&f)));
                f
            }
        }
    }

    /// The payload text and field schemas of a record `{"schema":S,"payload":P}` whose S is
    /// one of the recent schema texts; `None` when it is not (then it is parsed in full).
    fn known<'v>(&mut self, value: &'v [u8]) -> Option<(&'v [u8], Option<Arc<FieldSchemas>>)> {
        let rest = value.strip_prefix(br#"{"schema":"#)?;
        let (at, payload) = self.recent.iter().enumerate().find_map(|(i, (text, _))| {
            let payload = rest
                .strip_prefix(text.as_bytes())?
                .strip_prefix(br#","payload":"#)?
                .trim_ascii_end()
                .strip_suffix(b"}")?;
            Some((i, payload))
        })?;
        if at > 0 {
            let hit = self.recent.remove(at);
            self.recent.insert(0, hit);
        }
        Some((payload, self.recent.first()?.1.clone()))
    }

    fn after_fields(&mut self, raw: &str) -> Option<Arc<FieldSchemas>> {
        let f = self.parse_after_fields(raw);
        self.recent.retain(|(text, _)| &**text != raw);
        self.recent.truncate(RECENT_SCHEMAS - 1);
        self.recent.insert(0, (Arc::from(raw), f.clone()));
        f
    }

    fn parse_after_fields(&mut self, raw: &str) -> Option<Arc<FieldSchemas>> {
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

/// The names in a record's `source` block (the rest of it is skipped, not parsed).
#[derive(Debug, Default, serde::Deserialize)]
struct SourceNames<'a> {
    #[serde(borrow, default)]
    schema: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    db: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    table: Option<std::borrow::Cow<'a, str>>,
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

/// A serde_json error without the input text it may quote (row values stay out of logs).
fn json_error(what: &str, e: &serde_json::Error) -> String {
    format!(
        "{what}: {:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
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
        serde_json::from_slice(key).map_err(|e| Skip::Poison(json_error("key is not JSON", &e)))?;
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
        // Tombstone: it has no source block; the table comes from the topic name
        // `<prefix>.<schema>.<table>`.
        let mut parts = origin.topic.rsplitn(3, '.');
        let table = parts.next().unwrap_or_default().to_string();
        let namespace = parts.next().unwrap_or_default().to_string();
        return Ok(DocChange {
            origin,
            namespace,
            table,
            id,
            action: DocAction::Delete,
            unavailable: Vec::new(),
            moved_to: None,
        });
    };
    // Parse only the top level; the schema text is looked up in the cache, and of the payload
    // only `op`, `source` and `after` are parsed.
    let poison = |e: serde_json::Error| Skip::Poison(json_error("value is not a JSON object", &e));
    let known = cache
        .known(value)
        .and_then(|(payload, f)| Some((serde_json::from_slice::<RawFields>(payload).ok()?, f)));
    let (fields, after_schema) = match known {
        Some(hit) => hit,
        None => {
            let top: RawFields = serde_json::from_slice(value).map_err(poison)?;
            match (top.get("schema"), top.get("payload")) {
                (Some(schema), Some(payload)) => {
                    let inner: RawFields = serde_json::from_str(payload.get()).map_err(poison)?;
                    (inner, cache.after_fields(schema.get()))
                }
                _ => (top, None),
            }
        }
    };
    let op: String = fields
        .get("op")
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .ok_or(Skip::Ignored("record without op"))?;
    let source: SourceNames = fields
        .get("source")
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default();
    let namespace = source.schema.or(source.db).unwrap_or_default().into_owned();
    let table = source.table.unwrap_or_default().into_owned();
    let mut unavailable = Vec::new();
    let action = match op.as_str() {
        "c" | "r" | "u" => {
            let after: Option<Fields> = fields
                .get("after")
                .and_then(|r| serde_json::from_str(r.get()).ok());
            let Some(after) = after else {
                return Err(Skip::Poison(format!("op {op} without an after image")));
            };
            DocAction::Upsert(
                convert_row(
                    after,
                    after_schema.as_deref(),
                    opts,
                    &cache.forms(
                        opts.placeholder
                            .as_deref()
                            .unwrap_or(crate::envelope::UNAVAILABLE_VALUE),
                    ),
                    &mut unavailable,
                )
                .map_err(Skip::Poison)?,
            )
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
        action,
        unavailable,
        moved_to: None,
    })
}

/// The document id a `__debezium.newkey` header names (the key as JSON, with or without
/// its schema); `None` when it is not a JSON key object.
pub fn header_doc_id(header: &[u8]) -> Option<String> {
    let key: Json = serde_json::from_slice(header).ok()?;
    match unwrap_payload(key).0 {
        Json::Object(m) => Some(doc_id(&m)),
        _ => None,
    }
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

/// The row as a document; fields holding the placeholder are left out and named in
/// `unavailable`.
fn convert_row(
    row: Fields<'_>,
    fields: Option<&FieldSchemas>,
    opts: &DecodeOptions,
    forms: &PlaceholderForms,
    unavailable: &mut Vec<String>,
) -> Result<Document, String> {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for (name, v) in row.0 {
        if (!opts.include.is_empty() && !opts.include.contains(&name))
            || opts.exclude.contains(&name)
        {
            continue;
        }
        let schema = fields.and_then(|fs| fs.get(&name));
        if forms.matches(v.get(), schema) {
            unavailable.push(name);
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        write_json_string(&mut out, &name);
        out.push(b':');
        match schema {
            Some(f) => convert_value(v, f, opts, &mut out).map_err(|what| {
                format!("column `{name}` holds {what}, which no database stores")
            })?,
            None => copy_raw(v.get(), &mut out),
        }
    }
    out.push(b'}');
    // Only valid UTF-8 was written (JSON text and escaped strings).
    Ok(Document::from_object_text(
        String::from_utf8(out).unwrap_or_else(|_| "{}".into()),
    ))
}

/// Copy JSON text as it is, but on one line: a raw line break can only be insignificant
/// whitespace between tokens (inside strings it is escaped), and NDJSON bodies need one line.
fn copy_raw(text: &str, out: &mut Vec<u8>) {
    if text.bytes().any(|b| b == b'\n' || b == b'\r') {
        out.extend(
            text.bytes()
                .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Largest decimal (unscaled bytes) and scale (either sign) the sink decodes: beyond
/// PostgreSQL's own limits (131072 digits, scale −1000..16383), so every value a database can
/// hold fits, and a hostile
/// record cannot make the conversion take unbounded time or memory.
const MAX_DECIMAL_BYTES: usize = 64 * 1024;
const MAX_DECIMAL_SCALE: u64 = 32_767;

/// Exact decimal text of a two's-complement big-endian unscaled value at `scale`. The
/// magnitude's digits come from a subquadratic base conversion (divide and conquer over
/// Karatsuba/Toom-3 products, `ibig`), so even the largest decimal PostgreSQL stores converts
/// in milliseconds; the limits above bound the cost per value, so a record's cost grows with
/// its size (n log² n), never with its square.
fn decimal_text(bytes: &[u8], scale: i64) -> Result<String, String> {
    if bytes.len() > MAX_DECIMAL_BYTES {
        return Err(format!(
            "a decimal of {} bytes (the limit is {MAX_DECIMAL_BYTES})",
            bytes.len()
        ));
    }
    if scale.unsigned_abs() > MAX_DECIMAL_SCALE {
        return Err(format!(
            "a decimal scale of {scale} (the limit is ±{MAX_DECIMAL_SCALE})"
        ));
    }
    let neg = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mag: Vec<u8> = if neg {
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
    let mut digits = ibig::UBig::from_be_bytes(&mag).to_string();
    if scale < 0 {
        // A negative scale (PostgreSQL `numeric(p, -s)`) multiplies by 10^-scale.
        if digits != "0" {
            digits.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        if neg {
            digits.insert(0, '-');
        }
        return Ok(digits);
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        digits.insert_str(0, &"0".repeat(scale + 1 - digits.len()));
    }
    let (int, frac) = digits.split_at(digits.len() - scale);
    let mut out = String::with_capacity(digits.len() + 2);
    if neg {
        out.push('-');
    }
    out.push_str(int);
    if scale > 0 {
        out.push('.');
        out.push_str(frac);
    }
    Ok(out)
}

/// `HH:MM:SS[.f]` of a possibly negative duration (MariaDB `TIME '-838:59:59'`).
/// Times of day and MySQL durations: ±1,000,000 hours covers every database (MySQL's TIME
/// stops at ±838:59:59) with room to spare; beyond is an error, never a saturated value.
const MAX_TIME_US: u64 = 1_000_000 * 3_600_000_000;

fn signed_tod(us: i64) -> Result<String, String> {
    let abs = us.unsigned_abs();
    if abs > MAX_TIME_US {
        return Err("a time beyond ±1,000,000 hours".into());
    }
    let t = crate::envelope::format_tod(abs as i64, None);
    Ok(if us < 0 { format!("-{t}") } else { t })
}

/// Days of a date the sink writes: ±100 million days (±273,000 years) covers every database.
const MAX_DATE_DAYS: i64 = 100_000_000;

fn write_decimal(text: &str, format: DecimalFormat, out: &mut Vec<u8>) {
    match format {
        DecimalFormat::String => write_json_string(out, text),
        // `decimal_text` writes a valid JSON number: every digit kept, no float round trip.
        DecimalFormat::Number => out.extend_from_slice(text.as_bytes()),
    }
}

fn iso_date(days: i64) -> Result<String, String> {
    if days.unsigned_abs() > MAX_DATE_DAYS.unsigned_abs() {
        return Err("a date beyond ±273,000 years".into());
    }
    let (y, m, d) = crate::envelope::civil_from_days(days);
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// Write one value converted by its Connect schema; an error for a value no database holds
/// (the record then goes to the dead-letter topic).
fn convert_value(
    raw: &RawValue,
    f: &Json,
    opts: &DecodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let text = raw.get();
    if text == "null" {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let name = f.get("name").and_then(Json::as_str).unwrap_or("");
    let string = || serde_json::from_str::<String>(text).ok();
    let int = || serde_json::from_str::<i64>(text).ok();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok();
    let quoted = |out: &mut Vec<u8>, s: String| write_json_string(out, &s);
    match name {
        "org.apache.kafka.connect.data.Decimal" => {
            let scale = f
                .pointer("/parameters/scale")
                .and_then(Json::as_str)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| format!("a decimal scale `{s}`"))
                })
                .transpose()?
                .unwrap_or(0);
            match string().as_deref().and_then(b64) {
                Some(bytes) => {
                    write_decimal(&decimal_text(&bytes, scale)?, opts.decimal_format, out)
                }
                None => copy_raw(text, out),
            }
        }
        "io.debezium.data.VariableScaleDecimal" => {
            let o: Option<Map<String, Json>> = serde_json::from_str(text).ok();
            let scale = match o.as_ref().and_then(|o| o.get("scale")) {
                None => 0,
                Some(v) => v.as_i64().ok_or_else(|| format!("a decimal scale `{v}`"))?,
            };
            match o
                .as_ref()
                .and_then(|o| o.get("value")?.as_str())
                .and_then(b64)
            {
                Some(bytes) => {
                    write_decimal(&decimal_text(&bytes, scale)?, opts.decimal_format, out)
                }
                None => copy_raw(text, out),
            }
        }
        "io.debezium.time.Date" => match int() {
            Some(d) => quoted(out, iso_date(d)?),
            None => copy_raw(text, out),
        },
        "io.debezium.time.Time" => match int() {
            Some(ms) => quoted(
                out,
                signed_tod(
                    ms.checked_mul(1000)
                        .ok_or_else(|| "a time beyond the 64-bit microsecond range".to_string())?,
                )?,
            ),
            None => copy_raw(text, out),
        },
        "io.debezium.time.MicroTime" => match int() {
            Some(us) => quoted(out, signed_tod(us)?),
            None => copy_raw(text, out),
        },
        "io.debezium.time.NanoTime" => match int() {
            Some(ns) => quoted(out, signed_tod(ns / 1000)?),
            None => copy_raw(text, out),
        },
        "io.debezium.time.Timestamp" => match int() {
            Some(ms) => quoted(
                out,
                crate::envelope::format_instant(
                    ms.checked_mul(1000).ok_or_else(|| {
                        "a timestamp beyond the 64-bit microsecond range".to_string()
                    })?,
                    3,
                ),
            ),
            None => copy_raw(text, out),
        },
        "io.debezium.time.MicroTimestamp" => match int() {
            Some(us) => quoted(out, crate::envelope::format_instant(us, 6)),
            None => copy_raw(text, out),
        },
        "io.debezium.time.NanoTimestamp" => match int() {
            Some(ns) => quoted(out, crate::envelope::format_instant(ns / 1000, 6)),
            None => copy_raw(text, out),
        },
        // The column's JSON text itself, digits untouched (validated: else kept as a string).
        "io.debezium.data.Json" => match string() {
            Some(s) if serde_json::from_str::<&RawValue>(&s).is_ok() => copy_raw(s.trim(), out),
            _ => copy_raw(text, out),
        },
        _ => match f.get("type").and_then(Json::as_str) {
            // Search engines reject non-finite numbers: NaN and ±Infinity become null.
            Some("float" | "double") if text.starts_with('"') => out.extend_from_slice(b"null"),
            Some("array") => {
                let items: Option<Vec<&RawValue>> = serde_json::from_str(text).ok();
                match (items, f.get("items")) {
                    (Some(items), Some(inner)) => {
                        out.push(b'[');
                        for (i, item) in items.into_iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            convert_value(item, inner, opts, out)?;
                        }
                        out.push(b']');
                    }
                    _ => copy_raw(text, out),
                }
            }
            _ => copy_raw(text, out),
        },
    }
    Ok(())
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

    /// A record whose schema text was seen before decodes (through the byte-for-byte match)
    /// exactly as one parsed in full, and a record that only starts like a known one (an
    /// extra member after the payload, another schema) is parsed in full.
    #[test]
    fn known_schema_text_decodes_like_a_full_parse() {
        let schema = r#"{"type":"struct","fields":[{"type":"struct","optional":true,"field":"after","fields":[{"type":"int32","field":"id"},{"type":"int32","optional":true,"name":"io.debezium.time.Date","field":"b"}]}]}"#;
        let other = schema.replace(r#","name":"io.debezium.time.Date""#, "");
        let record = |schema: &str, tail: &str| {
            format!(
                r#"{{"schema":{schema},"payload":{{"op":"c","source":{{"db":"d","schema":"s","table":"t","x":[1]}},"after":{{"id":1,"b":1}}}}{tail}}} "#
            )
        };
        let decode_with = |cache: &mut SchemaCache, v: &str| {
            let c = decode(
                origin(),
                Some(br#"{"id":1}"#),
                Some(v.as_bytes()),
                &DecodeOptions::default(),
                cache,
            )
            .expect("decodes");
            let DocAction::Upsert(doc) = c.action else {
                panic!("upsert")
            };
            (c.namespace, c.table, doc.as_str().to_string())
        };
        let fresh = decode_with(&mut SchemaCache::default(), &record(schema, ""));
        assert_eq!(fresh.0, "s");
        assert_eq!(fresh.1, "t");
        let mut cache = SchemaCache::default();
        for v in [
            record(schema, ""),
            record(schema, ""),
            record(&other, ""),
            record(schema, r#","extra":{"payload":1}"#),
            record(schema, ""),
        ] {
            let full = decode_with(&mut SchemaCache::default(), &v);
            assert_eq!(decode_with(&mut cache, &v), full, "{v}");
            assert!(cache.known(v.as_bytes()).is_some() || v.contains("extra"));
        }
        // A date under the first schema, a number under the other.
        assert_ne!(
            decode_with(&mut cache, &record(schema, "")).2,
            decode_with(&mut cache, &record(&other, "")).2
        );
    }

    /// Decimal bytes decode to exact text, negative values included; the conversion agrees
    /// with a big-integer reference on generated values, and hostile sizes are refused fast.
    #[test]
    fn decimals() {
        let d = |b: &[u8], s: i64| decimal_text(b, s).expect("decimal");
        assert_eq!(d(&[0x11, 0x94], 3), "4.500");
        assert_eq!(d(&[0xff], 2), "-0.01");
        assert_eq!(d(&[0xfd, 0xab, 0xf4, 0x1c, 0x01], 3), "-9999999.999");
        assert_eq!(d(&[0x00], 0), "0");
        assert_eq!(d(&[], 2), "0.00");
        assert_eq!(d(&[0x80], 0), "-128");
        // i128 reference over many byte lengths and signs.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 16) as usize + 1;
            let v = (i128::from(x as i64) << 64 | i128::from(x.rotate_left(17))) >> (128 - 8 * len);
            let bytes = &v.to_be_bytes()[16 - len..];
            assert_eq!(d(bytes, 0), v.to_string(), "{bytes:02x?}");
        }
        // Large values agree with schoolbook division by 10^9 (the reference below), both
        // signs, at lengths around the fast conversion's chunk sizes.
        let mut gen = crate::testing::Gen(22);
        for len in [9, 64, 130, 257, 1000, 4099] {
            let mut bytes: Vec<u8> = (0..len).map(|_| gen.below(256) as u8).collect();
            for top in [0x00, 0x7f, 0x80, 0xff] {
                bytes[0] = top;
                let (neg, mag) = magnitude(&bytes);
                let want = format!("{}{}", if neg { "-" } else { "" }, reference_digits(&mag));
                assert_eq!(d(&bytes, 0), want, "{len} bytes, top {top:02x}");
            }
        }
        // Negative scales (PostgreSQL `numeric(p, -s)`): the unscaled value times 10^-s.
        assert_eq!(d(&[0x7b], -2), "12300");
        assert_eq!(d(&[0x85], -1), "-1230");
        assert_eq!(d(&[0x00], -3), "0");
        assert!(decimal_text(&[1], -32_768).is_err());
        // 100 KB of digits is refused, quickly; so is a scale of 2^32 - 1.
        assert!(decimal_text(&vec![0x7f; 100 * 1024], 0).is_err());
        assert!(decimal_text(&[1], 4_294_967_295).is_err());
        // The largest accepted value converts.
        assert!(decimal_text(&vec![0x7f; MAX_DECIMAL_BYTES], 16_383).is_ok());
    }

    /// Two's complement → (negative, magnitude).
    fn magnitude(bytes: &[u8]) -> (bool, Vec<u8>) {
        let neg = bytes[0] & 0x80 != 0;
        let mut v = bytes.to_vec();
        if neg {
            v.iter_mut().for_each(|b| *b = !*b);
            for b in v.iter_mut().rev() {
                let (n, carry) = b.overflowing_add(1);
                *b = n;
                if !carry {
                    break;
                }
            }
        }
        (neg, v)
    }

    /// Digits of a big-endian magnitude by repeated division by 10^9 (quadratic; the
    /// conversion sluice used before issue 22, kept as the reference).
    fn reference_digits(mag: &[u8]) -> String {
        let mut limbs: Vec<u32> = mag.iter().map(|&b| u32::from(b)).collect();
        let mut groups = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rem = 0u64;
            for l in limbs.iter_mut() {
                let cur = (rem << 8) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            groups.push(rem);
        }
        match groups.split_last() {
            None => "0".into(),
            Some((top, rest)) => {
                let mut s = top.to_string();
                for g in rest.iter().rev() {
                    s.push_str(&format!("{g:09}"));
                }
                s
            }
        }
    }

    /// Issue 23: a field holding the unavailable-value placeholder (a string column's
    /// string, a bytes column's base64, a string array's one element; Debezium's or a
    /// configured one) is left out of the document and named; with schemas only the form
    /// of the field's type counts, so a real string equal to the base64 form stays.
    #[test]
    fn placeholders_are_named_not_written() {
        use base64::Engine as _;
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(crate::envelope::UNAVAILABLE_VALUE);
        let ph = crate::envelope::UNAVAILABLE_VALUE;
        let key = br#"{"id":1}"#;
        let run = |value: String, placeholder: Option<&str>| {
            let opts = DecodeOptions {
                placeholder: placeholder.map(str::to_string),
                ..DecodeOptions::default()
            };
            let origin = Origin {
                topic: "p.public.docs".into(),
                partition: 0,
                offset: 3,
            };
            decode(
                origin,
                Some(key),
                Some(value.as_bytes()),
                &opts,
                &mut SchemaCache::default(),
            )
            .expect("decodes")
        };
        let plain = format!(
            r#"{{"op":"u","after":{{"id":1,"body":"{ph}","blob":"{b64}","tags":["{ph}"],"n":2,"s":"text"}}}}"#
        );
        let c = run(plain, None);
        assert_eq!(c.unavailable, ["body", "blob", "tags"]);
        let DocAction::Upsert(doc) = &c.action else {
            panic!("upsert")
        };
        assert_eq!(doc.as_str(), r#"{"id":1,"n":2,"s":"text"}"#);
        // With schemas: a string column holding the base64 form is a real value.
        let schema = r#"{"type":"struct","fields":[{"type":"struct","optional":true,"field":"after","fields":[{"type":"int32","field":"id"},{"type":"string","optional":true,"field":"body"},{"type":"bytes","optional":true,"field":"blob"},{"type":"string","optional":true,"field":"s"}]}]}"#;
        let with = format!(
            r#"{{"schema":{schema},"payload":{{"op":"u","after":{{"id":1,"body":"{ph}","blob":"{b64}","s":"{b64}"}}}}}}"#
        );
        let c = run(with, None);
        assert_eq!(c.unavailable, ["body", "blob"]);
        // A configured placeholder replaces Debezium's.
        let custom = r#"{"op":"u","after":{"id":1,"body":"__unchanged__","s":"__debezium_unavailable_value"}}"#;
        let c = run(custom.into(), Some("__unchanged__"));
        assert_eq!(c.unavailable, ["body"]);
    }

    /// Durations below zero keep one sign; out-of-range dates and times are per-record
    /// errors naming the column, never a panic or a wrong text.
    #[test]
    fn times_and_dates_bounded() {
        assert_eq!(signed_tod(-3_020_399_000_000).as_deref(), Ok("-838:59:59"));
        assert_eq!(signed_tod(-1_500_000).as_deref(), Ok("-00:00:01.5"));
        assert_eq!(
            signed_tod(-3_600_000_000_000_000).as_deref(),
            Ok("-1000000:00:00")
        );
        assert!(signed_tod(i64::MIN).is_err() && signed_tod(i64::MAX).is_err());
        assert!(iso_date(i64::MAX).is_err() && iso_date(i64::MIN).is_err());
        assert_eq!(iso_date(0).as_deref(), Ok("1970-01-01"));
        let schema = |name: &str, ty: &str| {
            format!(
                r#"{{"type":"struct","fields":[{{"type":"struct","fields":[{{"type":"int32","optional":false,"field":"id"}},{{"type":"{ty}","optional":true,"name":"{name}","field":"x"}}],"optional":true,"field":"after"}}]}}"#
            )
        };
        for (name, ty, value) in [
            ("io.debezium.time.Date", "int32", i64::MAX.to_string()),
            ("io.debezium.time.Timestamp", "int64", i64::MAX.to_string()),
            ("io.debezium.time.Time", "int32", i64::MIN.to_string()),
        ] {
            let v = format!(
                r#"{{"schema":{},"payload":{{"op":"c","after":{{"id":1,"x":{value}}},"source":{{"schema":"public","table":"t"}}}}}}"#,
                schema(name, ty)
            );
            let mut cache = SchemaCache::default();
            let r = decode(
                origin(),
                Some(br#"{"id":1}"#),
                Some(v.as_bytes()),
                &DecodeOptions::default(),
                &mut cache,
            );
            match r {
                Err(Skip::Poison(why)) => {
                    assert!(why.contains("column `x`") && !why.contains(&value), "{why}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    /// Records from the Debezium reference (schemas on) convert to search-friendly values;
    /// tombstones delete; the record's offset plus one is the version.
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
        // The version is the offset plus one (every version above 0).
        assert_eq!(c.version(), 1);
        let DocAction::Upsert(doc) = c.action else {
            panic!("upsert expected");
        };
        let doc: Json = serde_json::from_str(doc.as_str()).expect("document is JSON");
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

    /// Bad input is poison, not a panic, and the poison reason quotes no input.
    #[test]
    fn poison() {
        let r = decode(
            origin(),
            Some(b"{\"id\":1}"),
            Some(br#"{"op":"c","after":"SECRET-VALUE"}"#),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        );
        assert!(matches!(r, Err(Skip::Poison(_))));
        let r = decode(
            origin(),
            Some(br#"["SECRET-VALUE"]"#),
            Some(b"{}"),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        );
        assert!(matches!(r, Err(Skip::Poison(_))));
        let r = decode(
            origin(),
            Some(b"{\"id\":1}"),
            Some(br#"{"op":"c","after":{"a":"SECRET-VALUE"} trailing"#),
            &DecodeOptions::default(),
            &mut SchemaCache::default(),
        );
        match r {
            Err(Skip::Poison(why)) => assert!(!why.contains("SECRET"), "{why}"),
            other => panic!("poison expected: {other:?}"),
        }
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

    /// Numbers reach the document with every digit: JSON columns, big integers, long
    /// floats, decimals in number mode; line breaks in JSON text do not survive (NDJSON).
    #[test]
    fn numbers_pass_through_exactly() {
        let value = r#"{"schema":{"type":"struct","fields":[{"type":"struct","optional":true,"field":"after","fields":[
            {"type":"int32","optional":false,"field":"id"},
            {"type":"string","optional":true,"name":"io.debezium.data.Json","field":"j"},
            {"type":"int64","optional":true,"field":"big"},
            {"type":"double","optional":true,"field":"d"},
            {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"20"},"field":"n"},
            {"type":"array","optional":true,"items":{"type":"double","optional":true},"field":"a"}]}]},
            "payload":{"op":"c","source":{"lsn":42},"after":{"id":1,
            "j":"{\"x\": 0.14285714285714285714,\n \"y\": 123456789012345678901234567890}",
            "big":9007199254740993,"d":0.30000000000000004441,
            "n":"AL8Hs5DkZFfVVw==","a":[1.0E-5,"NaN",null]}}}"#;
        let want_n = decimal_text(
            &base64::engine::general_purpose::STANDARD
                .decode("AL8Hs5DkZFfVVw==")
                .expect("b64"),
            20,
        )
        .expect("decimal");
        for format in [DecimalFormat::Number, DecimalFormat::String] {
            let opts = DecodeOptions {
                decimal_format: format,
                ..DecodeOptions::default()
            };
            let c = decode(
                origin(),
                Some(b"{\"id\":1}"),
                Some(value.as_bytes()),
                &opts,
                &mut SchemaCache::default(),
            )
            .expect("decodes");
            let DocAction::Upsert(doc) = c.action else {
                panic!("upsert expected");
            };
            let text = doc.as_str();
            assert!(!text.contains('\n'), "{text}");
            assert!(text.contains(r#""x": 0.14285714285714285714"#), "{text}");
            assert!(text.contains("123456789012345678901234567890"), "{text}");
            assert!(text.contains(r#""big":9007199254740993"#), "{text}");
            assert!(text.contains(r#""d":0.30000000000000004441"#), "{text}");
            assert!(text.contains(r#""a":[1.0E-5,null,null]"#), "{text}");
            let n = match format {
                DecimalFormat::Number => want_n.clone(),
                DecimalFormat::String => format!("\"{want_n}\""),
            };
            assert!(text.contains(&format!(r#""n":{n}"#)), "{text}");
            serde_json::from_str::<Json>(text).expect("valid JSON");
        }
    }
}
