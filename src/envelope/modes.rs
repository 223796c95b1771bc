//! Values under Debezium's handling modes: the type a column is written as
//! ([`effective_type`]), the required columns' fallbacks, and the moded writes (decimals as
//! doubles or strings, bytes as hex or base64, unsigned bigints as decimals, ISO intervals).
//! Invariant: [`write_moded`] and [`moded_value`] agree, so a default written once per
//! schema reads like a value written per row.

use super::{json, unscaled_bytes, write_value, BigintUnsigned, BinaryHandling, DecimalHandling};
use super::{HstoreHandling, IntervalHandling, TimePrecision, ValueModes};
use crate::event::{ColumnType, Value};

/// Debezium's ISO-8601 form of an interval: every part written, seconds with their fraction
/// (trailing zeros dropped).
pub(super) fn iso_duration(p: &[i64; 6]) -> String {
    let us = p[5];
    let sign = if us < 0 { "-" } else { "" };
    let (s, f) = (us.unsigned_abs() / 1_000_000, us.unsigned_abs() % 1_000_000);
    let secs = if f == 0 {
        format!("{sign}{s}")
    } else {
        let frac = format!("{f:06}");
        format!("{sign}{s}.{}", frac.trim_end_matches('0'))
    };
    format!("P{}Y{}M{}DT{}H{}M{secs}S", p[0], p[1], p[2], p[3], p[4])
}

/// The type a column is written as under the handling modes (its own type by default).
pub(super) fn effective_type(ty: &ColumnType, modes: ValueModes) -> ColumnType {
    match ty {
        ColumnType::Decimal { .. } | ColumnType::VariableDecimal => match modes.decimal {
            DecimalHandling::Precise => ty.clone(),
            DecimalHandling::Double => ColumnType::Float64,
            DecimalHandling::String => ColumnType::String,
        },
        ColumnType::Bytes if modes.binary != BinaryHandling::Bytes => ColumnType::String,
        ColumnType::UInt64 if modes.unsigned == BigintUnsigned::Precise => ColumnType::Decimal {
            precision: Some(20),
            scale: 0,
        },
        ColumnType::Time { .. } => match modes.time {
            TimePrecision::Adaptive => ty.clone(),
            TimePrecision::AdaptiveTimeMicroseconds => ColumnType::Time { millis: false },
            TimePrecision::Connect => ColumnType::Time { millis: true },
        },
        ColumnType::StringMap if modes.hstore == HstoreHandling::Json => ColumnType::Json,
        ColumnType::Interval if modes.interval == IntervalHandling::String => {
            ColumnType::NamedString("io.debezium.time.Interval")
        }
        ColumnType::Timestamp { .. } if modes.time == TimePrecision::Connect => {
            ColumnType::Timestamp { millis: true }
        }
        ColumnType::Array(inner) => ColumnType::Array(Box::new(effective_type(inner, modes))),
        other => other.clone(),
    }
}

/// The value a required column's missing value is written as (see `Rendered::fallback`), as
/// Debezium writes it: the column default, else the type's zero value.
pub(super) fn shown_fallbacks(
    t: &crate::event::TableSchema,
    types: &[ColumnType],
    modes: ValueModes,
) -> Vec<Option<Value>> {
    t.columns
        .iter()
        .zip(types)
        .map(|(c, ty)| {
            if c.nullable {
                return None;
            }
            if let Some(d) = &c.default {
                return Some(moded_value(ty, d.clone(), modes));
            }
            Some(match ty {
                ColumnType::Bool => Value::Bool(false),
                ColumnType::Int16
                | ColumnType::Int32
                | ColumnType::Int64
                | ColumnType::UInt64
                | ColumnType::Year => Value::Int(0),
                ColumnType::Float32 => Value::Float32(0.0),
                ColumnType::Float64 => Value::Float64(0.0),
                ColumnType::Decimal { .. } | ColumnType::VariableDecimal => Value::Decimal {
                    unscaled: "0".into(),
                    scale: 0,
                },
                ColumnType::Bytes | ColumnType::Bits { .. } => Value::Bytes(Vec::new()),
                ColumnType::Date => Value::Date(0),
                ColumnType::Time { .. } => Value::Time(0),
                // Debezium writes the zoned zeros as fixed texts, without fraction digits
                // whatever the column's precision (recorded case `pg_markers_zero`).
                ColumnType::ZonedTime => Value::String("00:00:00Z".into()),
                ColumnType::ZonedTimestamp { .. } => Value::String("1970-01-01T00:00:00Z".into()),
                ColumnType::Timestamp { .. } => Value::Timestamp(0),
                ColumnType::Interval => Value::Interval {
                    micros: 0,
                    parts: [0; 6],
                },
                ColumnType::Array(_) => Value::Array(Vec::new()),
                ColumnType::String
                | ColumnType::Text
                | ColumnType::Json
                | ColumnType::Uuid
                | ColumnType::NamedString(_)
                | ColumnType::Enum { .. }
                | ColumnType::EnumSet { .. } => Value::String(String::new()),
                // Debezium's zero point (recorded case `pg_gen_domains`).
                ColumnType::Point => Value::Point {
                    x: 0.0,
                    y: 0.0,
                    srid: None,
                },
                ColumnType::StringMap | ColumnType::Geometry => return None,
            })
        })
        .collect()
}

/// The plain text of `unscaled × 10^-scale` (`-1234`, 3 → `-1.234`).
pub(super) fn decimal_plain(unscaled: &str, scale: u32) -> String {
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", unscaled),
    };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_string()
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// `v` as a value that [`write_value`] writes for effective type `ty` the way
/// [`write_moded`] would (for schema defaults, written once per schema).
pub(super) fn moded_value(ty: &ColumnType, v: Value, modes: ValueModes) -> Value {
    match (ty, v) {
        (ColumnType::Decimal { .. }, Value::Int(i)) => Value::Decimal {
            unscaled: (i as u64).to_string(),
            scale: 0,
        },
        (ColumnType::Float64, Value::Decimal { unscaled, scale }) => {
            Value::Float64(decimal_plain(&unscaled, scale).parse().unwrap_or(f64::NAN))
        }
        (ColumnType::String, Value::Decimal { unscaled, scale }) => {
            Value::String(decimal_plain(&unscaled, scale))
        }
        (ColumnType::String, Value::Bytes(b)) => Value::String(binary_text(&b, modes.binary)),
        (_, v) => v,
    }
}

/// Bytes as the text `binary.handling.mode` writes them (hex, URL-safe base64, else
/// standard base64).
pub(super) fn binary_text(b: &[u8], mode: BinaryHandling) -> String {
    use base64::Engine as _;
    match mode {
        BinaryHandling::Hex => {
            let mut h = String::with_capacity(b.len() * 2);
            for byte in b {
                h.push_str(&format!("{byte:02x}"));
            }
            h
        }
        BinaryHandling::Base64UrlSafe => base64::engine::general_purpose::URL_SAFE.encode(b),
        _ => base64::engine::general_purpose::STANDARD.encode(b),
    }
}

/// A variable-scale decimal as Debezium writes it: trailing fraction zeros dropped (42.000
/// is 42 at scale 0).
pub(super) fn trimmed_decimal(unscaled: &str, scale: u32) -> (&str, u32) {
    let (mut digits, mut scale) = (unscaled, scale);
    while scale > 0 && digits.len() > 1 && digits.ends_with('0') {
        digits = &digits[..digits.len() - 1];
        scale -= 1;
    }
    (digits, scale)
}

/// Write `v` as a column of effective type `ty` (see [`effective_type`]).
pub(super) fn write_moded(out: &mut Vec<u8>, ty: &ColumnType, v: &Value, modes: ValueModes) {
    match (ty, v) {
        // BIGINT UNSIGNED in precise mode: the bits read back as u64.
        (ColumnType::Decimal { .. }, Value::Int(i)) => json::base64(
            out,
            &unscaled_bytes(&(*i as u64).to_string()).unwrap_or_default(),
        ),
        (ColumnType::Float64, Value::Decimal { unscaled, scale }) => json::float64(
            out,
            decimal_plain(unscaled, *scale).parse().unwrap_or(f64::NAN),
        ),
        (ColumnType::String, Value::Decimal { unscaled, scale }) => {
            json::string(out, &decimal_plain(unscaled, *scale))
        }
        (ColumnType::String, Value::Bytes(b)) => match modes.binary {
            BinaryHandling::Hex | BinaryHandling::Base64UrlSafe => {
                json::string(out, &binary_text(b, modes.binary))
            }
            _ => json::base64(out, b),
        },
        (ColumnType::Array(inner), Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_moded(out, inner, item, modes);
            }
            out.push(b']');
        }
        _ => write_value(out, ty, v),
    }
}
