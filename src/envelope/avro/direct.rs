//! Avro datums written straight from change events, beside the envelope's JSON writer: the
//! same fields in the same order, guided by the [`Plan`] of the Avro schema the sink
//! registers (built from the same Connect schema text as for JSON-through-Avro).
//!
//! ```text
//! ChangeEvent ─► EnvelopeEncoder::avro_value / avro_key ─► datum (no JSON in between)
//!                   └─ a value without a direct arm: that one value as JSON, streamed
//!                      through its plan (so it agrees by construction)
//! ```
//! Invariant: for every event, the datum equals what [`AvroShape::encode_text`] writes for the
//! JSON payload the envelope writes for it (property-tested in the parent module's tests).
//! An event that does not fit its plan at all is [`Unfit`]: the caller then writes it through
//! JSON, where the mismatch is named.

use serde_json::Value as Json;

use super::{long, stream, AvroShape, Plan};
use crate::envelope::{
    binary_text, decimal, decimal_plain, iso_duration, source_key, trimmed_decimal, unscaled_bytes,
    write_moded, write_unavailable, write_value, EnvelopeEncoder, Rendered, Scalar, TxBlock,
    ValueModes, UNAVAILABLE_VALUE,
};
use crate::event::{ChangeEvent, Column, ColumnType, Value};

/// The event does not fit the plan; the caller writes it through JSON instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::envelope) struct Unfit;

type Fit = Result<(), Unfit>;

/// How a row's values are written, as the JSON writer writes them: through
/// [`write_moded`] (`moded`) or [`write_value`], and a missing value's placeholder.
#[derive(Debug, Clone, Copy)]
struct Cells<'a> {
    moded: bool,
    modes: ValueModes,
    placeholder: &'a str,
}

/// The fields of a record plan, taken in order by name.
struct Fields<'p>(std::slice::Iter<'p, (String, Plan)>);

impl<'p> Fields<'p> {
    fn of(plan: &'p Plan) -> Result<Self, Unfit> {
        match plan {
            Plan::Record(f) => Ok(Fields(f.iter())),
            _ => Err(Unfit),
        }
    }

    fn field(&mut self, name: &str) -> Result<&'p Plan, Unfit> {
        self.field_bytes(name.as_bytes())
    }

    fn field_bytes(&mut self, name: &[u8]) -> Result<&'p Plan, Unfit> {
        match self.0.next() {
            Some((n, p)) if n.as_bytes() == name => Ok(p),
            _ => Err(Unfit),
        }
    }

    fn scalar(&mut self, out: &mut Vec<u8>, name: &str, v: Scalar<'_>) -> Fit {
        scalar(out, self.field(name)?, v)
    }

    fn end(mut self) -> Fit {
        match self.0.next() {
            None => Ok(()),
            Some(_) => Err(Unfit),
        }
    }
}

/// The plan of a value that is present: a union's value branch is written first.
fn some<'p>(out: &mut Vec<u8>, plan: &'p Plan) -> &'p Plan {
    match plan {
        Plan::Optional { inner, null_index } => {
            long(out, i64::from(1 - *null_index));
            inner
        }
        p => p,
    }
}

fn null(out: &mut Vec<u8>, plan: &Plan) -> Fit {
    match plan {
        Plan::Optional { null_index, .. } => {
            long(out, i64::from(*null_index));
            Ok(())
        }
        _ => Err(Unfit),
    }
}

fn scalar(out: &mut Vec<u8>, plan: &Plan, v: Scalar<'_>) -> Fit {
    if let Scalar::Null = v {
        return null(out, plan);
    }
    match (some(out, plan), v) {
        (Plan::String, Scalar::Str(s)) => string(out, s.as_bytes()),
        (Plan::Long, Scalar::Int(i)) => long(out, i),
        (Plan::Int, Scalar::Int(i)) if i32::try_from(i).is_ok() => long(out, i),
        _ => return Err(Unfit),
    }
    Ok(())
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    long(out, s.len() as i64);
    out.extend_from_slice(s);
}

/// Bytes under `plan` (JSON writes them as base64, which only `bytes` takes directly).
fn bytes(out: &mut Vec<u8>, plan: &Plan, b: &[u8]) -> bool {
    let fits = matches!(plan, Plan::Bytes);
    if fits {
        string(out, b);
    }
    fits
}

/// Text under `plan`.
fn text(out: &mut Vec<u8>, plan: &Plan, s: &str) -> bool {
    let fits = matches!(plan, Plan::String);
    if fits {
        string(out, s.as_bytes());
    }
    fits
}

/// A JSON integer under `plan`, as the JSON-through-Avro writer takes it.
fn integer(out: &mut Vec<u8>, plan: &Plan, i: i64) -> bool {
    match plan {
        Plan::Int if i32::try_from(i).is_ok() => long(out, i),
        Plan::Long => long(out, i),
        Plan::Float => out.extend_from_slice(&(i as f32).to_le_bytes()),
        Plan::Double => out.extend_from_slice(&(i as f64).to_le_bytes()),
        _ => return false,
    }
    true
}

/// A JSON double under `plan` (its shortest text reads back as the same `f64`; NaN's text
/// has no sign or payload).
fn double(out: &mut Vec<u8>, plan: &Plan, f: f64) -> bool {
    let f = if f.is_nan() { f64::NAN } else { f };
    match plan {
        Plan::Double => out.extend_from_slice(&f.to_le_bytes()),
        Plan::Float => out.extend_from_slice(&(f as f32).to_le_bytes()),
        _ => return false,
    }
    true
}

/// One column value under its field's plan.
fn column(out: &mut Vec<u8>, plan: &Plan, ty: &ColumnType, v: &Value, c: Cells<'_>) -> Fit {
    match v {
        Value::Null => return null(out, plan),
        // Written as null or as the placeholder, by type: the JSON path says which.
        Value::Unavailable => return through_json(out, plan, ty, v, c),
        _ => {}
    }
    let start = out.len();
    let inner = some(out, plan);
    if direct(out, inner, ty, v, c)? {
        return Ok(());
    }
    out.truncate(start);
    through_json(out, plan, ty, v, c)
}

/// The value written straight from `v`, mirroring the arms of [`write_moded`] and
/// [`write_value`] in their order; `false` (nothing written) where this has no arm.
fn direct(
    out: &mut Vec<u8>,
    plan: &Plan,
    ty: &ColumnType,
    v: &Value,
    c: Cells<'_>,
) -> Result<bool, Unfit> {
    use ColumnType as T;
    use Value as V;
    Ok(match (ty, v) {
        (T::Decimal { .. }, V::Int(i)) if c.moded => bytes(
            out,
            plan,
            &unscaled_bytes(&(*i as u64).to_string()).unwrap_or_default(),
        ),
        (T::Float64, V::Decimal { unscaled, scale }) if c.moded => double(
            out,
            plan,
            decimal_plain(unscaled, *scale).parse().unwrap_or(f64::NAN),
        ),
        (T::String, V::Decimal { unscaled, scale }) if c.moded => {
            text(out, plan, &decimal_plain(unscaled, *scale))
        }
        (T::String, V::Bytes(b)) if c.moded => text(out, plan, &binary_text(b, c.modes.binary)),
        (T::Array(inner), V::Array(items)) => {
            let Plan::Array(item_plan) = plan else {
                return Ok(false);
            };
            // Nested values under a missing placeholder are the default one, as in JSON.
            let nested = Cells {
                placeholder: UNAVAILABLE_VALUE,
                ..c
            };
            if !items.is_empty() {
                long(out, items.len() as i64);
                for item in items {
                    match (&**item_plan, item) {
                        // A multi-dimensional PostgreSQL array: null, as the JSON path writes.
                        (
                            Plan::Optional {
                                inner: ip,
                                null_index,
                            },
                            V::Array(_),
                        ) if !matches!(**ip, Plan::Array(_) | Plan::Entries { .. }) => {
                            long(out, i64::from(*null_index));
                        }
                        _ => column(out, item_plan, inner, item, nested)?,
                    }
                }
            }
            out.push(0);
            true
        }
        (T::Time { millis: true }, V::Time(us)) => integer(out, plan, us / 1000),
        (T::Timestamp { millis: true }, V::Timestamp(us)) => {
            integer(out, plan, us.div_euclid(1000))
        }
        (T::ZonedTimestamp { fraction_digits }, V::Timestamp(us)) => {
            if !matches!(plan, Plan::String) {
                return Ok(false);
            }
            let mut t = Vec::with_capacity(32);
            decimal::write_instant(&mut t, *us, *fraction_digits);
            string(out, &t);
            true
        }
        (T::VariableDecimal, V::Decimal { unscaled, scale }) => {
            let Plan::Record(f) = plan else {
                return Ok(false);
            };
            if !matches!(&f[..], [(s, Plan::Int), (v, Plan::Bytes)] if s == "scale" && v == "value")
            {
                return Ok(false);
            }
            let (digits, scale) = trimmed_decimal(unscaled, *scale);
            long(out, i64::from(scale));
            string(out, &unscaled_bytes(digits).unwrap_or_default());
            true
        }
        (T::Bits { .. }, V::Bool(b)) => bytes(out, plan, &[u8::from(*b)]),
        (_, V::Bool(b)) => {
            let fits = matches!(plan, Plan::Boolean);
            if fits {
                out.push(u8::from(*b));
            }
            fits
        }
        (_, V::Int(i)) => integer(out, plan, *i),
        (_, V::Float32(f)) => {
            let fits = matches!(plan, Plan::Float);
            if fits {
                let f = if f.is_nan() { f64::NAN as f32 } else { *f };
                out.extend_from_slice(&f.to_le_bytes());
            }
            fits
        }
        (_, V::Float64(f)) => double(out, plan, *f),
        (_, V::Decimal { unscaled, .. }) => {
            bytes(out, plan, &unscaled_bytes(unscaled).unwrap_or_default())
        }
        (T::StringMap, V::Json(_)) => false,
        (_, V::String(s) | V::Json(s)) => text(out, plan, s),
        (_, V::Bytes(b)) => bytes(out, plan, b),
        (_, V::Date(d)) => integer(out, plan, i64::from(*d)),
        (_, V::Time(us) | V::Timestamp(us)) => integer(out, plan, *us),
        (T::NamedString(_), V::Interval { parts, .. }) => text(out, plan, &iso_duration(parts)),
        (_, V::Interval { micros, .. }) => integer(out, plan, *micros),
        _ => false,
    })
}

/// `v` written as the JSON writer writes it, then that text through `plan` (the streaming
/// writer, else the tree writer, exactly as for a whole JSON payload).
fn through_json(out: &mut Vec<u8>, plan: &Plan, ty: &ColumnType, v: &Value, c: Cells<'_>) -> Fit {
    let mut json = Vec::with_capacity(64);
    if matches!(v, Value::Unavailable) {
        write_unavailable(&mut json, ty, c.placeholder);
    } else if c.moded {
        write_moded(&mut json, ty, v, c.modes);
    } else {
        write_value(&mut json, ty, v);
    }
    let start = out.len();
    if stream(plan, &json, out) {
        return Ok(());
    }
    out.truncate(start);
    let tree: Json = serde_json::from_slice(&json).map_err(|_| Unfit)?;
    super::write(plan, &tree, out, &mut String::new()).map_err(|_| Unfit)
}

/// A row (`before` or `after`) under its field's plan.
fn row(
    out: &mut Vec<u8>,
    plan: &Plan,
    columns: &[Column],
    r: &Rendered,
    values: Option<&[Value]>,
    c: Cells<'_>,
) -> Fit {
    let Some(values) = values else {
        return null(out, plan);
    };
    let mut fields = Fields::of(some(out, plan))?;
    for (i, ty, v) in r.cells(values) {
        let name = &columns.get(i).ok_or(Unfit)?.name;
        column(out, fields.field(name)?, ty, v, c)?;
    }
    fields.end()
}

impl EnvelopeEncoder {
    /// An event's value datum (what follows the wire header) under `shape`.
    pub(in crate::envelope) fn avro_value(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
        shape: &AvroShape,
        out: &mut Vec<u8>,
    ) -> Fit {
        let modes = self.opts.modes;
        let c = Cells {
            moded: !modes.plain(),
            modes,
            placeholder: &self.opts.placeholder,
        };
        let columns = &ev.schema.columns;
        let mut f = Fields::of(&shape.plan)?;
        row(out, f.field("before")?, columns, r, ev.before.as_deref(), c)?;
        row(out, f.field("after")?, columns, r, ev.after.as_deref(), c)?;
        let mut source = Fields::of(f.field("source")?)?;
        let mut fit = Ok(());
        self.source_fields(crate::envelope::SourceAt::of(ev), |key, v| {
            if fit.is_ok() {
                fit = source
                    .field_bytes(source_key(key))
                    .and_then(|p| scalar(out, p, v));
            }
        });
        fit?;
        source.end()?;
        let plan = f.field("transaction")?;
        match tx {
            None => null(out, plan)?,
            Some((id, total, in_collection)) => {
                let mut t = Fields::of(some(out, plan))?;
                t.scalar(out, "id", Scalar::Str(id))?;
                t.scalar(out, "total_order", Scalar::Int(*total))?;
                t.scalar(out, "data_collection_order", Scalar::Int(*in_collection))?;
                t.end()?;
            }
        }
        f.scalar(out, "op", Scalar::Str(ev.op.code()))?;
        let now = self.now_ns();
        f.scalar(out, "ts_ms", Scalar::Int(now / 1_000_000))?;
        f.scalar(out, "ts_us", Scalar::Int(now / 1_000))?;
        f.scalar(out, "ts_ns", Scalar::Int(now))?;
        f.end()
    }

    /// An event's key datum under `shape` (the key columns, as the JSON key writes them).
    pub(in crate::envelope) fn avro_key(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        shape: &AvroShape,
        out: &mut Vec<u8>,
    ) -> Fit {
        let c = Cells {
            moded: true,
            modes: self.opts.modes,
            placeholder: UNAVAILABLE_VALUE,
        };
        let mut f = Fields::of(&shape.plan)?;
        if ev.schema.key_columns.len() != ev.key.len() {
            return Err(Unfit);
        }
        for (&ci, v) in ev.schema.key_columns.iter().zip(&ev.key) {
            let name = &ev.schema.columns.get(ci).ok_or(Unfit)?.name;
            column(out, f.field(name)?, r.types.get(ci).ok_or(Unfit)?, v, c)?;
        }
        f.end()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::envelope::{
        BigintUnsigned, BinaryHandling, DecimalHandling, EnvelopeOptions, Form, HstoreHandling,
        IntervalHandling, Record, SourceKind, SourceOutput, TimePrecision,
    };
    use crate::event::{Lsn, Marker, Op, Position, SnapshotMarker, TableId, TableSchema};

    use crate::testing::Gen;

    /// The values this test draws, beyond the shared generator's.
    trait Draw {
        fn int(&mut self, min: i64, max: i64) -> i64;
        fn text(&mut self) -> String;
        fn bytes(&mut self) -> Vec<u8>;
        fn digits(&mut self) -> String;
    }

    impl Draw for Gen {
        /// An integer that is often an extreme or near zero.
        fn int(&mut self, min: i64, max: i64) -> i64 {
            match self.below(6) {
                0 => min,
                1 => max,
                2 => (self.below(201) as i64 - 100).clamp(min, max),
                _ => {
                    let span = (max as i128 - min as i128 + 1) as u128;
                    (min as i128 + (u128::from(self.next()) % span) as i128) as i64
                }
            }
        }

        fn text(&mut self) -> String {
            const PARTS: &[&str] = &[
                "a", "Zz", " ", "\"", "\\", "\n", "\t", "\u{1}", "é", "✓", "😀", "{", "}", ",",
            ];
            (0..self.below(12))
                .map(|_| PARTS[self.below(PARTS.len() as u64) as usize])
                .collect()
        }

        fn bytes(&mut self) -> Vec<u8> {
            (0..self.below(20)).map(|_| self.next() as u8).collect()
        }

        fn digits(&mut self) -> String {
            let n = 1 + self.below(40);
            let mut d: String = (0..n)
                .map(|_| char::from(b'0' + self.below(10) as u8))
                .collect();
            if self.one_in(2) {
                d.insert(0, '-');
            }
            d
        }
    }

    fn scalar_type(g: &mut Gen) -> ColumnType {
        use ColumnType as T;
        match g.below(27) {
            0 => T::Bool,
            1 => T::Int16,
            2 => T::Int32,
            3 => T::Int64,
            4 => T::UInt64,
            5 => T::Float32,
            6 => T::Float64,
            7 => T::Decimal {
                precision: (!g.one_in(3)).then(|| 1 + g.below(60) as u32),
                scale: g.below(12) as u32,
            },
            8 => T::VariableDecimal,
            9 => T::String,
            10 => T::Bytes,
            11 => T::Date,
            12 => T::Time {
                millis: g.one_in(2),
            },
            13 => T::ZonedTime,
            14 => T::Timestamp {
                millis: g.one_in(2),
            },
            15 => T::ZonedTimestamp {
                fraction_digits: if g.one_in(3) {
                    T::SHORTEST_FRACTION
                } else {
                    g.below(7) as u8
                },
            },
            16 => T::Year,
            17 => T::Bits {
                length: if g.one_in(2) {
                    1
                } else {
                    1 + g.below(64) as u32
                },
            },
            18 => T::EnumSet {
                allowed: "a,b,c".into(),
            },
            19 => T::Interval,
            20 => T::Uuid,
            21 => T::Json,
            22 => T::Enum {
                allowed: "x,y".into(),
            },
            23 => T::NamedString("io.debezium.data.Xml"),
            24 => T::Point,
            25 => T::StringMap,
            _ => T::Geometry,
        }
    }

    fn column_type(g: &mut Gen) -> ColumnType {
        if g.one_in(5) {
            let inner = match g.below(6) {
                0 => ColumnType::Int32,
                1 => ColumnType::Text,
                2 => ColumnType::Float64,
                3 => ColumnType::Decimal {
                    precision: None,
                    scale: 2,
                },
                4 => ColumnType::Bytes,
                _ => scalar_type(g),
            };
            return ColumnType::Array(Box::new(inner));
        }
        if g.one_in(20) {
            return ColumnType::Text;
        }
        scalar_type(g)
    }

    /// A value the sources produce for a column of type `ty`.
    fn value(g: &mut Gen, ty: &ColumnType) -> Value {
        use ColumnType as T;
        match ty {
            T::Bool => Value::Bool(g.one_in(2)),
            T::Int16 => Value::Int(g.int(i64::from(i16::MIN), i64::from(i16::MAX))),
            T::Int32 => Value::Int(g.int(i64::from(i32::MIN), i64::from(i32::MAX))),
            T::Int64 | T::UInt64 => Value::Int(g.int(i64::MIN, i64::MAX)),
            T::Year => Value::Int(g.int(1901, 2155)),
            T::Float32 => Value::Float32(match g.below(4) {
                0 => [
                    f32::NAN,
                    -f32::NAN,
                    f32::INFINITY,
                    -0.0,
                    f32::MIN_POSITIVE,
                    f32::MAX,
                ][g.below(6) as usize],
                1 => (g.int(-1000, 1000) as f32) / 10.0,
                _ => f32::from_bits(g.next() as u32),
            }),
            T::Float64 => Value::Float64(match g.below(4) {
                0 => {
                    [f64::NAN, f64::NEG_INFINITY, -0.0, 5e-324, f64::MAX, 1e7][g.below(6) as usize]
                }
                1 => (g.int(-1000, 1000) as f64) / 10.0,
                _ => f64::from_bits(g.next()),
            }),
            T::Decimal { scale, .. } => Value::Decimal {
                unscaled: g.digits(),
                scale: *scale,
            },
            T::VariableDecimal => Value::Decimal {
                unscaled: g.digits(),
                scale: g.below(20) as u32,
            },
            T::String
            | T::Text
            | T::Uuid
            | T::NamedString(_)
            | T::Enum { .. }
            | T::EnumSet { .. } => Value::String(g.text()),
            T::Json => Value::Json(serde_json::to_string(&g.text()).expect("json")),
            T::Bytes => Value::Bytes(g.bytes()),
            T::Bits { length: 1 } => Value::Bool(g.one_in(2)),
            T::Bits { .. } => Value::Bytes(g.bytes()),
            T::Date => Value::Date(g.int(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
            T::Time { .. } => Value::Time(g.int(-3_020_399_000_000, 86_400_000_000)),
            T::ZonedTime => Value::ZonedTime(g.int(0, 86_399_999_999)),
            T::Timestamp { .. } | T::ZonedTimestamp { .. } => {
                Value::Timestamp(g.int(-210_000_000_000_000_000, 260_000_000_000_000_000))
            }
            T::Interval => Value::Interval {
                micros: g.int(i64::MIN, i64::MAX),
                parts: [
                    g.int(-100, 100),
                    g.int(-11, 11),
                    g.int(-40, 40),
                    g.int(-30, 30),
                    g.int(-59, 59),
                    g.int(-59_999_999, 59_999_999),
                ],
            },
            T::StringMap => {
                let mut m = serde_json::Map::new();
                for _ in 0..g.below(4) {
                    let v = if g.one_in(4) {
                        Json::Null
                    } else {
                        Json::String(g.text())
                    };
                    m.insert(g.text(), v);
                }
                Value::Json(Json::Object(m).to_string())
            }
            T::Point => Value::Point {
                x: f64::from_bits(g.next()),
                y: (g.int(-100, 100) as f64) / 3.0,
                srid: (!g.one_in(2)).then(|| g.int(1, 100_000) as i32),
            },
            T::Geometry => Value::Geometry {
                wkb: g.bytes(),
                srid: (!g.one_in(2)).then(|| g.int(0, 100_000) as i32),
            },
            T::Array(inner) => {
                let items = (0..g.below(5))
                    .map(|_| match g.below(8) {
                        0 => Value::Null,
                        // A multi-dimensional PostgreSQL array.
                        1 if !matches!(**inner, T::Array(_)) => {
                            Value::Array(vec![value(g, inner), Value::Null])
                        }
                        _ => value(g, inner),
                    })
                    .collect();
                Value::Array(items)
            }
        }
    }

    /// A column's value, sometimes NULL or unsent (an unchanged TOASTed value: a required
    /// column's only when its type writes the placeholder).
    fn cell(g: &mut Gen, c: &Column) -> Value {
        let placeholder_type = matches!(
            c.ty,
            ColumnType::String | ColumnType::Text | ColumnType::Json | ColumnType::Bytes
        );
        match g.below(10) {
            0 => Value::Null,
            1 if c.nullable || placeholder_type => Value::Unavailable,
            _ => value(g, &c.ty),
        }
    }

    fn modes(g: &mut Gen) -> ValueModes {
        let mut m = ValueModes::default();
        if g.one_in(2) {
            return m;
        }
        m.decimal = [
            DecimalHandling::Precise,
            DecimalHandling::Double,
            DecimalHandling::String,
        ][g.below(3) as usize];
        m.binary = [
            BinaryHandling::Bytes,
            BinaryHandling::Base64,
            BinaryHandling::Base64UrlSafe,
            BinaryHandling::Hex,
        ][g.below(4) as usize];
        m.time = [
            TimePrecision::Adaptive,
            TimePrecision::AdaptiveTimeMicroseconds,
            TimePrecision::Connect,
        ][g.below(3) as usize];
        m.unsigned = [BigintUnsigned::Long, BigintUnsigned::Precise][g.below(2) as usize];
        m.interval = [IntervalHandling::Numeric, IntervalHandling::String][g.below(2) as usize];
        m.hstore = [HstoreHandling::Json, HstoreHandling::Map][g.below(2) as usize];
        m
    }

    fn position(g: &mut Gen, kind: SourceKind) -> Position {
        match kind {
            SourceKind::Postgres => Position::Postgres {
                db: Arc::from("db"),
                lsn: Lsn(g.next() >> 1),
                tx_id: (!g.one_in(4)).then(|| g.next() as u32),
                last_commit_lsn: (!g.one_in(3)).then(|| Lsn(g.next() >> 1)),
            },
            _ => Position::Mysql {
                db: Arc::from("db"),
                server_id: g.next() as u32,
                file: Arc::from("mysql-bin.000003"),
                pos: g.next() >> 1,
                row: g.below(1000) as u32,
                gtid: (!g.one_in(3)).then(|| Arc::from("0-1-42")),
            },
        }
    }

    /// What the sink's JSON path writes for a record part the envelope wrote with schemas.
    fn through_envelope_json(part: Option<&Vec<u8>>) -> Option<Result<Vec<u8>, String>> {
        let bytes = part?;
        let w: Json = serde_json::from_slice(bytes).expect("JSON with schemas");
        if w["schema"].is_null() {
            return None;
        }
        let shape = match AvroShape::from_connect(&w["schema"]) {
            Ok(s) => s,
            Err(e) => return Some(Err(e.to_string())),
        };
        let mut out = Vec::new();
        Some(
            shape
                .encode_text(&w["payload"].to_string(), 0, &mut out)
                .map(|()| out)
                .map_err(|e| e.to_string()),
        )
    }

    /// Property: for generated tables, values, handling modes, positions and transactions,
    /// the datum written straight from the event equals the one the JSON-with-schemas path
    /// writes (the sink's path before, and still the one for markers), for key and value;
    /// and no generated event needs that path.
    #[test]
    fn direct_datums_equal_the_json_path() {
        let mut g = Gen(0x5eed_a7f0_0d15_ea5e);
        let (mut events, mut direct) = (0, 0);
        for round in 0..400u64 {
            let kind = if g.one_in(2) {
                SourceKind::Postgres
            } else {
                SourceKind::Mysql
            };
            let mut out = SourceOutput::new(kind);
            out.modes = modes(&mut g);
            out.transaction_metadata = g.one_in(3);
            if g.one_in(4) {
                out.placeholder = Arc::from("__unset");
            }
            let mut columns = vec![Column {
                name: "id".into(),
                ty: ColumnType::Int32,
                nullable: false,
                default: None,
            }];
            for i in 0..1 + g.below(8) {
                let ty = column_type(&mut g);
                let nullable = !g.one_in(4);
                let default = g.one_in(4).then(|| value(&mut g, &ty));
                columns.push(Column {
                    name: format!("c{i}"),
                    ty,
                    nullable,
                    default,
                });
            }
            let mut key_columns = vec![0];
            if g.one_in(3) {
                key_columns.push(1);
            }
            let schema = Arc::new(TableSchema {
                table: TableId::new("public", format!("t{round}")),
                columns,
                key_columns,
                version: round,
            });
            let with = |avro, schemas| {
                let mut o = EnvelopeOptions::new("srv".into(), schemas, out.clone());
                o.avro = avro;
                let mut e = crate::envelope::EnvelopeEncoder::new(o);
                e.set_now(Some(1_700_000_000_123_456_789));
                e
            };
            let avro = crate::envelope::AvroParts {
                key: !g.one_in(4),
                value: true,
            };
            let json_schemas = g.one_in(2);
            let mut fast = with(avro, json_schemas);
            let mut slow = with(crate::envelope::AvroParts::default(), true);
            let begin = Marker::Begin {
                commit_ts_us: 1_700_000_000_000_000,
            };
            let (mut a, mut b): (Vec<Record>, Vec<Record>) = (Vec::new(), Vec::new());
            fast.encode_marker(&begin, &mut a);
            slow.encode_marker(&begin, &mut b);
            for _ in 0..6 {
                let row = |g: &mut Gen| -> Vec<Value> {
                    schema
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            if schema.key_columns.contains(&i) {
                                value(g, &c.ty)
                            } else {
                                cell(g, c)
                            }
                        })
                        .collect()
                };
                let op = [Op::Create, Op::Update, Op::Delete, Op::Read][g.below(4) as usize];
                let after = (op != Op::Delete).then(|| row(&mut g));
                let before = match op {
                    Op::Delete => Some(row(&mut g)),
                    Op::Update if g.one_in(2) => Some(row(&mut g)),
                    _ => None,
                };
                let key = schema.key_of(after.as_deref().or(before.as_deref()).unwrap_or(&[]));
                let ev = ChangeEvent {
                    op,
                    schema: Arc::clone(&schema),
                    key,
                    before,
                    after,
                    position: position(&mut g, kind),
                    commit_ts_us: g.int(-62_000_000_000_000_000, 250_000_000_000_000_000),
                    snapshot: (op == Op::Read).then_some(SnapshotMarker::True),
                    moved_key: None,
                };
                a.clear();
                b.clear();
                fast.encode(&ev, &mut a);
                slow.encode(&ev, &mut b);
                assert_eq!(a.len(), b.len(), "{ev:?}");
                events += 1;
                let (fa, sb) = (a.last().expect("record"), b.last().expect("record"));
                let (fa, sb) = if a.len() > 1 && fa.value.is_none() {
                    (&a[a.len() - 2], &b[b.len() - 2])
                } else {
                    (fa, sb)
                };
                let Form::Final {
                    key: key_shape,
                    value: value_shape,
                } = &fa.form
                else {
                    // Only an event the JSON path cannot write either may take it.
                    let v = through_envelope_json(sb.value.as_ref()).expect("value");
                    assert!(v.is_err(), "an event took the JSON path needlessly: {ev:?}");
                    continue;
                };
                direct += 1;
                let want = through_envelope_json(sb.value.as_ref())
                    .expect("value")
                    .unwrap_or_else(|e| {
                        panic!("the JSON path fails ({e}) where the direct one did not: {ev:?}")
                    });
                assert!(value_shape.is_some());
                assert_eq!(fa.value.as_ref(), Some(&want), "value of {ev:?}");
                match (avro.key, through_envelope_json(sb.key.as_ref())) {
                    (true, Some(want)) => {
                        assert!(key_shape.is_some());
                        assert_eq!(fa.key.as_ref(), Some(&want.expect("key")), "key of {ev:?}");
                    }
                    (true, None) => assert_eq!(fa.key, None),
                    (false, _) => {
                        // The JSON key, as the sink writes it.
                        let w: Json =
                            serde_json::from_slice(sb.key.as_ref().expect("key")).expect("json");
                        let want = if json_schemas {
                            w
                        } else {
                            w["payload"].clone()
                        };
                        let got: Json =
                            serde_json::from_slice(fa.key.as_ref().expect("key")).expect("json");
                        assert_eq!(got, want);
                    }
                }
            }
        }
        assert!(events > 2000, "{events}");
        assert!(
            direct * 10 > events * 9,
            "{direct} of {events} written directly"
        );
    }
}
