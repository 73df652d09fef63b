/*-------------------------------------------------------------------------
 *
 * registry_audit.c
 *		Deciding, from two audits in a row, that the registry missed a
 *		session; without side effects.
 *
 * An audit reads every backend-status slot and notes each client backend
 * the registry does not hold.  A session that is leaving has left the
 * registry a moment before it leaves the array, so one audit finding it
 * proves nothing.  A session is held to be missed when the next audit,
 * PM_REGISTRY_AUDIT_EVERY samples later, finds the same one again: the
 * same pid with the same start time (a pid alone may have been reused).
 * Each audit remembers only what it found itself, so a session must be
 * found by two audits in a row.
 *
 *-------------------------------------------------------------------------
 */
#include "registry_audit.h"

#include <string.h>

/* Start an audit: nothing found yet. */
void
pm_audit_begin(PmAuditState *state)
{
	state->ncurrent = 0;
	state->confirmed_pid = 0;
}

/* This audit found a session outside the registry. */
void
pm_audit_note(PmAuditState *state, int32_t pid, int64_t backend_start)
{
	for (int i = 0; i < state->nprevious; i++)
		if (state->previous[i].pid == pid &&
			state->previous[i].backend_start == backend_start)
			state->confirmed_pid = pid;
	if (state->ncurrent < PM_AUDIT_MAX_SUSPECTS)
	{
		state->current[state->ncurrent].pid = pid;
		state->current[state->ncurrent].backend_start = backend_start;
		state->ncurrent++;
	}
}

/*
 * End the audit; returns the pid of a session the last audit found too
 * (the registry missed it), or 0.
 */
int32_t
pm_audit_end(PmAuditState *state)
{
	memcpy(state->previous, state->current,
		   sizeof(PmAuditSuspect) * state->ncurrent);
	state->nprevious = state->ncurrent;
	return state->confirmed_pid;
}
