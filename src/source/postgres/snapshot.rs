//! Initial snapshot: every configured table read inside one REPEATABLE READ, read-only
//! transaction, on the snapshot the replication slot exported (or a fresh one for
//! `initial_only`), so the stream continues exactly where the snapshot ends.
//!
//! ```text
//! CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT ──► BEGIN RR READ ONLY; SET TRANSACTION SNAPSHOT
//!   for each table: COPY (SELECT cols FROM t) TO STDOUT ──► rows ──► op "r" events ──► batches
//! final batch: checkpoint { consistent point, snapshot_done }
//! ```
//! With `snapshot_max_threads` above 1, more connections import the same snapshot and read
//! tables (and `ctid` ranges of large ones) ahead, each into a bounded hand-off; the writer
//! takes the parts in order, so the output is what one reader gives.
//!
//! Invariants: no checkpoint is emitted before the last row, so an interrupted snapshot is
//! never half-acknowledged (it restarts from scratch); memory is bounded by the batch limits
//! and the hand-offs (two of 1,024 rows per part being read).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf as _, BytesMut};
use futures_util::StreamExt;
use tokio_postgres::Transaction;

use super::catalog::{self, qualified, quote_ident, ColumnKinds};
use super::error::PgSourceError;
use super::types::{parse_text, TypeRegistry};
use crate::event::{next_schema_version, ChangeEvent, Op, Position, TableId, TableSchema, Value};
use crate::source::snapshot::{read_parts, Outbox, PartReader, SnapshotEmitter};

/// Begin the snapshot transaction, importing `exported` when given.
pub(crate) async fn begin<'c>(
    client: &'c mut tokio_postgres::Client,
    exported: Option<&str>,
) -> Result<Transaction<'c>, PgSourceError> {
    let txn = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(PgSourceError::sql("starting the snapshot transaction"))?;
    if let Some(name) = exported {
        txn.batch_execute(&format!(
            "SET TRANSACTION SNAPSHOT {}",
            catalog::quote_literal(name)
        ))
        .await
        .map_err(PgSourceError::sql("importing the slot's snapshot"))?;
    }
    Ok(txn)
}

/// Export the snapshot of `txn` for more readers (valid while `txn` is open).
pub(crate) async fn export(txn: &Transaction<'_>) -> Result<String, PgSourceError> {
    let row = txn
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(PgSourceError::sql(
            "exporting the snapshot for more readers",
        ))?;
    Ok(row.get(0))
}

/// One more reader of the snapshot `exported`: a connection in its own REPEATABLE READ,
/// read-only transaction that imported it (ended when the connection is dropped).
pub(crate) async fn reader(
    client: tokio_postgres::Client,
    exported: &str,
) -> Result<tokio_postgres::Client, PgSourceError> {
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            catalog::quote_literal(exported)
        ))
        .await
        .map_err(PgSourceError::sql(
            "importing the snapshot into another reader",
        ))?;
    Ok(client)
}

/// How many connections read, and whether a large table may be split by `ctid` range
/// (PostgreSQL 14 and newer scan a `ctid` range without reading the rest of the table).
/// The default: the snapshot transaction reads alone.
#[derive(Default)]
pub(crate) struct Readers {
    /// Connections besides the snapshot transaction, each in the same snapshot; none: the
    /// snapshot transaction reads every table itself.
    pub clients: Vec<tokio_postgres::Client>,
    /// Whether a table of at least [`SPLIT_MIN_PAGES`] pages is read in `ctid` ranges.
    pub split: bool,
}

/// A table smaller than this (in 8 kB pages, 16 MB) is read by one `COPY`.
const SPLIT_MIN_PAGES: i64 = 2048;
/// A part of a split table is at least this many pages.
const PART_MIN_PAGES: i64 = 512;

/// What a reader needs to turn a table's COPY lines into events.
#[derive(Debug)]
struct Table {
    name: String,
    schema: Arc<TableSchema>,
    kinds: Arc<ColumnKinds>,
}

/// One `COPY` of a table, or of a `ctid` range of it.
struct Part {
    table: usize,
    sql: String,
}

/// The connection a reader copies from.
#[derive(Clone, Copy)]
enum Conn<'a> {
    Txn(&'a Transaction<'a>),
    Client(&'a tokio_postgres::Client),
}

impl Conn<'_> {
    async fn copy_out(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::CopyOutStream, tokio_postgres::Error> {
        match self {
            Conn::Txn(t) => t.copy_out(sql).await,
            Conn::Client(c) => c.copy_out(sql).await,
        }
    }
}

/// Read every table and emit `r` events. Returns `Ok(false)` when the pipeline closed.
///
/// With more readers, tables (and `ctid` ranges of large ones) are read ahead on their own
/// connections, each into a bounded hand-off, while the parts before them are written: the
/// output is in the order one reader would give, with the same snapshot markers, and memory
/// holds at most a few hand-offs per reader.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy_tables(
    txn: &Transaction<'_>,
    db: &str,
    tables: &[TableId],
    keys: &crate::source::keys::KeyOverrides,
    position_lsn: crate::event::Lsn,
    registry: &mut TypeRegistry,
    emitter: &mut SnapshotEmitter<'_>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    telemetry: &crate::telemetry::Telemetry,
    connector: &str,
    readers: Readers,
) -> Result<bool, PgSourceError> {
    let ts_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let position = Position::Postgres {
        db: Arc::from(db),
        lsn: position_lsn,
        tx_id: None,
        last_commit_lsn: None,
    };
    let threads = readers.clients.len().max(1);
    // Every table's shape and statements first (the catalog as the snapshot sees it).
    let mut prepared = Vec::with_capacity(tables.len());
    let mut parts = Vec::new();
    for (ti, table) in tables.iter().enumerate() {
        let cat = catalog::table_columns(txn, table, keys).await?;
        let oids: Vec<u32> = cat.iter().map(|c| c.type_oid).collect();
        catalog::learn_types(txn, registry, &oids).await?;
        let cols: Vec<(String, u32, i32)> = cat
            .iter()
            .map(|c| (c.name.clone(), c.type_oid, c.typmod))
            .collect();
        let (schema, kinds) =
            catalog::build_schema(table.clone(), &cols, &cat, registry, next_schema_version());
        let select: Vec<String> = cols.iter().map(|(n, _, _)| quote_ident(n)).collect();
        let table_name = table.to_string();
        // Progress: the catalog's estimate beside the rows read (an estimate: -1 or 0 for a
        // table never analyzed); its size in pages now decides a split (pages added later
        // are in the last, open-ended range).
        let (estimate, pages) = txn
            .query_opt(
                &format!(
                    "SELECT c.reltuples, pg_relation_size(c.oid) / current_setting('block_size')::int8 \
                     FROM pg_class c WHERE c.oid = to_regclass({})",
                    catalog::quote_literal(&qualified(table))
                ),
                &[],
            )
            .await
            .ok()
            .flatten()
            .map_or((None, 0), |r| (Some(r.get::<_, f32>(0)), r.get::<_, i64>(1)));
        telemetry
            .snapshot_estimated
            .with_label_values(&[connector, &table_name])
            .set(estimate.map_or(0, |e| e.max(0.0) as i64));
        let filter = keys.filter(table).map(|f| format!("({f})"));
        let base = format!(
            "COPY (SELECT {} FROM {}",
            select.join(", "),
            qualified(table)
        );
        let ranges = if readers.split && threads > 1 && pages >= SPLIT_MIN_PAGES {
            ((threads as i64) * 4).min(pages / PART_MIN_PAGES).max(1)
        } else {
            1
        };
        for r in 0..ranges {
            let mut conds: Vec<String> = filter.iter().cloned().collect();
            if r > 0 {
                conds.push(format!("ctid >= '({},0)'::tid", r * pages / ranges));
            }
            if r + 1 < ranges {
                conds.push(format!("ctid < '({},0)'::tid", (r + 1) * pages / ranges));
            }
            let sql = if conds.is_empty() {
                format!("{base}) TO STDOUT")
            } else {
                format!("{base} WHERE {}) TO STDOUT", conds.join(" AND "))
            };
            parts.push(Part { table: ti, sql });
        }
        prepared.push(Table {
            name: table_name,
            schema: Arc::new(schema),
            kinds: Arc::new(kinds),
        });
    }
    let prepared = Arc::new(prepared);
    let order: Vec<usize> = parts.iter().map(|p| p.table).collect();
    let (ins, mut work) = crate::source::snapshot::hand_offs(parts, threads);
    let write = crate::source::snapshot::write_parts(
        ins,
        &order,
        tables,
        emitter,
        shutdown,
        telemetry,
        connector,
        |table| PgSourceError::Copy {
            table,
            detail: "a snapshot reader stopped before the end of the table",
        },
    );
    if readers.clients.is_empty() {
        let work = work.pop().unwrap_or_default();
        let reader = PgReader {
            conn: Conn::Txn(txn),
            tables: prepared,
            position,
            ts_us,
            shutdown: shutdown.clone(),
        };
        // The reader ends by itself once its hand-offs are written or dropped.
        let (_, written) = tokio::join!(read_parts(reader, work), write);
        written
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for (client, work) in readers.clients.into_iter().zip(work) {
            let (tables, position, shutdown) =
                (Arc::clone(&prepared), position.clone(), shutdown.clone());
            tasks.spawn(async move {
                let reader = PgReader {
                    conn: Conn::Client(&client),
                    tables,
                    position,
                    ts_us,
                    shutdown,
                };
                read_parts(reader, work).await
            });
        }
        // Dropping the set at the end (or on an error) stops the readers.
        write.await
    }
}

/// A reader of parts on one connection of the snapshot.
struct PgReader<'a> {
    conn: Conn<'a>,
    tables: Arc<Vec<Table>>,
    position: Position,
    ts_us: i64,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl PartReader for PgReader<'_> {
    type Part = Part;
    type Error = PgSourceError;

    async fn read(
        &mut self,
        part: &Part,
        out: &mut Outbox<'_, PgSourceError>,
    ) -> Result<bool, PgSourceError> {
        let Some(table) = self.tables.get(part.table) else {
            return Ok(false);
        };
        let stream = self
            .conn
            .copy_out(part.sql.as_str())
            .await
            .map_err(PgSourceError::sql("starting COPY for the snapshot"))?;
        futures_util::pin_mut!(stream);
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            if *self.shutdown.borrow() {
                return Ok(false);
            }
            let chunk = chunk.map_err(PgSourceError::sql("reading COPY data"))?;
            // PostgreSQL sends one row per CopyData message: parse it in place; anything
            // else is joined up in `buf` and split at the line ends.
            if buf.is_empty()
                && memchr::memchr(b'\n', &chunk).is_some_and(|nl| nl + 1 == chunk.len())
            {
                let ev = table.event(&chunk[..chunk.len() - 1], &self.position, self.ts_us)?;
                if !out.push(ev).await {
                    return Ok(false);
                }
                continue;
            }
            buf.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[start..]) {
                let ev = table.event(&buf[start..start + nl], &self.position, self.ts_us)?;
                start += nl + 1;
                if !out.push(ev).await {
                    return Ok(false);
                }
            }
            buf.advance(start);
        }
        if !buf.is_empty() {
            return Err(PgSourceError::Copy {
                table: table.name.clone(),
                detail: "data ended in the middle of a row",
            });
        }
        Ok(true)
    }
}

impl Table {
    /// The snapshot (`r`) event of one COPY text line (without its line end).
    fn event(
        &self,
        line: &[u8],
        position: &Position,
        ts_us: i64,
    ) -> Result<ChangeEvent, PgSourceError> {
        copy_event(line, &self.schema, &self.kinds, &self.name, position, ts_us)
    }
}

/// The read (`r`) event of one COPY text line (without its line end) of `table`.
pub(super) fn copy_event(
    line: &[u8],
    schema: &Arc<TableSchema>,
    kinds: &ColumnKinds,
    table: &str,
    position: &Position,
    ts_us: i64,
) -> Result<ChangeEvent, PgSourceError> {
    let row = parse_copy_row(line, schema, kinds, table)?;
    ChangeEvent::new(
        Op::Read,
        Arc::clone(schema),
        None,
        Some(row),
        position.clone(),
        ts_us,
    )
    .map_err(|_| PgSourceError::Copy {
        table: table.to_string(),
        detail: "row does not match the table's columns",
    })
}

/// One table's COPY text lines turned into snapshot events exactly as the snapshot does,
/// without a server: for benchmarks and tests.
#[derive(Debug)]
pub struct CopyText {
    table: Table,
    position: Position,
}

impl CopyText {
    /// A table of `columns` (name, type OID, typmod: builtin types only) keyed by the
    /// columns at `key`, read at `position`.
    pub fn new(
        table: TableId,
        columns: &[(String, u32, i32)],
        key: Vec<usize>,
        position: Position,
    ) -> Self {
        let (mut schema, kinds) =
            catalog::build_schema(table, columns, &[], &TypeRegistry::default(), 1);
        schema.key_columns = key;
        Self {
            table: Table {
                name: schema.table.to_string(),
                schema: Arc::new(schema),
                kinds: Arc::new(kinds),
            },
            position,
        }
    }

    /// The event of one line (without its line end), as of `ts_us`.
    pub fn event(&self, line: &[u8], ts_us: i64) -> Result<ChangeEvent, PgSourceError> {
        self.table.event(line, &self.position, ts_us)
    }
}

/// Split one COPY text-format line into converted values.
fn parse_copy_row(
    line: &[u8],
    schema: &TableSchema,
    kinds: &ColumnKinds,
    table: &str,
) -> Result<Vec<Value>, PgSourceError> {
    let mut out = Vec::with_capacity(kinds.len());
    let bad = |detail| PgSourceError::Copy {
        table: table.to_string(),
        detail,
    };
    // The line is checked for UTF-8 once (fields end at ASCII tabs, so each is valid too),
    // and for escapes once: most lines have none, and their fields are borrowed as they are.
    let line = std::str::from_utf8(line).map_err(|_| bad("invalid escape or utf-8"))?;
    let escaped = memchr::memchr(b'\\', line.as_bytes()).is_some();
    let mut rest = Some(line);
    let fields = std::iter::from_fn(|| {
        let r = rest?;
        match memchr::memchr(b'\t', r.as_bytes()) {
            Some(tab) => {
                rest = r.get(tab + 1..);
                r.get(..tab)
            }
            None => rest.take(),
        }
    });
    for (i, field) in fields.enumerate() {
        let Some((kind, typmod)) = kinds.get(i) else {
            return Err(bad("more fields than columns"));
        };
        if field == "\\N" {
            out.push(Value::Null);
            continue;
        }
        let text = if escaped && field.contains('\\') {
            unescape(field.as_bytes()).ok_or_else(|| bad("invalid escape or utf-8"))?
        } else {
            std::borrow::Cow::Borrowed(field)
        };
        let v =
            parse_text(kind, *typmod, text.as_ref()).map_err(|source| PgSourceError::Value {
                table: table.to_string(),
                column: schema.columns[i].name.clone(),
                position: "snapshot".into(),
                source,
            })?;
        out.push(v);
    }
    if out.len() != kinds.len() {
        return Err(bad("fewer fields than columns"));
    }
    Ok(out)
}

/// Undo COPY text-format escaping (borrowing when there is nothing to undo).
pub(super) fn unescape(field: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    if memchr::memchr(b'\\', field).is_none() {
        return std::str::from_utf8(field)
            .ok()
            .map(std::borrow::Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = *field.get(i + 1)?;
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(next - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match field.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COPY escapes decode to the original bytes.
    #[test]
    fn copy_unescape() {
        assert_eq!(unescape(b"plain").as_deref(), Some("plain"));
        assert_eq!(unescape(b"a\\tb\\nc\\\\d").as_deref(), Some("a\tb\nc\\d"));
        assert_eq!(unescape(b"\\101\\x42").as_deref(), Some("AB"));
        assert_eq!(unescape(b"\\\\x0102").as_deref(), Some("\\x0102"));
        assert_eq!(unescape(b"trailing\\"), None);
    }
}
