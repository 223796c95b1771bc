//! Kafka sink: Debezium JSON records into compacted topics, one idempotent producer per
//! connector.
//!
//! ```text
//! events ──EnvelopeEncoder──► records ──FutureProducer.send_result──► DeliveryFutures
//!                                   (create topic, compacted, on first use)      │
//!                                                      Pending::wait ◄────────────┘ (acks=all)
//! ```
//! Invariants: `enable.idempotence=true`, `acks=all` and `partitioner=murmur2_random` are
//! always set (users cannot override them), so a key lands in the partition a Java producer
//! would pick, in source order, without duplicates from producer retries; a delete is
//! followed by a tombstone.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use secrecy::ExposeSecret;

use crate::config::KafkaSettings;
use crate::envelope::{EnvelopeEncoder, EnvelopeOptions, Record, SourceKind};
use crate::event::ChangeEvent;

/// Kafka sink failures.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
    /// The client could not be created from the configuration.
    #[error("invalid kafka client configuration")]
    Config(#[source] KafkaError),
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
    #[error("delivery to topic {topic} failed")]
    Delivery {
        /// Topic.
        topic: String,
        /// Cause.
        #[source]
        source: KafkaError,
    },
    /// The producer went away while a delivery was pending.
    #[error("kafka producer shut down while deliveries were pending")]
    Canceled,
}

impl KafkaSinkError {
    /// Transient errors are retried by restarting the connector from its last checkpoint.
    pub fn is_transient(&self) -> bool {
        match self {
            KafkaSinkError::Config(_) => false,
            KafkaSinkError::CreateTopic { source, .. } => !matches!(
                source.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::TopicAuthorizationFailed
                        | RDKafkaErrorCode::InvalidConfig
                        | RDKafkaErrorCode::InvalidReplicationFactor
                        | RDKafkaErrorCode::InvalidPartitions
                        | RDKafkaErrorCode::PolicyViolation
                )
            ),
            KafkaSinkError::Delivery { source, .. } => !matches!(
                source.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::TopicAuthorizationFailed
                        | RDKafkaErrorCode::MessageSizeTooLarge
                        | RDKafkaErrorCode::InvalidRecord
                )
            ),
            KafkaSinkError::Unreachable { .. } | KafkaSinkError::Canceled => true,
        }
    }

    /// What an operator should do about a definite error.
    pub fn hint(&self) -> &'static str {
        match self {
            KafkaSinkError::Config(_) => "check sink.properties, sink.tls and sink.sasl",
            KafkaSinkError::CreateTopic { .. } => {
                "check topic_partitions / topic_replication_factor and the principal's CreateTopics ACL, or create the topics yourself and set create_topics: false"
            }
            KafkaSinkError::Delivery { .. } => {
                "raise the broker's and topic's max.message.bytes (and message.max.bytes in sink.properties) or grant Write on the topic"
            }
            _ => "check broker availability",
        }
    }
}

/// Deliveries of one batch in flight.
pub struct Pending {
    futures: Vec<(std::sync::Arc<str>, DeliveryFuture)>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("records", &self.futures.len())
            .finish()
    }
}

impl Pending {
    /// Wait until every record of the batch is acknowledged by the brokers.
    pub async fn wait(self) -> Result<(), KafkaSinkError> {
        let topics: Vec<_> = self.futures.iter().map(|(t, _)| t.clone()).collect();
        let results = join_all(self.futures.into_iter().map(|(_, f)| f)).await;
        for (topic, r) in topics.into_iter().zip(results) {
            match r {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => {
                    return Err(KafkaSinkError::Delivery {
                        topic: topic.to_string(),
                        source,
                    })
                }
                Err(_) => return Err(KafkaSinkError::Canceled),
            }
        }
        Ok(())
    }
}

/// The sink for one connector.
pub struct KafkaSink {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    encoder: EnvelopeEncoder,
    settings_servers: String,
    create_topics: bool,
    partitions: i32,
    replication: i32,
    known_topics: HashSet<std::sync::Arc<str>>,
    records: Vec<Record>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("bootstrap_servers", &self.settings_servers)
            .finish_non_exhaustive()
    }
}

/// The librdkafka configuration for `s` (secrets included; never log it).
pub fn client_config(s: &KafkaSettings) -> ClientConfig {
    client_config_parts(
        &s.bootstrap_servers,
        s.tls.as_ref(),
        s.sasl.as_ref(),
        &s.properties,
    )
}

/// Client configuration from its parts (shared by producers and consumers).
pub fn client_config_parts(
    servers: &str,
    tls: Option<&crate::config::KafkaTls>,
    sasl: Option<&crate::config::KafkaSasl>,
    properties: &std::collections::BTreeMap<String, String>,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", servers);
    let protocol = match (&tls, &sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if let Some(tls) = tls {
        if let Some(ca) = &tls.ca_file {
            c.set("ssl.ca.location", ca.display().to_string());
        }
        if let Some(cert) = &tls.cert_file {
            c.set("ssl.certificate.location", cert.display().to_string());
        }
        if let Some(key) = &tls.key_file {
            c.set("ssl.key.location", key.display().to_string());
        }
        c.set(
            "ssl.endpoint.identification.algorithm",
            if tls.verify_hostname { "https" } else { "none" },
        );
    }
    if let Some(sasl) = sasl {
        c.set("sasl.mechanism", &sasl.mechanism);
        c.set("sasl.username", &sasl.username);
        c.set("sasl.password", sasl.password.expose_secret());
    }
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}

impl KafkaSink {
    /// Build the producer and check that the brokers answer.
    pub async fn connect(
        connector: &str,
        s: &KafkaSettings,
        source_kind: SourceKind,
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
        ] {
            if !s.properties.contains_key(k) {
                pc.set(k, v);
            }
        }
        let producer: FutureProducer = pc.create().map_err(KafkaSinkError::Config)?;
        let admin: AdminClient<DefaultClientContext> =
            client_config(s).create().map_err(KafkaSinkError::Config)?;
        let probe = producer.clone();
        tokio::task::spawn_blocking(move || {
            probe
                .client()
                .fetch_metadata(None, Duration::from_secs(10))
                .map(|_| ())
        })
        .await
        .map_err(|_| KafkaSinkError::Canceled)?
        .map_err(|source| KafkaSinkError::Unreachable {
            servers: s.bootstrap_servers.clone(),
            source,
        })?;
        Ok(Self {
            producer,
            admin,
            encoder: EnvelopeEncoder::new(EnvelopeOptions {
                topic_prefix: s
                    .topic_prefix
                    .clone()
                    .unwrap_or_else(|| connector.to_string()),
                schemas_enable: s.schemas_enable,
                source_kind,
            }),
            settings_servers: s.bootstrap_servers.clone(),
            create_topics: s.create_topics,
            partitions: s.topic_partitions,
            replication: s.topic_replication_factor,
            known_topics: HashSet::new(),
            records: Vec::new(),
        })
    }

    async fn ensure_topic(&mut self, topic: &std::sync::Arc<str>) -> Result<(), KafkaSinkError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        if self.create_topics {
            let new = NewTopic::new(
                topic,
                self.partitions,
                TopicReplication::Fixed(self.replication),
            )
            .set("cleanup.policy", "compact");
            let opts = AdminOptions::new()
                .operation_timeout(Some(Duration::from_secs(30)))
                .request_timeout(Some(Duration::from_secs(15)));
            let err = |source| KafkaSinkError::CreateTopic {
                topic: topic.to_string(),
                source,
            };
            let results = self.admin.create_topics([&new], &opts).await.map_err(err)?;
            for r in results {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((_, code)) => return Err(err(KafkaError::AdminOp(code))),
                }
            }
            tracing::info!(topic = %topic, "topic ready (cleanup.policy=compact)");
        }
        self.known_topics.insert(topic.clone());
        Ok(())
    }

    /// Encode and hand events to the producer; the result resolves when all are durable.
    pub async fn enqueue(&mut self, events: &[ChangeEvent]) -> Result<Pending, KafkaSinkError> {
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .ok();
        self.encoder.set_now(now_ns);
        for ev in events {
            self.encoder.encode(ev, &mut records);
        }
        let mut futures = Vec::with_capacity(records.len());
        let mut last_topic: Option<std::sync::Arc<str>> = None;
        for rec in records.drain(..) {
            if !last_topic
                .as_ref()
                .is_some_and(|t| std::sync::Arc::ptr_eq(t, &rec.topic))
            {
                self.ensure_topic(&rec.topic).await?;
                last_topic = Some(rec.topic.clone());
            }
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
            if let Some(k) = &rec.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &rec.value {
                fr = fr.payload(v.as_slice());
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
        Ok(Pending { futures })
    }

    /// Flush everything queued (used at shutdown).
    pub async fn flush(&self) {
        let p = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(30))).await;
    }
}
