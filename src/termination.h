/*-------------------------------------------------------------------------
 *
 * termination.h
 *		Idle termination: its settings, the terminations ring in shared
 *		memory, the worker's prune step and what the SQL functions need.
 *
 * Who writes what: the worker alone writes ring entries, the per-pool
 * terminated counters and the served side of a prune_now() request (the
 * server-wide count is accounting.c's); prune_now()
 * callers write the request side.  Everything below is guarded by
 * pm_shared->lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_TERMINATION_H
#define POOL_MONITOR_TERMINATION_H

#include "pool_monitor.h"
#include "policy.h"

/* Entries kept in the terminations ring (about 256 bytes each). */
#define PM_TERMINATIONS_SIZE	1000

/* One termination, or would-be termination in a dry run. */
typedef struct PmTermination
{
	TimestampTz terminated_at;
	uint64		run;			/* prune run that decided it */
	int64		idle_for_us;	/* at the moment of the signal */
	int32		pid;
	Oid			roleid;			/* decides who sees client_addr */
	uint8		state;			/* PmState */
	uint8		reason;			/* PmReason */
	bool		dry_run;
	PmAddr		addr;
	NameData	database;		/* empty when unknown */
	NameData	role;
	char		appname[NAMEDATALEN];
} PmTermination;

/* The fixed part: ring bookkeeping, counters, the prune_now() handshake. */
typedef struct PmTerminationsShared
{
	int32		next;			/* where the next entry goes */
	int32		count;			/* entries kept, at most PM_TERMINATIONS_SIZE */
	uint64		runs;			/* prune runs since start */

	/* prune_now(): one caller at a time holds the request */
	int32		request_pid;	/* 0 when no caller holds it */
	bool		request_dry_run;
	uint64		requested;		/* request number, counted up by callers */
	uint64		served;			/* last request number served */
	uint64		served_run;		/* the run that served it */
	ConditionVariable cv;		/* broadcast when served or released */

	PmTermination entries[PM_TERMINATIONS_SIZE];
} PmTerminationsShared;

/* settings (prune_settings.c) */
extern int	pm_prune_interval_s;
extern void pm_define_termination_settings(void);
extern void pm_current_policy_settings(PmPolicySettings *settings);
extern bool pm_pruning_enabled(void);

/* the ring and SQL side (termination_api.c) */
extern PmTerminationsShared *pm_terminations;
extern Size pm_terminations_shmem_size(void);
extern void pm_terminations_shmem_startup(void);
extern void pm_reset_terminations(void);
extern PmVerdict *pm_connection_verdicts(const PmConnection *conns, int n,
										  const PmSummary *latest,
										  PmPolicyFacts *facts);
extern void pm_set_verdict_columns(Datum *values, bool *nulls, int first,
								   const PmVerdict *verdict);

/* the worker's prune step (terminate.c) */
extern bool pm_prune_due(void);
extern long pm_prune_wait_ms(void);
extern void pm_prune(PmSample *sample);

#endif							/* POOL_MONITOR_TERMINATION_H */
