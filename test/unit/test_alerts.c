/*-------------------------------------------------------------------------
 *
 * test_alerts.c
 *		cmocka unit tests of the alert policy (src/alert_policy.c): the
 *		utilization threshold, its hysteresis, the rejected alert, the
 *		cooldown between two alerts of one kind, and what reset() forgets.
 *
 * The policy is pure C, so it is compiled in directly; run by `make unit`.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/alert_policy.c"

#define SEC 1000000LL

/* One sample at time t seconds, with the given figures. */
static PmAlertDecision
sample(PmAlertPolicyState *state, int64_t t, double utilization,
	   int threshold, int cooldown_s, uint64_t rejected_total)
{
	PmAlertInput input;

	input.now_us = t * SEC;
	input.utilization = utilization;
	input.threshold = threshold;
	input.cooldown_us = cooldown_s * SEC;
	input.rejected_total = rejected_total;
	return pm_alert_decide(state, &input);
}

static void
test_below_threshold_raises_nothing(void **unused)
{
	PmAlertPolicyState state = {0};
	PmAlertDecision d = sample(&state, 0, 89.9, 90, 60, 0);

	assert_false(d.utilization);
	assert_false(d.recovered);
	assert_false(d.rejected);
}

static void
test_episode_raises_again_each_cooldown(void **unused)
{
	PmAlertPolicyState state = {0};

	assert_true(sample(&state, 0, 90.0, 90, 60, 0).utilization);
	/* still above: the same episode, nothing until the cooldown passes */
	assert_false(sample(&state, 1, 95.0, 90, 60, 0).utilization);
	assert_false(sample(&state, 59, 99.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 60, 99.0, 90, 60, 0).utilization);
	assert_false(sample(&state, 61, 99.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 120, 99.0, 90, 60, 0).utilization);
}

static void
test_hysteresis_delays_recovery(void **unused)
{
	PmAlertPolicyState state = {0};

	assert_true(sample(&state, 0, 92.0, 90, 60, 0).utilization);
	/* below the threshold but within 5 points: not recovered */
	assert_false(sample(&state, 1, 86.0, 90, 60, 0).recovered);
	assert_false(sample(&state, 2, 85.0, 90, 60, 0).recovered);
	/* back above inside the band: no new alert, still the same episode */
	assert_false(sample(&state, 3, 91.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 4, 84.9, 90, 60, 0).recovered);
	/* recovered once only */
	assert_false(sample(&state, 5, 10.0, 90, 60, 0).recovered);
}

static void
test_new_episode_raises_within_cooldown(void **unused)
{
	PmAlertPolicyState state = {0};

	assert_true(sample(&state, 0, 95.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 10, 50.0, 90, 60, 0).recovered);
	/* a new episode 20 s after the alert: raised all the same */
	assert_true(sample(&state, 20, 95.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 30, 50.0, 90, 60, 0).recovered);
	assert_true(sample(&state, 40, 95.0, 90, 60, 0).utilization);
	/* its reminder counts from its own alert */
	assert_false(sample(&state, 99, 95.0, 90, 60, 0).utilization);
	assert_true(sample(&state, 100, 95.0, 90, 60, 0).utilization);
}

static void
test_forget_ends_cooldowns_and_episode(void **unused)
{
	PmAlertPolicyState state = {0};
	PmAlertDecision d;

	assert_true(sample(&state, 0, 95.0, 90, 60, 1).rejected);
	assert_false(sample(&state, 10, 95.0, 90, 60, 3).rejected);
	pm_alert_forget(&state);
	/* the held refusals are reported at once, and only those */
	d = sample(&state, 11, 95.0, 90, 60, 3);
	assert_true(d.rejected);
	assert_int_equal(d.new_rejections, 2);
	/* the episode is new again: raised, and recovered later */
	assert_true(d.utilization);
	assert_true(sample(&state, 12, 50.0, 90, 60, 3).recovered);
	/* nothing reported twice */
	pm_alert_forget(&state);
	assert_false(sample(&state, 13, 50.0, 90, 60, 3).rejected);
}

static void
test_zero_threshold_turns_utilization_off(void **unused)
{
	PmAlertPolicyState state = {0};

	assert_false(sample(&state, 0, 100.0, 0, 60, 0).utilization);
	assert_true(sample(&state, 1, 100.0, 90, 60, 0).utilization);
	/* switched off mid-episode: no recovered either, now or later */
	assert_false(sample(&state, 2, 0.0, 0, 60, 0).recovered);
	assert_false(sample(&state, 3, 0.0, 90, 60, 0).recovered);
}

static void
test_recovery_level(void **unused)
{
	assert_true(pm_alert_recovery_level(90) == 85.0);
	assert_true(pm_alert_recovery_level(100) == 95.0);
	/* small thresholds: half the threshold, never zero or below */
	assert_true(pm_alert_recovery_level(6) == 3.0);
	assert_true(pm_alert_recovery_level(1) == 0.5);
}

static void
test_rejections_raise_with_count(void **unused)
{
	PmAlertPolicyState state = {0};
	PmAlertDecision d;

	assert_false(sample(&state, 0, 0.0, 90, 60, 0).rejected);
	d = sample(&state, 1, 0.0, 90, 60, 3);
	assert_true(d.rejected);
	assert_int_equal(d.new_rejections, 3);
	/* no new refusal: nothing, even after the cooldown */
	assert_false(sample(&state, 100, 0.0, 90, 60, 3).rejected);
}

static void
test_rejections_during_cooldown_are_reported_later(void **unused)
{
	PmAlertPolicyState state = {0};
	PmAlertDecision d;

	assert_true(sample(&state, 0, 0.0, 90, 60, 1).rejected);
	assert_false(sample(&state, 10, 0.0, 90, 60, 2).rejected);
	assert_false(sample(&state, 59, 0.0, 90, 60, 5).rejected);
	d = sample(&state, 60, 0.0, 90, 60, 5);
	assert_true(d.rejected);
	assert_int_equal(d.new_rejections, 4);
}

static void
test_kinds_have_separate_cooldowns(void **unused)
{
	PmAlertPolicyState state = {0};
	PmAlertDecision d;

	assert_true(sample(&state, 0, 95.0, 90, 60, 0).utilization);
	d = sample(&state, 1, 95.0, 90, 60, 1);
	assert_true(d.rejected);
	assert_false(d.utilization);
}

static void
test_zero_cooldown_raises_each_sample(void **unused)
{
	PmAlertPolicyState state = {0};

	assert_true(sample(&state, 0, 95.0, 90, 0, 0).utilization);
	assert_true(sample(&state, 0, 95.0, 90, 0, 0).utilization);
	assert_true(sample(&state, 0, 50.0, 90, 0, 0).recovered);
	assert_true(sample(&state, 0, 95.0, 90, 0, 0).utilization);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_below_threshold_raises_nothing),
		cmocka_unit_test(test_episode_raises_again_each_cooldown),
		cmocka_unit_test(test_hysteresis_delays_recovery),
		cmocka_unit_test(test_new_episode_raises_within_cooldown),
		cmocka_unit_test(test_forget_ends_cooldowns_and_episode),
		cmocka_unit_test(test_zero_threshold_turns_utilization_off),
		cmocka_unit_test(test_recovery_level),
		cmocka_unit_test(test_rejections_raise_with_count),
		cmocka_unit_test(test_rejections_during_cooldown_are_reported_later),
		cmocka_unit_test(test_kinds_have_separate_cooldowns),
		cmocka_unit_test(test_zero_cooldown_raises_each_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
