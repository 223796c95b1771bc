//! Whether an error is retried: the one place that decides it, as a table.
//!
//! A *transient* error is one a retry can fix: the connector restarts from its last
//! checkpoint, with backoff. A *definite* one halts the connector (`failed` in `/health`,
//! with its hint) until an operator restarts it. Components may retry inside themselves
//! first (the registry client for 60 s, the producer on a full queue); what reaches the
//! pipeline is decided here.
//!
//! | error | transient when |
//! |---|---|
//! | PostgreSQL SQL | no SQLSTATE (connection level), or one in [`PG_TRANSIENT_SQLSTATES`] (connection, operator intervention, resources, object in use) |
//! | PostgreSQL replication | I/O or the client's own transient errors; a slot still "active for PID" (the session of a killed sluice, which frees itself); a server error of a class in [`PG_TRANSIENT_SQLSTATES`] |
//! | PostgreSQL slot busy | always |
//! | MySQL/MariaDB SQL, binlog | unless the server's code is in [`MYSQL_DEFINITE_CODES`] (access refused, position cannot be served) |
//! | MySQL/MariaDB silent server | always |
//! | offsets file | I/O; a corrupt file never |
//! | offsets topic | reading and writing it; a topic that is not compacted never |
//! | Kafka sink: topic creation | unless the broker's code is in [`CREATE_TOPIC_DEFINITE`] |
//! | Kafka sink: delivery | unless the broker's code is in [`DELIVERY_DEFINITE`] (a refusal that would repeat for the same record) |
//! | Kafka sink: transaction | unless librdkafka calls the error fatal |
//! | Kafka sink: brokers unreachable, a cancelled wait | always |
//! | Schema Registry | unavailable (down, or 5xx/408/429 through the client's 60 s of retries) |
//! | change-topic consumer | consuming; the registry as above |
//! | document target | HTTP and I/O errors, status 429 and 5xx, Redis I/O, dropped connections, timeouts and `LOADING`/`BUSY`/`TRYAGAIN`, memcached |
//! | source stopped unexpectedly | always |
//! | everything else (configuration, refusals, decode and value errors, preconditions, a fenced or fatal producer, Avro, a panicked stage) | never |
//!
//! Invariant: every variant of every error is named in a match below, with no catch-all
//! arm, so a new variant does not compile until it is decided here.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::PipelineError;
use crate::kafka::registry::RegistryError;
use crate::offsets::OffsetError;
use crate::sink::kafka::KafkaSinkError;
use crate::sink::target::TargetError;
use crate::source::changelog::ChangelogError;
use crate::source::mysql::MySourceError;
use crate::source::postgres::PgSourceError;
use crate::source::SourceError;

/// SQLSTATEs (classes by their two-character prefix) after which PostgreSQL is retried:
/// 08 connection exception, 57 operator intervention (fast shutdown, restart,
/// `pg_terminate_backend`), 53 insufficient resources, 55006 object in use.
pub(crate) const PG_TRANSIENT_SQLSTATES: &[&str] = &["08", "57", "53", "55006"];

/// MySQL/MariaDB server error codes that a retry cannot fix.
pub(crate) const MYSQL_DEFINITE_CODES: &[u16] = &[
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1142, // ER_TABLEACCESS_DENIED_ERROR
    1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
    1236, // ER_MASTER_FATAL_ERROR_READING_BINLOG (purged or bad position)
];

/// Broker codes for a topic that cannot be created as configured.
pub(crate) const CREATE_TOPIC_DEFINITE: &[RDKafkaErrorCode] = &[
    RDKafkaErrorCode::TopicAuthorizationFailed,
    RDKafkaErrorCode::InvalidConfig,
    RDKafkaErrorCode::InvalidReplicationFactor,
    RDKafkaErrorCode::InvalidPartitions,
    RDKafkaErrorCode::PolicyViolation,
];

/// Broker codes for a delivery refused in a way that would repeat for the same record.
pub(crate) const DELIVERY_DEFINITE: &[RDKafkaErrorCode] = &[
    RDKafkaErrorCode::TopicAuthorizationFailed,
    RDKafkaErrorCode::ClusterAuthorizationFailed,
    RDKafkaErrorCode::MessageSizeTooLarge,
    RDKafkaErrorCode::MessageBatchTooLarge,
    RDKafkaErrorCode::InvalidRecord,
    RDKafkaErrorCode::InvalidMessage,
    RDKafkaErrorCode::InvalidMessageSize,
    RDKafkaErrorCode::InvalidConfig,
    RDKafkaErrorCode::PolicyViolation,
    RDKafkaErrorCode::UnsupportedForMessageFormat,
    RDKafkaErrorCode::UnsupportedVersion,
    RDKafkaErrorCode::UnsupportedCompressionType,
    RDKafkaErrorCode::InvalidRequiredAcks,
    RDKafkaErrorCode::InvalidTopic,
    RDKafkaErrorCode::SaslAuthenticationFailed,
    RDKafkaErrorCode::Authentication,
];

/// Redis error codes that mean "busy, try again".
const REDIS_TRANSIENT_CODES: &[&str] = &["LOADING", "BUSY", "TRYAGAIN"];

/// Whether a connector that stopped with `e` is restarted.
pub(crate) fn transient(e: &PipelineError) -> bool {
    match e {
        PipelineError::Source(SourceError::Postgres(e)) => postgres(e),
        PipelineError::Source(SourceError::Mysql(e)) => mysql(e),
        PipelineError::Sink(e) => kafka_sink(e),
        PipelineError::Changelog(e) => changelog(e),
        PipelineError::Target(e) => target(e),
        PipelineError::Offsets(e) => offsets(e),
        PipelineError::Stalled => true,
        PipelineError::Panicked { .. } | PipelineError::Mismatch => false,
    }
}

fn offsets(e: &OffsetError) -> bool {
    match e {
        OffsetError::Io { .. } | OffsetError::Kafka { .. } => true,
        OffsetError::Corrupt { .. } | OffsetError::NotCompacted { .. } => false,
    }
}

fn postgres(e: &PgSourceError) -> bool {
    let transient_state = |c: &str| PG_TRANSIENT_SQLSTATES.iter().any(|p| c.starts_with(p));
    match e {
        PgSourceError::Sql { source, .. } => {
            source.code().is_none_or(|c| transient_state(c.code()))
        }
        PgSourceError::Replication { source, .. } => {
            // The server's error text carries its SQLSTATE as `(SQLSTATE xxxxx)`.
            let text = source.to_string();
            let state = text
                .split_once("(SQLSTATE ")
                .map(|(_, rest)| rest.trim_end_matches(')'));
            source.is_transient()
                || source.is_io()
                || text.contains("is active for PID")
                || (source.is_server() && state.is_some_and(transient_state))
        }
        // A full disk may free up; the server sends a running transaction again from its
        // start on the next connection.
        PgSourceError::SlotBusy { .. }
        | PgSourceError::Spill { .. }
        | PgSourceError::NoPrimary { .. }
        | PgSourceError::StreamOrder { .. } => true,
        PgSourceError::Offsets(e) => offsets(e),
        PgSourceError::Precondition { .. }
        | PgSourceError::Decode { .. }
        | PgSourceError::Value { .. }
        | PgSourceError::UnknownRelation { .. }
        | PgSourceError::TupleShape { .. }
        | PgSourceError::Copy { .. }
        | PgSourceError::Tls(_) => false,
    }
}

fn mysql(e: &MySourceError) -> bool {
    match e {
        MySourceError::Sql { source, .. } | MySourceError::Binlog { source, .. } => !matches!(
            source,
            mysql_async::Error::Server(s) if MYSQL_DEFINITE_CODES.contains(&s.code)
        ),
        MySourceError::Silent { .. } => true,
        MySourceError::Offsets(e) => offsets(e),
        MySourceError::Precondition { .. }
        | MySourceError::PositionPurged { .. }
        | MySourceError::Decode { .. }
        | MySourceError::Value { .. }
        | MySourceError::Tls(_) => false,
    }
}

fn kafka_sink(e: &KafkaSinkError) -> bool {
    match e {
        KafkaSinkError::CreateTopic { source, .. } => !source
            .rdkafka_error_code()
            .is_some_and(|c| CREATE_TOPIC_DEFINITE.contains(&c)),
        KafkaSinkError::Delivery { source, .. } => !source
            .rdkafka_error_code()
            .is_some_and(|c| DELIVERY_DEFINITE.contains(&c)),
        KafkaSinkError::Transaction { source, .. } => match source {
            KafkaError::Transaction(e) => !e.is_fatal(),
            _ => true,
        },
        KafkaSinkError::Registry(e) => registry(e),
        KafkaSinkError::Unreachable { .. } | KafkaSinkError::Canceled => true,
        KafkaSinkError::Config(_)
        | KafkaSinkError::Authentication { .. }
        | KafkaSinkError::CompactedWithoutKey { .. }
        | KafkaSinkError::ProducerFatal { .. }
        | KafkaSinkError::Fenced { .. }
        | KafkaSinkError::Avro { .. } => false,
    }
}

fn registry(e: &RegistryError) -> bool {
    match e {
        RegistryError::Unavailable { .. } => true,
        RegistryError::Refused { .. } | RegistryError::Config(_) => false,
    }
}

fn changelog(e: &ChangelogError) -> bool {
    match e {
        ChangelogError::Consume(_) => true,
        ChangelogError::Registry(e) => registry(e),
        ChangelogError::Config(_) | ChangelogError::Refused { .. } => false,
    }
}

fn target(e: &TargetError) -> bool {
    match e {
        TargetError::Http(_) | TargetError::Io(_) | TargetError::Memcached(_) => true,
        TargetError::Status { status, .. } => *status == 429 || *status >= 500,
        TargetError::Redis(e) => {
            e.is_io_error()
                || e.is_connection_dropped()
                || e.is_timeout()
                || e.code().is_some_and(|c| REDIS_TRANSIENT_CODES.contains(&c))
        }
        TargetError::Config(_) | TargetError::Refused { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walsender ended by a fast shutdown, a restart or `pg_terminate_backend` (SQLSTATE
    /// class 57) is retried; an error about the request itself is not.
    #[test]
    fn replication_errors_by_sqlstate() {
        let server = |text: &str| PgSourceError::Replication {
            context: "receiving",
            source: pgwire_replication::PgWireError::Server(text.into()),
        };
        for transient in [
            "terminating connection due to administrator command (SQLSTATE 57P01)",
            "the database system is shutting down (SQLSTATE 57P03)",
            "connection failure (SQLSTATE 08006)",
            "out of memory (SQLSTATE 53200)",
        ] {
            assert!(postgres(&server(transient)), "{transient}");
        }
        assert!(!postgres(&server(
            "publication \"x\" does not exist (SQLSTATE 42704)"
        )));
    }

    /// Refusals that would repeat for the same record forever are definite; broker outages
    /// and leader moves are transient.
    #[test]
    fn delivery_classification() {
        let delivery = |code| KafkaSinkError::Delivery {
            topic: "t".into(),
            source: KafkaError::MessageProduction(code),
        };
        for definite in [
            RDKafkaErrorCode::InvalidRecord,
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::TopicAuthorizationFailed,
        ] {
            assert!(!kafka_sink(&delivery(definite)), "{definite:?}");
        }
        for transient in [
            RDKafkaErrorCode::NotLeaderForPartition,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::BrokerTransportFailure,
        ] {
            assert!(kafka_sink(&delivery(transient)), "{transient:?}");
        }
        let compacted = KafkaSinkError::CompactedWithoutKey {
            table: "public.t".into(),
            topic: "p.public.t".into(),
            policy: "compact".into(),
        };
        assert!(!kafka_sink(&compacted));
    }

    /// The pipeline's own stops: a stalled source is retried, a panic and a mismatch are not.
    #[test]
    fn pipeline_stops() {
        assert!(transient(&PipelineError::Stalled));
        assert!(!transient(&PipelineError::Mismatch));
        assert!(!transient(&PipelineError::Panicked {
            stage: "source",
            message: "boom".into()
        }));
        let status = |status| {
            PipelineError::Target(TargetError::Status {
                status,
                detail: String::new(),
            })
        };
        assert!(transient(&status(503)) && transient(&status(429)));
        assert!(!transient(&status(400)));
    }
}
