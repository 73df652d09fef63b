#!/usr/bin/env bash
# run.sh: run the benchmark (test/bench/bench.pl) as the postgres user from
# a copy of the tree it owns, and copy docs/benchmarks.md back.  As root.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh
pm_install_packages libipc-run-perl valgrind
pm_build_and_install
work=/tmp/pool_monitor-bench
pm_copy_tree_for_postgres "$work"
(cd "$work" && runuser -u postgres -- env PATH="$PG_BIN:$PATH" TESTDIR="$work" PG_REGRESS="$PG_BIN/../lib/pgxs/src/test/regress/pg_regress" \
    perl -I "$PG_BIN/../lib/pgxs/src/test/perl" -I test/perl test/bench/bench.pl "$@")
cp "$work/docs/benchmarks.md" docs/benchmarks.md
# PostgreSQL::Test::Utils sends the script's own output to its log file, so
# show the result here
cat docs/benchmarks.md
