/*-------------------------------------------------------------------------
 *
 * settings_advice.c
 *		Which valid settings contradict one another (see settings_advice.h).
 *		Pure: the worker gathers the settings and logs what this returns
 *		(hardening.c).
 *
 * Each rule names a combination where one setting silently defeats or
 * stretches another; none is refused, since each can be a deliberate
 * step (e.g. on the way to a final configuration).  Left out on purpose:
 * idle lifetimes against sample_interval, since each prune run takes a
 * fresh sample of its own.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>

#include "settings_advice.h"

/* See settings_advice.h. */
int
pm_find_contradictions(const PmSettingsInput *in, PmContradiction *found)
{
	int			n = 0;
	bool		idle_pruning = in->idle_lifetime_s > 0;

	/* a session becomes due between two runs and waits for the next */
	if (idle_pruning && in->idle_lifetime_s < in->prune_interval_s)
		found[n++] = PM_IDLE_LIFETIME_BELOW_PRUNE_INTERVAL;
	if (in->idle_in_xact_lifetime_s > 0 &&
		in->idle_in_xact_lifetime_s < in->prune_interval_s)
		found[n++] = PM_IDLE_IN_XACT_LIFETIME_BELOW_PRUNE_INTERVAL;

	/* no pool can hold more idle sessions than the server has slots */
	if (idle_pruning && in->usable_connections > 0 &&
		in->min_idle_per_pool >= in->usable_connections)
		found[n++] = PM_MIN_IDLE_NOT_BELOW_USABLE;

	/* the alert fires before pruning starts to relieve the server */
	if (idle_pruning && in->alert_utilization > 0 &&
		in->prune_min_utilization > in->alert_utilization)
		found[n++] = PM_PRUNE_UTILIZATION_ABOVE_ALERT;

	if (in->dry_run && in->idle_lifetime_s == 0 &&
		in->idle_in_xact_lifetime_s == 0)
		found[n++] = PM_DRY_RUN_WITHOUT_LIFETIME;

	/* every sample during a storm of refusals may raise an alert */
	if (in->alert_cooldown_s == 0)
		found[n++] = PM_ALERT_COOLDOWN_ZERO;

	/* a line is written at most once per sample */
	if (in->log_interval_s > 0 &&
		(long) in->log_interval_s * 1000 < in->sample_interval_ms)
		found[n++] = PM_LOG_INTERVAL_BELOW_SAMPLE_INTERVAL;

	return n;
}
