/*-------------------------------------------------------------------------
 *
 * test_policy.c
 *		Unit tests (cmocka) of the pure idle-termination policy in
 *		src/policy.c: floors, ties, exclusions, wildcard patterns, limits,
 *		utilization gating, dry run, idle in transaction, superusers.
 *
 * Built and run by "make unit", outside any server: policy.c must not
 * need one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "policy.h"

#define MAXCONN 32
#define SEC INT64CONST(1000000)
#define NOW (INT64CONST(1000000) * SEC)

/* A test snapshot: connections, their facts, and the policy's outputs. */
typedef struct Snapshot
{
	int			n;
	PmConnection conns[MAXCONN];
	PmPolicyFacts facts[MAXCONN];
	PmVerdict	verdicts[MAXCONN];
	int			chosen[MAXCONN];
	PmPolicyItem scratch[MAXCONN];
} Snapshot;

static Snapshot snap;

/* Add a connection idle (or in state) for idle_s seconds; returns index. */
static int
add_conn(int pid, const char *role, const char *db, const char *app,
		 PmState state, int idle_s)
{
	PmConnection *conn = &snap.conns[snap.n];
	PmPolicyFacts *facts = &snap.facts[snap.n];

	memset(conn, 0, sizeof(PmConnection));
	conn->pid = pid;
	conn->key.dbid = (Oid) db[0];
	conn->key.roleid = (Oid) role[0];
	strlcpy(conn->key.appname, app, NAMEDATALEN);
	conn->backend_start = NOW - 3600 * SEC;
	conn->state = (uint8) state;
	conn->state_since = NOW - idle_s * SEC;
	facts->role = role;
	facts->database = db;
	facts->is_superuser = (strcmp(role, "postgres") == 0);
	return snap.n++;
}

static PmPolicySettings
default_settings(void)
{
	PmPolicySettings s;

	memset(&s, 0, sizeof(s));
	s.idle_lifetime = 300;
	s.idle_in_xact_lifetime = 60;
	s.min_idle_per_pool = 5;
	s.max_terminations = 10;
	return s;
}

static int
decide(const PmPolicySettings *s, double utilization)
{
	return pm_decide(snap.conns, snap.facts, snap.n, s, utilization, NOW,
					 snap.verdicts, snap.chosen, snap.scratch);
}

static int
setup(void **state)
{
	memset(&snap, 0, sizeof(snap));
	return 0;
}

/* A list of names in a static block, as a setting's extra would hold. */
#define LIST(name, ...) \
	static struct { int nitems; const char *items[8]; } name##_block = \
		{ sizeof((const char *[]) {__VA_ARGS__}) / sizeof(const char *), {__VA_ARGS__} }; \
	const PmNameList *name = (const PmNameList *) &name##_block

/* 7 idle past the lifetime, floor 2: the 5 longest idle go, in order. */
static void
test_floor_keeps_most_recent(void **state)
{
	PmPolicySettings s = default_settings();
	int			n;

	s.min_idle_per_pool = 2;
	for (int i = 0; i < 7; i++)
		add_conn(100 + i, "app", "db", "web", PM_STATE_IDLE, 1000 - i * 10);
	n = decide(&s, 50);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
	{
		assert_int_equal(snap.chosen[i], i);
		assert_int_equal(snap.verdicts[i].reason, PM_REASON_IDLE_LIFETIME);
		assert_int_equal(snap.verdicts[i].prune_at,
						 snap.conns[i].state_since + 300 * SEC);
	}
	assert_int_equal(snap.verdicts[5].protected_by, PM_PROTECT_MIN_IDLE);
	assert_int_equal(snap.verdicts[6].protected_by, PM_PROTECT_MIN_IDLE);
	assert_int_equal(snap.verdicts[5].prune_at, 0);
	assert_false(snap.verdicts[5].chosen);
}

/* The floor counts the idle sessions not yet past the lifetime too. */
static void
test_floor_counts_young_idle(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 2;
	add_conn(1, "app", "db", "web", PM_STATE_IDLE, 1000);
	add_conn(2, "app", "db", "web", PM_STATE_IDLE, 900);
	add_conn(3, "app", "db", "web", PM_STATE_IDLE, 10);
	add_conn(4, "app", "db", "web", PM_STATE_IDLE, 5);
	add_conn(5, "app", "db", "web", PM_STATE_ACTIVE, 2000);
	assert_int_equal(decide(&s, 50), 2);
	assert_int_equal(snap.chosen[0], 0);
	assert_int_equal(snap.chosen[1], 1);
	assert_int_equal(snap.verdicts[4].protected_by, PM_PROTECT_NONE);
	assert_int_equal(snap.verdicts[4].prune_at, 0);

	/* floor 3: only one of the two old ones may go, the older */
	memset(snap.verdicts, 0, sizeof(snap.verdicts));
	s.min_idle_per_pool = 3;
	assert_int_equal(decide(&s, 50), 1);
	assert_int_equal(snap.chosen[0], 0);
	assert_int_equal(snap.verdicts[1].protected_by, PM_PROTECT_MIN_IDLE);
}

/* The floor applies per pool; pools differ by any key part. */
static void
test_floor_per_pool(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 2;
	for (int i = 0; i < 3; i++)
		add_conn(10 + i, "app", "db", "web", PM_STATE_IDLE, 1000 + i);
	for (int i = 0; i < 3; i++)
		add_conn(20 + i, "app", "db", "batch", PM_STATE_IDLE, 500 + i);
	assert_int_equal(decide(&s, 50), 2);
	/* longest idle first across pools: web's oldest, then batch's */
	assert_int_equal(snap.conns[snap.chosen[0]].pid, 12);
	assert_int_equal(snap.conns[snap.chosen[1]].pid, 22);
}

/* Equal state_since: the lower pid goes first and the higher one stays. */
static void
test_ties(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 1;
	add_conn(300, "app", "db", "web", PM_STATE_IDLE, 1000);
	add_conn(100, "app", "db", "web", PM_STATE_IDLE, 1000);
	add_conn(200, "app", "db", "web", PM_STATE_IDLE, 1000);
	assert_int_equal(decide(&s, 50), 2);
	assert_int_equal(snap.conns[snap.chosen[0]].pid, 100);
	assert_int_equal(snap.conns[snap.chosen[1]].pid, 200);
	assert_int_equal(snap.verdicts[0].protected_by, PM_PROTECT_MIN_IDLE);
}

/* Excluded roles, databases and applications are never touched. */
static void
test_exclusions(void **state)
{
	PmPolicySettings s = default_settings();
	LIST(roles, "keeper", "other");
	LIST(dbs, "kept_db");
	LIST(apps, "psql", "backup*");
	int			n;

	s.min_idle_per_pool = 0;
	s.exclude_roles = roles;
	s.exclude_databases = dbs;
	s.exclude_applications = apps;
	add_conn(1, "keeper", "db", "web", PM_STATE_IDLE, 1000);
	add_conn(2, "app", "kept_db", "web", PM_STATE_IDLE, 1000);
	add_conn(3, "app", "db", "psql", PM_STATE_IDLE, 1000);
	add_conn(4, "app", "db", "backup-nightly", PM_STATE_IDLE_IN_XACT, 1000);
	add_conn(5, "app", "db", "psql2", PM_STATE_IDLE, 1000);
	add_conn(6, "keeperx", "db", "web", PM_STATE_IDLE, 1000);
	n = decide(&s, 50);
	assert_int_equal(snap.verdicts[0].protected_by, PM_PROTECT_EXCLUDED_ROLE);
	assert_int_equal(snap.verdicts[1].protected_by, PM_PROTECT_EXCLUDED_DATABASE);
	assert_int_equal(snap.verdicts[2].protected_by, PM_PROTECT_EXCLUDED_APPLICATION);
	assert_int_equal(snap.verdicts[3].protected_by, PM_PROTECT_EXCLUDED_APPLICATION);
	assert_int_equal(snap.verdicts[3].prune_at, 0);
	assert_int_equal(n, 2);
	assert_int_equal(snap.conns[snap.chosen[0]].pid, 5);
	assert_int_equal(snap.conns[snap.chosen[1]].pid, 6);
}

/* '*' is the only wildcard; matching is case-sensitive and whole-string. */
static void
test_patterns(void **state)
{
	assert_true(pm_pattern_match("*", ""));
	assert_true(pm_pattern_match("*", "anything"));
	assert_true(pm_pattern_match("psql", "psql"));
	assert_false(pm_pattern_match("psql", "psql2"));
	assert_false(pm_pattern_match("psql", "Psql"));
	assert_true(pm_pattern_match("app-*", "app-"));
	assert_true(pm_pattern_match("app-*", "app-web"));
	assert_false(pm_pattern_match("app-*", "xapp-web"));
	assert_true(pm_pattern_match("*-worker", "billing-worker"));
	assert_false(pm_pattern_match("*-worker", "billing-worker2"));
	assert_true(pm_pattern_match("a*b*c", "aXXbYYc"));
	assert_true(pm_pattern_match("a*b*c", "abcbc"));
	assert_false(pm_pattern_match("a*b*c", "acb"));
	assert_true(pm_pattern_match("**x**", "x"));
	assert_true(pm_pattern_match("a?c", "a?c"));
	assert_false(pm_pattern_match("a?c", "abc"));
	assert_false(pm_pattern_match("", "a"));
	assert_true(pm_pattern_match("", ""));
	assert_true(pm_pattern_match("*aab", "aaaab"));
}

/* max_terminations bounds a run and keeps the longest idle; 0 = none. */
static void
test_limit(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 0;
	s.max_terminations = 3;
	for (int i = 0; i < 7; i++)
		add_conn(100 + i, "app", "db", "web", PM_STATE_IDLE, 400 + i);
	add_conn(200, "app", "db", "web", PM_STATE_IDLE_IN_XACT, 405);
	assert_int_equal(decide(&s, 50), 3);
	assert_int_equal(snap.conns[snap.chosen[0]].pid, 106);
	assert_int_equal(snap.conns[snap.chosen[1]].pid, 105);
	assert_int_equal(snap.conns[snap.chosen[2]].pid, 200);
	/* the rest stay due for the next run */
	assert_true(snap.verdicts[0].due);
	assert_false(snap.verdicts[0].chosen);

	s.max_terminations = 0;
	assert_int_equal(decide(&s, 50), 8);
}

/* Below prune_min_utilization, idle sessions stay; idle in xact goes. */
static void
test_utilization_gate(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 0;
	s.min_utilization = 80;
	add_conn(1, "app", "db", "web", PM_STATE_IDLE, 1000);
	add_conn(2, "app", "db", "web", PM_STATE_IDLE_IN_XACT, 1000);
	assert_int_equal(decide(&s, 79.9), 1);
	assert_int_equal(snap.chosen[0], 1);
	assert_int_equal(snap.verdicts[0].protected_by, PM_PROTECT_UTILIZATION);
	assert_int_equal(snap.verdicts[0].prune_at, 0);

	assert_int_equal(decide(&s, 80), 2);
	assert_int_equal(snap.verdicts[0].protected_by, PM_PROTECT_NONE);
}

/* Dry run decides exactly the same, and says so. */
static void
test_dry_run(void **state)
{
	PmPolicySettings s = default_settings();
	int			wet[MAXCONN];
	int			n;

	s.min_idle_per_pool = 1;
	for (int i = 0; i < 4; i++)
		add_conn(100 + i, "app", "db", "web", PM_STATE_IDLE, 400 + i);
	n = decide(&s, 50);
	assert_int_equal(n, 3);
	memcpy(wet, snap.chosen, sizeof(wet));
	assert_false(snap.verdicts[snap.chosen[0]].dry_run);
	s.dry_run = true;
	assert_int_equal(decide(&s, 50), n);
	assert_memory_equal(wet, snap.chosen, sizeof(int) * n);
	for (int i = 0; i < n; i++)
		assert_true(snap.verdicts[snap.chosen[i]].dry_run);
}

/* Idle in transaction (and aborted) by its own lifetime, with no floor. */
static void
test_idle_in_xact(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 5;
	add_conn(1, "app", "db", "web", PM_STATE_IDLE_IN_XACT, 61);
	add_conn(2, "app", "db", "web", PM_STATE_IDLE_IN_XACT_ABORTED, 70);
	add_conn(3, "app", "db", "web", PM_STATE_IDLE_IN_XACT, 59);
	add_conn(4, "app", "db", "web", PM_STATE_IDLE, 1000);
	assert_int_equal(decide(&s, 50), 2);
	assert_int_equal(snap.chosen[0], 1);
	assert_int_equal(snap.chosen[1], 0);
	assert_int_equal(snap.verdicts[1].reason, PM_REASON_IDLE_IN_XACT_LIFETIME);
	assert_false(snap.verdicts[2].due);
	assert_int_equal(snap.verdicts[2].prune_at, NOW + SEC);
	/* the lone idle session is under the floor of 5 */
	assert_int_equal(snap.verdicts[3].protected_by, PM_PROTECT_MIN_IDLE);

	/* a lifetime of 0 turns it off */
	s.idle_in_xact_lifetime = 0;
	assert_int_equal(decide(&s, 50), 0);
	assert_int_equal(snap.verdicts[0].prune_at, 0);
	assert_int_equal(snap.verdicts[0].reason, PM_REASON_NONE);
}

/* Superusers are protected unless terminate_superusers. */
static void
test_superusers(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 0;
	add_conn(1, "postgres", "db", "psql", PM_STATE_IDLE, 1000);
	add_conn(2, "postgres", "db", "psql", PM_STATE_IDLE_IN_XACT, 1000);
	add_conn(3, "app", "db", "psql", PM_STATE_IDLE, 1000);
	assert_int_equal(decide(&s, 50), 1);
	assert_int_equal(snap.chosen[0], 2);
	assert_int_equal(snap.verdicts[0].protected_by, PM_PROTECT_SUPERUSER);
	assert_int_equal(snap.verdicts[1].protected_by, PM_PROTECT_SUPERUSER);

	s.terminate_superusers = true;
	assert_int_equal(decide(&s, 50), 3);
}

/*
 * Sessions signalled by an earlier run but not yet gone: not chosen again,
 * no place in the limit, but they still fill the floor's endable places.
 */
static void
test_handled(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 2;
	s.max_terminations = 1;
	for (int i = 0; i < 5; i++)
		add_conn(100 + i, "app", "db", "web", PM_STATE_IDLE, 1000 - i);
	snap.facts[0].handled = true;
	/* endable: 100, 101, 102; 100 is on its way out, the limit takes 101 */
	assert_int_equal(decide(&s, 50), 1);
	assert_int_equal(snap.conns[snap.chosen[0]].pid, 101);

	s.max_terminations = 0;
	snap.facts[1].handled = true;
	snap.facts[2].handled = true;
	/* all three endable ones are going: nothing more, the floor holds */
	assert_int_equal(decide(&s, 50), 0);
	assert_int_equal(snap.verdicts[3].protected_by, PM_PROTECT_MIN_IDLE);
	assert_int_equal(snap.verdicts[4].protected_by, PM_PROTECT_MIN_IDLE);
}

/* Active and starting sessions are never candidates, nor anything when off. */
static void
test_active_and_off(void **state)
{
	PmPolicySettings s = default_settings();

	s.min_idle_per_pool = 0;
	add_conn(1, "app", "db", "web", PM_STATE_ACTIVE, 1000);
	add_conn(2, "app", "db", "web", PM_STATE_FASTPATH, 1000);
	add_conn(3, "app", "db", "web", PM_STATE_STARTING, 1000);
	add_conn(4, "app", "db", "web", PM_STATE_IDLE, 100);
	assert_int_equal(decide(&s, 50), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(snap.verdicts[i].prune_at, 0);
	assert_int_equal(snap.verdicts[3].prune_at, NOW + 200 * SEC);

	s.idle_lifetime = 0;
	s.idle_in_xact_lifetime = 0;
	snap.conns[3].state_since = NOW - 100000 * SEC;
	assert_int_equal(decide(&s, 50), 0);
	assert_int_equal(snap.verdicts[3].prune_at, 0);
	assert_int_equal(snap.verdicts[3].protected_by, PM_PROTECT_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_floor_keeps_most_recent, setup),
		cmocka_unit_test_setup(test_floor_counts_young_idle, setup),
		cmocka_unit_test_setup(test_floor_per_pool, setup),
		cmocka_unit_test_setup(test_ties, setup),
		cmocka_unit_test_setup(test_exclusions, setup),
		cmocka_unit_test_setup(test_patterns, setup),
		cmocka_unit_test_setup(test_limit, setup),
		cmocka_unit_test_setup(test_utilization_gate, setup),
		cmocka_unit_test_setup(test_dry_run, setup),
		cmocka_unit_test_setup(test_idle_in_xact, setup),
		cmocka_unit_test_setup(test_superusers, setup),
		cmocka_unit_test_setup(test_handled, setup),
		cmocka_unit_test_setup(test_active_and_off, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
