//! Deliveries in flight and the connector's Kafka transaction.
//!
//! A batch's records share one [`Acks`]: librdkafka's delivery report (on the producer's
//! poll thread) counts each record down and keeps the first failure; the batch is durable
//! when the count reaches zero with no failure. No future or channel per record. Invariant:
//! every record handed to librdkafka gets exactly one delivery report (success, failure,
//! or `message.timeout.ms`), so a batch's wait always ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};

use super::error::KafkaSinkError;
use crate::envelope::Record;

/// The sink's producer: librdkafka's, with delivery reports counted per batch.
pub(crate) type Producer = Arc<ThreadedProducer<Deliveries>>;

/// The producer's context: routes each delivery report to its batch's [`Acks`].
#[derive(Default)]
pub struct Deliveries;

impl rdkafka::ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Arc<Acks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<Acks>) {
        if let Err((e, msg)) = result {
            use rdkafka::message::Message as _;
            if let Ok(mut f) = acks.failure.lock() {
                if f.is_none() {
                    *f = Some(Failure {
                        topic: msg.topic().to_string(),
                        partition: msg.partition(),
                        error: e.clone(),
                    });
                }
            }
        }
        if acks.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            acks.done.notify_one();
        }
    }
}

/// One batch's outstanding deliveries.
#[derive(Debug)]
pub struct Acks {
    remaining: AtomicUsize,
    failure: Mutex<Option<Failure>>,
    done: tokio::sync::Notify,
}

#[derive(Debug)]
struct Failure {
    topic: String,
    partition: i32,
    error: KafkaError,
}

impl Acks {
    /// A batch of `records` records (each one must be handed to the producer, or
    /// [`Acks::unsent`] called for it); more are announced with [`Acks::expect_one`].
    pub(crate) fn new(records: usize) -> Arc<Self> {
        Arc::new(Self {
            remaining: AtomicUsize::new(records),
            failure: Mutex::new(None),
            done: tokio::sync::Notify::new(),
        })
    }

    /// One more record is about to be handed to the producer.
    pub(crate) fn expect_one(&self) {
        self.remaining.fetch_add(1, Ordering::AcqRel);
    }

    /// A record that was not handed to the producer after all.
    pub(crate) fn unsent(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    async fn settled(&self) {
        while self.remaining.load(Ordering::Acquire) != 0 {
            self.done.notified().await;
        }
    }
}

/// How long one transaction step (init, commit, abort) may take: as long as a record may
/// wait for its acknowledgement (`message.timeout.ms`).
pub(crate) const TXN_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) fn txn_error(step: &'static str, id: &str, source: KafkaError) -> KafkaSinkError {
    match &source {
        KafkaError::Transaction(t) if is_fenced(t.code()) => {
            KafkaSinkError::Fenced { id: id.into() }
        }
        _ => KafkaSinkError::Transaction {
            step,
            id: id.into(),
            source,
        },
    }
}

/// Where a batch leaves a transactional sink's Kafka transaction (a sink without
/// transactions ignores it).
#[derive(Debug)]
pub enum TxnStep {
    /// The transaction stays open for the next batch: the batch ends inside a source
    /// transaction, or more batches are about to join it.
    Keep,
    /// The batch ends the transaction: it commits once every record is acknowledged. The
    /// record given (the connector's checkpoint for the offsets topic) is written last in it,
    /// so records and checkpoint commit together.
    Commit(Option<Record>),
}

/// Deliveries of one batch in flight.
pub struct Pending {
    pub(super) acks: Arc<Acks>,
    pub(super) records: usize,
    /// To ask librdkafka for a fatal error behind a failed delivery.
    pub(super) producer: Producer,
    /// With `transactions: true`: the batch's open transaction, committed once every record
    /// is acknowledged; the permit keeps the next batch from beginning before that.
    pub(super) commit: Option<(Txn, tokio::sync::OwnedSemaphorePermit)>,
}

/// A connector's transactional producer. It lives as long as the process runs the
/// connector: attempts after a transient error reuse it (its epoch is this instance's
/// identity), so an instance that a newer one fenced finds out at its next write instead of
/// fencing the newer one back.
#[derive(Clone)]
pub struct Txn {
    pub(super) producer: Producer,
    pub(super) id: String,
    /// A transaction has begun and is neither committed nor aborted.
    pub(super) open: Arc<std::sync::atomic::AtomicBool>,
    /// One transaction at a time.
    pub(super) gate: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").field("id", &self.id).finish()
    }
}

impl Txn {
    pub(super) fn failure(&self, step: &'static str, e: KafkaError) -> KafkaSinkError {
        match self.producer.client().fatal_error() {
            Some((code, _)) if is_fenced(code) => KafkaSinkError::Fenced {
                id: self.id.clone(),
            },
            _ => txn_error(step, &self.id, e),
        }
    }

    /// Whether another instance fenced this producer.
    pub(super) fn fenced(&self) -> bool {
        self.producer
            .client()
            .fatal_error()
            .is_some_and(|(code, _)| is_fenced(code))
    }

    pub(super) async fn blocking(
        &self,
        step: &'static str,
        f: fn(&ThreadedProducer<Deliveries>) -> rdkafka::error::KafkaResult<()>,
    ) -> Result<(), KafkaSinkError> {
        let p = self.producer.clone();
        tokio::task::spawn_blocking(move || f(&p))
            .await
            .map_err(|_| KafkaSinkError::Canceled)?
            .map_err(|e| self.failure(step, e))
    }

    pub(super) async fn abort(&self) -> Result<(), KafkaSinkError> {
        self.blocking("abort", |p| p.abort_transaction(TXN_TIMEOUT))
            .await?;
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Commit the open transaction (librdkafka first waits for all its records). Retriable
    /// failures are retried; one that requires an abort aborts (the batch is then resent
    /// from the last checkpoint); a fatal one is final.
    async fn commit(&self) -> Result<(), KafkaSinkError> {
        let mut attempt = 0;
        loop {
            let p = self.producer.clone();
            let r = tokio::task::spawn_blocking(move || p.commit_transaction(TXN_TIMEOUT))
                .await
                .map_err(|_| KafkaSinkError::Canceled)?;
            let e = match r {
                Ok(()) => {
                    self.open.store(false, std::sync::atomic::Ordering::SeqCst);
                    return Ok(());
                }
                Err(e) => e,
            };
            let (retriable, abort) = match &e {
                KafkaError::Transaction(t) => (t.is_retriable(), t.txn_requires_abort()),
                _ => (false, false),
            };
            if retriable && attempt < 5 {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                continue;
            }
            if abort {
                let _ = self.abort().await;
            }
            return Err(self.failure("commit", e));
        }
    }
}

/// Whether librdkafka's fatal error means another instance fenced this producer.
fn is_fenced(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("records", &self.records)
            .finish()
    }
}

impl Pending {
    /// Whether the batch ends a Kafka transaction ([`Pending::wait`] commits it).
    pub fn commits(&self) -> bool {
        self.commit.is_some()
    }

    /// Wait until every record of the batch is acknowledged by the brokers.
    pub async fn wait(self) -> Result<(), KafkaSinkError> {
        self.acks.settled().await;
        let failure = self.acks.failure.lock().ok().and_then(|mut f| f.take());
        if let Some(Failure {
            topic,
            partition,
            error,
        }) = failure
        {
            if let Some((code, reason)) = self.producer.client().fatal_error() {
                if let Some((txn, _)) = self.commit.filter(|_| is_fenced(code)) {
                    return Err(KafkaSinkError::Fenced { id: txn.id });
                }
                return Err(KafkaSinkError::ProducerFatal {
                    topic,
                    partition,
                    code: format!("{code:?} ({})", code as i32),
                    reason,
                });
            }
            return Err(KafkaSinkError::Delivery {
                topic,
                source: error,
            });
        }
        if let Some((txn, _permit)) = &self.commit {
            txn.commit().await?;
        }
        Ok(())
    }
}
