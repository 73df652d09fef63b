#!/usr/bin/env bash
# run-all.sh: the whole pool_monitor test suite, as CI runs it.
#
# Run as root on Debian 12 from the top of the tree.  Installs what is
# missing, then:
#   1. `make fuzz` for 15 s per target (FUZZ_SECONDS to change it;
#      PM_FUZZ=0 skips it): the exclude lists' parser and the pattern
#      matcher under libFuzzer with ASan and UBSan.  Pure code, built
#      against Debian's packaged 15 headers;
#   2. the version matrix (test/matrix/run.sh): PostgreSQL 13, 14, 15, 16,
#      17 and 18, each built from source into a cache outside the tree on
#      the first run and reused afterwards; on each, pool_monitor built with
#      -Werror, pg_regress, pgTAP, the unit tests and the TAP behaviour
#      suite (the few TAP files that do not depend on the server version
#      run on 16 only, Railway's default).  PM_VERSIONS chooses versions;
#   3. the training walk-through of docs/runbook.md (test/runbook/run.sh):
#      every command block of its Part 2 run as written, as root, on the
#      cluster test/quickstart.sh starts (Debian's packaged 15, a data
#      directory of its own), checking what the doc says to expect.
#      PM_RUNBOOK=0 skips it;
#   4. pg_regress and the TAP suite against PostgreSQL 15 and 18 built with
#      --enable-cassert, pool_monitor built with ASan and UBSan
#      (test/sanitize/run.sh), after test/sanitize/self-test.sh, which
#      proves that run catches injected bugs.  PM_SANITIZE=0 skips this
#      step; PM_SANITIZE_VERSIONS chooses the servers.
# Every step runs even after a failure; exits non-zero if any failed, and
# ends with one line counting the steps.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/common.sh
start=$SECONDS

pm_install_test_packages

passed=0
failed=0
failures=()
step() {
    local name=$1 t0=$SECONDS
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "== $name: ok in $((SECONDS - t0)) s"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "== $name: FAILED after $((SECONDS - t0)) s"
    fi
}

fuzz() {
    local work=${PM_TEST_DIR:-/tmp/pool_monitor-test}
    pm_copy_tree_for_postgres "$work"
    (cd "$work" && runuser -u postgres -- make -s PG_CONFIG="$PG_BIN/pg_config" fuzz \
        FUZZ_SECONDS="${FUZZ_SECONDS:-15}" FUZZ_WORK="$work/fuzz-work")
}

sanitize() {
    local v
    bash test/sanitize/self-test.sh || return 1
    for v in ${PM_SANITIZE_VERSIONS:-15 18}; do
        PM_SANITIZE_MAJOR=$v bash test/sanitize/run.sh || return 1
    done
}

if [ "${PM_FUZZ:-1}" != 0 ]; then
    step "fuzzing" fuzz
fi
# shellcheck disable=SC2086
step "version matrix" bash test/matrix/run.sh ${PM_VERSIONS:-}
if [ "${PM_RUNBOOK:-1}" != 0 ]; then
    step "runbook walk-through" bash test/runbook/run.sh
fi
if [ "${PM_SANITIZE:-1}" != 0 ]; then
    step "assertions and sanitizers" sanitize
fi

echo
echo "== the whole suite took $((SECONDS - start)) s"
[ "$failed" = 0 ] || echo "failed: ${failures[*]}"
echo "steps: $passed passed, $failed failed"
[ "$failed" = 0 ]
