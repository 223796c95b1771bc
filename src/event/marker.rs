//! Source events that are not row changes: transaction boundaries, logical messages and
//! schema changes.
//!
//! Sources put them in a batch at the index of the row event they precede (see
//! [`crate::source::Batch`]), so the encoder sees one ordered stream. Invariants: `Begin` and
//! `End` come in pairs around the row changes and messages of one source transaction (an
//! empty transaction is a pair with nothing between); nothing source-specific is in them
//! beyond the [`Position`] every event carries.

use super::Position;

/// A transaction boundary or a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    /// A source transaction begins.
    Begin {
        /// Commit time of the transaction, microseconds since the epoch.
        commit_ts_us: i64,
    },
    /// The open transaction committed.
    End {
        /// Where the commit ends in the log.
        position: Position,
        /// Commit time, microseconds since the epoch.
        commit_ts_us: i64,
    },
    /// An application message written into the log (PostgreSQL's `pg_logical_emit_message`).
    Message(LogicalMessage),
    /// A DDL statement on a captured table (MySQL/MariaDB).
    SchemaChange(super::SchemaChange),
    /// A heartbeat (Debezium's `heartbeat.interval.ms`) carrying the acknowledged position;
    /// written by the pipeline while the connector runs, not by a source.
    Heartbeat(super::Checkpoint),
}

/// A logical decoding message: Debezium's `op: "m"` event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogicalMessage {
    /// The application's prefix (the record key).
    pub prefix: String,
    /// The message body, any bytes.
    pub content: Vec<u8>,
    /// Where the message sits; a transactional message carries its transaction id, a
    /// non-transactional one none.
    pub position: Position,
    /// Commit time of its transaction (non-transactional: when it was read).
    pub commit_ts_us: i64,
}

impl Marker {
    /// Approximate memory held, for batch size limits.
    pub fn approx_size(&self) -> usize {
        match self {
            Marker::Message(m) => 64 + m.prefix.len() + m.content.len(),
            Marker::SchemaChange(c) => 256 + c.ddl.len() + 128 * c.changes.len(),
            _ => 32,
        }
    }
}
