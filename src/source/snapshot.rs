//! Snapshot output shared by the database sources: `r` events in bounded batches, with
//! Debezium's `source.snapshot` markers (`first`, `first_in_data_collection`, `true`,
//! `last_in_data_collection`, `last`) decided by one event of lookahead.
//!
//! Invariant: the emitter never attaches a checkpoint by itself; the caller adds the single
//! snapshot-complete checkpoint after the last row, so an interrupted snapshot is never
//! half-acknowledged.

use tokio::sync::mpsc;

use super::{Batch, BatchLimits};
use crate::event::{ChangeEvent, SnapshotMarker, Value};

/// Where snapshot events go, with one event of lookahead for Debezium's snapshot markers.
pub(crate) struct SnapshotEmitter<'a> {
    tx: &'a mpsc::Sender<Batch>,
    limits: BatchLimits,
    batch: Vec<ChangeEvent>,
    bytes: usize,
    held: Option<ChangeEvent>,
    /// Whether the held event is the first row of its table.
    held_first_of_table: bool,
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
            bytes: 0,
            held: None,
            held_first_of_table: false,
            table_start: true,
            first: true,
            rows: 0,
        }
    }

    /// The marker of a table's first row, as Debezium writes it: `first` for the very first
    /// row of the snapshot, `first_in_data_collection` for the first row of a later table.
    fn first_marker(&mut self) -> SnapshotMarker {
        let m = if self.first {
            SnapshotMarker::First
        } else {
            SnapshotMarker::FirstInDataCollection
        };
        self.first = false;
        m
    }

    pub(crate) async fn push(&mut self, ev: ChangeEvent) -> Result<(), Closed> {
        if let Some(mut prev) = self.held.take() {
            prev.snapshot = Some(if self.held_first_of_table {
                self.first_marker()
            } else {
                SnapshotMarker::True
            });
            self.out(prev).await?;
        }
        self.held = Some(ev);
        self.held_first_of_table = std::mem::take(&mut self.table_start);
        self.rows += 1;
        Ok(())
    }

    /// Mark the held event as the last of its table (or of the whole snapshot). A table's
    /// only row keeps its first-row marker, except that the snapshot's last row is `last`.
    pub(crate) async fn end_table(&mut self, last_table: bool) -> Result<(), Closed> {
        if let Some(mut prev) = self.held.take() {
            prev.snapshot = Some(if last_table {
                SnapshotMarker::Last
            } else if self.held_first_of_table {
                self.first_marker()
            } else {
                SnapshotMarker::LastInDataCollection
            });
            self.first = false;
            self.out(prev).await?;
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
        if self.batch.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        self.bytes = 0;
        let events = std::mem::take(&mut self.batch);
        self.tx
            .send(Batch::new(events, checkpoint))
            .await
            .map_err(|_| Closed)
    }
}

/// The pipeline stopped listening (shutdown or sink failure).
#[derive(Debug)]
pub(crate) struct Closed;
