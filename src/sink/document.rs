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
//!
//! The targets build on [`super::target`] (errors, refusals, name templates), never on this
//! dispatching module.

use crate::config::SinkSettings;
use crate::event::DocChange;

use super::cache::{MemcachedTarget, RedisTarget};
use super::search::SearchTarget;
use super::target::{Applied, TargetError};

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
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Applied, TargetError> {
        match self {
            DocTarget::Search(t) => t.apply(changes).await,
            DocTarget::Redis(t) => t.apply(changes).await,
            DocTarget::Memcached(t) => t.apply(changes).await,
        }
    }
}
