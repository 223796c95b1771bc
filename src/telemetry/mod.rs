//! Telemetry through one door: metric names, the registry, connector health, the HTTP API.
//!
//! Metric names are the constants below (Debezium equivalents in parentheses in their docs).
//! Labels are low-cardinality: `connector`, `table`, `op`, `class`. Row values never appear in
//! metrics or logs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Change events emitted (Debezium TotalNumberOfEventsSeen), by connector, table and op.
pub const EVENTS_TOTAL: &str = "sluice_events_total";
/// Rows read by snapshots (Debezium RowsScanned), by connector and table.
pub const SNAPSHOT_ROWS_TOTAL: &str = "sluice_snapshot_rows_total";
/// Milliseconds between the last event's commit and its delivery (MilliSecondsBehindSource).
pub const LAG_MS: &str = "sluice_lag_milliseconds";
/// Free batch slots between source and sink (QueueRemainingCapacity).
pub const QUEUE_REMAINING: &str = "sluice_queue_remaining_capacity";
/// Checkpoints acknowledged to the source after the sink made them durable.
pub const CHECKPOINTS_TOTAL: &str = "sluice_checkpoints_acknowledged_total";
/// Last acknowledged source position (PostgreSQL: LSN as an integer; MySQL: the
/// position within the current binlog file).
pub const ACKED_POSITION: &str = "sluice_acknowledged_position";
/// Time to make one batch durable in the sink.
pub const SINK_WRITE_SECONDS: &str = "sluice_sink_write_seconds";
/// Errors by class (`transient`, `definite`).
pub const ERRORS_TOTAL: &str = "sluice_errors_total";
/// Seconds from a transaction's commit in the source to the broker's acknowledgement of its
/// last event (observed once per acknowledged batch).
pub const COMMIT_TO_ACK_SECONDS: &str = "sluice_commit_to_ack_seconds";
/// Seconds from a transaction's commit in the source to the sink taking the batch holding its
/// last event (once per batch): the source's share of [`COMMIT_TO_ACK_SECONDS`].
pub const COMMIT_TO_SINK_SECONDS: &str = "sluice_commit_to_sink_seconds";
/// Change records applied to a document target (sink connectors).
pub const SINK_APPLIED_TOTAL: &str = "sluice_sink_records_applied_total";
/// Change records a sink connector skipped on purpose (truncates, heartbeats, ...), by reason.
pub const SINK_IGNORED_TOTAL: &str = "sluice_sink_records_ignored_total";
/// Records sent to the dead-letter topic.
pub const DEAD_LETTERS_TOTAL: &str = "sluice_dead_letter_records_total";
/// Fields a sink connector wrote without a value: the record held the unavailable-value
/// placeholder (an unchanged TOASTed column) and the target had no stored value to keep.
pub const SINK_UNAVAILABLE_FIELDS_TOTAL: &str = "sluice_sink_unavailable_fields_total";
/// Rows read back by key for changes with unchanged TOAST values (`reselect_unavailable`),
/// by outcome: `found`, `missing` (the row was deleted since: the placeholder stays) or
/// `ambiguous` (configured `key_columns` matched several rows: the placeholder stays).
pub const SOURCE_RESELECTS_TOTAL: &str = "sluice_source_reselects_total";
/// DDL statements seen in the MySQL binlog, by outcome (`applied`: a captured table's schema
/// was re-read; `ignored`: not about a captured table or not understood).
pub const SCHEMA_CHANGES_TOTAL: &str = "sluice_schema_changes_total";
/// 1 while the connector runs, 0 when stopped or failed.
pub const CONNECTOR_UP: &str = "sluice_connector_up";
/// Counter: batches the brokers did not acknowledge within 5 s (an outage or a slow cluster).
pub const DELIVERY_STALLS_TOTAL: &str = "sluice_delivery_stalls_total";
/// Gauge: the catalog's row estimate of a table being snapshotted (PostgreSQL `reltuples`,
/// MySQL `TABLE_ROWS`), beside [`SNAPSHOT_ROWS_TOTAL`] for progress.
pub const SNAPSHOT_ROWS_ESTIMATED: &str = "sluice_snapshot_rows_estimated";
/// Gauge: tables the running snapshot has not finished (0 once it is done).
pub const SNAPSHOT_TABLES_REMAINING: &str = "sluice_snapshot_tables_remaining";
/// Gauge: bytes of WAL the server holds for the slot beyond what sluice acknowledged
/// (the server's WAL end minus the acknowledged LSN; PostgreSQL).
pub const SLOT_LAG_BYTES: &str = "sluice_replication_slot_lag_bytes";
/// Gauge: 1 for the connector's current state (`state` label), 0 for the others.
pub const CONNECTOR_STATE: &str = "sluice_connector_state";
/// Counter: Kafka transactions committed (`sink.transactions: true`).
pub const KAFKA_TRANSACTIONS_TOTAL: &str = "sluice_kafka_transactions_total";
/// Counter: source transactions whose records were committed to Kafka in parts, because
/// the source transaction stayed open longer than half the Kafka transaction timeout (a
/// crash before its end repeats the committed parts: at-least-once for that transaction).
pub const SPLIT_TRANSACTIONS_TOTAL: &str = "sluice_split_source_transactions_total";
/// Counter: PostgreSQL transactions the server sent while they ran (protocol 2), written
/// at their commit.
pub const STREAMED_TRANSACTIONS_TOTAL: &str = "sluice_pg_streamed_transactions_total";
/// Gauge: bytes of running PostgreSQL transactions held in memory until their commit.
pub const IN_PROGRESS_BYTES: &str = "sluice_pg_in_progress_bytes";
/// Counter: bytes of running PostgreSQL transactions written to `spill_dir` because
/// `in_progress_memory_bytes` was full.
pub const IN_PROGRESS_SPILLED_BYTES_TOTAL: &str = "sluice_pg_in_progress_spilled_bytes_total";
/// Gauge: connectors this cluster worker runs (`worker` label: its id).
pub const CLUSTER_CONNECTORS: &str = "sluice_cluster_connectors";
/// Counter: rebalances of the cluster's group this worker took part in.
pub const CLUSTER_REBALANCES_TOTAL: &str = "sluice_cluster_rebalances_total";

/// Every metric name above.
pub const METRICS: &[&str] = &[
    EVENTS_TOTAL,
    SNAPSHOT_ROWS_TOTAL,
    LAG_MS,
    QUEUE_REMAINING,
    CHECKPOINTS_TOTAL,
    ACKED_POSITION,
    SINK_WRITE_SECONDS,
    ERRORS_TOTAL,
    COMMIT_TO_ACK_SECONDS,
    COMMIT_TO_SINK_SECONDS,
    SINK_APPLIED_TOTAL,
    SINK_IGNORED_TOTAL,
    DEAD_LETTERS_TOTAL,
    SINK_UNAVAILABLE_FIELDS_TOTAL,
    SCHEMA_CHANGES_TOTAL,
    CONNECTOR_UP,
    DELIVERY_STALLS_TOTAL,
    PRODUCER_FATAL_TOTAL,
    SNAPSHOT_ROWS_ESTIMATED,
    SNAPSHOT_TABLES_REMAINING,
    SLOT_LAG_BYTES,
    CONNECTOR_STATE,
    KAFKA_TRANSACTIONS_TOTAL,
    SPLIT_TRANSACTIONS_TOTAL,
    STREAMED_TRANSACTIONS_TOTAL,
    IN_PROGRESS_BYTES,
    IN_PROGRESS_SPILLED_BYTES_TOTAL,
    CLUSTER_CONNECTORS,
    CLUSTER_REBALANCES_TOTAL,
];

/// Every state [`CONNECTOR_STATE`] reports.
pub const STATES: &[&str] = &[
    "starting",
    "snapshotting",
    "streaming",
    "retrying",
    "failed",
    "stopped",
    "elsewhere",
];

/// Counter: fatal producer errors (the broker lost or refused acknowledged records).
pub const PRODUCER_FATAL_TOTAL: &str = "sluice_producer_fatal_errors_total";

/// A connector's state as `/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Starting up or reconnecting.
    Starting,
    /// Reading the initial snapshot.
    Snapshotting,
    /// Streaming changes.
    Streaming,
    /// Retrying after a transient error.
    Retrying {
        /// Why.
        error: String,
    },
    /// Halted by a definite error.
    Failed {
        /// Why.
        error: String,
        /// What the operator should do.
        hint: String,
    },
    /// Finished (e.g. `initial_only`) or shut down.
    Stopped,
    /// Cluster mode: another worker runs it (or the group has not given it to one yet);
    /// `GET /cluster` says which.
    Elsewhere,
}

/// All metrics plus health; cheap to clone.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// See [`EVENTS_TOTAL`].
    pub events: IntCounterVec,
    /// See [`SNAPSHOT_ROWS_TOTAL`].
    pub snapshot_rows: IntCounterVec,
    /// See [`LAG_MS`].
    pub lag_ms: IntGaugeVec,
    /// See [`QUEUE_REMAINING`].
    pub queue_remaining: IntGaugeVec,
    /// See [`CHECKPOINTS_TOTAL`].
    pub checkpoints: IntCounterVec,
    /// See [`ACKED_POSITION`].
    pub acked_position: IntGaugeVec,
    /// See [`SINK_WRITE_SECONDS`].
    pub sink_write_seconds: HistogramVec,
    /// See [`COMMIT_TO_ACK_SECONDS`].
    pub commit_to_ack_seconds: HistogramVec,
    /// See [`COMMIT_TO_SINK_SECONDS`].
    pub commit_to_sink_seconds: HistogramVec,
    /// See [`ERRORS_TOTAL`].
    pub errors: IntCounterVec,
    /// See [`CONNECTOR_UP`].
    pub up: IntGaugeVec,
    /// See [`SINK_APPLIED_TOTAL`].
    pub sink_applied: IntCounterVec,
    /// See [`SINK_IGNORED_TOTAL`].
    pub sink_ignored: IntCounterVec,
    /// See [`DEAD_LETTERS_TOTAL`].
    pub dead_letters: IntCounterVec,
    /// See [`SINK_UNAVAILABLE_FIELDS_TOTAL`].
    pub sink_unavailable_fields: IntCounterVec,
    /// See [`SOURCE_RESELECTS_TOTAL`].
    pub source_reselects: IntCounterVec,
    /// See [`SCHEMA_CHANGES_TOTAL`].
    pub schema_changes: IntCounterVec,
    /// See [`DELIVERY_STALLS_TOTAL`].
    pub delivery_stalls: IntCounterVec,
    /// See [`PRODUCER_FATAL_TOTAL`].
    pub producer_fatal: IntCounterVec,
    /// See [`SNAPSHOT_ROWS_ESTIMATED`].
    pub snapshot_estimated: IntGaugeVec,
    /// See [`SNAPSHOT_TABLES_REMAINING`].
    pub snapshot_remaining: IntGaugeVec,
    /// See [`SLOT_LAG_BYTES`].
    pub slot_lag_bytes: IntGaugeVec,
    /// See [`CONNECTOR_STATE`].
    pub state: IntGaugeVec,
    /// See [`KAFKA_TRANSACTIONS_TOTAL`].
    pub kafka_transactions: IntCounterVec,
    /// See [`SPLIT_TRANSACTIONS_TOTAL`].
    pub split_transactions: IntCounterVec,
    /// See [`STREAMED_TRANSACTIONS_TOTAL`].
    pub streamed_transactions: IntCounterVec,
    /// See [`IN_PROGRESS_BYTES`].
    pub in_progress_bytes: IntGaugeVec,
    /// See [`IN_PROGRESS_SPILLED_BYTES_TOTAL`].
    pub in_progress_spilled_bytes: IntCounterVec,
    /// See [`CLUSTER_CONNECTORS`].
    pub cluster_connectors: IntGaugeVec,
    /// See [`CLUSTER_REBALANCES_TOTAL`].
    pub cluster_rebalances: IntCounterVec,
    health: Arc<Mutex<BTreeMap<String, Health>>>,
    details: Arc<Mutex<BTreeMap<String, Details>>>,
}

/// What the management API reports beside a connector's state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Details {
    /// The last acknowledged position (the offsets file's checkpoint).
    pub acknowledged: Option<serde_json::Value>,
    /// The last error, transient or definite, with its hint when definite.
    pub last_error: Option<serde_json::Value>,
    /// Whether an operator paused the connector.
    pub paused: bool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Create and register every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("metric definition is static and valid");
            registry
                .register(Box::new(c.clone()))
                .expect("metric names are unique");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)
                .expect("metric definition is static and valid");
            registry
                .register(Box::new(g.clone()))
                .expect("metric names are unique");
            g
        };
        let events = counter(
            EVENTS_TOTAL,
            "Change events emitted",
            &["connector", "table", "op"],
        );
        let snapshot_rows = counter(
            SNAPSHOT_ROWS_TOTAL,
            "Rows read by snapshots",
            &["connector", "table"],
        );
        let checkpoints = counter(
            CHECKPOINTS_TOTAL,
            "Checkpoints acknowledged after durable delivery",
            &["connector"],
        );
        let errors = counter(ERRORS_TOTAL, "Errors by class", &["connector", "class"]);
        let sink_applied = counter(
            SINK_APPLIED_TOTAL,
            "Change records applied to the target",
            &["connector"],
        );
        let sink_ignored = counter(
            SINK_IGNORED_TOTAL,
            "Change records skipped on purpose",
            &["connector", "reason"],
        );
        let dead_letters = counter(
            DEAD_LETTERS_TOTAL,
            "Records sent to the dead-letter topic",
            &["connector"],
        );
        let sink_unavailable_fields = counter(
            SINK_UNAVAILABLE_FIELDS_TOTAL,
            "Fields written without a value: unavailable in the record, none stored in the target",
            &["connector"],
        );
        let source_reselects = counter(
            SOURCE_RESELECTS_TOTAL,
            "Rows read back by key for unchanged TOAST values, by outcome",
            &["connector", "outcome"],
        );
        let schema_changes = counter(
            SCHEMA_CHANGES_TOTAL,
            "DDL statements seen in the binlog, by outcome",
            &["connector", "outcome"],
        );
        let delivery_stalls = counter(
            DELIVERY_STALLS_TOTAL,
            "Batches the brokers did not acknowledge within 5 s",
            &["connector"],
        );
        let kafka_transactions = counter(
            KAFKA_TRANSACTIONS_TOTAL,
            "Kafka transactions committed",
            &["connector"],
        );
        let split_transactions = counter(
            SPLIT_TRANSACTIONS_TOTAL,
            "Source transactions committed to Kafka in parts (open too long)",
            &["connector"],
        );
        let cluster_connectors = gauge(
            CLUSTER_CONNECTORS,
            "Connectors this cluster worker runs",
            &["worker"],
        );
        let cluster_rebalances = counter(
            CLUSTER_REBALANCES_TOTAL,
            "Rebalances of the cluster's group this worker took part in",
            &["worker"],
        );
        let snapshot_estimated = gauge(
            SNAPSHOT_ROWS_ESTIMATED,
            "Catalog row estimate of a table being snapshotted",
            &["connector", "table"],
        );
        let snapshot_remaining = gauge(
            SNAPSHOT_TABLES_REMAINING,
            "Tables the running snapshot has not finished",
            &["connector"],
        );
        let streamed_transactions = counter(
            STREAMED_TRANSACTIONS_TOTAL,
            "PostgreSQL transactions sent while they ran, written at their commit",
            &["connector"],
        );
        let in_progress_bytes = gauge(
            IN_PROGRESS_BYTES,
            "Bytes of running PostgreSQL transactions held in memory until their commit",
            &["connector"],
        );
        let in_progress_spilled_bytes = counter(
            IN_PROGRESS_SPILLED_BYTES_TOTAL,
            "Bytes of running PostgreSQL transactions written to spill_dir",
            &["connector"],
        );
        let slot_lag_bytes = gauge(
            SLOT_LAG_BYTES,
            "WAL bytes the server holds for the slot beyond the acknowledged position",
            &["connector"],
        );
        let state = gauge(
            CONNECTOR_STATE,
            "1 for the connector's current state, 0 for the others",
            &["connector", "state"],
        );
        let producer_fatal = counter(
            PRODUCER_FATAL_TOTAL,
            "Fatal producer errors: the broker lost or refused records it had acknowledged",
            &["connector"],
        );
        let lag_ms = gauge(
            LAG_MS,
            "Milliseconds from source commit to durable delivery",
            &["connector"],
        );
        let queue_remaining = gauge(
            QUEUE_REMAINING,
            "Free batch slots between source and sink",
            &["connector"],
        );
        let acked_position = gauge(
            ACKED_POSITION,
            "Last acknowledged source position",
            &["connector"],
        );
        let up = gauge(CONNECTOR_UP, "1 while the connector runs", &["connector"]);
        let sink_write_seconds = HistogramVec::new(
            HistogramOpts::new(SINK_WRITE_SECONDS, "Time to make one batch durable").buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
            ]),
            &["connector"],
        )
        .expect("metric definition is static and valid");
        registry
            .register(Box::new(sink_write_seconds.clone()))
            .expect("metric names are unique");
        let latency = |name: &str, help: &str| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(vec![
                    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
                    0.5, 1.0, 5.0, 30.0,
                ]),
                &["connector"],
            )
            .expect("metric definition is static and valid");
            registry
                .register(Box::new(h.clone()))
                .expect("metric names are unique");
            h
        };
        let commit_to_ack_seconds = latency(
            COMMIT_TO_ACK_SECONDS,
            "Source commit to broker acknowledgement",
        );
        let commit_to_sink_seconds = latency(
            COMMIT_TO_SINK_SECONDS,
            "Source commit to the sink taking the batch",
        );
        Self {
            registry,
            events,
            snapshot_rows,
            lag_ms,
            queue_remaining,
            checkpoints,
            acked_position,
            sink_write_seconds,
            commit_to_ack_seconds,
            commit_to_sink_seconds,
            errors,
            up,
            sink_applied,
            sink_ignored,
            dead_letters,
            sink_unavailable_fields,
            source_reselects,
            schema_changes,
            delivery_stalls,
            producer_fatal,
            snapshot_estimated,
            snapshot_remaining,
            slot_lag_bytes,
            state,
            kafka_transactions,
            split_transactions,
            streamed_transactions,
            in_progress_bytes,
            in_progress_spilled_bytes,
            cluster_connectors,
            cluster_rebalances,
            health: Arc::new(Mutex::new(BTreeMap::new())),
            details: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn with_details(&self, connector: &str, f: impl FnOnce(&mut Details)) {
        if let Ok(mut m) = self.details.lock() {
            f(m.entry(connector.to_string()).or_default());
        }
    }

    /// Record the position the pipeline just made durable.
    pub fn set_acknowledged(&self, connector: &str, cp: &crate::event::Checkpoint) {
        let v = serde_json::to_value(cp).ok();
        self.with_details(connector, |d| d.acknowledged = v);
    }

    /// Record whether an operator paused the connector.
    pub fn set_paused(&self, connector: &str, paused: bool) {
        self.with_details(connector, |d| d.paused = paused);
    }

    /// A connector's details plus its metrics, for `GET /connectors/{name}`; `None` when
    /// no such connector runs.
    pub fn status(&self, connector: &str) -> Option<serde_json::Value> {
        let health = self.health().remove(connector)?;
        let details = self
            .details
            .lock()
            .ok()
            .and_then(|m| m.get(connector).cloned())
            .unwrap_or_default();
        let mut events = 0u64;
        let mut snapshot = serde_json::Map::new();
        let mut lag_ms = None;
        for family in self.registry.gather() {
            for m in family.get_metric() {
                let labels = m.get_label();
                let of_connector = labels
                    .iter()
                    .any(|l| l.name() == "connector" && l.value() == connector);
                if !of_connector {
                    continue;
                }
                let label = |n: &str| {
                    labels
                        .iter()
                        .find(|l| l.name() == n)
                        .map(|l| l.value().to_string())
                        .unwrap_or_default()
                };
                match family.name() {
                    EVENTS_TOTAL => events += m.get_counter().get_value() as u64,
                    SNAPSHOT_ROWS_TOTAL => {
                        snapshot
                            .insert(label("table"), (m.get_counter().get_value() as u64).into());
                    }
                    LAG_MS => lag_ms = Some(m.get_gauge().get_value() as i64),
                    _ => {}
                }
            }
        }
        let mut v = serde_json::to_value(&health).ok()?;
        let obj = v.as_object_mut()?;
        obj.insert("name".into(), connector.into());
        obj.insert("paused".into(), details.paused.into());
        obj.insert(
            "acknowledged".into(),
            details.acknowledged.unwrap_or_default(),
        );
        obj.insert("last_error".into(), details.last_error.unwrap_or_default());
        obj.insert("lag_ms".into(), lag_ms.into());
        obj.insert("events".into(), events.into());
        obj.insert("snapshot_rows".into(), snapshot.into());
        Some(v)
    }

    /// Record a connector's state.
    pub fn set_health(&self, connector: &str, h: Health) {
        let running = matches!(
            h,
            Health::Snapshotting | Health::Streaming | Health::Starting
        );
        self.up
            .with_label_values(&[connector])
            .set(i64::from(running));
        let current = match &h {
            Health::Starting => "starting",
            Health::Snapshotting => "snapshotting",
            Health::Streaming => "streaming",
            Health::Retrying { .. } => "retrying",
            Health::Failed { .. } => "failed",
            Health::Stopped => "stopped",
            Health::Elsewhere => "elsewhere",
        };
        for st in STATES {
            self.state
                .with_label_values(&[connector, st])
                .set(i64::from(*st == current));
        }
        match &h {
            Health::Retrying { error } => {
                let e = serde_json::json!({ "error": error, "definite": false });
                self.with_details(connector, |d| d.last_error = Some(e));
            }
            Health::Failed { error, hint } => {
                let e = serde_json::json!({ "error": error, "hint": hint, "definite": true });
                self.with_details(connector, |d| d.last_error = Some(e));
            }
            _ => {}
        }
        if let Ok(mut m) = self.health.lock() {
            m.insert(connector.to_string(), h);
        }
    }

    /// Snapshot of every connector's state.
    pub fn health(&self) -> BTreeMap<String, Health> {
        self.health.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Render `/metrics` in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &self.registry.gather(),
            &mut buf,
        );
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Set up `tracing` output.
pub fn init_logging(format: crate::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric renders under its constant name once touched.
    #[test]
    fn metrics_render() {
        let t = Telemetry::new();
        t.events.with_label_values(&["c", "public.t", "c"]).inc();
        t.set_health("c", Health::Streaming);
        let text = t.render();
        assert!(text.contains(EVENTS_TOTAL));
        assert!(text.contains(CONNECTOR_UP));
        assert_eq!(t.health().get("c"), Some(&Health::Streaming));
    }

    /// The example Grafana dashboard (`docker/grafana-dashboard.json`) queries only metrics
    /// sluice registers; every registered metric is in [`METRICS`] and the README.
    #[test]
    fn dashboard_metrics_exist() {
        let dash: serde_json::Value =
            serde_json::from_str(include_str!("../../docker/grafana-dashboard.json"))
                .expect("dashboard json");
        let mut queried = Vec::new();
        for p in dash["panels"].as_array().expect("panels") {
            // A row has no queries.
            for t in p["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let expr = t["expr"].as_str().expect("expr");
                for (i, _) in expr.match_indices("sluice_") {
                    let name: String = expr[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    queried.push(name);
                }
            }
        }
        assert!(queried.len() > 10, "{queried:?}");
        for q in &queried {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| q.strip_suffix(s))
                .unwrap_or(q);
            assert!(
                METRICS.contains(&base),
                "the dashboard queries {q}, which sluice does not register"
            );
        }
        let t = Telemetry::new();
        let readme = include_str!("../../README.md");
        for m in METRICS {
            // The registry refuses a second collector of a name it holds.
            let probe = prometheus::IntGauge::new(*m, "probe").expect("gauge");
            assert!(
                t.registry.register(Box::new(probe)).is_err(),
                "{m} is not registered"
            );
            assert!(
                readme.contains(&format!("`{m}`")),
                "{m} is not in the README"
            );
        }
    }
}
