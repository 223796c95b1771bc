//! Sources of change events. Each converts its wire format to [`crate::event::ChangeEvent`]
//! at this boundary and yields ordered [`Batch`]es; nothing source-specific crosses it.
//!
//! Contract of every source:
//! - batches come in source order; within a batch events are in source order;
//! - a batch's `checkpoint`, when set, may be acknowledged once every event of this and all
//!   earlier batches is durable in the sink; `ack` is never called for anything else;
//! - after a restart the source resumes at or before the last acknowledged checkpoint
//!   (duplicates possible, gaps never).

pub mod changelog;
pub mod postgres;

use crate::event::ChangeEvent;

/// A run of events plus the checkpoint that becomes safe once they are durable.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events in source order (may be empty: a checkpoint-only batch).
    pub events: Vec<ChangeEvent>,
    /// Position to acknowledge after this batch is durable.
    pub checkpoint: Option<Checkpoint>,
}

/// An acknowledgeable source position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Checkpoint {
    /// PostgreSQL: everything up to `lsn` (a commit's end LSN) is durable.
    Postgres {
        /// The LSN up to which everything was delivered.
        lsn: crate::event::Lsn,
        /// Whether the initial snapshot is complete.
        snapshot_done: bool,
    },
}
