//! MySQL/MariaDB source errors, each classified transient (retry) or definite (halt with a
//! hint).

use super::types::TypeError;

/// Why the MySQL source stopped.
#[derive(Debug, thiserror::Error)]
pub enum MySourceError {
    /// A SQL statement or the connection failed.
    #[error("mysql query failed while {context}: {source}")]
    Sql {
        /// What sluice was doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: mysql_async::Error,
    },
    /// The binlog stream failed.
    #[error("mysql binlog stream failed while {context}: {source}")]
    Binlog {
        /// What sluice was doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: mysql_async::Error,
    },
    /// The server is not configured for CDC, or a table or privilege is missing.
    #[error("{problem}")]
    Precondition {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        hint: String,
    },
    /// The saved binlog position is no longer on the server.
    #[error("the saved binlog position {file}:{pos} is no longer on the server (binlog purged while sluice was stopped)")]
    PositionPurged {
        /// Saved file.
        file: String,
        /// Saved position.
        pos: u64,
    },
    /// A binlog event could not be decoded.
    #[error("cannot decode binlog event {event} at {file}:{pos}: {reason}")]
    Decode {
        /// Event type.
        event: String,
        /// Binlog file.
        file: String,
        /// End position of the event.
        pos: u64,
        /// Why.
        reason: String,
    },
    /// A column value could not be converted.
    #[error("cannot convert column {column} of table {table} at {position}: {source}")]
    Value {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// `file:pos`, or `snapshot`.
        position: String,
        /// Why.
        #[source]
        source: TypeError,
    },
    /// The binlog connection went silent for longer than three heartbeat intervals.
    #[error("no binlog event or heartbeat for {silent_ms} ms")]
    Silent {
        /// How long.
        silent_ms: u64,
    },
    /// The offsets file failed.
    #[error(transparent)]
    Offsets(#[from] crate::offsets::OffsetError),
    /// A TLS setting could not be applied.
    #[error("tls setup failed: {0}")]
    Tls(String),
}

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

impl MySourceError {
    /// Wrap a SQL error with what sluice was doing.
    pub(crate) fn sql(context: &'static str) -> impl FnOnce(mysql_async::Error) -> Self {
        move |source| MySourceError::Sql { context, source }
    }

    /// Wrap a binlog error with what sluice was doing.
    pub(crate) fn binlog(context: &'static str) -> impl FnOnce(mysql_async::Error) -> Self {
        move |source| MySourceError::Binlog { context, source }
    }

    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            MySourceError::Sql { source, .. } | MySourceError::Binlog { source, .. } => {
                match server_code(source) {
                    Some(1044 | 1045) => {
                        "check source.user and source.password, and that the user may connect from this host".into()
                    }
                    Some(1142 | 1227) => {
                        "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the source user".into()
                    }
                    Some(1236) => {
                        "the server cannot serve the requested binlog position; set source.snapshot_mode: when_needed to re-snapshot, or delete the connector's offsets file".into()
                    }
                    _ => "check that the server is reachable; sluice retries with backoff".into(),
                }
            }
            MySourceError::Precondition { hint, .. } => hint.clone(),
            MySourceError::PositionPurged { file, .. } => format!(
                "binlog file {file} was purged; set source.snapshot_mode: when_needed to take a new snapshot automatically, or delete the connector's offsets file to start over, and raise the server's binlog_expire_logs_seconds"
            ),
            MySourceError::Decode { .. } => {
                "report this event (mariadb-binlog/mysqlbinlog at the position shows it); sluice stopped so nothing is skipped".into()
            }
            MySourceError::Value { .. } => {
                "report the column type; sluice stopped so nothing is skipped".into()
            }
            MySourceError::Silent { .. } => {
                "check the network path to the server; sluice reconnects".into()
            }
            MySourceError::Offsets(e) => e.hint(),
            MySourceError::Tls(_) => "check source.tls (mode and ca_file)".into(),
        }
    }
}
