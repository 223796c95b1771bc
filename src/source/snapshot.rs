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

/// The pipeline stopped listening (shutdown or sink failure).
#[derive(Debug)]
pub(crate) struct Closed;
