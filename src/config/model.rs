//! The configuration data model, top level: the file, the service, a connector. The
//! source and sink settings are in `source` and `sink`, the rules serde cannot express in
//! `validate`. Every field is documented here and in README.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::{SinkSettings, SourceSettings};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Process-wide settings.
    #[serde(default)]
    pub service: ServiceSettings,
    /// Connectors by name (lowercase letters, digits and `_`).
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorSettings>,
}

/// Process-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// Address of the HTTP API (`/metrics`, `/health`). Localhost unless you say otherwise.
    #[serde(default = "default_http_addr")]
    pub http_listen_addr: String,
    /// Directory for connector offset files.
    #[serde(default = "default_offsets_dir")]
    pub offsets_dir: PathBuf,
    /// Where capture connectors keep their offsets: files in `offsets_dir` (the default) or a
    /// compacted topic on each connector's sink brokers.
    #[serde(default)]
    pub offsets: OffsetsSettings,
    /// `text` or `json` logs.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Bearer token the HTTP API requires on every endpoint but `/health/live` (a secret;
    /// use `${ENV_VAR}`). Without it the API is open to whoever reaches its address.
    #[serde(default)]
    pub http_auth_token: Option<SecretString>,
    /// Run as one worker of a cluster: the workers share the connector definitions and
    /// Kafka's group protocol gives each connector to one of them (see `cluster`).
    #[serde(default)]
    pub cluster: Option<ClusterSettings>,
}

/// `service.cluster`: membership in a cluster of sluice workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The Kafka consumer group of the workers (every worker of one cluster gives the same).
    pub group_id: String,
    /// `host:port[,host:port]` of the brokers that hold the group and its lease topic.
    pub bootstrap_servers: String,
    /// The lease topic: one partition per connector (by the sorted connector names), never
    /// written; the worker assigned a partition runs that connector. Created when missing,
    /// and given more partitions when connectors are added.
    #[serde(default = "default_lease_topic")]
    pub lease_topic: String,
    /// How long the group waits for a silent worker before its connectors move (Kafka's
    /// `session.timeout.ms`; the brokers' `group.min.session.timeout.ms`, 6000 by default,
    /// is the lowest they accept). Failover takes about this plus a connector's start.
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// How long a worker waits for a connector it lost to drain and stop before the group
    /// may give it to another worker.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// This worker's name in `/cluster` (Kafka's `client.id`; default: host name and
    /// process id).
    #[serde(default)]
    pub worker_id: Option<String>,
    /// TLS to the brokers.
    #[serde(default)]
    pub tls: Option<crate::config::KafkaTls>,
    /// SASL authentication.
    #[serde(default)]
    pub sasl: Option<crate::config::KafkaSasl>,
    /// Extra librdkafka consumer properties, passed through as they are.
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, String>,
}

fn default_lease_topic() -> String {
    "sluice-leases".into()
}
fn default_session_timeout_ms() -> u64 {
    6_000
}
fn default_drain_timeout_ms() -> u64 {
    30_000
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            http_listen_addr: default_http_addr(),
            offsets_dir: default_offsets_dir(),
            offsets: OffsetsSettings::default(),
            log_format: LogFormat::default(),
            http_auth_token: None,
            cluster: None,
        }
    }
}

fn default_http_addr() -> String {
    "127.0.0.1:8083".into()
}
fn default_offsets_dir() -> PathBuf {
    PathBuf::from("./sluice-offsets")
}

/// Where capture connectors keep their offsets (`service.offsets`).
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OffsetsSettings {
    /// `file` (default: one file per connector in `offsets_dir`) or `kafka` (one record per
    /// connector in `topic`, on the connector's sink brokers).
    #[serde(default)]
    pub store: OffsetsStoreKind,
    /// The compacted topic of the Kafka store (created when missing; one that is not
    /// compacted is refused).
    #[serde(default = "default_offsets_topic")]
    pub topic: String,
}

impl Default for OffsetsSettings {
    fn default() -> Self {
        Self {
            store: OffsetsStoreKind::default(),
            topic: default_offsets_topic(),
        }
    }
}

fn default_offsets_topic() -> String {
    "sluice-offsets".into()
}

/// The offset store kind.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum OffsetsStoreKind {
    /// A file per connector in `offsets_dir`.
    #[default]
    File,
    /// A record per connector in a compacted Kafka topic.
    Kafka,
}

/// Log output format.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One connector: where changes come from and where they go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// The source of change events.
    pub source: SourceSettings,
    /// Where events are delivered.
    pub sink: SinkSettings,
    /// Largest number of events handed to the sink at once.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// Largest approximate size of one batch in bytes.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// Batches that may wait between source and sink (bounds memory with the two limits above).
    #[serde(default = "default_queue_batches")]
    pub queue_batches: usize,
    /// Debezium's `heartbeat.interval.ms` for capture connectors: a heartbeat record on
    /// `__debezium-heartbeat.<topic_prefix>` this often, carrying the acknowledged position
    /// (0, the default: none). Not MySQL's `source.heartbeat_interval_ms`, which asks the
    /// server for binlog heartbeats.
    #[serde(default)]
    pub heartbeat_interval_ms: u64,
}

fn default_max_batch_events() -> usize {
    4096
}
fn default_max_batch_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_queue_batches() -> usize {
    4
}

/// serde's default for the flags that are on unless turned off.
pub(super) fn yes() -> bool {
    true
}

mode_names!(OffsetsStoreKind {
    "file" => File,
    "kafka" => Kafka,
});

mode_names!(LogFormat {
    "text" => Text,
    "json" => Json,
});
