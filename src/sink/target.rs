//! What every document target shares: its error type, a refused change, and the expansion of
//! index and key name templates. The ground floor under the targets (`search`, `cache`) and
//! the dispatcher above them (`document`); it imports neither.

use crate::event::DocChange;

/// A change the target refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index into the applied slice.
    pub index: usize,
    /// The refusal's class, safe to log: error type and field name, never values or ids.
    pub reason: String,
    /// The target's own words, which may quote values and ids: data, kept only in the
    /// dead-letter record's headers, never logged.
    pub detail: Option<String>,
}

/// Target failures.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// An HTTP request failed before a response (the error carries no URL: it may hold
    /// credentials).
    #[error("search request failed")]
    Http(#[source] reqwest::Error),
    /// The search server answered with an error for the whole request.
    #[error("search server answered {status}: {detail}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error's class (type, field name); never the engine's reason text.
        detail: String,
    },
    /// Redis failed.
    #[error("redis failed")]
    Redis(#[source] redis::RedisError),
    /// memcached failed.
    #[error("memcached failed: {0}")]
    Memcached(String),
    /// I/O with memcached failed.
    #[error("memcached i/o failed")]
    Io(#[source] std::io::Error),
    /// Invalid target configuration.
    #[error("invalid target configuration: {0}")]
    Config(String),
    /// The target refused a record for good and no dead-letter topic is set.
    #[error("record {record} cannot be applied: {reason}")]
    Refused {
        /// `topic:partition@offset`.
        record: String,
        /// The refusal's class (no row values).
        reason: String,
    },
}

impl TargetError {
    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            TargetError::Status {
                status: 401 | 403, ..
            } => "check sink.username/password or sink.api_key".into(),
            TargetError::Status { .. } => "check the search server's log".into(),
            TargetError::Config(_) => "fix the sink settings".into(),
            TargetError::Redis(e)
                if e.kind() == redis::ErrorKind::AuthenticationFailed
                    || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM")) =>
            {
                "redis refused the credentials or the command: check the user and password in sink.url (redis://user:password@host:port) and the user's ACL".into()
            }
            TargetError::Refused { .. } => "fix the target's mapping (or the record), or set source.dead_letter_topic to divert such records; the engine's own words are in the dead-letter record's sluice.error.detail header".into(),
            _ => "check that the target is reachable".into(),
        }
    }
}

/// Expand `{topic}`, `{schema}`, `{table}` and `{key}` in a name template.
pub(crate) fn expand(template: &str, c: &DocChange) -> String {
    template
        .replace("{topic}", &c.origin.topic)
        .replace("{schema}", &c.namespace)
        .replace("{table}", &c.table)
        .replace("{key}", &c.id)
}
