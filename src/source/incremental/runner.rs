//! The window runner every engine shares: it asks the engine's chunk reader for the next
//! chunk of the table at the head of the queue, logs the keys the stream changes meanwhile,
//! and emits each chunk once the stream has passed everything its read could see.
//!
//! ```text
//! stream ──changes()──► keys of the open transaction (kept whenever a table is queued)
//!        ──commit(txn)─► txn not seen by a waiting chunk's read ─► its keys leave the chunk
//!                     ─► stream passed a chunk's high watermark ─► chunk emitted (op "r")
//! reader ──answered()─► chunk read; a transaction the stream emitted *before* the request
//!                       that the read did not see ─► read again
//! ```
//! Invariants: chunks leave in key order, each only after the stream passed its high
//! watermark; the queue's progress advances only with the rows emitted; at most
//! [`READ_AHEAD`] chunks wait and [`UNACKED_CHUNKS`] are unacknowledged (streaming first).
//! The engine supplies the [`Fence`] (what a read saw, where its window closes) and the
//! reader task; nothing engine-specific lives here.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Chunk;
use crate::event::{ChangeEvent, IncrementalTable, Op, SnapshotProgress, TableId, Value};

/// How many committed transactions the stream remembers, to find one the stream emitted
/// before a chunk's read but the read did not see yet.
const RECENT_TXNS: usize = 4096;

/// Chunks read ahead of the window that closes next: the reader reads the next chunk while
/// earlier ones wait for the stream.
const READ_AHEAD: usize = 2;

/// Chunks written but not yet acknowledged by the sink before the next one is read: the
/// snapshot's rows never queue up in front of streamed changes by more than this.
const UNACKED_CHUNKS: usize = 2;

/// What one chunk's read saw, in the engine's terms.
pub(crate) trait Fence: Send + 'static {
    /// A committed transaction as the stream identifies it.
    type Txn: Clone + Send + 'static;
    /// A position of the stream (ordered as the stream advances).
    type At: Clone + Ord + Default + Send + std::fmt::Debug + 'static;
    /// Whether the read saw the committed transaction `txn`.
    fn sees(&self, txn: &Self::Txn) -> bool;
    /// The high watermark: once the stream is at or past it, it has emitted every
    /// transaction the read saw.
    fn high(&self) -> &Self::At;
    /// Give an emitted row the stream position its window closed at.
    fn stamp(at: &Self::At, ev: &mut ChangeEvent);
}

/// One chunk to read.
#[derive(Debug, Clone)]
pub(crate) struct ChunkRequest {
    pub table: TableId,
    pub filter: Option<String>,
    /// The key (engine's text form) of the last row delivered: the chunk starts after it.
    pub after: Option<Vec<String>>,
    pub size: usize,
    /// A blocking snapshot: read in the table's physical order where the engine has one
    /// (PostgreSQL `ctid`, as Debezium's plain `SELECT` returns rows), without a window.
    pub blocking: bool,
}

/// A chunk read, waiting for its window to close.
#[derive(Debug)]
pub(crate) struct ChunkRead<F> {
    pub rows: Vec<ChangeEvent>,
    /// The key (as text) of the last row read: where the next chunk starts.
    pub last: Option<Vec<String>>,
    /// Fewer rows than asked: the table is done after this chunk.
    pub complete: bool,
    pub fence: F,
    /// The catalog's row estimate (first chunk of a table only).
    pub estimate: Option<u64>,
}

/// What the reader answers.
#[derive(Debug)]
pub(crate) enum Answer<F, E> {
    Read(ChunkRead<F>),
    /// The table cannot be snapshotted (gone, bad filter, no privilege): drop it from the
    /// queue with this reason (never the server's text, which can quote values).
    Skip(String),
    /// A failure a retry of the connector may fix.
    Failed(E),
}

/// The engine's reader task: its own connection, one chunk at a time.
pub(crate) struct Reader<F, E> {
    requests: mpsc::Sender<ChunkRequest>,
    answers: mpsc::Receiver<Answer<F, E>>,
    task: tokio::task::JoinHandle<()>,
}

impl<F: Send + 'static, E: Send + 'static> Reader<F, E> {
    /// Spawn `serve` with the request and answer channels (one slot each).
    pub(crate) fn spawn<Fut>(
        serve: impl FnOnce(mpsc::Receiver<ChunkRequest>, mpsc::Sender<Answer<F, E>>) -> Fut,
    ) -> Self
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (req_tx, req_rx) = mpsc::channel(1);
        let (ans_tx, ans_rx) = mpsc::channel(1);
        let task = tokio::spawn(serve(req_rx, ans_tx));
        Self {
            requests: req_tx,
            answers: ans_rx,
            task,
        }
    }
}

impl<F, E> Drop for Reader<F, E> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A chunk being read: changes of its table since the request, by transaction.
struct Reading<T> {
    log: Vec<(T, Option<Vec<Value>>)>,
    /// Transactions the stream emitted before the request.
    before: Vec<T>,
}

/// A chunk read, waiting for the stream to pass its high watermark.
struct Waiting<F> {
    chunk: Chunk,
    last: Option<Vec<String>>,
    complete: bool,
    fence: F,
}

/// The incremental snapshotter of one stream. The stream calls its hooks in stream order;
/// it never blocks the stream. Chunks of the table at the head of the queue are read one
/// after another (each starts after the last key of the one before) while the read ones
/// wait, in order, for their windows to close.
pub(crate) struct Runner<F: Fence, E> {
    connector: String,
    progress: Arc<SnapshotProgress>,
    chunk_size: usize,
    reader: Reader<F, E>,
    reading: Option<Reading<F::Txn>>,
    waiting: VecDeque<Waiting<F>>,
    /// Transactions the stream committed lately, newest last.
    recent: VecDeque<F::Txn>,
    /// Keys of the reading table changed by the open transaction (`None`: a truncate).
    open: Vec<Option<Vec<Value>>>,
    /// How far the stream is: the end of the last commit, or the server's position.
    stream_at: F::At,
    /// A chunk request was abandoned (its table stopped): its answer is read and dropped.
    drain_answer: bool,
    /// The progress written with each chunk not yet acknowledged, oldest first.
    unacked: VecDeque<Arc<SnapshotProgress>>,
    telemetry: crate::telemetry::Telemetry,
    /// Where the progress is shown to the management API.
    pub(crate) show: Option<super::SnapshotInbox>,
    /// The table at the head of the queue (parsed once per progress version, not per
    /// change).
    head: Option<TableId>,
    /// When this process wrote the head table's first chunk (request id and table), and its
    /// rows then: the rate shown with the progress.
    timing: Option<((String, String), std::time::Instant, u64)>,
}

/// The table at the head of `p`'s queue.
fn head_of(p: &SnapshotProgress) -> Option<TableId> {
    super::table_id(&p.queue.first()?.table)
}

impl<F: Fence, E: Send + 'static> Runner<F, E> {
    /// A runner asking `reader` (a task with a connection of its own) for chunks.
    pub(crate) fn new(
        connector: &str,
        reader: Reader<F, E>,
        progress: SnapshotProgress,
        chunk_size: usize,
        telemetry: crate::telemetry::Telemetry,
    ) -> Self {
        Self {
            connector: connector.to_string(),
            head: head_of(&progress),
            progress: Arc::new(progress),
            chunk_size: chunk_size.max(1),
            reader,
            reading: None,
            waiting: VecDeque::new(),
            recent: VecDeque::with_capacity(RECENT_TXNS),
            open: Vec::new(),
            stream_at: F::At::default(),
            drain_answer: false,
            unacked: VecDeque::new(),
            telemetry,
            show: None,
            timing: None,
        }
    }

    /// Replace the progress with a newer version.
    fn set(&mut self, mut p: SnapshotProgress) {
        p.generation = self.progress.generation + 1;
        self.head = head_of(&p);
        self.progress = Arc::new(p);
    }

    /// The progress to save with the next checkpoint.
    pub(crate) fn progress(&self) -> Arc<SnapshotProgress> {
        Arc::clone(&self.progress)
    }

    /// Whether a blocking snapshot runs: the stream reads no further event between
    /// transactions until it is done (chunks go out as they are read).
    pub(crate) fn blocking(&self) -> bool {
        !self.progress.paused && self.current().is_some_and(|t| t.blocking)
    }

    /// Whether chunks wait for the stream to pass their high watermark (the stream then
    /// reports its position between transactions).
    pub(crate) fn waits(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Debezium's snapshot markers on a blocking snapshot's rows: `first` for the first row
    /// of the request's first table, `first_in_data_collection` for the first row of a later
    /// one, `last` / `last_in_data_collection` for a table's last row (the request's last
    /// table, another one), `true` otherwise; a table's only row takes its last marker unless
    /// it is the request's very first row.
    fn mark_blocking(&self, rows: &mut [ChangeEvent], cur: IncrementalTable, complete: bool) {
        use crate::event::SnapshotMarker as M;
        let starts = cur.rows == 0 && cur.after.is_none();
        let last_table = !self.progress.queue[1..].iter().any(|t| t.id == cur.id);
        let n = rows.len();
        for (i, ev) in rows.iter_mut().enumerate() {
            let first = starts && i == 0;
            let last = complete && i + 1 == n;
            ev.snapshot = Some(match (first, last) {
                (true, _) if cur.request_first && !(last && last_table) => M::First,
                (_, true) if last_table => M::Last,
                (_, true) => M::LastInDataCollection,
                (true, false) => M::FirstInDataCollection,
                _ => M::True,
            });
        }
    }

    /// A DDL statement ran; `touches` says whether it names a table. Chunks of the table
    /// being read that were read before it (a TRUNCATE, an ALTER) are read again after it.
    pub(crate) fn ddl(&mut self, touches: impl Fn(&TableId) -> bool) {
        if self.head.as_ref().is_some_and(touches) {
            self.forget();
        }
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
    pub(crate) fn request(&mut self, req: super::Request) {
        let mut p = (*self.progress).clone();
        let head = p.queue.first().cloned();
        super::apply(&mut p, req, &self.connector);
        let head_changed = p.queue.first() != head.as_ref();
        self.set(p);
        if head_changed {
            self.forget();
        }
        self.report();
    }

    /// A table is captured from now on (it appeared): it may be snapshotted.
    pub(crate) fn capture(&mut self, name: String) {
        if !self.progress.tables.contains(&name) {
            let mut p = (*self.progress).clone();
            p.tables.push(name);
            self.set(p);
        }
    }

    /// The sink acknowledged a checkpoint carrying `p`: the chunks written up to it are
    /// durable.
    pub(crate) fn acknowledged(&mut self, p: &SnapshotProgress) {
        // A checkpoint carries the progress as it was when it was made: every chunk written
        // with that version or an older one is in its batch or an earlier one.
        self.unacked.retain(|u| u.generation > p.generation);
    }

    /// The Kafka signal at `offset` was taken: the next checkpoint saves it.
    pub(crate) fn signal_taken(&mut self, offset: i64) {
        let mut p = (*self.progress).clone();
        p.signal_offset = Some(offset);
        self.set(p);
        self.report();
    }

    /// Take API requests through `inbox` from now on, and show it the progress.
    pub(crate) fn attach(&mut self, inbox: &super::SnapshotInbox) {
        inbox.set_accepts(true);
        self.show = Some(inbox.clone());
        self.report();
    }

    pub(crate) fn report(&self) {
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
    pub(crate) async fn kick(&mut self) {
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
            blocking: cur.blocking,
        };
        if self.reader.requests.send(req).await.is_ok() {
            self.reading = Some(Reading {
                log: Vec::new(),
                before: self.recent.iter().cloned().collect(),
            });
        }
    }

    /// Changes decoded in the open transaction (`events` are the new ones). Kept whenever a
    /// table is queued, not only while a chunk is in flight: a chunk may be asked for before
    /// this transaction's commit arrives, and the read may not see the transaction (it was
    /// still committing), so its keys must reach the chunk's log at the commit.
    pub(crate) fn changes(&mut self, events: &[ChangeEvent]) {
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

    /// A transaction committed, the stream now at `end`. Returns the rows to emit after it,
    /// when its commit closed windows.
    pub(crate) fn commit(&mut self, txn: Option<F::Txn>, end: F::At) -> Option<Vec<ChangeEvent>> {
        let keys = std::mem::take(&mut self.open);
        if let Some(x) = txn {
            // Remembered even while nothing is queued: a chunk asked for next must know
            // which transactions the stream emitted before it.
            if self.recent.len() == RECENT_TXNS {
                self.recent.pop_front();
            }
            self.recent.push_back(x.clone());
            for w in self.waiting.iter_mut().filter(|w| !w.fence.sees(&x)) {
                for k in &keys {
                    match k {
                        Some(k) => w.chunk.drop_key(k),
                        None => w.chunk.clear(),
                    }
                }
            }
            if let Some(r) = &mut self.reading {
                r.log.extend(keys.into_iter().map(|k| (x.clone(), k)));
            }
        }
        if self.blocking() {
            // A transaction the stream finished before pausing: the waiting rows go out.
            if end > self.stream_at {
                self.stream_at = end;
            }
            return self.close_all();
        }
        self.advance(end)
    }

    /// The stream is at `at` outside any transaction (a keepalive, a skipped event).
    pub(crate) fn position(&mut self, at: F::At) -> Option<Vec<ChangeEvent>> {
        self.advance(at)
    }

    /// Close every window the stream has passed, in order.
    fn advance(&mut self, at: F::At) -> Option<Vec<ChangeEvent>> {
        if at > self.stream_at {
            self.stream_at = at;
        }
        let mut out: Option<Vec<ChangeEvent>> = None;
        while self
            .waiting
            .front()
            .is_some_and(|w| &self.stream_at >= w.fence.high())
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
    pub(crate) async fn answer(&mut self) -> Option<Answer<F, E>> {
        if self.reading.is_some() || self.drain_answer {
            self.reader.answers.recv().await
        } else {
            std::future::pending().await
        }
    }

    /// The reader answered. `Err` for a failure the connector's retry may fix (`stopped`
    /// makes the error for a reader that ended); rows to emit when the stream is already
    /// past the chunk's high watermark.
    pub(crate) fn answered(
        &mut self,
        answer: Option<Answer<F, E>>,
        in_tx: bool,
        stopped: impl FnOnce() -> E,
    ) -> Result<Option<Vec<ChangeEvent>>, E> {
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
            None => return Err(stopped()),
        };
        // A transaction emitted before the request that the read did not see: the chunk may
        // be older than what was emitted. Read it again (rare: a commit in flight).
        if before.iter().any(|x| !read.fence.sees(x)) {
            tracing::debug!(connector = %self.connector, "chunk raced a commit; reading it again");
            return Ok(None);
        }
        tracing::debug!(
            connector = %self.connector,
            rows = read.rows.len(),
            high = ?read.fence.high(),
            stream_at = ?self.stream_at,
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
            if !read.fence.sees(&x) {
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
            fence: read.fence,
        });
        // Blocking: the stream is paused between transactions, so nothing it emits later
        // is older than the read: the rows go out now.
        if self.blocking() && !in_tx {
            return Ok(self.close_all());
        }
        // Inside a transaction the rows wait for its commit (which closes the window).
        if in_tx {
            return Ok(None);
        }
        Ok(self.advance(F::At::default()))
    }

    /// Close every waiting chunk now (a blocking snapshot's).
    fn close_all(&mut self) -> Option<Vec<ChangeEvent>> {
        let mut out: Option<Vec<ChangeEvent>> = None;
        while let Some(w) = self.waiting.pop_front() {
            let rows = self.close(w);
            match &mut out {
                Some(o) => o.extend(rows),
                None => out = Some(rows),
            }
        }
        out
    }

    /// A window closed: the chunk's rows go out, the queue advances past them.
    fn close(&mut self, w: Waiting<F>) -> Vec<ChangeEvent> {
        let mut rows = w.chunk.into_rows();
        let now = crate::clock::now_us();
        for ev in &mut rows {
            F::stamp(&self.stream_at, ev);
            ev.commit_ts_us = now;
        }
        if let Some(cur) = self.progress.queue.first().filter(|c| c.blocking) {
            self.mark_blocking(&mut rows, cur.clone(), w.complete);
        }
        let mut p = (*self.progress).clone();
        let table = p.queue.first().map(|t| t.table.clone()).unwrap_or_default();
        if let Some(cur) = p.queue.first_mut() {
            let who = (cur.id.clone(), cur.table.clone());
            match &self.timing {
                Some((w0, t0, r0)) if *w0 == who => {
                    let secs = t0.elapsed().as_secs_f64();
                    let done = (cur.rows + rows.len() as u64).saturating_sub(*r0);
                    p.rate = (secs > 0.0).then(|| ((done as f64 / secs).round() as u64).max(1));
                }
                _ => {
                    self.timing = Some((who, std::time::Instant::now(), cur.rows));
                    p.rate = None;
                }
            }
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
