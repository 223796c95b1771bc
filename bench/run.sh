#!/usr/bin/env bash
# Run the benchmark harness:
#   bash bench/run.sh [big-transaction|snapshot|chunked-snapshot|incremental-latency|streaming|latency|latency-floor|maria-snapshot|maria-streaming|maria-latency|sink-search|sink-redis|vs-debezium|failover|failover-connect|pg|maria|sinks|all]
#                     [--rows N] [--changes N] [--seconds S] [--records N] [--kills N] [--delay-ms MS] [--broker kafka|noida]
#                     [--pg-version 15|16|17|18]  (16-18: tests/services/databases.sh lays them out)
# Environment: SLUICE_BENCH_AVRO=1 (Avro keys and values through the in-repo test registry),
# SLUICE_BENCH_TRANSACTIONS=1 (sink.transactions), SLUICE_BENCH_PRODUCER_PROPS, SLUICE_BENCH_WRAP,
# SLUICE_BENCH_DEBEZIUM_TUNED=1 (vs-debezium: Debezium's poll.interval.ms=10 and larger batches),
# SLUICE_BENCH_SCHEMAS=0 (JSON without inline schemas), SLUICE_BENCH_PROFILE=1 (perf record, then
# the CPU split by stage: read, parse, decode, convert, encode, produce), SLUICE_BENCH_BIN (the
# sluice binary to measure, e.g. an older build).
# Needs root (PostgreSQL runs as `postgres`, MariaDB as `mysql`), PostgreSQL 15, MariaDB 10.11,
# Java 17 and Maven (the real Kafka and OpenSearch, tests/services/build.sh)
# and noida-db (pip install noida-db==0.2.3); prints one result table and writes bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import noida_db' 2>/dev/null || python3 -m pip install -q 'noida-db==0.2.3'
bash tests/services/build.sh
bash tests/services/databases.sh
if [ "${1:-}" = vs-debezium ] || [ "${1:-}" = failover-connect ]; then
  [ -f bench/debezium/target/.built ] || { mvn -B -q -f bench/debezium/pom.xml dependency:copy-dependencies && touch bench/debezium/target/.built; }
fi
cargo build --release --bin sluice --example bench -q
exec ./target/release/examples/bench "$@"
