//! Integration tests against real servers the harness starts: PostgreSQL 15, librdkafka's
//! mock cluster and noida-db (Kafka protocol), read back with kcat.

mod support;

mod cases;
mod crash;
mod errors;
mod golden;
mod modes;
mod mysql;
mod shapes;
mod sinks;
