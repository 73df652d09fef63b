/*-------------------------------------------------------------------------
 *
 * settings_advice.h
 *		Combinations of settings that are each valid but together do not
 *		do what their author likely meant, found by a pure function so
 *		that unit tests can run it (test/unit/test_settings_advice.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_SETTINGS_ADVICE_H
#define POOL_MONITOR_SETTINGS_ADVICE_H

#include <stdbool.h>

/* The settings that take part, in their GUC units; 0 = off as usual. */
typedef struct PmSettingsInput
{
	int			sample_interval_ms;
	int			prune_interval_s;
	int			idle_lifetime_s;
	int			idle_in_xact_lifetime_s;
	int			min_idle_per_pool;
	int			prune_min_utilization;	/* percent */
	int			alert_utilization;	/* percent */
	int			alert_cooldown_s;
	int			log_interval_s;
	bool		dry_run;
	int			usable_connections; /* max_connections less the reserved */
} PmSettingsInput;

/* One contradiction each; the worker's log message explains it. */
typedef enum PmContradiction
{
	PM_IDLE_LIFETIME_BELOW_PRUNE_INTERVAL,
	PM_IDLE_IN_XACT_LIFETIME_BELOW_PRUNE_INTERVAL,
	PM_MIN_IDLE_NOT_BELOW_USABLE,
	PM_PRUNE_UTILIZATION_ABOVE_ALERT,
	PM_DRY_RUN_WITHOUT_LIFETIME,
	PM_ALERT_COOLDOWN_ZERO,
	PM_LOG_INTERVAL_BELOW_SAMPLE_INTERVAL,
	PM_CONTRADICTION_COUNT
} PmContradiction;

/*
 * Write the contradictions that hold into found (room for
 * PM_CONTRADICTION_COUNT), in enum order; return how many.
 */
extern int	pm_find_contradictions(const PmSettingsInput *in,
								   PmContradiction *found);

#endif							/* POOL_MONITOR_SETTINGS_ADVICE_H */
