/*-------------------------------------------------------------------------
 *
 * policy.h
 *		The idle-termination policy as a pure function: a snapshot of
 *		client connections, facts resolved about each beforehand, and the
 *		settings in; a verdict per connection and the ordered list of
 *		sessions to end out.
 *
 * Nothing here touches PostgreSQL's globals, shared memory, catalogs or
 * signals, and nothing allocates: callers pass every array.  That keeps the
 * decision testable in a standalone program (test/unit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_POLICY_H
#define POOL_MONITOR_POLICY_H

#include "pool_monitor.h"

/* A parsed list of names or patterns (a setting's "extra"). */
typedef struct PmNameList
{
	int			nitems;
	const char *items[FLEXIBLE_ARRAY_MEMBER];
} PmNameList;

/* The settings the policy reads; lifetimes in seconds, 0 = off. */
typedef struct PmPolicySettings
{
	int			idle_lifetime;
	int			idle_in_xact_lifetime;
	int			min_idle_per_pool;
	int			max_terminations;	/* per run, 0 = no limit */
	int			min_utilization;	/* percent, 0 = always prune idle */
	bool		dry_run;
	bool		terminate_superusers;
	const PmNameList *exclude_roles;	/* NULL = empty */
	const PmNameList *exclude_databases;
	const PmNameList *exclude_applications;
} PmPolicySettings;

/* What is known about a connection beyond the sample, resolved beforehand. */
typedef struct PmPolicyFacts
{
	const char *role;			/* NULL when unknown (dropped role) */
	const char *database;
	bool		is_superuser;
	bool		handled;		/* already ended (or recorded) by an earlier
								 * run and not yet gone: counts towards the
								 * floor, never chosen again */
} PmPolicyFacts;

/* Why a connection may not be ended; see pm_protection_name(). */
typedef enum PmProtection
{
	PM_PROTECT_NONE = 0,
	PM_PROTECT_SUPERUSER,
	PM_PROTECT_EXCLUDED_ROLE,
	PM_PROTECT_EXCLUDED_DATABASE,
	PM_PROTECT_EXCLUDED_APPLICATION,
	PM_PROTECT_MIN_IDLE,
	PM_PROTECT_UTILIZATION
} PmProtection;

/* Which lifetime ends a connection; see pm_reason_name(). */
typedef enum PmReason
{
	PM_REASON_NONE = 0,
	PM_REASON_IDLE_LIFETIME,
	PM_REASON_IDLE_IN_XACT_LIFETIME
} PmReason;

/* The policy's view of one connection. */
typedef struct PmVerdict
{
	uint8		protected_by;	/* PmProtection */
	uint8		reason;			/* PmReason of the lifetime that applies */
	bool		due;			/* past its lifetime and not protected */
	bool		chosen;			/* to be ended in this run */
	bool		dry_run;		/* chosen, but only to be recorded */
	TimestampTz prune_at;		/* when it becomes due; 0 when none applies */
} PmVerdict;

/* Scratch space the caller passes in: one per connection. */
typedef struct PmPolicyItem
{
	const PmPoolKey *key;
	TimestampTz since;
	int32		pid;
	int			index;
} PmPolicyItem;

extern int	pm_decide(const PmConnection *conns, const PmPolicyFacts *facts,
					  int n, const PmPolicySettings *settings,
					  double utilization, TimestampTz now,
					  PmVerdict *verdicts, int *chosen,
					  PmPolicyItem *scratch);
extern bool pm_pattern_match(const char *pattern, const char *text);
extern bool pm_name_listed(const PmNameList *list, const char *name);
extern bool pm_pattern_listed(const PmNameList *list, const char *text);
extern const char *pm_protection_name(PmProtection protection);
extern const char *pm_reason_name(PmReason reason);

#endif							/* POOL_MONITOR_POLICY_H */
