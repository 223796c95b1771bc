//! Pipelines own the delivery guarantee of one connector, and supervise it.
//!
//! ```text
//! run_connector ─► supervise: loop { attempt } ─┬─ capture: PostgreSQL/MySQL → Kafka (capture.rs)
//!                                               └─ apply:   Kafka change topics → search /
//!                                                           Redis / memcached (apply.rs)
//! ```
//! Failures are classified: transient ones restart the connector from its last checkpoint
//! after a capped exponential backoff with jitter; definite ones halt it with an operator hint.

mod apply;
mod capture;
pub mod control;
mod retry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::clock::backoff;
use crate::config::{ConnectorSettings, SinkSettings, SourceSettings};
use crate::offsets::{OffsetError, OffsetStore};
use crate::sink::kafka::KafkaSinkError;
use crate::sink::target::TargetError;
use crate::source::changelog::ChangelogError;
use crate::source::mysql::MysqlSource;
use crate::source::postgres::PostgresSource;
use crate::source::{BatchLimits, CaptureSource, SourceError};
use crate::telemetry::{Health, Telemetry};

/// Why a connector stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The database source failed.
    #[error("source failed: {0}")]
    Source(#[source] SourceError),
    /// The Kafka sink failed.
    #[error("sink failed: {0}")]
    Sink(#[source] KafkaSinkError),
    /// The change-topic consumer failed.
    #[error("change topic consumer failed: {0}")]
    Changelog(#[source] ChangelogError),
    /// A document target (search, Redis, memcached) failed.
    #[error("target failed: {0}")]
    Target(#[source] TargetError),
    /// The offsets file failed.
    #[error("offsets failed: {0}")]
    Offsets(#[source] OffsetError),
    /// The source stopped without being asked to.
    #[error("the source stopped unexpectedly")]
    Stalled,
    /// A stage panicked: a bug, or input a third-party decoder could not take (sluice
    /// checks what it can before handing bytes on). Not retried: the same position would
    /// feed the same bytes again.
    #[error("the {stage} task panicked: {message}")]
    Panicked {
        /// `source` or `sink`.
        stage: &'static str,
        /// The panic's message.
        message: String,
    },
    /// Source and sink types do not fit together (validation prevents this).
    #[error("unsupported source/sink combination")]
    Mismatch,
}

impl PipelineError {
    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            PipelineError::Source(e) => e.hint(),
            PipelineError::Sink(e) => e.hint().to_string(),
            PipelineError::Changelog(e) => e.hint().to_string(),
            PipelineError::Target(e) => e.hint(),
            PipelineError::Offsets(e) => e.hint(),
            PipelineError::Stalled => "see earlier log lines".into(),
            PipelineError::Panicked { .. } => {
                "please report it with the log lines before it; restart the connector (POST /connectors/<name>/restart) after checking the source".into()
            }
            PipelineError::Mismatch => "fix the connector's source and sink types".into(),
        }
    }
}

/// How an attempt ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The connector's work is complete.
    Finished,
    /// Shutdown was requested (or the source stopped on its own).
    Stopped,
}

/// Run one connector until shutdown or completion. A definite error leaves it `failed`
/// until an operator restarts it (`control`) or the process shuts down; the error is
/// returned then.
pub async fn run_connector(
    name: String,
    settings: Arc<ConnectorSettings>,
    service: &crate::config::ServiceSettings,
    telemetry: Telemetry,
    shutdown: watch::Receiver<bool>,
    control: control::Control,
) -> Result<(), PipelineError> {
    let control::Control {
        state: control,
        snapshots,
    } = control;
    let file_offsets = OffsetStore::new(&service.offsets_dir, &name);
    // The Kafka store is prepared by the first attempt that reaches the brokers (a broker
    // that is down at the start is retried like any transient failure).
    let kafka_topic = (service.offsets.store == crate::config::OffsetsStoreKind::Kafka)
        .then(|| service.offsets.topic.clone());
    let kafka_offsets: tokio::sync::OnceCell<OffsetStore> = tokio::sync::OnceCell::new();
    let in_cluster = service.cluster.is_some();
    let limits = BatchLimits {
        max_events: settings.max_batch_events,
        max_bytes: settings.max_batch_bytes,
    };
    match (&settings.source, &settings.sink) {
        (SourceSettings::Postgres(_) | SourceSettings::Mysql(_), SinkSettings::Kafka(ks)) => {
            let txn_slot = capture::TxnSlot::new(None);
            supervise(&name, &telemetry, shutdown.clone(), control, |stop| {
                let (name, settings, telemetry) = (&name, &settings, &telemetry);
                let (file_offsets, kafka_offsets, kafka_topic) =
                    (&file_offsets, &kafka_offsets, &kafka_topic);
                let txn_slot = &txn_slot;
                let snapshots = snapshots.clone();
                async move {
                    let offsets = match kafka_topic {
                        None => file_offsets,
                        Some(topic) => kafka_offsets
                            .get_or_try_init(|| {
                                OffsetStore::kafka(crate::kafka::client_config(ks), topic, name)
                            })
                            .await
                            .map_err(PipelineError::Offsets)?,
                    };
                    capture::run_once(
                        name,
                        settings,
                        ks,
                        // A fresh source per attempt; it resumes from the offsets file.
                        capture_source(
                            name,
                            &settings.source,
                            ks,
                            limits,
                            offsets,
                            telemetry,
                            (snapshots, in_cluster),
                        ),
                        offsets,
                        telemetry,
                        (&stop, txn_slot),
                    )
                    .await
                }
            })
            .await
        }
        (SourceSettings::Kafka(src), sink) => {
            supervise(&name, &telemetry, shutdown.clone(), control, |stop| {
                let (name, settings, telemetry) = (&name, &settings, &telemetry);
                async move { apply::run_once(name, settings, src, sink, telemetry, &stop).await }
            })
            .await
        }
        _ => Err(PipelineError::Mismatch),
    }
}

/// The database source of a capture connector (validation guarantees the source is one).
#[allow(clippy::too_many_arguments)]
fn capture_source(
    name: &str,
    source: &SourceSettings,
    sink: &crate::config::KafkaSettings,
    limits: BatchLimits,
    offsets: &OffsetStore,
    telemetry: &Telemetry,
    (snapshots, in_cluster): (control::SnapshotInbox, bool),
) -> CaptureSource {
    let (offsets, telemetry) = (offsets.clone(), telemetry.clone());
    // Debezium's Kafka signal channel reads from the sink's brokers, keyed by the prefix.
    let signals = |topic: &Option<String>| {
        topic
            .as_ref()
            .map(|topic| crate::source::incremental::KafkaSignalSettings {
                client: crate::kafka::client_config(sink),
                topic: topic.clone(),
                key: sink
                    .topic_prefix
                    .clone()
                    .unwrap_or_else(|| name.to_string()),
            })
    };
    match source {
        SourceSettings::Mysql(my) => CaptureSource::Mysql(Box::new(
            MysqlSource::new(name, Arc::new(my.clone()), limits, offsets, telemetry)
                .with_snapshot_inbox(snapshots)
                .with_kafka_signals(signals(&my.signal_kafka_topic)),
        )),
        SourceSettings::Postgres(pg) => CaptureSource::Postgres(Box::new(
            PostgresSource::new(name, Arc::new(pg.clone()), limits, offsets, telemetry)
                .with_snapshot_inbox(snapshots)
                .with_kafka_signals(signals(&pg.signal_kafka_topic))
                .taking_over_slot(in_cluster),
        )),
        SourceSettings::Kafka(_) => unreachable!("a kafka source is an apply connector"),
    }
}

/// An error with its causes, `: `-separated, for logs and `/health`: the first line of each
/// cause (a database's DETAIL lines can quote row values), skipping causes the text already
/// holds. Causes never carry URLs (search errors drop theirs where they are made).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        let line = text.lines().next().unwrap_or_default().trim();
        if !line.is_empty() && !out.contains(line) {
            out.push_str(": ");
            out.push_str(line);
        }
        cause = c.source();
    }
    out
}

/// The next change of the operator's requests; never resolves once no one can send any
/// (the control handle was dropped), so callers never spin on a closed channel.
async fn control_changed(control: &mut watch::Receiver<control::ControlState>) {
    if control.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once shutdown is requested (a dropped sender counts as a request).
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Whether shutdown was requested (or can no longer be).
fn shutting_down(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// How long an attempt may stay `starting` (connecting, waiting for its first acknowledged
/// batch) before `/health` reports the connector `retrying` (503): a connector whose broker
/// or database is down from the start must not look healthy while its first attempt waits.
const START_BOUND: Duration = Duration::from_secs(5);

/// Whether an operator asked the running attempt to stop (a pause, or a restart after
/// `seen` restarts).
fn operator_stop(c: control::ControlState, seen: u64) -> bool {
    c.paused || c.restarts != seen
}

/// Call `attempt_fn` (with the attempt's own stop signal) until it finishes or shutdown is
/// requested: transient errors retry with backoff; a definite error leaves the connector
/// `failed` until a restart request; a pause stops the attempt (drained, like a shutdown)
/// until resumed.
async fn supervise<F, Fut>(
    name: &str,
    telemetry: &Telemetry,
    mut shutdown: watch::Receiver<bool>,
    mut control: watch::Receiver<control::ControlState>,
    mut attempt_fn: F,
) -> Result<(), PipelineError>
where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<Outcome, PipelineError>>,
{
    let mut attempt = 0u32;
    // The error that ended the previous attempt: the next attempt is `retrying` with it until
    // it reaches snapshotting or streaming, so `/health` never says 200 between failures.
    let mut last_error: Option<String> = None;
    loop {
        if control.borrow_and_update().paused {
            telemetry.set_paused(name, true);
            telemetry.set_health(name, Health::Stopped);
            tracing::info!(connector = %name, "paused");
            loop {
                tokio::select! {
                    _ = control_changed(&mut control) => if !control.borrow().paused { break },
                    _ = shutdown_requested(&mut shutdown) => return Ok(()),
                }
            }
            telemetry.set_paused(name, false);
            tracing::info!(connector = %name, "resumed");
        }
        let seen = control.borrow_and_update().restarts;
        telemetry.set_health(
            name,
            match &last_error {
                Some(error) => Health::Retrying {
                    error: error.clone(),
                },
                None => Health::Starting,
            },
        );
        let started = Instant::now();
        let (stop_tx, stop_rx) = watch::channel(shutting_down(&shutdown));
        let run = attempt_fn(stop_rx);
        tokio::pin!(run);
        let mut slow_start_checked = false;
        let result = loop {
            tokio::select! {
                r = &mut run => break r,
                _ = tokio::time::sleep_until(started + START_BOUND), if !slow_start_checked => {
                    slow_start_checked = true;
                    if matches!(telemetry.health().get(name), Some(Health::Starting)) {
                        telemetry.set_health(name, Health::Retrying {
                            error: format!("not streaming after {} s: waiting for the source or the sink to answer (the log names which)", START_BOUND.as_secs()),
                        });
                    }
                }
                _ = shutdown_requested(&mut shutdown), if !*stop_tx.borrow() => {
                    let _ = stop_tx.send(true);
                }
                _ = control_changed(&mut control), if !*stop_tx.borrow() => {
                    if operator_stop(*control.borrow(), seen) {
                        tracing::info!(connector = %name, "stopping the running attempt on an operator's request");
                        let _ = stop_tx.send(true);
                    }
                }
            }
        };
        let stopping = shutting_down(&shutdown);
        let operator = operator_stop(*control.borrow(), seen);
        let err = match result {
            Ok(Outcome::Finished) => {
                telemetry.set_health(name, Health::Stopped);
                return Ok(());
            }
            Ok(Outcome::Stopped) if stopping => {
                telemetry.set_health(name, Health::Stopped);
                return Ok(());
            }
            Ok(Outcome::Stopped) if operator => {
                last_error = None;
                continue;
            }
            Ok(Outcome::Stopped) => PipelineError::Stalled,
            Err(e) if stopping => {
                tracing::warn!(connector = %name, error = %error_chain(&e), "error during shutdown");
                telemetry.set_health(name, Health::Stopped);
                return Ok(());
            }
            Err(e) if operator => {
                tracing::warn!(connector = %name, error = %error_chain(&e), "error while stopping on an operator's request");
                last_error = None;
                continue;
            }
            Err(e) => e,
        };
        if !retry::transient(&err) {
            telemetry
                .errors
                .with_label_values(&[name, "definite"])
                .inc();
            if matches!(
                err,
                PipelineError::Sink(KafkaSinkError::ProducerFatal { .. })
            ) {
                telemetry.producer_fatal.with_label_values(&[name]).inc();
            }
            let hint = err.hint();
            let text = error_chain(&err);
            tracing::error!(connector = %name, error = %text, hint = %hint, "connector halted; the others keep running (POST /connectors/{name}/restart retries it)");
            telemetry.set_health(name, Health::Failed { error: text, hint });
            // Failed until an operator restarts it, or the process stops.
            loop {
                tokio::select! {
                    _ = control_changed(&mut control) => {
                        if control.borrow().restarts != seen {
                            break;
                        }
                    }
                    _ = shutdown_requested(&mut shutdown) => return Err(err),
                }
            }
            attempt = 0;
            last_error = None;
            continue;
        }
        if started.elapsed() > Duration::from_secs(60) {
            attempt = 0;
        }
        let wait = backoff(attempt);
        attempt += 1;
        telemetry
            .errors
            .with_label_values(&[name, "transient"])
            .inc();
        let text = error_chain(&err);
        tracing::warn!(connector = %name, error = %text, retry_in_ms = wait.as_millis() as u64, "connector failed, retrying");
        telemetry.set_health(
            name,
            Health::Retrying {
                error: text.clone(),
            },
        );
        last_error = Some(text);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown_requested(&mut shutdown) => {}
            _ = control_changed(&mut control) => {}
        }
        if shutting_down(&shutdown) {
            telemetry.set_health(name, Health::Stopped);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain names each cause once, first lines only.
    #[test]
    fn chains() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer while connecting")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused\nDETAIL: Key (id)=(1)",
        ));
        assert_eq!(
            error_chain(&e),
            "outer while connecting: Connection refused"
        );
    }
}
