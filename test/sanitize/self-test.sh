#!/usr/bin/env bash
# self-test.sh: proves that test/sanitize/run.sh catches what it claims to.
#
#   bash test/sanitize/self-test.sh        (or make sanitize-selftest; root)
#
# For each kind of bug (a one-byte stack overflow through a pointer and by
# index, a one-byte overrun of a palloc'd chunk, an undefined shift, a false
# Assert) it injects the bug into a scratch copy of the tree, first thing in
# pm_get_summary() (which every test reaches through pool_monitor.summary),
# runs run.sh there on 001_worker.pl, and checks that the run fails with
# the expected report.
# Nothing is changed in this tree; the last scratch build stays installed
# in the cassert prefix until the next run.sh.  Prints TAP; exits non-zero
# on a miss.  About a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

n=0
failed=0

# expect KIND C-CODE PATTERN: inject C-CODE, the run must fail and show PATTERN
expect() {
    local kind=$1 code=$2 pattern=$3 scratch out rc
    n=$((n + 1))
    scratch=$(mktemp -d /tmp/pool_monitor-selftest.XXXXXX)
    tar --exclude=.git -cf - . | tar -xf - -C "$scratch/"
    if ! PM_CODE="$code" perl -0pi -e \
        's/^(pm_get_summary\(PG_FUNCTION_ARGS\)\n\{\n)/$1\t$ENV{PM_CODE}\n/m or exit 1' \
        "$scratch/src/sql_api.c"; then
        echo "not ok $n - $kind: the injection point in pm_get_summary() is gone"
        failed=1
        return
    fi
    rc=0
    (cd "$scratch" && PM_SANITIZE_DIR="$scratch.work" PM_SANITIZE_WERROR= \
        PG_TEST_TIMEOUT_DEFAULT=10 bash test/sanitize/run.sh test/t/001_worker.pl) \
        >"$scratch/out" 2>&1 || rc=$?
    if [ "$rc" != 0 ] && grep -q -E "$pattern" "$scratch/out"; then
        echo "ok $n - $kind is caught: $(grep -m1 -o -E "$pattern.*" "$scratch/out" | cut -c1-100)"
        rm -rf "$scratch" "$scratch.work"
    else
        echo "not ok $n - $kind is not caught (exit $rc); see $scratch/out"
        failed=1
    fi
}

echo "1..5"
expect "one-byte stack overflow" \
    '{ volatile char pm_buf[16]; volatile char *pm_q = pm_buf; volatile int pm_n = 16; pm_q[pm_n] = 1; }' \
    'AddressSanitizer: stack-buffer-overflow'
expect "index one past a fixed array" \
    '{ volatile char pm_buf[16]; volatile int pm_n = 16; pm_buf[pm_n] = 1; }' \
    'runtime error: index 16 out of bounds'
expect "one-byte overrun of palloc(10)" \
    '{ volatile int pm_n = 10; char *pm_p = palloc(10); pm_p[pm_n] = 1; pfree(pm_p); }' \
    'detected write past chunk end'
expect "shift past the width of int" \
    '{ volatile int pm_s = 32 + (int) (random() % 2); volatile int pm_r = 1 << pm_s; (void) pm_r; }' \
    'runtime error: shift exponent'
expect "false Assert" \
    'Assert(PG_NARGS() == 42);' \
    'TRAP: FailedAssertion'
exit $failed
