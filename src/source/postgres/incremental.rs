//! PostgreSQL incremental snapshots with read-only watermarks: no write to the database, so
//! they work on a standby and with a read-only user.
//!
//! ```text
//! reader task (own connection), per chunk:
//!   BEGIN REPEATABLE READ READ ONLY
//!   pg_current_snapshot()                    ─► which transactions the read sees
//!   COPY (SELECT … WHERE key > last ORDER BY key LIMIT n) TO STDOUT
//!   pg_current_wal_insert_lsn()              ─► high watermark H
//! stream task:
//!   every committed transaction not seen by the read ─► its keys leave the chunk
//!   stream passed H (a commit ending at or after H, or the server's keepalive position)
//!     ─► the rest of the chunk is emitted as op "r", source.snapshot "incremental"
//! ```
//! Why it is exact: a transaction the read saw committed before the read's snapshot, so its
//! commit record ends at or before H and the stream emits it before the chunk; one the read
//! did not see is either streamed before H (its keys are dropped from the chunk) or after the
//! chunk. A transaction the stream emitted *before* the chunk was asked for but which the
//! read still did not see (it was between writing its commit record and becoming visible)
//! would make the chunk stale: the chunk is then read again.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::catalog::{self, qualified, quote_ident, ColumnKinds};
use super::error::PgSourceError;
use super::types::TypeRegistry;
use crate::event::{
    next_schema_version, ChangeEvent, Lsn, Position, SnapshotMarker, SnapshotProgress, TableId,
    TableSchema,
};
use crate::source::incremental::{ChunkRequest, Fence, Reader};
use crate::source::keys::KeyOverrides;

/// What a PostgreSQL chunk's read saw: its snapshot and the WAL insert position after it.
#[derive(Debug)]
pub(super) struct PgFence {
    seen: XidSnapshot,
    high: Lsn,
}

impl Fence for PgFence {
    type Txn = u32;
    type At = Lsn;
    fn sees(&self, xid: &u32) -> bool {
        self.seen.sees(*xid)
    }
    fn high(&self) -> &Lsn {
        &self.high
    }
    fn stamp(at: &Lsn, ev: &mut ChangeEvent) {
        if let Position::Postgres { lsn, .. } = &mut ev.position {
            *lsn = *at;
        }
    }
}

type ChunkRead = crate::source::incremental::ChunkRead<PgFence>;
pub(super) type Answer = crate::source::incremental::Answer<PgFence, PgSourceError>;
/// The PostgreSQL incremental snapshotter of one stream.
pub(super) type Runner = crate::source::incremental::Runner<PgFence, PgSourceError>;

/// A runner reading through `client` (a connection of its own).
pub(super) fn runner(
    connector: &str,
    client: tokio_postgres::Client,
    db: Arc<str>,
    keys: KeyOverrides,
    progress: SnapshotProgress,
    chunk_size: usize,
    telemetry: crate::telemetry::Telemetry,
) -> Runner {
    let reader = Reader::spawn(move |requests, answers| serve(client, db, keys, requests, answers));
    Runner::new(connector, reader, progress, chunk_size, telemetry)
}

/// The error for a reader task that ended.
pub(super) fn reader_stopped() -> PgSourceError {
    PgSourceError::Precondition {
        problem: "the incremental snapshot reader stopped".into(),
        hint: "restart sluice".into(),
    }
}

/// The transactions a read saw: PostgreSQL's `pg_current_snapshot()` (`xmin:xmax:xip,…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct XidSnapshot {
    xmax: u32,
    xip: Vec<u32>,
}

/// `a` is older than `b` in PostgreSQL's circular 32-bit transaction id space.
fn precedes(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl XidSnapshot {
    /// Parse the text form (64-bit ids; the stream's are their low 32 bits).
    pub(super) fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split(':');
        let _xmin: u64 = parts.next()?.parse().ok()?;
        let xmax: u64 = parts.next()?.parse().ok()?;
        let xip = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|x| x.parse::<u64>().ok().map(|x| x as u32))
                .collect::<Option<Vec<u32>>>()?,
        };
        Some(Self {
            xmax: xmax as u32,
            xip,
        })
    }

    /// Whether a committed transaction was visible to the read.
    pub(super) fn sees(&self, xid: u32) -> bool {
        precedes(xid, self.xmax) && !self.xip.contains(&xid)
    }
}

/// A table's shape as last read, reused while the catalog says the same.
struct Shape {
    table: TableId,
    columns: Vec<(String, u32, i32)>,
    schema: Arc<TableSchema>,
    kinds: ColumnKinds,
    /// Indexes of the key columns in the row (empty: the table has no key; chunks go by
    /// `ctid`).
    key: Vec<usize>,
}

async fn serve(
    client: tokio_postgres::Client,
    db: Arc<str>,
    keys: KeyOverrides,
    mut requests: mpsc::Receiver<ChunkRequest>,
    answers: mpsc::Sender<Answer>,
) {
    let mut client = client;
    let mut registry = TypeRegistry::default();
    let mut shape: Option<Shape> = None;
    while let Some(req) = requests.recv().await {
        let answer =
            match read_chunk(&mut client, &db, &keys, &mut registry, &mut shape, &req).await {
                Ok(read) => Answer::Read(read),
                Err(e) => match skip_reason(&e) {
                    Some(reason) => Answer::Skip(reason),
                    None => Answer::Failed(e),
                },
            };
        if answers.send(answer).await.is_err() {
            break;
        }
    }
}

/// A failure that no retry fixes and that concerns this table alone: the table is gone, the
/// filter is not valid SQL, the user may not read it. The reason names the SQLSTATE, not
/// the server's text (which can quote values).
fn skip_reason(e: &PgSourceError) -> Option<String> {
    let PgSourceError::Sql { source, .. } = e else {
        return match e {
            PgSourceError::Precondition { problem, .. } => Some(problem.clone()),
            // A value that does not convert, or a COPY line that does not parse: the same
            // rows would fail again, so the table's snapshot is dropped instead of the
            // stream (the message names table and column, never the value).
            PgSourceError::Value { .. } | PgSourceError::Copy { .. } => Some(e.to_string()),
            _ => None,
        };
    };
    let code = source.as_db_error()?.code().code().to_string();
    // 42: syntax error or access rule violation (undefined table or column, bad filter,
    // no privilege); 22: data exception (a filter's cast).
    (code.starts_with("42") || code.starts_with("22"))
        .then(|| format!("the chunk query failed with SQLSTATE {code}"))
}

/// The key of the last row of a COPY text line, as the server's text forms.
fn key_texts(line: &[u8], key: &[usize], extra_ctid: bool) -> Option<Vec<String>> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    if extra_ctid {
        let f = fields.last()?;
        return Some(vec![super::snapshot::unescape(f)?.into_owned()]);
    }
    key.iter()
        .map(|&i| {
            let f = fields.get(i)?;
            (*f != b"\\N")
                .then(|| super::snapshot::unescape(f).map(|c| c.into_owned()))
                .flatten()
        })
        .collect()
}

/// An `E''` literal, the same under any `standard_conforming_strings`.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

async fn read_chunk(
    client: &mut tokio_postgres::Client,
    db: &Arc<str>,
    keys: &KeyOverrides,
    registry: &mut TypeRegistry,
    cached: &mut Option<Shape>,
    req: &ChunkRequest,
) -> Result<ChunkRead, PgSourceError> {
    let txn = super::snapshot::begin(client, None).await?;
    // The first statement takes the transaction's snapshot: the chunk reads through it.
    let snap: String = txn
        .query_one("SELECT pg_current_snapshot()::text", &[])
        .await
        .map_err(PgSourceError::sql("reading the chunk's snapshot"))?
        .get(0);
    let seen = XidSnapshot::parse(&snap).ok_or_else(|| PgSourceError::Precondition {
        problem: format!("pg_current_snapshot() answered an unknown form `{snap}`"),
        hint: "report a bug with the server version".into(),
    })?;
    let cat = catalog::table_columns(&txn, &req.table, keys).await?;
    if cat.is_empty() {
        return Err(PgSourceError::Precondition {
            problem: format!("table {} does not exist (any more)", req.table),
            hint: "nothing to do: its snapshot is dropped".into(),
        });
    }
    let cols: Vec<(String, u32, i32)> = cat
        .iter()
        .map(|c| (c.name.clone(), c.type_oid, c.typmod))
        .collect();
    let fresh = !matches!(cached, Some(s) if s.table == req.table && s.columns == cols);
    if fresh {
        let oids: Vec<u32> = cols.iter().map(|c| c.1).collect();
        catalog::learn_types(&txn, registry, &oids).await?;
        let (schema, kinds) = catalog::build_schema(
            req.table.clone(),
            &cols,
            &cat,
            registry,
            next_schema_version(),
        );
        let key = schema.key_columns.clone();
        *cached = Some(Shape {
            table: req.table.clone(),
            columns: cols.clone(),
            schema: Arc::new(schema),
            kinds,
            key,
        });
    }
    let Some(shape) = cached.as_ref() else {
        return Err(PgSourceError::Precondition {
            problem: "no table shape".into(),
            hint: "report a bug".into(),
        });
    };
    // Keyless tables go in ctid order (a TID range scan): bounded chunks, no window filter
    // (their changes carry no key to match).
    // (A blocking snapshot reads in ctid order too: the physical order Debezium's plain
    // SELECT returns, and no window filter is needed while the stream waits.)
    let by_ctid = shape.key.is_empty() || req.blocking;
    let order: Vec<String> = if by_ctid {
        vec!["ctid".into()]
    } else {
        shape.key.iter().map(|&i| quote_ident(&cols[i].0)).collect()
    };
    let mut conds: Vec<String> = Vec::new();
    // The configured row filter (`publication_filter`) first: no read sees other rows.
    if let Some(f) = keys.filter(&req.table) {
        conds.push(format!("({f})"));
    }
    if let Some(f) = &req.filter {
        conds.push(format!("({f})"));
    }
    if let Some(after) = &req.after {
        let lits: Vec<String> = if by_ctid {
            after
                .iter()
                .map(|t| format!("{}::tid", literal(t)))
                .collect()
        } else {
            after.iter().map(|t| literal(t)).collect()
        };
        conds.push(format!("({}) > ({})", order.join(", "), lits.join(", ")));
    }
    let mut select: Vec<String> = cols.iter().map(|(n, _, _)| quote_ident(n)).collect();
    if by_ctid {
        select.push("ctid".into());
    }
    let sql = format!(
        "COPY (SELECT {} FROM {}{} ORDER BY {} LIMIT {}) TO STDOUT",
        select.join(", "),
        qualified(&req.table),
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        },
        order.join(", "),
        req.size
    );
    let table_name = req.table.to_string();
    let estimate = if req.after.is_none() {
        txn.query_opt(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
            &[&qualified(&req.table)],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get::<_, f64>(0).max(0.0) as u64)
    } else {
        None
    };
    let stream = txn
        .copy_out(sql.as_str())
        .await
        .map_err(PgSourceError::sql("reading an incremental snapshot chunk"))?;
    futures_util::pin_mut!(stream);
    let mut buf = BytesMut::new();
    let mut rows = Vec::new();
    let mut last_line: Option<Bytes> = None;
    let position = Position::Postgres {
        db: Arc::clone(db),
        lsn: Lsn(0),
        tx_id: None,
        last_commit_lsn: None,
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(PgSourceError::sql("reading an incremental snapshot chunk"))?;
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(nl + 1).freeze().slice(..nl);
            let row_line = if by_ctid {
                match line.iter().rposition(|&b| b == b'\t') {
                    Some(tab) => line.slice(..tab),
                    None => line.clone(),
                }
            } else {
                line.clone()
            };
            let mut ev = super::snapshot::copy_event(
                &row_line,
                &shape.schema,
                &shape.kinds,
                &table_name,
                &position,
                0,
            )?;
            ev.snapshot = Some(SnapshotMarker::Incremental);
            rows.push(ev);
            last_line = Some(line);
        }
    }
    if !buf.is_empty() {
        return Err(PgSourceError::Copy {
            table: table_name,
            detail: "data ended in the middle of a row",
        });
    }
    let high: String = txn
        .query_one(
            // The insert position, not pg_current_wal_lsn() (the write position): with
            // synchronous_commit off, a commit the read saw can still sit in the WAL
            // buffers, beyond the write position.
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
             ELSE pg_current_wal_insert_lsn() END)::text",
            &[],
        )
        .await
        .map_err(PgSourceError::sql("reading the chunk's high watermark"))?
        .get(0);
    txn.commit()
        .await
        .map_err(PgSourceError::sql("ending an incremental snapshot chunk"))?;
    let last = match &last_line {
        Some(l) => Some(
            // A NULL in a configured key column: the chunk cannot say where the next one
            // starts, so the table's snapshot is dropped (with this reason) rather than
            // retried forever.
            key_texts(l, &shape.key, by_ctid).ok_or_else(|| PgSourceError::Precondition {
                problem: format!(
                    "a row of {table_name} has a NULL in a key column; chunks cannot continue after it"
                ),
                hint: "give the table key_columns that are NOT NULL, or a primary key".into(),
            })?,
        ),
        None => None,
    };
    Ok(ChunkRead {
        complete: rows.len() < req.size,
        rows,
        last,
        fence: PgFence {
            seen,
            high: Lsn::parse(&high).unwrap_or_default(),
        },
        estimate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visibility follows PostgreSQL's snapshot rules, across the 32-bit wrap.
    #[test]
    fn xid_snapshot() {
        let s = XidSnapshot::parse("100:105:101,103").expect("valid");
        assert!(s.sees(99) && s.sees(100) && s.sees(102) && s.sees(104));
        assert!(!s.sees(101) && !s.sees(103) && !s.sees(105) && !s.sees(200));
        let none = XidSnapshot::parse("7:7:").expect("valid");
        assert!(none.sees(6) && !none.sees(7));
        // 64-bit ids with an epoch: the low 32 bits, compared circularly.
        let wrap = XidSnapshot::parse("8589934590:8589934594:").expect("valid");
        assert!(wrap.sees(u32::MAX - 1) && wrap.sees(1) && !wrap.sees(2));
        assert!(XidSnapshot::parse("x").is_none());
    }

    /// The key of a COPY line comes back as text, unescaped.
    #[test]
    fn key_texts_of_a_line() {
        assert_eq!(
            key_texts(b"1\ta\\tb\t\\N", &[1, 0], false),
            Some(vec!["a\tb".to_string(), "1".to_string()])
        );
        assert_eq!(key_texts(b"1\t\\N", &[1], false), None);
        assert_eq!(
            key_texts(b"1\tx\t(0,3)", &[], true),
            Some(vec!["(0,3)".to_string()])
        );
        assert_eq!(literal("a'b\\c"), "E'a''b\\\\c'");
    }
}
