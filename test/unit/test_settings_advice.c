/*-------------------------------------------------------------------------
 *
 * test_settings_advice.c
 *		cmocka unit tests of the contradictory-settings rules
 *		(src/settings_advice.c): each rule fires on its combination, not
 *		at the boundary, and the defaults raise nothing.
 *
 * The rules are pure C, so the source is compiled in directly; run by
 * `make unit`.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/settings_advice.c"

/* The shipped defaults, on a server with 100 usable connections. */
static PmSettingsInput
defaults(void)
{
	PmSettingsInput in;

	in.sample_interval_ms = 1000;
	in.prune_interval_s = 10;
	in.idle_lifetime_s = 0;
	in.idle_in_xact_lifetime_s = 0;
	in.min_idle_per_pool = 5;
	in.prune_min_utilization = 0;
	in.alert_utilization = 90;
	in.alert_cooldown_s = 60;
	in.log_interval_s = 60;
	in.dry_run = false;
	in.usable_connections = 100;
	return in;
}

/* Does exactly one contradiction hold, and is it what? */
static void
assert_only(const PmSettingsInput *in, PmContradiction what)
{
	PmContradiction found[PM_CONTRADICTION_COUNT];

	assert_int_equal(pm_find_contradictions(in, found), 1);
	assert_int_equal(found[0], what);
}

static void
assert_none(const PmSettingsInput *in)
{
	PmContradiction found[PM_CONTRADICTION_COUNT];

	assert_int_equal(pm_find_contradictions(in, found), 0);
}

static void
test_defaults_raise_nothing(void **unused)
{
	PmSettingsInput in = defaults();

	assert_none(&in);
	in.idle_lifetime_s = 300;
	in.idle_in_xact_lifetime_s = 60;
	assert_none(&in);
}

static void
test_lifetimes_against_prune_interval(void **unused)
{
	PmSettingsInput in = defaults();

	in.idle_lifetime_s = 9;
	assert_only(&in, PM_IDLE_LIFETIME_BELOW_PRUNE_INTERVAL);
	in.idle_lifetime_s = 10;	/* equal: due at most one interval late */
	assert_none(&in);

	in = defaults();
	in.idle_in_xact_lifetime_s = 5;
	assert_only(&in, PM_IDLE_IN_XACT_LIFETIME_BELOW_PRUNE_INTERVAL);
	in.idle_in_xact_lifetime_s = 10;
	assert_none(&in);
}

static void
test_min_idle_against_usable_connections(void **unused)
{
	PmSettingsInput in = defaults();

	in.idle_lifetime_s = 60;
	in.min_idle_per_pool = 100;
	assert_only(&in, PM_MIN_IDLE_NOT_BELOW_USABLE);
	in.min_idle_per_pool = 99;
	assert_none(&in);
	/* without idle pruning the floor keeps nothing from happening */
	in.min_idle_per_pool = 1000;
	in.idle_lifetime_s = 0;
	assert_none(&in);
}

static void
test_prune_utilization_against_alert(void **unused)
{
	PmSettingsInput in = defaults();

	in.idle_lifetime_s = 60;
	in.prune_min_utilization = 91;
	assert_only(&in, PM_PRUNE_UTILIZATION_ABOVE_ALERT);
	in.prune_min_utilization = 90;
	assert_none(&in);
	in.prune_min_utilization = 95;
	in.alert_utilization = 0;	/* alerts off: nothing to come first */
	assert_none(&in);
}

static void
test_dry_run_without_lifetime(void **unused)
{
	PmSettingsInput in = defaults();

	in.dry_run = true;
	assert_only(&in, PM_DRY_RUN_WITHOUT_LIFETIME);
	in.idle_in_xact_lifetime_s = 30;
	assert_none(&in);
}

static void
test_alert_cooldown_zero(void **unused)
{
	PmSettingsInput in = defaults();

	in.alert_cooldown_s = 0;
	assert_only(&in, PM_ALERT_COOLDOWN_ZERO);
	in.alert_cooldown_s = 1;
	assert_none(&in);
}

static void
test_log_interval_against_sample_interval(void **unused)
{
	PmSettingsInput in = defaults();

	in.sample_interval_ms = 5000;
	in.log_interval_s = 4;
	assert_only(&in, PM_LOG_INTERVAL_BELOW_SAMPLE_INTERVAL);
	in.log_interval_s = 5;
	assert_none(&in);
	in.log_interval_s = 0;		/* lines off */
	assert_none(&in);
}

static void
test_several_at_once_in_enum_order(void **unused)
{
	PmSettingsInput in = defaults();
	PmContradiction found[PM_CONTRADICTION_COUNT];

	in.idle_lifetime_s = 1;
	in.alert_cooldown_s = 0;
	in.min_idle_per_pool = 500;
	assert_int_equal(pm_find_contradictions(&in, found), 3);
	assert_int_equal(found[0], PM_IDLE_LIFETIME_BELOW_PRUNE_INTERVAL);
	assert_int_equal(found[1], PM_MIN_IDLE_NOT_BELOW_USABLE);
	assert_int_equal(found[2], PM_ALERT_COOLDOWN_ZERO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_raise_nothing),
		cmocka_unit_test(test_lifetimes_against_prune_interval),
		cmocka_unit_test(test_min_idle_against_usable_connections),
		cmocka_unit_test(test_prune_utilization_against_alert),
		cmocka_unit_test(test_dry_run_without_lifetime),
		cmocka_unit_test(test_alert_cooldown_zero),
		cmocka_unit_test(test_log_interval_against_sample_interval),
		cmocka_unit_test(test_several_at_once_in_enum_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
