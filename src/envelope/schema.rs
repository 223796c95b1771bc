//! Kafka Connect schema JSON for keys and envelopes (`schemas.enable = true`).
//!
//! Field order and naming follow Debezium 3.x exactly (see the golden samples in
//! `schemas/golden/`): `type`, `items`/`fields`, `optional`, `name`, `version`, `parameters`,
//! `default`, `field`.

use super::{json, SourceKind};
use crate::event::{Column, ColumnType, TableSchema, Value};

/// The opening of every Debezium `source` block: the fields all connectors share, in order.
macro_rules! common_source_fields {
    () => {
        concat!(
            r#"{"type":"struct","fields":["#,
            r#"{"type":"string","optional":false,"field":"version"},"#,
            r#"{"type":"string","optional":false,"field":"connector"},"#,
            r#"{"type":"string","optional":false,"field":"name"},"#,
            r#"{"type":"int64","optional":false,"field":"ts_ms"},"#,
            r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},"#,
            r#"{"type":"string","optional":false,"field":"db"},"#,
            r#"{"type":"string","optional":true,"field":"sequence"},"#,
            r#"{"type":"int64","optional":true,"field":"ts_us"},"#,
            r#"{"type":"int64","optional":true,"field":"ts_ns"},"#,
        )
    };
}

const PG_SOURCE_SCHEMA: &str = concat!(
    common_source_fields!(),
    r#"{"type":"string","optional":false,"field":"schema"},"#,
    r#"{"type":"string","optional":false,"field":"table"},"#,
    r#"{"type":"int64","optional":true,"field":"txId"},"#,
    r#"{"type":"int64","optional":true,"field":"lsn"},"#,
    r#"{"type":"int64","optional":true,"field":"xmin"},"#,
    r#"{"type":"string","optional":true,"field":"origin"},"#,
    r#"{"type":"int64","optional":true,"field":"origin_lsn"}"#,
    r#"],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"}"#
);

const MYSQL_SOURCE_SCHEMA: &str = concat!(
    common_source_fields!(),
    r#"{"type":"string","optional":true,"field":"table"},"#,
    r#"{"type":"int64","optional":false,"field":"server_id"},"#,
    r#"{"type":"string","optional":true,"field":"gtid"},"#,
    r#"{"type":"string","optional":false,"field":"file"},"#,
    r#"{"type":"int64","optional":false,"field":"pos"},"#,
    r#"{"type":"int32","optional":false,"field":"row"},"#,
    r#"{"type":"int64","optional":true,"field":"thread"},"#,
    r#"{"type":"string","optional":true,"field":"query"}"#,
    r#"],"optional":false,"name":"io.debezium.connector.mysql.Source","version":1,"field":"source"}"#
);

const TRANSACTION_SCHEMA: &str = concat!(
    r#"{"type":"struct","fields":["#,
    r#"{"type":"string","optional":false,"field":"id"},"#,
    r#"{"type":"int64","optional":false,"field":"total_order"},"#,
    r#"{"type":"int64","optional":false,"field":"data_collection_order"}"#,
    r#"],"optional":true,"name":"event.block","version":1,"field":"transaction"}"#
);

/// Schema of a logical decoding message's value (`op: "m"`); `content` is written as `content`
/// (bytes, or a string under a `binary.handling.mode` other than `bytes`).
pub(super) fn message_schema(kind: SourceKind, content: &ColumnType) -> String {
    let source = match kind {
        SourceKind::Postgres => PG_SOURCE_SCHEMA,
        SourceKind::Mysql => MYSQL_SOURCE_SCHEMA,
    };
    let content = if matches!(content, ColumnType::Bytes) {
        "bytes"
    } else {
        "string"
    };
    format!(
        concat!(
            r#"{{"type":"struct","fields":[{{"type":"string","optional":false,"field":"op"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_ms"}},{source},{transaction},"#,
            r#"{{"type":"struct","fields":[{{"type":"string","optional":true,"field":"prefix"}},"#,
            r#"{{"type":"{content}","optional":true,"field":"content"}}],"optional":false,"#,
            r#""name":"io.debezium.connector.postgresql.Message","version":1,"field":"message"}}],"#,
            r#""optional":false,"name":"io.debezium.connector.postgresql.MessageValue","version":1}}"#
        ),
        source = source,
        transaction = TRANSACTION_SCHEMA,
        content = content,
    )
}

/// Schema of a MySQL schema-change record's value.
pub(super) fn schema_change_schema() -> String {
    format!(
        "{}{}{}",
        r#"{"type":"struct","fields":["#,
        MYSQL_SOURCE_SCHEMA,
        r#",{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaName"},{"type":"string","optional":true,"field":"ddl"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"field":"id"},{"type":"struct","fields":[{"type":"string","optional":true,"field":"defaultCharsetName"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"primaryKeyColumnNames"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"name"},{"type":"int32","optional":false,"field":"jdbcType"},{"type":"int32","optional":true,"field":"nativeType"},{"type":"string","optional":false,"field":"typeName"},{"type":"string","optional":true,"field":"typeExpression"},{"type":"string","optional":true,"field":"charsetName"},{"type":"int32","optional":true,"field":"length"},{"type":"int32","optional":true,"field":"scale"},{"type":"int32","optional":false,"field":"position"},{"type":"boolean","optional":true,"field":"optional"},{"type":"boolean","optional":true,"field":"autoIncremented"},{"type":"boolean","optional":true,"field":"generated"},{"type":"string","optional":true,"field":"comment"},{"type":"string","optional":true,"field":"defaultValueExpression"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"enumValues"}],"optional":false,"name":"io.debezium.connector.schema.Column","version":1},"optional":false,"field":"columns"},{"type":"string","optional":true,"field":"comment"}],"optional":true,"name":"io.debezium.connector.schema.Table","version":1,"field":"table"}],"optional":false,"name":"io.debezium.connector.schema.Change","version":1},"optional":false,"field":"tableChanges"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeValue","version":1}"#
    )
}

/// The base of a table's Connect schema names: its topic name, sanitised as Debezium does
/// (`Sales Dept` → `Sales_Dept`).
fn base_name(prefix: &str, t: &TableSchema) -> String {
    super::topic_name(prefix, &t.table)
}

/// Schema of the record key. `connect_time`: Debezium's `time.precision.mode=connect`, under
/// which the millisecond types carry Kafka Connect's own names.
pub(super) fn key_schema(prefix: &str, t: &TableSchema, connect_time: bool) -> String {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"type":"struct","fields":["#);
    for (n, &ci) in t.key_columns.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        field(&mut out, &t.columns[ci], false, connect_time);
    }
    out.extend_from_slice(br#"],"optional":false,"name":"#);
    json::string(&mut out, &format!("{}.Key", base_name(prefix, t)));
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

/// Schema of the whole envelope value.
pub(super) fn envelope_schema(
    prefix: &str,
    t: &TableSchema,
    kind: SourceKind,
    connect_time: bool,
) -> String {
    let base = base_name(prefix, t);
    let mut row = Vec::with_capacity(1024);
    row.extend_from_slice(br#"{"type":"struct","fields":["#);
    for (n, c) in t.columns.iter().enumerate() {
        if n > 0 {
            row.push(b',');
        }
        field(&mut row, c, c.nullable, connect_time);
    }
    row.extend_from_slice(br#"],"optional":true,"name":"#);
    json::string(&mut row, &format!("{base}.Value"));
    let row = String::from_utf8(row).unwrap_or_default();
    let source = match kind {
        SourceKind::Postgres => PG_SOURCE_SCHEMA,
        SourceKind::Mysql => MYSQL_SOURCE_SCHEMA,
    };
    let mut out = String::with_capacity(row.len() * 2 + 2048);
    out.push_str(r#"{"type":"struct","fields":["#);
    out.push_str(&row);
    out.push_str(r#","field":"before"},"#);
    out.push_str(&row);
    out.push_str(r#","field":"after"},"#);
    out.push_str(source);
    out.push(',');
    out.push_str(TRANSACTION_SCHEMA);
    out.push_str(r#",{"type":"string","optional":false,"field":"op"},"#);
    out.push_str(r#"{"type":"int64","optional":true,"field":"ts_ms"},"#);
    out.push_str(r#"{"type":"int64","optional":true,"field":"ts_us"},"#);
    out.push_str(r#"{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"#);
    let mut name = Vec::new();
    json::string(&mut name, &format!("{base}.Envelope"));
    out.push_str(&String::from_utf8(name).unwrap_or_default());
    out.push_str(r#","version":2}"#);
    out
}

struct Logical {
    ty: &'static str,
    name: Option<&'static str>,
    params: Vec<(&'static str, String)>,
}

fn logical(ty: &ColumnType) -> Logical {
    let plain = |ty| Logical {
        ty,
        name: None,
        params: Vec::new(),
    };
    let named = |ty, name| Logical {
        ty,
        name: Some(name),
        params: Vec::new(),
    };
    match ty {
        ColumnType::Bool => plain("boolean"),
        ColumnType::Int16 => plain("int16"),
        ColumnType::Int32 => plain("int32"),
        ColumnType::Int64 | ColumnType::UInt64 => plain("int64"),
        ColumnType::Float32 => plain("float"),
        ColumnType::Float64 => plain("double"),
        ColumnType::Decimal { precision, scale } => {
            let mut params = vec![("scale", scale.to_string())];
            if let Some(p) = precision {
                params.push(("connect.decimal.precision", p.to_string()));
            }
            Logical {
                ty: "bytes",
                name: Some("org.apache.kafka.connect.data.Decimal"),
                params,
            }
        }
        ColumnType::VariableDecimal => named("struct", "io.debezium.data.VariableScaleDecimal"),
        ColumnType::String | ColumnType::Text => plain("string"),
        ColumnType::Bytes => plain("bytes"),
        ColumnType::Date => named("int32", "io.debezium.time.Date"),
        ColumnType::Time { millis: true } => named("int32", "io.debezium.time.Time"),
        ColumnType::Time { millis: false } => named("int64", "io.debezium.time.MicroTime"),
        ColumnType::ZonedTime => named("string", "io.debezium.time.ZonedTime"),
        ColumnType::Timestamp { millis: true } => named("int64", "io.debezium.time.Timestamp"),
        ColumnType::Timestamp { millis: false } => {
            named("int64", "io.debezium.time.MicroTimestamp")
        }
        ColumnType::ZonedTimestamp { .. } => named("string", "io.debezium.time.ZonedTimestamp"),
        ColumnType::Interval => named("int64", "io.debezium.time.MicroDuration"),
        ColumnType::Uuid => named("string", "io.debezium.data.Uuid"),
        ColumnType::Json => named("string", "io.debezium.data.Json"),
        ColumnType::Enum { allowed } => Logical {
            ty: "string",
            name: Some("io.debezium.data.Enum"),
            params: vec![("allowed", allowed.clone())],
        },
        ColumnType::EnumSet { allowed } => Logical {
            ty: "string",
            name: Some("io.debezium.data.EnumSet"),
            params: vec![("allowed", allowed.clone())],
        },
        ColumnType::Year => named("int32", "io.debezium.time.Year"),
        ColumnType::Bits { length } => Logical {
            ty: "bytes",
            name: Some("io.debezium.data.Bits"),
            params: vec![("length", length.to_string())],
        },
        ColumnType::Array(_) => plain("array"),
        ColumnType::NamedString(name) => named("string", name),
        ColumnType::Point => named("struct", "io.debezium.data.geometry.Point"),
        // The envelope maps it to `Json` or to a Connect map (see `hstore_handling_mode`).
        ColumnType::StringMap => plain("map"),
        ColumnType::Geometry => named("struct", "io.debezium.data.geometry.Geometry"),
    }
}

/// Write the schema of one type (without `field`), leaving the object open.
fn type_schema(out: &mut Vec<u8>, ty: &ColumnType, optional: bool, connect_time: bool) {
    let mut l = logical(ty);
    if connect_time {
        l.name = l.name.map(|n| match n {
            "io.debezium.time.Date" => "org.apache.kafka.connect.data.Date",
            "io.debezium.time.Time" => "org.apache.kafka.connect.data.Time",
            "io.debezium.time.Timestamp" => "org.apache.kafka.connect.data.Timestamp",
            other => other,
        });
    }
    out.extend_from_slice(br#"{"type":"#);
    json::string(out, l.ty);
    match ty {
        ColumnType::Array(inner) => {
            out.extend_from_slice(br#","items":"#);
            // Debezium declares enum elements required (other elements optional).
            type_schema(
                out,
                inner,
                !matches!(**inner, ColumnType::Enum { .. }),
                connect_time,
            );
            out.push(b'}');
        }
        ColumnType::StringMap => {
            out.extend_from_slice(
                br#","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true}"#,
            );
        }
        ColumnType::Geometry => {
            out.extend_from_slice(
                br#","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]"#,
            );
        }
        ColumnType::Point => {
            out.extend_from_slice(
                br#","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]"#,
            );
        }
        ColumnType::VariableDecimal => {
            out.extend_from_slice(
                br#","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]"#,
            );
        }
        _ => {}
    }
    out.extend_from_slice(br#","optional":"#);
    out.extend_from_slice(if optional { b"true" } else { b"false" });
    if let Some(name) = l.name {
        out.extend_from_slice(br#","name":"#);
        json::string(out, name);
        out.extend_from_slice(br#","version":1"#);
    }
    if matches!(ty, ColumnType::VariableDecimal) {
        out.extend_from_slice(br#","doc":"Variable scaled decimal""#);
    }
    if matches!(ty, ColumnType::Point) {
        out.extend_from_slice(br#","doc":"Geometry (POINT)""#);
    }
    if matches!(ty, ColumnType::Geometry) {
        out.extend_from_slice(br#","doc":"Geometry""#);
    }
    if !l.params.is_empty() {
        out.extend_from_slice(br#","parameters":{"#);
        for (i, (k, v)) in l.params.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, k);
            out.push(b':');
            json::string(out, v);
        }
        out.push(b'}');
    }
}

fn field(out: &mut Vec<u8>, c: &Column, optional: bool, connect_time: bool) {
    type_schema(out, &c.ty, optional, connect_time);
    if let Some(d) = &c.default {
        if !matches!(d, Value::Null) {
            out.extend_from_slice(br#","default":"#);
            super::write_value(out, &c.ty, d);
        }
    }
    out.extend_from_slice(br#","field":"#);
    json::string(out, &c.name);
    out.push(b'}');
}
