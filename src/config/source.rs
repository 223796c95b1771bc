//! Source settings: PostgreSQL, MySQL/MariaDB, and Debezium-format change topics (for
//! sink connectors). Every field is documented here and in README.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::model::yes;
use super::{KafkaSasl, KafkaTls, SchemaRegistrySettings};

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
    /// The producing connector's `unavailable.value.placeholder` (default Debezium's
    /// `__debezium_unavailable_value`): a field holding it is a value the source did not
    /// have, and the target keeps the value it holds for that field.
    #[serde(default)]
    pub unavailable_value_placeholder: Option<String>,
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
    /// More servers (`host:port`) tried in order after `host`/`port` at each (re)connect:
    /// sluice streams from the first that accepts a connection and is not a standby. With
    /// `slot_failover`, the slot a promoted standby synchronized carries on where it was.
    #[serde(default)]
    pub failover_hosts: Vec<String>,
    /// Create the replication slot with `failover` (PostgreSQL 17+; an existing slot is
    /// altered), so a standby with `sync_replication_slots = on` keeps a copy of it and
    /// streaming resumes from that copy after a promotion (default `false`).
    #[serde(default)]
    pub slot_failover: bool,
    /// User with the REPLICATION attribute and SELECT on the tables.
    pub user: String,
    /// Password (use `${ENV_VAR}`); never logged.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Database to capture.
    pub database: String,
    /// Tables to capture, as `schema.table` (may be empty when `table_include_list` is
    /// set).
    #[serde(default)]
    pub tables: Vec<String>,
    /// Debezium's `table.include.list`: regular expressions of `schema.table` names (whole
    /// name, case-insensitive). Every ordinary or partitioned table matching one is captured
    /// besides `tables`, also one created while sluice runs (it joins the publication and
    /// gets an incremental snapshot).
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Debezium's `table.exclude.list`: tables matching one of these are not captured
    /// through `table_include_list` (tables named in `tables` always are).
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
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
    /// Like Debezium's `reselect` post-processor: a change whose row has unchanged TOASTed
    /// values (the placeholder) has them read back by key from the table, so the record
    /// carries the current values. One query per such change; see the README for the race.
    #[serde(default)]
    pub reselect_unavailable: bool,
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
    /// A row filter per table (`schema.table` → SQL condition; PostgreSQL 15+): the
    /// publication sends only rows matching it (`FOR TABLE … WHERE (…)`) and every snapshot
    /// reads only those. An update that makes a row match arrives as a create, one that
    /// makes it stop matching as a delete. Checked at start: the condition must only use
    /// replica-identity columns (or the table has `REPLICA IDENTITY FULL`), since the server
    /// refuses UPDATE and DELETE on the table otherwise.
    #[serde(default)]
    pub publication_filter: BTreeMap<String, String>,
    /// Publish changes of a listed partitioned table under the parent's name
    /// (`publish_via_partition_root`), so the snapshot and the stream share one topic.
    #[serde(default = "yes")]
    pub publish_via_partition_root: bool,
    /// TLS for both the SQL and the replication connection.
    #[serde(default)]
    pub tls: PgTls,
    /// Rows per chunk of an incremental snapshot (Debezium's
    /// `incremental.snapshot.chunk.size`, default 1024). Memory holds one chunk.
    #[serde(default = "default_chunk_size")]
    pub snapshot_chunk_size: usize,
    /// Connections reading the initial snapshot (`snapshot_consistency: transaction`) at
    /// once, each in the same exported snapshot (Debezium's `snapshot.max.threads`): tables,
    /// and parts of a large table by `ctid` range (PostgreSQL 14 and newer), are read ahead
    /// while earlier ones are written. The output keeps the one-reader order. 1 to 16.
    #[serde(default = "default_snapshot_threads")]
    pub snapshot_max_threads: usize,
    /// How the initial snapshot reads: `transaction` (default: one consistent point for
    /// every table, Debezium's markers; an interrupted snapshot starts over) or `chunked`
    /// (through the incremental snapshotter while streaming: resumable after a crash, each
    /// row as new as its read, `source.snapshot: "incremental"`).
    #[serde(default)]
    pub snapshot_consistency: SnapshotConsistency,
    /// Debezium's `signal.data.collection`: a table (`schema.table`; columns `id`, `type`,
    /// `data`) whose inserted rows are signals (`execute-snapshot`, `stop-snapshot`,
    /// `pause-snapshot`, `resume-snapshot`). It is added to the publication; its rows are
    /// not emitted unless it is also in `tables`.
    #[serde(default)]
    pub signal_data_collection: Option<String>,
    /// Debezium's `signal.kafka.topic`: a one-partition topic on the sink's brokers whose
    /// records keyed by the topic prefix are signals (value `{"type": …, "data": {…}}`). The
    /// offset of the last one taken is saved with the checkpoint; on a first start reading
    /// begins at the topic's end.
    #[serde(default)]
    pub signal_kafka_topic: Option<String>,
    /// Receive a large transaction while it runs (pgoutput protocol version 2, `streaming`;
    /// PostgreSQL 14+, older servers fall back to version 1). The server sends a
    /// transaction in blocks once it outgrows its `logical_decoding_work_mem` instead of
    /// spilling it to its own disk until the commit; sluice keeps the blocks and writes the
    /// transaction at its commit, the same events in the same order as without (default
    /// `false`: see the README's "Large transactions" for the measured trade-off).
    #[serde(default)]
    pub stream_in_progress: bool,
    /// Memory for the blocks of transactions still running, over all of them (default
    /// 64 MiB); beyond it they go to files under `spill_dir`. At least 1024.
    #[serde(default = "default_in_progress_memory_bytes")]
    pub in_progress_memory_bytes: usize,
    /// Directory for the blocks beyond `in_progress_memory_bytes` (default: the system's
    /// temporary directory). Each stream has its own subdirectory, removed when it ends.
    #[serde(default)]
    pub spill_dir: Option<std::path::PathBuf>,
    /// The replication session's `logical_decoding_work_mem` in kB (default: the server's,
    /// 64 MB unless changed): how large a transaction grows in the server's memory before
    /// it is streamed to sluice (or, with protocol 1, spilled to the server's disk). With
    /// streaming, a smaller value lets small transactions committed during a large one
    /// through sooner (see "Large transactions"). 64 to 2147483647.
    #[serde(default)]
    pub logical_decoding_work_mem_kb: Option<u32>,
    /// pgoutput's `origin`: `any` (default: every change) or `none` (PostgreSQL 16+: skip
    /// changes replicated into this server from another, e.g. by a subscription, so a
    /// two-way setup does not capture each change twice).
    #[serde(default)]
    pub origin: Origin,
}

/// Which changes by replication origin are captured.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum Origin {
    /// Every change.
    #[default]
    Any,
    /// Only changes made on this server.
    None,
}

impl TryFrom<String> for Origin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "any" => Ok(Origin::Any),
            "none" => Ok(Origin::None),
            other => Err(format!("`{other}` is not one of any, none")),
        }
    }
}

/// `host:port` (a bracketed IPv6 address too) as its parts.
pub fn host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port != 0).then(|| (host.to_string(), port))
}

impl PostgresSettings {
    /// `host`/`port`, then `failover_hosts`, in the order they are tried.
    pub fn endpoints(&self) -> Vec<(String, u16)> {
        std::iter::once((self.host.clone(), self.port))
            .chain(self.failover_hosts.iter().filter_map(|h| host_port(h)))
            .collect()
    }
}

fn default_in_progress_memory_bytes() -> usize {
    64 << 20
}

fn default_chunk_size() -> usize {
    1024
}

fn one() -> usize {
    1
}

fn default_snapshot_threads() -> usize {
    2
}

fn default_placeholder() -> String {
    crate::envelope::UNAVAILABLE_VALUE.to_string()
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

/// How the initial snapshot reads the tables.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum SnapshotConsistency {
    /// One REPEATABLE READ transaction on the slot's exported snapshot.
    #[default]
    Transaction,
    /// Key-ordered chunks through the incremental snapshotter, streaming meanwhile.
    Chunked,
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
    /// Tables to capture, as `database.table` (may be empty when `table_include_list` is
    /// set).
    #[serde(default)]
    pub tables: Vec<String>,
    /// Debezium's `table.include.list`: regular expressions of `database.table` names (whole
    /// name, case-insensitive). Every base table matching one is captured besides `tables`,
    /// also one created (or renamed to a matching name) while sluice runs.
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Debezium's `table.exclude.list`: tables matching one of these are not captured
    /// through `table_include_list` (tables named in `tables` always are).
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
    /// Replica server id sluice registers with; must differ from the server's and every other
    /// replica's (default: 5400 + a hash of the connector name, in 5400..=6399).
    #[serde(default)]
    pub server_id: Option<u32>,
    /// What to do before streaming; `when_needed` also re-snapshots when the saved binlog
    /// position has been purged from the server.
    #[serde(default)]
    pub snapshot_mode: MysqlSnapshotMode,
    /// Resume by GTID: MariaDB's saved GTID position, MySQL's saved executed GTID set
    /// (file + position when `false`, or when none was saved).
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
    /// Rows per chunk of an incremental snapshot (Debezium's
    /// `incremental.snapshot.chunk.size`, default 1024). Memory holds one chunk.
    #[serde(default = "default_chunk_size")]
    pub snapshot_chunk_size: usize,
    /// Connections reading the initial snapshot (`snapshot_consistency: transaction`) at
    /// once, one table each at a time (Debezium's `snapshot.max.threads`). Above 1 they
    /// start their transactions under `FLUSH TABLES WITH READ LOCK` (MariaDB too), so they
    /// share one point. The output keeps the one-reader order. 1 to 16, default 1.
    #[serde(default = "one")]
    pub snapshot_max_threads: usize,
    /// How the initial snapshot reads: `transaction` (default: one consistent snapshot of
    /// every table, Debezium's markers; an interrupted snapshot starts over) or `chunked`
    /// (through the incremental snapshotter while streaming: resumable after a crash, no
    /// `FLUSH TABLES WITH READ LOCK` on MySQL, `source.snapshot: "incremental"`).
    #[serde(default)]
    pub snapshot_consistency: SnapshotConsistency,
    /// Debezium's `signal.data.collection`: a table (`database.table`; columns `id`, `type`,
    /// `data`) whose inserted rows are signals (`execute-snapshot`, `stop-snapshot`,
    /// `pause-snapshot`, `resume-snapshot`). Its rows are not emitted unless it is also in
    /// `tables`.
    #[serde(default)]
    pub signal_data_collection: Option<String>,
    /// Debezium's `signal.kafka.topic`: a one-partition topic on the sink's brokers whose
    /// records keyed by the topic prefix are signals (value `{"type": …, "data": {…}}`). The
    /// offset of the last one taken is saved with the checkpoint; on a first start reading
    /// begins at the topic's end.
    #[serde(default)]
    pub signal_kafka_topic: Option<String>,
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

mode_names!(SnapshotMode {
    "initial" => Initial,
    "no_data" => NoData,
    "initial_only" => InitialOnly,
});

mode_names!(SnapshotConsistency {
    "transaction" => Transaction,
    "chunked" => Chunked,
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
