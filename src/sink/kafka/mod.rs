//! Kafka sink: Debezium JSON records into compacted topics, one idempotent producer per
//! connector.
//!
//! ```text
//! events ──EnvelopeEncoder──► records ──formats (JSON / Avro)──► producer.send ──► librdkafka
//!             (topics prepared at start: compacted if keyed, else delete)            │
//!                                   Pending::wait ◄── one Acks per batch ◄──────────────┘ (acks=all)
//! ```
//! Files: `error` (failures and their hints), `delivery` (acknowledgements, the Kafka
//! transaction), `formats` (JSON or Avro parts).
//!
//! Invariants: `enable.idempotence=true`, `acks=all` and `partitioner=murmur2_random` are
//! always set (users cannot override them), so a key lands in the partition a Java producer
//! would pick, in source order, without duplicates from producer retries; a delete is
//! followed by a tombstone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer as _};

use crate::config::{KafkaSettings, RecordFormat};
use crate::envelope::{EnvelopeEncoder, EnvelopeOptions, Record};
use crate::event::{ChangeEvent, Marker, TableId, TableShape};
use crate::kafka::{client_config, is_auth_failure};

mod delivery;
mod error;
mod formats;

use delivery::{Acks, Deliveries, Producer, TXN_TIMEOUT};
pub use delivery::{Pending, Txn, TxnStep};
pub use error::KafkaSinkError;
use formats::{AvroOut, Formats};

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

/// The sink for one connector.
pub struct KafkaSink {
    producer: Producer,
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
                let producer: Producer = std::sync::Arc::new(
                    pc.create_with_context(Deliveries)
                        .map_err(KafkaSinkError::Config)?,
                );
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
            (None, None) => (
                std::sync::Arc::new(
                    pc.create_with_context(Deliveries)
                        .map_err(KafkaSinkError::Config)?,
                ),
                None,
            ),
        };
        let avro = match &s.schema_registry {
            Some(r) if [s.key_format, s.value_format].contains(&RecordFormat::Avro) => {
                Some(AvroOut::new(
                    crate::kafka::registry::Registry::new(r)?,
                    r.subject_name_strategy,
                ))
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
    ///
    /// Each event's records are handed over as soon as they are encoded, so the producer
    /// copies bytes that are still in the cache and their buffers serve the next event.
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
        // One count held while records are still being handed over, so the batch cannot
        // settle before its last record is sent; released below whatever happens.
        let acks = Acks::new(1);
        let mut sent = 0;
        let outcome = self
            .hand_over(events, marks, step, &mut records, &acks, &mut sent)
            .await;
        acks.unsent();
        records.clear();
        self.records = records;
        Ok(Pending {
            acks,
            records: sent,
            producer: std::sync::Arc::clone(&self.producer),
            commit: outcome?,
        })
    }

    /// [`KafkaSink::enqueue`]'s work: encode, convert and send each event's records (the
    /// transaction begun before the first), then the checkpoint; the transaction to commit
    /// once the batch is durable, if `step` ends it.
    async fn hand_over(
        &mut self,
        events: &[ChangeEvent],
        marks: &[(usize, Marker)],
        step: TxnStep,
        records: &mut Vec<Record>,
        acks: &std::sync::Arc<Acks>,
        sent: &mut usize,
    ) -> Result<Option<(Txn, tokio::sync::OwnedSemaphorePermit)>, KafkaSinkError> {
        let mut last_version = None;
        let mut marks = marks.iter().peekable();
        for (i, ev) in events.iter().enumerate() {
            while let Some((_, m)) = marks.next_if(|(at, _)| *at <= i) {
                self.ensure_marker_topic(m).await?;
                self.encoder.encode_marker(m, records);
            }
            if last_version != Some(ev.schema.version) {
                last_version = Some(ev.schema.version);
                self.ensure_table(&ev.schema.table, !ev.schema.key_columns.is_empty())
                    .await?;
            }
            self.encoder.encode(ev, records);
            self.formats.apply(records).await?;
            self.send_all(records, acks, sent).await?;
        }
        for (_, m) in marks {
            self.ensure_marker_topic(m).await?;
            self.encoder.encode_marker(m, records);
        }
        self.formats.apply(records).await?;
        let ends = match step {
            TxnStep::Keep => false,
            TxnStep::Commit(checkpoint) => {
                // Only a transactional sink writes the checkpoint into the batch.
                if self.txn.is_some() {
                    records.extend(checkpoint);
                }
                true
            }
        };
        self.send_all(records, acks, sent).await?;
        Ok(match &self.txn {
            Some(txn) if ends => self.open.take().map(|(permit, _)| (txn.clone(), permit)),
            _ => None,
        })
    }

    /// Hand `records` to the producer in order (beginning the Kafka transaction first when
    /// the sink is transactional and none is open), counting each on `acks`; their buffers
    /// go back to the encoder.
    async fn send_all(
        &mut self,
        records: &mut Vec<Record>,
        acks: &std::sync::Arc<Acks>,
        sent: &mut usize,
    ) -> Result<(), KafkaSinkError> {
        if records.is_empty() {
            return Ok(());
        }
        if let (Some(txn), None) = (&self.txn, &self.open) {
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
        for rec in records.drain(..) {
            acks.expect_one();
            let mut br: BaseRecord<'_, [u8], [u8], std::sync::Arc<Acks>> =
                BaseRecord::with_opaque_to(&rec.topic, std::sync::Arc::clone(acks));
            if let Some(k) = &rec.key {
                br = br.key(k.as_slice());
            }
            if let Some(v) = &rec.value {
                br = br.payload(v.as_slice());
            }
            if !rec.headers.is_empty() {
                let mut h = rdkafka::message::OwnedHeaders::new();
                for (k, v) in &rec.headers {
                    h = h.insert(rdkafka::message::Header {
                        key: k,
                        value: Some(v.as_slice()),
                    });
                }
                br = br.headers(h);
            }
            loop {
                match self.producer.send(br) {
                    Ok(()) => {
                        *sent += 1;
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        br = back;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((source, _)) => {
                        acks.unsent();
                        return Err(KafkaSinkError::Delivery {
                            topic: rec.topic.to_string(),
                            source,
                        });
                    }
                }
            }
            // The producer copied key and value: their buffers serve the next records.
            self.encoder.recycle(rec);
        }
        Ok(())
    }

    /// Flush everything queued (used at shutdown).
    pub async fn flush(&self) {
        let p = std::sync::Arc::clone(&self.producer);
        let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(30))).await;
    }
}
