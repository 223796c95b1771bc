//! Offsets in a compacted Kafka topic (`service.offsets.store: kafka`), on the brokers of
//! each connector's sink: key = the connector name as a JSON string, value = the same JSON
//! the file store writes; a clear is a tombstone.
//!
//! ```text
//! prepare (once per connector): topic missing ─► create it (cleanup.policy=compact, one
//!   partition, the cluster's default replication factor); not compacted ─► refuse to start
//! load:  take each partition's high watermark, wait until no transaction below it is open
//!        (the last stable offset reached it), then read (read_committed) from the start to
//!        that mark or to its end-of-partition event; the connector's last record wins (a
//!        tombstone means none)
//! save:  produce (acks=all, idempotent) and wait for the broker's acknowledgement
//! ```
//! Invariant: a save returns only after the broker acknowledged the record (with
//! `min.insync.replicas` of the topic respected by `acks=all`), so the pipeline's order
//! "sink durable → offsets durable → source acknowledged" holds as with the file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::OffsetError;

/// How long a save or a load may take before it is a (transient) failure.
const WAIT: Duration = Duration::from_secs(30);

/// Remembers the outcome of the last delivery.
#[derive(Default)]
struct Outcome(Mutex<Option<Result<(), String>>>);

impl ClientContext for Outcome {}

impl ProducerContext for Outcome {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        let o = match r {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.to_string()),
        };
        if let Ok(mut g) = self.0.lock() {
            *g = Some(o);
        }
    }
}

/// The offsets reader's context: the end of a partition is how a load knows it is done,
/// not an error to log (librdkafka reports it as a "global error").
struct Reader;

impl ClientContext for Reader {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::error::KafkaError;
        use rdkafka::types::RDKafkaErrorCode;
        if !matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::error!(error = %error, reason, "offsets reader: kafka client error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Reader {}

/// The Kafka side of one connector's offsets.
pub(crate) struct KafkaOffsets {
    client: ClientConfig,
    topic: String,
    producer: ThreadedProducer<Outcome>,
    /// One save at a time (the outcome slot is shared).
    saving: Mutex<()>,
}

impl std::fmt::Debug for KafkaOffsets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOffsets")
            .field("topic", &self.topic)
            .finish()
    }
}

fn kafka_err(topic: &str, what: &str, e: impl std::fmt::Display) -> OffsetError {
    OffsetError::Kafka {
        topic: topic.to_string(),
        detail: format!("{what}: {e}"),
    }
}

impl KafkaOffsets {
    /// Check (or create) the topic and connect a producer. `client` is the sink's client
    /// configuration (secrets included).
    pub(crate) async fn prepare(
        client: ClientConfig,
        topic: &str,
    ) -> Result<Arc<KafkaOffsets>, OffsetError> {
        let admin: AdminClient<DefaultClientContext> = client
            .create()
            .map_err(|e| kafka_err(topic, "creating an admin client", e))?;
        let opts = AdminOptions::new().request_timeout(Some(WAIT));
        let new =
            NewTopic::new(topic, 1, TopicReplication::Fixed(-1)).set("cleanup.policy", "compact");
        let created = admin
            .create_topics([&new], &opts)
            .await
            .map_err(|e| kafka_err(topic, "creating the offsets topic", e))?;
        for r in created {
            if let Err((_, code)) = r {
                if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                    return Err(kafka_err(topic, "creating the offsets topic", code));
                }
            }
        }
        let described = admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
            .await
            .map_err(|e| kafka_err(topic, "reading the offsets topic's configuration", e))?;
        let mut policy = None;
        for r in described {
            let r =
                r.map_err(|e| kafka_err(topic, "reading the offsets topic's configuration", e))?;
            if let Some(e) = r.get("cleanup.policy") {
                policy = e.value.clone();
            }
        }
        let policy = policy.unwrap_or_default();
        if !policy.split(',').any(|p| p.trim() == "compact") {
            return Err(OffsetError::NotCompacted {
                topic: topic.to_string(),
                policy,
            });
        }
        let mut pc = client.clone();
        pc.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0");
        let producer: ThreadedProducer<Outcome> = pc
            .create_with_context(Outcome::default())
            .map_err(|e| kafka_err(topic, "creating the offsets producer", e))?;
        Ok(Arc::new(KafkaOffsets {
            client,
            topic: topic.to_string(),
            producer,
            saving: Mutex::new(()),
        }))
    }

    /// The offsets topic.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Write `value` (none: a tombstone) under `key` and wait for the acknowledgement.
    pub(crate) fn put(&self, key: &str, value: Option<&[u8]>) -> Result<(), OffsetError> {
        let _one = self
            .saving
            .lock()
            .map_err(|_| kafka_err(&self.topic, "saving", "a save panicked"))?;
        if let Ok(mut g) = self.producer.context().0.lock() {
            *g = None;
        }
        let mut rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        self.producer
            .send(rec)
            .map_err(|(e, _)| kafka_err(&self.topic, "saving the checkpoint", e))?;
        self.producer
            .flush(WAIT)
            .map_err(|e| kafka_err(&self.topic, "saving the checkpoint", e))?;
        let outcome = self
            .producer
            .context()
            .0
            .lock()
            .ok()
            .and_then(|mut g| g.take());
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(kafka_err(&self.topic, "saving the checkpoint", e)),
            None => Err(kafka_err(
                &self.topic,
                "saving the checkpoint",
                "no acknowledgement",
            )),
        }
    }

    /// The last value written under `key` (none: never written, or a tombstone last).
    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OffsetError> {
        Ok(self.get_many(&[key])?.pop().flatten())
    }

    /// The last value written under each of `keys`, in one read of the topic.
    pub(crate) fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, OffsetError> {
        let err = |what: &str, e: &dyn std::fmt::Display| kafka_err(&self.topic, what, e);
        let mut cc = self.client.clone();
        // No group: the partitions are assigned, nothing is committed.
        cc.set("group.id", "sluice-offsets-reader")
            .set("enable.auto.commit", "false")
            // The end of a partition (after any transaction markers) is signalled.
            .set("enable.partition.eof", "true")
            // Checkpoints written in a sink's transaction count once it committed.
            .set("isolation.level", "read_committed");
        let consumer: BaseConsumer<Reader> = cc
            .create_with_context(Reader)
            .map_err(|e| err("creating the offsets reader", &e))?;
        let md = consumer
            .fetch_metadata(Some(&self.topic), WAIT)
            .map_err(|e| err("reading the offsets topic's partitions", &e))?;
        let partitions: Vec<i32> = md
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        // The end to read to is the high watermark, which only a read_uncommitted client
        // reports: a read_committed one reports the last stable offset, which stays before
        // the first record of any transaction still open (another connector's). Stopping
        // there would miss a checkpoint committed after that transaction began, and resume
        // from an older one, repeating the batches since (the duplicates the cluster's
        // exactly-once test saw once in eleven runs).
        let mut hc = self.client.clone();
        hc.set("group.id", "sluice-offsets-reader")
            .set("isolation.level", "read_uncommitted");
        let marks: BaseConsumer<Reader> = hc
            .create_with_context(Reader)
            .map_err(|e| err("creating the offsets reader", &e))?;
        let mut ends = std::collections::HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            let (low, high) = marks
                .fetch_watermarks(&self.topic, p, WAIT)
                .map_err(|e| err("reading the offsets topic's end", &e))?;
            if high > low {
                ends.insert(p, high);
                tpl.add_partition_offset(&self.topic, p, Offset::Beginning)
                    .map_err(|e| err("reading the offsets topic", &e))?;
            }
        }
        if ends.is_empty() {
            return Ok(vec![None; keys.len()]);
        }
        // Wait until every transaction below that end has ended (the last stable offset
        // reached it): then everything committed there is delivered before the reader's
        // end-of-partition. An open transaction ends within its timeout.
        let deadline = Instant::now() + WAIT;
        loop {
            let mut stable = true;
            for (p, high) in &ends {
                let (_, lso) = consumer
                    .fetch_watermarks(&self.topic, *p, WAIT)
                    .map_err(|e| err("reading the offsets topic's stable end", &e))?;
                if lso < *high {
                    if Instant::now() > deadline {
                        return Err(err(
                            "reading the offsets topic",
                            &format!(
                                "partition {p}: a transaction begun before offset {high} is still open (last stable offset {lso})"
                            ),
                        ));
                    }
                    stable = false;
                }
            }
            if stable {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        consumer
            .assign(&tpl)
            .map_err(|e| err("reading the offsets topic", &e))?;
        let deadline = Instant::now() + WAIT;
        let mut last: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        let mut read_to: std::collections::HashMap<i32, i64> = std::collections::HashMap::new();
        while !ends.is_empty() {
            if Instant::now() > deadline {
                // Where it stopped, to tell a stuck transaction (read_committed stops at the
                // last stable offset) from an unreachable leader.
                let at: Vec<String> = ends
                    .iter()
                    .map(|(p, high)| {
                        let lso = consumer
                            .fetch_watermarks(&self.topic, *p, Duration::from_secs(2))
                            .map(|(_, h)| h)
                            .unwrap_or(-1);
                        format!(
                            "partition {p}: read to offset {}, high watermark {high} at the start, last stable offset {lso} now",
                            read_to.get(p).copied().unwrap_or(-1)
                        )
                    })
                    .collect();
                return Err(err(
                    "reading the offsets topic",
                    &format!("timed out before its end ({})", at.join("; ")),
                ));
            }
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                // Done with a partition at its end (transaction markers and aborted records
                // take offsets but are never delivered, so offsets cannot tell). The last
                // stable offset was at or past the read's end before the read began.
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    ends.remove(&p);
                }
                Some(Err(e)) => return Err(err("reading the offsets topic", &e)),
                Some(Ok(m)) => {
                    read_to.insert(m.partition(), m.offset());
                    if let Some(i) = keys.iter().position(|k| m.key() == Some(k.as_bytes())) {
                        last[i] = m.payload().map(<[u8]>::to_vec);
                    }
                    // Done at the end the read started from: with other connectors
                    // committing checkpoints all the time, the partition's end moves on and
                    // its end-of-partition event may never come.
                    if ends
                        .get(&m.partition())
                        .is_some_and(|high| m.offset() + 1 >= *high)
                    {
                        ends.remove(&m.partition());
                    }
                }
            }
        }
        Ok(last)
    }
}
