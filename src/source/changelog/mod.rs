//! Changelog source: Debezium-format change topics consumed in a Kafka consumer group, for
//! sink connectors.
//!
//! ```text
//! subscribe(topics | ^pattern) ─► poll up to max_batch_events or batch_wait_ms
//!     ─► debezium::decode each record ─► Polled { changes, poison, ignored, offsets }
//! commit(offsets) is called by the pipeline only after the target acknowledged the batch
//! ```
//! Invariants: `enable.auto.commit=false`; offsets advance only through [`ChangelogSource::commit`];
//! records of one partition are returned in offset order.

mod avro;
pub mod debezium;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::ChangelogSettings;
use crate::event::{DocChange, Origin};
use debezium::{DecodeOptions, SchemaCache, Skip};

/// Change-topic consumer failures.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    /// The consumer could not be created.
    #[error("invalid kafka consumer configuration")]
    Config(#[source] KafkaError),
    /// Subscribing or consuming failed.
    #[error("kafka consumer failed")]
    Consume(#[source] KafkaError),
    /// The brokers refused the consumer's login (SASL) or its authorization.
    #[error("kafka brokers refused the consumer's login or authorization: {reason}")]
    Refused {
        /// librdkafka's explanation (names the mechanism, never the password).
        reason: String,
    },
    /// The Schema Registry (for Avro records) is unavailable or misconfigured.
    #[error(transparent)]
    Registry(#[from] crate::kafka::registry::RegistryError),
}

impl ChangelogError {
    /// What the operator should do.
    pub fn hint(&self) -> &'static str {
        match self {
            ChangelogError::Config(_) => "check source.properties, source.tls and source.sasl",
            ChangelogError::Consume(_) => "check broker availability and the group's ACLs",
            ChangelogError::Refused { .. } => {
                "the brokers refused sluice: check source.sasl (mechanism, username, password), source.tls, and the principal's ACLs (Read on the topics and the group)"
            }
            ChangelogError::Registry(_) => {
                "check source.schema_registry (url, credentials, ca_file) and that the registry is up"
            }
        }
    }
}

/// A consumer error: a refused login is its own (definite) error, the rest are retried.
fn consume_error(e: KafkaError) -> ChangelogError {
    if crate::kafka::is_auth_failure(&e) {
        ChangelogError::Refused {
            reason: e.to_string(),
        }
    } else {
        ChangelogError::Consume(e)
    }
}

/// Logs partition assignments (low cardinality: counts, not names).
#[derive(Debug)]
pub struct GroupContext {
    connector: String,
    /// librdkafka's last refused login, reported through the error callback only.
    refused: std::sync::Mutex<Option<String>>,
    /// Set once the group assigned this consumer its partitions (the brokers answer).
    assigned: watch::Sender<bool>,
}

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if crate::kafka::is_auth_failure(&error) {
            if let Ok(mut r) = self.refused.lock() {
                *r = Some(reason.to_string());
            }
        } else {
            tracing::warn!(connector = %self.connector, error = %error, "kafka consumer error");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(connector = %self.connector, partitions = tpl.count(), "partitions assigned");
                self.assigned.send_replace(true);
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(connector = %self.connector, partitions = tpl.count(), "partitions revoked")
            }
            Rebalance::Error(e) => {
                tracing::warn!(connector = %self.connector, error = %e, "rebalance error")
            }
        }
    }
}

/// A record that can never be applied, kept for the dead-letter topic.
#[derive(Debug, Clone)]
pub struct PoisonRecord {
    /// Where it came from.
    pub origin: Origin,
    /// Original key.
    pub key: Option<Vec<u8>>,
    /// Original value.
    pub value: Option<Vec<u8>>,
    /// Why it was rejected (safe to log: no row values).
    pub reason: String,
    /// The target's own words, which may quote row values: dead-letter headers only.
    pub detail: Option<String>,
}

/// A record as it was read (its key and value bytes, for the dead-letter topic).
pub type RawRecord = rdkafka::message::OwnedMessage;

/// One polled batch.
#[derive(Debug, Default)]
pub struct Polled {
    /// Decoded changes, in offset order per partition.
    pub changes: Vec<DocChange>,
    /// Raw records per change (same index), for the dead-letter topic.
    pub raw: Vec<RawRecord>,
    /// Records that cannot be decoded.
    pub poison: Vec<PoisonRecord>,
    /// Records skipped on purpose, by reason.
    pub ignored: BTreeMap<&'static str, u64>,
    /// Next offset to commit per (topic, partition).
    pub offsets: BTreeMap<(Arc<str>, i32), i64>,
}

/// The consumer of one sink connector.
pub struct ChangelogSource {
    consumer: StreamConsumer<GroupContext>,
    opts: DecodeOptions,
    cache: std::sync::Mutex<SchemaCache>,
    wait: Duration,
    max: usize,
    max_bytes: usize,
    /// For Avro records: the registry, and schemas by id (`Err`: the registry refused the
    /// id, so its records are poison).
    registry: Option<crate::kafka::registry::Registry>,
    avro: std::sync::Mutex<HashMap<u32, Result<Arc<avro::ReadShape>, String>>>,
}

impl std::fmt::Debug for ChangelogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangelogSource").finish_non_exhaustive()
    }
}

impl ChangelogSource {
    /// Create the consumer and subscribe.
    pub fn connect(
        connector: &str,
        s: &ChangelogSettings,
        opts: DecodeOptions,
        max: usize,
        max_bytes: usize,
    ) -> Result<Self, ChangelogError> {
        let mut c = crate::kafka::client_config_parts(
            &s.bootstrap_servers,
            s.tls.as_ref(),
            s.sasl.as_ref(),
            &BTreeMap::new(),
        );
        c.set(
            "group.id",
            s.group_id
                .clone()
                .unwrap_or_else(|| format!("sluice-{connector}")),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        // librdkafka prefetches up to 64 MiB per partition by default; a sink applies one
        // batch at a time, so a little prefetch keeps it busy at a fraction of the memory.
        // The bounds count compressed bytes, and Debezium JSON with schemas compresses about
        // 15:1 (lz4), so they are kept small: 128 kB per partition per fetch, 1 MB queued.
        .set("queued.max.messages.kbytes", "1024")
        .set("max.partition.fetch.bytes", "131072")
        .set("fetch.max.bytes", "1048576")
        // Past that bound librdkafka postpones the next fetch by 1 s by default, which stalled
        // the sink about once in ten batches; the bound is reached every batch here.
        .set("fetch.queue.backoff.ms", "10")
        .set("client.id", format!("sluice-{connector}"));
        for (k, v) in &s.properties {
            c.set(k, v);
        }
        c.set("enable.auto.commit", "false");
        let consumer: StreamConsumer<GroupContext> = c
            .create_with_context(GroupContext {
                connector: connector.to_string(),
                refused: std::sync::Mutex::new(None),
                assigned: watch::channel(false).0,
            })
            .map_err(ChangelogError::Config)?;
        let mut topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
        if let Some(p) = &s.topic_pattern {
            topics.push(p);
        }
        consumer
            .subscribe(&topics)
            .map_err(ChangelogError::Consume)?;
        let registry = s
            .schema_registry
            .as_ref()
            .map(crate::kafka::registry::Registry::new)
            .transpose()?;
        Ok(Self {
            consumer,
            opts,
            cache: std::sync::Mutex::new(SchemaCache::default()),
            wait: Duration::from_millis(s.batch_wait_ms),
            max,
            max_bytes,
            registry,
            avro: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Resolves once the consumer group assigned this consumer its partitions: the brokers
    /// answer and the connector can be called streaming.
    pub fn joined(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.consumer.context().assigned.subscribe();
        async move {
            let _ = rx.wait_for(|a| *a).await;
        }
    }

    /// Wait for records and return a batch; `None` when shutdown was requested first.
    pub async fn poll(
        &self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Polled>, ChangelogError> {
        let mut polled = Polled::default();
        let first = tokio::select! {
            m = self.consumer.recv() => m.map_err(consume_error)?.detach(),
            _ = shutdown.wait_for(|s| *s) => return Ok(None),
            reason = self.refused() => return Err(ChangelogError::Refused { reason }),
        };
        // Bounded by count and by bytes (key + value), so the memory a batch holds does not
        // grow with the records' size.
        let size = |m: &rdkafka::message::OwnedMessage| {
            m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len)
        };
        let mut bytes = size(&first);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + self.wait;
        while batch.len() < self.max && bytes < self.max_bytes {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(m) => {
                    let m = m.map_err(consume_error)?.detach();
                    bytes += size(&m);
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        self.learn_schemas(&batch).await?;
        for m in batch {
            self.take(m, &mut polled);
        }
        Ok(Some(polled))
    }

    /// Fetch the schemas of the batch's Avro records that are not cached yet (outside the
    /// cache's lock).
    async fn learn_schemas(
        &self,
        batch: &[rdkafka::message::OwnedMessage],
    ) -> Result<(), ChangelogError> {
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        let mut missing: Vec<u32> = {
            let known = self.avro.lock().unwrap_or_else(|p| p.into_inner());
            batch
                .iter()
                .flat_map(|m| [m.key(), m.payload()])
                .flatten()
                .filter_map(avro::framed_id)
                .filter(|id| !known.contains_key(id))
                .collect()
        };
        missing.sort_unstable();
        missing.dedup();
        for id in missing {
            let shape = match registry.schema(id).await {
                Ok(text) => avro::ReadShape::parse(&text).map(Arc::new),
                Err(crate::kafka::registry::RegistryError::Refused {
                    status, message, ..
                }) => Err(format!(
                    "the schema registry refused schema id {id} (HTTP {status}): {message}"
                )),
                Err(e) => return Err(e.into()),
            };
            let mut known = self.avro.lock().unwrap_or_else(|p| p.into_inner());
            if known.len() >= 4096 {
                known.clear();
            }
            known.insert(id, shape);
        }
        Ok(())
    }

    /// A record part as JSON: Avro records (Confluent wire format) become
    /// `{"schema":…,"payload":…}`; anything else is returned as it is.
    fn as_json<'a>(
        &self,
        part: Option<&'a [u8]>,
    ) -> Result<Option<std::borrow::Cow<'a, [u8]>>, String> {
        let Some(bytes) = part else { return Ok(None) };
        let Some(id) = avro::framed_id(bytes) else {
            return Ok(Some(std::borrow::Cow::Borrowed(bytes)));
        };
        if self.registry.is_none() {
            return Err(
                "an Avro record (Confluent wire format), but source.schema_registry is not set"
                    .into(),
            );
        }
        let shape = {
            let known = self.avro.lock().unwrap_or_else(|p| p.into_inner());
            known.get(&id).cloned()
        };
        match shape {
            Some(Ok(shape)) => shape
                .to_json(&bytes[5..])
                .map(|j| Some(std::borrow::Cow::Owned(j)))
                .map_err(|e| format!("Avro record with schema id {id}: {e}")),
            Some(Err(e)) => Err(e),
            None => Err(format!("no schema for id {id}")),
        }
    }

    /// Resolves once the brokers refused the consumer's login.
    async fn refused(&self) -> String {
        loop {
            let r = self
                .consumer
                .context()
                .refused
                .lock()
                .ok()
                .and_then(|r| r.clone());
            if let Some(r) = r {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    fn take(&self, m: rdkafka::message::OwnedMessage, polled: &mut Polled) {
        let topic: Arc<str> = Arc::from(m.topic());
        let origin = Origin {
            topic: Arc::clone(&topic),
            partition: m.partition(),
            offset: m.offset(),
        };
        polled
            .offsets
            .insert((topic, m.partition()), m.offset() + 1);
        // An Avro record that cannot be read is poison, like a JSON one that cannot.
        let decoded = match (self.as_json(m.key()), self.as_json(m.payload())) {
            (Ok(key), Ok(value)) => {
                // Never held across an await: `take` is synchronous.
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                debezium::decode(
                    origin.clone(),
                    key.as_deref(),
                    value.as_deref(),
                    &self.opts,
                    &mut cache,
                )
            }
            (Err(reason), _) | (_, Err(reason)) => Err(Skip::Poison(reason)),
        };
        match decoded {
            Ok(mut c) => {
                if matches!(c.action, crate::event::DocAction::Delete) {
                    use rdkafka::message::Headers;
                    c.moved_to = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == crate::envelope::NEW_KEY_HEADER)
                            .and_then(|h| debezium::header_doc_id(h.value?))
                    });
                }
                polled.changes.push(c);
                // Kept as it is (no copy): only a rejected record's bytes are copied.
                polled.raw.push(m);
            }
            Err(Skip::Ignored(why)) => *polled.ignored.entry(why).or_default() += 1,
            Err(Skip::Poison(reason)) => polled.poison.push(PoisonRecord {
                origin,
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                reason,
                detail: None,
            }),
        }
    }

    /// Commit offsets after the target made the batch durable. A failure here (e.g. a
    /// rebalance took the partition) only means the batch will be applied again.
    pub fn commit(&self, offsets: &BTreeMap<(Arc<str>, i32), i64>) {
        if offsets.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in offsets {
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            tracing::warn!(error = %e, "offset commit failed; the batch may be applied again");
        }
    }

    /// Commit synchronously what was committed asynchronously (at shutdown).
    pub fn flush_commits(&self) {
        let _ = self.consumer.commit_consumer_state(CommitMode::Sync);
    }
}
