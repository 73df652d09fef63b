#!/usr/bin/env bash
# run.sh: run the training walk-through of docs/runbook.md (Part 2: the
# exercises and Clean up) as a trainee would, and check what it says to
# expect.
#
#   bash test/runbook/run.sh            (as root, on Debian 12)
#
# The commands are not copied here: every ```sh block of Part 2 is taken
# from docs/runbook.md and sourced, in order, in this one shell, as the
# doc tells the trainee to (the pgbench it starts in the background and
# the variables it sets carry from block to block).  Each block has a
# check_<section>_<n> function below that reads the block's own output
# (and asks the server where the output alone cannot prove a claim); a
# block without one, or one the doc no longer has, is a failure, so the
# test breaks when the doc drifts.
#
# The cluster is the one test/quickstart.sh starts, with a data directory
# of its own under PM_RUNBOOK_DIR (default /tmp/pool_monitor-runbook),
# built from a copy of the tree so that the tree itself is left alone, on
# port 5433 (or the next free one; the doc reads PM_PORT), and stopped at
# the end.  Installing into Debian's PostgreSQL 15 and the run hold the
# install lock test/dev-test.sh takes.  A watchdog ends this shell's
# children (the doc's pgbench) if a block runs longer than its bound, so a
# hang is a failure, not a stuck suite.
#
# Output is TAP-like: "ok N - ..." or "not ok N - ...", each block's time,
# and a last line counting the failures; the exit status is non-zero if
# any check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. test/lib/common.sh
start=$SECONDS

work=${PM_RUNBOOK_DIR:-/tmp/pool_monitor-runbook}
doc=$repo/docs/runbook.md
out=$work/out
data=$work/demo-data

# ---------- checks ----------
tests=0
failures=0
pass() { tests=$((tests + 1)); echo "ok $tests - $1"; }
fail() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $1"; }
# ok DESCRIPTION COMMAND...: passes when the command succeeds
ok() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# is GOT EXPECTED DESCRIPTION
is() {
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$3"; echo "#   got:      '$1'"; echo "#   expected: '$2'"; fi
}
# like TEXT ERE DESCRIPTION: TEXT has a line matching ERE
like() {
    if grep -Eq -- "$2" <<<"$1"; then pass "$3"; else fail "$3"; echo "#   no line matches /$2/ in:"; sed 's/^/#     /' <<<"$1"; fi
}
# at_least GOT MIN DESCRIPTION
at_least() {
    if [ -n "$1" ] && awk -v g="$1" -v m="$2" 'BEGIN { exit !(g + 0 >= m + 0) }'; then pass "$3"
    else fail "$3"; echo "#   got '$1', expected at least $2"; fi
}

# lacks FILE TEXT: FILE has no line holding TEXT
lacks() { ! grep -qF -- "$2" "$1"; }

# psql's aligned output, one row a line, cells separated by | and trimmed
norm() { sed -E 's/[[:space:]]*\|[[:space:]]*/|/g; s/^[[:space:]]+//; s/[[:space:]]+$//' "$1"; }
# table FILE HEADER: the rows of the table whose (normalised) header is HEADER
table() {
    norm "$1" | awk -v h="$2" '
        !inside && $0 == h { inside = 1; getline; next }
        inside && /^\([0-9]+ rows?\)$/ { exit }
        inside { print }'
}
# rows_of FILE HEADER: how many rows psql says that table has
rows_of() {
    norm "$1" | awk -v h="$2" '
        !inside && $0 == h { inside = 1; next }
        inside && match($0, /^\(([0-9]+) rows?\)$/) { sub(/^\(/, ""); print $1 + 0; exit }'
}
# xfield FILE NAME: a field of psql's expanded (-x) output
xfield() { norm "$1" | awk -F'|' -v n="$2" '$1 == n { print $2; exit }'; }
# seconds of a psql interval such as 00:01:02.5
seconds() { awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }' <<<"$1"; }

# the test's own questions to the server
q() {
    runuser -u postgres -- psql -X -h /var/run/postgresql -p "$PM_PORT" -d postgres \
        -Atq -v ON_ERROR_STOP=1 -c "$1" 9>&-
}
# poll_q QUERY EXPECTED: wait, up to 60 s, until QUERY returns EXPECTED
poll_q() {
    local i
    for i in $(seq 300); do
        [ "$(q "$1")" = "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

# ---------- the checks of each block, named check_<section>_<n> ----------

check_intro_1() {
    is "$rc" 0 "intro: the commands succeed"
    like "$(cat "$f")" '^\(1 row\)$' "intro: sample_now() answers"
}

check_ex1_1() {
    local worker
    is "$rc" 0 "exercise 1: the commands succeed"
    is "$(xfield "$f" total)" 1 "exercise 1: total is 1"
    is "$(norm "$f" | grep -E '^me\|' | tr '\n' ' ')" 'me|t ' \
        "exercise 1: connections lists one session, the psql that took the sample"
    is "$(xfield "$f" max_connections)/$(xfield "$f" reserved_connections)/$(xfield "$f" usable_connections)" \
        100/3/97 "exercise 1: 97 usable of max_connections 100, 3 reserved"
    is "$(q 'SHOW superuser_reserved_connections')" 3 "exercise 1: the 3 are superuser_reserved_connections"
    worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pool_monitor'")
    is "$(xfield "$f" worker_pid)" "$worker" "exercise 1: worker_pid is the pool_monitor worker ($worker)"
    like "$(table "$f" 'name|setting|unit|context')" '^pool_monitor\.sample_interval\|1000\|ms\|sighup$' \
        "exercise 1: pg_settings shows sample_interval as 1000, unit ms"
    is "$(table "$f" 'pool_monitor.sample_interval')" 1s "exercise 1: SHOW shows it as 1s"
    # a psql that only reads: the worker's last sample, from before it connected
    local i seen=
    for i in $(seq 10); do
        [ "$(q "SELECT s.sampled_at < a.backend_start AND NOT EXISTS
                       (SELECT 1 FROM pool_monitor.connections c WHERE c.pid = pg_backend_pid())
                  FROM pool_monitor.summary s, pg_stat_activity a WHERE a.pid = pg_backend_pid()")" = t ] &&
            { seen=$i; break; }
    done
    ok "exercise 1: a psql that only reads sees a sample from before it connected, without it (try ${seen:-none} of 10)" \
        [ -n "$seen" ]
}

check_ex2_1() {
    is "$rc" 0 "exercise 2: the commands succeed"
    ok "exercise 2: the leak's pgbench runs in the background of this shell" kill -0 "${leak:-0}"
    is "$(table "$f" 'application_name|role|total|active|idle|longest_idle|peak_total' |
        sed -E 's/^([^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*)\|[^|]*\|/\1|*|/')" \
        'leaky-app|nobody|20|0|20|*|20' "exercise 2: one pool leaky-app of nobody, 20 sessions, all idle"
    is "$(table "$f" 'total|idle|utilization')" '21|20|21.6' \
        "exercise 2: utilization 21.6 %: the leak's 20 and the psql, of 97"
}

check_ex2_2() {
    local before now
    is "$rc" 0 "exercise 2, sessions: the command succeeds"
    is "$(table "$f" 'pid|state|idle_for' | cut -d'|' -f2 | sort | uniq -c | sed -E 's/^ +//')" \
        '5 idle' "exercise 2, sessions: the five longest idle are listed, idle"
    # "run the last command again later": the pool's row, a few seconds on
    before=$(table "$out/ex2_1.out" 'application_name|role|total|active|idle|longest_idle|peak_total')
    q 'SELECT pool_monitor.sample_now()' >/dev/null
    now=$(q "SELECT application_name, role, total, active, idle, longest_idle, peak_total
               FROM pool_monitor.pools WHERE application_name = 'leaky-app'")
    is "$(cut -d'|' -f1-5,7 <<<"$now")" "$(cut -d'|' -f1-5,7 <<<"$before")" \
        "exercise 2, later: nothing but longest_idle changes"
    ok "exercise 2, later: longest_idle grows ($(cut -d'|' -f6 <<<"$before") to $(cut -d'|' -f6 <<<"$now"))" \
        awk -v a="$(seconds "$(cut -d'|' -f6 <<<"$before")")" -v b="$(seconds "$(cut -d'|' -f6 <<<"$now")")" \
        'BEGIN { exit !(b > a) }'
}

check_ex3_1() {
    is "$rc" 0 "exercise 3: the commands succeed"
    is "$(table "$f" 'protected_by|count|min' | cut -d'|' -f1,2 | LC_ALL=C sort)" \
        "$(printf 'min_idle_per_pool|5\n|15')" \
        "exercise 3: 5 sessions protected by min_idle_per_pool, 15 not"
    is "$(table "$f" 'protected_by|count|min' | awk -F'|' '$1 == "" && $3 != "" { print "set" }')" set \
        "exercise 3: the 15 have a prune_at"
    is "$(q "SELECT count(*) FROM pool_monitor.connections
              WHERE application_name = 'leaky-app' AND protected_by IS NULL
                AND prune_at = state_since + interval '30 s'")" 15 \
        "exercise 3: each prune_at is 30 s after its session went idle"
    is "$(q "SELECT min(state_since) FILTER (WHERE protected_by IS NOT NULL)
                    >= max(state_since) FILTER (WHERE protected_by IS NULL)
               FROM pool_monitor.connections WHERE application_name = 'leaky-app'")" t \
        "exercise 3: the protected five are the most recently idle"
}

check_ex3_2() {
    local rows
    is "$rc" 0 "exercise 3, dry run: the commands succeed"
    rows=$(table "$f" 'pid|application_name|idle_for|reason|dry_run')
    is "$(rows_of "$f" 'pid|application_name|idle_for|reason|dry_run')" 10 \
        "exercise 3, dry run: 10 rows, max_terminations_per_prune"
    is "$(cut -d'|' -f2,4,5 <<<"$rows" | sort -u)" 'leaky-app|idle_lifetime|t' \
        "exercise 3, dry run: all leaky-app, idle_lifetime, dry_run"
    at_least "$(cut -d'|' -f3 <<<"$rows" | while read -r t; do seconds "$t"; done | sort -n | head -1)" 30 \
        "exercise 3, dry run: each idle for 30 s or more"
    q 'SELECT pool_monitor.sample_now()' >/dev/null
    is "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leaky-app'")" 20 \
        "exercise 3, dry run: nobody was signalled, 20 sessions"
}

check_ex3_3() {
    local rows
    is "$rc" 0 "exercise 3, terminations: the command succeeds"
    rows=$(table "$f" 'terminated_at|pid|idle_for|reason|dry_run')
    at_least "$(grep -c . <<<"$rows")" 10 "exercise 3, terminations: the dry runs are recorded"
    is "$(cut -d'|' -f4,5 <<<"$rows" | sort -u)" 'idle_lifetime|t' \
        "exercise 3, terminations: every one a dry run"
}

check_ex3_4() {
    is "$rc" 0 "exercise 3, exclusion: the commands succeed"
    is "$(table "$f" 'protected_by|count')" 'exclude_applications|20' \
        "exercise 3, exclusion: all 20 protected by exclude_applications"
    is "$(q "SELECT current_setting('pool_monitor.exclude_applications') || '/' ||
                    count(*) FILTER (WHERE protected_by = 'min_idle_per_pool')
               FROM pool_monitor.connections WHERE application_name = 'leaky-app'")" /5 \
        "exercise 3, exclusion: reset again, the floor protects 5"
}

check_ex4_1() {
    local alerts
    is "$rc" 0 "exercise 4: the commands succeed"
    alerts=$(table "$f" 'raised_at|kind|utilization|message')
    like "$alerts" '^[^|]+\|utilization\|[^|]+\|pool_monitor: connection utilization .*top pools: leaky-app \(nobody@postgres\) 20' \
        "exercise 4: a utilization alert names leaky-app as the top pool"
    at_least "$(awk -F'|' '$2 == "utilization" { print $3; exit }' <<<"$alerts")" 15 \
        "exercise 4: at a utilization of 15 % or more"
    is "$(cut -d'|' -f2 <<<"$alerts" | tr '\n' ,)" 'utilization,recovered,' \
        "exercise 4: then a recovered alert"
    is "$(table "$f" 'left')" 5 "exercise 4: the leak is cut to its floor of 5"
    is "$(table "$f" 'terminated')" 15 "exercise 4: summary.terminated is 15"
    is "$(table "$f" 'dry_run|count' | grep '^f|')" 'f|15' "exercise 4: 15 terminations not dry runs"
    is "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leaky-app'")" 5 \
        "exercise 4: 5 sessions of the leak are left on the server"
    ok "exercise 4: the floor is reached within two prune runs of 10 s (took $elapsed s, bound 45 s)" \
        awk -v e="$elapsed" 'BEGIN { exit !(e < 45) }'
}

check_ex4_2() {
    is "$rc" 0 "exercise 4, log: the command succeeds"
    like "$(cat "$f")" 'WARNING: +pool_monitor: connection utilization' "exercise 4, log: the alert's WARNING"
    like "$(cat "$f")" 'LOG: +pool_monitor: terminated' "exercise 4, log: the terminations"
    like "$(cat "$f")" 'LOG: +pool_monitor: connection utilization recovered' "exercise 4, log: the recovery"
}

check_ex5_1() {
    is "$rc" 0 "exercise 5: the commands succeed"
    like "$(cat /tmp/greedy.log 2>/dev/null)" 'too many connections for role "nobody"' \
        "exercise 5: pgbench is refused: too many connections for role"
    like "$(table "$f" 'kind|rejected')" '^role_limit\|[1-9][0-9]*$' "exercise 5: rejections shows role_limit"
    like "$(table "$f" 'kind|message')" '^rejected\|pool_monitor: [0-9]+ connection attempts? rejected with SQLSTATE 53300 \(role_limit [0-9]+\)$' \
        "exercise 5: a rejected alert names role_limit"
}

check_cleanup_1() {
    is "$rc" 0 "clean up: the commands succeed"
    like "$(cat /tmp/report.html 2>/dev/null)" 'leaky-app' "clean up: the saved report shows the leak's pool"
    ok "clean up: finishes within ${bound} s (took ${elapsed} s)" [ ! -e "$out/watchdog.fired" ]
    is "$(jobs -pr | wc -l)" 0 "clean up: no pgbench left running"
    ok "clean up: no session of the exercises is left" \
        poll_q "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('leaky-app', 'greedy-app')" 0
    is "$(q "SELECT count(*) FROM pg_roles WHERE rolname = 'nobody'")" 0 "clean up: the role is dropped"
    is "$(q "SELECT string_agg(name, ',') FROM pg_settings WHERE name LIKE 'pool_monitor.%' AND source = 'configuration file' AND sourcefile LIKE '%auto.conf'")" '' \
        "clean up: no pool_monitor setting is left in postgresql.auto.conf"
    is "$(q "SELECT terminated || '/' || connections_rejected FROM pool_monitor.summary")" 0/0 \
        "clean up: reset() cleared the counters"
}

# ---------- running the doc ----------

# the ```sh blocks of Part 2, each as a file and a line "key file" in
# $out/blocks, key being <section>_<n>: intro, ex1..ex5, cleanup
extract_blocks() {
    awk -v dir="$out" '
        /^# Part 2/ { part2 = 1 }
        !part2 { next }
        /^### Exercise [0-9]+:/ { section = "ex" $3; sub(/:$/, "", section); n = 0 }
        /^### Clean up/ { section = "cleanup"; n = 0 }
        /^### Take-home/ { section = "takehome"; n = 0 }
        inblock && /^```/ { inblock = 0; close(file); next }
        inblock { print > file; next }
        /^```sh$/ {
            if (section == "") section = "intro"
            n++; key = section "_" n; file = dir "/" key ".sh"
            printf "" > file
            print key, file > (dir "/blocks")
            inblock = 1
        }' "$doc"
}

# Start a watchdog that, if the block has not ended within $bound seconds,
# marks it and ends this shell's children (runuser, and so pgbench).  It is
# not a child of this shell, so the doc's `wait` does not wait for it.
start_watchdog() {
    rm -f "$out/watchdog.done" "$out/watchdog.fired"
    (
        (
            for _ in $(seq $((bound * 5))); do
                [ -e "$out/watchdog.done" ] && exit 0
                sleep 0.2
            done
            touch "$out/watchdog.fired"
            pkill -TERM -P "$shell_pid"
        ) </dev/null >/dev/null 2>&1 9>&- &
    )
}

cleanup() {
    touch "$out/watchdog.done" 2>/dev/null
    local pids
    pids=$(jobs -p)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill $pids 2>/dev/null
    if [ -f "$data/postmaster.pid" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 9>&-
    fi
}

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root"; exit 1; }
shell_pid=$$
exec 9>"/tmp/pool_monitor-install$(echo "$PG_BIN" | tr / _).lock"
flock 9

# a cluster of its own, from a copy of the tree
if [ -f "$data/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 9>&- || true
fi
pm_copy_tree_for_postgres "$work"
mkdir -p "$out"
trap cleanup EXIT
PM_PORT=5433
while [ -e "/var/run/postgresql/.s.PGSQL.$PM_PORT" ] || ss -Htln "sport = :$PM_PORT" | grep -q .; do
    PM_PORT=$((PM_PORT + 1))
done
export PM_PORT
echo "# the quickstart cluster, port $PM_PORT, data in $data"
t0=$SECONDS
if ! (cd "$work" && PM_DEMO_DATA=$data PM_DEMO_PORT=$PM_PORT bash test/quickstart.sh >"$out/quickstart.log" 2>&1 9>&-); then
    cat "$out/quickstart.log"
    fail "test/quickstart.sh starts the cluster"
    echo "1..$tests"
    exit 1
fi
pass "test/quickstart.sh starts the cluster (in $((SECONDS - t0)) s)"

extract_blocks
expected_blocks="intro_1 ex1_1 ex2_1 ex2_2 ex3_1 ex3_2 ex3_3 ex3_4 ex4_1 ex4_2 ex5_1 cleanup_1"
is "$(cut -d' ' -f1 "$out/blocks" | tr '\n' ' ' | sed 's/ $//')" "$expected_blocks" \
    "docs/runbook.md Part 2 has the blocks this test checks"

while read -r key file; do
    f=$out/$key.out
    bound=120
    [ "$key" = cleanup_1 ] && bound=60
    start_watchdog
    t0=$(date +%s.%N)
    # as the doc says: one shell, in order, as root (set -u and pipefail
    # are this script's, not the trainee's)
    set +uo pipefail
    # shellcheck disable=SC1090
    . "$file" >"$f" 2>&1 9>&-
    rc=$?
    set -uo pipefail
    touch "$out/watchdog.done"
    elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "# $key: $elapsed s"
    if grep -q pm_until "$file"; then
        ok "$key: every wait of the block ends in time" lacks "$f" 'still false after a minute'

    fi
    if [ -e "$out/watchdog.fired" ] && [ "$key" != cleanup_1 ]; then
        fail "$key: ran over its bound of $bound s, ended by the watchdog"
    fi
    if declare -F "check_$key" >/dev/null; then
        "check_$key"
    else
        fail "$key: docs/runbook.md has a block this test has no checks for"
    fi
    if [ "$failures" != 0 ] && [ -z "${shown_output:-}" ]; then
        echo "# output of $key:"; sed 's/^/#   /' "$f"
        shown_output=1
    fi
done <"$out/blocks"

echo "1..$tests"
echo "# the walk-through took $((SECONDS - start)) s in all"
if [ "$failures" != 0 ]; then
    echo "# $failures of $tests checks failed; outputs in $out"
    exit 1
fi
echo "# all $tests checks passed"
