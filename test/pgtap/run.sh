#!/usr/bin/env bash
# run.sh: run the pgTAP tests (test/pgtap/*.sql) with pg_prove against a
# temporary instance of PG_BIN's server (default: Debian's packaged 15)
# that preloads pool_monitor.  Run as the postgres user from the top of a
# tree that user owns.
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d /tmp/pool_monitor-pgtap.XXXXXX)
port=${PGTAP_PORT:-55437}

cleanup() {
    "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

"$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pool_monitor'
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
CONF
"$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION pool_monitor'
pg_prove --ext .sql test/pgtap/
