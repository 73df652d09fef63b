/*-------------------------------------------------------------------------
 *
 * alert_policy.c
 *		Which alerts one sample raises, decided without side effects.
 *
 * Utilization: an episode starts when a sample's utilization reaches the
 * threshold and ends when it falls below the recovery level, a few points
 * lower (hysteresis, so that a pool hovering at the threshold does not
 * flap).  Every episode raises "utilization" on its first sample, however
 * recently another one did; while it lasts, it raises it again each
 * cooldown; when it ends it raises "recovered" once.
 *
 * Rejections: any refusal not yet reported raises "rejected" unless one
 * was raised less than the cooldown ago; refusals during the cooldown are
 * reported by the next one, so none is lost.
 *
 * reset() makes the worker forget both cooldowns and the episode, so the
 * first sample after it reports what is true then.
 *
 *-------------------------------------------------------------------------
 */
#include "alert_policy.h"

/*
 * The utilization below which an alerted episode recovers: the threshold
 * less PM_ALERT_HYSTERESIS_POINTS, or half the threshold when that is
 * smaller than the hysteresis.
 */
double
pm_alert_recovery_level(int threshold)
{
	double		hysteresis = PM_ALERT_HYSTERESIS_POINTS;

	if (threshold / 2.0 < hysteresis)
		hysteresis = threshold / 2.0;
	return threshold - hysteresis;
}

/* Has the cooldown passed since an alert raised at "last" (if any)? */
static bool
cooled_down(bool fired, int64_t last, const PmAlertInput *input)
{
	return !fired || input->now_us - last >= input->cooldown_us;
}

static void
decide_utilization(PmAlertPolicyState *state, const PmAlertInput *input,
				   PmAlertDecision *decision)
{
	if (input->threshold <= 0)
	{
		/* switched off: forget any episode, say nothing */
		state->utilization_alerted = false;
		return;
	}
	if (input->utilization >= input->threshold)
	{
		/* a new episode, or the same one a cooldown after its last alert */
		if (!state->utilization_alerted ||
			cooled_down(state->utilization_fired,
						state->last_utilization_us, input))
		{
			decision->utilization = true;
			state->utilization_alerted = true;
			state->utilization_fired = true;
			state->last_utilization_us = input->now_us;
		}
	}
	else if (state->utilization_alerted &&
			 input->utilization < pm_alert_recovery_level(input->threshold))
	{
		decision->recovered = true;
		state->utilization_alerted = false;
	}
}

static void
decide_rejected(PmAlertPolicyState *state, const PmAlertInput *input,
				PmAlertDecision *decision)
{
	if (input->rejected_total <= state->rejected_reported)
		return;
	if (!cooled_down(state->rejected_fired, state->last_rejected_us, input))
		return;
	decision->rejected = true;
	decision->new_rejections = input->rejected_total - state->rejected_reported;
	state->rejected_reported = input->rejected_total;
	state->rejected_fired = true;
	state->last_rejected_us = input->now_us;
}

/*
 * Forget the episode and both cooldowns, keeping which refusals were
 * reported: what reset() asks of the policy.
 */
void
pm_alert_forget(PmAlertPolicyState *state)
{
	state->utilization_alerted = false;
	state->utilization_fired = false;
	state->rejected_fired = false;
}

/*
 * Decide the alerts of one sample and update *state accordingly.
 */
PmAlertDecision
pm_alert_decide(PmAlertPolicyState *state, const PmAlertInput *input)
{
	PmAlertDecision decision = {false, false, false, 0};

	decide_utilization(state, input, &decision);
	decide_rejected(state, input, &decision);
	return decision;
}
