#!/usr/bin/env bash
# run.sh: pool_monitor's tests under assertions and sanitizers.
#
#   bash test/sanitize/run.sh [test/t/NNN_x.pl ...]      (or make sanitize-check)
#
# Run as root on Debian 12 from anywhere in the tree.  It
#   1. builds PostgreSQL $PM_SANITIZE_MAJOR (default 15) with
#      --enable-cassert into the server cache, once: a finished build there
#      is reused (test/matrix/build-server.sh MAJOR cassert);
#   2. builds pool_monitor against that server with -fsanitize=address,undefined
#      and installs it there (never into the system PostgreSQL);
#   3. runs pg_regress and the TAP suite (or the given .pl files; by
#      default all but those marked "matrix: once") as the postgres user
#      with gcc's libasan preloaded into every process the tests start, so
#      the servers load the instrumented library;
#   4. fails if any test failed, or if a sanitizer report, a failed
#      assertion (TRAP), a memory-context check warning or a process killed
#      by SIGABRT shows up, even in a process whose test still passed.
#
# Settings (environment): PM_SANITIZE_MAJOR (13 to 18), PM_SANITIZE_DIR
# (the copy, default /tmp/pool_monitor-sanitize-MAJOR), PM_SANITIZE_FLAGS
# (the -fsanitize flags), PM_SANITIZE_WERROR (empty to build without
# -Werror, e.g. for a scratch build with a deliberate bug), PM_ASAN_OPTIONS
# (appended), and build-server.sh's PM_SERVER_CACHE.
#
# The server itself is not instrumented: ASan checks pool_monitor's own
# loads and stores (stack, globals, malloc), not palloc chunks or shared
# memory; cassert's memory-context checks cover palloc (see
# docs/hardening.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

major=${PM_SANITIZE_MAJOR:-15}
work=${PM_SANITIZE_DIR:-/tmp/pool_monitor-sanitize-$major}
sanitize=${PM_SANITIZE_FLAGS:--fsanitize=address,undefined -fno-sanitize=object-size -fno-sanitize-recover=all -fno-omit-frame-pointer}
# by default the TAP files that test the server side: not those marked
# "matrix: once" (docs, packaging, the exporter, Prometheus, Grafana, the
# benchmark's check), which exercise no C the others do not
tests=${*:-$(grep -L '^# matrix: once\b' test/t/*.pl | tr '\n' ' ')}
start=$SECONDS

# One run at a time per server: runs share its installed pool_monitor.so.
exec 8>"/tmp/pool_monitor-sanitize-$major.lock"
flock 8

# The postgres user, IPC::Run and a compiler come with the suite's packages.
pm_install_test_packages
prefix=$(bash test/matrix/build-server.sh "$major" cassert | tail -1)
[ -x "$prefix/bin/pg_config" ] || { echo "no cassert PostgreSQL $major" >&2; exit 1; }
echo "== cassert PostgreSQL $major ready after $((SECONDS - start)) s: $prefix"

asan_lib=$(readlink -f "$(gcc -print-file-name=libasan.so)")
if [ ! -f "$asan_lib" ]; then
    echo "gcc's libasan not found (package libasan8)" >&2
    exit 1
fi

rm -rf "$work"
mkdir -p "$work"
tar --exclude=.git -cf - . | tar -xf - -C "$work"
cd "$work"
make -s PG_CONFIG="$prefix/bin/pg_config" clean >/dev/null
make -s PG_CONFIG="$prefix/bin/pg_config" WERROR="${PM_SANITIZE_WERROR--Werror}" \
    COPT="$sanitize"
make -s PG_CONFIG="$prefix/bin/pg_config" install >/dev/null
chown -R postgres:postgres "$work"

# COPT also reaches the link, so pool_monitor.so needs libasan and libubsan;
# postgres is not linked with them, so libasan must be preloaded (ASan must
# come first).  Postgres does not free at exit by design: no leak checks.
# Reports go to the process's stderr, which is its server's log file.
# UBSan errors are made fatal at compile time (-fno-sanitize-recover=all):
# in the backends UBSAN_OPTIONS was found not to be honoured (probably as
# libubsan comes with pool_monitor.so, after postgres has overwritten its
# environment block with the process title), so a report gives file:line
# but no stack.
sanitizer_env=(
    LD_PRELOAD="$asan_lib"
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:disable_coredump=1${PM_ASAN_OPTIONS:+:$PM_ASAN_OPTIONS}"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
)
as_postgres() {
    runuser -u postgres -- env PATH="$prefix/bin:$PATH" "${sanitizer_env[@]}" "$@"
}

status=0
echo "== pg_regress (cassert, sanitizers)"
if ! as_postgres make -s PG_CONFIG="$prefix/bin/pg_config" installcheck; then
    head -200 regression.diffs 2>/dev/null || true
    status=1
fi
echo "== TAP (cassert, sanitizers)"
as_postgres make -s PG_CONFIG="$prefix/bin/pg_config" prove PROVE_TESTS="$tests" \
    || status=1

# A test can pass while a backend or the worker died: look for the traces.
echo "== sanitizer and assertion reports"
pattern='TRAP: |AddressSanitizer|runtime error: |detected write past chunk end|problem in alloc set|terminated by signal 6'
found=$(grep -s -E -n "$pattern" tmp_check/log/*.log tmp_check_regress/log/*.log || true)
if [ -n "$found" ]; then
    echo "$found" | head -100
    echo "sanitizer or assertion failures found: see the logs in $work/tmp_check*/log"
    status=1
else
    echo "none"
fi
echo "== sanitize-check took $((SECONDS - start)) s in all"
exit $status
