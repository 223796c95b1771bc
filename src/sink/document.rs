//! Document targets for sink connectors: a search index, Redis, memcached.
//!
//! Contract of every target's `apply`:
//! - changes are applied in the given order (never reordered within a key);
//! - it returns only when every accepted change is durable in the target;
//! - replays are harmless: upserts are idempotent, and where the target allows, a change with
//!   an older version than the stored one is ignored (search: `version_type=external`;
//!   Redis: a Lua script keeps the version beside the value);
//! - a change the target can never accept is returned as [`Rejected`] (for the dead-letter
//!   topic), the rest still applied.

use crate::config::SinkSettings;
use crate::event::DocChange;

use super::cache::{MemcachedTarget, RedisTarget};
use super::search::SearchTarget;

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

/// The closed set of targets.
#[derive(Debug)]
pub enum DocTarget {
    /// Elasticsearch / OpenSearch.
    Search(SearchTarget),
    /// Redis.
    Redis(RedisTarget),
    /// memcached.
    Memcached(MemcachedTarget),
}

impl DocTarget {
    /// Connect the target a sink setting describes.
    pub async fn connect(s: &SinkSettings) -> Result<Self, TargetError> {
        Ok(match s {
            SinkSettings::Search(s) => DocTarget::Search(SearchTarget::new(s)?),
            SinkSettings::Redis(s) => DocTarget::Redis(RedisTarget::connect(s).await?),
            SinkSettings::Memcached(s) => DocTarget::Memcached(MemcachedTarget::new(s)),
            SinkSettings::Kafka(_) => {
                return Err(TargetError::Config("kafka is not a document target".into()))
            }
        })
    }

    /// Apply changes in order; see the module contract.
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Vec<Rejected>, TargetError> {
        match self {
            DocTarget::Search(t) => t.apply(changes).await,
            DocTarget::Redis(t) => t.apply(changes).await,
            DocTarget::Memcached(t) => t.apply(changes).await,
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
