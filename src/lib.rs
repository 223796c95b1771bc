//! sluice: change-data-capture from PostgreSQL into compacted Kafka topics, in Debezium's
//! JSON format.
//!
//! # Flow
//! ```text
//!  PostgreSQL ──snapshot (COPY on the slot's exported snapshot)──┐
//!      │                                                         ▼
//!      └──WAL (pgoutput via logical slot)──► source::postgres ──► Batch{events, checkpoint}
//!                                                                 │ bounded channel
//!                                                                 ▼
//!                                   pipeline ──► sink::kafka (envelope → records, idempotent
//!                                      │          producer, acks=all)
//!                                      └─ after the sink says durable: offsets file, then
//!                                         slot confirmed_flush_lsn (Source::ack)
//! ```
//!
//! # Delivery guarantees
//! - At-least-once: a source position is acknowledged (offsets file, then the slot) only after
//!   every event before it is durable in Kafka. A crash replays from the last acknowledged
//!   transaction; duplicates are possible, loss is not.
//! - Per-key order: one producer per connector, idempotent, keyed by primary key; a key always
//!   maps to the same partition (murmur2, as Java clients do).
//! - Deletes are followed by a tombstone so compaction can drop the key.

pub mod config;
pub mod envelope;
pub mod event;
pub mod offsets;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod telemetry;

/// sluice's version, written into `source.version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-sluice");
