/*-------------------------------------------------------------------------
 *
 * alert_policy.c
 *		Which alerts one sample raises, decided without side effects.
 *
 * Utilization: an episode starts when a sample's utilization reaches the
 * threshold and ends when it falls below the recovery level, a few points
 * lower (hysteresis, so that a pool hovering at the threshold does not
 * flap).  The first sample of an episode raises "utilization" unless one
 * was raised less than the cooldown ago; then a later sample of the same
 * episode raises it once the cooldown has passed.  An episode that raised
 * "utilization" raises "recovered" once when it ends; an episode that
 * raised nothing ends silently.
 *
 * Rejections: any refusal not yet reported raises "rejected" unless one
 * was raised less than the cooldown ago; refusals during the cooldown are
 * reported by the next one, so none is lost.
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
		if (!state->utilization_alerted &&
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
