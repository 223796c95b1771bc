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

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::catalog::{self, qualified, quote_ident, ColumnKinds};
use super::error::PgSourceError;
use super::types::TypeRegistry;
use crate::event::{
    next_schema_version, ChangeEvent, IncrementalTable, Lsn, Op, Position, SnapshotMarker,
    SnapshotProgress, TableId, TableSchema, Value,
};
use crate::source::incremental::Chunk;
use crate::source::keys::KeyOverrides;

/// How many committed transaction ids the stream remembers, to find one the stream emitted
/// before a chunk's read but the read did not see yet.
const RECENT_XIDS: usize = 4096;

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

/// One chunk to read.
#[derive(Debug, Clone)]
struct ChunkRequest {
    table: TableId,
    filter: Option<String>,
    after: Option<Vec<String>>,
    size: usize,
}

/// A chunk read, waiting for its window to close.
#[derive(Debug)]
pub(super) struct ChunkRead {
    rows: Vec<ChangeEvent>,
    /// The key (as text) of the last row read: where the next chunk starts.
    last: Option<Vec<String>>,
    /// Fewer rows than asked: the table is done after this chunk.
    complete: bool,
    seen: XidSnapshot,
    high: Lsn,
    /// The catalog's row estimate (first chunk of a table only).
    estimate: Option<u64>,
}

/// What the reader answers.
#[derive(Debug)]
pub(super) enum Answer {
    Read(ChunkRead),
    /// The table cannot be snapshotted (gone, bad filter, no privilege): drop it from the
    /// queue with this reason.
    Skip(String),
    /// A failure a retry of the connector may fix.
    Failed(PgSourceError),
}

/// The reader task: its own connection, one chunk at a time.
struct Reader {
    requests: mpsc::Sender<ChunkRequest>,
    answers: mpsc::Receiver<Answer>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
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
    let by_ctid = shape.key.is_empty();
    let order: Vec<String> = if by_ctid {
        vec!["ctid".into()]
    } else {
        shape.key.iter().map(|&i| quote_ident(&cols[i].0)).collect()
    };
    let mut conds: Vec<String> = Vec::new();
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
            let row = super::snapshot::parse_copy_row(
                &row_line,
                &shape.schema,
                &shape.kinds,
                &table_name,
            )?;
            let mut ev = ChangeEvent::new(
                Op::Read,
                Arc::clone(&shape.schema),
                None,
                Some(row),
                position.clone(),
                0,
            )
            .map_err(|_| PgSourceError::Copy {
                table: table_name.clone(),
                detail: "row does not match the table's columns",
            })?;
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
        seen,
        high: Lsn::parse(&high).unwrap_or_default(),
        estimate,
    })
}

/// A chunk being read: changes of its table since the request, by transaction.
struct Reading {
    log: Vec<(u32, Option<Vec<Value>>)>,
    /// Transactions the stream emitted before the request.
    before: Vec<u32>,
}

/// A chunk read, waiting for the stream to pass its high watermark.
struct Waiting {
    chunk: Chunk,
    last: Option<Vec<String>>,
    complete: bool,
    seen: XidSnapshot,
    high: Lsn,
}

/// Chunks read ahead of the window that closes next: the reader reads the next chunk while
/// earlier ones wait for the stream.
const READ_AHEAD: usize = 2;

/// Chunks written but not yet acknowledged by the sink before the next one is read: the
/// snapshot's rows never queue up in front of streamed changes by more than this.
const UNACKED_CHUNKS: usize = 2;

/// The incremental snapshotter of one PostgreSQL stream. The stream calls its hooks in
/// stream order; it never blocks the stream. Chunks of the table at the head of the queue
/// are read one after another (each starts after the last key of the one before) while the
/// read ones wait, in order, for their windows to close.
pub(super) struct Runner {
    connector: String,
    progress: Arc<SnapshotProgress>,
    chunk_size: usize,
    reader: Reader,
    reading: Option<Reading>,
    waiting: VecDeque<Waiting>,
    /// Transaction ids the stream committed lately, newest last.
    recent: VecDeque<u32>,
    /// Keys of the reading table changed by the open transaction (`None`: a truncate).
    open: Vec<Option<Vec<Value>>>,
    /// How far the stream is: the end of the last commit, or the server's position.
    stream_at: Lsn,
    /// A chunk request was abandoned (its table stopped): its answer is read and dropped.
    drain_answer: bool,
    /// The progress written with each chunk not yet acknowledged, oldest first.
    unacked: VecDeque<Arc<SnapshotProgress>>,
    telemetry: crate::telemetry::Telemetry,
    /// Where the progress is shown to the management API.
    pub(super) show: Option<crate::source::incremental::SnapshotInbox>,
    /// The table at the head of the queue (parsed once per progress version, not per
    /// change).
    head: Option<TableId>,
}

/// The table at the head of `p`'s queue.
fn head_of(p: &SnapshotProgress) -> Option<TableId> {
    crate::source::incremental::table_id(&p.queue.first()?.table)
}

impl Runner {
    /// A runner reading through `client` (a connection of its own).
    pub(super) fn new(
        connector: &str,
        client: tokio_postgres::Client,
        db: Arc<str>,
        keys: KeyOverrides,
        progress: SnapshotProgress,
        chunk_size: usize,
        telemetry: crate::telemetry::Telemetry,
    ) -> Self {
        let (req_tx, req_rx) = mpsc::channel(1);
        let (ans_tx, ans_rx) = mpsc::channel(1);
        let task = tokio::spawn(serve(client, db, keys, req_rx, ans_tx));
        Self {
            connector: connector.to_string(),
            head: head_of(&progress),
            progress: Arc::new(progress),
            chunk_size: chunk_size.max(1),
            reader: Reader {
                requests: req_tx,
                answers: ans_rx,
                task,
            },
            reading: None,
            waiting: VecDeque::new(),
            recent: VecDeque::with_capacity(RECENT_XIDS),
            open: Vec::new(),
            stream_at: Lsn(0),
            drain_answer: false,
            unacked: VecDeque::new(),
            telemetry,
            show: None,
        }
    }

    /// Replace the progress with a newer version.
    fn set(&mut self, mut p: SnapshotProgress) {
        p.generation = self.progress.generation + 1;
        self.head = head_of(&p);
        self.progress = Arc::new(p);
    }

    /// The progress to save with the next checkpoint.
    pub(super) fn progress(&self) -> Arc<SnapshotProgress> {
        Arc::clone(&self.progress)
    }

    fn current(&self) -> Option<&IncrementalTable> {
        self.progress.queue.first()
    }

    /// Forget every chunk in flight (its table stopped or was dropped).
    fn forget(&mut self) {
        if self.reading.take().is_some() {
            self.drain_answer = true;
        }
        self.waiting.clear();
    }

    /// Apply an operator's or a signal's request.
    pub(super) fn request(&mut self, req: crate::source::incremental::Request) {
        let mut p = (*self.progress).clone();
        let head = p.queue.first().cloned();
        crate::source::incremental::apply(&mut p, req, &self.connector);
        let head_changed = p.queue.first() != head.as_ref();
        self.set(p);
        if head_changed {
            self.forget();
        }
        self.report();
    }

    /// A table is captured from now on (it appeared): it may be snapshotted.
    pub(super) fn capture(&mut self, name: String) {
        if !self.progress.tables.contains(&name) {
            let mut p = (*self.progress).clone();
            p.tables.push(name);
            self.set(p);
        }
    }

    /// The sink acknowledged a checkpoint carrying `p`: the chunks written up to it are
    /// durable.
    pub(super) fn acknowledged(&mut self, p: &SnapshotProgress) {
        // A checkpoint carries the progress as it was when it was made: every chunk written
        // with that version or an older one is in its batch or an earlier one.
        self.unacked.retain(|u| u.generation > p.generation);
    }

    /// The Kafka signal at `offset` was taken: the next checkpoint saves it.
    pub(super) fn signal_taken(&mut self, offset: i64) {
        let mut p = (*self.progress).clone();
        p.signal_offset = Some(offset);
        self.set(p);
        self.report();
    }

    pub(super) fn report(&self) {
        if let Some(inbox) = &self.show {
            inbox.show(Arc::clone(&self.progress));
        }
        self.telemetry
            .snapshot_remaining
            .with_label_values(&[&self.connector])
            .set(self.progress.queue.len() as i64);
    }

    /// Ask for the next chunk when the reader is free, fewer than [`READ_AHEAD`] chunks wait,
    /// and the head table has rows left to read.
    pub(super) async fn kick(&mut self) {
        if self.reading.is_some()
            || self.waiting.len() >= READ_AHEAD
            || self.unacked.len() >= UNACKED_CHUNKS
            || self.progress.paused
            || self.drain_answer
        {
            return;
        }
        let (Some(cur), Some(table)) = (self.current().cloned(), self.head.clone()) else {
            return;
        };
        let after = match self.waiting.back() {
            // The table's last chunk is read: the next table waits for its window.
            Some(w) if w.complete => return,
            Some(w) => w.last.clone(),
            None => cur.after.clone(),
        };
        let req = ChunkRequest {
            table,
            filter: cur.filter.clone(),
            after,
            size: self.chunk_size,
        };
        if self.reader.requests.send(req).await.is_ok() {
            self.reading = Some(Reading {
                log: Vec::new(),
                before: self.recent.iter().copied().collect(),
            });
        }
    }

    /// Changes decoded in the open transaction (`events` are the new ones). Kept whenever a
    /// table is queued, not only while a chunk is in flight: a chunk may be asked for before
    /// this transaction's commit arrives, and the read may not see the transaction (it was
    /// still committing), so its keys must reach the chunk's log at the commit.
    pub(super) fn changes(&mut self, events: &[ChangeEvent]) {
        if self.progress.queue.is_empty() {
            return;
        }
        let Some(table) = &self.head else {
            return;
        };
        for ev in events.iter().filter(|e| &e.schema.table == table) {
            match ev.op {
                Op::Truncate => self.open.push(None),
                _ if !ev.key.is_empty() => self.open.push(Some(ev.key.clone())),
                _ => {}
            }
        }
    }

    /// A transaction committed, its commit record ending at `end`. Returns the rows to
    /// emit after it, when its commit closed windows.
    pub(super) fn commit(&mut self, xid: Option<u32>, end: Lsn) -> Option<Vec<ChangeEvent>> {
        let keys = std::mem::take(&mut self.open);
        if let Some(x) = xid {
            if self.recent.len() == RECENT_XIDS {
                self.recent.pop_front();
            }
            self.recent.push_back(x);
            for w in self.waiting.iter_mut().filter(|w| !w.seen.sees(x)) {
                for k in &keys {
                    match k {
                        Some(k) => w.chunk.drop_key(k),
                        None => w.chunk.clear(),
                    }
                }
            }
            if let Some(r) = &mut self.reading {
                r.log.extend(keys.into_iter().map(|k| (x, k)));
            }
        }
        self.advance(end)
    }

    /// The server says everything before `at` was sent (outside any transaction).
    pub(super) fn position(&mut self, at: Lsn) -> Option<Vec<ChangeEvent>> {
        self.advance(at)
    }

    /// Close every window the stream has passed, in order.
    fn advance(&mut self, at: Lsn) -> Option<Vec<ChangeEvent>> {
        self.stream_at = self.stream_at.max(at);
        let mut out: Option<Vec<ChangeEvent>> = None;
        while self
            .waiting
            .front()
            .is_some_and(|w| self.stream_at >= w.high)
        {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            let rows = self.close(w);
            match &mut out {
                Some(o) => o.extend(rows),
                None => out = Some(rows),
            }
        }
        out
    }

    /// Wait for the reader's answer (pending forever when no chunk is being read).
    pub(super) async fn answer(&mut self) -> Option<Answer> {
        if self.reading.is_some() || self.drain_answer {
            self.reader.answers.recv().await
        } else {
            std::future::pending().await
        }
    }

    /// The reader answered. `Err` for a failure the connector's retry may fix; rows to emit
    /// when the stream is already past the chunk's high watermark.
    pub(super) fn answered(
        &mut self,
        answer: Option<Answer>,
        in_tx: bool,
    ) -> Result<Option<Vec<ChangeEvent>>, PgSourceError> {
        if std::mem::take(&mut self.drain_answer) {
            // The answer to a request that was stopped meanwhile.
            return Ok(None);
        }
        let Some(Reading { log, before }) = self.reading.take() else {
            return Ok(None);
        };
        let read = match answer {
            Some(Answer::Read(r)) => r,
            Some(Answer::Skip(reason)) => {
                self.forget();
                let mut p = (*self.progress).clone();
                if !p.queue.is_empty() {
                    let t = p.queue.remove(0);
                    tracing::warn!(
                        connector = %self.connector,
                        table = %t.table,
                        reason = %reason,
                        "incremental snapshot of the table dropped"
                    );
                }
                self.set(p);
                self.report();
                return Ok(None);
            }
            Some(Answer::Failed(e)) => return Err(e),
            None => {
                return Err(PgSourceError::Precondition {
                    problem: "the incremental snapshot reader stopped".into(),
                    hint: "restart sluice".into(),
                })
            }
        };
        // A transaction emitted before the request that the read did not see: the chunk may
        // be older than what was emitted. Read it again (rare: a commit in flight).
        if before.iter().any(|&x| !read.seen.sees(x)) {
            tracing::debug!(connector = %self.connector, "chunk raced a commit; reading it again");
            return Ok(None);
        }
        tracing::debug!(
            connector = %self.connector,
            rows = read.rows.len(),
            high = %read.high,
            stream_at = %self.stream_at,
            "chunk read; waiting for the stream to pass its high watermark"
        );
        if let Some(e) = read.estimate {
            let mut p = (*self.progress).clone();
            if let Some(cur) = p.queue.first_mut() {
                cur.estimate = Some(e);
                self.telemetry
                    .snapshot_estimated
                    .with_label_values(&[&self.connector, &cur.table])
                    .set(e as i64);
            }
            self.set(p);
        }
        let mut chunk = Chunk::new(read.rows);
        for (x, k) in log {
            if !read.seen.sees(x) {
                match k {
                    Some(k) => chunk.drop_key(&k),
                    None => chunk.clear(),
                }
            }
        }
        self.waiting.push_back(Waiting {
            chunk,
            last: read.last,
            complete: read.complete,
            seen: read.seen,
            high: read.high,
        });
        // Inside a transaction the rows wait for its commit (which closes the window).
        if in_tx {
            return Ok(None);
        }
        Ok(self.advance(Lsn(0)))
    }

    /// A window closed: the chunk's rows go out, the queue advances past them.
    fn close(&mut self, w: Waiting) -> Vec<ChangeEvent> {
        let mut rows = w.chunk.into_rows();
        let now = crate::clock::now_us();
        for ev in &mut rows {
            if let Position::Postgres { lsn, .. } = &mut ev.position {
                *lsn = self.stream_at;
            }
            ev.commit_ts_us = now;
        }
        let mut p = (*self.progress).clone();
        let table = p.queue.first().map(|t| t.table.clone()).unwrap_or_default();
        if let Some(cur) = p.queue.first_mut() {
            cur.rows += rows.len() as u64;
            if w.last.is_some() {
                cur.after = w.last;
            }
        }
        self.telemetry
            .snapshot_rows
            .with_label_values(&[&self.connector, &table])
            .inc_by(rows.len() as u64);
        if w.complete && !p.queue.is_empty() {
            let done = p.queue.remove(0);
            tracing::info!(
                connector = %self.connector,
                table = %done.table,
                rows = done.rows,
                "incremental snapshot of table finished"
            );
        }
        self.set(p);
        self.unacked.push_back(Arc::clone(&self.progress));
        self.report();
        rows
    }
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
