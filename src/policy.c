/*-------------------------------------------------------------------------
 *
 * policy.c
 *		The idle-termination policy: which client connections to end in one
 *		run, in which order, and why every other one is spared.
 *
 * A pure function of its arguments (see policy.h).  The rules:
 *
 *	- A connection is protected when its role is a superuser (unless
 *	  terminate_superusers), or its role, database or application_name is
 *	  excluded.  Protected connections are never ended and never due.
 *	- Idle connections become due idle_lifetime after they went idle.  Per
 *	  pool, counting every idle connection of the pool, the min_idle_per_pool
 *	  most recently idle ones are kept (protected by the floor); only the
 *	  longer-idle rest may be ended.  While server utilization is below
 *	  min_utilization, no idle connection is ended.
 *	- Idle-in-transaction connections (aborted or not) become due
 *	  idle_in_xact_lifetime after they went idle; no floor and no
 *	  utilization gate applies.
 *	- Due connections are ended longest idle first, at most max_terminations
 *	  per run.  Ties (the same state_since) go to the lower pid first.
 *	  Connections already handled by an earlier run (signalled but not yet
 *	  gone) are not chosen again and take no place in the limit, but still
 *	  count towards their pool's floor.
 *
 * A lifetime of 0 turns its kind of pruning off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define USECS_PER_S	INT64CONST(1000000)

/*
 * Does text match pattern?  '*' matches any run of characters, everything
 * else matches itself, case-sensitively.  Iterative, with one backtrack
 * point, so it is linear in practice and never recurses.
 */
bool
pm_pattern_match(const char *pattern, const char *text)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*text)
	{
		if (*pattern == '*')
		{
			star = pattern++;
			resume = text;
		}
		else if (*pattern == *text)
		{
			pattern++;
			text++;
		}
		else if (star)
		{
			pattern = star + 1;
			text = ++resume;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/* Is name (NULL: unknown) one of the list's names? */
bool
pm_name_listed(const PmNameList *list, const char *name)
{
	if (list == NULL || name == NULL)
		return false;
	for (int i = 0; i < list->nitems; i++)
		if (strcmp(list->items[i], name) == 0)
			return true;
	return false;
}

/* Does text match one of the list's patterns? */
bool
pm_pattern_listed(const PmNameList *list, const char *text)
{
	if (list == NULL)
		return false;
	for (int i = 0; i < list->nitems; i++)
		if (pm_pattern_match(list->items[i], text))
			return true;
	return false;
}

/* The protection as the connections view's protected_by shows it. */
const char *
pm_protection_name(PmProtection protection)
{
	switch (protection)
	{
		case PM_PROTECT_SUPERUSER:
			return "superuser";
		case PM_PROTECT_EXCLUDED_ROLE:
			return "exclude_roles";
		case PM_PROTECT_EXCLUDED_DATABASE:
			return "exclude_databases";
		case PM_PROTECT_EXCLUDED_APPLICATION:
			return "exclude_applications";
		case PM_PROTECT_MIN_IDLE:
			return "min_idle_per_pool";
		case PM_PROTECT_UTILIZATION:
			return "prune_min_utilization";
		case PM_PROTECT_NONE:
			break;
	}
	return NULL;
}

/* The reason as the log and the terminations view show it. */
const char *
pm_reason_name(PmReason reason)
{
	switch (reason)
	{
		case PM_REASON_IDLE_LIFETIME:
			return "idle_lifetime";
		case PM_REASON_IDLE_IN_XACT_LIFETIME:
			return "idle_in_transaction_lifetime";
		case PM_REASON_NONE:
			break;
	}
	return NULL;
}

static PmProtection
protection_of(const PmConnection *conn, const PmPolicyFacts *facts,
			  const PmPolicySettings *settings)
{
	if (facts->is_superuser && !settings->terminate_superusers)
		return PM_PROTECT_SUPERUSER;
	if (pm_name_listed(settings->exclude_roles, facts->role))
		return PM_PROTECT_EXCLUDED_ROLE;
	if (pm_name_listed(settings->exclude_databases, facts->database))
		return PM_PROTECT_EXCLUDED_DATABASE;
	if (pm_pattern_listed(settings->exclude_applications, conn->key.appname))
		return PM_PROTECT_EXCLUDED_APPLICATION;
	return PM_PROTECT_NONE;
}

/* The sort item for connection i: the fields the orderings look at. */
static void
set_item(PmPolicyItem *item, const PmConnection *conns, int i)
{
	item->key = &conns[i].key;
	item->since = conns[i].state_since;
	item->pid = conns[i].pid;
	item->index = i;
}

/* Longest idle first; ties to the lower pid. */
static int
compare_by_idle(const void *a, const void *b)
{
	const PmPolicyItem *ia = (const PmPolicyItem *) a;
	const PmPolicyItem *ib = (const PmPolicyItem *) b;

	if (ia->since != ib->since)
		return ia->since < ib->since ? -1 : 1;
	return (ia->pid > ib->pid) - (ia->pid < ib->pid);
}

/* By pool, then longest idle first within the pool. */
static int
compare_by_pool(const void *a, const void *b)
{
	const PmPolicyItem *ia = (const PmPolicyItem *) a;
	const PmPolicyItem *ib = (const PmPolicyItem *) b;
	int			cmp = memcmp(ia->key, ib->key, sizeof(PmPoolKey));

	return cmp != 0 ? cmp : compare_by_idle(a, b);
}

static bool
is_idle_in_xact(const PmConnection *conn)
{
	return conn->state == PM_STATE_IDLE_IN_XACT ||
		conn->state == PM_STATE_IDLE_IN_XACT_ABORTED;
}

static void
set_lifetime(PmVerdict *verdict, const PmConnection *conn, PmReason reason,
			 int lifetime, TimestampTz now)
{
	verdict->reason = (uint8) reason;
	verdict->prune_at = conn->state_since + lifetime * USECS_PER_S;
	verdict->due = (now >= verdict->prune_at);
}

/*
 * Apply the floor: group the idle connections by pool, longest idle first,
 * and protect the last min_idle_per_pool of each pool.  Protected idle
 * connections count towards the floor too.
 */
static void
apply_floor(const PmConnection *conns, int n, const PmPolicySettings *settings,
			TimestampTz now, PmVerdict *verdicts, PmPolicyItem *items)
{
	int			nitems = 0;
	int			start = 0;

	for (int i = 0; i < n; i++)
	{
		if (conns[i].state != PM_STATE_IDLE || conns[i].state_since == 0)
			continue;
		set_item(&items[nitems++], conns, i);
	}
	qsort(items, nitems, sizeof(PmPolicyItem), compare_by_pool);

	while (start < nitems)
	{
		int			end = start + 1;
		int			endable;

		while (end < nitems &&
			   memcmp(items[end].key, items[start].key, sizeof(PmPoolKey)) == 0)
			end++;
		endable = (end - start) - settings->min_idle_per_pool;
		for (int j = start; j < end; j++)
		{
			PmVerdict  *verdict = &verdicts[items[j].index];

			if (verdict->protected_by != PM_PROTECT_NONE)
				continue;
			if (j - start >= endable)
				verdict->protected_by = PM_PROTECT_MIN_IDLE;
			else
				set_lifetime(verdict, &conns[items[j].index],
							 PM_REASON_IDLE_LIFETIME,
							 settings->idle_lifetime, now);
		}
		start = end;
	}
}

/*
 * Decide one run of the policy over n connections sampled at "now", with
 * facts[i] resolved for conns[i] and the server's utilization in percent.
 * Fills verdicts[0..n-1], writes the indexes of the connections to end
 * into chosen[], longest idle first, and returns how many.  scratch must
 * hold n items.
 */
int
pm_decide(const PmConnection *conns, const PmPolicyFacts *facts, int n,
		  const PmPolicySettings *settings, double utilization,
		  TimestampTz now, PmVerdict *verdicts, int *chosen,
		  PmPolicyItem *scratch)
{
	bool		gated = (settings->min_utilization > 0 &&
						 utilization < settings->min_utilization);
	int			ndue = 0;
	int			nchosen;

	memset(verdicts, 0, sizeof(PmVerdict) * n);
	for (int i = 0; i < n; i++)
	{
		const PmConnection *conn = &conns[i];
		PmVerdict  *verdict = &verdicts[i];

		if (conn->state != PM_STATE_IDLE && !is_idle_in_xact(conn))
			continue;
		verdict->protected_by = (uint8) protection_of(conn, &facts[i], settings);
		if (verdict->protected_by != PM_PROTECT_NONE || conn->state_since == 0)
			continue;
		if (is_idle_in_xact(conn) && settings->idle_in_xact_lifetime > 0)
			set_lifetime(verdict, conn, PM_REASON_IDLE_IN_XACT_LIFETIME,
						 settings->idle_in_xact_lifetime, now);
		else if (conn->state == PM_STATE_IDLE && settings->idle_lifetime > 0 &&
				 gated)
			verdict->protected_by = PM_PROTECT_UTILIZATION;
	}
	if (settings->idle_lifetime > 0 && !gated)
		apply_floor(conns, n, settings, now, verdicts, scratch);

	for (int i = 0; i < n; i++)
	{
		if (!verdicts[i].due || facts[i].handled)
			continue;
		set_item(&scratch[ndue++], conns, i);
	}
	qsort(scratch, ndue, sizeof(PmPolicyItem), compare_by_idle);

	nchosen = ndue;
	if (settings->max_terminations > 0 && nchosen > settings->max_terminations)
		nchosen = settings->max_terminations;
	for (int i = 0; i < nchosen; i++)
	{
		chosen[i] = scratch[i].index;
		verdicts[chosen[i]].chosen = true;
		verdicts[chosen[i]].dry_run = settings->dry_run;
	}
	return nchosen;
}
