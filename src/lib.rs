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

/// Config names of a mode enum, parsed with an error that lists what is accepted.
macro_rules! mode_names {
    ($ty:ident { $($name:literal => $variant:ident),+ $(,)? }) => {
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                match s.as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(format!(
                        "`{s}` is not one of {}",
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

pub mod api;
mod clock;
pub mod cluster;
pub mod config;
pub mod envelope;
pub mod event;
pub mod kafka;
pub mod offsets;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod telemetry;
#[cfg(test)]
mod testing;

/// sluice's version, written into `source.version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-sluice");
