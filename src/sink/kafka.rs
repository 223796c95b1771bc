//! Kafka sink: Debezium JSON records into compacted topics, one idempotent producer per
//! connector.
//!
//! ```text
//! events ──EnvelopeEncoder──► records ──FutureProducer.send_result──► DeliveryFutures
//!             (topics prepared at start: compacted if keyed, else delete)      │
//!                                                      Pending::wait ◄────────────┘ (acks=all)
//! ```
//! Invariants: `enable.idempotence=true`, `acks=all` and `partitioner=murmur2_random` are
//! always set (users cannot override them), so a key lands in the partition a Java producer
//! would pick, in source order, without duplicates from producer retries; a delete is
//! followed by a tombstone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::config::{KafkaSettings, RecordFormat};
use crate::envelope::avro::{AvroShape, Wrapped};
use crate::envelope::{EnvelopeEncoder, EnvelopeOptions, Form, Record};
use crate::event::{ChangeEvent, Marker, TableId, TableShape};
use crate::kafka::{client_config, is_auth_failure};

/// How to give a table a key, for the hints about key-less records on compacted topics
/// (a macro so that `concat!` can build the hints at compile time).
macro_rules! give_a_key {
    () => {
        "give the table a key (a primary key, source.key_columns, or on PostgreSQL REPLICA IDENTITY USING INDEX)"
    };
}

/// Kafka sink failures.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
    /// The client could not be created from the configuration.
    #[error("invalid kafka client configuration")]
    Config(#[source] KafkaError),
    /// The brokers refused sluice's login (SASL) or its authorization.
    #[error("kafka brokers at {servers} refused the login or the authorization: {reason}")]
    Authentication {
        /// `bootstrap.servers`.
        servers: String,
        /// librdkafka's error.
        source: KafkaError,
        /// librdkafka's explanation (names the mechanism, never the password).
        reason: String,
    },
    /// The brokers did not answer.
    #[error("kafka brokers at {servers} are unreachable")]
    Unreachable {
        /// Bootstrap servers.
        servers: String,
        /// Cause.
        #[source]
        source: KafkaError,
    },
    /// A topic could not be created.
    #[error("cannot create topic {topic}")]
    CreateTopic {
        /// Topic.
        topic: String,
        /// Cause.
        #[source]
        source: KafkaError,
    },
    /// A record was not delivered.
    #[error("delivery to topic {topic} failed: {}", broker_code(source))]
    Delivery {
        /// Topic.
        topic: String,
        /// Cause.
        #[source]
        source: KafkaError,
    },
    /// A table without a key would write null-keyed records to a compacted topic, which the
    /// broker refuses.
    #[error("table {table} has no key, but its topic {topic} is compacted (cleanup.policy={policy}); the broker refuses records without a key there")]
    CompactedWithoutKey {
        /// The table.
        table: String,
        /// Its topic.
        topic: String,
        /// The topic's cleanup.policy.
        policy: String,
    },
    /// The idempotent producer failed fatally: the broker refused the producer's sequence
    /// (e.g. `OutOfOrderSequenceNumber` after it lost acknowledged records in an unclean
    /// restart). A retry cannot bring lost records back, so this is never retried silently.
    #[error("the kafka producer failed fatally (a record for topic {topic} partition {partition} was refused): broker error {code}: {reason}; records the broker had acknowledged may be missing from the partition librdkafka names")]
    ProducerFatal {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The fatal error's code name.
        code: String,
        /// librdkafka's description.
        reason: String,
    },
    /// Another instance started with this connector's transactional id and fenced this
    /// one: it must stop writing (retrying would fence the newer instance in turn).
    #[error("this kafka producer was fenced: another instance started with transactional id {id}; this one stops writing")]
    Fenced {
        /// The transactional id.
        id: String,
    },
    /// A Kafka transaction step failed without fencing: the batch was not committed (and is
    /// aborted when the step allows), so it is sent again from the last checkpoint.
    #[error("kafka transaction {step} failed (transactional id {id}): {source}")]
    Transaction {
        /// `init`, `begin` or `commit`.
        step: &'static str,
        /// The transactional id.
        id: String,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The Schema Registry refused a schema or stayed unavailable.
    #[error(transparent)]
    Registry(#[from] crate::kafka::registry::RegistryError),
    /// A record could not become Avro (a Connect shape Avro cannot express).
    #[error("cannot write a record for topic {topic} as Avro: {source}")]
    Avro {
        /// Topic.
        topic: String,
        /// Cause.
        #[source]
        source: crate::envelope::avro::AvroError,
    },
    /// The producer went away while a delivery was pending.
    #[error("kafka producer shut down while deliveries were pending")]
    Canceled,
}

impl KafkaSinkError {
    /// What an operator should do about a definite error.
    pub fn hint(&self) -> &'static str {
        match self {
            KafkaSinkError::Config(_) => "check sink.properties, sink.tls and sink.sasl",
            KafkaSinkError::CreateTopic { .. } => {
                "check topic_partitions / topic_replication_factor and the principal's CreateTopics ACL, or create the topics yourself and set create_topics: false"
            }
            KafkaSinkError::Delivery { source, .. } => {
                delivery_hint(source.rdkafka_error_code())
            }
            KafkaSinkError::CompactedWithoutKey { .. } => concat!(
                give_a_key!(),
                ", or set the topic's cleanup.policy=delete (kafka-configs --alter --add-config cleanup.policy=delete) and restart"
            ),
            KafkaSinkError::ProducerFatal { .. } => {
                "the broker lost or refused records it had acknowledged (look for an unclean broker restart or failover in its log); restarting sluice resends from its last checkpoint but cannot restore what the broker lost: re-snapshot the table (snapshot_mode: always, once) if its topic must be complete"
            }
            KafkaSinkError::Registry(crate::kafka::registry::RegistryError::Refused { .. }) => {
                "the registry refused the schema: check the subject's compatibility level (a column change the level forbids needs a new subject or compatibility NONE) and sink.schema_registry credentials"
            }
            KafkaSinkError::Registry(_) => {
                "check sink.schema_registry.url and that the registry is up; events wait and are resent from the last checkpoint"
            }
            KafkaSinkError::Avro { .. } => {
                "a column or table name or type Avro cannot express: use value_format: json for this connector, and report it"
            }
            KafkaSinkError::Fenced { .. } => {
                "a newer sluice instance with the same transactional id runs (or ran) this connector: stop one of them; restart this one only if the other is gone"
            }
            KafkaSinkError::Transaction { .. } => {
                "check the brokers' transaction coordinator (transaction.state.log.* settings, min.insync.replicas) and the principal's TransactionalId ACLs"
            }
            KafkaSinkError::Authentication { .. } => {
                "the brokers refused sluice: check sink.sasl (mechanism, username, password), sink.tls, and the principal's ACLs (Describe on the cluster, Write and Create on the topics)"
            }
            _ => "check broker availability",
        }
    }
}

/// A client context that remembers librdkafka's last authentication error (reported through
/// the error callback; the metadata request itself only times out).
#[derive(Default)]
struct AuthWatch {
    failure: std::sync::Mutex<Option<(KafkaError, String)>>,
}

impl rdkafka::ClientContext for AuthWatch {
    fn error(&self, error: KafkaError, reason: &str) {
        if is_auth_failure(&error) {
            if let Ok(mut f) = self.failure.lock() {
                *f = Some((error, reason.to_string()));
            }
        } else {
            tracing::debug!(error = %error, "kafka client error");
        }
    }
}

impl rdkafka::producer::ProducerContext for AuthWatch {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Check that the brokers answer and accept sluice's login, with a short-lived client.
async fn probe_brokers(s: &KafkaSettings) -> Result<(), KafkaSinkError> {
    let probe: rdkafka::producer::ThreadedProducer<AuthWatch> = client_config(s)
        .create_with_context(AuthWatch::default())
        .map_err(KafkaSinkError::Config)?;
    let probe = std::sync::Arc::new(probe);
    let p = std::sync::Arc::clone(&probe);
    let r = tokio::task::spawn_blocking(move || {
        p.client()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|_| ())
    })
    .await
    .map_err(|_| KafkaSinkError::Canceled)?;
    let servers = s.bootstrap_servers.clone();
    let auth = probe
        .context()
        .failure
        .lock()
        .ok()
        .and_then(|mut f| f.take());
    match (r, auth) {
        (_, Some((source, reason))) => Err(KafkaSinkError::Authentication {
            servers,
            source,
            reason,
        }),
        (Err(source), None) if is_auth_failure(&source) => Err(KafkaSinkError::Authentication {
            servers,
            reason: source.to_string(),
            source,
        }),
        (Err(source), None) => Err(KafkaSinkError::Unreachable { servers, source }),
        (Ok(()), None) => Ok(()),
    }
}

/// `code NAME (number)` of the broker's error, for messages.
fn broker_code(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("broker error {code:?} ({}): {code}", code as i32),
        None => e.to_string(),
    }
}

/// The real fix for a refused delivery, by broker error.
fn delivery_hint(code: Option<RDKafkaErrorCode>) -> &'static str {
    use RDKafkaErrorCode as C;
    match code {
        Some(C::InvalidRecord) => concat!(
            "the broker refused the record as invalid; a compacted topic (cleanup.policy=compact) refuses records without a key: ",
            give_a_key!(),
            ", or set the topic's cleanup.policy=delete"
        ),
        Some(C::MessageSizeTooLarge | C::MessageBatchTooLarge | C::InvalidMessageSize) => {
            "the record is larger than the topic accepts: raise the topic's max.message.bytes (and the broker's message.max.bytes), and message.max.bytes in sink.properties"
        }
        Some(C::TopicAuthorizationFailed | C::ClusterAuthorizationFailed) => {
            "grant the sink's principal Write (and IdempotentWrite on the cluster) for the topic"
        }
        Some(C::UnknownTopicOrPartition) => {
            "create the topic, or set sink.create_topics: true"
        }
        Some(C::PolicyViolation | C::InvalidConfig) => {
            "the broker's policy refuses the record or topic config: check sink.topic_config and the broker's create-topic policy"
        }
        Some(C::UnsupportedCompressionType | C::UnsupportedForMessageFormat | C::UnsupportedVersion) => {
            "the broker is too old for the producer settings: set compression.type in sink.properties to one it supports"
        }
        Some(C::SaslAuthenticationFailed | C::Authentication) => {
            "check sink.sasl (mechanism, username, password)"
        }
        _ => "check the broker's log for the refusal",
    }
}

/// How long one transaction step (init, commit, abort) may take: as long as a record may
/// wait for its acknowledgement (`message.timeout.ms`).
const TXN_TIMEOUT: Duration = Duration::from_secs(120);

fn txn_error(step: &'static str, id: &str, source: KafkaError) -> KafkaSinkError {
    match &source {
        KafkaError::Transaction(t) if is_fenced(t.code()) => {
            KafkaSinkError::Fenced { id: id.into() }
        }
        _ => KafkaSinkError::Transaction {
            step,
            id: id.into(),
            source,
        },
    }
}

/// Where a batch leaves a transactional sink's Kafka transaction (a sink without
/// transactions ignores it).
#[derive(Debug)]
pub enum TxnStep {
    /// The transaction stays open for the next batch: the batch ends inside a source
    /// transaction, or more batches are about to join it.
    Keep,
    /// The batch ends the transaction: it commits once every record is acknowledged. The
    /// record given (the connector's checkpoint for the offsets topic) is written last in it,
    /// so records and checkpoint commit together.
    Commit(Option<Record>),
}

/// Deliveries of one batch in flight.
pub struct Pending {
    futures: Vec<(std::sync::Arc<str>, DeliveryFuture)>,
    /// To ask librdkafka for a fatal error behind a failed delivery.
    producer: FutureProducer,
    /// With `transactions: true`: the batch's open transaction, committed once every record
    /// is acknowledged; the permit keeps the next batch from beginning before that.
    commit: Option<(Txn, tokio::sync::OwnedSemaphorePermit)>,
}

/// A connector's transactional producer. It lives as long as the process runs the
/// connector: attempts after a transient error reuse it (its epoch is this instance's
/// identity), so an instance that a newer one fenced finds out at its next write instead of
/// fencing the newer one back.
#[derive(Clone)]
pub struct Txn {
    producer: FutureProducer,
    id: String,
    /// A transaction has begun and is neither committed nor aborted.
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// One transaction at a time.
    gate: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").field("id", &self.id).finish()
    }
}

impl Txn {
    fn failure(&self, step: &'static str, e: KafkaError) -> KafkaSinkError {
        match self.producer.client().fatal_error() {
            Some((code, _)) if is_fenced(code) => KafkaSinkError::Fenced {
                id: self.id.clone(),
            },
            _ => txn_error(step, &self.id, e),
        }
    }

    /// Whether another instance fenced this producer.
    fn fenced(&self) -> bool {
        self.producer
            .client()
            .fatal_error()
            .is_some_and(|(code, _)| is_fenced(code))
    }

    async fn blocking(
        &self,
        step: &'static str,
        f: fn(&FutureProducer) -> rdkafka::error::KafkaResult<()>,
    ) -> Result<(), KafkaSinkError> {
        let p = self.producer.clone();
        tokio::task::spawn_blocking(move || f(&p))
            .await
            .map_err(|_| KafkaSinkError::Canceled)?
            .map_err(|e| self.failure(step, e))
    }

    async fn abort(&self) -> Result<(), KafkaSinkError> {
        self.blocking("abort", |p| p.abort_transaction(TXN_TIMEOUT))
            .await?;
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Commit the open transaction (librdkafka first waits for all its records). Retriable
    /// failures are retried; one that requires an abort aborts (the batch is then resent
    /// from the last checkpoint); a fatal one is final.
    async fn commit(&self) -> Result<(), KafkaSinkError> {
        let mut attempt = 0;
        loop {
            let p = self.producer.clone();
            let r = tokio::task::spawn_blocking(move || p.commit_transaction(TXN_TIMEOUT))
                .await
                .map_err(|_| KafkaSinkError::Canceled)?;
            let e = match r {
                Ok(()) => {
                    self.open.store(false, std::sync::atomic::Ordering::SeqCst);
                    return Ok(());
                }
                Err(e) => e,
            };
            let (retriable, abort) = match &e {
                KafkaError::Transaction(t) => (t.is_retriable(), t.txn_requires_abort()),
                _ => (false, false),
            };
            if retriable && attempt < 5 {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                continue;
            }
            if abort {
                let _ = self.abort().await;
            }
            return Err(self.failure("commit", e));
        }
    }
}

/// Whether librdkafka's fatal error means another instance fenced this producer.
fn is_fenced(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("records", &self.futures.len())
            .finish()
    }
}

impl Pending {
    /// Whether the batch ends a Kafka transaction ([`Pending::wait`] commits it).
    pub fn commits(&self) -> bool {
        self.commit.is_some()
    }

    /// Wait until every record of the batch is acknowledged by the brokers.
    pub async fn wait(self) -> Result<(), KafkaSinkError> {
        let topics: Vec<_> = self.futures.iter().map(|(t, _)| t.clone()).collect();
        let results = join_all(self.futures.into_iter().map(|(_, f)| f)).await;
        for (topic, r) in topics.into_iter().zip(results) {
            match r {
                Ok(Ok(_)) => {}
                Ok(Err((source, msg))) => {
                    use rdkafka::message::Message as _;
                    if let Some((code, reason)) = self.producer.client().fatal_error() {
                        if let Some((txn, _)) = self.commit.filter(|_| is_fenced(code)) {
                            return Err(KafkaSinkError::Fenced { id: txn.id });
                        }
                        return Err(KafkaSinkError::ProducerFatal {
                            topic: topic.to_string(),
                            partition: msg.partition(),
                            code: format!("{code:?} ({})", code as i32),
                            reason,
                        });
                    }
                    return Err(KafkaSinkError::Delivery {
                        topic: topic.to_string(),
                        source,
                    });
                }
                Err(_) => return Err(KafkaSinkError::Canceled),
            }
        }
        if let Some((txn, _permit)) = &self.commit {
            txn.commit().await?;
        }
        Ok(())
    }
}

/// The sink for one connector.
pub struct KafkaSink {
    producer: FutureProducer,
    admin: std::sync::Arc<AdminClient<DefaultClientContext>>,
    encoder: EnvelopeEncoder,
    settings_servers: String,
    create_topics: bool,
    partitions: i32,
    replication: i32,
    /// Tables whose topic is ready, with the keyed-ness it was checked for.
    known_tables: HashMap<TableId, bool>,
    /// Topics of markers (transaction records, messages) known to exist.
    known_topics: HashSet<String>,
    /// `sink.topic_config`: `"*"` under `None`, tables under their id.
    topic_config: HashMap<Option<TableId>, BTreeMap<String, String>>,
    records: Vec<Record>,
    /// With `sink.transactions: true`: the connector's transactional producer.
    txn: Option<Txn>,
    /// The Kafka transaction open across batches: the permit that keeps any other from
    /// beginning, and when it began.
    open: Option<(tokio::sync::OwnedSemaphorePermit, Instant)>,
    /// Key and value formats.
    formats: Formats,
}

/// How records leave the sink. With a part in Avro, the envelope writes change events in
/// their final form (Avro parts straight from the event), and the sink fills in each Avro
/// part's registered schema id; other records (markers, and an event its Avro schema does not
/// fit) come as JSON with schemas, whose Connect schema says how to write each Avro part, and
/// a JSON part without `schemas_enable` is unwrapped again.
struct Formats {
    key: RecordFormat,
    value: RecordFormat,
    json_schemas: bool,
    /// Set when key or value is Avro.
    avro: Option<AvroOut>,
}

struct AvroOut {
    registry: crate::kafka::registry::Registry,
    strategy: crate::config::SubjectNameStrategy,
    /// Avro shapes by their Connect schema text (a topic's schema repeats in every record).
    shapes: HashMap<String, std::sync::Arc<AvroShape>>,
    /// The last few (topic, part, Connect schema) with their shape and registered id.
    recent: Vec<Recent>,
    /// Registered ids of the shapes the envelope built, by shape (held here, so an address
    /// is not reused while it is a key) and part, with the topic they were registered for.
    ids: HashMap<(usize, crate::kafka::registry::Part), Known>,
}

/// A shape's registered id (see [`AvroOut::ids`]).
struct Known {
    _shape: std::sync::Arc<AvroShape>,
    topic: std::sync::Arc<str>,
    id: u32,
}

struct Recent {
    topic: std::sync::Arc<str>,
    part: crate::kafka::registry::Part,
    connect: String,
    shape: std::sync::Arc<AvroShape>,
    id: u32,
}

impl Formats {
    /// Rewrite each record's key and value into their formats.
    async fn apply(&mut self, records: &mut [Record]) -> Result<(), KafkaSinkError> {
        use crate::kafka::registry::Part;
        let Formats {
            key,
            value,
            json_schemas,
            avro: Some(out),
        } = self
        else {
            return Ok(());
        };
        for rec in records {
            if let Form::Final {
                key: key_shape,
                value: value_shape,
            } = &rec.form
            {
                for (slot, shape, part) in [
                    (&mut rec.key, key_shape, Part::Key),
                    (&mut rec.value, value_shape, Part::Value),
                ] {
                    if let (Some(bytes), Some(shape)) = (slot.as_mut(), shape) {
                        let id = out.id_of(&rec.topic, part, shape).await?;
                        if let Some(at) = bytes.get_mut(1..5) {
                            at.copy_from_slice(&id.to_be_bytes());
                        }
                    }
                }
                continue;
            }
            for (part, format) in [(Part::Key, *key), (Part::Value, *value)] {
                let slot = match part {
                    Part::Key => &mut rec.key,
                    Part::Value => &mut rec.value,
                };
                let Some(bytes) = slot.as_ref() else { continue };
                let avro_error = |source| KafkaSinkError::Avro {
                    topic: rec.topic.to_string(),
                    source,
                };
                let bad = |e: serde_json::Error| {
                    avro_error(crate::envelope::avro::AvroError::Schema {
                        path: "(record)".into(),
                        reason: format!("the envelope's JSON does not parse: {e}"),
                    })
                };
                let encoded = match format {
                    RecordFormat::Json if *json_schemas => continue,
                    RecordFormat::Json => {
                        let w: Wrapped<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                        w.payload.get().as_bytes().to_vec()
                    }
                    RecordFormat::Avro => {
                        let (shape, id, payload) = match out.recent_hit(&rec.topic, part, bytes) {
                            Some(hit) => hit,
                            None => {
                                let w: Wrapped<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                                if w.schema.get() == "null" {
                                    *slot = None;
                                    continue;
                                }
                                let (shape, id) = out
                                    .learn(&rec.topic, part, w.schema.get())
                                    .await
                                    .map_err(|e| match e {
                                        Learn::Json(e) => bad(e),
                                        Learn::Avro(e) => avro_error(e),
                                        Learn::Registry(e) => e.into(),
                                    })?;
                                (shape, id, w.payload.get())
                            }
                        };
                        let mut encoded = Vec::with_capacity(bytes.len() / 4);
                        shape
                            .encode_text(payload, id, &mut encoded)
                            .map_err(avro_error)?;
                        encoded
                    }
                };
                *slot = Some(encoded);
            }
        }
        Ok(())
    }
}

/// Why a new Connect schema could not be registered as Avro.
enum Learn {
    Json(serde_json::Error),
    Avro(crate::envelope::avro::AvroError),
    Registry(crate::kafka::registry::RegistryError),
}

impl AvroOut {
    /// The shape, id and payload of a record whose Connect schema is one of the recent ones
    /// of its topic and part, found by comparing bytes (no JSON scan of the schema).
    fn recent_hit<'b>(
        &self,
        topic: &str,
        part: crate::kafka::registry::Part,
        record: &'b [u8],
    ) -> Option<(std::sync::Arc<AvroShape>, u32, &'b str)> {
        self.recent
            .iter()
            .rev()
            .filter(|r| r.part == part && &*r.topic == topic)
            .find_map(|r| {
                crate::envelope::avro::payload_after(record, &r.connect)
                    .map(|p| (std::sync::Arc::clone(&r.shape), r.id, p))
            })
    }

    /// The shape (cached by Connect schema text) and registered id of a Connect schema not
    /// among the recent ones, which it then joins.
    async fn learn(
        &mut self,
        topic: &std::sync::Arc<str>,
        part: crate::kafka::registry::Part,
        connect: &str,
    ) -> Result<(std::sync::Arc<AvroShape>, u32), Learn> {
        let shape = match self.shapes.get(connect) {
            Some(s) => std::sync::Arc::clone(s),
            None => {
                let parsed: serde_json::Value =
                    serde_json::from_str(connect).map_err(Learn::Json)?;
                let shape =
                    std::sync::Arc::new(AvroShape::from_connect(&parsed).map_err(Learn::Avro)?);
                if self.shapes.len() >= 1024 {
                    self.shapes.clear();
                }
                self.shapes
                    .insert(connect.to_string(), std::sync::Arc::clone(&shape));
                shape
            }
        };
        let id = self
            .register(topic, part, &shape)
            .await
            .map_err(Learn::Registry)?;
        if self.recent.len() >= 16 {
            self.recent.remove(0);
        }
        self.recent.push(Recent {
            topic: std::sync::Arc::clone(topic),
            part,
            connect: connect.to_string(),
            shape: std::sync::Arc::clone(&shape),
            id,
        });
        Ok((shape, id))
    }

    /// The registered id of a shape the envelope built (one per table and schema version).
    async fn id_of(
        &mut self,
        topic: &std::sync::Arc<str>,
        part: crate::kafka::registry::Part,
        shape: &std::sync::Arc<AvroShape>,
    ) -> Result<u32, crate::kafka::registry::RegistryError> {
        let key = (std::sync::Arc::as_ptr(shape) as usize, part);
        if let Some(k) = self.ids.get(&key).filter(|k| k.topic == *topic) {
            return Ok(k.id);
        }
        let id = self.register(topic, part, shape).await?;
        if self.ids.len() >= 4096 {
            self.ids.clear();
        }
        self.ids.insert(
            key,
            Known {
                _shape: std::sync::Arc::clone(shape),
                topic: std::sync::Arc::clone(topic),
                id,
            },
        );
        Ok(id)
    }

    /// Register (or look up) `shape` under its subject.
    async fn register(
        &mut self,
        topic: &str,
        part: crate::kafka::registry::Part,
        shape: &AvroShape,
    ) -> Result<u32, crate::kafka::registry::RegistryError> {
        let subject = crate::kafka::registry::subject(self.strategy, topic, part, &shape.full_name);
        self.registry.id(&subject, &shape.schema).await
    }
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("bootstrap_servers", &self.settings_servers)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Build the producer and check that the brokers answer.
    ///
    /// With `transactions: true`, `reuse` is the transactional producer of this connector's
    /// previous attempt in this process: kept (its open transaction aborted) unless it
    /// failed fatally; a fenced one is [`KafkaSinkError::Fenced`].
    pub async fn connect(
        connector: &str,
        s: &KafkaSettings,
        output: crate::envelope::SourceOutput,
        reuse: Option<Txn>,
    ) -> Result<Self, KafkaSinkError> {
        let mut pc = client_config(s);
        pc.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("max.in.flight.requests.per.connection", "5")
            .set("client.id", format!("sluice-{connector}"));
        // Defaults that keep the broker's load low (lz4 batches) without adding latency;
        // any of them can be overridden in `properties`.
        for (k, v) in [
            ("linger.ms", "0"),
            ("compression.type", "lz4"),
            ("batch.size", "1000000"),
            // Bounds the producer's memory (the pipeline waits while it is full).
            ("queue.buffering.max.kbytes", "32768"),
            // A record not acknowledged within 2 minutes fails its batch: the connector then
            // restarts from its last checkpoint and resends it (never skips it). Long enough
            // for a leader election or a broker restart; /health reports a stall after 5 s.
            ("message.timeout.ms", "120000"),
        ] {
            if !s.properties.contains_key(k) {
                pc.set(k, v);
            }
        }
        let transactional_id = s.transactional_id_for(connector);
        if let Some(id) = &transactional_id {
            pc.set("transactional.id", id);
            if !s.properties.contains_key("transaction.timeout.ms") {
                // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
                pc.set(
                    "transaction.timeout.ms",
                    crate::config::DEFAULT_TRANSACTION_TIMEOUT_MS.to_string(),
                );
            }
        }
        // Metadata look-ups of the admin client never create a topic by themselves (a
        // broker's auto.create.topics.enable would make it with the broker's defaults, not
        // compacted).
        let admin: AdminClient<DefaultClientContext> = client_config(s)
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(KafkaSinkError::Config)?;
        probe_brokers(s).await?;
        let reuse = match reuse {
            Some(t) if t.fenced() => return Err(KafkaSinkError::Fenced { id: t.id }),
            Some(t) if t.producer.client().fatal_error().is_none() => {
                if t.open.load(std::sync::atomic::Ordering::SeqCst) {
                    t.abort().await?;
                }
                Some(t)
            }
            _ => None,
        };
        let (producer, txn) = match (reuse, transactional_id) {
            (Some(t), _) => (t.producer.clone(), Some(t)),
            (None, Some(id)) => {
                let producer: FutureProducer = pc.create().map_err(KafkaSinkError::Config)?;
                let t = Txn {
                    producer: producer.clone(),
                    id,
                    open: Default::default(),
                    gate: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
                };
                // Registers the id with its coordinator: bumps the producer epoch, which
                // fences any older instance and aborts the transaction it left open.
                t.blocking("init", |p| p.init_transactions(TXN_TIMEOUT))
                    .await?;
                tracing::info!(connector, transactional_id = %t.id, "transactional producer ready (older instances fenced)");
                (producer, Some(t))
            }
            (None, None) => (pc.create().map_err(KafkaSinkError::Config)?, None),
        };
        let avro = match &s.schema_registry {
            Some(r) if [s.key_format, s.value_format].contains(&RecordFormat::Avro) => {
                Some(AvroOut {
                    registry: crate::kafka::registry::Registry::new(r)?,
                    strategy: r.subject_name_strategy,
                    shapes: HashMap::new(),
                    recent: Vec::new(),
                    ids: HashMap::new(),
                })
            }
            _ => None,
        };
        let formats = Formats {
            key: s.key_format,
            value: s.value_format,
            json_schemas: s.schemas_enable,
            avro,
        };
        let mut options = EnvelopeOptions::new(
            s.topic_prefix
                .clone()
                .unwrap_or_else(|| connector.to_string()),
            s.schemas_enable,
            output,
        );
        if formats.avro.is_some() {
            options.avro = crate::envelope::AvroParts {
                key: s.key_format == RecordFormat::Avro,
                value: s.value_format == RecordFormat::Avro,
            };
        }
        Ok(Self {
            producer,
            admin: std::sync::Arc::new(admin),
            encoder: EnvelopeEncoder::new(options),
            settings_servers: s.bootstrap_servers.clone(),
            create_topics: s.create_topics,
            partitions: s.topic_partitions,
            replication: s.topic_replication_factor,
            known_tables: HashMap::new(),
            known_topics: HashSet::new(),
            topic_config: s
                .topic_config
                .iter()
                .map(|(t, cfg)| {
                    let id = crate::config::parse_table_name(t).map(|(ns, n)| TableId::new(ns, n));
                    (id.filter(|_| t != "*"), cfg.clone())
                })
                .collect(),
            records: Vec::new(),
            txn,
            open: None,
            formats,
        })
    }

    /// The transactional producer, to reuse in the connector's next attempt.
    pub fn txn(&self) -> Option<Txn> {
        self.txn.clone()
    }

    /// Prepare the topics of the captured tables before their first event: create missing
    /// ones with the cleanup policy the table's key allows, and refuse an existing compacted
    /// topic for a table without a key (the broker would refuse every record).
    pub async fn prepare(&mut self, tables: &[TableShape]) -> Result<(), KafkaSinkError> {
        for t in tables {
            if !t.keyed {
                tracing::warn!(
                    table = %t.table,
                    topic = %self.encoder.topic_for(&t.table),
                    "table has no primary key, key_columns entry or replica-identity index: its records have no key, so its topic uses cleanup.policy=delete (not compacted); give it a key to get a compacted topic"
                );
            }
            self.ensure_table(&t.table, t.keyed).await?;
        }
        Ok(())
    }

    /// The topic configs for a table's topic: sluice's policy, then `"*"`, then the table's.
    fn topic_configs(&self, table: &TableId, keyed: bool) -> BTreeMap<String, String> {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "cleanup.policy".to_string(),
            if keyed { "compact" } else { "delete" }.to_string(),
        );
        for scope in [None, Some(table.clone())] {
            if let Some(over) = self.topic_config.get(&scope) {
                cfg.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        cfg
    }

    async fn ensure_table(&mut self, table: &TableId, keyed: bool) -> Result<(), KafkaSinkError> {
        if self.known_tables.get(table) == Some(&keyed) {
            return Ok(());
        }
        let topic = self.encoder.topic_for(table);
        let mut created = false;
        if self.create_topics {
            let cfg = self.topic_configs(table, keyed);
            created = self.create_topic(&topic, &cfg).await?;
        }
        if !keyed && !created {
            // An existing topic: a compacted one would refuse every record of this table.
            let spec = ResourceSpecifier::Topic(&topic);
            let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(15)));
            match self.admin.describe_configs([&spec], &opts).await {
                Ok(results) => {
                    let policy = results
                        .into_iter()
                        .find_map(|r| r.ok()?.get("cleanup.policy").and_then(|e| e.value.clone()));
                    if let Some(policy) = policy.filter(|p| p.contains("compact")) {
                        return Err(KafkaSinkError::CompactedWithoutKey {
                            table: table.to_string(),
                            topic,
                            policy,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = %topic, error = %e, "cannot read the topic's cleanup.policy; a compacted topic will refuse this table's key-less records");
                }
            }
        }
        self.known_tables.insert(table.clone(), keyed);
        Ok(())
    }

    /// Make sure the topic of transaction records or messages exists before its first
    /// record: not compacted (every message and boundary is kept, whatever its key).
    async fn ensure_marker_topic(&mut self, m: &Marker) -> Result<(), KafkaSinkError> {
        let topic = match m {
            Marker::Message(_) => self.encoder.message_topic(),
            // Without transaction metadata a boundary writes nothing: no topic for it.
            Marker::End { .. } if !self.encoder.writes_transactions() => return Ok(()),
            Marker::End { .. } => self.encoder.transaction_topic(),
            Marker::SchemaChange(_) => self.encoder.schema_change_topic(),
            Marker::Heartbeat(_) => self.encoder.heartbeat_topic(),
            Marker::Begin { .. } => return Ok(()),
        };
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        let topic = topic.to_string();
        if self.create_topics {
            let mut cfg = BTreeMap::new();
            // Heartbeats share one key: compaction keeps the last. Everything else is kept.
            let policy = if matches!(m, Marker::Heartbeat(_)) {
                "compact"
            } else {
                "delete"
            };
            cfg.insert("cleanup.policy".to_string(), policy.to_string());
            if let Some(over) = self.topic_config.get(&None) {
                cfg.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            self.create_topic(&topic, &cfg).await?;
        }
        self.known_topics.insert(topic);
        Ok(())
    }

    /// Whether `topic` exists, from cluster metadata (any live broker answers it, unlike
    /// CreateTopics, which waits for the controller); `None` when the brokers did not say.
    async fn topic_exists(&self, topic: &str) -> Option<bool> {
        let admin = std::sync::Arc::clone(&self.admin);
        let name = topic.to_string();
        let md = tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(Some(&name), Duration::from_secs(5))
        })
        .await
        .ok()?
        .ok()?;
        let t = md.topics().iter().find(|t| t.name() == topic)?;
        match t.error() {
            None => Some(!t.partitions().is_empty()),
            Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
                Some(false)
            }
            Some(_) => None,
        }
    }

    /// Create `topic` with `cfg` unless it exists; whether it was created. The topic is
    /// looked up in the metadata first, so restarting during a broker failover does not wait
    /// on a CreateTopics call for a topic that is already there (issue 22: 15 s and a lost
    /// attempt), and an admin timeout for a topic that turns out to exist is no error.
    async fn create_topic(
        &self,
        topic: &str,
        cfg: &BTreeMap<String, String>,
    ) -> Result<bool, KafkaSinkError> {
        if self.topic_exists(topic).await == Some(true) {
            return Ok(false);
        }
        let opts = AdminOptions::new()
            .operation_timeout(Some(Duration::from_secs(30)))
            .request_timeout(Some(Duration::from_secs(15)));
        let mut new = NewTopic::new(
            topic,
            self.partitions,
            TopicReplication::Fixed(self.replication),
        );
        for (k, v) in cfg {
            new = new.set(k, v);
        }
        let err = |source| KafkaSinkError::CreateTopic {
            topic: topic.to_string(),
            source,
        };
        let mut created = false;
        let results = match self.admin.create_topics([&new], &opts).await {
            Ok(r) => r,
            Err(e) if self.topic_exists(topic).await == Some(true) => {
                tracing::info!(topic = %topic, error = %e, "topic creation failed but the topic exists; going on");
                return Ok(false);
            }
            Err(e) => return Err(err(e)),
        };
        for r in results {
            match r {
                Ok(_) => {
                    created = true;
                    let policy = cfg.get("cleanup.policy").map_or("", String::as_str);
                    tracing::info!(topic = %topic, cleanup_policy = policy, "topic created");
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) if self.topic_exists(topic).await == Some(true) => {
                    tracing::info!(topic = %topic, code = %code, "topic creation failed but the topic exists; going on");
                }
                Err((_, code)) => return Err(err(KafkaError::AdminOp(code))),
            }
        }
        Ok(created)
    }

    /// Whether records are written in Kafka transactions (`sink.transactions: true`).
    pub fn transactional(&self) -> bool {
        self.txn.is_some()
    }

    /// How long the open Kafka transaction has been open (none is open: `None`).
    pub fn open_for(&self) -> Option<Duration> {
        self.open.as_ref().map(|(_, since)| since.elapsed())
    }

    /// Encode and hand events and markers (each before the event at its index) to the
    /// producer; the result resolves when all are durable (see [`TxnStep`] for a
    /// transactional sink: then also committed, if the step commits).
    pub async fn enqueue(
        &mut self,
        events: &[ChangeEvent],
        marks: &[(usize, Marker)],
        step: TxnStep,
    ) -> Result<Pending, KafkaSinkError> {
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .ok();
        self.encoder.set_now(now_ns);
        let mut last_version = None;
        let mut marks = marks.iter().peekable();
        for (i, ev) in events.iter().enumerate() {
            while let Some((_, m)) = marks.next_if(|(at, _)| *at <= i) {
                self.ensure_marker_topic(m).await?;
                self.encoder.encode_marker(m, &mut records);
            }
            if last_version != Some(ev.schema.version) {
                last_version = Some(ev.schema.version);
                self.ensure_table(&ev.schema.table, !ev.schema.key_columns.is_empty())
                    .await?;
            }
            self.encoder.encode(ev, &mut records);
        }
        for (_, m) in marks {
            self.ensure_marker_topic(m).await?;
            self.encoder.encode_marker(m, &mut records);
        }
        self.formats.apply(&mut records).await?;
        let mut futures = Vec::with_capacity(records.len());
        let mut commit = None;
        if let Some(txn) = &self.txn {
            let ends = match step {
                TxnStep::Keep => false,
                TxnStep::Commit(checkpoint) => {
                    records.extend(checkpoint);
                    true
                }
            };
            if self.open.is_none() && !records.is_empty() {
                let permit = txn
                    .gate
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| KafkaSinkError::Canceled)?;
                txn.producer
                    .begin_transaction()
                    .map_err(|e| txn.failure("begin", e))?;
                txn.open.store(true, std::sync::atomic::Ordering::SeqCst);
                self.open = Some((permit, Instant::now()));
            }
            if ends {
                commit = self.open.take().map(|(permit, _)| (txn.clone(), permit));
            }
        }
        for rec in records.drain(..) {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
            if let Some(k) = &rec.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &rec.value {
                fr = fr.payload(v.as_slice());
            }
            if !rec.headers.is_empty() {
                let mut h = rdkafka::message::OwnedHeaders::new();
                for (k, v) in &rec.headers {
                    h = h.insert(rdkafka::message::Header {
                        key: k,
                        value: Some(v.as_slice()),
                    });
                }
                fr = fr.headers(h);
            }
            loop {
                match self.producer.send_result(fr) {
                    Ok(f) => {
                        futures.push((rec.topic.clone(), f));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        fr = back;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((source, _)) => {
                        return Err(KafkaSinkError::Delivery {
                            topic: rec.topic.to_string(),
                            source,
                        })
                    }
                }
            }
        }
        self.records = records;
        Ok(Pending {
            futures,
            producer: self.producer.clone(),
            commit,
        })
    }

    /// Flush everything queued (used at shutdown).
    pub async fn flush(&self) {
        let p = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(30))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused delivery names the topic and broker code, with a hint that names the real
    /// fix (whether it is retried: `pipeline::retry`).
    #[test]
    fn delivery_classification() {
        let delivery = |code| KafkaSinkError::Delivery {
            topic: "t".into(),
            source: KafkaError::MessageProduction(code),
        };
        let invalid = delivery(RDKafkaErrorCode::InvalidRecord);
        assert!(
            invalid.hint().contains("cleanup.policy"),
            "{}",
            invalid.hint()
        );
        let text = invalid.to_string();
        assert!(
            text.contains("topic t") && text.contains("InvalidRecord") && text.contains("87"),
            "{text}"
        );
        assert!(delivery(RDKafkaErrorCode::MessageSizeTooLarge)
            .hint()
            .contains("max.message.bytes"));
        let compacted = KafkaSinkError::CompactedWithoutKey {
            table: "public.t".into(),
            topic: "p.public.t".into(),
            policy: "compact".into(),
        };
        assert!(compacted.to_string().contains("public.t"));
    }
}
