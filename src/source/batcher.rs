//! The one batcher of the streaming sources: it gathers row events and markers until a
//! size limit, or a commit followed by a moment with nothing more to read, sends them, with
//! the checkpoint that became safe. A source loop sends a lingering batch as soon as its
//! stream has nothing ready (so a lone transaction waits for nothing), and at the latest
//! when the linger ends (so a stream that is always ready still sends).
//!
//! Invariants: events and markers leave in the order they came; a checkpoint leaves only
//! with (or after) everything buffered before it; a batch never exceeds the limits by more
//! than one rows event or marker; once something is buffered, it leaves within the linger.

use std::time::Duration;

use tokio::time::Instant;

use super::{Batch, BatchLimits, Checkpoint};
use crate::event::{ChangeEvent, Marker, Value};

/// The longest a committed transaction's batch waits for more while the stream keeps
/// delivering.
const LINGER: Duration = Duration::from_millis(2);

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Batcher {
    limits: BatchLimits,
    events: Vec<ChangeEvent>,
    marks: Vec<(usize, Marker)>,
    bytes: usize,
    pending: Option<Checkpoint>,
    linger: Option<Instant>,
}

impl Batcher {
    pub(crate) fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            events: Vec::new(),
            marks: Vec::new(),
            bytes: 0,
            pending: None,
            linger: None,
        }
    }

    /// The event buffer a decoder appends to; call [`Batcher::counted`] after.
    pub(crate) fn events(&mut self) -> &mut Vec<ChangeEvent> {
        &mut self.events
    }

    /// Events buffered so far.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Account for the events appended since index `from`.
    pub(crate) fn counted(&mut self, from: usize) {
        for ev in self.events.get(from..).unwrap_or_default() {
            self.bytes += ev
                .after
                .iter()
                .chain(ev.before.iter())
                .map(|r| r.iter().map(Value::approx_size).sum::<usize>())
                .sum::<usize>();
        }
    }

    /// Buffer a marker before the next event.
    pub(crate) fn mark(&mut self, m: Marker) {
        self.bytes += m.approx_size();
        self.marks.push((self.events.len(), m));
    }

    /// Whether a size limit is reached.
    pub(crate) fn full(&self) -> bool {
        self.events.len() + self.marks.len() >= self.limits.max_events
            || self.bytes >= self.limits.max_bytes
    }

    /// Nothing buffered and no checkpoint waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.marks.is_empty() && self.pending.is_none()
    }

    /// A transaction committed: `cp` is safe once everything buffered is durable. The batch
    /// lingers for transactions already arriving unless it is full (then `true`: send now).
    pub(crate) fn commit(&mut self, cp: Checkpoint) -> bool {
        self.pending = Some(cp);
        if self.full() {
            return true;
        }
        self.linger_soon();
        false
    }

    /// Make sure what is buffered goes out within the linger (something outside any
    /// transaction was buffered).
    pub(crate) fn linger_soon(&mut self) {
        if self.linger.is_none() {
            self.linger = Some(Instant::now() + LINGER);
        }
    }

    /// When the linger ends, if it runs.
    pub(crate) fn linger(&self) -> Option<Instant> {
        self.linger
    }

    /// Everything buffered as a batch, with the waiting checkpoint unless `mid_transaction`
    /// (a flush inside a transaction keeps it for the batch that ends the transaction).
    pub(crate) fn take(&mut self, mid_transaction: bool) -> Batch {
        self.bytes = 0;
        self.linger = None;
        let checkpoint = if mid_transaction {
            None
        } else {
            self.pending.take()
        };
        let mut batch = Batch::new(std::mem::take(&mut self.events), checkpoint);
        batch.marks = std::mem::take(&mut self.marks);
        batch.open_transaction = mid_transaction;
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(lsn: u64) -> Checkpoint {
        Checkpoint::postgres(crate::event::Lsn(lsn), true)
    }

    /// Markers keep their place; the checkpoint waits for the end of a transaction; a full
    /// batch asks to go at once.
    #[test]
    fn order_and_checkpoints() {
        let mut b = Batcher::new(BatchLimits {
            max_events: 3,
            max_bytes: 1 << 20,
        });
        b.mark(Marker::Begin { commit_ts_us: 1 });
        assert!(!b.commit(cp(10)));
        assert!(b.linger().is_some());
        b.mark(Marker::Begin { commit_ts_us: 2 });
        let mid = b.take(true);
        assert_eq!(mid.marks.len(), 2);
        assert!(mid.checkpoint.is_none() && b.linger().is_none());
        assert!(!b.is_empty(), "the checkpoint still waits");
        b.mark(Marker::Begin { commit_ts_us: 3 });
        b.mark(Marker::Begin { commit_ts_us: 4 });
        b.mark(Marker::Begin { commit_ts_us: 5 });
        assert!(b.commit(cp(20)), "full");
        let end = b.take(false);
        assert_eq!(end.checkpoint, Some(cp(20)));
        assert!(b.is_empty());
    }
}
