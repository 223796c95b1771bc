//! PostgreSQL source errors, each classified transient (retry) or definite (halt with a hint).

use super::pgoutput::DecodeError;
use super::types::TypeError;

/// Why the PostgreSQL source stopped.
#[derive(Debug, thiserror::Error)]
pub enum PgSourceError {
    /// A SQL statement failed.
    #[error("postgres query failed while {context}")]
    Sql {
        /// What sluice was doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The replication connection failed.
    #[error("postgres replication stream failed while {context}")]
    Replication {
        /// What sluice was doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: pgwire_replication::PgWireError,
    },
    /// The server is not configured for CDC or a table is unusable.
    #[error("{problem}")]
    Precondition {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        hint: String,
    },
    /// A pgoutput message could not be decoded.
    #[error("cannot decode replication message at LSN {lsn}")]
    Decode {
        /// Where.
        lsn: crate::event::Lsn,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A column value could not be converted.
    #[error("cannot convert column {column} of table {table} at {position}")]
    Value {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// LSN, or `snapshot`.
        position: String,
        /// Why.
        #[source]
        source: TypeError,
    },
    /// A change refers to a relation that no Relation message described.
    #[error("change for unknown relation oid {oid} at LSN {lsn}")]
    UnknownRelation {
        /// Relation OID.
        oid: u32,
        /// Where.
        lsn: crate::event::Lsn,
    },
    /// A tuple does not have one value per relation column.
    #[error(
        "tuple for table {table} at LSN {lsn} has {got} values, the relation has {want} columns"
    )]
    TupleShape {
        /// Table.
        table: String,
        /// Where.
        lsn: crate::event::Lsn,
        /// Values in the tuple.
        got: usize,
        /// Columns in the relation.
        want: usize,
    },
    /// The COPY stream of the snapshot was malformed.
    #[error("malformed COPY data for table {table}: {detail}")]
    Copy {
        /// Table.
        table: String,
        /// What was wrong.
        detail: &'static str,
    },
    /// The slot is held by another session (often a previous sluice that was killed and whose
    /// server-side session has not ended yet).
    #[error("replication slot {slot} is in use by server process {pid}")]
    SlotBusy {
        /// Slot.
        slot: String,
        /// Backend PID holding it.
        pid: i32,
    },
    /// A file holding part of a running transaction failed (see `spill_dir`).
    #[error("cannot hold a running transaction's changes in {path}")]
    Spill {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A streamed transaction's commit or block came without its first block.
    #[error("streamed transaction {xid} at LSN {lsn} was not seen from its start")]
    StreamOrder {
        /// Top-level transaction id.
        xid: u32,
        /// Where.
        lsn: crate::event::Lsn,
    },
    /// None of `host` and `failover_hosts` is a primary that accepts a connection.
    #[error("no primary among the configured servers: {tried}")]
    NoPrimary {
        /// Each server tried and why it was passed over.
        tried: String,
    },
    /// TLS could not be set up.
    #[error("tls setup failed")]
    Tls(#[source] native_tls::Error),
    /// The offsets file failed.
    #[error(transparent)]
    Offsets(#[from] crate::offsets::OffsetError),
}

impl PgSourceError {
    pub(crate) fn sql(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Self {
        move |source| PgSourceError::Sql { context, source }
    }

    pub(crate) fn repl(context: &'static str) -> impl Fn(pgwire_replication::PgWireError) -> Self {
        move |source| PgSourceError::Replication { context, source }
    }

    /// What an operator should do.
    pub fn hint(&self) -> String {
        match self {
            PgSourceError::Precondition { hint, .. } => hint.clone(),
            PgSourceError::Sql { source, .. } => match source.as_db_error() {
                Some(db) => format!(
                    "server said: {} (SQLSTATE {}); fix the cause and restart",
                    db.message(),
                    db.code().code()
                ),
                None => "check that the server is reachable".into(),
            },
            PgSourceError::Replication { source, .. } => {
                format!("replication connection: {source}; check the slot and the server log")
            }
            PgSourceError::Decode { .. } => {
                "report a bug with the server version; the slot still holds the change".into()
            }
            PgSourceError::Value { .. } => {
                "report a bug with the column's type; the slot still holds the change".into()
            }
            PgSourceError::TupleShape { .. } => {
                "restart sluice; if it repeats, report a bug with the table's DDL history".into()
            }
            PgSourceError::UnknownRelation { .. } => {
                "restart sluice; the server resends relation descriptions".into()
            }
            PgSourceError::Copy { .. } => "restart sluice; the snapshot starts over".into(),
            PgSourceError::SlotBusy { pid, .. } => format!(
                "stop the other consumer of the slot, or SELECT pg_terminate_backend({pid})"
            ),
            PgSourceError::Spill { .. } => {
                "free space in source.spill_dir, or raise source.in_progress_memory_bytes; sluice retries and the server sends the transaction again".into()
            }
            PgSourceError::StreamOrder { .. } => {
                "sluice reconnects and the server sends the transaction from its start; if it repeats, set source.stream_in_progress: false and report a bug".into()
            }
            PgSourceError::NoPrimary { .. } => {
                "sluice retries; during a failover the promoted standby becomes a primary within seconds. Check host and failover_hosts".into()
            }
            PgSourceError::Tls(_) => "check source.tls (mode and ca_file)".into(),
            PgSourceError::Offsets(e) => e.hint(),
        }
    }
}
