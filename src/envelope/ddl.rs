//! The JSON of schema-change records (Debezium's `io.debezium.connector.schema.Change`,
//! `Table` and `Column` structs), field order as Debezium writes them.

use super::json;
use crate::event::{DdlColumn, TableChange};

fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => json::string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_int(out: &mut Vec<u8>, v: Option<i32>) {
    match v {
        Some(n) => json::int(out, i64::from(n)),
        None => out.extend_from_slice(b"null"),
    }
}

fn bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn column(out: &mut Vec<u8>, c: &DdlColumn) {
    out.extend_from_slice(br#"{"name":"#);
    json::string(out, &c.name);
    out.extend_from_slice(br#","jdbcType":"#);
    json::int(out, i64::from(c.jdbc_type));
    out.extend_from_slice(br#","nativeType":null,"typeName":"#);
    json::string(out, &c.type_name);
    out.extend_from_slice(br#","typeExpression":"#);
    json::string(out, &c.type_name);
    out.extend_from_slice(br#","charsetName":"#);
    opt_str(out, c.charset.as_deref());
    out.extend_from_slice(br#","length":"#);
    opt_int(out, c.length);
    out.extend_from_slice(br#","scale":"#);
    opt_int(out, c.scale);
    out.extend_from_slice(br#","position":"#);
    json::int(out, i64::from(c.position));
    out.extend_from_slice(br#","optional":"#);
    bool(out, c.optional);
    out.extend_from_slice(br#","autoIncremented":"#);
    bool(out, c.auto_incremented);
    out.extend_from_slice(br#","generated":"#);
    bool(out, c.generated);
    out.extend_from_slice(br#","comment":null,"defaultValueExpression":"#);
    opt_str(out, c.default.as_deref());
    out.extend_from_slice(br#","enumValues":"#);
    match &c.enum_values {
        Some(v) => {
            out.push(b'[');
            for (i, l) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::string(out, l);
            }
            out.push(b']');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// One entry of `tableChanges`.
pub(super) fn write_change(out: &mut Vec<u8>, ch: &TableChange) {
    out.extend_from_slice(br#"{"type":"#);
    json::string(out, ch.kind.as_str());
    out.extend_from_slice(br#","id":"#);
    json::string(
        out,
        &format!("\"{}\".\"{}\"", ch.table.namespace, ch.table.name),
    );
    out.extend_from_slice(br#","table":"#);
    let Some(t) = &ch.shape else {
        out.extend_from_slice(b"null}");
        return;
    };
    out.extend_from_slice(br#"{"defaultCharsetName":"#);
    opt_str(out, t.default_charset.as_deref());
    out.extend_from_slice(br#","primaryKeyColumnNames":["#);
    for (i, k) in t.primary_key.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(out, k);
    }
    out.extend_from_slice(br#"],"columns":["#);
    for (i, c) in t.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        column(out, c);
    }
    out.extend_from_slice(br#"],"comment":null}}"#);
}
