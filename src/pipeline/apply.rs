//! Apply: Kafka change topics → a document target, in a consumer group.
//!
//! ```text
//! ChangelogSource.poll ─► DocTarget.apply (in order) ─► rejected/poison ─► dead-letter topic
//!        ▲                                                                     │ (durable)
//!        └──────────── commit offsets ◄──────────────────────────────────────────┘
//! ```
//! The next batch is polled and decoded (a task, one batch ahead) while the target applies
//! the current one. Offsets are committed only after the target (and the dead-letter topic) acknowledged the
//! batch: a crash replays, never skips. Without a dead-letter topic a rejected record halts
//! the connector (nothing is dropped silently).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

use super::{Outcome, PipelineError};
use crate::config::{ChangelogSettings, ConnectorSettings, DecimalFormat, SinkSettings};
use crate::sink::document::DocTarget;
use crate::sink::kafka::KafkaSinkError;
use crate::sink::target::TargetError;
use crate::source::changelog::debezium::DecodeOptions;
use crate::source::changelog::{ChangelogError, ChangelogSource, PoisonRecord};
use crate::telemetry::{Health, Telemetry};

fn decode_options(src: &ChangelogSettings, sink: &SinkSettings) -> DecodeOptions {
    let placeholder = src.unavailable_value_placeholder.clone();
    match sink {
        SinkSettings::Search(s) => DecodeOptions {
            decimal_format: s.decimal_format,
            include: s.include_fields.clone(),
            exclude: s.exclude_fields.clone(),
            placeholder,
        },
        _ => DecodeOptions {
            decimal_format: DecimalFormat::String,
            placeholder,
            ..DecodeOptions::default()
        },
    }
}

async fn dead_letter(
    producer: &FutureProducer,
    topic: &str,
    records: &[PoisonRecord],
) -> Result<(), KafkaSinkError> {
    let mut futures = Vec::with_capacity(records.len());
    for r in records {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "sluice.error",
                value: Some(r.reason.as_str()),
            })
            .insert(Header {
                key: "sluice.error.detail",
                value: r.detail.as_deref(),
            })
            .insert(Header {
                key: "sluice.topic",
                value: Some(&*r.origin.topic),
            })
            .insert(Header {
                key: "sluice.partition",
                value: Some(r.origin.partition.to_string().as_str()),
            })
            .insert(Header {
                key: "sluice.offset",
                value: Some(r.origin.offset.to_string().as_str()),
            });
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v.as_slice());
        }
        futures.push(producer.send(rec, Duration::from_secs(30)));
    }
    for f in futures {
        f.await.map_err(|(source, _)| KafkaSinkError::Delivery {
            topic: topic.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// One attempt: consume, apply, commit until shutdown or error.
pub(super) async fn run_once(
    name: &str,
    settings: &ConnectorSettings,
    src: &ChangelogSettings,
    sink: &SinkSettings,
    telemetry: &Telemetry,
    shutdown: &watch::Receiver<bool>,
) -> Result<Outcome, PipelineError> {
    let mut target = DocTarget::connect(sink)
        .await
        .map_err(PipelineError::Target)?;
    let source = Arc::new(
        ChangelogSource::connect(
            name,
            src,
            decode_options(src, sink),
            settings.max_batch_events,
            // Two batches are held (one applied, one decoded ahead): each gets half the bound.
            (settings.max_batch_bytes / 2).max(1),
        )
        .map_err(PipelineError::Changelog)?,
    );
    let dlq: Option<FutureProducer> = match &src.dead_letter_topic {
        Some(_) => {
            let mut c = crate::kafka::client_config_parts(
                &src.bootstrap_servers,
                src.tls.as_ref(),
                src.sasl.as_ref(),
                &std::collections::BTreeMap::new(),
            );
            c.set("enable.idempotence", "true").set("acks", "all");
            Some(
                c.create()
                    .map_err(|e| PipelineError::Changelog(ChangelogError::Config(e)))?,
            )
        }
        None => None,
    };
    // `streaming` once the group has assigned partitions (the brokers answer), not before:
    // with the brokers down the connector stays `starting`, then `retrying`.
    let joined = source.joined();
    let (health, conn_name) = (telemetry.clone(), name.to_string());
    let _mark_streaming = AbortOnDrop(tokio::spawn(async move {
        joined.await;
        health.set_health(&conn_name, Health::Streaming);
    }));
    let applied = telemetry.sink_applied.with_label_values(&[name]);
    let dead = telemetry.dead_letters.with_label_values(&[name]);
    let hist = telemetry.sink_write_seconds.with_label_values(&[name]);
    // The next batch is fetched and decoded while the target applies this one: one batch
    // ahead, no more (the poller starts a batch only once the previous one was taken, so at
    // most two batches are held).
    let (tx, mut batches) = mpsc::channel(1);
    let _poller = {
        let (source, mut shutdown) = (Arc::clone(&source), shutdown.clone());
        // Inside the caller's span (a cluster worker's id), as the capture stages are.
        AbortOnDrop(tokio::spawn(
            async move {
                // A slot is free only once the loop took the previous batch.
                while let Ok(slot) = tx.reserve().await {
                    let polled = source.poll(&mut shutdown).await;
                    let last = !matches!(polled, Ok(Some(_)));
                    slot.send(polled);
                    if last {
                        return;
                    }
                }
            }
            .in_current_span(),
        ))
    };
    loop {
        let polled = match batches.recv().await {
            Some(Ok(Some(polled))) if !*shutdown.borrow() => polled,
            Some(Err(e)) => return Err(PipelineError::Changelog(e)),
            // Shutdown: a batch fetched ahead is not applied (its offsets are not committed).
            _ => {
                source.flush_commits();
                return Ok(Outcome::Stopped);
            }
        };
        for (why, n) in &polled.ignored {
            telemetry
                .sink_ignored
                .with_label_values(&[name, why])
                .inc_by(*n);
        }
        let started = tokio::time::Instant::now();
        let outcome = target
            .apply(&polled.changes)
            .await
            .map_err(PipelineError::Target)?;
        hist.observe(started.elapsed().as_secs_f64());
        for &i in &outcome.unfilled {
            if let Some(c) = polled.changes.get(i) {
                // The table and the field names only: never the key or a value.
                tracing::warn!(connector = %name, table = %format!("{}.{}", c.namespace, c.table), fields = ?c.unavailable, "an update left large values out (unchanged TOAST) and the target held none to keep: written without them; REPLICA IDENTITY FULL on the source table avoids it");
                telemetry
                    .sink_unavailable_fields
                    .with_label_values(&[name])
                    .inc_by(c.unavailable.len() as u64);
            }
        }
        let rejected = outcome.rejected;
        let mut poison = polled.poison;
        for r in &rejected {
            let (key, value) = polled.raw.get(r.index).map_or((None, None), |m| {
                use rdkafka::Message as _;
                (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec))
            });
            if let Some(c) = polled.changes.get(r.index) {
                poison.push(PoisonRecord {
                    origin: c.origin.clone(),
                    key,
                    value,
                    reason: r.reason.clone(),
                    detail: r.detail.clone(),
                });
            }
        }
        if !poison.is_empty() {
            match (&dlq, &src.dead_letter_topic) {
                (Some(p), Some(topic)) => {
                    dead_letter(p, topic, &poison)
                        .await
                        .map_err(PipelineError::Sink)?;
                    for r in &poison {
                        tracing::warn!(connector = %name, topic = %r.origin.topic, partition = r.origin.partition, offset = r.origin.offset, reason = %r.reason, "record sent to the dead-letter topic");
                    }
                    dead.inc_by(poison.len() as u64);
                }
                _ => {
                    let r = &poison[0];
                    return Err(PipelineError::Target(TargetError::Refused {
                        record: format!(
                            "{}:{}@{}",
                            r.origin.topic, r.origin.partition, r.origin.offset
                        ),
                        reason: r.reason.clone(),
                    }));
                }
            }
        }
        applied.inc_by((polled.changes.len() - rejected.len()) as u64);
        source.commit(&polled.offsets);
    }
}

/// A task that is aborted when its handle goes (the attempt that owns it ended).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
