#!/usr/bin/env bash
# Fetch (into ~/.m2) and lay out the Java servers the tests start: the real Apache Kafka broker
# and embedded real OpenSearch and Elasticsearch nodes. Idempotent; `.ci/run` and the test harness both call it.
set -euo pipefail
cd "$(dirname "$0")"
for svc in kafka opensearch elasticsearch; do
  if [ ! -f "$svc/target/.built" ] || [ "$svc/pom.xml" -nt "$svc/target/.built" ] \
     || { [ -d "$svc/src" ] && [ -n "$(find "$svc/src" -newer "$svc/target/.built" -type f)" ]; }; then
    rm -rf "$svc/target"
    goals="dependency:copy-dependencies"
    [ -d "$svc/src" ] && goals="compile $goals"
    mvn -B -q -f "$svc/pom.xml" $goals
    touch "$svc/target/.built"
  fi
done

# Elasticsearch refuses to run as root, so the tests start it as `nobody`: its classpath is laid
# out where any user can read it.
es_dir="${SLUICE_SERVICES:-/var/tmp/sluice-services}/elasticsearch"
if [ ! -f "$es_dir/.built" ] || [ elasticsearch/target/.built -nt "$es_dir/.built" ]; then
  rm -rf "$es_dir"
  mkdir -p "$es_dir"
  cp -r elasticsearch/target/classes elasticsearch/target/deps "$es_dir/"
  chmod -R a+rX "$(dirname "$es_dir")"
  touch "$es_dir/.built"
fi
