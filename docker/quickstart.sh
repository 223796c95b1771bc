#!/usr/bin/env bash
# sluice quickstart, no Docker needed: installs what is missing (Debian 12), starts a throwaway
# PostgreSQL 15 and a Kafka-protocol broker (noida-db) on free ports, runs sluice on
# connectors/quickstart.yaml, makes a few changes and prints the change events with kcat.
# Everything lives under a temp dir and is stopped on exit. Run as root (PostgreSQL runs as
# the `postgres` user).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need=()
command -v kcat >/dev/null || need+=(kcat)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import noida_db' 2>/dev/null || python3 -m pip install -q 'noida-db==0.2.3'
echo "== building sluice"
cargo build --release --bin sluice -q

WORK=$(mktemp -d /tmp/sluice-quickstart-XXXX)
chown postgres:postgres "$WORK"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export PGPORT=$(free_port) KAFKA_PORT=$(free_port) SLUICE_HTTP_PORT=$(free_port)
export KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT SLUICE_OFFSETS_DIR=$WORK/offsets
PGBIN=/usr/lib/postgresql/15/bin
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  su postgres -s /bin/bash -c "$PGBIN/pg_ctl -D $WORK/pg -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting PostgreSQL on $PGPORT (wal_level=logical)"
su postgres -s /bin/bash -c "$PGBIN/initdb -D $WORK/pg -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
cat >> "$WORK/pg/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/pg'
wal_level = logical
CONF
echo "host replication all 127.0.0.1/32 trust" >> "$WORK/pg/pg_hba.conf"
su postgres -s /bin/bash -c "$PGBIN/pg_ctl -D $WORK/pg -l $WORK/pg/server.log -w start >/dev/null"
psql() { command psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql -c "CREATE DATABASE shop"
psql -d shop -c "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
                 INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Linus', NULL);"

echo "== starting a Kafka-protocol broker (noida-db) on $KAFKA_PORT"
NOIDA=$(python3 -c 'import noida_db,os;print(os.path.dirname(noida_db.__file__))')/noida-db
"$NOIDA" start --data-dir "$WORK/kafka" --host 127.0.0.1 --only kafka --kafka-port "$KAFKA_PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$KAFKA_PORT) 2>/dev/null && break; sleep 0.1; done

echo "== running sluice on connectors/quickstart.yaml"
"$ROOT/target/release/sluice" run --config "$ROOT/connectors/quickstart.yaml" 2> "$WORK/sluice.log" &
pids+=($!)
TOPIC=shop.public.customers
count() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -Z -f 'x\n' 2>/dev/null | wc -l; }
for _ in $(seq 300); do [ "$(count)" -ge 2 ] && break; sleep 0.1; done

echo "== making changes"
psql -d shop -c "INSERT INTO customers VALUES (3, 'Grace', 'grace@example.com');
                 UPDATE customers SET email = 'linus@example.com' WHERE id = 2;
                 DELETE FROM customers WHERE id = 1;"
for _ in $(seq 300); do [ "$(count)" -ge 6 ] && break; sleep 0.1; done

echo "== the topic $TOPIC as a Kafka client (kcat) sees it: key => value (NULL = tombstone)"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -Z -f '%k => %s\n'
echo "== metrics sample"
curl -s "http://127.0.0.1:$SLUICE_HTTP_PORT/metrics" 2>/dev/null | grep '^sluice_events_total' || true
