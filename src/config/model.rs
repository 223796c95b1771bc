//! The configuration data model. Every field is documented here and in README.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// Address of the HTTP API (`/metrics`, `/health`). Localhost unless you say otherwise.
    #[serde(default = "default_http_addr")]
    pub http_listen_addr: String,
    /// Directory for connector offset files.
    #[serde(default = "default_offsets_dir")]
    pub offsets_dir: PathBuf,
    /// `text` or `json` logs.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Bearer token the HTTP API requires on every endpoint but `/health/live` (a secret;
    /// use `${ENV_VAR}`). Without it the API is open to whoever reaches its address.
    #[serde(default)]
    pub http_auth_token: Option<SecretString>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            http_listen_addr: default_http_addr(),
            offsets_dir: default_offsets_dir(),
            log_format: LogFormat::default(),
            http_auth_token: None,
        }
    }
}

fn default_http_addr() -> String {
    "127.0.0.1:8083".into()
}
fn default_offsets_dir() -> PathBuf {
    PathBuf::from("./sluice-offsets")
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

/// Sources, by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSettings {
    /// PostgreSQL logical replication (pgoutput).
    Postgres(PostgresSettings),
    /// A MySQL 8.0+ or MariaDB 10.5+ server's ROW binlog.
    Mysql(MysqlSettings),
    /// Debezium-format change topics, consumed in a consumer group (for sink connectors).
    Kafka(ChangelogSettings),
}

impl SourceSettings {
    /// The column filter of a capture source (validated at load; an invalid pattern here
    /// keeps every column).
    pub fn column_filter(&self) -> crate::envelope::ColumnFilter {
        let (inc, exc) = match self {
            SourceSettings::Postgres(p) => (&p.column_include_list, &p.column_exclude_list),
            SourceSettings::Mysql(m) => (&m.column_include_list, &m.column_exclude_list),
            SourceSettings::Kafka(_) => return crate::envelope::ColumnFilter::default(),
        };
        crate::envelope::ColumnFilter::new(inc, exc).unwrap_or_default()
    }

    /// The placeholder for values the source did not send.
    pub fn unavailable_placeholder(&self) -> std::sync::Arc<str> {
        match self {
            SourceSettings::Postgres(p) => p.unavailable_value_placeholder.as_str().into(),
            _ => crate::envelope::UNAVAILABLE_VALUE.into(),
        }
    }

    /// How a capture source's records are written, beside the sink's own settings.
    pub fn output(&self, kind: crate::envelope::SourceKind) -> crate::envelope::SourceOutput {
        crate::envelope::SourceOutput {
            kind,
            modes: self.value_modes(),
            columns: self.column_filter(),
            placeholder: self.unavailable_placeholder(),
            transaction_metadata: match self {
                SourceSettings::Postgres(p) => p.provide_transaction_metadata,
                SourceSettings::Mysql(m) => m.provide_transaction_metadata,
                SourceSettings::Kafka(_) => false,
            },
        }
    }

    /// The value-handling modes a capture source's records are written with.
    pub fn value_modes(&self) -> crate::envelope::ValueModes {
        match self {
            SourceSettings::Postgres(p) => crate::envelope::ValueModes {
                decimal: p.decimal_handling_mode,
                binary: p.binary_handling_mode,
                time: p.time_precision_mode,
                unsigned: crate::envelope::BigintUnsigned::Long,
                interval: p.interval_handling_mode,
                hstore: p.hstore_handling_mode,
                tombstones_on_delete: p.tombstones_on_delete,
                skipped: crate::envelope::SkippedOps::from_codes(
                    p.skipped_operations.iter().map(String::as_str),
                ),
            },
            SourceSettings::Mysql(m) => crate::envelope::ValueModes {
                decimal: m.decimal_handling_mode,
                binary: m.binary_handling_mode,
                time: m.time_precision_mode,
                unsigned: m.bigint_unsigned_handling_mode,
                interval: crate::envelope::IntervalHandling::Numeric,
                hstore: crate::envelope::HstoreHandling::Json,
                tombstones_on_delete: m.tombstones_on_delete,
                skipped: crate::envelope::SkippedOps::from_codes(
                    m.skipped_operations.iter().map(String::as_str),
                ),
            },
            SourceSettings::Kafka(_) => crate::envelope::ValueModes::default(),
        }
    }
}

/// A Kafka consumer of Debezium-format change topics.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogSettings {
    /// `host:port[,host:port]` of the brokers.
    pub bootstrap_servers: String,
    /// Topics to read.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Regular expression of topics to read (instead of, or besides, `topics`).
    #[serde(default)]
    pub topic_pattern: Option<String>,
    /// Consumer group (default `sluice-<connector>`); processes sharing it share partitions.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Topic for records the target can never accept (default: none, such records halt).
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// Longest wait for more records before a partial batch is applied.
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// TLS to the brokers.
    #[serde(default)]
    pub tls: Option<KafkaTls>,
    /// SASL authentication.
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
    /// Extra librdkafka consumer properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// The Schema Registry to read Avro records' schemas from (records in the Confluent
    /// wire format are recognized by their magic byte; JSON ones are read as before).
    #[serde(default)]
    pub schema_registry: Option<SchemaRegistrySettings>,
}

fn default_batch_wait_ms() -> u64 {
    20
}

/// PostgreSQL source settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSettings {
    /// Server host name or address (or a Unix socket directory starting with `/`).
    pub host: String,
    /// Server port.
    #[serde(default = "default_pg_port")]
    pub port: u16,
    /// User with the REPLICATION attribute and SELECT on the tables.
    pub user: String,
    /// Password (use `${ENV_VAR}`); never logged.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Database to capture.
    pub database: String,
    /// Tables to capture, as `schema.table`.
    pub tables: Vec<String>,
    /// Replication slot name (default `sluice_<connector>`).
    #[serde(default)]
    pub slot_name: Option<String>,
    /// Publication name (default `sluice_<connector>`).
    #[serde(default)]
    pub publication_name: Option<String>,
    /// Create the publication when it does not exist.
    #[serde(default = "yes")]
    pub create_publication: bool,
    /// What to do before streaming.
    #[serde(default)]
    pub snapshot_mode: SnapshotMode,
    /// Emit `t` events for TRUNCATE (Debezium skips them by default).
    #[serde(default)]
    pub emit_truncate: bool,
    /// Debezium's `decimal.handling.mode`: `precise` (default), `double` or `string`.
    #[serde(default)]
    pub decimal_handling_mode: crate::envelope::DecimalHandling,
    /// Debezium's `binary.handling.mode`: `bytes` (default), `base64`, `base64-url-safe` or
    /// `hex`.
    #[serde(default)]
    pub binary_handling_mode: crate::envelope::BinaryHandling,
    /// Debezium's `time.precision.mode`: `adaptive` (default), `adaptive_time_microseconds`
    /// or `connect`.
    #[serde(default)]
    pub time_precision_mode: crate::envelope::TimePrecision,
    /// Debezium's `tombstones.on.delete`: a tombstone after each delete (default `true`).
    #[serde(default = "yes")]
    pub tombstones_on_delete: bool,
    /// Debezium's `provide.transaction.metadata`: BEGIN/END records on
    /// `<topic_prefix>.transaction` and a `transaction` block in each streamed event
    /// (default `false`).
    #[serde(default)]
    pub provide_transaction_metadata: bool,
    /// Debezium's `skipped.operations`: op codes not written (`c`, `u`, `d`, `t`).
    #[serde(default)]
    pub skipped_operations: Vec<String>,
    /// Debezium's `column.include.list`: regular expressions of `schema.table.column` names
    /// (whole, case-insensitive) to write; empty means every column. Key columns always are.
    #[serde(default)]
    pub column_include_list: Vec<String>,
    /// Debezium's `column.exclude.list`: the same, for columns never written (e.g. PII).
    #[serde(default)]
    pub column_exclude_list: Vec<String>,
    /// Debezium's `unavailable.value.placeholder`: written for an unchanged TOASTed value
    /// the server did not send (default `__debezium_unavailable_value`).
    #[serde(default = "default_placeholder")]
    pub unavailable_value_placeholder: String,
    /// Debezium's `interval.handling.mode`: `numeric` (default; microseconds) or `string`
    /// (ISO-8601, `P1Y2M3DT4H5M6.78S`).
    #[serde(default)]
    pub interval_handling_mode: crate::envelope::IntervalHandling,
    /// Debezium's `hstore.handling.mode`: `json` (default; a JSON string) or `map` (a
    /// Connect map of strings).
    #[serde(default)]
    pub hstore_handling_mode: crate::envelope::HstoreHandling,
    /// How often the acknowledged position is reported to the server.
    #[serde(default = "default_status_interval_ms")]
    pub status_interval_ms: u64,
    /// Message key columns per table (`schema.table` → columns), like Debezium's
    /// `message.key.columns`: they replace the primary key (or the replica-identity index)
    /// as the record key. Checked against the catalog at start.
    #[serde(default)]
    pub key_columns: BTreeMap<String, Vec<String>>,
    /// Publish changes of a listed partitioned table under the parent's name
    /// (`publish_via_partition_root`), so the snapshot and the stream share one topic.
    #[serde(default = "yes")]
    pub publish_via_partition_root: bool,
    /// TLS for both the SQL and the replication connection.
    #[serde(default)]
    pub tls: PgTls,
}

fn default_placeholder() -> String {
    crate::envelope::UNAVAILABLE_VALUE.to_string()
}

fn yes() -> bool {
    true
}
fn default_pg_port() -> u16 {
    5432
}
fn default_status_interval_ms() -> u64 {
    1000
}

/// Snapshot behaviour.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum SnapshotMode {
    /// Snapshot the tables once, then stream.
    #[default]
    Initial,
    /// Stream only, from the slot's position.
    NoData,
    /// Snapshot, then stop.
    InitialOnly,
}

/// MySQL/MariaDB source settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    #[serde(default = "default_mysql_port")]
    pub port: u16,
    /// User with REPLICATION SLAVE, REPLICATION CLIENT and SELECT on the tables.
    pub user: String,
    /// Password (use `${ENV_VAR}`); never logged.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Tables to capture, as `database.table`.
    pub tables: Vec<String>,
    /// Replica server id sluice registers with; must differ from the server's and every other
    /// replica's (default: 5400 + a hash of the connector name, in 5400..=6399).
    #[serde(default)]
    pub server_id: Option<u32>,
    /// What to do before streaming; `when_needed` also re-snapshots when the saved binlog
    /// position has been purged from the server.
    #[serde(default)]
    pub snapshot_mode: MysqlSnapshotMode,
    /// Resume from the saved GTID position on MariaDB (file+position otherwise).
    #[serde(default = "yes")]
    pub use_gtid: bool,
    /// Interval of the server's heartbeat events while the binlog is idle; a connection silent
    /// for three intervals is considered dead and reconnected.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Message key columns per table (`database.table` → columns), like Debezium's
    /// `message.key.columns`: they replace the primary key (or the first unique index of
    /// NOT NULL columns) as the record key. Checked against the catalog at start.
    #[serde(default)]
    pub key_columns: BTreeMap<String, Vec<String>>,
    /// Debezium's `decimal.handling.mode`: `precise` (default), `double` or `string`.
    #[serde(default)]
    pub decimal_handling_mode: crate::envelope::DecimalHandling,
    /// Debezium's `binary.handling.mode`: `bytes` (default), `base64`, `base64-url-safe` or
    /// `hex`.
    #[serde(default)]
    pub binary_handling_mode: crate::envelope::BinaryHandling,
    /// Debezium's `time.precision.mode`: `adaptive` (default), `adaptive_time_microseconds`
    /// or `connect`.
    #[serde(default)]
    pub time_precision_mode: crate::envelope::TimePrecision,
    /// Debezium's `tombstones.on.delete`: a tombstone after each delete (default `true`).
    #[serde(default = "yes")]
    pub tombstones_on_delete: bool,
    /// Debezium's `provide.transaction.metadata`: BEGIN/END records on
    /// `<topic_prefix>.transaction` and a `transaction` block in each streamed event
    /// (default `false`).
    #[serde(default)]
    pub provide_transaction_metadata: bool,
    /// Debezium's `include.schema.changes`: schema-change records on `<topic_prefix>` for the
    /// snapshot and each DDL statement on a captured table (default `true`).
    #[serde(default = "yes")]
    pub include_schema_changes: bool,
    /// Debezium's `skipped.operations`: op codes not written (`c`, `u`, `d`, `t`).
    #[serde(default)]
    pub skipped_operations: Vec<String>,
    /// Debezium's `column.include.list`: regular expressions of `schema.table.column` names
    /// (whole, case-insensitive) to write; empty means every column. Key columns always are.
    #[serde(default)]
    pub column_include_list: Vec<String>,
    /// Debezium's `column.exclude.list`: the same, for columns never written (e.g. PII).
    #[serde(default)]
    pub column_exclude_list: Vec<String>,
    /// Debezium's `bigint.unsigned.handling.mode`: `long` (default; values above
    /// 2^63 - 1 wrap, as in Debezium) or `precise` (a Decimal of precision 20).
    #[serde(default)]
    pub bigint_unsigned_handling_mode: crate::envelope::BigintUnsigned,
    /// TLS for the SQL and the binlog connection.
    #[serde(default)]
    pub tls: PgTls,
}

fn default_mysql_port() -> u16 {
    3306
}
fn default_heartbeat_interval_ms() -> u64 {
    5000
}

/// Snapshot behaviour of the MySQL source.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum MysqlSnapshotMode {
    /// Snapshot the tables once, then stream.
    #[default]
    Initial,
    /// Stream only, from the server's current position (first start) or the saved one.
    NoData,
    /// Snapshot, then stop.
    InitialOnly,
    /// Like `initial`, and snapshot again when the saved position is no longer on the server.
    WhenNeeded,
}

impl MysqlSettings {
    /// The replica server id: explicit, or derived from the connector name (stable).
    pub fn server_id(&self, connector: &str) -> u32 {
        self.server_id.unwrap_or_else(|| {
            // FNV-1a: stable across builds and platforms.
            let h = connector.bytes().fold(0x811c_9dc5u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
            5400 + h % 1000
        })
    }
}

/// TLS settings for PostgreSQL connections.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct PgTls {
    /// `disable`, `require` (encrypt, do not verify), `verify_ca` or `verify_full`.
    #[serde(default)]
    pub mode: TlsMode,
    /// PEM file with the CA certificate(s) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// TLS modes (libpq's `sslmode` names).
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum TlsMode {
    /// Plain TCP.
    #[default]
    Disable,
    /// TLS without certificate verification.
    Require,
    /// TLS, certificate chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

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
    /// Write each batch as one Kafka transaction under `transactional_id`: a newly started
    /// instance fences the previous one (whose writes then fail: it stops), and records of
    /// a batch that was not committed are invisible to `read_committed` consumers. Costs a
    /// commit round trip per batch.
    #[serde(default)]
    pub transactions: bool,
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

fn default_registry_timeout_ms() -> u64 {
    10_000
}

impl KafkaSettings {
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

fn invalid(field: String, message: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
        fix: fix.into(),
    }
}

/// Valid PostgreSQL slot names: lowercase letters, digits, underscore.
fn is_slot_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Settings {
    /// Check the rules serde cannot express. Pure: no I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connectors.is_empty() {
            return Err(invalid(
                "connectors".into(),
                "no connector is defined",
                "add at least one entry under `connectors:`",
            ));
        }
        let addr = &self.service.http_listen_addr;
        let host_port = addr.rsplit_once(':').and_then(|(h, p)| {
            let port = p.parse::<u16>().ok()?;
            let h = h.trim_start_matches('[').trim_end_matches(']');
            (!h.is_empty() && !h.contains(char::is_whitespace)).then_some(port)
        });
        if host_port.is_none() {
            return Err(invalid(
                "service.http_listen_addr".into(),
                format!("`{addr}` is not host:port"),
                "write e.g. 127.0.0.1:8083, localhost:8083 or [::1]:8083",
            ));
        }
        for (name, c) in &self.connectors {
            let at = |f: &str| format!("connectors.{name}.{f}");
            if !is_slot_name(name) {
                return Err(invalid(
                    format!("connectors.{name}"),
                    "connector names may only hold lowercase letters, digits and `_`",
                    "rename the connector, e.g. `inventory_pg`",
                ));
            }
            if c.heartbeat_interval_ms != 0 && c.heartbeat_interval_ms < 100 {
                return Err(invalid(
                    at("heartbeat_interval_ms"),
                    format!("{} is below the minimum 100", c.heartbeat_interval_ms),
                    "use 0 (no heartbeats) or at least 100, e.g. 10000",
                ));
            }
            for (field, value, min) in [
                ("max_batch_events", c.max_batch_events, 1),
                ("max_batch_bytes", c.max_batch_bytes, 1024),
                ("queue_batches", c.queue_batches, 1),
            ] {
                if value < min {
                    return Err(invalid(
                        at(field),
                        format!("{value} is below the minimum {min}"),
                        format!("use at least {min}, or remove the field for the default"),
                    ));
                }
            }
            match (&c.source, &c.sink) {
                (SourceSettings::Postgres(_) | SourceSettings::Mysql(_), SinkSettings::Kafka(_))
                | (
                    SourceSettings::Kafka(_),
                    SinkSettings::Search(_) | SinkSettings::Redis(_) | SinkSettings::Memcached(_),
                ) => {}
                _ => {
                    return Err(invalid(
                        at("sink.type"),
                        "this source and sink do not fit together",
                        "pair `source.type: postgres` or `mysql` with `sink.type: kafka`, and `source.type: kafka` with `search`, `redis` or `memcached`",
                    ))
                }
            }
            match &c.source {
                SourceSettings::Kafka(k) => {
                    if k.topics.is_empty() && k.topic_pattern.is_none() {
                        return Err(invalid(
                            at("source.topics"),
                            "no topic to read",
                            "list `topics` or set `topic_pattern`",
                        ));
                    }
                    if let Some(p) = &k.topic_pattern {
                        if !p.starts_with('^') {
                            return Err(invalid(
                                at("source.topic_pattern"),
                                "a pattern must start with `^` (librdkafka's regex marker)",
                                format!("write `^{p}`"),
                            ));
                        }
                        if let Err(e) = regex::Regex::new(p) {
                            return Err(invalid(
                                at("source.topic_pattern"),
                                format!(
                                    "`{p}` is not a regular expression ({})",
                                    first_line(&e.to_string())
                                ),
                                "fix the expression, e.g. `^inventory\\.public\\..*`",
                            ));
                        }
                    }
                    validate_kafka_client(&at, "source", k.sasl.as_ref(), &k.properties)?;
                }
                SourceSettings::Postgres(pg) => {
                    if pg.port == 0 {
                        return Err(invalid(
                            at("source.port"),
                            "0 is not a port",
                            "use the server's port, 1 to 65535 (PostgreSQL's default is 5432)",
                        ));
                    }
                    if pg.tables.is_empty() {
                        return Err(invalid(
                            at("source.tables"),
                            "no table is listed",
                            "list tables as `schema.table`, e.g. [\"public.customers\"]",
                        ));
                    }
                    for (i, t) in pg.tables.iter().enumerate() {
                        if parse_table_name(t).is_none() {
                            return Err(invalid(
                                at(&format!("source.tables[{i}]")),
                                format!("`{t}` is not of the form schema.table"),
                                "write the table as `schema.table`, e.g. `public.customers`",
                            ));
                        }
                    }
                    for (f, v) in [
                        ("slot_name", &pg.slot_name),
                        ("publication_name", &pg.publication_name),
                    ] {
                        if let Some(v) = v {
                            if !is_slot_name(v) {
                                return Err(invalid(
                                    at(&format!("source.{f}")),
                                    format!("`{v}` is not a valid name"),
                                    "use up to 63 lowercase letters, digits and `_`",
                                ));
                            }
                        }
                    }
                    validate_key_columns(&at, &pg.key_columns, &pg.tables)?;
                    validate_skipped(&at, &pg.skipped_operations)?;
                    validate_column_lists(&at, &pg.column_include_list, &pg.column_exclude_list)?;
                    if pg.status_interval_ms == 0 {
                        return Err(invalid(
                            at("source.status_interval_ms"),
                            "must be positive",
                            "use e.g. 1000",
                        ));
                    }
                }
                SourceSettings::Mysql(my) => {
                    if my.port == 0 {
                        return Err(invalid(
                            at("source.port"),
                            "0 is not a port",
                            "use the server's port, 1 to 65535 (MySQL's default is 3306)",
                        ));
                    }
                    if my.tables.is_empty() {
                        return Err(invalid(
                            at("source.tables"),
                            "no table is listed",
                            "list tables as `database.table`, e.g. [\"inventory.customers\"]",
                        ));
                    }
                    for (i, t) in my.tables.iter().enumerate() {
                        if parse_table_name(t).is_none() {
                            return Err(invalid(
                                at(&format!("source.tables[{i}]")),
                                format!("`{t}` is not of the form database.table"),
                                "write the table as `database.table`, e.g. `inventory.customers`",
                            ));
                        }
                    }
                    if my.server_id == Some(0) {
                        return Err(invalid(
                            at("source.server_id"),
                            "0 is not a valid replica server id",
                            "choose a number from 1 to 4294967295 that no other replica uses",
                        ));
                    }
                    validate_key_columns(&at, &my.key_columns, &my.tables)?;
                    validate_skipped(&at, &my.skipped_operations)?;
                    validate_column_lists(&at, &my.column_include_list, &my.column_exclude_list)?;
                    if my.heartbeat_interval_ms < 100 {
                        return Err(invalid(
                            at("source.heartbeat_interval_ms"),
                            "must be at least 100",
                            "use e.g. 5000",
                        ));
                    }
                }
            }
            match &c.sink {
                SinkSettings::Search(se) => {
                    if !(se.url.starts_with("http://") || se.url.starts_with("https://")) {
                        return Err(invalid(
                            at("sink.url"),
                            "is not an http(s) URL",
                            "write e.g. http://127.0.0.1:9200",
                        ));
                    }
                }
                SinkSettings::Redis(r) => {
                    let url = r.url.expose_secret();
                    if !(url.starts_with("redis://")
                        || url.starts_with("rediss://")
                        || url.starts_with("unix://"))
                    {
                        // The URL may hold a password: it is not repeated here.
                        return Err(invalid(
                            at("sink.url"),
                            "is not a redis:// URL (the value is not shown: it may hold a password)",
                            "write redis://[user:password@]host:port/db, rediss:// for TLS, or unix:///path",
                        ));
                    }
                }
                SinkSettings::Memcached(m) => {
                    if !m.server.contains(':') {
                        return Err(invalid(
                            at("sink.server"),
                            "is not host:port",
                            "write e.g. 127.0.0.1:11211",
                        ));
                    }
                }
                SinkSettings::Kafka(k) => {
                    if k.bootstrap_servers.trim().is_empty() {
                        return Err(invalid(
                            at("sink.bootstrap_servers"),
                            "is empty",
                            "write host:port of at least one broker",
                        ));
                    }
                    if k.topic_partitions < 1 || k.topic_replication_factor < 1 {
                        return Err(invalid(
                            at("sink.topic_partitions"),
                            "partitions and replication factor must be at least 1",
                            "set topic_partitions and topic_replication_factor to 1 or more",
                        ));
                    }
                    for (table, cfg) in &k.topic_config {
                        let tables = match &c.source {
                            SourceSettings::Postgres(p) => p.tables.as_slice(),
                            SourceSettings::Mysql(m) => m.tables.as_slice(),
                            SourceSettings::Kafka(_) => &[],
                        };
                        if table != "*" && !lists_table(tables, table) {
                            return Err(invalid(
                                at(&format!("sink.topic_config.{table}")),
                                format!("`{table}` is not one of source.tables"),
                                "use a table listed in source.tables, or `*` for every topic",
                            ));
                        }
                        if let Some(p) = cfg.get("cleanup.policy") {
                            if !matches!(
                                p.as_str(),
                                "compact" | "delete" | "compact,delete" | "delete,compact"
                            ) {
                                return Err(invalid(
                                    at(&format!("sink.topic_config.{table}.cleanup.policy")),
                                    format!("`{p}` is not a cleanup policy"),
                                    "use compact, delete or compact,delete",
                                ));
                            }
                        }
                    }
                    for key in k.properties.keys() {
                        if RESERVED_KAFKA_PROPERTIES.contains(&key.as_str()) {
                            return Err(invalid(
                                at(&format!("sink.properties.{key}")),
                                "is set by sluice to keep its delivery guarantees",
                                "remove it (bootstrap.servers and transactional_id have their own fields)",
                            ));
                        }
                    }
                    if let Some(id) = &k.transactional_id {
                        if !k.transactions {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                format!("`{id}` is set, but sink.transactions is false"),
                                "set sink.transactions: true, or remove transactional_id",
                            ));
                        }
                        if id.trim().is_empty() {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                "is empty",
                                "give a non-empty id unique to this connector, or remove it for sluice-<connector>",
                            ));
                        }
                    }
                    let avro = [k.key_format, k.value_format].contains(&RecordFormat::Avro);
                    match (&k.schema_registry, avro) {
                        (None, true) => {
                            return Err(invalid(
                                at("sink.schema_registry"),
                                "is missing, but key_format or value_format is avro",
                                "add schema_registry: {url: http://host:8081}, or use json",
                            ))
                        }
                        (Some(r), _) => {
                            if !(r.url.starts_with("http://") || r.url.starts_with("https://")) {
                                return Err(invalid(
                                    at("sink.schema_registry.url"),
                                    format!("`{}` is not an http(s) URL", r.url),
                                    "write e.g. http://localhost:8081",
                                ));
                            }
                            if r.password.is_some() && r.username.is_none() {
                                return Err(invalid(
                                    at("sink.schema_registry.password"),
                                    "is set without a username",
                                    "add schema_registry.username",
                                ));
                            }
                        }
                        (None, false) => {}
                    }
                    if k.key_format == RecordFormat::Avro
                        && matches!(&c.source, SourceSettings::Postgres(p) if p.emit_truncate)
                    {
                        return Err(invalid(
                            at("source.emit_truncate"),
                            "is true, but sink.key_format is avro",
                            "a TRUNCATE record has no key, which an Avro key cannot express (Debezium writes a null key, which compacted topics refuse): use key_format: json, or emit_truncate: false",
                        ));
                    }
                    if let Some(id) = k.transactional_id_for(name) {
                        let other = self.connectors.iter().find(|(n, o)| {
                            *n != name
                                && matches!(&o.sink, SinkSettings::Kafka(ok)
                                    if ok.transactional_id_for(n).as_deref() == Some(id.as_str()))
                        });
                        if let Some((other, _)) = other {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                format!("`{id}` is also connector {other}'s transactional id: each would fence the other"),
                                "give each connector its own transactional_id",
                            ));
                        }
                    }
                    validate_kafka_client(&at, "sink", k.sasl.as_ref(), &BTreeMap::new())?;
                }
            }
        }
        Ok(())
    }
}

/// The first line of a multi-line message (the regex crate draws a caret diagram).
fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| s.lines().next())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A Kafka client's SASL mechanism and its properties (consumers: no librdkafka alias of a
/// property sluice sets either).
fn validate_kafka_client(
    at: &dyn Fn(&str) -> String,
    side: &str,
    sasl: Option<&KafkaSasl>,
    properties: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    if let Some(s) = sasl {
        if !SASL_MECHANISMS.contains(&s.mechanism.as_str()) {
            return Err(invalid(
                at(&format!("{side}.sasl.mechanism")),
                format!(
                    "`{}` is not one of {}",
                    s.mechanism,
                    SASL_MECHANISMS.join(", ")
                ),
                "write the mechanism as librdkafka names it, e.g. SCRAM-SHA-256",
            ));
        }
    }
    for key in properties.keys() {
        if ["bootstrap.servers", "metadata.broker.list", "group.id"].contains(&key.as_str()) {
            return Err(invalid(
                at(&format!("{side}.properties.{key}")),
                "has its own field",
                "use source.bootstrap_servers / source.group_id instead",
            ));
        }
    }
    Ok(())
}

/// Whether `table` (as written in a config map key) names one of `tables`.
fn lists_table(tables: &[String], table: &str) -> bool {
    let Some(want) = parse_table_name(table) else {
        return false;
    };
    tables
        .iter()
        .any(|t| parse_table_name(t).as_ref() == Some(&want))
}

/// Column lists: valid regular expressions, and not both lists at once (as Debezium).
fn validate_column_lists(
    at: &dyn Fn(&str) -> String,
    include: &[String],
    exclude: &[String],
) -> Result<(), ConfigError> {
    if !include.is_empty() && !exclude.is_empty() {
        return Err(invalid(
            at("source.column_exclude_list"),
            "is set together with source.column_include_list",
            "use one of the two lists",
        ));
    }
    for (list, name) in [
        (include, "column_include_list"),
        (exclude, "column_exclude_list"),
    ] {
        for (i, p) in list.iter().enumerate() {
            if let Err(e) = crate::envelope::ColumnFilter::new(std::slice::from_ref(p), &[]) {
                return Err(invalid(
                    at(&format!("source.{name}[{i}]")),
                    format!("`{p}` is not a regular expression ({e})"),
                    "write a regular expression of schema.table.column names, e.g. `public\\.users\\.email`",
                ));
            }
        }
    }
    Ok(())
}

/// `skipped_operations` holds Debezium's op codes only.
fn validate_skipped(at: &dyn Fn(&str) -> String, ops: &[String]) -> Result<(), ConfigError> {
    for (i, op) in ops.iter().enumerate() {
        if !matches!(op.as_str(), "c" | "u" | "d" | "t") {
            return Err(invalid(
                at(&format!("source.skipped_operations[{i}]")),
                format!("`{op}` is not an operation code"),
                "use c (inserts), u (updates), d (deletes) or t (truncates), e.g. [u, t]",
            ));
        }
    }
    Ok(())
}

fn validate_key_columns(
    at: &dyn Fn(&str) -> String,
    key_columns: &BTreeMap<String, Vec<String>>,
    tables: &[String],
) -> Result<(), ConfigError> {
    for (table, cols) in key_columns {
        let field = at(&format!("source.key_columns.{table}"));
        if !lists_table(tables, table) {
            return Err(invalid(
                field,
                format!("`{table}` is not one of source.tables"),
                "list the table in source.tables, or remove its key_columns entry",
            ));
        }
        if cols.is_empty() || cols.iter().any(|c| c.is_empty()) {
            return Err(invalid(
                field,
                "needs at least one column name, none of them empty",
                "write e.g. `public.items: [sku]`",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = cols.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(invalid(
                field,
                format!("column `{dup}` is listed twice"),
                "list each key column once",
            ));
        }
    }
    Ok(())
}

/// Split `schema.table` (either part may be double-quoted).
pub fn parse_table_name(s: &str) -> Option<(String, String)> {
    let parts = split_qualified(s)?;
    match parts.as_slice() {
        [schema, table] if !schema.is_empty() && !table.is_empty() => {
            Some((schema.clone(), table.clone()))
        }
        _ => None,
    }
}

fn split_qualified(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('.', false) => parts.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    parts.push(cur);
    Some(parts)
}

impl PostgresSettings {
    /// Replication slot name: explicit, or `sluice_<connector>`.
    pub fn slot_name(&self, connector: &str) -> String {
        self.slot_name
            .clone()
            .unwrap_or_else(|| format!("sluice_{connector}"))
    }

    /// Publication name: explicit, or `sluice_<connector>`.
    pub fn publication_name(&self, connector: &str) -> String {
        self.publication_name
            .clone()
            .unwrap_or_else(|| format!("sluice_{connector}"))
    }
}

mode_names!(LogFormat {
    "text" => Text,
    "json" => Json,
});

mode_names!(SnapshotMode {
    "initial" => Initial,
    "no_data" => NoData,
    "initial_only" => InitialOnly,
});

mode_names!(MysqlSnapshotMode {
    "initial" => Initial,
    "no_data" => NoData,
    "initial_only" => InitialOnly,
    "when_needed" => WhenNeeded,
});

mode_names!(TlsMode {
    "disable" => Disable,
    "require" => Require,
    "verify_ca" => VerifyCa,
    "verify_full" => VerifyFull,
});

mode_names!(DecimalFormat {
    "number" => Number,
    "string" => String,
});

mode_names!(RedisValueFormat {
    "json" => Json,
    "hash" => Hash,
});
