//! Integration tests against real servers the harness starts: PostgreSQL 15, MariaDB 10.11,
//! a real Apache Kafka (KRaft; one node, or three for the cluster tests), a real OpenSearch,
//! Redis and memcached; librdkafka's mock cluster for fast in-process tests; read back with
//! kcat, a client sluice did not write.

mod support;

mod api;
mod avro;
mod cases;
mod cluster;
mod crash;
mod errors;
mod failover;
mod golden;
mod hostile;
mod incremental;
mod modes;
mod mysql;
mod mysql_incremental;
mod offsets;
mod readme;
mod shapes;
mod sinks;
mod snapshot_readers;
mod streamed;
mod toast;
mod versions;
mod workers;
