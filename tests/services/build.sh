#!/usr/bin/env bash
# Fetch (into ~/.m2) and lay out the Java servers the tests start: the real Apache Kafka broker
# and an embedded real OpenSearch. Idempotent; `.ci/run` and the test harness both call it.
set -euo pipefail
cd "$(dirname "$0")"
for svc in kafka opensearch; do
  if [ ! -f "$svc/target/.built" ] || [ "$svc/pom.xml" -nt "$svc/target/.built" ] \
     || { [ -d "$svc/src" ] && [ -n "$(find "$svc/src" -newer "$svc/target/.built" -type f)" ]; }; then
    rm -rf "$svc/target"
    goals="dependency:copy-dependencies"
    [ -d "$svc/src" ] && goals="compile $goals"
    mvn -B -q -f "$svc/pom.xml" $goals
    touch "$svc/target/.built"
  fi
done
