//! What the MySQL source asks the server's SQL side: connection options, preflight checks
//! (binlog settings, privileges, server ids, tables) and table definitions from
//! `information_schema`.
//!
//! Invariants: every identifier in generated SQL is backquoted ([`quote_ident`]); values are
//! bound as parameters; the session runs in UTC so TIMESTAMPs read as instants.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, SslOpts};
use secrecy::ExposeSecret;

use super::error::MySourceError;
use super::types::{literal_default, parse_labels, Charset, Kind};
use crate::config::{MysqlSettings, TlsMode};
use crate::event::{next_schema_version, Column, TableId, TableSchema};
use crate::source::keys::KeyOverrides;

/// A table as sluice decodes it: the shared schema plus one [`Kind`] per column.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Schema carried by the table's events.
    pub schema: Arc<TableSchema>,
    /// Decoding kind per column, in schema order.
    pub kinds: Vec<Kind>,
    /// The table map its binlog rows are parsed with, when it differs from the server's
    /// (`binlog::row_map`: `TIME2` columns read as raw bytes).
    pub row_map: Option<Arc<mysql_async::binlog::events::TableMapEvent<'static>>>,
    /// How its rows events' columns are read, from that table map (`binlog::RowPlan`).
    pub plan: Option<Arc<super::binlog::RowPlan>>,
}

/// Facts about the server learned by the preflight.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    /// MariaDB (GTID events and snapshot positions differ from MySQL's).
    pub mariadb: bool,
    /// The server appends CRC32 checksums to binlog events (`binlog_checksum` not NONE).
    pub checksums: bool,
}

/// Quote an identifier with backquotes.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// `db`.`table`, quoted.
pub(crate) fn qualified(t: &TableId) -> String {
    format!("{}.{}", quote_ident(&t.namespace), quote_ident(&t.name))
}

/// Connection options for the source (UTC session, utf8mb4, TLS as configured).
pub(crate) fn opts(s: &MysqlSettings, connector: &str) -> Result<Opts, MySourceError> {
    let mut b = OptsBuilder::default()
        .ip_or_hostname(s.host.clone())
        .tcp_port(s.port)
        .user(Some(s.user.clone()))
        .prefer_socket(false)
        .stmt_cache_size(16)
        .init(vec![
            "SET time_zone = '+00:00'".to_string(),
            "SET NAMES utf8mb4".to_string(),
            format!(
                "SET @sluice_connector = '{}'",
                connector.replace(['\'', '\\'], "")
            ),
        ]);
    if let Some(p) = &s.password {
        b = b.pass(Some(p.expose_secret().to_string()));
    }
    if s.tls.mode != TlsMode::Disable {
        let mut ssl = SslOpts::default()
            .with_danger_accept_invalid_certs(s.tls.mode == TlsMode::Require)
            .with_danger_skip_domain_validation(s.tls.mode != TlsMode::VerifyFull);
        if let Some(ca) = &s.tls.ca_file {
            if !ca.exists() {
                return Err(MySourceError::Tls(format!(
                    "source.tls.ca_file {} does not exist",
                    ca.display()
                )));
            }
            ssl = ssl.with_root_certs(vec![ca.clone().into()]);
        }
        b = b.ssl_opts(Some(ssl));
    }
    Ok(b.into())
}

/// Open a SQL connection.
pub(crate) async fn connect(opts: &Opts) -> Result<Conn, MySourceError> {
    Conn::new(opts.clone())
        .await
        .map_err(MySourceError::sql("connecting"))
}

async fn variable(conn: &mut Conn, name: &str) -> Result<Option<String>, MySourceError> {
    let row: Option<(String, String)> = conn
        .exec_first("SHOW GLOBAL VARIABLES WHERE Variable_name = ?", (name,))
        .await
        .map_err(MySourceError::sql("reading server variables"))?;
    Ok(row.map(|(_, v)| v))
}

fn precondition(problem: impl Into<String>, hint: impl Into<String>) -> MySourceError {
    MySourceError::Precondition {
        problem: problem.into(),
        hint: hint.into(),
    }
}

/// Check everything CDC needs, each failure with its fix.
pub(crate) async fn preflight(
    conn: &mut Conn,
    tables: &[TableId],
    replica_id: u32,
    replica_host: &str,
) -> Result<ServerInfo, MySourceError> {
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(MySourceError::sql("reading the server version"))?;
    let mariadb = version.unwrap_or_default().contains("MariaDB");
    let on = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1")
    };
    let log_bin = variable(conn, "log_bin").await?;
    if !on(&log_bin) {
        return Err(precondition(
            "the server's binary log is off (log_bin)",
            "start the server with --log-bin (and --server-id), then restart sluice",
        ));
    }
    for (name, want) in [
        ("binlog_format", "ROW"),
        ("binlog_row_image", "FULL"),
        ("binlog_row_metadata", "FULL"),
    ] {
        let got = variable(conn, name).await?;
        if !got.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(want)) {
            return Err(precondition(
                format!(
                    "{name} is {} but sluice needs {want}",
                    got.as_deref().unwrap_or("unset (server too old?)")
                ),
                format!(
                    "SET GLOBAL {name} = '{want}' and put {name}={want} in the server config (binlog_row_metadata needs MySQL 8.0.1+ or MariaDB 10.5+)"
                ),
            ));
        }
    }
    if mariadb && on(&variable(conn, "log_bin_compress").await?) {
        return Err(precondition(
            "log_bin_compress is ON: compressed row events cannot be decoded",
            "SET GLOBAL log_bin_compress = OFF",
        ));
    }
    if !mariadb {
        let opts = variable(conn, "binlog_row_value_options").await?;
        if opts.as_deref().is_some_and(|o| !o.is_empty()) {
            return Err(precondition(
                "binlog_row_value_options is PARTIAL_JSON: JSON updates are logged as diffs",
                "SET GLOBAL binlog_row_value_options = ''",
            ));
        }
    }
    let server_id = variable(conn, "server_id").await?;
    if server_id.as_deref() == Some(replica_id.to_string().as_str()) {
        return Err(precondition(
            format!("source.server_id {replica_id} is the server's own server_id"),
            "choose another source.server_id",
        ));
    }
    let hosts_sql = if mariadb {
        "SHOW SLAVE HOSTS"
    } else {
        "SHOW REPLICAS"
    };
    // Columns: Server_id, Host, Port, Master_id (and more on MySQL).
    match conn.query::<Row, _>(hosts_sql).await {
        Ok(rows) => {
            for r in rows {
                let id: Option<u32> = r.get(0);
                let host: Option<String> = r.get(1);
                if id == Some(replica_id) && host.as_deref() != Some(replica_host) {
                    return Err(precondition(
                        format!(
                            "source.server_id {replica_id} is already used by the replica at {}",
                            host.unwrap_or_default()
                        ),
                        "choose a source.server_id no other replica uses (SHOW SLAVE HOSTS lists them)",
                    ));
                }
            }
        }
        // Listing replicas needs REPLICATION MASTER ADMIN on MariaDB 10.5+, which CDC
        // itself does not: without it the duplicate-id check is skipped, not the start.
        Err(mysql_async::Error::Server(e)) if matches!(e.code, 1044 | 1142 | 1227) => {
            tracing::warn!(
                server_id = replica_id,
                "cannot list the server's replicas ({hosts_sql} needs {}); not checking that source.server_id is unused",
                if mariadb { "REPLICATION MASTER ADMIN" } else { "REPLICATION SLAVE" }
            );
        }
        Err(e) => return Err(privilege_error(e, "REPLICATION SLAVE", mariadb)),
    }
    let status_sql = if mariadb {
        "SHOW MASTER STATUS"
    } else {
        "SHOW BINARY LOG STATUS"
    };
    let status = conn.query_drop(status_sql).await;
    if let Err(e) = status {
        let retry = if mariadb {
            Err(e)
        } else {
            conn.query_drop("SHOW MASTER STATUS").await
        };
        if let Err(e) = retry {
            return Err(privilege_error(
                e,
                if mariadb {
                    "BINLOG MONITOR"
                } else {
                    "REPLICATION CLIENT"
                },
                mariadb,
            ));
        }
    }
    for t in tables {
        if let Err(e) = conn
            .query_drop(format!("SELECT 1 FROM {} LIMIT 0", qualified(t)))
            .await
        {
            match &e {
                // Not a reason to stop: the binlog will show its CREATE TABLE, and every row
                // written after it is streamed (issue 26 item 5).
                mysql_async::Error::Server(s) if s.code == 1146 || s.code == 1049 => {
                    tracing::warn!(table = %t, "a listed table does not exist (yet): it is captured from its CREATE TABLE on");
                }
                _ => {
                    return Err(privilege_error(
                        e,
                        &format!("SELECT ON {}", qualified(t)),
                        mariadb,
                    ))
                }
            }
        }
    }
    let checksums = variable(conn, "binlog_checksum")
        .await?
        .is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
    Ok(ServerInfo { mariadb, checksums })
}

/// The privileges the README's least-privilege grant lists.
pub(crate) fn needed_privileges(mariadb: bool) -> &'static str {
    if mariadb {
        "SELECT, REPLICATION SLAVE, BINLOG MONITOR"
    } else {
        "SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT"
    }
}

fn privilege_error(e: mysql_async::Error, privilege: &str, mariadb: bool) -> MySourceError {
    match &e {
        // The server's message names the user and host, never row values.
        mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1142 | 1227) => precondition(
            format!(
                "the source user lacks the {privilege} privilege: {}",
                s.message
            ),
            {
                let on = if privilege.contains(" ON ") {
                    ""
                } else {
                    " ON *.*"
                };
                format!(
                    "GRANT {privilege}{on} TO the source user (all sluice needs: GRANT {} ON *.* TO ...)",
                    needed_privileges(mariadb)
                )
            },
        ),
        _ => MySourceError::Sql {
            context: "running the preflight checks",
            source: e,
        },
    }
}

/// The base tables (not views, not system databases') whose `database.table` name the
/// patterns capture, sorted by name.
pub(crate) async fn matching_tables(
    conn: &mut Conn,
    filter: &crate::config::TableFilter,
) -> Result<Vec<TableId>, MySourceError> {
    if !filter.is_active() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' \
               AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             ORDER BY 1, 2",
        )
        .await
        .map_err(MySourceError::sql("listing tables for table_include_list"))?;
    Ok(rows
        .into_iter()
        .map(|(d, t)| TableId::new(d, t))
        .filter(|t| filter.matches(&t.to_string()))
        .collect())
}

/// One column as `information_schema` describes it.
#[derive(Debug, Clone)]
pub(crate) struct CatalogColumn {
    name: String,
    kind: Kind,
    nullable: bool,
    default: Option<String>,
}

/// A table's catalog columns (ordinal order) and primary-key column names (key order).
pub(crate) type CatalogTable = (Vec<CatalogColumn>, Vec<String>);

/// The columns of `table` in ordinal order, and its key column names in key order (chosen by
/// [`KeyOverrides::choose`]: configured, primary key, else the first unique index whose
/// columns are all NOT NULL, as Debezium chooses); `None` when the table does not exist.
pub(crate) async fn table_columns(
    conn: &mut Conn,
    table: &TableId,
    keys: &KeyOverrides,
) -> Result<Option<CatalogTable>, MySourceError> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
             NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, \
             CHARACTER_OCTET_LENGTH \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (&table.namespace, &table.name),
        )
        .await
        .map_err(MySourceError::sql("reading table columns"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut cols = Vec::with_capacity(rows.len());
    for r in rows {
        let s = |i: usize| r.get::<Option<String>, _>(i).flatten();
        let n = |i: usize| r.get::<Option<u64>, _>(i).flatten();
        let name = s(0).unwrap_or_default();
        let data_type = s(1).unwrap_or_default().to_ascii_lowercase();
        // As the server spells it: ENUM and SET labels keep their case.
        let column_type = s(2).unwrap_or_default();
        let charset = s(8);
        let kind = kind_of(
            &data_type,
            &column_type,
            n(5),
            n(6),
            n(7),
            charset.as_deref(),
            n(9),
        );
        cols.push(CatalogColumn {
            name,
            kind,
            nullable: s(3).as_deref() == Some("YES"),
            default: s(4),
        });
    }
    let indexes = unique_indexes(conn, table).await?;
    let primary = indexes
        .iter()
        .find(|(i, _)| i == "PRIMARY")
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let not_null = |name: &String| cols.iter().any(|c| &c.name == name && !c.nullable);
    let key = keys
        .choose(table, cols.iter().map(|c| c.name.as_str()), primary, || {
            indexes
                .iter()
                .find(|(_, c)| c.iter().all(not_null))
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        })
        .map_err(|missing| {
            precondition(
                format!(
                    "source.key_columns names column {missing}, which table {table} does not have"
                ),
                "fix source.key_columns (column names are case-sensitive)",
            )
        })?;
    Ok(Some((cols, key)))
}

/// The unique indexes of `table`, `PRIMARY` first, then in the server's order, each with its
/// column names in index order.
pub(crate) async fn unique_indexes(
    conn: &mut Conn,
    table: &TableId,
) -> Result<Vec<(String, Vec<String>)>, MySourceError> {
    let rows: Vec<(String, String, u64)> = conn
        .exec(
            "SELECT INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0",
            (&table.namespace, &table.name),
        )
        .await
        .map_err(MySourceError::sql("reading the table's unique keys"))?;
    let mut indexes: Vec<(String, Vec<(u64, String)>)> = Vec::new();
    for (index, column, seq) in rows {
        match indexes.iter_mut().find(|(i, _)| *i == index) {
            Some((_, c)) => c.push((seq, column)),
            None => indexes.push((index, vec![(seq, column)])),
        }
    }
    let mut indexes: Vec<(String, Vec<String>)> = indexes
        .into_iter()
        .map(|(i, mut c)| {
            c.sort();
            (i, c.into_iter().map(|(_, name)| name).collect())
        })
        .collect();
    indexes.sort_by_key(|(i, _)| i != "PRIMARY");
    Ok(indexes)
}

/// The decoding kind of a column from its `information_schema` description.
fn kind_of(
    data_type: &str,
    column_type: &str,
    precision: Option<u64>,
    scale: Option<u64>,
    fsp: Option<u64>,
    charset: Option<&str>,
    octets: Option<u64>,
) -> Kind {
    let labels = column_type;
    let column_type = &column_type.to_ascii_lowercase();
    let unsigned = column_type.contains("unsigned");
    let fsp = fsp.unwrap_or(0).min(6) as u8;
    let int = |bytes| Kind::Int { bytes, unsigned };
    match data_type {
        "tinyint" => int(1),
        "smallint" => int(2),
        "mediumint" => int(3),
        "int" | "integer" => int(4),
        "bigint" => int(8),
        // FLOAT(M,D): Debezium's DDL model makes it a double.
        "float" if column_type.contains('(') => Kind::FloatAsDouble,
        "float" => Kind::Float,
        "geometry" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" => Kind::Geometry { point: false },
        "point" => Kind::Geometry { point: true },
        "double" | "real" | "double precision" => Kind::Double,
        "decimal" | "numeric" => Kind::Decimal {
            precision: precision.unwrap_or(10) as u32,
            scale: scale.unwrap_or(0) as u32,
        },
        "bit" => Kind::Bit {
            bits: precision.unwrap_or(1).max(1) as u32,
        },
        "year" => Kind::Year,
        "date" => Kind::Date,
        "time" => Kind::Time,
        "datetime" => Kind::DateTime { fsp },
        "timestamp" => Kind::Timestamp { fsp },
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => match charset {
            None | Some("binary") => Kind::Binary { pad_to: None },
            Some(cs) => Kind::Text {
                charset: Charset::named(cs),
                json: false,
            },
        },
        "binary" => Kind::Binary {
            pad_to: octets.map(|o| o as usize),
        },
        "enum" => Kind::Enum(parse_labels(labels).into()),
        "set" => Kind::Set(parse_labels(labels).into()),
        "json" => Kind::Json,
        "uuid" => Kind::Uuid,
        "inet6" => Kind::Inet6,
        // varbinary, blobs, geometry types and anything unknown: raw bytes.
        _ => Kind::Binary { pad_to: None },
    }
}

/// Build the table from catalog columns; `key` lists the primary-key column names.
pub(crate) fn build_table(table: TableId, cols: &[CatalogColumn], key: &[String]) -> Table {
    let columns = cols
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            ty: c.kind.column_type(),
            nullable: c.nullable,
            default: c
                .default
                .as_deref()
                .and_then(|d| literal_default(&c.kind, d)),
        })
        .collect();
    let key_columns = key
        .iter()
        .filter_map(|k| cols.iter().position(|c| &c.name == k))
        .collect();
    Table {
        schema: Arc::new(TableSchema {
            table,
            columns,
            key_columns,
            version: next_schema_version(),
        }),
        kinds: cols.iter().map(|c| c.kind.clone()).collect(),
        row_map: None,
        plan: None,
    }
}

/// Column names of catalog columns (to compare with a binlog table map).
pub(crate) fn names(cols: &[CatalogColumn]) -> impl Iterator<Item = &str> {
    cols.iter().map(|c| c.name.as_str())
}

/// Nullability and raw default (`information_schema` text) of catalog columns.
pub(crate) fn facts(cols: &[CatalogColumn]) -> impl Iterator<Item = (bool, Option<&str>)> {
    cols.iter().map(|c| (c.nullable, c.default.as_deref()))
}

/// Kinds of catalog columns.
pub(crate) fn kinds(cols: &[CatalogColumn]) -> impl Iterator<Item = &Kind> {
    cols.iter().map(|c| &c.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// information_schema descriptions map to the kinds Debezium's types follow.
    #[test]
    fn kinds_from_catalog() {
        assert_eq!(
            kind_of(
                "bigint",
                "bigint(20) unsigned",
                None,
                None,
                None,
                None,
                None
            ),
            Kind::Int {
                bytes: 8,
                unsigned: true
            }
        );
        // ENUM and SET labels keep the server's spelling (`'PG'` is not `'pg'`).
        assert_eq!(
            kind_of("enum", "enum('G','PG-13')", None, None, None, None, None),
            Kind::Enum(vec!["G".to_string(), "PG-13".to_string()].into())
        );
        assert_eq!(
            kind_of("text", "text", None, None, None, Some("latin1"), None),
            Kind::Text {
                charset: Charset::named("latin1"),
                json: false
            }
        );
        assert_eq!(
            kind_of("binary", "binary(4)", None, None, None, None, Some(4)),
            Kind::Binary { pad_to: Some(4) }
        );
        assert_eq!(
            kind_of("timestamp", "timestamp(6)", None, None, Some(6), None, None),
            Kind::Timestamp { fsp: 6 }
        );
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}
