//! Avro for keys and values: the schema Kafka Connect's `AvroConverter` derives from a
//! Connect schema, and the Avro binary datum of a Connect payload, in the Confluent wire
//! format (magic byte 0, 4-byte big-endian schema id, datum).
//!
//! ```text
//! {"schema": <Connect schema>, "payload": …}  (the JSON the envelope writes with schemas)
//!      │ AvroShape::from_connect (once per distinct Connect schema text, cached by callers)
//!      ▼
//! AvroShape { schema: Avro schema JSON, full_name, plan }
//!      │ AvroShape::encode(payload, schema id)
//!      ▼
//! 0x00 | id (u32 BE) | datum
//! ```
//! Mapping (Confluent's `AvroData` with `connect.meta.data=true`): int8/int16 → `int` with
//! `connect.type`; int32 → `int`; int64 → `long`; float (float32) and double (float64) →
//! `float`/`double`;
//! boolean, string, bytes alike; struct → `record` named by the Connect name
//! (`ConnectDefault` in `io.confluent.connect.avro` when unnamed), with `connect.name` and
//! `connect.version`; array → `array`; a map with string keys → `map`, else an array of
//! `MapEntry` records; an optional field → a union with `null` first and `"default": null`,
//! or, when its Connect default is not null, the type first and that default; Connect names,
//! versions, parameters and defaults as `connect.name`, `connect.version`,
//! `connect.parameters`, `connect.default`; Connect's logical types `Decimal` (`bytes`,
//! logical type `decimal` with precision and scale), `Date` (`int`, `date`), `Time` (`int`,
//! `time-millis`) and `Timestamp` (`long`, `timestamp-millis`). Debezium's own semantic
//! types (`io.debezium.time.*`, …) keep their Connect names and get no Avro logical type, as
//! with the Confluent converter. Names Avro does not allow are adjusted as Debezium's
//! `schema.name.adjustment.mode=avro` does: every character outside `[A-Za-z0-9_]` becomes
//! `_`, and a leading digit gets a `_` before it.
//!
//! Invariant: `encode` accepts exactly the payloads the envelope writes for the schema the
//! shape was built from; anything else is an [`AvroError`] naming the field path.

mod direct;

use std::collections::HashSet;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

/// Why a Connect schema or payload could not become Avro.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvroError {
    /// The Connect schema has a shape Avro cannot express here.
    #[error("Connect schema at {path} cannot become Avro: {reason}")]
    Schema {
        /// Where in the schema.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A payload value does not fit its schema (a bug in the envelope, never user data).
    #[error("payload at {path} does not fit its schema: expected {expected}")]
    Payload {
        /// Where in the payload.
        path: String,
        /// The Avro type expected there.
        expected: &'static str,
    },
}

/// How to write one value.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    /// Base64 text in the JSON payload, raw bytes in Avro.
    Bytes,
    /// A union of null and the inner type; `null_index` is null's branch.
    Optional {
        inner: Box<Plan>,
        null_index: u8,
    },
    Record(Vec<(String, Plan)>),
    Array(Box<Plan>),
    /// String keys.
    Map(Box<Plan>),
    /// Non-string keys: an array of key/value records. The payload is an array of
    /// `[key, value]` pairs, as Connect's JSON converter writes such maps.
    Entries {
        key: Box<Plan>,
        value: Box<Plan>,
    },
}

/// The Avro form of one Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroShape {
    /// The Avro schema as JSON text (what gets registered).
    pub schema: std::sync::Arc<str>,
    /// The full name of the top-level record (for the `record` subject strategies), or the
    /// primitive type's name.
    pub full_name: String,
    plan: Plan,
}

/// An Avro name from a Connect name part.
fn avro_name(part: &str) -> String {
    let mut out: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Split a Connect name into Avro (namespace, name), each part adjusted.
fn split_name(full: &str) -> (Option<String>, String) {
    match full.rsplit_once('.') {
        Some((ns, name)) => (
            Some(ns.split('.').map(avro_name).collect::<Vec<_>>().join(".")),
            avro_name(name),
        ),
        None => (None, avro_name(full)),
    }
}

struct Builder {
    /// Full names of the records defined so far (later uses refer to them by name).
    defined: HashSet<String>,
    /// Counter for unnamed structs (`ConnectDefault`, `ConnectDefault2`, …).
    unnamed: usize,
}

fn schema_err(path: &str, reason: impl Into<String>) -> AvroError {
    AvroError::Schema {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.into()
        },
        reason: reason.into(),
    }
}

/// Connect parameters as Avro's `connect.parameters` (string values).
fn parameters(s: &Map<String, Json>) -> Option<Json> {
    let p = s.get("parameters")?.as_object()?;
    Some(Json::Object(
        p.iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(t) => Json::String(t.clone()),
                    other => Json::String(other.to_string()),
                };
                (k.clone(), v)
            })
            .collect(),
    ))
}

impl Builder {
    /// The Avro schema and plan of a Connect schema, ignoring its optionality.
    fn bare(&mut self, s: &Map<String, Json>, path: &str) -> Result<(Json, Plan), AvroError> {
        let ty = s
            .get("type")
            .and_then(Json::as_str)
            .ok_or_else(|| schema_err(path, "no type"))?;
        let name = s.get("name").and_then(Json::as_str);
        let version = s.get("version").and_then(Json::as_i64);
        let params = parameters(s);
        let (avro_type, plan, connect_type) = match ty {
            "int8" => ("int", Plan::Int, Some("int8")),
            "int16" => ("int", Plan::Int, Some("int16")),
            "int32" => ("int", Plan::Int, None),
            "int64" => ("long", Plan::Long, None),
            // Connect's JSON names (`float`, `double`), and the enum names.
            "float" | "float32" => ("float", Plan::Float, None),
            "double" | "float64" => ("double", Plan::Double, None),
            "boolean" => ("boolean", Plan::Boolean, None),
            "string" => ("string", Plan::String, None),
            "bytes" => ("bytes", Plan::Bytes, None),
            "struct" => return self.record(s, path, name, version),
            "array" => {
                let items = s
                    .get("items")
                    .and_then(Json::as_object)
                    .ok_or_else(|| schema_err(path, "array without items"))?;
                let (items, plan) = self.field_type(items, &format!("{path}[]"))?;
                let mut out = Map::new();
                out.insert("type".into(), json!("array"));
                out.insert("items".into(), items);
                meta(&mut out, name, version, params, None, doc(s));
                return Ok((Json::Object(out), Plan::Array(Box::new(plan))));
            }
            "map" => {
                let keys = s
                    .get("keys")
                    .and_then(Json::as_object)
                    .ok_or_else(|| schema_err(path, "map without keys"))?;
                let values = s
                    .get("values")
                    .and_then(Json::as_object)
                    .ok_or_else(|| schema_err(path, "map without values"))?;
                let string_keys = keys.get("type").and_then(Json::as_str) == Some("string")
                    && !keys
                        .get("optional")
                        .and_then(Json::as_bool)
                        .unwrap_or(false);
                let (v, vplan) = self.field_type(values, &format!("{path}{{}}"))?;
                if string_keys {
                    let mut out = Map::new();
                    out.insert("type".into(), json!("map"));
                    out.insert("values".into(), v);
                    meta(&mut out, name, version, params, None, doc(s));
                    return Ok((Json::Object(out), Plan::Map(Box::new(vplan))));
                }
                let (k, kplan) = self.field_type(keys, &format!("{path}{{key}}"))?;
                let entry_name = "io.confluent.connect.avro.MapEntry";
                let entry = if self.defined.insert(entry_name.into()) {
                    json!({
                        "type": "record",
                        "name": "MapEntry",
                        "namespace": "io.confluent.connect.avro",
                        "fields": [
                            {"name": "key", "type": k},
                            {"name": "value", "type": v},
                        ],
                    })
                } else {
                    json!(entry_name)
                };
                let mut out = Map::new();
                out.insert("type".into(), json!("array"));
                out.insert("items".into(), entry);
                meta(&mut out, name, version, params, None, doc(s));
                return Ok((
                    Json::Object(out),
                    Plan::Entries {
                        key: Box::new(kplan),
                        value: Box::new(vplan),
                    },
                ));
            }
            other => return Err(schema_err(path, format!("unknown Connect type `{other}`"))),
        };
        let mut out = Map::new();
        out.insert("type".into(), json!(avro_type));
        let logical = match name {
            Some("org.apache.kafka.connect.data.Decimal") if ty == "bytes" => {
                let p = s.get("parameters").and_then(Json::as_object);
                let scale = p
                    .and_then(|p| p.get("scale"))
                    .and_then(|v| {
                        v.as_str()
                            .and_then(|t| t.parse::<i64>().ok())
                            .or(v.as_i64())
                    })
                    .unwrap_or(0);
                let precision = p
                    .and_then(|p| p.get("connect.decimal.precision"))
                    .and_then(|v| {
                        v.as_str()
                            .and_then(|t| t.parse::<i64>().ok())
                            .or(v.as_i64())
                    })
                    .unwrap_or(64)
                    // Avro requires scale ≤ precision. Only a PostgreSQL `numeric(p, -s)`
                    // breaks it: Debezium's scale is then 2048 − s. Confluent's converter
                    // writes the invalid pair, which Python's Avro readers refuse to parse
                    // (Java's ignore the logical type); sluice raises the precision to the
                    // scale, so every reader decodes the exact value (README, Avro).
                    .max(scale);
                out.insert("scale".into(), json!(scale));
                out.insert("precision".into(), json!(precision));
                Some("decimal")
            }
            Some("org.apache.kafka.connect.data.Date") if ty == "int32" => Some("date"),
            Some("org.apache.kafka.connect.data.Time") if ty == "int32" => Some("time-millis"),
            Some("org.apache.kafka.connect.data.Timestamp") if ty == "int64" => {
                Some("timestamp-millis")
            }
            _ => None,
        };
        if let Some(t) = connect_type {
            out.insert("connect.type".into(), json!(t));
        }
        meta(&mut out, name, version, params, logical, doc(s));
        // A bare primitive without properties is written as its name, as Avro does.
        let schema = if out.len() == 1 {
            json!(avro_type)
        } else {
            Json::Object(out)
        };
        Ok((schema, plan))
    }

    fn record(
        &mut self,
        s: &Map<String, Json>,
        path: &str,
        name: Option<&str>,
        version: Option<i64>,
    ) -> Result<(Json, Plan), AvroError> {
        let connect_name = match name {
            Some(n) => n.to_string(),
            None => {
                self.unnamed += 1;
                if self.unnamed == 1 {
                    "io.confluent.connect.avro.ConnectDefault".into()
                } else {
                    format!("io.confluent.connect.avro.ConnectDefault{}", self.unnamed)
                }
            }
        };
        let (ns, short) = split_name(&connect_name);
        let full = match &ns {
            Some(ns) => format!("{ns}.{short}"),
            None => short.clone(),
        };
        let fields = s
            .get("fields")
            .and_then(Json::as_array)
            .ok_or_else(|| schema_err(path, "struct without fields"))?;
        let mut avro_fields = Vec::with_capacity(fields.len());
        let mut plans = Vec::with_capacity(fields.len());
        let mut field_names = HashSet::new();
        // Define the name before the fields: a recursive reference would refer to it.
        let first_definition = self.defined.insert(full.clone());
        for f in fields {
            let f = f
                .as_object()
                .ok_or_else(|| schema_err(path, "a field is not an object"))?;
            let fname = f
                .get("field")
                .and_then(Json::as_str)
                .ok_or_else(|| schema_err(path, "a field without a name"))?;
            let fpath = if path.is_empty() {
                fname.to_string()
            } else {
                format!("{path}.{fname}")
            };
            let aname = avro_name(fname);
            if !field_names.insert(aname.clone()) {
                return Err(schema_err(
                    &fpath,
                    format!("two fields become `{aname}` once adjusted to Avro names"),
                ));
            }
            let (ftype, plan) = self.field_type(f, &fpath)?;
            let mut af = Map::new();
            af.insert("name".into(), json!(aname));
            af.insert("type".into(), ftype);
            if let Some(d) = field_default(f) {
                af.insert("default".into(), d);
            }
            avro_fields.push(Json::Object(af));
            plans.push((fname.to_string(), plan));
        }
        let plan = Plan::Record(plans);
        if !first_definition {
            // Defined earlier in this schema (before/after share `Value`): refer by name.
            return Ok((json!(full), plan));
        }
        let mut out = Map::new();
        out.insert("type".into(), json!("record"));
        out.insert("name".into(), json!(short));
        if let Some(ns) = ns {
            out.insert("namespace".into(), json!(ns));
        }
        out.insert("fields".into(), Json::Array(avro_fields));
        meta(
            &mut out,
            Some(&connect_name),
            version,
            parameters(s),
            None,
            doc(s),
        );
        Ok((Json::Object(out), plan))
    }

    /// The type of a field or element, with its optionality as a union.
    fn field_type(&mut self, s: &Map<String, Json>, path: &str) -> Result<(Json, Plan), AvroError> {
        let (mut t, plan) = self.bare(s, path)?;
        let default = s.get("default").filter(|d| !d.is_null());
        if let (Some(d), Json::Object(o)) = (default, &mut t) {
            o.insert("connect.default".into(), avro_default(d, s));
        } else if let (Some(d), Json::String(prim)) = (default, &t) {
            let mut o = Map::new();
            o.insert("type".into(), json!(prim));
            o.insert("connect.default".into(), avro_default(d, s));
            t = Json::Object(o);
        }
        if !s.get("optional").and_then(Json::as_bool).unwrap_or(false) {
            return Ok((t, plan));
        }
        // A non-null default must match the union's first branch.
        if default.is_some() {
            Ok((
                json!([t, "null"]),
                Plan::Optional {
                    inner: Box::new(plan),
                    null_index: 1,
                },
            ))
        } else {
            Ok((
                json!(["null", t]),
                Plan::Optional {
                    inner: Box::new(plan),
                    null_index: 0,
                },
            ))
        }
    }
}

/// Avro's field default for a Connect field: `null` for optional fields without one.
fn field_default(f: &Map<String, Json>) -> Option<Json> {
    match f.get("default") {
        Some(d) if !d.is_null() => Some(avro_default(d, f)),
        _ if f.get("optional").and_then(Json::as_bool).unwrap_or(false) => Some(Json::Null),
        _ => None,
    }
}

/// A Connect default as Avro JSON: bytes defaults are base64 in Connect's JSON, and Avro's
/// JSON form of bytes is one character per byte (ISO-8859-1).
fn avro_default(d: &Json, s: &Map<String, Json>) -> Json {
    if s.get("type").and_then(Json::as_str) == Some("bytes") {
        if let Some(raw) = d
            .as_str()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        {
            return Json::String(raw.iter().map(|&b| char::from(b)).collect());
        }
    }
    d.clone()
}

/// Write names as Avro's Java `Schema.toString` does (what Confluent's converter registers): a
/// named type states its namespace only where it differs from the enclosing one (an empty one
/// inside a namespace is `""`), and a reference to a name in the enclosing namespace is its
/// short name. The schema means the same either way; the text is Confluent's.
fn relative_names(schema: &mut Json, space: Option<&str>) {
    match schema {
        Json::String(name) => {
            if let Some((ns, short)) = name.rsplit_once('.') {
                if Some(ns) == space {
                    *name = short.to_string();
                }
            }
        }
        Json::Array(branches) => {
            for b in branches {
                relative_names(b, space);
            }
        }
        Json::Object(o) => {
            let named = matches!(
                o.get("type").and_then(Json::as_str),
                Some("record" | "enum" | "fixed")
            ) && o.contains_key("name");
            if !named {
                // An array's or map's element type; other unnamed types name primitives.
                for key in ["items", "values"] {
                    if let Some(inner) = o.get_mut(key) {
                        relative_names(inner, space);
                    }
                }
                return;
            }
            let own = o
                .get("namespace")
                .and_then(Json::as_str)
                .map(str::to_string);
            match (&own, space) {
                (Some(ns), Some(cur)) if ns == cur => {
                    o.remove("namespace");
                }
                (None, Some(_)) => {
                    o.insert("namespace".into(), json!(""));
                }
                _ => {}
            }
            if let Some(Json::Array(fields)) = o.get_mut("fields") {
                for f in fields {
                    if let Some(t) = f.get_mut("type") {
                        relative_names(t, own.as_deref());
                    }
                }
            }
        }
        _ => {}
    }
}

/// A Connect schema's `doc`.
fn doc(s: &Map<String, Json>) -> Option<&str> {
    s.get("doc").and_then(Json::as_str)
}

/// Add `connect.*` properties in the order the Confluent converter writes them.
fn meta(
    out: &mut Map<String, Json>,
    name: Option<&str>,
    version: Option<i64>,
    params: Option<Json>,
    logical: Option<&str>,
    doc: Option<&str>,
) {
    if let Some(d) = doc {
        out.insert("connect.doc".into(), json!(d));
    }
    if let Some(v) = version {
        out.insert("connect.version".into(), json!(v));
    }
    if let Some(p) = params {
        out.insert("connect.parameters".into(), p);
    }
    if let Some(n) = name {
        out.insert("connect.name".into(), json!(n));
    }
    if let Some(l) = logical {
        out.insert("logicalType".into(), json!(l));
    }
}

impl AvroShape {
    /// The Avro form of a Connect schema (the `schema` part of a record sluice writes with
    /// schemas). The derived schema is checked by `apache-avro`'s parser.
    pub fn from_connect(connect: &Json) -> Result<AvroShape, AvroError> {
        let s = connect
            .as_object()
            .ok_or_else(|| schema_err("", "the Connect schema is not an object"))?;
        let mut b = Builder {
            defined: HashSet::new(),
            unnamed: 0,
        };
        let (mut schema, plan) = b.field_type(s, "")?;
        relative_names(&mut schema, None);
        let full_name = match &schema {
            Json::Object(o) if o.get("type") == Some(&json!("record")) => {
                match (o.get("namespace").and_then(Json::as_str), o.get("name")) {
                    (Some(ns), Some(Json::String(n))) => format!("{ns}.{n}"),
                    (None, Some(Json::String(n))) => n.clone(),
                    _ => "record".into(),
                }
            }
            Json::Object(o) => o
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("union")
                .to_string(),
            Json::String(t) => t.clone(),
            _ => "union".into(),
        };
        let text = schema.to_string();
        check(&schema, &text)?;
        Ok(AvroShape {
            schema: std::sync::Arc::from(text),
            full_name,
            plan,
        })
    }

    /// The Confluent wire form of `payload`: magic byte, schema id, Avro datum.
    pub fn encode(&self, payload: &Json, id: u32, out: &mut Vec<u8>) -> Result<(), AvroError> {
        out.push(0);
        out.extend_from_slice(&id.to_be_bytes());
        let mut path = String::new();
        write(&self.plan, payload, out, &mut path)
    }

    /// The same from the payload's JSON text, written while it is parsed (no JSON tree):
    /// the envelope writes fields in schema order, which Avro needs. Anything this fast
    /// path does not take (fields out of order, a mismatch) goes through [`Self::encode`],
    /// which names the path of a mismatch.
    pub fn encode_text(&self, payload: &str, id: u32, out: &mut Vec<u8>) -> Result<(), AvroError> {
        let start = out.len();
        out.push(0);
        out.extend_from_slice(&id.to_be_bytes());
        if stream(&self.plan, payload.as_bytes(), out) {
            return Ok(());
        }
        out.truncate(start);
        let v: Json = serde_json::from_str(payload).map_err(|e| AvroError::Payload {
            path: format!("(root): {e}"),
            expected: "JSON",
        })?;
        self.encode(&v, id, out)
    }
}

/// Write the Avro form of the JSON `text` under `plan` while parsing it; whether it fit
/// (on `false`, `out` holds a partial datum the caller truncates).
fn stream(plan: &Plan, text: &[u8], out: &mut Vec<u8>) -> bool {
    let mut de = serde_json::Deserializer::from_slice(text);
    serde::de::DeserializeSeed::deserialize(Seed { plan, out }, &mut de)
        .and_then(|()| de.end())
        .is_ok()
}

/// A record part as the envelope writes it with schemas: both halves as raw JSON text.
#[derive(Debug, serde::Deserialize)]
pub struct Wrapped<'a> {
    /// The Connect schema.
    #[serde(borrow)]
    pub schema: &'a serde_json::value::RawValue,
    /// The payload.
    #[serde(borrow)]
    pub payload: &'a serde_json::value::RawValue,
}

/// The payload text of a record the envelope wrote with schemas, when its schema is exactly
/// `schema` (the envelope writes `{"schema":<schema>,"payload":<payload>}`): found by
/// comparing bytes, without scanning the schema as JSON.
pub fn payload_after<'a>(record: &'a [u8], schema: &str) -> Option<&'a str> {
    const HEAD: &[u8] = b"{\"schema\":";
    const MID: &[u8] = b",\"payload\":";
    let rest = record.strip_prefix(HEAD)?;
    let rest = rest.strip_prefix(schema.as_bytes())?;
    let payload = rest.strip_prefix(MID)?.strip_suffix(b"}")?;
    std::str::from_utf8(payload).ok()
}

/// A seed that is its own visitor: `deserialize` hands it to the deserializer's `$how`.
macro_rules! seed_through_visitor {
    ($ty:ty, $value:ty, $how:ident) => {
        impl<'de> serde::de::DeserializeSeed<'de> for $ty {
            type Value = $value;

            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.$how(self)
            }
        }
    };
}

/// Writes the Avro form of the JSON value being parsed, as `plan` says.
struct Seed<'p, 'o> {
    plan: &'p Plan,
    out: &'o mut Vec<u8>,
}

seed_through_visitor!(Seed<'_, '_>, (), deserialize_any);

fn wrong<E: serde::de::Error>(what: &str) -> E {
    E::custom(format!("not {what}"))
}

impl<'de> serde::de::Visitor<'de> for Seed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a value for {:?}", self.plan)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        match self.plan {
            Plan::Optional { null_index, .. } => {
                long(self.out, i64::from(*null_index));
                Ok(())
            }
            _ => Err(wrong("null")),
        }
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        match self.plan {
            Plan::Boolean => {
                self.out.push(u8::from(v));
                Ok(())
            }
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_bool(v)
            }
            _ => Err(wrong("a boolean")),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        match self.plan {
            Plan::Int if i32::try_from(v).is_ok() => long(self.out, v),
            Plan::Long => long(self.out, v),
            Plan::Float => self.out.extend_from_slice(&(v as f32).to_le_bytes()),
            Plan::Double => self.out.extend_from_slice(&(v as f64).to_le_bytes()),
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                return Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_i64(v);
            }
            _ => return Err(wrong("an integer")),
        }
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => match self.plan {
                Plan::Float | Plan::Double => self.visit_f64(v as f64),
                _ => Err(wrong("a 64-bit integer")),
            },
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        match self.plan {
            Plan::Float => self.out.extend_from_slice(&(v as f32).to_le_bytes()),
            Plan::Double => self.out.extend_from_slice(&v.to_le_bytes()),
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                return Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_f64(v);
            }
            _ => return Err(wrong("a float")),
        }
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        match self.plan {
            Plan::String => {
                long(self.out, v.len() as i64);
                self.out.extend_from_slice(v.as_bytes());
            }
            Plan::Bytes => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|_| wrong::<E>("base64"))?;
                long(self.out, raw.len() as i64);
                self.out.extend_from_slice(&raw);
            }
            Plan::Float | Plan::Double => {
                let f = float(&Json::String(v.to_string())).ok_or_else(|| wrong::<E>("a float"))?;
                return self.visit_f64(f);
            }
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                return Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_str(v);
            }
            _ => return Err(wrong("a string")),
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (items, entries) = match self.plan {
            Plan::Array(items) => (&**items, None),
            Plan::Entries { key, value } => (&**key, Some(&**value)),
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                return Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_seq(seq);
            }
            _ => return Err(wrong("an array")),
        };
        // The items go to a buffer first: Avro puts the block's count in front.
        let mut body = Vec::new();
        let mut n = 0i64;
        loop {
            let more = match entries {
                None => seq.next_element_seed(Seed {
                    plan: items,
                    out: &mut body,
                })?,
                Some(value) => seq.next_element_seed(PairSeed {
                    key: items,
                    value,
                    out: &mut body,
                })?,
            };
            if more.is_none() {
                break;
            }
            n += 1;
        }
        if n > 0 {
            long(self.out, n);
            self.out.extend_from_slice(&body);
        }
        self.out.push(0);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self.plan {
            Plan::Record(fields) => {
                for (name, plan) in fields {
                    if map.next_key_seed(KeyIs(name))? != Some(true) {
                        return Err(wrong(&format!("field `{name}` next")));
                    }
                    map.next_value_seed(Seed {
                        plan,
                        out: &mut *self.out,
                    })?;
                }
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(wrong("the end of the record"));
                }
                Ok(())
            }
            Plan::Map(values) => {
                let mut body = Vec::new();
                let mut n = 0i64;
                while map.next_key_seed(KeyOut(&mut body))?.is_some() {
                    map.next_value_seed(Seed {
                        plan: values,
                        out: &mut body,
                    })?;
                    n += 1;
                }
                if n > 0 {
                    long(self.out, n);
                    self.out.extend_from_slice(&body);
                }
                self.out.push(0);
                Ok(())
            }
            Plan::Optional { inner, null_index } => {
                long(self.out, i64::from(1 - *null_index));
                Seed {
                    plan: inner,
                    out: self.out,
                }
                .visit_map(map)
            }
            _ => Err(wrong("an object")),
        }
    }
}

/// Whether the next key is this field's name (no allocation).
struct KeyIs<'a>(&'a str);

seed_through_visitor!(KeyIs<'_>, bool, deserialize_str);

impl<'de> serde::de::Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// A map key written as an Avro string.
struct KeyOut<'o>(&'o mut Vec<u8>);

seed_through_visitor!(KeyOut<'_>, (), deserialize_str);

impl<'de> serde::de::Visitor<'de> for KeyOut<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        long(self.0, v.len() as i64);
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

/// A `[key, value]` pair of a map with non-string keys.
struct PairSeed<'p, 'o> {
    key: &'p Plan,
    value: &'p Plan,
    out: &'o mut Vec<u8>,
}

seed_through_visitor!(PairSeed<'_, '_>, (), deserialize_seq);

impl<'de> serde::de::Visitor<'de> for PairSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a [key, value] pair")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        seq.next_element_seed(Seed {
            plan: self.key,
            out: &mut *self.out,
        })?
        .ok_or_else(|| wrong("a key"))?;
        seq.next_element_seed(Seed {
            plan: self.value,
            out: &mut *self.out,
        })?
        .ok_or_else(|| wrong("a value"))?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(wrong("a pair"));
        }
        Ok(())
    }
}

/// Check a derived schema with `apache-avro`'s parser. apache-avro 0.20 refuses a default on
/// a `decimal` field (the spec writes bytes defaults as strings, as Java Avro and the
/// Confluent converter do): such a schema is checked once more without its field defaults.
fn check(schema: &Json, text: &str) -> Result<(), AvroError> {
    let first = match apache_avro::Schema::parse_str(text) {
        Ok(_) => return Ok(()),
        Err(e) => e.to_string(),
    };
    fn strip(v: &mut Json) {
        match v {
            Json::Object(o) => {
                if o.contains_key("name") && o.contains_key("type") && !o.contains_key("fields") {
                    o.remove("default");
                }
                o.values_mut().for_each(strip);
            }
            Json::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut bare = schema.clone();
    strip(&mut bare);
    match apache_avro::Schema::parse_str(&bare.to_string()) {
        Ok(_) if first.contains("default") => Ok(()),
        _ => Err(schema_err("", first)),
    }
}

fn long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn mismatch(path: &str, expected: &'static str) -> AvroError {
    AvroError::Payload {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.into()
        },
        expected,
    }
}

/// Floats as the envelope writes them: numbers, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn float(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn write(plan: &Plan, v: &Json, out: &mut Vec<u8>, path: &mut String) -> Result<(), AvroError> {
    match plan {
        Plan::Boolean => out.push(u8::from(
            v.as_bool().ok_or_else(|| mismatch(path, "boolean"))?,
        )),
        Plan::Int => {
            let i = v
                .as_i64()
                .filter(|i| i32::try_from(*i).is_ok())
                .ok_or_else(|| mismatch(path, "int"))?;
            long(out, i);
        }
        Plan::Long => long(out, v.as_i64().ok_or_else(|| mismatch(path, "long"))?),
        Plan::Float => {
            let f = float(v).ok_or_else(|| mismatch(path, "float"))? as f32;
            out.extend_from_slice(&f.to_le_bytes());
        }
        Plan::Double => {
            let f = float(v).ok_or_else(|| mismatch(path, "double"))?;
            out.extend_from_slice(&f.to_le_bytes());
        }
        Plan::String => {
            let s = v.as_str().ok_or_else(|| mismatch(path, "string"))?;
            long(out, s.len() as i64);
            out.extend_from_slice(s.as_bytes());
        }
        Plan::Bytes => {
            let raw = v
                .as_str()
                .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
                .ok_or_else(|| mismatch(path, "bytes (base64)"))?;
            long(out, raw.len() as i64);
            out.extend_from_slice(&raw);
        }
        Plan::Optional { inner, null_index } => {
            if v.is_null() {
                long(out, i64::from(*null_index));
            } else {
                long(out, i64::from(1 - *null_index));
                write(inner, v, out, path)?;
            }
        }
        Plan::Record(fields) => {
            let obj = v.as_object().ok_or_else(|| mismatch(path, "record"))?;
            for (name, p) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                write(p, obj.get(name).unwrap_or(&Json::Null), out, path)?;
                path.truncate(len);
            }
        }
        Plan::Array(items) => {
            let arr = v.as_array().ok_or_else(|| mismatch(path, "array"))?;
            if !arr.is_empty() {
                long(out, arr.len() as i64);
                for (i, item) in arr.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    match (&**items, item) {
                        // A multi-dimensional PostgreSQL array under its one-dimensional
                        // Connect schema: JSON keeps the nested values (a documented
                        // difference); Avro cannot, so it writes what Debezium writes, null.
                        (Plan::Optional { inner, null_index }, Json::Array(_))
                            if !matches!(**inner, Plan::Array(_) | Plan::Entries { .. }) =>
                        {
                            long(out, i64::from(*null_index));
                        }
                        _ => write(items, item, out, path)?,
                    }
                    path.truncate(len);
                }
            }
            out.push(0);
        }
        Plan::Map(values) => {
            let obj = v.as_object().ok_or_else(|| mismatch(path, "map"))?;
            if !obj.is_empty() {
                long(out, obj.len() as i64);
                for (k, item) in obj {
                    long(out, k.len() as i64);
                    out.extend_from_slice(k.as_bytes());
                    let len = path.len();
                    let _ = write!(path, "{{{k}}}");
                    write(values, item, out, path)?;
                    path.truncate(len);
                }
            }
            out.push(0);
        }
        Plan::Entries { key, value } => {
            let arr = v.as_array().ok_or_else(|| mismatch(path, "map entries"))?;
            if !arr.is_empty() {
                long(out, arr.len() as i64);
                for pair in arr {
                    let pair = pair
                        .as_array()
                        .filter(|p| p.len() == 2)
                        .ok_or_else(|| mismatch(path, "[key, value] pair"))?;
                    write(key, &pair[0], out, path)?;
                    write(value, &pair[1], out, path)?;
                }
            }
            out.push(0);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A Debezium `Value` struct (`srv.public.t.Value`) as field `field`: an int key, an
    /// int16, a Decimal, an Enum with a default, a Date, then `extra` fields.
    pub(crate) fn value_struct(field: &str, extra: &[Json]) -> Json {
        let mut fields = vec![
            json!({"type": "int32", "optional": false, "field": "id"}),
            json!({"type": "int16", "optional": true, "field": "small"}),
            json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
                   "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"},
                   "field": "price"}),
            json!({"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
                   "parameters": {"allowed": "a,b"}, "default": "a", "field": "mood"}),
            json!({"type": "int32", "optional": false, "name": "io.debezium.time.Date",
                   "version": 1, "field": "day"}),
        ];
        fields.extend_from_slice(extra);
        json!({"type": "struct", "name": "srv.public.t.Value", "optional": true, "field": field,
               "fields": fields})
    }

    fn shape(connect: Json) -> AvroShape {
        AvroShape::from_connect(&connect).expect("shape")
    }

    /// Debezium's shapes become what the Confluent converter writes: named records with
    /// `connect.name`, optional fields as `["null", T]` with default null, the Enum with a
    /// non-null default as `[T, "null"]`, Decimal with its logical type, int16 with
    /// `connect.type`; `after` refers to `before`'s record by name.
    #[test]
    fn connect_schemas_become_confluent_avro() {
        let s = shape(json!({
            "type": "struct", "name": "srv.public.t.Envelope", "version": 2, "optional": false,
            "fields": [
                value_struct("before", &[]),
                value_struct("after", &[]),
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
            ]
        }));
        let v: Json = serde_json::from_str(&s.schema).expect("json");
        assert_eq!(s.full_name, "srv.public.t.Envelope");
        assert_eq!(v["name"], "Envelope");
        assert_eq!(v["namespace"], "srv.public.t");
        assert_eq!(v["connect.name"], "srv.public.t.Envelope");
        assert_eq!(v["connect.version"], 2);
        let before = &v["fields"][0];
        assert_eq!(before["default"], Json::Null);
        assert_eq!(before["type"][0], "null");
        let value = &before["type"][1];
        assert_eq!(value["name"], "Value");
        assert_eq!(
            value["fields"][1]["type"][1],
            json!({"type": "int", "connect.type": "int16"})
        );
        assert_eq!(
            value["fields"][2]["type"][1],
            json!({"type": "bytes", "scale": 2, "precision": 10, "connect.version": 1,
                   "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"},
                   "connect.name": "org.apache.kafka.connect.data.Decimal", "logicalType": "decimal"})
        );
        assert_eq!(value["fields"][3]["default"], "a");
        assert_eq!(value["fields"][3]["type"][1], "null");
        assert_eq!(value["fields"][3]["type"][0]["connect.default"], "a");
        assert_eq!(
            value["fields"][4]["type"],
            json!({"type": "int", "connect.version": 1, "connect.name": "io.debezium.time.Date"})
        );
        // `Value` is in the envelope's namespace: referred to by its short name, as Java's
        // Avro writes it.
        assert_eq!(v["fields"][1]["type"], json!(["null", "Value"]));
        assert_eq!(v["fields"][2]["type"], "string");
        assert_eq!(v["fields"][3]["type"], json!(["null", "long"]));
    }

    /// The datum as Avro's binary encoding has it: zigzag varints, unions by branch index,
    /// arrays and maps in blocks, floats little-endian, bytes from base64.
    #[test]
    fn payloads_encode_as_avro_binary() {
        let s = shape(json!({
            "type": "struct", "name": "k.Key", "optional": false, "fields": [
                {"type": "int64", "optional": false, "field": "id"},
                {"type": "string", "optional": true, "field": "s"},
                {"type": "array", "optional": true, "field": "a",
                 "items": {"type": "double", "optional": true}},
                {"type": "bytes", "optional": false, "field": "b"},
                {"type": "map", "optional": false, "field": "m",
                 "keys": {"type": "string", "optional": false},
                 "values": {"type": "boolean", "optional": false}},
            ]
        }));
        let mut out = Vec::new();
        s.encode(
            &json!({"id": -2, "s": null, "a": [1.5, null, "NaN"], "b": "AAE=", "m": {"x": true}}),
            7,
            &mut out,
        )
        .expect("encode");
        let mut want = vec![0, 0, 0, 0, 7, 3, 0, 2, 6];
        want.push(2);
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.push(0);
        want.push(2);
        want.extend_from_slice(&f64::NAN.to_le_bytes());
        want.push(0);
        want.extend_from_slice(&[4, 0, 1]);
        want.extend_from_slice(&[2, 2, b'x', 1, 0]);
        assert_eq!(out, want);
        let bad = s.encode(&json!({"id": "x"}), 7, &mut Vec::new());
        assert_eq!(
            bad,
            Err(AvroError::Payload {
                path: "id".into(),
                expected: "long"
            })
        );
    }

    /// The streaming writer and the tree writer give the same bytes for every record of
    /// the recorded Debezium samples (every type, handling mode, arrays, maps, NULLs).
    #[test]
    fn text_and_tree_writers_agree_on_recorded_records() {
        let files = [
            include_str!("../../../schemas/golden/debezium-3.6.3/pg_types.schemas-true.jsonl"),
            include_str!("../../../schemas/golden/debezium-3.6.3/maria_types.schemas-true.jsonl"),
            include_str!("../../../schemas/golden/cases/pg_special/debezium.schemas-true.jsonl"),
            include_str!("../../../schemas/golden/cases/pg_hstore_map/debezium.schemas-true.jsonl"),
            include_str!("../../../schemas/golden/cases/pg_arrays/debezium.schemas-true.jsonl"),
            include_str!(
                "../../../schemas/golden/cases/maria_geometry/debezium.schemas-true.jsonl"
            ),
        ];
        let mut n = 0;
        for line in files.iter().flat_map(|f| f.lines()) {
            let r: Json = serde_json::from_str(line).expect("record");
            for part in ["key", "value"] {
                let v = &r[part];
                if v.is_null() || v["schema"].is_null() {
                    continue;
                }
                let shape = AvroShape::from_connect(&v["schema"]).expect("shape");
                let (mut tree, mut text) = (Vec::new(), Vec::new());
                shape.encode(&v["payload"], 3, &mut tree).expect("tree");
                shape
                    .encode_text(&v["payload"].to_string(), 3, &mut text)
                    .expect("text");
                assert_eq!(text, tree, "{part} of {line:.300}");
                n += 1;
            }
        }
        assert!(n > 100, "{n} parts compared");
    }

    #[test]
    fn payload_found_after_a_known_schema() {
        let rec = br#"{"schema":{"a":1},"payload":{"x":"}"}}"#;
        assert_eq!(payload_after(rec, r#"{"a":1}"#), Some(r#"{"x":"}"}"#));
        assert_eq!(payload_after(rec, r#"{"a":2}"#), None);
        assert_eq!(payload_after(b"{\"schema\":{\"a\":1}", r#"{"a":1}"#), None);
    }

    /// Names Avro refuses are adjusted; two fields that collide after adjusting are an error.
    #[test]
    fn names_are_adjusted() {
        let s = shape(json!({
            "type": "struct", "name": "my srv.public.1t.Value", "optional": false, "fields": [
                {"type": "int32", "optional": false, "field": "a b"},
            ]
        }));
        let v: Json = serde_json::from_str(&s.schema).expect("json");
        assert_eq!(v["namespace"], "my_srv.public._1t");
        assert_eq!(v["fields"][0]["name"], "a_b");
        let clash = AvroShape::from_connect(&json!({
            "type": "struct", "optional": false, "fields": [
                {"type": "int32", "optional": false, "field": "a b"},
                {"type": "int32", "optional": false, "field": "a-b"},
            ]
        }));
        assert!(matches!(clash, Err(AvroError::Schema { .. })), "{clash:?}");
    }
}
