//! Avro change-topic records (Confluent wire format: magic byte 0, 4-byte big-endian schema
//! id, Avro binary datum) turned back into the JSON a sink reads: `{"schema": <Connect
//! schema>, "payload": …}`, as Kafka Connect's `AvroConverter` turns them back into Connect
//! data. The Debezium decoder then applies the same value conversions as for JSON topics.
//!
//! Invariants: schemas come from the registry by id and are cached; every length and count
//! read from a datum is checked against the bytes left before anything is allocated (a
//! hostile record is a clean error, never a large allocation); nesting is bounded by the
//! schema, which has no recursion sluice accepts.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

/// How to read one value, and the Connect schema it came from.
#[derive(Debug, Clone)]
enum Read {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    Enum(Vec<String>),
    /// A union; `Some(i)`: the two-branch union with null at `i` (an optional value).
    Union(Vec<Read>),
    Record(Vec<(String, Read)>),
    Array(Box<Read>),
    Map(Box<Read>),
    /// An array of `MapEntry` records: a Connect map with non-string keys.
    Entries(Box<Read>, Box<Read>),
}

/// One registered schema, ready to read datums.
#[derive(Debug)]
pub(crate) struct ReadShape {
    /// The Connect schema JSON text.
    connect: String,
    read: Read,
}

/// Why an Avro record cannot be read.
pub(crate) fn err(what: impl Into<String>) -> String {
    what.into()
}

/// Named types seen so far (records referred to by full name).
type Names = HashMap<String, (Json, Read)>;

fn full_name(o: &Map<String, Json>, ns: Option<&str>) -> (String, Option<String>) {
    let name = o.get("name").and_then(Json::as_str).unwrap_or("");
    if name.contains('.') {
        let space = name.rsplit_once('.').map(|(n, _)| n.to_string());
        return (name.to_string(), space);
    }
    let space = o
        .get("namespace")
        .and_then(Json::as_str)
        .map(str::to_string)
        .or_else(|| ns.map(str::to_string));
    match &space {
        Some(s) if !s.is_empty() => (format!("{s}.{name}"), space),
        _ => (name.to_string(), None),
    }
}

/// Connect `name`/`version`/`parameters`/`default` from Avro's `connect.*` properties.
fn connect_meta(o: &Map<String, Json>, out: &mut Map<String, Json>) {
    if let Some(n) = o.get("connect.name") {
        out.insert("name".into(), n.clone());
    }
    if let Some(v) = o.get("connect.version") {
        out.insert("version".into(), v.clone());
    }
    if let Some(p) = o.get("connect.parameters") {
        out.insert("parameters".into(), p.clone());
    }
    if let Some(d) = o.get("connect.default") {
        out.insert("default".into(), d.clone());
    }
}

/// The Connect schema (without `optional`) and reader of an Avro schema.
fn convert(
    s: &Json,
    ns: Option<&str>,
    names: &mut Names,
    depth: usize,
) -> Result<(Json, Read), String> {
    if depth > 64 {
        return Err(err("an Avro schema nested deeper than 64 levels"));
    }
    let (ty, o): (&str, Option<&Map<String, Json>>) = match s {
        Json::String(t) => (t.as_str(), None),
        Json::Object(o) => match o.get("type") {
            Some(Json::String(t)) => (t.as_str(), Some(o)),
            Some(inner) => return convert(inner, ns, names, depth + 1),
            None => return Err(err("an Avro schema without a type")),
        },
        Json::Array(branches) => {
            let mut reads = Vec::with_capacity(branches.len());
            let mut non_null = Vec::new();
            for b in branches {
                let (c, r) = convert(b, ns, names, depth + 1)?;
                if !matches!(r, Read::Null) {
                    non_null.push(c);
                }
                reads.push(r);
            }
            let [only] = non_null.as_slice() else {
                return Err(err(
                    "an Avro union of several non-null types (Connect has none)",
                ));
            };
            return Ok((only.clone(), Read::Union(reads)));
        }
        _ => return Err(err("an Avro schema that is not a string, object or array")),
    };
    let mut out = Map::new();
    let read = match ty {
        "null" => return Ok((Json::Null, Read::Null)),
        "int" => {
            let t = o
                .and_then(|o| o.get("connect.type"))
                .and_then(Json::as_str)
                .filter(|t| matches!(*t, "int8" | "int16"))
                .unwrap_or("int32");
            out.insert("type".into(), json!(t));
            Read::Int
        }
        // The other primitives: (Connect type, reader).
        "boolean" | "long" | "float" | "double" | "bytes" | "string" => {
            let (connect, read) = match ty {
                "boolean" => ("boolean", Read::Boolean),
                "long" => ("int64", Read::Long),
                "float" => ("float", Read::Float),
                "double" => ("double", Read::Double),
                "bytes" => ("bytes", Read::Bytes),
                _ => ("string", Read::String),
            };
            out.insert("type".into(), json!(connect));
            read
        }
        "fixed" => {
            out.insert("type".into(), json!("bytes"));
            let size = o
                .and_then(|o| o.get("size"))
                .and_then(Json::as_u64)
                .ok_or_else(|| err("a fixed type without a size"))?;
            Read::Fixed(size as usize)
        }
        "enum" => {
            out.insert("type".into(), json!("string"));
            let symbols = o
                .and_then(|o| o.get("symbols"))
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Read::Enum(symbols)
        }
        "array" => {
            let items = o
                .and_then(|o| o.get("items"))
                .ok_or_else(|| err("an array without items"))?;
            let (ic, ir) = convert(items, ns, names, depth + 1)?;
            let entry_name = match items {
                Json::String(n) => Some(n.as_str()),
                Json::Object(io) => io.get("name").and_then(Json::as_str),
                _ => None,
            };
            match (&ir, entry_name) {
                (Read::Record(fields), Some(n)) if n.ends_with("MapEntry") && fields.len() == 2 => {
                    let (k, v) = (fields[0].1.clone(), fields[1].1.clone());
                    let fs = ic["fields"].as_array().cloned().unwrap_or_default();
                    out.insert("type".into(), json!("map"));
                    out.insert("keys".into(), strip_field(fs.first()));
                    out.insert("values".into(), strip_field(fs.get(1)));
                    Read::Entries(Box::new(k), Box::new(v))
                }
                _ => {
                    out.insert("type".into(), json!("array"));
                    out.insert("items".into(), ic);
                    Read::Array(Box::new(ir))
                }
            }
        }
        "map" => {
            let values = o
                .and_then(|o| o.get("values"))
                .ok_or_else(|| err("a map without values"))?;
            let (vc, vr) = convert(values, ns, names, depth + 1)?;
            out.insert("type".into(), json!("map"));
            out.insert("keys".into(), json!({"type": "string", "optional": false}));
            out.insert("values".into(), vc);
            Read::Map(Box::new(vr))
        }
        "record" => {
            let o = o.ok_or_else(|| err("a record without fields"))?;
            let (full, space) = full_name(o, ns);
            let fields = o
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| err("a record without fields"))?;
            let mut cfields = Vec::with_capacity(fields.len());
            let mut reads = Vec::with_capacity(fields.len());
            for f in fields {
                let fname = f
                    .get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| err("a record field without a name"))?;
                let ftype = f.get("type").ok_or_else(|| err("a field without a type"))?;
                let (mut fc, fr) = convert(ftype, space.as_deref(), names, depth + 1)?;
                if let Json::Object(m) = &mut fc {
                    let optional =
                        matches!(&fr, Read::Union(b) if b.iter().any(|r| matches!(r, Read::Null)));
                    m.insert("optional".into(), json!(optional));
                    m.insert("field".into(), json!(fname));
                }
                cfields.push(fc);
                reads.push((fname.to_string(), fr));
            }
            out.insert("type".into(), json!("struct"));
            out.insert("fields".into(), Json::Array(cfields));
            if !o.contains_key("connect.name") {
                out.insert("name".into(), json!(full));
            }
            connect_meta(o, &mut out);
            let read = Read::Record(reads);
            names.insert(full, (Json::Object(out.clone()), read.clone()));
            return Ok((Json::Object(out), read));
        }
        named => {
            let full = if named.contains('.') || ns.is_none() {
                named.to_string()
            } else {
                format!("{}.{named}", ns.unwrap_or_default())
            };
            let found = names.get(&full).or_else(|| names.get(named));
            return found
                .cloned()
                .ok_or_else(|| err(format!("an Avro type `{named}` that is not defined before")));
        }
    };
    if let Some(o) = o {
        connect_meta(o, &mut out);
        if o.get("logicalType").and_then(Json::as_str) == Some("decimal") && ty == "bytes" {
            out.entry("name")
                .or_insert_with(|| json!("org.apache.kafka.connect.data.Decimal"));
            if !out.contains_key("parameters") {
                let scale = o.get("scale").and_then(Json::as_i64).unwrap_or(0);
                out.insert("parameters".into(), json!({"scale": scale.to_string()}));
            }
        }
    }
    Ok((Json::Object(out), read))
}

/// A MapEntry field's Connect schema without its `field` name.
fn strip_field(f: Option<&Json>) -> Json {
    let mut v = f.cloned().unwrap_or(Json::Null);
    if let Json::Object(m) = &mut v {
        m.remove("field");
    }
    v
}

impl ReadShape {
    /// From a registered Avro schema's JSON text.
    pub(crate) fn parse(avro: &str) -> Result<ReadShape, String> {
        let s: Json = serde_json::from_str(avro)
            .map_err(|e| err(format!("the registry's schema is not JSON: {e}")))?;
        let mut names = Names::new();
        let (mut connect, read) = convert(&s, None, &mut names, 0)?;
        if let Json::Object(m) = &mut connect {
            m.insert("optional".into(), json!(false));
        }
        Ok(ReadShape {
            connect: connect.to_string(),
            read,
        })
    }

    /// The record as `{"schema":…,"payload":…}` JSON, from the datum after the 5-byte header.
    pub(crate) fn to_json(&self, datum: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = Reader {
            buf: datum,
            depth: 0,
        };
        let payload = r.value(&self.read)?;
        if !r.buf.is_empty() {
            return Err(err(format!("{} bytes after the Avro datum", r.buf.len())));
        }
        let mut out = Vec::with_capacity(datum.len() * 2 + self.connect.len() + 32);
        out.extend_from_slice(b"{\"schema\":");
        out.extend_from_slice(self.connect.as_bytes());
        out.extend_from_slice(b",\"payload\":");
        serde_json::to_writer(&mut out, &payload).map_err(|e| err(e.to_string()))?;
        out.push(b'}');
        Ok(out)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    depth: usize,
}

impl Reader<'_> {
    fn long(&mut self) -> Result<i64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| err("the Avro datum ends inside a number"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        Err(err("an Avro number longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.buf.len() {
            return Err(err(format!(
                "the Avro datum claims {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| err("a negative Avro length"))
    }

    /// A block count: negative counts carry a byte size after them.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        if n < 0 {
            self.long()?;
        }
        let n = n.unsigned_abs() as usize;
        // Every item takes at least one byte... except nulls; bound by what is left.
        if n > self.buf.len().max(1) * 8 {
            return Err(err(format!(
                "an Avro block of {n} items in {} bytes",
                self.buf.len()
            )));
        }
        Ok(n)
    }

    fn value(&mut self, read: &Read) -> Result<Json, String> {
        Ok(match read {
            Read::Null => Json::Null,
            Read::Boolean => Json::Bool(self.take(1)?[0] != 0),
            Read::Int | Read::Long => json!(self.long()?),
            Read::Float => {
                let b = self.take(4)?;
                float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Read::Double => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                float(f64::from_le_bytes(a))
            }
            Read::Bytes => {
                let n = self.len()?;
                Json::String(base64::engine::general_purpose::STANDARD.encode(self.take(n)?))
            }
            Read::Fixed(n) => {
                Json::String(base64::engine::general_purpose::STANDARD.encode(self.take(*n)?))
            }
            Read::String => {
                let n = self.len()?;
                Json::String(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            Read::Enum(symbols) => {
                let i = self.long()?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .map(|s| Json::String(s.clone()))
                    .ok_or_else(|| err(format!("an Avro enum index {i} out of range")))?
            }
            Read::Union(branches) => {
                let i = self.long()?;
                let b = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| err(format!("an Avro union branch {i} out of range")))?;
                self.nested(b)?
            }
            Read::Record(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (name, r) in fields {
                    m.insert(name.clone(), self.nested(r)?);
                }
                Json::Object(m)
            }
            Read::Array(items) => {
                let mut out = Vec::new();
                self.blocks(|r| {
                    out.push(r.nested(items)?);
                    Ok(())
                })?;
                Json::Array(out)
            }
            Read::Map(values) => {
                let mut m = Map::new();
                self.blocks(|r| {
                    let kl = r.len()?;
                    let k = String::from_utf8_lossy(r.take(kl)?).into_owned();
                    m.insert(k, r.nested(values)?);
                    Ok(())
                })?;
                Json::Object(m)
            }
            Read::Entries(k, v) => {
                let mut out = Vec::new();
                self.blocks(|r| {
                    let key = r.nested(k)?;
                    let value = r.nested(v)?;
                    out.push(json!([key, value]));
                    Ok(())
                })?;
                Json::Array(out)
            }
        })
    }

    /// The items of an array or map: blocks of counted items, ended by a zero count.
    fn blocks(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let n = self.count()?;
            if n == 0 {
                return Ok(());
            }
            for _ in 0..n {
                item(self)?;
            }
        }
    }

    fn nested(&mut self, r: &Read) -> Result<Json, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(err("an Avro value nested deeper than 64 levels"));
        }
        let v = self.value(r);
        self.depth -= 1;
        v
    }
}

/// Floats as the JSON envelope writes them.
fn float(f: f64) -> Json {
    if f.is_nan() {
        json!("NaN")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(f)
    }
}

/// The schema id of a Confluent-framed Avro record, when `bytes` is one.
pub(crate) fn framed_id(bytes: &[u8]) -> Option<u32> {
    match bytes {
        [0, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::avro::tests::value_struct;
    use crate::envelope::avro::AvroShape;

    /// What the Avro writer writes, the reader reads back into the same Connect schema and
    /// payload (field for field).
    #[test]
    fn round_trip_through_avro() {
        let connect = json!({
            "type": "struct", "name": "srv.public.t.Envelope", "version": 1, "optional": false,
            "fields": [
                value_struct("after", &[
                    json!({"type": "array", "optional": true, "field": "tags",
                           "items": {"type": "string", "optional": true}}),
                    json!({"type": "map", "optional": true, "field": "attrs",
                           "keys": {"type": "string", "optional": false},
                           "values": {"type": "string", "optional": true}}),
                    json!({"type": "double", "optional": true, "field": "f"}),
                ]),
                {"type": "string", "optional": false, "field": "op"},
            ]
        });
        let payload = json!({"after": {"id": 7, "small": -3, "price": "AMg=", "mood": "b",
                                        "day": 19000, "tags": ["a", null],
                                        "attrs": {"k": "v"}, "f": "NaN"}, "op": "c"});
        let w = AvroShape::from_connect(&connect).expect("writer");
        let mut framed = Vec::new();
        w.encode(&payload, 42, &mut framed).expect("encode");
        assert_eq!(framed_id(&framed), Some(42));
        let r = ReadShape::parse(&w.schema).expect("reader");
        let back: Json =
            serde_json::from_slice(&r.to_json(&framed[5..]).expect("read")).expect("json");
        assert_eq!(back["payload"], payload);
        let after = &back["schema"]["fields"][0];
        assert_eq!(after["name"], "srv.public.t.Value");
        assert_eq!(after["optional"], true);
        assert_eq!(after["fields"][1]["type"], "int16");
        assert_eq!(
            after["fields"][2]["name"],
            "org.apache.kafka.connect.data.Decimal"
        );
        assert_eq!(after["fields"][2]["parameters"]["scale"], "2");
        // Truncated and hostile datums are clean errors.
        for cut in 0..framed.len() - 5 {
            assert!(r.to_json(&framed[5..5 + cut]).is_err(), "cut at {cut}");
        }
        let mut huge = framed[5..].to_vec();
        huge.truncate(2);
        huge.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert!(r.to_json(&huge).is_err());
    }
}
