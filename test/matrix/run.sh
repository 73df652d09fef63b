#!/usr/bin/env bash
# run.sh: the version matrix: build pool_monitor with -Werror against each
# supported PostgreSQL and run the suite there.
#
#   bash test/matrix/run.sh [MAJOR ...]        (or make matrix VERSIONS="...")
#
# Run as root on Debian 12 from anywhere in the tree.  MAJOR defaults to
# every supported version, 13 14 15 16 16-release 17 18.  For each one:
#   1. test/matrix/build-server.sh builds that server from source into the
#      cache, once (later runs reuse it); a version whose source is not on
#      this machine (14, 16 and 17 without shared/postgres-src) is skipped,
#      and the summary says so.  16-release is a released 16.x server laid
#      over the 16 beta tree's build (test/matrix/release-server.sh), since
#      no released 16 source reaches this machine;
#   2. a copy of the tree is built with -Werror against it and installed
#      into it (never into another server);
#   3. as the postgres user: pg_regress, pgTAP, the unit tests, and the TAP
#      behaviour suite (test/t/*.pl, or PM_MATRIX_TAP to choose files).
#      A TAP file whose header has the line "# matrix: once" tests
#      something that does not depend on the server version (the docs,
#      packaging, the Grafana and exporter files, the benchmark's check):
#      it runs on one version only, 16 (Railway's default) when it is in
#      the list, else the first, and the summary says so.
# Every version runs, even after a failure; the summary lists each part of
# each version with its time, and the exit status is non-zero if any part
# failed.
#
# Environment: PM_MATRIX_DIR (the copies, default /tmp/pool_monitor-matrix),
# PM_MATRIX_TAP (TAP files, default all), PM_MATRIX_PARTS (default
# "regress pgtap unit tap"), and build-server.sh's PM_SERVER_CACHE and
# PM_PG_SRC_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. test/lib/common.sh

export PM_PG_SRC_DIR=${PM_PG_SRC_DIR:-$(cd "$repo/.." && pwd)/shared/postgres-src}
versions=${*:-13 14 15 16 16-release 17 18}
parts=${PM_MATRIX_PARTS:-regress pgtap unit tap}
tap=${PM_MATRIX_TAP:-test/t/*.pl}
top=${PM_MATRIX_DIR:-/tmp/pool_monitor-matrix}
once_on=$(echo " $versions " | grep -q ' 16 ' && echo 16 || echo "${versions%% *}")
once_tests=$(grep -l '^# matrix: once\b' $tap 2>/dev/null | tr '\n' ' ' || true)
every_tests=$(for f in $tap; do case " $once_tests " in *" $f "*) ;; *) echo "$f" ;; esac; done | tr '\n' ' ')
summary=()
skips=()
failed=0
passed=0
skipped=0

# Every TAP assertion skipped on this version, with its reason, from the
# tests' logs (prove prints skips only when verbose): a line each.
tap_skips() {
    local log
    for log in "$work"/tmp_check/log/regress_log_*; do
        [ -f "$log" ] || continue
        sed -n 's/^.*\bok [0-9][0-9]* # skip \(.*\)$/\1/p' "$log" | sort -u |
            sed "s|^|PostgreSQL $1, ${log##*/regress_log_}: skipped: |"
    done
}

note() { summary+=("$(printf '%-4s %-8s %-7s %5s s  %s' "$1" "$2" "$3" "$4" "${5:-}")"); }

for v in $versions; do
    echo "== PostgreSQL $v: server"
    t0=$SECONDS
    set +e
    if [ "$v" = 16-release ]; then
        prefix=$(bash test/matrix/release-server.sh | tail -1)
    else
        prefix=$(bash test/matrix/build-server.sh "$v" | tail -1)
    fi
    rc=$?
    set -e
    if [ "$rc" = 3 ]; then
        echo "== PostgreSQL $v: SKIPPED, its source tree is not on this machine (see test/matrix/build-server.sh)"
        note "$v" all skipped 0 "source not on this machine"
        skipped=$((skipped + 1))
        continue
    elif [ "$rc" != 0 ] || [ ! -x "$prefix/bin/pg_config" ]; then
        echo "== PostgreSQL $v: FAILED to build the server"
        note "$v" server FAILED $((SECONDS - t0))
        failed=$((failed + 1))
        continue
    fi
    note "$v" server ok $((SECONDS - t0)) "$(sed -n 2p "$prefix/.pool_monitor-build")"
    pg_bin=$prefix/bin
    work=$top/pg$v

    echo "== PostgreSQL $v: build pool_monitor ($("$pg_bin/pg_config" --version))"
    t0=$SECONDS
    rm -rf "$work"
    mkdir -p "$work"
    tar --exclude=.git -C "$repo" -cf - . | tar -xf - -C "$work"
    exec 9>"/tmp/pool_monitor-install$(echo "$pg_bin" | tr / _).lock"
    flock 9
    # clean first: the tree may hold objects built for another server
    if ! (cd "$work" && make -s PG_CONFIG="$pg_bin/pg_config" clean >/dev/null &&
            make -s PG_CONFIG="$pg_bin/pg_config" WERROR=-Werror &&
            make -s PG_CONFIG="$pg_bin/pg_config" install >/dev/null) 9>&-; then
        note "$v" build FAILED $((SECONDS - t0))
        failed=$((failed + 1))
        continue
    fi
    note "$v" build ok $((SECONDS - t0)) "-Werror"
    chown -R postgres:postgres "$work"

    as_postgres() {
        # 9>&-: no process a test leaves behind may hold the install lock
        (cd "$work" && runuser -u postgres -- env PATH="$pg_bin:$PATH" PG_BIN="$pg_bin" "$@") 9>&-
    }
    version_failed=0
    for part in $parts; do
        echo "== PostgreSQL $v: $part"
        t0=$SECONDS
        case "$part" in
            regress)
                if ! as_postgres make -s PG_CONFIG="$pg_bin/pg_config" installcheck; then
                    head -200 "$work/regression.diffs" 2>/dev/null || true
                    false
                fi ;;
            pgtap) as_postgres bash test/pgtap/run.sh ;;
            unit) as_postgres make -s PG_CONFIG="$pg_bin/pg_config" WERROR=-Werror unit ;;
            tap)
                files=$every_tests
                if [ "$v" = "$once_on" ]; then
                    files="$files $once_tests"
                elif [ -n "$once_tests" ]; then
                    echo "== PostgreSQL $v: not here, on $once_on only (they do not depend on the server version): $once_tests"
                fi
                # shellcheck disable=SC2086
                as_postgres make -s PG_CONFIG="$pg_bin/pg_config" prove PROVE_TESTS="$(echo $files)" &&
                    skips+=("$(tap_skips "$v")") ;;
            *) echo "unknown part $part (regress pgtap unit tap)"; false ;;
        esac && rc=0 || rc=$?
        if [ "$rc" = 0 ]; then
            note "$v" "$part" ok $((SECONDS - t0))
        else
            note "$v" "$part" FAILED $((SECONDS - t0))
            version_failed=1
        fi
    done
    exec 9>&-
    if [ "$version_failed" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done

echo
echo "== version matrix"
printf '%s\n' "${summary[@]}"
printf '%s\n' "${skips[@]}" | grep -v '^$' || true
[ -z "$once_tests" ] || echo "on $once_on only, as they do not depend on the server version: $once_tests"
echo "versions: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
