//! Capture: database source (PostgreSQL, MySQL/MariaDB) → Kafka sink, with the delivery
//! guarantee.
//!
//! ```text
//!  source task ──Batch──► [bounded queue] ──► sink task: encode + produce ──Pending──►
//!      ▲                                                         [bounded queue]
//!      │                                                               ▼
//!      └──────────── acks (watch) ◄── acker: await deliveries → save offsets file
//! ```
//! Order per checkpoint: sink durable → offsets file → source ack (slot). Shutdown drains:
//! the source stops reading, in-flight batches are delivered and acknowledged.

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::{Outcome, PipelineError};
use crate::clock::now_us;
use crate::config::{ConnectorSettings, KafkaSettings};
use crate::offsets::OffsetStore;
use crate::sink::kafka::{KafkaSink, Pending, TxnStep};
use crate::source::{Batch, CaptureSource, Checkpoint, SourceEnd, SourceIo};
use crate::telemetry::Telemetry;

struct InFlight {
    pending: Pending,
    checkpoint: Option<Checkpoint>,
    /// The checkpoint was written in the batch's transaction (Kafka offsets store and a
    /// transactional sink): durable once the transaction commits, not saved again.
    committed_with_batch: bool,
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

/// A task handle that aborts the task when dropped (the attempt that owns it ended).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a batch may wait for the brokers' acknowledgement before `/health` says so.
const DELIVERY_STALL: std::time::Duration = std::time::Duration::from_secs(5);

/// Wait for a batch's deliveries. While the brokers have not acknowledged it for
/// [`DELIVERY_STALL`], the connector reports `retrying` (an outage shows in `/health` within
/// seconds); the records stay queued in the producer and are never skipped.
async fn delivered(
    pending: Pending,
    name: &str,
    telemetry: &Telemetry,
) -> Result<(), PipelineError> {
    let wait = pending.wait();
    tokio::pin!(wait);
    let mut before: Option<crate::telemetry::Health> = None;
    let started = Instant::now();
    let r = loop {
        match tokio::time::timeout(DELIVERY_STALL, &mut wait).await {
            Ok(r) => break r,
            Err(_) => {
                if before.is_none() {
                    before = telemetry.health().remove(name);
                    telemetry.delivery_stalls.with_label_values(&[name]).inc();
                }
                telemetry.set_health(
                    name,
                    crate::telemetry::Health::Retrying {
                        error: format!(
                            "kafka has not acknowledged a batch for {} s (brokers down or unreachable?); its records stay queued and are resent, never skipped",
                            started.elapsed().as_secs()
                        ),
                    },
                );
            }
        }
    };
    if let Some(h) = before {
        if r.is_ok() {
            tracing::info!(connector = %name, waited_s = started.elapsed().as_secs(), "kafka acknowledged again");
            telemetry.set_health(name, h);
        }
    }
    r.map_err(PipelineError::Sink)
}

/// When a transactional sink commits (see [`txn_step`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct TxnBounds {
    /// `sink.transaction_interval_ms`.
    pub(super) interval: std::time::Duration,
    /// Half the Kafka transaction timeout: a source transaction streaming longer than this
    /// is committed in parts rather than aborted by the broker.
    pub(super) max_open: std::time::Duration,
}

/// Whether a batch ends the open Kafka transaction of a transactional sink, and the
/// checkpoint that becomes durable with it (`None` while the transaction stays open).
///
/// A Kafka transaction commits only at a checkpoint, with that checkpoint: never inside a
/// source transaction (a restart would repeat the part already committed), and while more
/// batches are queued it takes them in for up to `interval` (fewer commits). The only
/// exception is a source transaction still open after `max_open`: it is committed in parts
/// (counted and logged), because the broker would abort a longer Kafka transaction.
fn txn_step(
    batch: &mut Batch,
    carried: &mut Option<Checkpoint>,
    open_for: Option<std::time::Duration>,
    queue_empty: bool,
    bounds: TxnBounds,
    name: &str,
    telemetry: &Telemetry,
) -> (bool, Option<Checkpoint>) {
    let age = open_for.unwrap_or_default();
    let newest = batch.checkpoint.take().or_else(|| carried.take());
    let commit = if batch.open_transaction {
        let split = age >= bounds.max_open;
        if split {
            telemetry
                .split_transactions
                .with_label_values(&[name])
                .inc();
            tracing::warn!(
                connector = %name,
                open_s = age.as_secs(),
                "a source transaction has streamed for longer than half the kafka transaction timeout: its records so far are committed now, so a crash before its end would repeat them (at-least-once for this transaction)"
            );
        }
        split
    } else {
        queue_empty || age >= bounds.interval
    };
    if commit {
        (true, newest)
    } else {
        *carried = newest;
        (false, None)
    }
}

/// A connector's transactional producer between attempts.
pub(super) type TxnSlot = std::sync::Mutex<Option<crate::sink::kafka::Txn>>;

/// One attempt: connect, run until shutdown, completion or error.
pub(super) async fn run_once(
    name: &str,
    settings: &ConnectorSettings,
    ks: &KafkaSettings,
    source: CaptureSource,
    offsets: &OffsetStore,
    telemetry: &Telemetry,
    (shutdown, txn_slot): (&watch::Receiver<bool>, &TxnSlot),
) -> Result<Outcome, PipelineError> {
    // The transactional producer outlives attempts (see `Txn`), failed ones included: a
    // fenced one is dropped, so an operator's restart starts a new instance that takes over.
    let reuse = txn_slot.lock().ok().and_then(|s| s.clone());
    let connected =
        KafkaSink::connect(name, ks, settings.source.output(source.kind()), reuse).await;
    let result = match connected {
        Ok(sink) => {
            if let Ok(mut s) = txn_slot.lock() {
                *s = sink.txn();
            }
            let bounds = TxnBounds {
                interval: std::time::Duration::from_millis(ks.transaction_interval_ms),
                max_open: std::time::Duration::from_millis(ks.transaction_timeout_ms() / 2),
            };
            let parts = (settings, bounds);
            run_with(name, parts, sink, source, offsets, telemetry, shutdown).await
        }
        Err(e) => Err(PipelineError::Sink(e)),
    };
    if matches!(
        result,
        Err(PipelineError::Sink(
            crate::sink::kafka::KafkaSinkError::Fenced { .. }
        ))
    ) {
        if let Ok(mut s) = txn_slot.lock() {
            *s = None;
        }
    }
    result
}

async fn run_with(
    name: &str,
    (settings, bounds): (&ConnectorSettings, TxnBounds),
    mut sink: KafkaSink,
    mut source: CaptureSource,
    offsets: &OffsetStore,
    telemetry: &Telemetry,
    shutdown: &watch::Receiver<bool>,
) -> Result<Outcome, PipelineError> {
    let (tx, mut rx) = mpsc::channel::<Batch>(settings.queue_batches);
    let (ack_tx, ack_rx) = watch::channel::<Option<Checkpoint>>(None);
    let (pend_tx, pend_rx) = mpsc::channel::<InFlight>(settings.queue_batches);
    let queue_gauge = telemetry.queue_remaining.with_label_values(&[name]);

    // Source and sink run as their own tasks so they use separate cores and never wait for
    // the acker's offsets fsync; the guards abort them if this attempt ends early.
    let acknowledged = ack_rx.clone();
    let io = SourceIo {
        tx,
        acks: ack_rx,
        shutdown: shutdown.clone(),
    };
    // The stages log inside the caller's span (a cluster worker's id).
    let source_task = AbortOnDrop(tokio::spawn(
        async move { source.run(io).await }.in_current_span(),
    ));

    let (name_owned, telemetry_owned) = (name.to_string(), telemetry.clone());
    let txn_offsets = offsets.clone();
    let heartbeat_ms = settings.heartbeat_interval_ms;
    let sink_task = AbortOnDrop(tokio::spawn(async move {
        let (name, telemetry) = (name_owned.as_str(), &telemetry_owned);
        let commit_to_sink = telemetry.commit_to_sink_seconds.with_label_values(&[name]);
        let every = std::time::Duration::from_millis(heartbeat_ms.max(1));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        // The newest checkpoint of a batch in the open Kafka transaction, not yet committed.
        let mut carried: Option<Checkpoint> = None;
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut batch = tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => b,
                    None => break,
                },
                _ = heartbeat.tick(), if heartbeat_ms > 0 => {
                    // Debezium's heartbeat, with the position acknowledged so far.
                    let Some(cp) = acknowledged.borrow().clone() else { continue };
                    let started = Instant::now();
                    // A heartbeat joins an open Kafka transaction (never ends one early).
                    let step = match sink.open_for() {
                        Some(_) => TxnStep::Keep,
                        None => TxnStep::Commit(None),
                    };
                    let pending = sink
                        .enqueue(&[], &[(0, crate::event::Marker::Heartbeat(cp))], step)
                        .await
                        .map_err(PipelineError::Sink)?;
                    let f = InFlight { pending, checkpoint: None, committed_with_batch: false, last_commit_us: None, started };
                    if pend_tx.send(f).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            queue_gauge.set(rx.capacity() as i64);
            if !batch.tables.is_empty() {
                sink.prepare(&batch.tables)
                    .await
                    .map_err(PipelineError::Sink)?;
            }
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
            // Snapshot reads carry the snapshot time, not a commit: no latency to report.
            let last_commit_us = batch
                .events
                .last()
                .filter(|e| e.snapshot.is_none())
                .map(|e| e.commit_ts_us);
            if let Some(us) = last_commit_us {
                commit_to_sink.observe((now_us() - us).max(0) as f64 / 1e6);
            }
            let started = Instant::now();
            let (step, checkpoint, committed_with_batch) = if sink.transactional() {
                let (commit, checkpoint) = txn_step(
                    &mut batch,
                    &mut carried,
                    sink.open_for(),
                    rx.is_empty(),
                    bounds,
                    name,
                    telemetry,
                );
                // Exactly-once: the checkpoint commits in the transaction with the records.
                let record = checkpoint
                    .as_ref()
                    .filter(|_| commit)
                    .and_then(|cp| txn_offsets.record(cp));
                let with_batch = record.is_some();
                let step = if commit {
                    TxnStep::Commit(record)
                } else {
                    TxnStep::Keep
                };
                (step, checkpoint, with_batch)
            } else {
                (TxnStep::Commit(None), batch.checkpoint.take(), false)
            };
            let pending = sink
                .enqueue(&batch.events, &batch.marks, step)
                .await
                .map_err(PipelineError::Sink)?;
            let f = InFlight {
                pending,
                checkpoint,
                committed_with_batch,
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
    }
    .in_current_span()));

    let acker_fut = async {
        // Owned here so a failing acker closes the channel and the sink task ends too.
        let mut pend_rx = pend_rx;
        let hist = telemetry.sink_write_seconds.with_label_values(&[name]);
        let commit_to_ack = telemetry.commit_to_ack_seconds.with_label_values(&[name]);
        let mut streaming = false;
        while let Some(first) = pend_rx.recv().await {
            let mut latest: Option<Checkpoint> = None;
            let mut latest_committed = false;
            let mut lag_from: Option<i64> = None;
            let mut next = Some(first);
            // Coalesce everything already delivered into one offsets write.
            while let Some(f) = next.take() {
                let commits = f.pending.commits();
                delivered(f.pending, name, telemetry).await?;
                if commits {
                    telemetry
                        .kafka_transactions
                        .with_label_values(&[name])
                        .inc();
                }
                hist.observe(f.started.elapsed().as_secs_f64());
                if let Some(us) = f.last_commit_us {
                    commit_to_ack.observe((now_us() - us).max(0) as f64 / 1e6);
                }
                if f.checkpoint.is_some() {
                    latest = f.checkpoint;
                    latest_committed = f.committed_with_batch;
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
                if !latest_committed {
                    // The fsync runs on the blocking pool, never on a runtime worker.
                    let (store, saved) = (offsets.clone(), cp.clone());
                    tokio::task::spawn_blocking(move || store.save(&saved))
                        .await
                        .map_err(|_| PipelineError::Stalled)?
                        .map_err(PipelineError::Offsets)?;
                }
                let acked = match &cp {
                    Checkpoint::Postgres { lsn, .. } => lsn.0 as i64,
                    Checkpoint::Mysql { pos, .. } => *pos as i64,
                };
                telemetry
                    .acked_position
                    .with_label_values(&[name])
                    .set(acked);
                telemetry.checkpoints.with_label_values(&[name]).inc();
                let done = match &cp {
                    Checkpoint::Postgres { snapshot_done, .. }
                    | Checkpoint::Mysql { snapshot_done, .. } => *snapshot_done,
                };
                telemetry.set_acknowledged(name, &cp);
                if done && !streaming {
                    // `streaming` only once a position was acknowledged since the start.
                    streaming = true;
                    telemetry.set_health(name, crate::telemetry::Health::Streaming);
                }
                ack_tx.send_replace(Some(cp));
            }
        }
        drop(ack_tx);
        Ok::<(), PipelineError>(())
    };

    let ack = acker_fut.await;
    let snk = sink_task.join().await;
    let src = source_task.join().await;
    // Report the root cause: the stage that failed first is usually the one whose error is
    // not merely "the other side went away".
    snk.map_err(|e| joined("sink", e))??;
    ack?;
    match src
        .map_err(|e| joined("source", e))?
        .map_err(PipelineError::Source)?
    {
        SourceEnd::Finished => Ok(Outcome::Finished),
        SourceEnd::Stopped => Ok(Outcome::Stopped),
    }
}

/// A stage's task ended without a result: a panic names itself, anything else (cancelled)
/// is a stall.
fn joined(stage: &'static str, e: tokio::task::JoinError) -> PipelineError {
    match e.try_into_panic() {
        Ok(p) => PipelineError::Panicked {
            stage,
            message: p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into()),
        },
        Err(_) => PipelineError::Stalled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage that panics is a definite `Panicked` error carrying the panic's message; a
    /// cancelled one is a (retried) stall.
    #[tokio::test]
    async fn a_panicked_stage_names_itself() {
        let panicked = tokio::spawn(async { panic!("decoder exploded") })
            .await
            .expect_err("panics");
        match joined("source", panicked) {
            e @ PipelineError::Panicked {
                stage: "source", ..
            } => {
                assert!(e.to_string().contains("decoder exploded"), "{e}");
                assert!(!super::super::retry::transient(&e));
            }
            other => panic!("{other:?}"),
        }
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        let cancelled = task.await.expect_err("cancelled");
        assert!(matches!(joined("sink", cancelled), PipelineError::Stalled));
    }
}
