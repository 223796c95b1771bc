//! Sources of change events. Each converts its wire format to [`crate::event::ChangeEvent`]
//! at this boundary and yields ordered [`Batch`]es; nothing source-specific crosses it.
//!
//! Contract of every source:
//! - batches come in source order; within a batch events are in source order;
//! - a batch's `checkpoint`, when set, may be acknowledged once every event of this and all
//!   earlier batches is durable in the sink; `ack` is never called for anything else;
//! - after a restart the source resumes at or before the last acknowledged checkpoint
//!   (duplicates possible, gaps never).

pub(crate) mod batcher;
pub mod changelog;
pub(crate) mod incremental;
pub(crate) mod keys;
pub mod mysql;
pub mod postgres;
pub(crate) mod snapshot;

use tokio::sync::{mpsc, watch};

use crate::event::{ChangeEvent, Marker, TableId};
pub use crate::event::{Checkpoint, TableShape};

/// Batch size limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Events per batch.
    pub max_events: usize,
    /// Approximate bytes per batch.
    pub max_bytes: usize,
}

/// The channels tying a source to its pipeline.
#[derive(Debug)]
pub struct SourceIo {
    /// Where batches go (bounded: backpressure).
    pub tx: mpsc::Sender<Batch>,
    /// Checkpoints the pipeline made durable, newest last.
    pub acks: watch::Receiver<Option<Checkpoint>>,
    /// Becomes `true` on shutdown.
    pub shutdown: watch::Receiver<bool>,
}

/// How a source run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// Work is complete (`initial_only`).
    Finished,
    /// Shutdown was requested, or the pipeline stopped listening.
    Stopped,
}

/// A run of events plus the checkpoint that becomes safe once they are durable.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events in source order (may be empty: a checkpoint-only batch).
    pub events: Vec<ChangeEvent>,
    /// Transaction boundaries and messages, each with the index in `events` of the event it
    /// precedes (`events.len()`: after the last), in source order.
    pub marks: Vec<(usize, Marker)>,
    /// Position to acknowledge after this batch is durable.
    pub checkpoint: Option<Checkpoint>,
    /// Captured tables the sink should prepare for before any event (sent once at start).
    pub tables: Vec<TableShape>,
    /// The batch ends inside a source transaction: its last events belong to a transaction
    /// whose commit (and checkpoint) comes in a later batch. An exactly-once sink keeps its
    /// Kafka transaction open across such a batch, or a restart would repeat those events.
    pub open_transaction: bool,
}

impl Batch {
    /// Events with the checkpoint that becomes safe after them (no table announcement).
    pub fn new(events: Vec<ChangeEvent>, checkpoint: Option<Checkpoint>) -> Self {
        Self {
            events,
            marks: Vec::new(),
            checkpoint,
            tables: Vec::new(),
            open_transaction: false,
        }
    }
}

/// A database source feeding the Kafka capture pipeline.
#[derive(Debug)]
pub enum CaptureSource {
    /// PostgreSQL logical replication.
    Postgres(Box<postgres::PostgresSource>),
    /// MySQL/MariaDB binlog.
    Mysql(Box<mysql::MysqlSource>),
}

impl CaptureSource {
    /// Run until shutdown, completion or error (see each source's `run`).
    pub async fn run(&mut self, io: SourceIo) -> Result<SourceEnd, SourceError> {
        match self {
            CaptureSource::Postgres(s) => s.run(io).await.map_err(SourceError::Postgres),
            CaptureSource::Mysql(s) => s.run(io).await.map_err(SourceError::Mysql),
        }
    }

    /// Which Debezium `source` block its events fill.
    pub fn kind(&self) -> crate::envelope::SourceKind {
        match self {
            CaptureSource::Postgres(_) => crate::envelope::SourceKind::Postgres,
            CaptureSource::Mysql(_) => crate::envelope::SourceKind::Mysql,
        }
    }
}

/// Why a database source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The PostgreSQL source failed.
    #[error(transparent)]
    Postgres(postgres::PgSourceError),
    /// The MySQL/MariaDB source failed.
    #[error(transparent)]
    Mysql(mysql::MySourceError),
}

impl SourceError {
    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            SourceError::Postgres(e) => e.hint(),
            SourceError::Mysql(e) => e.hint(),
        }
    }
}

/// Hand the sink the captured tables' shapes before any event; `false` when the pipeline
/// stopped listening.
pub(crate) async fn announce_tables(tx: &mpsc::Sender<Batch>, tables: Vec<TableShape>) -> bool {
    tx.send(Batch {
        tables,
        ..Batch::default()
    })
    .await
    .is_ok()
}

/// The captured tables of a source's `tables` setting (validated at config load, so an
/// unparsable name cannot reach here; it is skipped if it does).
pub(crate) fn table_ids(names: &[String]) -> Vec<TableId> {
    names
        .iter()
        .filter_map(|t| crate::config::parse_table_name(t))
        .map(|(ns, t)| TableId::new(ns, t))
        .collect()
}
