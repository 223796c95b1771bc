//! Sinks: where change events are made durable.
//!
//! Contract of every sink:
//! - `enqueue` takes events in source order and never reorders events of one key;
//! - the returned [`kafka::Pending`] resolves only when every enqueued event is durable;
//! - sinks tolerate duplicates (a restart replays from the last acknowledged checkpoint);
//! - an empty batch is valid and resolves at once.

pub mod cache;
pub mod document;
pub mod kafka;
pub mod search;
pub mod target;
