/*-------------------------------------------------------------------------
 *
 * test_registry_audit.c
 *		cmocka unit tests of the registry audit's decision
 *		(src/registry_audit.c): a session counts as missed by the registry
 *		only when two audits in a row find the same one.
 *
 * The decision is pure C, so it is compiled in directly; run by
 * `make unit`.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/registry_audit.c"

/* One audit that finds the n sessions given as pid, start pairs. */
static int32_t
audit(PmAuditState *state, int n, const int64_t *found)
{
	pm_audit_begin(state);
	for (int i = 0; i < n; i++)
		pm_audit_note(state, (int32_t) found[2 * i], found[2 * i + 1]);
	return pm_audit_end(state);
}

static void
test_one_audit_proves_nothing(void **unused)
{
	PmAuditState state = {0};
	int64_t		leaving[] = {101, 5000, 102, 6000};

	assert_int_equal(audit(&state, 2, leaving), 0);
}

static void
test_same_session_twice_is_missed(void **unused)
{
	PmAuditState state = {0};
	int64_t		first[] = {101, 5000, 102, 6000};
	int64_t		second[] = {103, 7000, 102, 6000};

	assert_int_equal(audit(&state, 2, first), 0);
	assert_int_equal(audit(&state, 2, second), 102);
}

static void
test_reused_pid_is_another_session(void **unused)
{
	PmAuditState state = {0};
	int64_t		first[] = {101, 5000};
	int64_t		second[] = {101, 9000};

	assert_int_equal(audit(&state, 1, first), 0);
	assert_int_equal(audit(&state, 1, second), 0);
}

static void
test_audits_must_be_in_a_row(void **unused)
{
	PmAuditState state = {0};
	int64_t		found[] = {101, 5000};

	assert_int_equal(audit(&state, 1, found), 0);
	assert_int_equal(audit(&state, 0, NULL), 0);
	assert_int_equal(audit(&state, 1, found), 0);
	assert_int_equal(audit(&state, 1, found), 101);
}

static void
test_clean_audit_clears_the_answer(void **unused)
{
	PmAuditState state = {0};
	int64_t		found[] = {101, 5000};

	audit(&state, 1, found);
	assert_int_equal(audit(&state, 1, found), 101);
	assert_int_equal(audit(&state, 0, NULL), 0);
}

static void
test_suspects_beyond_capacity_are_not_remembered(void **unused)
{
	PmAuditState state = {0};
	PmAuditState other = {0};
	int64_t		found[2 * (PM_AUDIT_MAX_SUSPECTS + 1)];

	for (int i = 0; i <= PM_AUDIT_MAX_SUSPECTS; i++)
	{
		found[2 * i] = 200 + i;
		found[2 * i + 1] = 1000;
	}
	assert_int_equal(audit(&state, PM_AUDIT_MAX_SUSPECTS + 1, found), 0);
	assert_int_equal(state.nprevious, PM_AUDIT_MAX_SUSPECTS);
	/* the last one, past capacity, was not remembered: no second miss */
	assert_int_equal(audit(&state, 1, &found[2 * PM_AUDIT_MAX_SUSPECTS]), 0);
	/* the first ones were: found again, one is confirmed */
	assert_int_equal(audit(&other, PM_AUDIT_MAX_SUSPECTS + 1, found), 0);
	assert_int_equal(audit(&other, 1, found), 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_audit_proves_nothing),
		cmocka_unit_test(test_same_session_twice_is_missed),
		cmocka_unit_test(test_reused_pid_is_another_session),
		cmocka_unit_test(test_audits_must_be_in_a_row),
		cmocka_unit_test(test_clean_audit_clears_the_answer),
		cmocka_unit_test(test_suspects_beyond_capacity_are_not_remembered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
