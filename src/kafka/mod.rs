//! Kafka on the ground floor: client configuration and the schema registry client, used by
//! sources (the changelog source, signals) and sinks alike, so neither reaches into the other.

pub mod client;
pub mod registry;

pub(crate) use client::is_auth_failure;
pub use client::{client_config, client_config_parts};
