//! Consistent initial snapshot of MySQL/MariaDB tables, paired with the binlog position the
//! stream continues from.
//!
//! ```text
//! MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT
//!            ─► SHOW STATUS LIKE 'binlog_snapshot_%'   (file, position; no lock at all)
//! MySQL:   FLUSH TABLES WITH READ LOCK ─► START TRANSACTION WITH CONSISTENT SNAPSHOT
//!            ─► SHOW BINARY LOG STATUS ─► UNLOCK TABLES  (lock held for those 3 statements)
//! then, inside the transaction: SELECT every table (binary protocol) ─► op "r" events
//! ```
//! With `snapshot_max_threads` above 1, more connections start their transactions under
//! `FLUSH TABLES WITH READ LOCK` (MariaDB too) and read tables ahead, each into a bounded
//! hand-off; one writer takes them in table order, so the output is what one reader gives.
//! Invariant: the rows read and the returned position describe the same instant, so
//! streaming from that position neither misses nor repeats a committed change.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::catalog::{self, qualified, quote_ident, ServerInfo};
use super::error::MySourceError;
use super::types::Origin;
use crate::event::{
    next_schema_version, ChangeEvent, ColumnType, Op, Position, TableId, TableSchema, Value,
};
use crate::source::keys::KeyOverrides;
use crate::source::snapshot::{read_parts, Outbox, PartReader, SnapshotEmitter};
use crate::telemetry::Telemetry;

/// A binlog position: file, offset, and MariaDB's GTID position there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BinlogPos {
    /// Binlog file name.
    pub file: String,
    /// Offset in the file.
    pub pos: u64,
    /// The GTID position, when known: MariaDB's (`domain-server-seq,…`) or MySQL's executed
    /// set (`uuid:1-5,…`).
    pub gtid: Option<String>,
}

/// The server's current binlog position (for `no_data` starts).
pub(crate) async fn current_position(
    conn: &mut Conn,
    info: &ServerInfo,
) -> Result<BinlogPos, MySourceError> {
    let row: Option<Row> = if info.mariadb {
        conn.query_first("SHOW MASTER STATUS").await
    } else {
        match conn.query_first("SHOW BINARY LOG STATUS").await {
            Ok(r) => Ok(r),
            Err(_) => conn.query_first("SHOW MASTER STATUS").await,
        }
    }
    .map_err(MySourceError::sql("reading the binlog position"))?;
    let Some(row) = row else {
        return Err(MySourceError::Precondition {
            problem: "the server reports no binlog position".into(),
            hint: "enable the binary log (log_bin) and restart the server".into(),
        });
    };
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    let gtid = if info.mariadb {
        gtid_at(conn, info, &file, pos).await?
    } else {
        // MySQL: the executed GTID set of the same answer (`Executed_Gtid_Set`), so it
        // belongs to exactly this position; none when GTIDs are off or it cannot be read.
        row.get::<Option<String>, _>(4)
            .flatten()
            .and_then(|t| super::gtid::GtidSet::parse(&t))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    Ok(BinlogPos { file, pos, gtid })
}

async fn gtid_at(
    conn: &mut Conn,
    info: &ServerInfo,
    file: &str,
    pos: u64,
) -> Result<Option<String>, MySourceError> {
    if !info.mariadb {
        return Ok(None);
    }
    let g: Option<Option<String>> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos))
        .await
        .map_err(MySourceError::sql("reading the GTID position"))?;
    Ok(g.flatten())
}

/// Whether `file` is still among the server's binlogs.
pub(crate) async fn file_exists(conn: &mut Conn, file: &str) -> Result<bool, MySourceError> {
    let rows: Vec<Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(MySourceError::sql("listing binlog files"))?;
    Ok(rows
        .iter()
        .any(|r| r.get::<String, _>(0).as_deref() == Some(file)))
}

/// The schema rows read by a query carry: Debezium prints read TIMESTAMPs with the shortest
/// fraction (streamed ones with the column's precision), so a read-only copy says so.
pub(super) fn read_schema(t: &catalog::Table) -> Arc<TableSchema> {
    let mut schema = (*t.schema).clone();
    for c in &mut schema.columns {
        if let ColumnType::ZonedTimestamp { fraction_digits } = &mut c.ty {
            *fraction_digits = ColumnType::SHORTEST_FRACTION;
        }
    }
    schema.version = next_schema_version();
    Arc::new(schema)
}

/// Convert a row read by a query (binary protocol) into the table's values.
pub(super) fn convert_row(
    t: &catalog::Table,
    schema: &TableSchema,
    row: &mut Row,
    table_name: &str,
) -> Result<Vec<Value>, MySourceError> {
    let mut values = Vec::with_capacity(t.kinds.len());
    for (i, kind) in t.kinds.iter().enumerate() {
        let raw: mysql_async::Value = row.take(i).unwrap_or(mysql_async::Value::NULL);
        values.push(
            kind.convert_column(raw, Origin::Snapshot, &schema.columns[i])
                .map_err(|source| MySourceError::Value {
                    table: table_name.to_string(),
                    column: schema.columns[i].name.clone(),
                    position: "snapshot".into(),
                    source,
                })?,
        );
    }
    Ok(values)
}

/// Take the snapshot; `Ok(None)` when the pipeline closed (shutdown) before the end.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    conn: &mut Conn,
    info: &ServerInfo,
    tables: &[TableId],
    keys: &KeyOverrides,
    emitter: &mut SnapshotEmitter<'_>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    telemetry: &Telemetry,
    connector: &str,
    history: &mut super::history::Shapes,
    emit_schema: bool,
    mut readers: Vec<Conn>,
) -> Result<Option<BinlogPos>, MySourceError> {
    let q = |c: &'static str| MySourceError::sql(c);
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(q("starting the snapshot"))?;
    // More readers share the snapshot's point only if their transactions start while no
    // commit can happen: under the global read lock, on MariaDB too (which alone needs none).
    let locked = !info.mariadb
        || (!readers.is_empty()
            && match conn.query_drop("FLUSH TABLES WITH READ LOCK").await {
                Ok(()) => true,
                Err(e) => {
                    let e = MySourceError::Sql {
                        context: "locking tables for more snapshot readers (needs RELOAD)",
                        source: e,
                    };
                    tracing::warn!(connector, error = %e, "more snapshot readers need FLUSH TABLES WITH READ LOCK: one connection reads the snapshot");
                    readers.clear();
                    false
                }
            });
    let (file, pos, mysql_gtid) = if !locked {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(q("starting the snapshot transaction"))?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(q("reading the snapshot's binlog position"))?;
        let get = |n: &str| {
            rows.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let file = get("binlog_snapshot_file").unwrap_or_default();
        let pos = get("binlog_snapshot_position")
            .and_then(|p| p.parse().ok())
            .unwrap_or(4);
        (file, pos, None)
    } else {
        if !info.mariadb {
            conn.query_drop("FLUSH TABLES WITH READ LOCK")
                .await
                .map_err(q("locking tables for the snapshot (needs RELOAD)"))?;
        }
        let p = start_locked(conn, info, &mut readers).await?;
        (p.file, p.pos, p.gtid)
    };
    if file.is_empty() {
        return Err(MySourceError::Precondition {
            problem: "the server reports no binlog position for the snapshot".into(),
            hint: "enable the binary log (log_bin) and restart the server".into(),
        });
    }
    let gtid = match mysql_gtid {
        Some(g) => Some(g),
        None => gtid_at(conn, info, &file, pos).await?,
    };
    tracing::info!(connector, file = %file, pos, readers = readers.len().max(1), "snapshot started");
    let ts_us = crate::clock::now_us();
    let file_arc: Arc<str> = Arc::from(file.as_str());
    // A listed table that does not exist yet has no rows to read: it is streamed from its
    // CREATE TABLE on (the first and last markers go to the tables that exist).
    let mut present = Vec::with_capacity(tables.len());
    for table in tables {
        match catalog::table_columns(conn, table, keys).await? {
            Some(found) => present.push((table, found)),
            None => {
                tracing::warn!(connector, table = %table, "a listed table does not exist: nothing to snapshot, it is streamed from its CREATE TABLE on")
            }
        }
    }
    // Only the tables that exist have records (Debezium's snapshot lists what it finds).
    let ids: Vec<TableId> = present.iter().map(|(t, _)| (*t).clone()).collect();
    {
        // The schema history starts with the snapshot; its records are written when schema
        // changes are included.
        let position = |db: &str| Position::Mysql {
            db: Arc::from(db),
            server_id: 0,
            file: Arc::clone(&file_arc),
            pos,
            row: 0,
            gtid: None,
        };
        let (records, found) =
            super::history::snapshot_records(conn, &ids, info.mariadb, &position, ts_us).await?;
        for r in records.into_iter().filter(|_| emit_schema) {
            if emitter.mark(r).await.is_err() {
                return Ok(None);
            }
        }
        *history = found;
    }
    let done = read_all(
        conn, present, &file_arc, pos, ts_us, emitter, shutdown, telemetry, connector, readers,
    )
    .await?;
    if !done {
        return Ok(None);
    }
    conn.query_drop("COMMIT")
        .await
        .map_err(q("ending the snapshot transaction"))?;
    Ok(Some(BinlogPos { file, pos, gtid }))
}

/// Under the global read lock the caller took: start every reader's transaction and this
/// connection's, read the binlog position they all see, and release the lock (also after a
/// failure).
async fn start_locked(
    conn: &mut Conn,
    info: &ServerInfo,
    readers: &mut [Conn],
) -> Result<BinlogPos, MySourceError> {
    let p = match start_readers(readers).await {
        Ok(()) => match conn
            .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
        {
            Ok(()) => current_position(conn, info).await,
            Err(e) => Err(MySourceError::Sql {
                context: "starting the snapshot transaction",
                source: e,
            }),
        },
        Err(e) => Err(e),
    };
    conn.query_drop("UNLOCK TABLES")
        .await
        .map_err(MySourceError::sql("unlocking tables"))?;
    p
}

/// Start each extra reader's transaction (the caller holds the global read lock).
async fn start_readers(readers: &mut [Conn]) -> Result<(), MySourceError> {
    for r in readers.iter_mut() {
        for sql in [
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ] {
            r.query_drop(sql).await.map_err(MySourceError::sql(
                "starting another snapshot reader's transaction",
            ))?;
        }
    }
    Ok(())
}

/// A table as a reader reads it.
struct ReadTable {
    table: catalog::Table,
    schema: Arc<TableSchema>,
    sql: String,
    position: Position,
    name: String,
}

/// The tables read by `readers` (reader k reads tables k, k + n, …; none: `conn` reads them
/// all), each table's rows handed over in bounded batches and written in table order.
#[allow(clippy::too_many_arguments)]
async fn read_all(
    conn: &mut Conn,
    present: Vec<(&TableId, catalog::CatalogTable)>,
    file: &Arc<str>,
    pos: u64,
    ts_us: i64,
    emitter: &mut SnapshotEmitter<'_>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    telemetry: &Telemetry,
    connector: &str,
    readers: Vec<Conn>,
) -> Result<bool, MySourceError> {
    let ids: Vec<TableId> = present.iter().map(|(t, _)| (*t).clone()).collect();
    let mut prepared = Vec::with_capacity(present.len());
    for (table, (cols, key)) in present {
        let t = catalog::build_table(table.clone(), &cols, &key);
        let schema = read_schema(&t);
        let select: Vec<String> = schema
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect();
        let name = table.to_string();
        let estimate: Option<Option<u64>> = conn
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&table.namespace, &table.name),
            )
            .await
            .ok()
            .flatten();
        telemetry
            .snapshot_estimated
            .with_label_values(&[connector, &name])
            .set(estimate.flatten().unwrap_or(0) as i64);
        prepared.push(ReadTable {
            sql: format!("SELECT {} FROM {}", select.join(", "), qualified(table)),
            position: Position::Mysql {
                db: Arc::from(table.namespace.as_str()),
                server_id: 0,
                file: Arc::clone(file),
                pos,
                row: 0,
                gtid: None,
            },
            table: t,
            schema,
            name,
        });
    }
    let prepared = Arc::new(prepared);
    let order: Vec<usize> = (0..prepared.len()).collect();
    let (ins, mut work) = crate::source::snapshot::hand_offs(order.clone(), readers.len());
    let file_name = file.to_string();
    let write = crate::source::snapshot::write_parts(
        ins,
        &order,
        &ids,
        emitter,
        shutdown,
        telemetry,
        connector,
        |table| MySourceError::Decode {
            event: "snapshot row".into(),
            file: file_name.clone(),
            pos,
            reason: format!("a snapshot reader of {table} stopped before the end of the table"),
        },
    );
    if readers.is_empty() {
        // The snapshot transaction reads every table itself; it ends by itself once its
        // hand-offs are written or dropped.
        let reader = MyReader {
            conn,
            tables: prepared,
            ts_us,
            file: file.to_string(),
            pos,
            shutdown: shutdown.clone(),
        };
        let (_, written) = tokio::join!(read_parts(reader, work.pop().unwrap_or_default()), write);
        return written;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (mut conn, work) in readers.into_iter().zip(work) {
        let (tables, shutdown, file) = (Arc::clone(&prepared), shutdown.clone(), file.to_string());
        tasks.spawn(async move {
            let reader = MyReader {
                conn: &mut conn,
                tables,
                ts_us,
                file,
                pos,
                shutdown,
            };
            read_parts(reader, work).await
        });
    }
    // Dropping the set at the end (or on an error) stops the readers.
    write.await
}

/// A reader of whole tables on one connection of the snapshot.
struct MyReader<'c> {
    conn: &'c mut Conn,
    tables: Arc<Vec<ReadTable>>,
    ts_us: i64,
    file: String,
    pos: u64,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl PartReader for MyReader<'_> {
    /// The table's index.
    type Part = usize;
    type Error = MySourceError;

    async fn read(
        &mut self,
        ti: &usize,
        out: &mut Outbox<'_, MySourceError>,
    ) -> Result<bool, MySourceError> {
        let q = |c: &'static str| MySourceError::sql(c);
        let Some(t) = self.tables.get(*ti) else {
            return Ok(false);
        };
        let mut result = self
            .conn
            .exec_iter(t.sql.as_str(), ())
            .await
            .map_err(q("reading a table for the snapshot"))?;
        loop {
            if *self.shutdown.borrow() {
                return Ok(false);
            }
            let Some(mut row) = result
                .next()
                .await
                .map_err(q("reading a table for the snapshot"))?
            else {
                break;
            };
            let values = convert_row(&t.table, &t.schema, &mut row, &t.name)?;
            let ev = ChangeEvent::new(
                Op::Read,
                Arc::clone(&t.schema),
                None,
                Some(values),
                t.position.clone(),
                self.ts_us,
            )
            .map_err(|e| MySourceError::Decode {
                event: "snapshot row".into(),
                file: self.file.clone(),
                pos: self.pos,
                reason: e.to_string(),
            })?;
            if !out.push(ev).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
