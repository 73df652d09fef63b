/*-------------------------------------------------------------------------
 *
 * alert_policy.h
 *		The pure decision of which alerts a sample raises: utilization
 *		threshold with hysteresis, rejections, and the cooldown between two
 *		alerts of the same kind.
 *
 * Plain C with no PostgreSQL dependency, so that test/unit/test_alerts.c
 * can exercise it with cmocka outside a server.  The state lives in
 * shared memory (PmAlertRing), so a restarted worker keeps it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_ALERT_POLICY_H
#define POOL_MONITOR_ALERT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* Utilization must fall this many points below the threshold to recover. */
#define PM_ALERT_HYSTERESIS_POINTS	5.0

/* What the policy remembers between samples. Zero it to start. */
typedef struct PmAlertPolicyState
{
	bool		utilization_alerted;	/* alerted, not recovered yet */
	bool		utilization_fired;	/* last_utilization_us is valid */
	bool		rejected_fired; /* last_rejected_us is valid */
	int64_t		last_utilization_us;
	int64_t		last_rejected_us;
	uint64_t	rejected_reported;	/* rejections covered by alerts so far */
} PmAlertPolicyState;

/* One sample's figures, and the settings in force. */
typedef struct PmAlertInput
{
	int64_t		now_us;			/* any monotonic clock in microseconds */
	double		utilization;	/* percent of usable connections */
	int			threshold;		/* percent; 0 turns utilization alerts off */
	int64_t		cooldown_us;	/* between two alerts of one kind, but for
								 * a new utilization episode */
	uint64_t	rejected_total; /* 53300 refusals since server start */
} PmAlertInput;

/* What to raise for this sample. */
typedef struct PmAlertDecision
{
	bool		utilization;
	bool		rejected;
	bool		recovered;
	uint64_t	new_rejections; /* refusals the rejected alert reports */
} PmAlertDecision;

extern double pm_alert_recovery_level(int threshold);
extern void pm_alert_forget(PmAlertPolicyState *state);
extern PmAlertDecision pm_alert_decide(PmAlertPolicyState *state,
									   const PmAlertInput *input);

#endif							/* POOL_MONITOR_ALERT_POLICY_H */
