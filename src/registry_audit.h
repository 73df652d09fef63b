/*-------------------------------------------------------------------------
 *
 * registry_audit.h
 *		The pure decision of the sampler's registry audit: has a session
 *		been missed by the registry, or is it only on its way out?
 *
 * Plain C with no PostgreSQL dependency, so that
 * test/unit/test_registry_audit.c can exercise it with cmocka outside a
 * server.  status_reader.c feeds it and acts on its answer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_REGISTRY_AUDIT_H
#define POOL_MONITOR_REGISTRY_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

/* Unregistered sessions one audit remembers for the next. */
#define PM_AUDIT_MAX_SUSPECTS 16

/* A session an audit found outside the registry. */
typedef struct PmAuditSuspect
{
	int32_t		pid;
	int64_t		backend_start;	/* tells a reused pid apart */
} PmAuditSuspect;

/* What the audits remember. Zero it to start. */
typedef struct PmAuditState
{
	PmAuditSuspect previous[PM_AUDIT_MAX_SUSPECTS];	/* the last audit's */
	int			nprevious;
	PmAuditSuspect current[PM_AUDIT_MAX_SUSPECTS];	/* this audit's */
	int			ncurrent;
	int32_t		confirmed_pid;	/* a session both audits found, or 0 */
} PmAuditState;

extern void pm_audit_begin(PmAuditState *state);
extern void pm_audit_note(PmAuditState *state, int32_t pid,
						  int64_t backend_start);
extern int32_t pm_audit_end(PmAuditState *state);

#endif							/* POOL_MONITOR_REGISTRY_AUDIT_H */
