//! Sink settings: Kafka topics (with the Schema Registry for Avro), a search index, Redis,
//! memcached. Every field is documented here and in README.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::model::yes;

/// Sinks, by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkSettings {
    /// Compacted Kafka topics.
    Kafka(KafkaSettings),
    /// An Elasticsearch/OpenSearch index through the `_bulk` API.
    Search(SearchSettings),
    /// Redis keys.
    Redis(RedisSettings),
    /// memcached keys.
    Memcached(MemcachedSettings),
}

/// How decimals are written to a search index.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum DecimalFormat {
    /// JSON numbers (may lose precision beyond double).
    #[default]
    Number,
    /// Exact decimal strings.
    String,
}

/// Search index sink settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Base URL, e.g. `https://search.internal:9200`.
    pub url: String,
    /// Index name template: `{topic}`, `{schema}`, `{table}`.
    #[serde(default = "default_index")]
    pub index: String,
    /// Decimal output.
    #[serde(default)]
    pub decimal_format: DecimalFormat,
    /// Only these fields (default: all).
    #[serde(default)]
    pub include_fields: Vec<String>,
    /// Never these fields.
    #[serde(default)]
    pub exclude_fields: Vec<String>,
    /// Basic-auth user.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password; never logged.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// API key (`Authorization: ApiKey …`); never logged.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// PEM CA file for TLS.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (testing only).
    #[serde(default)]
    pub tls_insecure: bool,
    /// Per-request timeout.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_index() -> String {
    "{topic}".into()
}
fn default_request_timeout_ms() -> u64 {
    30_000
}

/// Redis value layout.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum RedisValueFormat {
    /// The row as a JSON string.
    #[default]
    Json,
    /// A hash with one field per column (values as JSON text).
    Hash,
}

/// Redis sink settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db`, or `rediss://` for TLS.
    pub url: SecretString,
    /// Key template: `{topic}`, `{schema}`, `{table}`, `{key}`.
    #[serde(default = "default_cache_key")]
    pub key: String,
    /// Value layout.
    #[serde(default)]
    pub value_format: RedisValueFormat,
    /// Expire keys after this long (default: never).
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    /// How long the version marker of a deleted key is kept (guards against late replays).
    #[serde(default = "default_tombstone_ttl_ms")]
    pub deleted_version_ttl_ms: u64,
}

fn default_cache_key() -> String {
    "{table}:{key}".into()
}
fn default_tombstone_ttl_ms() -> u64 {
    86_400_000
}

/// memcached sink settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemcachedSettings {
    /// `host:port` of the server.
    pub server: String,
    /// Key template: `{topic}`, `{schema}`, `{table}`, `{key}`.
    #[serde(default = "default_cache_key")]
    pub key: String,
    /// Expiration in seconds (0 = never).
    #[serde(default)]
    pub ttl_s: u32,
}

/// Kafka sink settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `host:port[,host:port]` of the brokers.
    pub bootstrap_servers: String,
    /// Debezium's `topic.prefix` (default: the connector name).
    #[serde(default)]
    pub topic_prefix: Option<String>,
    /// Wrap keys and values in `{"schema":…,"payload":…}` (JsonConverter `schemas.enable`).
    #[serde(default)]
    pub schemas_enable: bool,
    /// Create missing topics (compacted) at start.
    #[serde(default = "yes")]
    pub create_topics: bool,
    /// Partitions of created topics.
    #[serde(default = "one")]
    pub topic_partitions: i32,
    /// Replication factor of created topics.
    #[serde(default = "one")]
    pub topic_replication_factor: i32,
    /// TLS to the brokers.
    #[serde(default)]
    pub tls: Option<KafkaTls>,
    /// SASL authentication.
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
    /// Extra librdkafka producer properties, passed through as they are.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Topic configs for created topics, per table (`schema.table`) or `"*"` for every
    /// topic; a table's entry is applied over `"*"`, and both over sluice's own choice
    /// (`cleanup.policy=compact` for keyed tables, `delete` for tables without a key).
    #[serde(default)]
    pub topic_config: BTreeMap<String, BTreeMap<String, String>>,
    /// Write records in Kafka transactions under `transactional_id`: a newly started
    /// instance fences the previous one (whose writes then fail: it stops), and records of
    /// a transaction that was not committed are invisible to `read_committed` consumers. A
    /// Kafka transaction ends only where the source's position is a checkpoint (never inside
    /// a source transaction), so with the Kafka offsets store a restart neither repeats nor
    /// loses a change.
    #[serde(default)]
    pub transactions: bool,
    /// With `transactions: true`: while more batches are queued, a Kafka transaction takes
    /// them in until it has been open this long, then commits at the next checkpoint (an
    /// idle source commits at once). Longer: fewer commits, more throughput; shorter: less
    /// latency for `read_committed` consumers. 1 to 60000.
    #[serde(default = "default_transaction_interval_ms")]
    pub transaction_interval_ms: u64,
    /// The producer's `transactional.id` with `transactions: true` (default
    /// `sluice-<connector>`). Two connectors must never share one.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// Record keys: `json` (Kafka Connect's JsonConverter, `schemas_enable` applies) or
    /// `avro` (Confluent wire format through `schema_registry`).
    #[serde(default)]
    pub key_format: RecordFormat,
    /// Record values, as `key_format`.
    #[serde(default)]
    pub value_format: RecordFormat,
    /// The Confluent-compatible Schema Registry the Avro formats register schemas with.
    #[serde(default)]
    pub schema_registry: Option<SchemaRegistrySettings>,
}

/// How keys or values are written.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum RecordFormat {
    /// JSON, as Kafka Connect's JsonConverter writes it.
    #[default]
    Json,
    /// Avro in the Confluent wire format, schemas registered in a Schema Registry.
    Avro,
}

mode_names!(RecordFormat { "json" => Json, "avro" => Avro });

/// Subject names for registered schemas (Confluent's `*SubjectNameStrategy`).
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (TopicNameStrategy, the default).
    #[default]
    Topic,
    /// The record's full name (RecordNameStrategy).
    Record,
    /// `<topic>-<record full name>` (TopicRecordNameStrategy).
    TopicRecord,
}

mode_names!(SubjectNameStrategy {
    "topic" => Topic,
    "record" => Record,
    "topic_record" => TopicRecord,
});

/// A Confluent-compatible Schema Registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistrySettings {
    /// Base URL, `http://host:port` or `https://…` (Apicurio: `…/apis/ccompat/v7`).
    pub url: String,
    /// Basic-auth user.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password; never logged.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// PEM CA file for TLS (default: system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How subjects are named.
    #[serde(default)]
    pub subject_name_strategy: SubjectNameStrategy,
    /// Per-request timeout.
    #[serde(default = "default_registry_timeout_ms")]
    pub request_timeout_ms: u64,
}

/// sluice's `transaction.timeout.ms` (librdkafka requires it ≥ `message.timeout.ms`).
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 120_000;

fn default_transaction_interval_ms() -> u64 {
    100
}

fn default_registry_timeout_ms() -> u64 {
    10_000
}

impl KafkaSettings {
    /// The producer's `transaction.timeout.ms` (sluice's default unless `properties` sets it).
    pub fn transaction_timeout_ms(&self) -> u64 {
        self.properties
            .get("transaction.timeout.ms")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_TRANSACTION_TIMEOUT_MS)
    }

    /// The producer's `transactional.id` for `connector`, when transactions are on.
    pub fn transactional_id_for(&self, connector: &str) -> Option<String> {
        self.transactions.then(|| {
            self.transactional_id
                .clone()
                .unwrap_or_else(|| format!("sluice-{connector}"))
        })
    }
}

fn one() -> i32 {
    1
}

/// TLS to Kafka brokers.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct KafkaTls {
    /// PEM CA file (default: system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Verify the broker host name.
    #[serde(default = "yes")]
    pub verify_hostname: bool,
}

/// SASL settings.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    /// User name.
    pub username: String,
    /// Password; never logged.
    pub password: SecretString,
}

/// Producer properties sluice sets itself; overriding them would break its guarantees.
pub const RESERVED_KAFKA_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "partitioner",
    "max.in.flight.requests.per.connection",
    "transactional.id",
    // librdkafka's aliases of the same properties.
    "metadata.broker.list",
    "request.required.acks",
    "max.in.flight",
];

/// SASL mechanisms sluice passes to librdkafka.
pub const SASL_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

mode_names!(DecimalFormat {
    "number" => Number,
    "string" => String,
});

mode_names!(RedisValueFormat {
    "json" => Json,
    "hash" => Hash,
});
