#!/usr/bin/env bash
# Re-record the Debezium 3.6.3 fixtures of the cases named (default: every case folder).
# Needs the Debezium oracle from the developers' shared folder (not needed by the tests):
#   ORACLE=../shared/debezium-oracle/record bash schemas/golden/cases/record.sh pg_keys
# Each case folder holds setup.sql, dml.sql, tables (Debezium's table.include.list) and
# props (extra Debezium properties, one NAME=VALUE a line); the engine is the name's prefix
# (pg_, maria_, or mysql8_ for MySQL 8.0 through mysql8-shim/). The output is <case>/debezium.schemas-{false,true}.jsonl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
oracle="${ORACLE:-$here/../../../../shared/debezium-oracle/record}"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=($(cd "$here" && ls -d */ | tr -d /))
for c in "${cases[@]}"; do
  d="$here/$c"
  path="$PATH"
  case "$c" in
    pg_*) engine=postgres ;;
    maria_*) engine=mariadb ;;
    # The real MySQL 8.0.31 of tests/services/databases.sh, through the shims in mysql8-shim/.
    mysql8_*) engine=mariadb; path="$here/mysql8-shim:$PATH" ;;
    *) echo "skip $c"; continue ;;
  esac
  props=()
  while IFS= read -r p; do [ -n "$p" ] && props+=(--prop "$p"); done < "$d/props"
  PATH="$path" "$oracle" --engine "$engine" --setup "$d/setup.sql" --dml "$d/dml.sql" \
    --tables "$(cat "$d/tables")" --out "$d/debezium" "${props[@]}"
  mv "$d/debezium.log" "${TMPDIR:-/tmp}/sluice-case-$c.log"; rm -f "$d"/debezium.*.norm.jsonl
done
