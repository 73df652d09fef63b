#!/bin/sh
# postgres-preload.sh: the "postgres" of the image docs/railway/Dockerfile
# builds, installed as /usr/local/bin/postgres.  It runs the real server
# binary with the arguments it is given and, when they start a server,
# appends
#
#   -c shared_preload_libraries=pg_stat_statements,pool_monitor
#
# Last on the command line, that setting wins over the same one in
# postgresql.conf (where Railway's wrapper.sh writes pg_stat_statements),
# postgresql.auto.conf (ALTER SYSTEM) and any -c before it.
#
# The image keeps the base image's ENTRYPOINT and CMD: the entrypoints end
# in `exec "$@"` with a command that begins with "postgres", run by name,
# and the official image puts the server's bin directory last on PATH
# (ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin), after /usr/local/bin,
# so that name finds this script first.  The real binary is the next
# "postgres" on PATH after this script's own directory, run by its full
# path: the server finds its library and share directories from the path
# it was started as.
#
# Arguments that do not start a server are passed on unchanged: a first
# argument of --help, -?, --version, -V, --describe-config, -C, --single,
# --boot or --check (single-user mode takes a database name last, after
# which PostgreSQL accepts no option).
set -eu
set -f

preload=pg_stat_statements,pool_monitor

self_dir=$(cd "$(dirname "$0")" && pwd -P)
real=
IFS=:
for dir in $PATH; do
	[ -n "$dir" ] || continue
	[ "$(cd "$dir" 2>/dev/null && pwd -P)" = "$self_dir" ] && continue
	if [ -f "$dir/postgres" ] && [ -x "$dir/postgres" ]; then
		real=$dir/postgres
		break
	fi
done
unset IFS

if [ -z "$real" ]; then
	echo "postgres: no PostgreSQL server binary on PATH besides $0" >&2
	exit 127
fi

case "${1:-}" in
	--help | -\? | --version | -V | --describe-config | -C | --single | --boot | --check)
		exec "$real" "$@"
		;;
esac
exec "$real" "$@" -c "shared_preload_libraries=$preload"
