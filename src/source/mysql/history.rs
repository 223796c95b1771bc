//! Schema-change records (Debezium's `include.schema.changes`): what the snapshot writes
//! before its rows, and the record of each DDL statement on a captured table while streaming.
//!
//! Shapes come from `information_schema` (the server's own normalized column types, which is
//! what `SHOW CREATE TABLE`, Debezium's snapshot source, prints), and column types and
//! defaults are written as Debezium writes them. What a streamed statement states (its
//! lengths and scales, `MODIFY qty bigint` where the catalog says `bigint(20)`) is read by
//! [`super::ddl`], which merges it into these descriptions. Invariant: nothing here decides
//! how rows decode; it only describes.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::catalog::{qualified, quote_ident};
use super::ddl::time_default;
use super::error::MySourceError;
use crate::event::{
    DdlColumn, Marker, Position, SchemaChange, TableChange, TableChangeKind, TableDdl, TableId,
};

/// The last shape written for each captured table.
pub(crate) type Shapes = HashMap<TableId, Arc<TableDdl>>;

/// Type attributes as Debezium derives them from a column type's text.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TypeAttrs {
    pub(crate) jdbc_type: i32,
    pub(crate) type_name: String,
    pub(crate) length: Option<i32>,
    pub(crate) scale: Option<i32>,
    pub(crate) enum_values: Option<Vec<String>>,
}

/// The quoted labels of an `enum(...)` / `set(...)` argument list, as written.
fn labels(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            cur.push(c);
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    cur.push('\'');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else if c == '\\' {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
        } else if c == '\'' {
            quoted = true;
            cur.push(c);
        } else if c == ',' {
            out.push(std::mem::take(&mut cur).trim().to_string());
        } else if !c.is_whitespace() {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Parse a column type as the server prints it or a statement states it
/// (`int(11) unsigned zerofill`, `decimal(8,2)`, `enum('a','b')`, `bigint`).
pub(crate) fn type_attrs(text: &str) -> TypeAttrs {
    let text = text.trim();
    let base_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let base = text[..base_end].to_ascii_lowercase();
    let rest = text[base_end..].trim_start();
    let (args, tail) = match rest.strip_prefix('(') {
        Some(r) => {
            // The closing parenthesis outside quotes.
            let mut quoted = false;
            let mut end = r.len();
            for (i, c) in r.char_indices() {
                match c {
                    '\'' => quoted = !quoted,
                    ')' if !quoted => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            (Some(&r[..end]), r.get(end + 1..).unwrap_or(""))
        }
        None => (None, rest),
    };
    let tail = tail.to_ascii_lowercase();
    let words: Vec<&str> = tail.split_whitespace().collect();
    let unsigned = words.contains(&"unsigned");
    let zerofill = words.contains(&"zerofill");
    let nums: Vec<i32> = args
        .map(|a| a.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let (jdbc_type, name, numeric) = match base.as_str() {
        "bit" => (-7, "BIT", false),
        "tinyint" => (5, "TINYINT", true),
        // BOOLEAN, as Debezium's DDL parser types it (the catalog says tinyint(1)).
        "bool" => (16, "BOOL", false),
        "boolean" => (16, "BOOLEAN", false),
        "smallint" => (5, "SMALLINT", true),
        "mediumint" => (4, "MEDIUMINT", true),
        "int" | "integer" => (4, "INT", true),
        "bigint" => (-5, "BIGINT", true),
        "decimal" | "dec" | "numeric" | "fixed" => (3, "DECIMAL", true),
        "float" => (6, "FLOAT", true),
        "double" | "real" => (8, "DOUBLE", true),
        "char" => (1, "CHAR", false),
        "varchar" => (12, "VARCHAR", false),
        "tinytext" => (12, "TINYTEXT", false),
        "text" => (12, "TEXT", false),
        "mediumtext" => (12, "MEDIUMTEXT", false),
        "longtext" => (12, "LONGTEXT", false),
        // OTHER, as Debezium reports MySQL 8's JSON (recorded case mysql8_types); MariaDB's
        // JSON is a LONGTEXT and reads as one.
        "json" => (1111, "JSON", false),
        "enum" => (1, "ENUM", false),
        "set" => (1, "SET", false),
        "binary" => (-2, "BINARY", false),
        "varbinary" => (-3, "VARBINARY", false),
        "tinyblob" => (2004, "TINYBLOB", false),
        "blob" => (2004, "BLOB", false),
        "mediumblob" => (2004, "MEDIUMBLOB", false),
        "longblob" => (2004, "LONGBLOB", false),
        "date" => (91, "DATE", false),
        "time" => (92, "TIME", false),
        "datetime" => (93, "DATETIME", false),
        "timestamp" => (2014, "TIMESTAMP", false),
        "year" => (4, "YEAR", false),
        _ => (1111, "", false),
    };
    let mut type_name = if name.is_empty() {
        base.to_ascii_uppercase()
    } else {
        name.to_string()
    };
    // ZEROFILL implies UNSIGNED (the server adds it; Debezium names both).
    if numeric && (unsigned || zerofill) {
        type_name.push_str(" UNSIGNED");
    }
    if numeric && zerofill {
        type_name.push_str(" ZEROFILL");
    }
    let mut attrs = TypeAttrs {
        jdbc_type,
        type_name,
        length: nums.first().copied(),
        scale: nums.get(1).copied(),
        enum_values: None,
    };
    match base.as_str() {
        "enum" | "set" => {
            let l = labels(args.unwrap_or(""));
            // Debezium's lengths: 1 for an enum, one character per label plus the commas
            // for a set.
            attrs.length = Some(if base == "enum" {
                1
            } else {
                (2 * l.len() as i32 - 1).max(0)
            });
            attrs.scale = None;
            attrs.enum_values = Some(l);
        }
        _ => {}
    }
    attrs
}

/// A column default as `information_schema` holds it, as Debezium writes it: MariaDB quotes
/// string literals (`'none'` → `none`) and spells a NULL default `NULL` (→ none).
fn default_expression(raw: Option<String>, mariadb: bool) -> Option<String> {
    let raw = raw?;
    // A BIT default is its digits (`b'1'` → `1`), on both servers.
    if let Some(bits) = raw.strip_prefix("b'").and_then(|r| r.strip_suffix('\'')) {
        return Some(bits.to_string());
    }
    if !mariadb {
        // MySQL 8 shows a binary default in hex; Debezium has `SHOW CREATE TABLE`'s escaped
        // literal (`0x01` → the byte 1).
        if let Some(bytes) = raw.strip_prefix("0x").and_then(super::types::hex_bytes) {
            return Some(super::types::show_create_escaped(&bytes));
        }
        return Some(raw);
    }
    if raw.eq_ignore_ascii_case("null") {
        return None;
    }
    match raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(inner) => Some(inner.replace("''", "'").replace("\\\\", "\\")),
        None => Some(raw),
    }
}

/// MySQL 8's hex default of a BINARY(n) column (`0x01`) padded to its n bytes, as the
/// column stores it (`0x01000000`).
fn padded_binary(raw: Option<String>, column_type: &str) -> Option<String> {
    let raw = raw?;
    let n = column_type
        .to_ascii_lowercase()
        .strip_prefix("binary(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.parse::<usize>().ok());
    match (raw.strip_prefix("0x"), n) {
        // BINARY(n) holds at most 255 bytes.
        (Some(hex), Some(n)) if n <= 255 && hex.len() < n * 2 => {
            Some(format!("0x{hex:0<width$}", width = n * 2))
        }
        _ => Some(raw),
    }
}

/// A catalog default (`information_schema` text) as the schema history writes it, to tell
/// whether the catalog still describes the history's shape.
pub(crate) fn history_form(raw: Option<&str>, column_type: &str, mariadb: bool) -> Option<String> {
    default_expression(padded_binary(raw.map(str::to_string), column_type), mariadb)
        .map(time_default)
}

/// The shape of `table` from `information_schema`; `None` when it does not exist.
pub(crate) async fn describe(
    conn: &mut Conn,
    table: &TableId,
    mariadb: bool,
) -> Result<Option<TableDdl>, MySourceError> {
    let sql = || MySourceError::sql("describing a table for its schema-change record");
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_SET_NAME, \
             EXTRA, ORDINAL_POSITION FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (&table.namespace, &table.name),
        )
        .await
        .map_err(sql())?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let s = |i: usize| r.get::<Option<String>, _>(i).flatten();
        let column_type = s(1).unwrap_or_default();
        let extra = s(5).unwrap_or_default().to_ascii_lowercase();
        let attrs = type_attrs(&column_type);
        let string_like = matches!(attrs.jdbc_type, 1 | 12);
        let auto = extra.contains("auto_increment") || extra.contains("on update");
        columns.push(DdlColumn {
            name: s(0).unwrap_or_default(),
            jdbc_type: attrs.jdbc_type,
            type_name: attrs.type_name,
            charset: s(4).filter(|_| string_like),
            length: attrs.length,
            scale: attrs.scale,
            position: i as i32 + 1,
            optional: s(2).as_deref() == Some("YES"),
            // Debezium marks AUTO_INCREMENT and ON UPDATE CURRENT_TIMESTAMP both
            // auto-incremented and generated, and a generated (virtual or stored) column
            // neither.
            auto_incremented: auto,
            generated: auto,
            default: default_expression(padded_binary(s(3), &column_type), mariadb)
                .map(time_default),
            enum_values: attrs.enum_values,
            column_type,
        });
    }
    let charset: Option<Option<String>> = conn
        .exec_first(
            "SELECT c.CHARACTER_SET_NAME FROM information_schema.TABLES t \
             JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = t.TABLE_COLLATION \
             WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?",
            (&table.namespace, &table.name),
        )
        .await
        .map_err(sql())?;
    // The primary key, else the first unique index whose columns are all NOT NULL (which
    // InnoDB clusters on, and Debezium reports as the primary key).
    let not_null = |name: &str| columns.iter().any(|c| c.name == name && !c.optional);
    let pk = super::catalog::unique_indexes(conn, table)
        .await?
        .into_iter()
        .find(|(i, c)| i == "PRIMARY" || c.iter().all(|n| not_null(n)))
        .map(|(_, c)| c)
        .unwrap_or_default();
    Ok(Some(TableDdl {
        default_charset: charset.flatten(),
        primary_key: pk,
        columns,
    }))
}

/// Wait until a streamed DDL statement's commit is visible to other sessions; `true` when it
/// is known to be.
///
/// A binlog reader can receive a DDL statement before its commit is visible: MySQL 8 wakes
/// binlog readers once the binlog is synced, before the data dictionary commits (the window
/// widens under load), so `information_schema` can still show the table as it was. MySQL adds
/// a transaction's GTID to `gtid_executed` after its engine commit, so with a GTID this waits
/// (about 2.5 s at most) for it there. `false` without a GTID, on MariaDB (whose GTIDs
/// `GTID_SUBSET` does not read), or when the server does not answer yes in time.
pub(crate) async fn ddl_committed(conn: &mut Conn, gtid: Option<&str>, mariadb: bool) -> bool {
    let Some(gtid) = gtid.filter(|_| !mariadb) else {
        return false;
    };
    let mut wait = std::time::Duration::from_millis(5);
    for attempt in 0..10 {
        let done: Result<Option<i64>, _> = conn
            .exec_first("SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed)", (gtid,))
            .await;
        match done {
            Ok(Some(1)) => {
                if attempt > 0 {
                    tracing::debug!(
                        attempt,
                        "a DDL's commit became visible after its binlog event"
                    );
                }
                return true;
            }
            Ok(_) => {}
            // Asked to be sure, not needed: the caller looks the table up regardless.
            Err(_) => return false,
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_millis(500));
    }
    false
}

/// The shape of a table that a streamed DDL statement just created (or renamed to);
/// `committed`: whether [`ddl_committed`] saw the statement's commit.
///
/// Without that knowledge a table the catalog does not show yet is looked for again, for
/// about 1.3 s in all, as its commit may not be visible yet. `None` when it does not exist
/// (dropped again by a later statement).
pub(crate) async fn describe_created(
    conn: &mut Conn,
    table: &TableId,
    mariadb: bool,
    committed: bool,
) -> Result<Option<TableDdl>, MySourceError> {
    if committed {
        return describe(conn, table, mariadb).await;
    }
    let mut wait = std::time::Duration::from_millis(10);
    for attempt in 0..7 {
        if let Some(shape) = describe(conn, table, mariadb).await? {
            if attempt > 0 {
                tracing::debug!(table = %table, attempt, "a created table reached the catalog after its DDL's binlog event");
            }
            return Ok(Some(shape));
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    describe(conn, table, mariadb).await
}

/// A database's default character set and collation; both `None` when it does not exist.
pub(crate) async fn database_defaults(
    conn: &mut Conn,
    database: &str,
) -> Result<(Option<String>, Option<String>), MySourceError> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .exec_first(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (database,),
        )
        .await
        .map_err(MySourceError::sql("reading a database's character set"))?;
    Ok(row.unwrap_or_default())
}

/// The schema-change records a snapshot writes before its rows, as Debezium does: the
/// server's character set, a DROP of each table, then per database DROP/CREATE/USE and the
/// CREATE of each of its tables (`SHOW CREATE TABLE`). Also the shapes, for the stream.
pub(crate) async fn snapshot_records(
    conn: &mut Conn,
    tables: &[TableId],
    mariadb: bool,
    position: &(dyn Fn(&str) -> Position + Sync),
    ts_us: i64,
) -> Result<(Vec<Marker>, Shapes), MySourceError> {
    let sql = |c| MySourceError::sql(c);
    let record = |database: &str, ddl: String, table: Option<&str>, changes| {
        Marker::SchemaChange(SchemaChange {
            database: database.to_string(),
            ddl,
            table: table.map(str::to_string),
            changes,
            position: position(database),
            ts_us,
            snapshot: true,
        })
    };
    let (cs, coll): (Option<String>, Option<String>) = conn
        .query_first("SELECT @@character_set_server, @@collation_server")
        .await
        .map_err(sql("reading the server character set"))?
        .unwrap_or_default();
    let mut out = vec![record(
        "",
        format!(
            "SET character_set_server={}, collation_server={}",
            cs.unwrap_or_default(),
            coll.unwrap_or_default()
        ),
        None,
        Vec::new(),
    )];
    for t in tables {
        out.push(record(
            &t.namespace,
            format!("DROP TABLE IF EXISTS {}", qualified(t)),
            Some(&t.name),
            vec![TableChange {
                kind: TableChangeKind::Drop,
                table: t.clone(),
                shape: None,
            }],
        ));
    }
    let mut databases: Vec<&str> = Vec::new();
    for t in tables {
        if !databases.contains(&t.namespace.as_str()) {
            databases.push(&t.namespace);
        }
    }
    let mut shapes = Shapes::new();
    for db in databases {
        let (cs, coll) = database_defaults(conn, db).await?;
        let q = quote_ident(db);
        out.push(record(
            db,
            format!("DROP DATABASE IF EXISTS {q}"),
            None,
            Vec::new(),
        ));
        out.push(record(
            db,
            format!(
                "CREATE DATABASE {q} CHARSET {} COLLATE {}",
                cs.unwrap_or_default(),
                coll.unwrap_or_default()
            ),
            None,
            Vec::new(),
        ));
        out.push(record(db, format!("USE {q}"), None, Vec::new()));
        for t in tables.iter().filter(|t| t.namespace == db) {
            let create: Option<(String, String)> = match conn
                .query_first(format!("SHOW CREATE TABLE {}", qualified(t)))
                .await
            {
                Ok(c) => c,
                // Not created yet: its CREATE TABLE will come through the binlog.
                Err(mysql_async::Error::Server(e)) if e.code == 1146 => continue,
                Err(e) => return Err(sql("reading a table's CREATE statement")(e)),
            };
            let Some(shape) = describe(conn, t, mariadb).await? else {
                continue;
            };
            let shape = Arc::new(shape);
            shapes.insert(t.clone(), Arc::clone(&shape));
            out.push(record(
                db,
                create.map(|(_, c)| c).unwrap_or_default(),
                Some(&t.name),
                vec![TableChange {
                    kind: TableChangeKind::Create,
                    table: t.clone(),
                    shape: Some(shape),
                }],
            ));
        }
    }
    Ok((out, shapes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Type texts map to Debezium's JDBC codes, names, lengths and scales (from its
    /// recordings in `schemas/golden/cases/maria_*`).
    #[test]
    fn types_as_debezium() {
        let a = |t: &str| {
            let a = type_attrs(t);
            (a.jdbc_type, a.type_name, a.length, a.scale)
        };
        assert_eq!(a("int(11)"), (4, "INT".into(), Some(11), None));
        assert_eq!(
            a("int(6) unsigned zerofill"),
            (4, "INT UNSIGNED ZEROFILL".into(), Some(6), None)
        );
        assert_eq!(a("tinyint(1)"), (5, "TINYINT".into(), Some(1), None));
        assert_eq!(a("bigint"), (-5, "BIGINT".into(), None, None));
        assert_eq!(a("decimal(5,0)"), (3, "DECIMAL".into(), Some(5), Some(0)));
        assert_eq!(a("float"), (6, "FLOAT".into(), None, None));
        assert_eq!(a("float(7,3)"), (6, "FLOAT".into(), Some(7), Some(3)));
        assert_eq!(a("timestamp(3)"), (2014, "TIMESTAMP".into(), Some(3), None));
        assert_eq!(a("geometry"), (1111, "GEOMETRY".into(), None, None));
        assert_eq!(a("mediumblob"), (2004, "MEDIUMBLOB".into(), None, None));
        assert_eq!(a("year(4)"), (4, "YEAR".into(), Some(4), None));
        let e = type_attrs("enum('a b','c''d',')')");
        assert_eq!(e.length, Some(1));
        assert_eq!(
            e.enum_values,
            Some(vec!["'a b'".into(), "'c''d'".into(), "')'".into()])
        );
        let s = type_attrs("set('x','y z')");
        assert_eq!((s.jdbc_type, s.length), (1, Some(3)));
    }

    /// MariaDB's catalog defaults become Debezium's default expressions.
    #[test]
    fn defaults() {
        assert_eq!(default_expression(Some("NULL".into()), true), None);
        assert_eq!(
            default_expression(Some("'it''s'".into()), true).as_deref(),
            Some("it's")
        );
        assert_eq!(
            default_expression(Some("1.50".into()), true).as_deref(),
            Some("1.50")
        );
        assert_eq!(default_expression(None, true), None);
    }
}
