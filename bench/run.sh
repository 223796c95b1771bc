#!/usr/bin/env bash
# Run the benchmark harness:
#   bash bench/run.sh [snapshot|streaming|latency|maria-snapshot|maria-streaming|maria-latency|sink-search|sink-redis|pg|maria|sinks|all]
#                     [--rows N] [--changes N] [--seconds S] [--records N]
# Needs root (PostgreSQL runs as `postgres`, MariaDB as `mysql`), PostgreSQL 15, MariaDB 10.11
# and noida-db (pip install noida-db==0.2.3); prints one result table and writes bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import noida_db' 2>/dev/null || python3 -m pip install -q 'noida-db==0.2.3'
cargo build --release --bin sluice --example bench -q
exec ./target/release/examples/bench "$@"
