#!/usr/bin/env bash
# quickstart.sh: try pool_monitor on this machine in one command.
#
# Run as root on Debian 12.  Installs what is missing, builds and installs
# pool_monitor into PostgreSQL 15, starts (or restarts) a local cluster on
# port 5433 with pool_monitor preloaded, creates the extension, holds a few
# sessions open, and shows what pool_monitor sees.  The cluster keeps
# running afterwards:  psql -h /var/run/postgresql -p 5433 -U postgres
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/common.sh

pm_install_packages
pm_build_and_install

data=${PM_DEMO_DATA:-/var/lib/postgresql/pool_monitor-demo}
port=${PM_DEMO_PORT:-5433}
as_postgres() { runuser -u postgres -- "$@"; }

if [ ! -f "$data/PG_VERSION" ]; then
    install -d -o postgres -g postgres "$data"
    as_postgres "$PG_BIN/initdb" -D "$data" -A peer -U postgres >/dev/null
    cat >> "$data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '/var/run/postgresql'
shared_preload_libraries = 'pool_monitor'
pool_monitor.sample_interval = '1s'
CONF
fi
install -d -o postgres -g postgres /var/run/postgresql
as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w restart >/dev/null 2>&1 \
    || as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w start >/dev/null

psql_demo() { as_postgres psql -X -h /var/run/postgresql -p "$port" -d postgres "$@"; }
# a fresh extension, so that its SQL matches the library just installed
psql_demo -qc 'DROP EXTENSION IF EXISTS pool_monitor' -c 'CREATE EXTENSION pool_monitor'

# a little traffic: three idle sessions of an "api" pool for a few seconds
for i in 1 2 3; do
    as_postgres env PGAPPNAME=demo-api psql -X -h /var/run/postgresql \
        -p "$port" -d postgres -qc 'SELECT 1' -c '\! sleep 5' >/dev/null &
done
for try in $(seq 50); do
    [ "$(psql_demo -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'demo-api' AND state = 'idle'")" = 3 ] && break
    sleep 0.1
done

psql_demo -c 'SELECT pool_monitor.sample_now()' \
    -c 'SELECT total, active, idle, utilization, usable_connections, sample_duration_us FROM pool_monitor.summary' \
    -c 'SELECT database, role, application_name, total, idle, peak_total FROM pool_monitor.pools ORDER BY total DESC'
wait
echo "pool_monitor is running on port $port. Try:"
echo "  runuser -u postgres -- psql -h /var/run/postgresql -p $port -c 'SELECT * FROM pool_monitor.summary'"
