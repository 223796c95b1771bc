//! MySQL/MariaDB column kinds and the conversion of their values to [`Value`]s.
//!
//! A [`Kind`] is learned from `information_schema` (snapshot, and streaming while the catalog
//! still matches the binlog) or from a TABLE_MAP event's full row metadata (streaming after a
//! later DDL). Values arrive as `mysql_common::Value`s from two places that encode some types
//! differently, told apart by [`Origin`]:
//! - snapshot reads (binary protocol, session time zone UTC): ENUM/SET as labels, YEAR as an
//!   integer, TIMESTAMP as a UTC date-time, UUID/INET6 as text;
//! - binlog rows: ENUM as a 1-based index, SET as a bitmask, YEAR as text, TIMESTAMP as
//!   `seconds[.micros]`, BINARY(n) without its trailing zero bytes, UUID/INET6 as raw bytes.
//!
//! Mapping to Debezium's MySQL connector defaults (`bigint.unsigned.handling.mode=long`,
//! `time.precision.mode=adaptive_time_microseconds`): see [`Kind::column_type`]. Zero dates
//! become NULL. Conversion never panics; a value of an unexpected shape is a [`TypeError`].

use std::net::Ipv6Addr;
use std::sync::Arc;

use mysql_async::Value as MyValue;

pub(crate) use super::charset::Charset;
use crate::envelope::days_from_civil;
use crate::event::{ColumnType, Value};

/// How a column's values are decoded and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `FLOAT(M,D)`: Debezium writes it as a `double`, the single-precision value widened.
    FloatAsDouble,
    /// Spatial types: the internal form (4-byte SRID, then WKB); `point` for `POINT`
    /// (Debezium's Point struct), else Debezium's Geometry struct.
    Geometry {
        /// A `POINT` column.
        point: bool,
    },
    /// Integer of `bytes` width (1, 2, 3, 4, 8).
    Int {
        /// Storage width in bytes.
        bytes: u8,
        /// Declared UNSIGNED.
        unsigned: bool,
    },
    /// A `TINYINT` that streamed DDL declared `BOOL`/`BOOLEAN`: Debezium's DDL parser makes
    /// it a boolean column (non-zero is `true`), where the catalog (and a snapshot's
    /// `SHOW CREATE TABLE`) says `tinyint(1)`, a number.
    Bool,
    /// FLOAT.
    Float,
    /// DOUBLE.
    Double,
    /// DECIMAL(p, s).
    Decimal {
        /// Precision.
        precision: u32,
        /// Scale.
        scale: u32,
    },
    /// BIT(n).
    Bit {
        /// Length in bits.
        bits: u32,
    },
    /// YEAR.
    Year,
    /// DATE.
    Date,
    /// TIME(fsp).
    Time,
    /// DATETIME(fsp): wall clock, read as UTC.
    DateTime {
        /// Fractional second digits.
        fsp: u8,
    },
    /// TIMESTAMP(fsp): an instant.
    Timestamp {
        /// Fractional second digits.
        fsp: u8,
    },
    /// Character data; `charset` decodes binlog bytes (query rows arrive as UTF-8).
    Text {
        /// The column's character set.
        charset: Charset,
        /// Declared `JSON` by streamed DDL on MariaDB (an alias of `LONGTEXT`, which the
        /// catalog shows): Debezium's DDL parser makes it `io.debezium.data.Json`.
        json: bool,
    },
    /// Binary data; `pad_to` is BINARY(n)'s length (the binlog drops trailing zero bytes).
    Binary {
        /// Fixed length to restore, for BINARY(n).
        pad_to: Option<usize>,
    },
    /// ENUM with its labels.
    Enum(Arc<[String]>),
    /// SET with its labels.
    Set(Arc<[String]>),
    /// MySQL's native JSON (binary in the binlog).
    Json,
    /// MariaDB UUID.
    Uuid,
    /// MariaDB INET6.
    Inet6,
}

/// Where a value came from (the encodings differ, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A snapshot SELECT over the binary protocol.
    Snapshot,
    /// A binlog rows event.
    Binlog,
}

/// A value that does not fit its column's kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unexpected {got} for a {kind} column")]
pub struct TypeError {
    got: &'static str,
    kind: String,
}

impl Kind {
    /// Debezium's Connect type for the kind.
    pub(crate) fn column_type(&self) -> ColumnType {
        match self {
            Kind::Int { bytes: 1, .. }
            | Kind::Int {
                bytes: 2,
                unsigned: false,
            } => ColumnType::Int16,
            Kind::Int { bytes: 2 | 3, .. }
            | Kind::Int {
                bytes: 4,
                unsigned: false,
            } => ColumnType::Int32,
            Kind::Int {
                bytes: 8,
                unsigned: true,
            } => ColumnType::UInt64,
            Kind::Int { .. } => ColumnType::Int64,
            Kind::Bool => ColumnType::Bool,
            Kind::Float => ColumnType::Float32,
            Kind::FloatAsDouble => ColumnType::Float64,
            Kind::Geometry { point: true } => ColumnType::Point,
            Kind::Geometry { point: false } => ColumnType::Geometry,
            Kind::Double => ColumnType::Float64,
            Kind::Decimal { precision, scale } => ColumnType::Decimal {
                precision: Some(*precision),
                scale: *scale,
            },
            Kind::Bit { bits: 1 } => ColumnType::Bool,
            Kind::Bit { bits } => ColumnType::Bits { length: *bits },
            Kind::Year => ColumnType::Year,
            Kind::Date => ColumnType::Date,
            Kind::Time => ColumnType::Time { millis: false },
            Kind::DateTime { fsp } => ColumnType::Timestamp { millis: *fsp <= 3 },
            Kind::Timestamp { fsp } => ColumnType::ZonedTimestamp {
                fraction_digits: *fsp,
            },
            Kind::Text { json: true, .. } => ColumnType::Json,
            Kind::Text { .. } | Kind::Inet6 => ColumnType::String,
            Kind::Binary { .. } => ColumnType::Bytes,
            Kind::Enum(labels) => ColumnType::Enum {
                allowed: labels.join(","),
            },
            Kind::Set(labels) => ColumnType::EnumSet {
                allowed: labels.join(","),
            },
            Kind::Json => ColumnType::Json,
            Kind::Uuid => ColumnType::Uuid,
        }
    }

    fn err(&self, got: &'static str) -> TypeError {
        TypeError {
            got,
            kind: format!("{self:?}"),
        }
    }

    /// Convert one value of `column`. A stored zero or invalid date (which non-strict SQL
    /// modes let in) has no day number and converts to `null`; in a NOT NULL column, whose
    /// schema says the field is required, it becomes the column's default, else the epoch,
    /// as Debezium writes it.
    pub(crate) fn convert_column(
        &self,
        v: MyValue,
        origin: Origin,
        column: &crate::event::Column,
    ) -> Result<Value, TypeError> {
        let was_null = matches!(v, MyValue::NULL);
        let out = self.convert(v, origin)?;
        if was_null {
            return Ok(out);
        }
        Ok(self.settle(out, column))
    }

    /// A stored value of `column` converted to `out`: a zero date's `null` in a NOT NULL
    /// column becomes the column's default, else the epoch (see [`Kind::convert_column`]).
    pub(crate) fn settle(&self, out: Value, column: &crate::event::Column) -> Value {
        if out != Value::Null || column.nullable {
            return out;
        }
        match (&column.default, self) {
            (Some(d), _) => d.clone(),
            (None, Kind::Date) => Value::Date(0),
            (None, Kind::DateTime { .. } | Kind::Timestamp { .. }) => Value::Timestamp(0),
            (None, _) => out,
        }
    }

    /// A binlog `TIMESTAMP2` of `fsp` fractional digits from its bytes (four of seconds, big
    /// endian, then the fraction in `fsp.div_ceil(2)` bytes), as [`Kind::convert`] reads
    /// mysql_common's `seconds[.micros]` text of it: the zero timestamp is `null`, a fraction
    /// outside 0..=999,999 is an error.
    pub(crate) fn timestamp2(&self, b: &[u8], fsp: u8) -> Result<Value, TypeError> {
        let bad = || self.err("bad timestamp");
        let be = |b: &[u8]| b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x));
        let secs = i64::from(be(b.get(..4).ok_or_else(bad)?) as i32);
        let frac = b.get(4..).unwrap_or_default();
        // The fraction is signed, as MySQL reads it.
        let micros = match (fsp, frac.len()) {
            (1 | 2, 1) => i64::from(frac[0] as i8) * 10_000,
            (3 | 4, 2) => i64::from(i16::from_be_bytes([frac[0], frac[1]])) * 100,
            (5 | 6, 3) => i64::from((be(frac) << 8) as i32 >> 8),
            (0, 0) => 0,
            _ => return Err(bad()),
        };
        if !(0..=999_999).contains(&micros) {
            return Err(bad());
        }
        let us = secs * 1_000_000 + micros;
        Ok(if us == 0 {
            Value::Null // the zero timestamp
        } else {
            Value::Timestamp(us)
        })
    }

    /// A binlog `NEWDECIMAL(precision, scale)` from its bytes (MySQL's `decimal2bin`: the
    /// first bit set for positive values, every bit inverted for negative ones, then each
    /// side of the point in big-endian groups of nine digits), as the unscaled integer text
    /// [`Kind::convert`] makes of the decimal's text. A group beyond its digits (MySQL never
    /// writes one) is an error.
    pub(crate) fn decimal_bin(
        &self,
        b: &[u8],
        precision: u8,
        scale: u8,
    ) -> Result<Value, TypeError> {
        let bad = || self.err("bad decimal");
        let Kind::Decimal {
            scale: kind_scale, ..
        } = self
        else {
            return Err(self.err("non-decimal"));
        };
        if u32::from(scale) != *kind_scale || scale > precision {
            return Err(bad());
        }
        let neg = b.first().ok_or_else(bad)? & 0x80 == 0;
        let mask = if neg { 0xff } else { 0 };
        let mut at = 0;
        // At most 65 digits, by MySQL's limit; the type allows 255.
        let mut digits = [0u8; 256];
        let mut len = 0;
        let mut group = |n: usize| -> Result<(), TypeError> {
            let bytes = b.get(at..at + DIG2BYTES[n]).ok_or_else(bad)?;
            let mut v = 0u32;
            for (k, &x) in bytes.iter().enumerate() {
                let x = x ^ mask ^ if at + k == 0 { 0x80 } else { 0 };
                v = (v << 8) | u32::from(x);
            }
            at += bytes.len();
            if v >= 10u32.pow(n as u32) {
                return Err(bad());
            }
            for k in (0..n).rev() {
                digits[len + k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            len += n;
            Ok(())
        };
        let intg = usize::from(precision - scale);
        let frac = usize::from(scale);
        if intg % 9 > 0 {
            group(intg % 9)?;
        }
        for _ in 0..intg / 9 {
            group(9)?;
        }
        for _ in 0..frac / 9 {
            group(9)?;
        }
        if frac % 9 > 0 {
            group(frac % 9)?;
        }
        if at != b.len() {
            return Err(bad());
        }
        let digits = &digits[..len];
        let first = digits.iter().position(|&d| d != b'0').unwrap_or(len);
        let mut unscaled = String::with_capacity(len - first + 1);
        if first == len {
            unscaled.push('0');
        } else {
            if neg {
                unscaled.push('-');
            }
            unscaled.extend(digits[first..].iter().map(|&d| char::from(d)));
        }
        Ok(Value::Decimal {
            unscaled,
            scale: *kind_scale,
        })
    }

    /// Convert one value.
    pub(crate) fn convert(&self, v: MyValue, origin: Origin) -> Result<Value, TypeError> {
        let v = match v {
            MyValue::NULL => return Ok(Value::Null),
            v => v,
        };
        Ok(match self {
            Kind::Int { bytes, unsigned } => {
                let i = match v {
                    MyValue::Int(i) => i,
                    MyValue::UInt(u) => u as i64, // BIGINT UNSIGNED wraps, as Debezium's `long` mode
                    MyValue::Bytes(b) => parse_int(&b).ok_or_else(|| self.err("text"))?,
                    _ => return Err(self.err("non-integer")),
                };
                // Without signedness metadata an unsigned value arrives sign-extended.
                let bits = 8 * u32::from(*bytes);
                if *bytes >= 8 {
                    Value::Int(i)
                } else if *unsigned && i < 0 {
                    Value::Int(i & ((1i64 << bits) - 1))
                } else if !*unsigned && i >= 1i64 << (bits - 1) && i < 1i64 << bits {
                    // A signed value that arrived zero-extended (MEDIUMINT in the binlog).
                    Value::Int(i - (1i64 << bits))
                } else {
                    Value::Int(i)
                }
            }
            Kind::Bool => match v {
                MyValue::Int(i) => Value::Bool(i != 0),
                MyValue::UInt(u) => Value::Bool(u != 0),
                MyValue::Bytes(b) => {
                    Value::Bool(parse_int(&b).ok_or_else(|| self.err("text"))? != 0)
                }
                _ => return Err(self.err("non-integer")),
            },
            Kind::Float => match v {
                MyValue::Float(f) => Value::Float32(f),
                MyValue::Double(f) => Value::Float32(f as f32),
                MyValue::Bytes(b) => Value::Float32(parse_str(&b).ok_or_else(|| self.err("text"))?),
                _ => return Err(self.err("non-float")),
            },
            Kind::FloatAsDouble => match v {
                MyValue::Float(f) => Value::Float64(f64::from(f)),
                MyValue::Double(f) => Value::Float64(f64::from(f as f32)),
                MyValue::Bytes(b) => Value::Float64(f64::from(
                    parse_str::<f32>(&b).ok_or_else(|| self.err("text"))?,
                )),
                _ => return Err(self.err("non-float")),
            },
            Kind::Geometry { point } => match v {
                MyValue::Bytes(b) => {
                    geometry(&b, *point).ok_or_else(|| self.err("bad geometry"))?
                }
                _ => return Err(self.err("non-geometry")),
            },
            Kind::Double => match v {
                MyValue::Double(f) => Value::Float64(f),
                MyValue::Float(f) => Value::Float64(f64::from(f)),
                MyValue::Bytes(b) => Value::Float64(parse_str(&b).ok_or_else(|| self.err("text"))?),
                _ => return Err(self.err("non-float")),
            },
            Kind::Decimal { scale, .. } => match v {
                MyValue::Bytes(b) => decimal(&b, *scale).ok_or_else(|| self.err("bad decimal"))?,
                MyValue::Int(i) => decimal(i.to_string().as_bytes(), *scale)
                    .ok_or_else(|| self.err("bad decimal"))?,
                _ => return Err(self.err("non-decimal")),
            },
            Kind::Bit { bits } => {
                let raw = match v {
                    MyValue::Bytes(b) => b,
                    MyValue::Int(i) => i.to_be_bytes().to_vec(),
                    MyValue::UInt(u) => u.to_be_bytes().to_vec(),
                    _ => return Err(self.err("non-bit")),
                };
                let n = (*bits as usize).div_ceil(8).max(1);
                // Right-align the big-endian bytes to the declared width.
                let mut be = vec![0u8; n];
                let take = raw.len().min(n);
                be[n - take..].copy_from_slice(&raw[raw.len() - take..]);
                if *bits == 1 {
                    Value::Bool(be.iter().any(|&b| b != 0))
                } else {
                    be.reverse(); // Debezium's Bits are little-endian
                    Value::Bytes(be)
                }
            }
            Kind::Year => match v {
                MyValue::Int(i) => Value::Int(i),
                MyValue::UInt(u) => Value::Int(u as i64),
                MyValue::Bytes(b) => Value::Int(parse_int(&b).ok_or_else(|| self.err("text"))?),
                _ => return Err(self.err("non-year")),
            },
            Kind::Date => match v {
                MyValue::Date(y, m, d, ..) => match civil_days(y, m, d) {
                    Some(days) => Value::Date(days as i32),
                    None => Value::Null,
                },
                _ => return Err(self.err("non-date")),
            },
            Kind::Time => match v {
                MyValue::Time(neg, days, h, m, s, us) => {
                    let abs = ((i64::from(days) * 24 + i64::from(h)) * 3600
                        + i64::from(m) * 60
                        + i64::from(s))
                        * 1_000_000
                        + i64::from(us);
                    Value::Time(if neg { -abs } else { abs })
                }
                _ => return Err(self.err("non-time")),
            },
            Kind::DateTime { .. } => match v {
                MyValue::Date(y, mo, d, h, mi, s, us) => match civil_days(y, mo, d) {
                    Some(days) => Value::Timestamp(wall_micros(days, h, mi, s, us)),
                    None => Value::Null,
                },
                _ => return Err(self.err("non-datetime")),
            },
            Kind::Timestamp { .. } => match (v, origin) {
                (MyValue::Date(y, mo, d, h, mi, s, us), _) => match civil_days(y, mo, d) {
                    Some(days) => Value::Timestamp(wall_micros(days, h, mi, s, us)),
                    None => Value::Null,
                },
                (MyValue::Bytes(b), Origin::Binlog) => {
                    let us = epoch_micros(&b).ok_or_else(|| self.err("bad timestamp"))?;
                    if us == 0 {
                        Value::Null // the zero timestamp
                    } else {
                        Value::Timestamp(us)
                    }
                }
                (MyValue::Int(0), _) => Value::Null,
                (MyValue::Int(secs), _) => Value::Timestamp(secs.saturating_mul(1_000_000)),
                _ => return Err(self.err("non-timestamp")),
            },
            Kind::Text { charset, .. } => match v {
                MyValue::Bytes(b) => Value::String(match origin {
                    Origin::Binlog => charset.decode(b),
                    _ => Charset::Utf8.decode(b),
                }),
                other => Value::String(other.as_sql(true).trim_matches('\'').to_string()),
            },
            Kind::Binary { pad_to } => match v {
                MyValue::Bytes(mut b) => {
                    if let Some(n) = pad_to {
                        if b.len() < *n {
                            b.resize(*n, 0);
                        }
                    }
                    Value::Bytes(b)
                }
                _ => return Err(self.err("non-binary")),
            },
            Kind::Enum(labels) => match (v, origin) {
                (MyValue::Int(i), _) => Value::String(label(labels, i)),
                (MyValue::UInt(u), _) => Value::String(label(labels, u as i64)),
                (MyValue::Bytes(b), _) => Value::String(Charset::Utf8.decode(b)),
                _ => return Err(self.err("non-enum")),
            },
            Kind::Set(labels) => match (v, origin) {
                (MyValue::Bytes(b), Origin::Binlog) => {
                    let mut bits = 0u64;
                    for (i, byte) in b.iter().take(8).enumerate() {
                        bits |= u64::from(*byte) << (8 * i);
                    }
                    Value::String(set_labels(labels, bits))
                }
                (MyValue::Int(i), _) => Value::String(set_labels(labels, i as u64)),
                (MyValue::UInt(u), _) => Value::String(set_labels(labels, u)),
                (MyValue::Bytes(b), Origin::Snapshot) => Value::String(Charset::Utf8.decode(b)),
                _ => return Err(self.err("non-set")),
            },
            Kind::Json => match v {
                MyValue::Bytes(b) => Value::Json(Charset::Utf8.decode(b)),
                _ => return Err(self.err("non-json")),
            },
            Kind::Uuid => match (v, origin) {
                (MyValue::Bytes(b), Origin::Binlog) => Value::String(uuid_text(&b)),
                (MyValue::Bytes(b), Origin::Snapshot) => Value::String(Charset::Utf8.decode(b)),
                _ => return Err(self.err("non-uuid")),
            },
            Kind::Inet6 => match (v, origin) {
                (MyValue::Bytes(mut b), Origin::Binlog) => {
                    b.resize(16, 0);
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&b[..16]);
                    Value::String(inet6_text(a))
                }
                (MyValue::Bytes(b), Origin::Snapshot) => Value::String(Charset::Utf8.decode(b)),
                _ => return Err(self.err("non-inet6")),
            },
        })
    }
}

/// Bytes that hold `n` (0..=9) decimal digits in MySQL's binary `DECIMAL`.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// Bytes of a `DECIMAL(precision, scale)` in MySQL's binary form (see [`Kind::decimal_bin`]):
/// each side of the point in groups of nine digits (four bytes), the leftover digits in the
/// fewest bytes that hold them.
pub(crate) fn decimal_bin_len(precision: u8, scale: u8) -> usize {
    let side = |digits: u8| usize::from(digits / 9) * 4 + DIG2BYTES[usize::from(digits % 9)];
    side(precision.saturating_sub(scale)) + side(scale)
}

fn parse_str<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

fn parse_int(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?.trim();
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<u64>().ok().map(|u| u as i64))
}

/// Days since the epoch, or `None` for a zero date (any part zero).
fn civil_days(y: u16, m: u8, d: u8) -> Option<i64> {
    if y == 0 || m == 0 || d == 0 || m > 12 || d > 31 {
        return None;
    }
    Some(days_from_civil(i64::from(y), u32::from(m), u32::from(d)))
}

fn wall_micros(days: i64, h: u8, mi: u8, s: u8, us: u32) -> i64 {
    (days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * 1_000_000
        + i64::from(us)
}

/// `seconds[.micros]` since the epoch, as the binlog's TIMESTAMP2 decoding writes it.
fn epoch_micros(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut us = 0i64;
    if !frac.is_empty() {
        if frac.len() > 6 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        us = format!("{frac:0<6}").parse().ok()?;
    }
    secs.checked_mul(1_000_000)?.checked_add(us)
}

/// A decimal's text form (`-12.340`) as an unscaled integer string at `scale`.
fn decimal(b: &[u8], scale: u32) -> Option<Value> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
        || frac.len() > scale as usize
    {
        return None;
    }
    let mut unscaled = String::with_capacity(int.len() + scale as usize + 1);
    unscaled.push_str(int);
    unscaled.push_str(frac);
    for _ in frac.len()..scale as usize {
        unscaled.push('0');
    }
    let trimmed = unscaled.trim_start_matches('0');
    let mut out = String::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() {
        out.push('0');
    } else {
        if neg {
            out.push('-');
        }
        out.push_str(trimmed);
    }
    Some(Value::Decimal {
        unscaled: out,
        scale,
    })
}

fn label(labels: &[String], index: i64) -> String {
    // Index 0 is MySQL's "invalid value" (empty string).
    usize::try_from(index)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| labels.get(i))
        .cloned()
        .unwrap_or_default()
}

fn set_labels(labels: &[String], bits: u64) -> String {
    labels
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// 16 bytes as a UUID's text (`3e11fa47-71ca-11e1-9e33-c80aa9429562`; fewer bytes are
/// padded with zeros).
pub(super) fn uuid_text(b: &[u8]) -> String {
    let mut a = [0u8; 16];
    let n = b.len().min(16);
    a[..n].copy_from_slice(&b[..n]);
    let h: String = a.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn inet6_text(a: [u8; 16]) -> String {
    Ipv6Addr::from(a).to_string()
}

/// Parse the labels of an `enum('a','b')` / `set('a','b')` column type.
/// A spatial value in MySQL's internal form: a little-endian SRID, then WKB.
fn geometry(b: &[u8], point: bool) -> Option<Value> {
    let srid = i32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    let wkb = b.get(4..)?;
    if point {
        // WKB point: byte order, type (1), x, y.
        if wkb.len() < 21 {
            return None;
        }
        let f = |at: usize| -> Option<f64> {
            let raw: [u8; 8] = wkb.get(at..at + 8)?.try_into().ok()?;
            Some(if wkb[0] == 0 {
                f64::from_be_bytes(raw)
            } else {
                f64::from_le_bytes(raw)
            })
        };
        return Some(Value::Point {
            x: f(5)?,
            y: f(13)?,
            srid: (srid != 0).then_some(srid),
        });
    }
    Some(Value::Geometry {
        wkb: wkb.to_vec(),
        srid: (srid != 0).then_some(srid),
    })
}

pub(crate) fn parse_labels(column_type: &str) -> Vec<String> {
    let Some(open) = column_type.find('(') else {
        return Vec::new();
    };
    let body = &column_type[open + 1..];
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut cur = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    cur.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                c => cur.push(c),
            }
        }
        labels.push(cur);
    }
    labels
}

/// Bytes from hex digits (`0A1b`).
pub(crate) fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes as `SHOW CREATE TABLE` writes them inside a quoted default: NUL as `\0`, quote,
/// backslash, newline, carriage return and Ctrl-Z escaped, other bytes as characters.
pub(crate) fn show_create_escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0 => out.push_str("\\0"),
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x1a => out.push_str("\\Z"),
            b => out.push(char::from(b)),
        }
    }
    out
}

/// A literal column default from `information_schema.COLUMNS.COLUMN_DEFAULT`, when it is one
/// sluice can type exactly (numbers and quoted strings); expressions give `None`.
pub(crate) fn literal_default(kind: &Kind, raw: &str) -> Option<Value> {
    let unquoted = raw
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .map(|s| s.replace("''", "'"));
    // MySQL 8 writes temporal literal defaults unquoted (MariaDB quotes them).
    let temporal = unquoted.as_deref().unwrap_or(raw);
    // `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` → (days, micros of the day).
    let date_time = |t: &str| -> Option<(i64, i64)> {
        let (date, time) = t.split_once(' ').unwrap_or((t, "00:00:00"));
        let mut d = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
        let days = civil_days(d.next()?? as u16, d.next()?? as u8, d.next()?? as u8)?;
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
        let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
        let us: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
        Some((days, ((h * 60 + m) * 60 + sec) * 1_000_000 + us))
    };
    match kind {
        Kind::Int { .. } | Kind::Year => raw.trim().parse::<i64>().ok().map(Value::Int),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            n => n.parse::<i64>().ok().map(|i| Value::Bool(i != 0)),
        },
        Kind::Decimal { scale, .. } => decimal(raw.trim().as_bytes(), *scale),
        Kind::Date => date_time(temporal).map(|(d, _)| Value::Date(d as i32)),
        // DATETIME ... DEFAULT CURRENT_TIMESTAMP: the epoch too (recorded on MariaDB and
        // MySQL 8, nullable or not).
        Kind::DateTime { .. } if raw.to_ascii_lowercase().starts_with("current_timestamp") => {
            Some(Value::Timestamp(0))
        }
        Kind::DateTime { .. } => {
            date_time(temporal).map(|(d, us)| Value::Timestamp(d * 86_400_000_000 + us))
        }
        // TIMESTAMP defaults: Debezium's schema writes them with the shortest fraction
        // whatever the column's precision (`1970-01-01T00:00:00Z` for a TIMESTAMP(6)), so
        // the default is that text; CURRENT_TIMESTAMP is the epoch. The server's time zone
        // is UTC, as for every TIMESTAMP value.
        Kind::Timestamp { .. } if raw.to_ascii_lowercase().starts_with("current_timestamp") => {
            Some(Value::String("1970-01-01T00:00:00Z".into()))
        }
        // A literal TIMESTAMP(fsp) default has the column's `fsp` digits
        // (`2000-01-01T00:00:00.000000Z`, recorded case `maria_gen_defaults`).
        Kind::Timestamp { fsp } => {
            let text = temporal;
            date_time(text)?;
            let (date, time) = text.split_once(' ').unwrap_or((text, "00:00:00"));
            let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
            let fsp = usize::from(*fsp).min(6);
            let time = if fsp == 0 {
                hms.to_string()
            } else {
                format!("{hms}.{:0<fsp$}", frac.get(..fsp.min(frac.len()))?)
            };
            Some(Value::String(format!("{date}T{time}Z")))
        }
        // TIME defaults: `[-]H:MM:SS[.f]` as microseconds.
        Kind::Time => {
            let t = temporal.trim();
            let (neg, t) = match t.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, t),
            };
            let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
            let mut p = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
            let (h, m, sec) = (p.next()??, p.next()??, p.next().unwrap_or(Some(0))?);
            let us: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
            // Checked: the text is the server's, but nothing it holds may panic.
            let abs = h
                .checked_mul(3600)?
                .checked_add(m.checked_mul(60)?)?
                .checked_add(sec)?
                .checked_mul(1_000_000)?
                .checked_add(us)?;
            Some(Value::Time(if neg { -abs } else { abs }))
        }
        // BIT defaults (`b'101'`, or its digits as the history has them): the value's bits,
        // little-endian like every Bits value; BIT(1) is a boolean.
        Kind::Bit { bits } => {
            let digits = raw.trim().trim_start_matches(['b', 'B']).trim_matches('\'');
            let v = u64::from_str_radix(digits, 2).ok()?;
            if *bits == 1 {
                return Some(Value::Bool(v != 0));
            }
            let n = (*bits as usize).div_ceil(8).max(1);
            Some(Value::Bytes(v.to_le_bytes()[..n.min(8)].to_vec()))
        }
        // BINARY/VARBINARY defaults are Debezium's reading of `SHOW CREATE TABLE`: the
        // escaped literal's bytes, escapes kept (`x'01'` in a BINARY(4) is the byte 1 and
        // the text `\0\0\0`, recorded cases `maria_gen_defaults`, `mysql8_gen_defaults`).
        Kind::Binary { pad_to } => {
            if let Some(hex) = raw.trim().strip_prefix("0x") {
                let mut bytes = hex_bytes(hex)?;
                if let Some(n) = pad_to {
                    if bytes.len() < *n {
                        bytes.resize(*n, 0);
                    }
                }
                return Some(Value::Bytes(show_create_escaped(&bytes).into_bytes()));
            }
            unquoted.map(|u| Value::Bytes(u.into_bytes()))
        }
        Kind::Float => raw.trim().parse::<f32>().ok().map(Value::Float32),
        Kind::FloatAsDouble => raw
            .trim()
            .parse::<f32>()
            .ok()
            .map(|f| Value::Float64(f64::from(f))),
        Kind::Double => raw.trim().parse::<f64>().ok().map(Value::Float64),
        Kind::Text { .. } | Kind::Enum(_) | Kind::Set(_) => {
            if raw == "NULL" {
                None
            } else {
                Some(Value::String(unquoted.unwrap_or_else(|| raw.to_string())))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(k: &Kind, v: MyValue, o: Origin) -> Value {
        k.convert(v, o).expect("converts")
    }

    /// Integers of every width, signed and unsigned, including values that arrive sign-extended.
    #[test]
    fn integers() {
        let u8k = Kind::Int {
            bytes: 1,
            unsigned: true,
        };
        assert_eq!(
            conv(&u8k, MyValue::Int(-1), Origin::Binlog),
            Value::Int(255)
        );
        assert_eq!(
            conv(&u8k, MyValue::UInt(255), Origin::Binlog),
            Value::Int(255)
        );
        let u64k = Kind::Int {
            bytes: 8,
            unsigned: true,
        };
        assert_eq!(
            conv(&u64k, MyValue::UInt(u64::MAX), Origin::Binlog),
            Value::Int(-1)
        );
        assert_eq!(u64k.column_type(), ColumnType::UInt64);
        assert_eq!(
            Kind::Int {
                bytes: 1,
                unsigned: false
            }
            .column_type(),
            ColumnType::Int16
        );
        assert_eq!(
            Kind::Int {
                bytes: 4,
                unsigned: true
            }
            .column_type(),
            ColumnType::Int64
        );
    }

    /// Decimal text becomes an unscaled integer at the column's scale.
    #[test]
    fn decimals() {
        let k = Kind::Decimal {
            precision: 10,
            scale: 3,
        };
        let d = |s: &str| conv(&k, MyValue::Bytes(s.into()), Origin::Binlog);
        assert_eq!(
            d("7.5"),
            Value::Decimal {
                unscaled: "7500".into(),
                scale: 3
            }
        );
        assert_eq!(
            d("-9999999.999"),
            Value::Decimal {
                unscaled: "-9999999999".into(),
                scale: 3
            }
        );
        assert_eq!(
            d("0.000"),
            Value::Decimal {
                unscaled: "0".into(),
                scale: 3
            }
        );
        assert!(k
            .convert(MyValue::Bytes("1.23456".into()), Origin::Binlog)
            .is_err());
        assert!(k
            .convert(MyValue::Bytes("abc".into()), Origin::Binlog)
            .is_err());
    }

    /// Times, dates, zero dates and binlog timestamps.
    #[test]
    fn temporal() {
        assert_eq!(
            conv(
                &Kind::Time,
                MyValue::Time(true, 34, 22, 59, 59, 0),
                Origin::Binlog
            ),
            Value::Time(-3_020_399_000_000)
        );
        assert_eq!(
            conv(
                &Kind::Date,
                MyValue::Date(1000, 1, 1, 0, 0, 0, 0),
                Origin::Binlog
            ),
            Value::Date(-354_285)
        );
        assert_eq!(
            conv(
                &Kind::Date,
                MyValue::Date(0, 0, 0, 0, 0, 0, 0),
                Origin::Binlog
            ),
            Value::Null
        );
        let ts = Kind::Timestamp { fsp: 6 };
        assert_eq!(
            conv(&ts, MyValue::Bytes("1.5".into()), Origin::Binlog),
            Value::Timestamp(1_500_000)
        );
        assert_eq!(
            conv(&ts, MyValue::Bytes("0".into()), Origin::Binlog),
            Value::Null
        );
        assert!(ts
            .convert(MyValue::Bytes("1.x".into()), Origin::Binlog)
            .is_err());
    }

    /// ENUM indexes, SET bitmasks, BIT byte order, BINARY padding, UUID and INET6 bytes.
    #[test]
    fn labels_bits_and_bytes() {
        let labels: Arc<[String]> = vec!["a".to_string(), "b".into(), "c".into()].into();
        assert_eq!(
            conv(&Kind::Enum(labels.clone()), MyValue::Int(2), Origin::Binlog),
            Value::String("b".into())
        );
        assert_eq!(
            conv(&Kind::Enum(labels.clone()), MyValue::Int(9), Origin::Binlog),
            Value::String(String::new())
        );
        assert_eq!(
            conv(
                &Kind::Set(labels),
                MyValue::Bytes(vec![0b101]),
                Origin::Binlog
            ),
            Value::String("a,c".into())
        );
        assert_eq!(
            conv(
                &Kind::Bit { bits: 16 },
                MyValue::Bytes(vec![1, 2]),
                Origin::Binlog
            ),
            Value::Bytes(vec![2, 1])
        );
        assert_eq!(
            conv(
                &Kind::Bit { bits: 1 },
                MyValue::Bytes(vec![1]),
                Origin::Binlog
            ),
            Value::Bool(true)
        );
        assert_eq!(
            conv(
                &Kind::Binary { pad_to: Some(4) },
                MyValue::Bytes(vec![]),
                Origin::Binlog
            ),
            Value::Bytes(vec![0; 4])
        );
        let mut v6 = [0u8; 16];
        v6[10] = 0xff;
        v6[11] = 0xff;
        v6[12..].copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(
            conv(&Kind::Inet6, MyValue::Bytes(v6.to_vec()), Origin::Binlog),
            Value::String("::ffff:192.0.2.1".into())
        );
        assert_eq!(
            conv(&Kind::Uuid, MyValue::Bytes(vec![0x12; 16]), Origin::Binlog),
            Value::String("12121212-1212-1212-1212-121212121212".into())
        );
    }

    /// Labels with quotes and escapes, and literal defaults.
    #[test]
    fn labels_and_defaults() {
        assert_eq!(
            parse_labels("enum('sad','o''k','a,b')"),
            vec!["sad".to_string(), "o'k".into(), "a,b".into()]
        );
        let int = Kind::Int {
            bytes: 4,
            unsigned: false,
        };
        assert_eq!(literal_default(&int, "7"), Some(Value::Int(7)));
        assert_eq!(literal_default(&int, "current_timestamp()"), None);
        assert_eq!(
            literal_default(
                &Kind::Text {
                    charset: Charset::Utf8,
                    json: false
                },
                "'x''y'"
            ),
            Some(Value::String("x'y".into()))
        );
        // Recorded in `maria_gen_defaults` / `mysql8_gen_defaults`.
        assert_eq!(
            literal_default(&Kind::Bit { bits: 8 }, "b'1'"),
            Some(Value::Bytes(vec![1]))
        );
        assert_eq!(
            literal_default(&Kind::Bit { bits: 1 }, "b'1'"),
            Some(Value::Bool(true))
        );
        assert_eq!(
            literal_default(&Kind::Binary { pad_to: Some(4) }, "0x01"),
            Some(Value::Bytes(b"\x01\\0\\0\\0".to_vec()))
        );
        assert_eq!(
            literal_default(&Kind::Binary { pad_to: None }, "'\x01'"),
            Some(Value::Bytes(vec![1]))
        );
        assert_eq!(
            literal_default(&Kind::Time, "'01:02:03.000000'"),
            Some(Value::Time(3_723_000_000))
        );
        assert_eq!(
            literal_default(&Kind::Time, "-838:59:59"),
            Some(Value::Time(-3_020_399_000_000))
        );
        // Out of range: none, never an overflow.
        assert_eq!(
            literal_default(&Kind::Time, "9223372036854775807:00:00"),
            None
        );
        assert_eq!(
            literal_default(&Kind::Timestamp { fsp: 6 }, "'2000-01-01 00:00:00'"),
            Some(Value::String("2000-01-01T00:00:00.000000Z".into()))
        );
        assert_eq!(
            literal_default(&Kind::Timestamp { fsp: 0 }, "2000-01-01 00:00:00"),
            Some(Value::String("2000-01-01T00:00:00Z".into()))
        );
        assert_eq!(
            literal_default(&Kind::Timestamp { fsp: 6 }, "current_timestamp(6)"),
            Some(Value::String("1970-01-01T00:00:00Z".into()))
        );
    }

    /// Generated values of every kind, in every form the server can send them (binary
    /// protocol, text, binlog), never panic; what converts is written by the envelope as
    /// valid JSON; integers agree between their binary and text forms.
    #[test]
    fn generated_values_convert() {
        use crate::testing::Gen;
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let labels: Arc<[String]> = vec!["a".to_string(), "b c".to_string()].into();
        let kinds = vec![
            Kind::Int {
                bytes: 1,
                unsigned: false,
            },
            Kind::Int {
                bytes: 2,
                unsigned: true,
            },
            Kind::Int {
                bytes: 3,
                unsigned: false,
            },
            Kind::Int {
                bytes: 4,
                unsigned: true,
            },
            Kind::Int {
                bytes: 8,
                unsigned: true,
            },
            Kind::Int {
                bytes: 8,
                unsigned: false,
            },
            Kind::Float,
            Kind::FloatAsDouble,
            Kind::Double,
            Kind::Decimal {
                precision: 30,
                scale: 10,
            },
            Kind::Bit { bits: 1 },
            Kind::Bit { bits: 13 },
            Kind::Year,
            Kind::Date,
            Kind::Time,
            Kind::DateTime { fsp: 6 },
            Kind::Timestamp { fsp: 3 },
            Kind::Enum(Arc::clone(&labels)),
            Kind::Set(Arc::clone(&labels)),
            Kind::Json,
            Kind::Text {
                charset: Charset::named("latin1"),
                json: false,
            },
            Kind::Binary { pad_to: Some(4) },
            Kind::Uuid,
            Kind::Inet6,
            Kind::Geometry { point: true },
            Kind::Geometry { point: false },
        ];
        let edge_ints = [
            0i64,
            1,
            -1,
            i64::MIN,
            i64::MAX,
            255,
            -128,
            8_388_607,
            -8_388_608,
        ];
        for round in 0..4000 {
            let kind = &kinds[round % kinds.len()];
            let i = if g.next() % 3 == 0 {
                g.pick(&edge_ints)
            } else {
                g.next() as i64
            };
            let bytes: Vec<u8> = (0..g.next() % 40).map(|_| g.next() as u8).collect();
            let digits = format!(
                "{}.{}",
                (g.next() % 1_000_000) as i64 - 500_000,
                g.next() % 10_000
            );
            let v = match g.next() % 9 {
                0 => MyValue::Int(i),
                1 => MyValue::UInt(i as u64),
                2 => MyValue::Float(f32::from_bits(g.next() as u32)),
                3 => MyValue::Double(f64::from_bits(g.next())),
                4 => MyValue::Bytes(bytes),
                5 => MyValue::Bytes(digits.into_bytes()),
                6 => MyValue::Date(
                    (g.next() % 10_000) as u16,
                    (g.next() % 14) as u8,
                    (g.next() % 33) as u8,
                    (g.next() % 25) as u8,
                    (g.next() % 61) as u8,
                    (g.next() % 61) as u8,
                    (g.next() % 1_000_001) as u32,
                ),
                7 => MyValue::Time(
                    g.next() % 2 == 0,
                    (g.next() % 40) as u32,
                    (g.next() % 25) as u8,
                    (g.next() % 61) as u8,
                    (g.next() % 61) as u8,
                    (g.next() % 1_000_001) as u32,
                ),
                _ => MyValue::NULL,
            };
            for origin in [Origin::Snapshot, Origin::Binlog] {
                if let Ok(value) = kind.convert(v.clone(), origin) {
                    let mut out = Vec::new();
                    crate::envelope::write_value(&mut out, &kind.column_type(), &value);
                    let text = String::from_utf8(out).expect("UTF-8");
                    serde_json::from_str::<serde_json::Value>(&text)
                        .unwrap_or_else(|e| panic!("{kind:?} {v:?} wrote {text}: {e}"));
                }
            }
            // Integers: the text form gives the binary form's value.
            if let Kind::Int {
                bytes: 8,
                unsigned: false,
            } = kind
            {
                assert_eq!(
                    kind.convert(MyValue::Int(i), Origin::Snapshot).ok(),
                    kind.convert(MyValue::Bytes(i.to_string().into_bytes()), Origin::Snapshot)
                        .ok()
                );
            }
        }
    }
}
