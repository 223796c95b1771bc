//! Snapshot output shared by the database sources: `r` events in bounded batches, with
//! Debezium's `source.snapshot` markers (`first`, `first_in_data_collection`, `true`,
//! `last_in_data_collection`, `last`) decided by one event of lookahead.
//!
//! Invariant: the emitter never attaches a checkpoint by itself; the caller adds the single
//! snapshot-complete checkpoint after the last row, so an interrupted snapshot is never
//! half-acknowledged.

use tokio::sync::mpsc;

use super::{Batch, BatchLimits};
use crate::event::{ChangeEvent, Marker, SnapshotMarker, Value};

/// Where snapshot events go, with one event of lookahead for Debezium's snapshot markers.
pub(crate) struct SnapshotEmitter<'a> {
    tx: &'a mpsc::Sender<Batch>,
    limits: BatchLimits,
    batch: Vec<ChangeEvent>,
    marks: Vec<(usize, Marker)>,
    bytes: usize,
    /// The last row pushed, with the marker it gets if more rows follow.
    held: Option<ChangeEvent>,
    /// Whether the next pushed event starts a table.
    table_start: bool,
    first: bool,
    /// Rows emitted per table, for metrics.
    pub rows: u64,
}

impl<'a> SnapshotEmitter<'a> {
    pub(crate) fn new(tx: &'a mpsc::Sender<Batch>, limits: BatchLimits) -> Self {
        Self {
            tx,
            limits,
            batch: Vec::new(),
            marks: Vec::new(),
            bytes: 0,
            held: None,
            table_start: true,
            first: true,
            rows: 0,
        }
    }

    /// Buffer a marker (a schema-change record) before the rows that follow; the held row,
    /// if any, goes first.
    pub(crate) async fn mark(&mut self, m: Marker) -> Result<(), Closed> {
        if let Some(prev) = self.held.take() {
            self.out(prev).await?;
        }
        self.bytes += m.approx_size();
        self.marks.push((self.batch.len(), m));
        if self.marks.len() >= self.limits.max_events {
            self.flush(None).await?;
        }
        Ok(())
    }

    pub(crate) async fn push(&mut self, ev: ChangeEvent) -> Result<(), Closed> {
        if let Some(prev) = self.held.take() {
            self.out(prev).await?;
        }
        // The marker it gets if more rows follow: `first` for the very first row of the
        // snapshot, `first_in_data_collection` for the first row of a later table.
        let marker = if std::mem::take(&mut self.table_start) {
            if std::mem::take(&mut self.first) {
                SnapshotMarker::First
            } else {
                SnapshotMarker::FirstInDataCollection
            }
        } else {
            SnapshotMarker::True
        };
        let mut ev = ev;
        ev.snapshot = Some(marker);
        self.held = Some(ev);
        self.rows += 1;
        Ok(())
    }

    /// A table is done: its last row (still held) is `last_in_data_collection`, also when
    /// it is the table's only row, unless it is the snapshot's very first row (Debezium's
    /// order: `last` over `first` over `last_in_data_collection` over
    /// `first_in_data_collection`). After the last table, the snapshot's very last row (of
    /// whichever table, later tables may be empty) becomes `last`, as Debezium's buffering
    /// of the last snapshot record does.
    pub(crate) async fn end_table(&mut self, last_table: bool) -> Result<(), Closed> {
        if !self.table_start {
            if let Some(held) = &mut self.held {
                if matches!(
                    held.snapshot,
                    Some(SnapshotMarker::True | SnapshotMarker::FirstInDataCollection)
                ) {
                    held.snapshot = Some(SnapshotMarker::LastInDataCollection);
                }
            }
        }
        if last_table {
            if let Some(mut prev) = self.held.take() {
                prev.snapshot = Some(SnapshotMarker::Last);
                self.out(prev).await?;
            }
        }
        self.table_start = true;
        Ok(())
    }

    async fn out(&mut self, ev: ChangeEvent) -> Result<(), Closed> {
        self.bytes += ev
            .after
            .as_ref()
            .map_or(0, |r| r.iter().map(Value::approx_size).sum());
        self.batch.push(ev);
        if self.batch.len() >= self.limits.max_events || self.bytes >= self.limits.max_bytes {
            self.flush(None).await?;
        }
        Ok(())
    }

    /// Send what is buffered, with an optional checkpoint.
    pub(crate) async fn flush(
        &mut self,
        checkpoint: Option<crate::source::Checkpoint>,
    ) -> Result<(), Closed> {
        if self.batch.is_empty() && self.marks.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        self.bytes = 0;
        let events = std::mem::take(&mut self.batch);
        let mut batch = Batch::new(events, checkpoint);
        batch.marks = std::mem::take(&mut self.marks);
        self.tx.send(batch).await.map_err(|_| Closed)
    }
}

/// Rows of one part of a table (a whole table, or a range of it) as a snapshot reader hands
/// them over to the writer: `Ok(None)` ends the part, `Err` is the reader's failure.
pub(crate) type Handoff<E> = Result<Option<Vec<ChangeEvent>>, E>;

/// One reader's parts, each with the sending end of its hand-off, in order.
pub(crate) type Work<P, E> = Vec<(P, mpsc::Sender<Handoff<E>>)>;

/// The writer's ends of the hand-offs, in part order.
pub(crate) type Ins<E> = Vec<mpsc::Receiver<Handoff<E>>>;

/// Rows a reader hands over at a time.
const HANDOFF_ROWS: usize = 1024;

/// Parts, each with its bounded hand-off, dealt to `readers` readers: reader k gets parts
/// k, k + n, … in order, so the writer, taking parts in order, never waits on a reader
/// that waits on it. Returns the writer's ends (in part order) and each reader's work.
pub(crate) fn hand_offs<P, E>(parts: Vec<P>, readers: usize) -> (Ins<E>, Vec<Work<P, E>>) {
    let n = readers.max(1);
    let mut ins = Vec::with_capacity(parts.len());
    let mut work: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
    for (i, part) in parts.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(2);
        ins.push(rx);
        work[i % n].push((part, tx));
    }
    (ins, work)
}

/// One snapshot reader: reads a part's rows into an [`Outbox`].
pub(crate) trait PartReader {
    /// What a part is (a table, a range of one).
    type Part;
    /// The engine's error.
    type Error;
    /// Read `part`; `Ok(false)`: stopped (shutdown, or the writer is gone).
    async fn read(
        &mut self,
        part: &Self::Part,
        out: &mut Outbox<'_, Self::Error>,
    ) -> Result<bool, Self::Error>;
}

/// Read `work`'s parts in order into their hand-offs, each ended by `Ok(None)`; a failure
/// goes to the part being read, and ends the reader.
pub(crate) async fn read_parts<R: PartReader>(mut reader: R, work: Work<R::Part, R::Error>) {
    for (part, tx) in work {
        let mut out = Outbox {
            tx: &tx,
            rows: Vec::with_capacity(HANDOFF_ROWS),
        };
        let read = match reader.read(&part, &mut out).await {
            Ok(true) => out.finish().await,
            Ok(false) => false,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                false
            }
        };
        if !read || tx.send(Ok(None)).await.is_err() {
            return;
        }
    }
}

/// A part's hand-off as a reader fills it, [`HANDOFF_ROWS`] rows at a time.
pub(crate) struct Outbox<'a, E> {
    tx: &'a mpsc::Sender<Handoff<E>>,
    rows: Vec<ChangeEvent>,
}

impl<E> Outbox<'_, E> {
    /// Add a row; `false` when the writer is gone.
    pub(crate) async fn push(&mut self, ev: ChangeEvent) -> bool {
        self.rows.push(ev);
        if self.rows.len() < HANDOFF_ROWS {
            return true;
        }
        let full = std::mem::replace(&mut self.rows, Vec::with_capacity(HANDOFF_ROWS));
        self.tx.send(Ok(Some(full))).await.is_ok()
    }

    /// Hand over the rows left; `false` when the writer is gone.
    async fn finish(&mut self) -> bool {
        let rows = std::mem::take(&mut self.rows);
        rows.is_empty() || self.tx.send(Ok(Some(rows))).await.is_ok()
    }
}

/// Write the parts' rows through `emitter` in part order (`order[i]` is the index in
/// `tables` of part `i`; a table's parts are consecutive), ending each table after its last
/// part, so the output is what one reader writes. Readers fill the hand-offs ahead. A
/// hand-off closed before its end is `lost(table)` unless the connector is shutting down.
/// `Ok(false)`: stopped (shutdown, or the pipeline closed).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_parts<E>(
    ins: Ins<E>,
    order: &[usize],
    tables: &[crate::event::TableId],
    emitter: &mut SnapshotEmitter<'_>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    telemetry: &crate::telemetry::Telemetry,
    connector: &str,
    lost: impl Fn(String) -> E,
) -> Result<bool, E> {
    let remaining = telemetry.snapshot_remaining.with_label_values(&[connector]);
    remaining.set(tables.len() as i64);
    let mut started = None;
    let mut before = 0;
    let mut counted = 0;
    let mut progress = None;
    for (pi, mut rx) in ins.into_iter().enumerate() {
        let Some(&ti) = order.get(pi) else {
            break;
        };
        let Some(table) = tables.get(ti) else {
            break;
        };
        if started != Some(ti) {
            started = Some(ti);
            let parts = order.iter().filter(|&&t| t == ti).count();
            tracing::info!(connector, table = %table, parts, "snapshot of table started");
            before = emitter.rows;
            counted = before;
            progress = Some(
                telemetry
                    .snapshot_rows
                    .with_label_values(&[connector, &table.to_string()]),
            );
        }
        loop {
            let rows = match rx.recv().await {
                Some(Ok(Some(rows))) => rows,
                Some(Ok(None)) => break,
                Some(Err(e)) => return Err(e),
                None if *shutdown.borrow() => return Ok(false),
                None => return Err(lost(table.to_string())),
            };
            if *shutdown.borrow() {
                return Ok(false);
            }
            for ev in rows {
                if emitter.push(ev).await.is_err() {
                    return Ok(false);
                }
            }
            if let Some(p) = &progress {
                p.inc_by(emitter.rows - counted);
            }
            counted = emitter.rows;
        }
        if order.get(pi + 1) != Some(&ti) {
            if emitter.end_table(ti + 1 == tables.len()).await.is_err() {
                return Ok(false);
            }
            remaining.set((tables.len() - ti - 1) as i64);
            tracing::info!(connector, table = %table, rows = emitter.rows - before, "snapshot of table finished");
        }
    }
    Ok(true)
}

/// The pipeline stopped listening (shutdown or sink failure).
#[derive(Debug)]
pub(crate) struct Closed;
