//! The pipeline owns the delivery guarantee for one connector.
//!
//! ```text
//!  source task ──Batch──► [bounded queue] ──► sink task: encode + produce ──Pending──►
//!      ▲                                                         [bounded queue]
//!      │                                                               ▼
//!      └──────────── acks (watch) ◄── acker: await deliveries → save offsets file
//! ```
//! Order per checkpoint: sink durable → offsets file → source ack (slot). Failures are
//! classified: transient ones restart the connector from its last checkpoint after a capped
//! exponential backoff with jitter; definite ones halt it with an operator hint. Shutdown
//! drains: the source stops reading, in-flight batches are delivered and acknowledged.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::{ConnectorSettings, SinkSettings, SourceSettings};
use crate::envelope::SourceKind;
use crate::offsets::{OffsetError, OffsetStore};
use crate::sink::kafka::{KafkaSink, KafkaSinkError, Pending};
use crate::source::postgres::{BatchLimits, PgSourceError, PostgresSource, SourceEnd, SourceIo};
use crate::source::{Batch, Checkpoint};
use crate::telemetry::{Health, Telemetry};

/// Why a connector stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed.
    #[error("source failed: {0}")]
    Source(#[source] PgSourceError),
    /// The sink failed.
    #[error("sink failed: {0}")]
    Sink(#[source] KafkaSinkError),
    /// The offsets file failed.
    #[error("offsets failed: {0}")]
    Offsets(#[source] OffsetError),
    /// The source stopped without being asked to.
    #[error("the source stopped unexpectedly")]
    Stalled,
}

impl PipelineError {
    /// Whether a restart may fix it.
    pub fn is_transient(&self) -> bool {
        match self {
            PipelineError::Source(e) => e.is_transient(),
            PipelineError::Sink(e) => e.is_transient(),
            PipelineError::Offsets(e) => matches!(e, OffsetError::Io { .. }),
            PipelineError::Stalled => true,
        }
    }

    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            PipelineError::Source(e) => e.hint(),
            PipelineError::Sink(e) => e.hint().to_string(),
            PipelineError::Offsets(e) => match e {
                OffsetError::Io { .. } => "check that service.offsets_dir is writable".into(),
                OffsetError::Corrupt { .. } => e.to_string(),
            },
            PipelineError::Stalled => "see earlier log lines".into(),
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Capped exponential backoff with jitter: 1 s, 2 s, 4 s … 60 s, ±20 %.
pub fn backoff(attempt: u32) -> Duration {
    let base = 1000u64.saturating_mul(1 << attempt.min(6)).min(60_000);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = (u64::from(nanos) % 400) as i64 - 200; // ±20 % of 1000
    Duration::from_millis((base as i64 + base as i64 * jitter / 1000).max(100) as u64)
}

/// Run one connector until shutdown, completion or a definite error.
pub async fn run_connector(
    name: String,
    settings: Arc<ConnectorSettings>,
    offsets_dir: &Path,
    telemetry: Telemetry,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let offsets = OffsetStore::new(offsets_dir, &name);
    let limits = BatchLimits {
        max_events: settings.max_batch_events,
        max_bytes: settings.max_batch_bytes,
    };
    let SourceSettings::Postgres(pg) = &settings.source;
    let mut source = PostgresSource::new(
        &name,
        Arc::new(clone_pg(pg)),
        limits,
        offsets.clone(),
        telemetry.clone(),
    );
    let mut attempt = 0u32;
    loop {
        telemetry.set_health(&name, Health::Starting);
        let started = Instant::now();
        let result = run_once(
            &name,
            &settings,
            &mut source,
            &offsets,
            &telemetry,
            &shutdown,
        )
        .await;
        let stopping = *shutdown.borrow();
        match result {
            Ok(SourceEnd::Finished) => {
                telemetry.set_health(&name, Health::Stopped);
                return Ok(());
            }
            Ok(SourceEnd::Stopped) if stopping => {
                telemetry.set_health(&name, Health::Stopped);
                return Ok(());
            }
            Ok(SourceEnd::Stopped) => {
                let e = PipelineError::Stalled;
                retry_wait(&name, &e, &telemetry, &mut attempt, started, &mut shutdown).await;
            }
            Err(e) if stopping => {
                tracing::warn!(connector = %name, error = %e, "error during shutdown");
                telemetry.set_health(&name, Health::Stopped);
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                retry_wait(&name, &e, &telemetry, &mut attempt, started, &mut shutdown).await;
            }
            Err(e) => {
                telemetry
                    .errors
                    .with_label_values(&[name.as_str(), "definite"])
                    .inc();
                let hint = e.hint();
                tracing::error!(connector = %name, error = %e, hint = %hint, "connector halted");
                telemetry.set_health(
                    &name,
                    Health::Failed {
                        error: e.to_string(),
                        hint,
                    },
                );
                return Err(e);
            }
        }
        if *shutdown.borrow() {
            telemetry.set_health(&name, Health::Stopped);
            return Ok(());
        }
    }
}

fn clone_pg(pg: &crate::config::PostgresSettings) -> crate::config::PostgresSettings {
    crate::config::PostgresSettings {
        host: pg.host.clone(),
        port: pg.port,
        user: pg.user.clone(),
        password: pg.password.clone(),
        database: pg.database.clone(),
        tables: pg.tables.clone(),
        slot_name: pg.slot_name.clone(),
        publication_name: pg.publication_name.clone(),
        create_publication: pg.create_publication,
        snapshot_mode: pg.snapshot_mode,
        emit_truncate: pg.emit_truncate,
        status_interval_ms: pg.status_interval_ms,
        tls: pg.tls.clone(),
    }
}

async fn retry_wait(
    name: &str,
    e: &PipelineError,
    telemetry: &Telemetry,
    attempt: &mut u32,
    started: Instant,
    shutdown: &mut watch::Receiver<bool>,
) {
    if started.elapsed() > Duration::from_secs(60) {
        *attempt = 0;
    }
    let wait = backoff(*attempt);
    *attempt += 1;
    telemetry
        .errors
        .with_label_values(&[name, "transient"])
        .inc();
    tracing::warn!(connector = %name, error = %e, retry_in_ms = wait.as_millis() as u64, "connector failed, retrying");
    telemetry.set_health(
        name,
        Health::Retrying {
            error: e.to_string(),
        },
    );
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shutdown.changed() => {}
    }
}

struct InFlight {
    pending: Pending,
    checkpoint: Option<Checkpoint>,
    last_commit_us: Option<i64>,
    started: Instant,
}

fn count_events(
    telemetry: &Telemetry,
    connector: &str,
    ev: &crate::event::ChangeEvent,
    op: crate::event::Op,
    n: u64,
) {
    telemetry
        .events
        .with_label_values(&[connector, &ev.schema.table.to_string(), op.code()])
        .inc_by(n);
}

async fn run_once(
    name: &str,
    settings: &ConnectorSettings,
    source: &mut PostgresSource,
    offsets: &OffsetStore,
    telemetry: &Telemetry,
    shutdown: &watch::Receiver<bool>,
) -> Result<SourceEnd, PipelineError> {
    let SinkSettings::Kafka(ks) = &settings.sink;
    let mut sink = KafkaSink::connect(name, ks, SourceKind::Postgres)
        .await
        .map_err(PipelineError::Sink)?;
    let (tx, mut rx) = mpsc::channel::<Batch>(settings.queue_batches);
    let (ack_tx, ack_rx) = watch::channel::<Option<Checkpoint>>(None);
    let (pend_tx, mut pend_rx) = mpsc::channel::<InFlight>(settings.queue_batches);
    let queue_gauge = telemetry.queue_remaining.with_label_values(&[name]);

    let source_fut = source.run(SourceIo {
        tx,
        acks: ack_rx,
        shutdown: shutdown.clone(),
    });

    let sink_fut = async {
        while let Some(batch) = rx.recv().await {
            queue_gauge.set(rx.capacity() as i64);
            // Count runs of (schema, op) instead of looking labels up per event.
            let mut run: Option<(u64, crate::event::Op, u64, &crate::event::ChangeEvent)> = None;
            for ev in &batch.events {
                match &mut run {
                    Some((v, op, n, _)) if *v == ev.schema.version && *op == ev.op => *n += 1,
                    _ => {
                        if let Some((_, op, n, first)) = run.take() {
                            count_events(telemetry, name, first, op, n);
                        }
                        run = Some((ev.schema.version, ev.op, 1, ev));
                    }
                }
            }
            if let Some((_, op, n, first)) = run {
                count_events(telemetry, name, first, op, n);
            }
            let last_commit_us = batch.events.last().map(|e| e.commit_ts_us);
            let started = Instant::now();
            let pending = sink
                .enqueue(&batch.events)
                .await
                .map_err(PipelineError::Sink)?;
            let f = InFlight {
                pending,
                checkpoint: batch.checkpoint,
                last_commit_us,
                started,
            };
            if pend_tx.send(f).await.is_err() {
                break;
            }
        }
        drop(pend_tx);
        sink.flush().await;
        Ok::<(), PipelineError>(())
    };

    let acker_fut = async {
        let hist = telemetry.sink_write_seconds.with_label_values(&[name]);
        while let Some(first) = pend_rx.recv().await {
            let mut latest: Option<Checkpoint> = None;
            let mut lag_from: Option<i64> = None;
            let mut next = Some(first);
            // Coalesce everything already delivered into one offsets write.
            while let Some(f) = next.take() {
                f.pending.wait().await.map_err(PipelineError::Sink)?;
                hist.observe(f.started.elapsed().as_secs_f64());
                if f.checkpoint.is_some() {
                    latest = f.checkpoint;
                }
                if f.last_commit_us.is_some() {
                    lag_from = f.last_commit_us;
                }
                next = pend_rx.try_recv().ok();
            }
            if let Some(us) = lag_from {
                telemetry
                    .lag_ms
                    .with_label_values(&[name])
                    .set((now_us() - us) / 1000);
            }
            if let Some(cp) = latest {
                offsets.save(&cp).map_err(PipelineError::Offsets)?;
                let Checkpoint::Postgres { lsn, .. } = &cp;
                telemetry
                    .acked_position
                    .with_label_values(&[name])
                    .set(lsn.0 as i64);
                telemetry.checkpoints.with_label_values(&[name]).inc();
                ack_tx.send_replace(Some(cp));
            }
        }
        drop(ack_tx);
        Ok::<(), PipelineError>(())
    };

    let (src, snk, ack) = tokio::join!(source_fut, sink_fut, acker_fut);
    // Report the root cause: the stage that failed first is usually the one whose error is
    // not merely "the other side went away".
    snk?;
    ack?;
    src.map_err(PipelineError::Source)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff grows exponentially, is capped at a minute, and is never zero.
    #[test]
    fn backoff_is_capped() {
        let b0 = backoff(0).as_millis();
        assert!((800..=1200).contains(&b0), "{b0}");
        let b3 = backoff(3).as_millis();
        assert!((6400..=9600).contains(&b3), "{b3}");
        assert!(backoff(30).as_millis() <= 72_000);
    }
}
