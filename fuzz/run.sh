#!/usr/bin/env bash
# Fuzz each decoder of outside bytes for a while (default 60 s per target), seeded from the
# committed corpora and regression inputs; new corpus entries go to a scratch directory, so
# the committed seeds stay small. Needs cargo-fuzz (cargo install cargo-fuzz); the stable
# toolchain works with RUSTC_BOOTSTRAP=1. Usage: fuzz/run.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pgoutput binlog_file sink_record)
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  seeds=(corpus/"$t")
  [ -d regressions/"$t" ] && seeds+=(regressions/"$t")
  echo "== $t: ${secs}s"
  # -rss_limit_mb: an input that makes a decoder allocate beyond 2 GiB is a finding.
  cargo fuzz run -O "$t" "$scratch/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=262144 \
    -print_final_stats=1
done
