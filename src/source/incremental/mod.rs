//! Incremental snapshots, the part every engine shares: the window filter over a chunk of
//! rows, the queue of tables kept in the checkpoint, and Debezium's signals.
//!
//! The algorithm is DBLog's. A chunk of rows is read in key order while streaming goes on;
//! the chunk is held until the stream has passed every change its read could see, and every
//! row whose key a change *not* visible to the read touched meanwhile is dropped from it (the
//! stream already carries a newer value). The rest is emitted as `op: "r"` with
//! `source.snapshot: "incremental"`. Invariants: an `r` row is never older than a change of
//! its key emitted before it; the queue in the checkpoint advances only with the rows it
//! covers (a restart re-reads at most the chunk that was not acknowledged); a table that
//! cannot be read is dropped from the queue with a warning, never a halt.

mod runner;

pub(crate) use runner::{Answer, ChunkRead, ChunkRequest, Fence, Reader, Runner};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::event::{ChangeEvent, IncrementalTable, SnapshotProgress, TableId, Value};

/// How a table is named in the saved progress and in signals: `namespace.name`, a part
/// quoted (`"a.b"`) when it holds a dot or starts with a quote, so it parses back.
pub(crate) fn table_name(t: &TableId) -> String {
    let part = |p: &str| {
        if p.contains('.') || p.starts_with('"') {
            format!("\"{}\"", p.replace('"', "\"\""))
        } else {
            p.to_string()
        }
    };
    format!("{}.{}", part(&t.namespace), part(&t.name))
}

/// The table a saved or requested name means.
pub(crate) fn table_id(name: &str) -> Option<TableId> {
    let (ns, t) = crate::config::parse_table_name(name)?;
    Some(TableId::new(ns, t))
}

/// Rows of one chunk, waiting for the stream to pass the read's high watermark.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    rows: Vec<Option<ChangeEvent>>,
    index: HashMap<String, usize>,
}

/// A hashable form of a key: values of one table's key columns compare by their debug form
/// (the same value gives the same text; the types are fixed by the table).
fn fingerprint(key: &[Value]) -> String {
    format!("{key:?}")
}

impl Chunk {
    /// A chunk of `op: "r"` rows (each with its key set).
    pub(crate) fn new(rows: Vec<ChangeEvent>) -> Self {
        let index = rows
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.key.is_empty())
            .map(|(i, e)| (fingerprint(&e.key), i))
            .collect();
        Self {
            rows: rows.into_iter().map(Some).collect(),
            index,
        }
    }

    /// A change of `key` that the read did not see: its row is stale.
    pub(crate) fn drop_key(&mut self, key: &[Value]) {
        if let Some(i) = self.index.remove(&fingerprint(key)) {
            if let Some(slot) = self.rows.get_mut(i) {
                *slot = None;
            }
        }
    }

    /// A truncate the read did not see: every row is stale.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.index.clear();
    }

    /// The rows left, in key order.
    pub(crate) fn into_rows(self) -> Vec<ChangeEvent> {
        self.rows.into_iter().flatten().collect()
    }
}

/// Where the management API leaves snapshot requests for a running connector, and where the
/// connector shows how its snapshots are going. Cheap to clone; no lock is held across an
/// await.
#[derive(Debug, Clone, Default)]
pub struct SnapshotInbox {
    inner: Arc<Inbox>,
}

#[derive(Debug, Default)]
struct Inbox {
    requests: Mutex<Vec<Request>>,
    notify: Notify,
    /// Whether a source that runs incremental snapshots is streaming and takes requests.
    accepts: AtomicBool,
    next_id: AtomicU64,
    progress: Mutex<Option<Arc<SnapshotProgress>>>,
}

/// What the API asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotCommand {
    /// Stop the snapshots of these tables (all when `None`).
    Stop(Option<Vec<String>>),
    /// Pause the incremental snapshots.
    Pause,
    /// Resume them.
    Resume,
}

impl SnapshotInbox {
    /// Whether the connector takes requests now (a PostgreSQL source that streams).
    pub fn accepts(&self) -> bool {
        self.inner.accepts.load(Ordering::Relaxed)
    }

    /// Ask for an incremental snapshot of `tables` (each with an optional SQL filter);
    /// returns the request's id. `blocking` is Debezium's `type: blocking`.
    pub fn execute(&self, tables: Vec<(String, Option<String>)>, blocking: bool) -> String {
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("api-{}-{n}", crate::clock::now_us() / 1000);
        self.push(Request::Execute {
            id: id.clone(),
            tables: tables
                .into_iter()
                .map(|(table, filter)| TableRequest { table, filter })
                .collect(),
            blocking,
        });
        id
    }

    /// Stop, pause or resume.
    pub fn command(&self, c: SnapshotCommand) {
        self.push(match c {
            SnapshotCommand::Stop(tables) => Request::Stop { tables },
            SnapshotCommand::Pause => Request::Pause,
            SnapshotCommand::Resume => Request::Resume,
        });
    }

    fn push(&self, r: Request) {
        if let Ok(mut q) = self.inner.requests.lock() {
            q.push(r);
        }
        self.inner.notify.notify_one();
    }

    /// The snapshot progress the connector last showed.
    pub fn progress(&self) -> Option<Arc<SnapshotProgress>> {
        self.inner.progress.lock().ok().and_then(|p| p.clone())
    }

    pub(crate) fn set_accepts(&self, on: bool) {
        self.inner.accepts.store(on, Ordering::Relaxed);
    }

    pub(crate) fn show(&self, p: Arc<SnapshotProgress>) {
        if let Ok(mut slot) = self.inner.progress.lock() {
            *slot = Some(p);
        }
    }

    /// Wait for requests, then take them all.
    pub(crate) async fn next(&self) -> Vec<Request> {
        loop {
            let taken = self
                .inner
                .requests
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !taken.is_empty() {
                return taken;
            }
            self.inner.notify.notified().await;
        }
    }
}

/// One table an operator or a signal asked to snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRequest {
    /// `namespace.name`.
    pub table: String,
    /// Debezium's `additional-conditions` filter.
    pub filter: Option<String>,
}

/// What a signal or the API asks of the incremental snapshotter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Snapshot these tables (Debezium's `execute-snapshot`).
    Execute {
        /// The request's id.
        id: String,
        /// The tables, each with its filter.
        tables: Vec<TableRequest>,
        /// Debezium's `type: blocking` (run incrementally; see the README).
        blocking: bool,
    },
    /// Stop the snapshots of these tables, or all (Debezium's `stop-snapshot`).
    Stop {
        /// `None`: every table.
        tables: Option<Vec<String>>,
    },
    /// Pause the incremental snapshots (Debezium's `pause-snapshot`).
    Pause,
    /// Resume them (Debezium's `resume-snapshot`).
    Resume,
}

#[derive(serde::Deserialize)]
struct SignalData {
    #[serde(rename = "data-collections", default)]
    data_collections: Option<Vec<String>>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(rename = "additional-conditions", default)]
    additional_conditions: Vec<Condition>,
    /// Debezium 1.x/2.0's single condition for every table.
    #[serde(rename = "additional-condition", default)]
    additional_condition: Option<String>,
}

#[derive(serde::Deserialize)]
struct Condition {
    #[serde(rename = "data-collection")]
    data_collection: String,
    filter: String,
}

/// Parse a Debezium signal (a row of the signal table: id, type, data). `Ok(None)` for the
/// signal kinds sluice does not act on (logging, schema changes, Debezium's own window
/// markers); `Err` names what is wrong with one it should act on.
pub(crate) fn parse_signal(
    id: &str,
    kind: &str,
    data: Option<&str>,
) -> Result<Option<Request>, String> {
    let parse = || -> Result<SignalData, String> {
        match data {
            Some(d) if !d.trim().is_empty() => serde_json::from_str(d)
                .map_err(|e| format!("its data is not the JSON Debezium accepts: {e}")),
            _ => Ok(SignalData {
                data_collections: None,
                kind: None,
                additional_conditions: Vec::new(),
                additional_condition: None,
            }),
        }
    };
    match kind {
        "execute-snapshot" => {
            let d = parse()?;
            let blocking = match d.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("incremental") => false,
                Some("blocking") => true,
                Some(other) => {
                    return Err(format!(
                        "snapshot type `{other}` is not one of incremental, blocking"
                    ))
                }
            };
            let names = d
                .data_collections
                .filter(|c| !c.is_empty())
                .ok_or("it names no data-collections")?;
            let tables = names
                .into_iter()
                .map(|table| {
                    let filter = d
                        .additional_conditions
                        .iter()
                        .find(|c| c.data_collection == table)
                        .map(|c| c.filter.clone())
                        .or_else(|| d.additional_condition.clone());
                    TableRequest { table, filter }
                })
                .collect();
            Ok(Some(Request::Execute {
                id: id.to_string(),
                tables,
                blocking,
            }))
        }
        "stop-snapshot" => Ok(Some(Request::Stop {
            tables: parse()?.data_collections.filter(|c| !c.is_empty()),
        })),
        "pause-snapshot" => Ok(Some(Request::Pause)),
        "resume-snapshot" => Ok(Some(Request::Resume)),
        _ => Ok(None),
    }
}

/// The progress a run starts with: the saved one with the table list brought up to the
/// configuration. A configured table the saved list lacks was added since: it is queued for
/// an incremental snapshot when `auto` (the snapshot mode takes data). Queued tables no
/// longer configured are dropped. Without saved progress (a first run, a new initial
/// snapshot, or offsets from before incremental snapshots) every table counts as captured.
pub(crate) fn plan(
    connector: &str,
    names: &[String],
    saved: Option<SnapshotProgress>,
    auto: bool,
) -> SnapshotProgress {
    let Some(mut p) = saved else {
        return SnapshotProgress {
            tables: names.to_vec(),
            ..SnapshotProgress::default()
        };
    };
    p.queue.retain(|q| names.contains(&q.table));
    for n in names.iter().filter(|n| !p.tables.contains(n)) {
        if auto {
            tracing::info!(
                connector,
                table = %n,
                "table added to the configuration: its rows are read by an incremental snapshot while streaming goes on"
            );
            p.queue.push(IncrementalTable {
                id: format!("auto-{}", crate::clock::now_us() / 1000),
                table: n.clone(),
                filter: None,
                after: None,
                rows: 0,
                estimate: None,
                blocking: false,
                request_first: false,
            });
        }
    }
    p.tables = names.to_vec();
    p
}

/// Debezium's Kafka signal channel: records on a one-partition topic, keyed by the
/// connector's topic prefix, valued `{"type": "execute-snapshot", "data": {…}}`. A task
/// reads them from `start` and hands `(offset, request)` pairs over; records with another
/// key, and signal kinds sluice does not act on, are passed by.
pub(crate) struct KafkaSignals {
    rx: tokio::sync::mpsc::Receiver<(i64, Request)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KafkaSignals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the Kafka signal channel reads (the sink's client settings, the topic, the key).
#[derive(Debug, Clone)]
pub struct KafkaSignalSettings {
    /// librdkafka settings of the sink's brokers (secrets included: never logged).
    pub client: rdkafka::config::ClientConfig,
    /// The signal topic.
    pub topic: String,
    /// The key a signal for this connector carries (Debezium: `topic.prefix`).
    pub key: String,
}

impl KafkaSignals {
    /// Start reading after `after` (the last offset taken), or at the topic's end.
    pub(crate) fn start(
        s: &KafkaSignalSettings,
        after: Option<i64>,
        connector: &str,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        use rdkafka::consumer::{Consumer, StreamConsumer};
        let mut c = s.client.clone();
        c.set("group.id", format!("sluice-signals-{connector}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: StreamConsumer = c.create()?;
        let mut tpl = rdkafka::TopicPartitionList::new();
        let offset = match after {
            Some(o) => rdkafka::Offset::Offset(o + 1),
            None => rdkafka::Offset::End,
        };
        tpl.add_partition_offset(&s.topic, 0, offset)?;
        consumer.assign(&tpl)?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let (key, connector) = (s.key.clone(), connector.to_string());
        let task = tokio::spawn(async move {
            use rdkafka::Message;
            loop {
                let msg = match consumer.recv().await {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(connector = %connector, error = %e, "reading the signal topic failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if msg.key() != Some(key.as_bytes()) {
                    continue;
                }
                let offset = msg.offset();
                let id = format!("kafka-{offset}");
                let parsed: Result<serde_json::Value, _> =
                    serde_json::from_slice(msg.payload().unwrap_or_default());
                let (kind, data) = match &parsed {
                    Ok(v) => (
                        v["type"].as_str().unwrap_or_default().to_string(),
                        v.get("data").map(|d| d.to_string()),
                    ),
                    Err(_) => (String::new(), None),
                };
                match parse_signal(&id, &kind, data.as_deref()) {
                    Ok(Some(r)) => {
                        tracing::info!(connector = %connector, id = %id, kind = %kind, "signal received from Kafka");
                        if tx.send((offset, r)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {
                        tracing::warn!(connector = %connector, id = %id, "a Kafka signal of no kind sluice acts on; skipped")
                    }
                    Err(why) => {
                        tracing::warn!(connector = %connector, id = %id, problem = %why, "Kafka signal ignored")
                    }
                }
            }
        });
        Ok(Self { rx, task })
    }

    /// The next signal (pending forever once the reader ended).
    pub(crate) async fn next(&mut self) -> (i64, Request) {
        match self.rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }
}

/// Apply a request to the queue. `captured` is the connector's table list: a table outside
/// it cannot be snapshotted (its topic is not set up) and is skipped with a warning.
pub(crate) fn apply(progress: &mut SnapshotProgress, req: Request, connector: &str) {
    match req {
        Request::Execute {
            id,
            tables,
            blocking,
        } => {
            let mut first = true;
            for t in tables {
                let Some(name) = table_id(&t.table).map(|id| table_name(&id)) else {
                    tracing::warn!(connector, id = %id, "snapshot requested for a name that is not schema.table; skipped");
                    continue;
                };
                let t = TableRequest {
                    table: name,
                    filter: t.filter,
                };
                if !progress.tables.contains(&t.table) {
                    tracing::warn!(
                        connector,
                        id = %id,
                        table = %t.table,
                        "snapshot requested for a table that is not captured (not in source.tables); skipped"
                    );
                    continue;
                }
                let queued = progress
                    .queue
                    .iter()
                    .any(|q| q.table == t.table && q.filter == t.filter && q.after.is_none());
                if queued {
                    continue;
                }
                tracing::info!(connector, id = %id, table = %t.table, "snapshot queued");
                progress.queue.push(IncrementalTable {
                    id: id.clone(),
                    table: t.table,
                    filter: t.filter,
                    after: None,
                    rows: 0,
                    estimate: None,
                    blocking,
                    request_first: blocking && std::mem::take(&mut first),
                });
            }
        }
        Request::Stop { tables } => {
            let before = progress.queue.len();
            match &tables {
                None => progress.queue.clear(),
                Some(names) => {
                    let names: Vec<String> = names
                        .iter()
                        .filter_map(|n| table_id(n))
                        .map(|id| table_name(&id))
                        .collect();
                    progress.queue.retain(|q| !names.contains(&q.table))
                }
            }
            tracing::info!(
                connector,
                stopped = before - progress.queue.len(),
                "incremental snapshots stopped"
            );
        }
        Request::Pause => progress.paused = true,
        Request::Resume => progress.paused = false,
    }
}

/// The Kafka signal channel of a stream, started after the offset the checkpoint saved
/// (`None` without `signal_kafka_topic`). `Err` holds the problem, naming the topic and the
/// cause (an engine's source wraps it as a precondition).
pub(crate) fn kafka_signals(
    settings: Option<&KafkaSignalSettings>,
    saved: Option<i64>,
    connector: &str,
) -> Result<Option<KafkaSignals>, String> {
    let Some(k) = settings else {
        return Ok(None);
    };
    KafkaSignals::start(k, saved, connector)
        .map(Some)
        .map_err(|e| format!("cannot read the signal topic {}: {e}", k.topic))
}

/// The hint for a signal topic that cannot be read.
pub(crate) const SIGNAL_TOPIC_HINT: &str =
    "check source.signal_kafka_topic and the sink's Kafka settings";

/// Take the rows of the signal table out of the events decoded since `from` (they are not
/// emitted) and read inserted ones as Debezium signals (columns id, type, data). A signal
/// that cannot be read is logged (by id, not content) and skipped.
pub(crate) fn take_signals(
    events: &mut Vec<crate::event::ChangeEvent>,
    from: usize,
    signal: &TableId,
    out: &mut Vec<Request>,
    connector: &str,
) {
    if !events[from..].iter().any(|e| &e.schema.table == signal) {
        return;
    }
    let tail = events.split_off(from);
    for ev in tail {
        if &ev.schema.table != signal {
            events.push(ev);
            continue;
        }
        if ev.op != crate::event::Op::Create {
            continue;
        }
        let text = |i: usize| match ev.after.as_ref().and_then(|r| r.get(i)) {
            Some(crate::event::Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let (Some(id), Some(kind)) = (text(0), text(1)) else {
            tracing::warn!(
                connector,
                "a signal row without text id and type columns; skipped"
            );
            continue;
        };
        match parse_signal(&id, &kind, text(2).as_deref()) {
            Ok(Some(r)) => {
                tracing::info!(connector, id = %id, kind = %kind, "signal received");
                out.push(r);
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(connector, id = %id, kind = %kind, problem = %why, "signal ignored")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debezium's signal payloads parse as Debezium documents them.
    #[test]
    fn signals() {
        let r = parse_signal(
            "s1",
            "execute-snapshot",
            Some(r#"{"data-collections": ["public.t", "public.c"], "type": "incremental", "additional-conditions": [{"data-collection": "public.c", "filter": "a <> 'y'"}]}"#),
        )
        .expect("valid");
        assert_eq!(
            r,
            Some(Request::Execute {
                id: "s1".into(),
                tables: vec![
                    TableRequest {
                        table: "public.t".into(),
                        filter: None
                    },
                    TableRequest {
                        table: "public.c".into(),
                        filter: Some("a <> 'y'".into())
                    }
                ],
                blocking: false,
            })
        );
        assert!(parse_signal("s", "execute-snapshot", Some("{}")).is_err());
        assert!(parse_signal("s", "execute-snapshot", Some("not json")).is_err());
        assert!(parse_signal(
            "s",
            "execute-snapshot",
            Some(r#"{"data-collections":["a.b"],"type":"full"}"#)
        )
        .is_err());
        assert_eq!(parse_signal("s", "log", Some("{}")), Ok(None));
        assert_eq!(parse_signal("s", "snapshot-window-open", None), Ok(None));
        assert_eq!(
            parse_signal(
                "s",
                "stop-snapshot",
                Some(r#"{"data-collections":["public.t"],"type":"incremental"}"#)
            ),
            Ok(Some(Request::Stop {
                tables: Some(vec!["public.t".into()])
            }))
        );
        assert_eq!(
            parse_signal("s", "pause-snapshot", None),
            Ok(Some(Request::Pause))
        );
    }

    /// The queue takes captured tables once, and stop and pause act on it.
    #[test]
    fn queue() {
        let mut p = SnapshotProgress {
            tables: vec!["public.t".into()],
            ..Default::default()
        };
        let exec = |t: &str| Request::Execute {
            id: "x".into(),
            tables: vec![TableRequest {
                table: t.into(),
                filter: None,
            }],
            blocking: false,
        };
        apply(&mut p, exec("public.t"), "c");
        apply(&mut p, exec("public.t"), "c");
        apply(&mut p, exec("public.other"), "c");
        assert_eq!(p.queue.len(), 1);
        apply(&mut p, Request::Pause, "c");
        assert!(p.paused);
        apply(&mut p, Request::Stop { tables: None }, "c");
        assert!(p.queue.is_empty());
    }

    /// A table added to the configuration is queued once; a removed one leaves the queue.
    #[test]
    fn plan_queues_added_tables() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = plan("c", &names(&["s.a"]), None, true);
        assert!(first.queue.is_empty());
        let second = plan("c", &names(&["s.a", "s.b"]), Some(first), true);
        assert_eq!(second.queue.len(), 1);
        assert_eq!(second.queue[0].table, "s.b");
        assert_eq!(second.tables, names(&["s.a", "s.b"]));
        let third = plan("c", &names(&["s.a"]), Some(second.clone()), true);
        assert!(third.queue.is_empty());
        let no_data = plan("c", &names(&["s.a", "s.c"]), Some(third), false);
        assert!(no_data.queue.is_empty());
        assert_eq!(table_name(&TableId::new("a.b", "t\"x")), "\"a.b\".t\"x");
        assert_eq!(table_id("\"a.b\".t"), Some(TableId::new("a.b", "t")));
    }
}
