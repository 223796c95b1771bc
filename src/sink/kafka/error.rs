//! What the Kafka sink can fail with, and the hint each failure's message carries (whether
//! one is retried is decided in `pipeline::retry`).

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

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
