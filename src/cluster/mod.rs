//! Cluster membership (`service.cluster`): sluice workers that share one config spread its
//! connectors over themselves through Kafka's consumer-group protocol, and a connector whose
//! worker dies moves to another within the group's session timeout.
//!
//! ```text
//!  worker ─ consumer of the lease topic (group = cluster.group_id, cooperative-sticky)
//!     │ partition i of the lease topic  ⇔  the i-th connector by sorted name
//!     ├─ assigned i ─► start connector i (its offsets come from the Kafka offsets store)
//!     └─ revoked/lost i ─► stop connector i (drain), and only then let the group go on
//! ```
//!
//! Nothing is ever written to the lease topic: the group coordinator's assignment is the
//! lease, Kafka's own consensus, not a home-made one.
//!
//! Invariants:
//! - A worker runs a connector only while the group assigns it that connector's partition.
//! - A revoked connector has stopped (drained, checkpoint written) before the revocation
//!   returns to the group, so its next owner starts after it, bounded by `drain_timeout_ms`
//!   (then the next owner fences it: the transactional producer's epoch, PostgreSQL's slot
//!   that admits one reader).
//! - A worker that missed its session (paused, cut off) learns it lost its connectors at
//!   its next poll and stops them; with `sink.transactions: true` anything it tries to
//!   write in between is refused by the brokers (fenced).

mod assignment;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

use crate::config::{ClusterSettings, Settings};
use crate::pipeline::control::Controls;
use crate::telemetry::{Health, Telemetry};

/// How long one Kafka admin or metadata request may take.
const WAIT: Duration = Duration::from_secs(30);

/// What can stop a worker from joining its cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A Kafka request of the membership failed (brokers unreachable, refused, …); the
    /// worker retries it.
    #[error("cluster {group}: {what} failed: {source}")]
    Kafka {
        /// The group.
        group: String,
        /// What was being done.
        what: &'static str,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The lease topic exists with a partition count Kafka cannot grow to (or the request
    /// to grow it failed).
    #[error("cluster {group}: the lease topic {topic} has {has} partitions for {needs} connectors, and adding partitions failed: {reason}")]
    LeaseTopic {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// Partitions it has.
        has: usize,
        /// Partitions it needs.
        needs: usize,
        /// Why growing failed.
        reason: String,
    },
}

/// A change of this worker's connectors, from the group.
enum Change {
    /// Start these.
    Assigned(Vec<String>),
    /// Stop these, then answer on `done` (the group waits for the answer).
    Revoked {
        connectors: Vec<String>,
        done: std::sync::mpsc::SyncSender<()>,
    },
}

/// The rebalance callbacks: run on the membership thread, inside librdkafka's poll.
struct Membership {
    changes: mpsc::Sender<Change>,
    drain: Duration,
    view: ClusterView,
}

impl Membership {
    /// The connectors of the lease partitions in `tpl`.
    fn names(&self, tpl: &rdkafka::TopicPartitionList) -> Vec<String> {
        tpl.elements()
            .iter()
            .filter(|e| e.topic() == &*self.view.topic)
            .filter_map(|e| usize::try_from(e.partition()).ok())
            .filter_map(|p| self.view.by_partition.get(p).cloned())
            .collect()
    }
}

impl ClientContext for Membership {}

impl ConsumerContext for Membership {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let connectors = self.names(tpl);
            if connectors.is_empty() {
                return;
            }
            tracing::info!(connectors = ?connectors, "cluster: connectors revoked; stopping them before the group moves them");
            let (done, wait) = std::sync::mpsc::sync_channel(1);
            if self
                .changes
                .blocking_send(Change::Revoked { connectors, done })
                .is_ok()
                && matches!(
                    wait.recv_timeout(self.drain),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                )
            {
                tracing::warn!(
                    drain_timeout_ms = self.drain.as_millis() as u64,
                    "cluster: connectors did not stop within the drain timeout; the group moves them anyway (the next owner fences this worker)"
                );
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let connectors = self.names(tpl);
                self.view.rebalanced();
                if !connectors.is_empty() {
                    tracing::info!(connectors = ?connectors, "cluster: connectors assigned to this worker");
                    let _ = self.changes.blocking_send(Change::Assigned(connectors));
                }
            }
            Rebalance::Revoke(_) => self.view.rebalanced(),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "cluster: rebalance failed; the group retries");
            }
        }
    }
}

/// What `GET /cluster` shows: this worker, what it runs, and the group as the coordinator
/// describes it.
#[derive(Clone)]
pub struct ClusterView {
    worker_id: Arc<str>,
    group: Arc<str>,
    topic: Arc<str>,
    by_partition: Arc<Vec<String>>,
    owned: Arc<Mutex<BTreeSet<String>>>,
    client: Arc<ClientConfig>,
    telemetry: Telemetry,
}

impl std::fmt::Debug for ClusterView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterView")
            .field("worker_id", &self.worker_id)
            .field("group", &self.group)
            .finish()
    }
}

impl ClusterView {
    fn rebalanced(&self) {
        self.telemetry
            .cluster_rebalances
            .with_label_values(&[&self.worker_id])
            .inc();
    }

    fn set_owned(&self, name: &str, owned: bool) {
        if let Ok(mut o) = self.owned.lock() {
            if owned {
                o.insert(name.to_string());
            } else {
                o.remove(name);
            }
            self.telemetry
                .cluster_connectors
                .with_label_values(&[&self.worker_id])
                .set(o.len() as i64);
        }
    }

    /// Whether this worker runs `connector`.
    pub fn owns(&self, connector: &str) -> bool {
        self.owned.lock().is_ok_and(|o| o.contains(connector))
    }

    /// This worker's view, plus every member of the group and its connectors as the group
    /// coordinator describes them (a failed description is reported, not fatal).
    pub async fn describe(&self) -> serde_json::Value {
        let owned: Vec<String> = self
            .owned
            .lock()
            .map(|o| o.iter().cloned().collect())
            .unwrap_or_default();
        let (client, group, topic, by_partition) = (
            self.client.clone(),
            self.group.to_string(),
            self.topic.to_string(),
            self.by_partition.clone(),
        );
        let members = tokio::task::spawn_blocking(move || {
            describe_group(&client, &group, &topic, &by_partition)
        })
        .await
        .unwrap_or_else(|_| Err("the description task ended".into()));
        let mut v = serde_json::json!({
            "worker_id": &*self.worker_id,
            "group_id": &*self.group,
            "lease_topic": &*self.topic,
            "connectors": owned,
            "rebalances": self
                .telemetry
                .cluster_rebalances
                .with_label_values(&[&self.worker_id])
                .get(),
        });
        match members {
            Ok((state, members)) => {
                v["group_state"] = state.into();
                v["workers"] = members;
            }
            Err(e) => v["workers_error"] = e.into(),
        }
        v
    }
}

/// The group's state and members (`worker_id`, `host`, `connectors`), from the coordinator.
fn describe_group(
    client: &ClientConfig,
    group: &str,
    topic: &str,
    by_partition: &[String],
) -> Result<(String, serde_json::Value), String> {
    let c: BaseConsumer = client.create().map_err(|e| e.to_string())?;
    let list = c
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let Some(g) = list.groups().iter().find(|g| g.name() == group) else {
        return Ok(("unknown".into(), serde_json::json!([])));
    };
    let members: Vec<serde_json::Value> = g
        .members()
        .iter()
        .map(|m| {
            let connectors: Vec<&str> = m
                .assignment()
                .and_then(assignment::partitions)
                .unwrap_or_default()
                .into_iter()
                .filter(|(t, _)| t == topic)
                .filter_map(|(_, p)| usize::try_from(p).ok())
                .filter_map(|p| by_partition.get(p).map(String::as_str))
                .collect();
            serde_json::json!({
                "worker_id": m.client_id(),
                "host": m.client_host(),
                "connectors": connectors,
            })
        })
        .collect();
    Ok((g.state().to_string(), serde_json::Value::Array(members)))
}

/// This worker's default name: host name and process id.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".into());
    format!("{host}-{}", std::process::id())
}

/// The Kafka client configuration of the membership (secrets included; never logged).
fn client_config(c: &ClusterSettings) -> ClientConfig {
    crate::kafka::client_config_parts(
        &c.bootstrap_servers,
        c.tls.as_ref(),
        c.sasl.as_ref(),
        &c.properties,
    )
}

/// Create the lease topic, or grow it to one partition per connector.
async fn prepare_lease_topic(c: &ClusterSettings, needs: usize) -> Result<(), ClusterError> {
    let kafka = |what, source| ClusterError::Kafka {
        group: c.group_id.clone(),
        what,
        source,
    };
    let admin: AdminClient<DefaultClientContext> = client_config(c)
        .create()
        .map_err(|e| kafka("creating an admin client", e))?;
    let opts = AdminOptions::new().request_timeout(Some(WAIT));
    // Never written: the shortest retention keeps it empty whatever happens.
    let new = NewTopic::new(
        &c.lease_topic,
        needs.max(1) as i32,
        TopicReplication::Fixed(-1),
    )
    .set("retention.ms", "60000");
    let created = admin
        .create_topics([&new], &opts)
        .await
        .map_err(|e| kafka("creating the lease topic", e))?;
    for r in created {
        if let Err((_, code)) = r {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                return Err(kafka(
                    "creating the lease topic",
                    rdkafka::error::KafkaError::AdminOp(code),
                ));
            }
        }
    }
    let has = lease_partitions(c).await?;
    if has < needs {
        let grow = NewPartitions::new(&c.lease_topic, needs);
        let r = admin
            .create_partitions([&grow], &opts)
            .await
            .map_err(|e| kafka("adding lease partitions", e))?;
        for r in r {
            if let Err((_, code)) = r {
                // Another worker may have grown it meanwhile (workers start together).
                if lease_partitions(c).await? >= needs {
                    return Ok(());
                }
                return Err(ClusterError::LeaseTopic {
                    group: c.group_id.clone(),
                    topic: c.lease_topic.clone(),
                    has,
                    needs,
                    reason: code.to_string(),
                });
            }
        }
        tracing::info!(topic = %c.lease_topic, from = has, to = needs, "cluster: lease topic grown to one partition per connector");
    }
    Ok(())
}

/// The lease topic's partition count. A topic just created (by this worker or another one
/// starting at the same time) can show no partitions in the metadata for a moment: asked
/// again for up to 10 s.
async fn lease_partitions(c: &ClusterSettings) -> Result<usize, ClusterError> {
    let kafka = |source| ClusterError::Kafka {
        group: c.group_id.clone(),
        what: "reading the lease topic",
        source,
    };
    for _ in 0..50 {
        let topic = c.lease_topic.clone();
        let cc = client_config(c);
        let has =
            tokio::task::spawn_blocking(move || -> Result<usize, rdkafka::error::KafkaError> {
                let probe: BaseConsumer = cc.create()?;
                let md = probe.fetch_metadata(Some(&topic), WAIT)?;
                Ok(md
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map_or(0, |t| t.partitions().len()))
            })
            .await
            .map_err(|_| kafka(rdkafka::error::KafkaError::Canceled))?
            .map_err(kafka)?;
        if has > 0 {
            return Ok(has);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(0)
}

/// A connector this worker runs.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), crate::pipeline::PipelineError>>,
}

/// Run this process as a worker of the cluster until `shutdown`: join the group, run the
/// connectors it assigns, stop the ones it takes away. Returns once every connector it ran
/// has stopped.
pub async fn run(
    settings: Settings,
    telemetry: Telemetry,
    controls: Controls,
    view_slot: crate::api::Cluster,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ClusterError> {
    let Some(cluster) = settings.service.cluster.clone() else {
        return Ok(());
    };
    let by_partition: Vec<String> = settings.connectors.keys().cloned().collect();
    for name in &by_partition {
        // Listed by `/connectors` on every worker; requests for one that runs elsewhere are
        // answered with where to send them.
        drop(controls.register(name));
        telemetry.set_health(name, Health::Elsewhere);
    }
    // The lease topic, retried while the brokers are unreachable.
    let mut attempt = 0;
    loop {
        match prepare_lease_topic(&cluster, by_partition.len()).await {
            Ok(()) => break,
            Err(e @ ClusterError::LeaseTopic { .. }) => return Err(e),
            Err(e) => {
                let wait = crate::clock::backoff(attempt);
                attempt += 1;
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cluster: cannot prepare the lease topic yet");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    }
    let worker_id = cluster.worker_id.clone().unwrap_or_else(default_worker_id);
    let view = ClusterView {
        worker_id: worker_id.clone().into(),
        group: cluster.group_id.clone().into(),
        topic: cluster.lease_topic.clone().into(),
        by_partition: Arc::new(by_partition.clone()),
        owned: Arc::default(),
        client: Arc::new(client_config(&cluster)),
        telemetry: telemetry.clone(),
    };
    let _ = view_slot.set(view.clone());
    let (changes_tx, mut changes) = mpsc::channel::<Change>(16);
    let membership = Membership {
        changes: changes_tx,
        drain: Duration::from_millis(cluster.drain_timeout_ms),
        view: view.clone(),
    };
    let mut cc = client_config(&cluster);
    let session = cluster.session_timeout_ms;
    cc.set("group.id", &cluster.group_id)
        .set("client.id", &worker_id)
        .set("enable.auto.commit", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", session.to_string())
        .set(
            "heartbeat.interval.ms",
            (session / 4).clamp(200, 3000).to_string(),
        )
        // A worker that polls no more (stuck) leaves the group well before a human notices.
        .set(
            "max.poll.interval.ms",
            (session * 5).max(30_000).to_string(),
        );
    let consumer: BaseConsumer<Membership> =
        cc.create_with_context(membership)
            .map_err(|e| ClusterError::Kafka {
                group: cluster.group_id.clone(),
                what: "creating the membership consumer",
                source: e,
            })?;
    consumer
        .subscribe(&[&cluster.lease_topic])
        .map_err(|e| ClusterError::Kafka {
            group: cluster.group_id.clone(),
            what: "joining the group",
            source: e,
        })?;
    tracing::info!(worker_id = %worker_id, group = %cluster.group_id, topic = %cluster.lease_topic, connectors = by_partition.len(), "cluster: joining the group");
    // librdkafka's callbacks run inside poll, on this thread; it ends at shutdown, leaving
    // the group (the revocation of what is left finds the worker loop gone and returns).
    let polling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let poll_flag = polling.clone();
    let thread_span = tracing::info_span!("worker", id = %worker_id);
    let poller = std::thread::Builder::new()
        .name("sluice-cluster".into())
        .spawn(move || {
            let _worker = thread_span.enter();
            while poll_flag.load(std::sync::atomic::Ordering::Relaxed) {
                // Nothing is ever written to the lease topic; poll serves the callbacks.
                let _ = consumer.poll(Duration::from_millis(100));
            }
            consumer.unsubscribe();
            drop(consumer);
        })
        .map_err(|e| ClusterError::Kafka {
            group: cluster.group_id.clone(),
            what: "starting the membership thread",
            source: rdkafka::error::KafkaError::ClientCreation(e.to_string()),
        })?;

    let connectors: BTreeMap<String, Arc<crate::config::ConnectorSettings>> = settings
        .connectors
        .into_iter()
        .map(|(n, c)| (n, Arc::new(c)))
        .collect();
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let start = |name: &str, running: &mut BTreeMap<String, Running>| {
        let Some(c) = connectors.get(name).cloned() else {
            return;
        };
        if running.get(name).is_some_and(|r| !r.task.is_finished()) {
            return;
        }
        let (stop, stop_rx) = watch::channel(false);
        let (n, t, service, control) = (
            name.to_string(),
            telemetry.clone(),
            settings.service.clone(),
            controls.register(name),
        );
        view.set_owned(name, true);
        // Every log line of the connector names this worker (logs of a cluster are merged).
        let span = tracing::info_span!("worker", id = %worker_id);
        let task = tokio::spawn(
            async move { crate::pipeline::run_connector(n, c, &service, t, stop_rx, control).await }
                .instrument(span),
        );
        running.insert(name.to_string(), Running { stop, task });
    };
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            change = changes.recv() => match change {
                None => break,
                Some(Change::Assigned(names)) => {
                    for n in names {
                        start(&n, &mut running);
                    }
                }
                Some(Change::Revoked { connectors: names, done }) => {
                    stop_all(names.iter().filter_map(|n| running.remove(n).map(|r| (n.clone(), r))), &telemetry, &view).await;
                    let _ = done.send(());
                }
            },
        }
    }
    // Shutdown: every connector drains, then the worker leaves the group.
    let all = std::mem::take(&mut running);
    stop_all(all.into_iter(), &telemetry, &view).await;
    polling.store(false, std::sync::atomic::Ordering::Relaxed);
    drop(changes);
    let _ = tokio::task::spawn_blocking(move || poller.join()).await;
    Ok(())
}

/// Stop connectors and wait until each has drained.
async fn stop_all(
    connectors: impl Iterator<Item = (String, Running)>,
    telemetry: &Telemetry,
    view: &ClusterView,
) {
    let mut waiting = Vec::new();
    for (name, r) in connectors {
        let _ = r.stop.send(true);
        waiting.push((name, r.task));
    }
    for (name, task) in waiting {
        match task.await {
            Ok(Err(e)) => {
                tracing::warn!(connector = %name, error = %crate::pipeline::error_chain(&e), "cluster: connector ended with an error while stopping")
            }
            Err(e) if e.is_panic() => {
                tracing::error!(connector = %name, "cluster: connector task panicked while stopping")
            }
            _ => {}
        }
        view.set_owned(&name, false);
        telemetry.set_health(&name, Health::Elsewhere);
    }
}
