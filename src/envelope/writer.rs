//! The JSON writer of row images and column values as Debezium writes them, and the
//! payload's closing timestamps and `transaction` block. Writes only append to the buffer
//! given; nothing here allocates per value but the rare moded texts.

use super::{decimal, iso_duration, json, trimmed_decimal, unscaled_bytes, write_moded};
use super::{ColumnType, Rendered, TxBlock, Value, ValueModes, UNAVAILABLE_VALUE};

/// The payload's processing timestamps and its closing brace.
pub(super) fn write_now(out: &mut Vec<u8>, now: i64) {
    out.extend_from_slice(b",\"ts_ms\":");
    json::int(out, now / 1_000_000);
    out.extend_from_slice(b",\"ts_us\":");
    json::int(out, now / 1_000);
    out.extend_from_slice(b",\"ts_ns\":");
    json::int(out, now);
    out.push(b'}');
}

/// An event's `transaction` block (`null` outside transaction metadata).
pub(super) fn write_tx_block(out: &mut Vec<u8>, tx: Option<&TxBlock>) {
    let Some((id, total, in_collection)) = tx else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(br#"{"id":"#);
    json::string(out, id);
    out.extend_from_slice(br#","total_order":"#);
    json::int(out, *total);
    out.extend_from_slice(br#","data_collection_order":"#);
    json::int(out, *in_collection);
    out.push(b'}');
}

pub(super) fn write_row(
    out: &mut Vec<u8>,
    r: &Rendered,
    row: Option<&[Value]>,
    modes: ValueModes,
    placeholder: &str,
) {
    let Some(row) = row else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    let plain = modes.plain();
    for (n, (i, ty, v)) in r.cells(row).enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&r.col_keys[i]);
        if matches!(v, Value::Unavailable) {
            write_unavailable(out, ty, placeholder);
        } else if plain {
            write_value(out, ty, v);
        } else {
            write_moded(out, ty, v, modes);
        }
    }
    out.push(b'}');
}

/// A value the source did not send (an unchanged TOASTed column), as Debezium writes it: the
/// placeholder in string and bytes columns (and string arrays), null elsewhere.
pub(super) fn write_unavailable(out: &mut Vec<u8>, ty: &ColumnType, placeholder: &str) {
    match ty {
        ColumnType::Bytes => json::base64(out, placeholder.as_bytes()),
        ColumnType::String
        | ColumnType::Text
        | ColumnType::Json
        | ColumnType::Uuid
        | ColumnType::NamedString(_)
        | ColumnType::Enum { .. } => json::string(out, placeholder),
        ColumnType::Array(inner) if matches!(**inner, ColumnType::String | ColumnType::Text) => {
            out.push(b'[');
            json::string(out, placeholder);
            out.push(b']');
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// Write one value as Kafka Connect's JsonConverter would, given its column type.
pub(crate) fn write_value(out: &mut Vec<u8>, ty: &ColumnType, v: &Value) {
    match (ty, v) {
        (_, Value::Null) => out.extend_from_slice(b"null"),
        (_, Value::Unavailable) => write_unavailable(out, ty, UNAVAILABLE_VALUE),
        (ColumnType::Time { millis: true }, Value::Time(us)) => json::int(out, us / 1000),
        (ColumnType::Timestamp { millis: true }, Value::Timestamp(us)) => {
            json::int(out, us.div_euclid(1000))
        }
        (ColumnType::ZonedTimestamp { fraction_digits }, Value::Timestamp(us)) => {
            out.push(b'"');
            decimal::write_instant(out, *us, *fraction_digits);
            out.push(b'"');
        }
        (ColumnType::VariableDecimal, Value::Decimal { unscaled, scale }) => {
            let (digits, scale) = trimmed_decimal(unscaled, *scale);
            out.extend_from_slice(b"{\"scale\":");
            json::int(out, i64::from(scale));
            out.extend_from_slice(b",\"value\":");
            json::base64(out, &unscaled_bytes(digits).unwrap_or_default());
            out.push(b'}');
        }
        (ColumnType::Array(inner), Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, inner, item);
            }
            out.push(b']');
        }
        // Everything else is decided by the value alone.
        (ColumnType::Bits { .. }, Value::Bool(b)) => json::base64(out, &[u8::from(*b)]),
        (_, Value::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (_, Value::Int(i)) => json::int(out, *i),
        (_, Value::Float32(f)) => json::float32(out, *f),
        (_, Value::Float64(f)) => json::float64(out, *f),
        (_, Value::Decimal { unscaled, .. }) => {
            json::base64(out, &unscaled_bytes(unscaled).unwrap_or_default())
        }
        // A map of strings: the JSON object text itself (the source built it compact).
        (ColumnType::StringMap, Value::Json(s)) => out.extend_from_slice(s.as_bytes()),
        (_, Value::String(s) | Value::Json(s)) => json::string(out, s),
        (_, Value::Bytes(b)) => json::base64(out, b),
        (_, Value::Geometry { wkb, srid }) => {
            out.extend_from_slice(b"{\"wkb\":");
            json::base64(out, wkb);
            out.extend_from_slice(b",\"srid\":");
            match srid {
                Some(s) => json::int(out, i64::from(*s)),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        (_, Value::Point { x, y, srid }) => {
            out.extend_from_slice(b"{\"x\":");
            json::float64(out, *x);
            out.extend_from_slice(b",\"y\":");
            json::float64(out, *y);
            // Well-known binary, little-endian: byte order 1, type 1 (point), x, y.
            let mut wkb = Vec::with_capacity(21);
            wkb.push(1u8);
            wkb.extend_from_slice(&1u32.to_le_bytes());
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            out.extend_from_slice(b",\"wkb\":");
            json::base64(out, &wkb);
            out.extend_from_slice(b",\"srid\":");
            match srid {
                Some(s) => json::int(out, i64::from(*s)),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        (_, Value::Date(d)) => json::int(out, i64::from(*d)),
        (_, Value::Time(us) | Value::Timestamp(us)) => json::int(out, *us),
        (ColumnType::NamedString(_), Value::Interval { parts, .. }) => {
            json::string(out, &iso_duration(parts))
        }
        (_, Value::Interval { micros, .. }) => json::int(out, *micros),
        (_, Value::ZonedTime(us)) => {
            let mut s = decimal::format_tod(*us, None);
            s.push('Z');
            json::string(out, &s)
        }
        (_, Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, &ColumnType::Text, item);
            }
            out.push(b']');
        }
    }
}
