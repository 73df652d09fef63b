#!/usr/bin/env bash
# run-all.sh: the whole pool_monitor test suite, as CI runs it.
#
# Run as root on Debian 12 from the top of the tree.  Installs what is
# missing, builds with -Werror, installs, then runs as the postgres user:
#   1. pg_regress (sql/, expected/) on a temporary instance,
#   2. pgTAP (test/pgtap/*.sql) through pg_prove on a temporary instance,
#   3. the unit tests of the pure decision code (test/unit), then
#      `make fuzz` for 15 s per target (FUZZ_SECONDS to change it;
#      PM_FUZZ=0 skips it): the exclude lists' parser and the pattern
#      matcher under libFuzzer with ASan and UBSan,
#   4. pg_regress and the TAP suite against PostgreSQL 15 built with
#      --enable-cassert, pool_monitor built with ASan and UBSan
#      (test/sanitize/run.sh; the first run builds that server into
#      /opt/pool_monitor-pg15-cassert, about 5-7 minutes; later runs reuse
#      it), after test/sanitize/self-test.sh, which proves that run catches
#      injected bugs.  PM_SANITIZE=0 skips this step for a quicker local run,
#   5. the TAP behaviour suite (test/t/*.pl).
# Exits non-zero on any failure; ends with prove's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/common.sh

pm_install_test_packages

# one PostgreSQL installation: keep developers' test/dev-test.sh runs from
# replacing the library while this suite uses it
exec 9>/tmp/pool_monitor-install.lock
flock 9
pm_build_and_install

work=${PM_TEST_DIR:-/tmp/pool_monitor-test}
pm_copy_tree_for_postgres "$work"
cd "$work"

as_postgres() {
    runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"
}

echo "== pg_regress"
if ! as_postgres make -s PG_CONFIG="$PG_BIN/pg_config" installcheck; then
    cat regression.diffs 2>/dev/null | head -200
    exit 1
fi

echo "== pgTAP"
as_postgres bash test/pgtap/run.sh

echo "== unit tests"
as_postgres make -s PG_CONFIG="$PG_BIN/pg_config" WERROR=-Werror unit

if [ "${PM_FUZZ:-1}" != 0 ]; then
    echo "== fuzzing"
    as_postgres make -s PG_CONFIG="$PG_BIN/pg_config" fuzz \
        FUZZ_SECONDS="${FUZZ_SECONDS:-15}" FUZZ_WORK="$work/fuzz-work"
fi

if [ "${PM_SANITIZE:-1}" != 0 ]; then
    echo "== assertions and sanitizers"
    bash test/sanitize/self-test.sh
    bash test/sanitize/run.sh
fi

# last, so that prove's summary of the whole behaviour suite ends the run
echo "== TAP"
as_postgres make -s PG_CONFIG="$PG_BIN/pg_config" prove
