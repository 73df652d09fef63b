#!/usr/bin/env bash
# dev-test.sh: a developer's quick loop: build with -Werror, install (under
# a lock, since several worktrees share one PostgreSQL installation), and
# run chosen TAP tests, or pg_regress, as the postgres user.
#
#   bash test/dev-test.sh test/t/002_counts.pl [more .pl files]
#   bash test/dev-test.sh regress
#   bash test/dev-test.sh pgtap
#
# PG_BIN chooses the server (default: Debian's packaged 15), e.g.
#   PG_BIN=/var/cache/pool_monitor/servers/pg16-plain-KEY/bin bash test/dev-test.sh ...
# The install and the test run hold a lock named for PG_BIN together, so
# no other worktree can replace the installed library mid-test.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/common.sh

make -s PG_CONFIG="$PG_BIN/pg_config" WERROR=-Werror
# a work directory per tree and server: runs against two servers may overlap
name=$(basename "$PWD")-$(basename "$(dirname "$PG_BIN")")
work=/tmp/pool_monitor-dev-$name

exec 9>"/tmp/pool_monitor-install$(echo "$PG_BIN" | tr / _).lock"
flock 9
make -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
pm_copy_tree_for_postgres "$work"
cd "$work"
# 9>&- below: no process a test leaves behind may hold the install lock
if [ "${1:-}" = pgtap ]; then
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" bash test/pgtap/run.sh 9>&-
elif [ "${1:-}" = regress ]; then
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" make -s installcheck 9>&- \
        || { cat regression.diffs; exit 1; }
else
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" \
        make -s prove PROVE_TESTS="${*:-test/t/*.pl}" 9>&-
fi
