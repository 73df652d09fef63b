/*-------------------------------------------------------------------------
 *
 * alerts.c
 *		The worker's side of exhaustion alerts: after each sample, ask the
 *		pure policy (alert_policy.c) what to raise, then raise it as a
 *		WARNING or LOG and keep it in the alerts ring.
 *
 * Alerts are decided only here, in the worker, after a sample has been
 * published; backends never raise them.  The message is built before the
 * ring's lock is taken, and the critical section only copies it in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "alert_policy.h"
#include "catalog_scan.h"
#include "compat.h"
#include "pool_monitor.h"

/* How many pools the utilization alert names. */
#define PM_ALERT_TOP_POOLS	3

static const char *const alert_kind_names[] = {
	"utilization", "rejected", "recovered"
};

/* An alert kind as pool_monitor.alerts spells it. */
const char *
pm_alert_kind_name(PmAlertKindCode kind)
{
	return alert_kind_names[kind];
}

/* A pool as the utilization alert names it. */
typedef struct TopPool
{
	PmPoolKey	key;
	int32		total;
	bool		overflow;
	char	   *role;			/* names, once looked up; NULL if unknown */
	char	   *database;
} TopPool;

/* The pools the alert names, for the catalog visitors to name. */
typedef struct TopPools
{
	TopPool    *pools;
	int			n;
	MemoryContext cxt;
} TopPools;

static void
name_role(Form_pg_authid role, void *arg)
{
	TopPools   *top = (TopPools *) arg;

	for (int i = 0; i < top->n; i++)
		if (top->pools[i].key.roleid == role->oid)
			top->pools[i].role = MemoryContextStrdup(top->cxt,
													 NameStr(role->rolname));
}

static void
name_database(Form_pg_database db, void *arg)
{
	TopPools   *top = (TopPools *) arg;

	for (int i = 0; i < top->n; i++)
		if (top->pools[i].key.dbid == db->oid)
			top->pools[i].database = MemoryContextStrdup(top->cxt,
														 NameStr(db->datname));
}

static int
compare_by_total(const void *a, const void *b)
{
	const TopPool *pa = (const TopPool *) a;
	const TopPool *pb = (const TopPool *) b;

	return (pb->total > pa->total) - (pb->total < pa->total);
}

/*
 * Append the busiest pools of the latest sample to buf, as
 * "app (role@database) 40, ...".  Reads the names in a transaction of its
 * own (catalog_scan.c: the worker is connected to no database).
 */
static void
append_top_pools(StringInfo buf)
{
	TopPool    *pools = palloc0(sizeof(TopPool) * (pm_max_pools + 1));
	MemoryContext cycle_context = CurrentMemoryContext;
	int			n = 0;
	TopPools	top;

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	for (int i = 0; i <= pm_max_pools; i++)
	{
		if (i < pm_max_pools && i >= pm_shared->pools_used)
			continue;
		if (!pm_pools[i].in_use || pm_pools[i].counts.total == 0)
			continue;
		pools[n].key = pm_pools[i].key;
		pools[n].total = pm_pools[i].counts.total;
		pools[n].overflow = (i == pm_max_pools);
		n++;
	}
	LWLockRelease(pm_shared->lock);

	qsort(pools, n, sizeof(TopPool), compare_by_total);
	top.pools = pools;
	top.n = Min(n, PM_ALERT_TOP_POOLS);
	top.cxt = cycle_context;

	if (top.n > 0)
	{
		StartTransactionCommand();
		(void) GetTransactionSnapshot();
		pm_scan_roles(name_role, &top);
		pm_scan_databases(name_database, &top);
		CommitTransactionCommand();
		/* the commit leaves TopMemoryContext current: back to the cycle's */
		MemoryContextSwitchTo(cycle_context);
	}

	for (int i = 0; i < top.n; i++)
	{
		TopPool    *pool = &pools[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		if (pool->overflow)
			appendStringInfo(buf, "(overflow) %d", pool->total);
		else
			appendStringInfo(buf, "%s (%s@%s) %d",
							 pool->key.appname[0] ? pool->key.appname : "\"\"",
							 pool->role ? pool->role : "?",
							 pool->database ? pool->database : "?",
							 pool->total);
	}
	if (top.n == 0)
		appendStringInfoString(buf, "none");
	pfree(pools);
}

/* Keep an alert in the ring, overwriting the oldest when it is full. */
static void
remember_alert(PmAlertKindCode kind, const PmSummary *summary,
			   TimestampTz now, const char *message)
{
	PmAlert    *entry;

	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	entry = &pm_alert_ring->entries[pm_alert_ring->next];
	entry->raised_at = now;
	entry->kind = kind;
	entry->utilization = pm_utilization(summary);
	entry->total = summary->counts.total;
	entry->usable = summary->usable_connections;
	strlcpy(entry->message, message, PM_ALERT_MESSAGE_LEN);
	pm_alert_ring->next = (pm_alert_ring->next + 1) % PM_ALERT_RING_SIZE;
	if (pm_alert_ring->count < PM_ALERT_RING_SIZE)
		pm_alert_ring->count++;
	pm_alert_ring->raised++;
	LWLockRelease(pm_shared->lock);
}

static void
raise_utilization(const PmSummary *summary, TimestampTz now)
{
	StringInfoData msg;

	initStringInfo(&msg);
	appendStringInfo(&msg,
					 "pool_monitor: connection utilization %.1f%% (%d of %d usable), top pools: ",
					 pm_utilization(summary), summary->counts.total,
					 summary->usable_connections);
	append_top_pools(&msg);
	ereport(WARNING,
			(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
			 errmsg_internal("%s", msg.data),
			 errhint("Lower the maximum sizes of the client pools or raise \"max_connections\"; pool_monitor.pools shows each pool's use.")));
	remember_alert(PM_ALERT_CODE_UTILIZATION, summary, now, msg.data);
	pfree(msg.data);
}

static void
raise_recovered(const PmSummary *summary, TimestampTz now)
{
	StringInfoData msg;

	initStringInfo(&msg);
	appendStringInfo(&msg,
					 "pool_monitor: connection utilization recovered to %.1f%% (%d of %d usable), below %.1f%%",
					 pm_utilization(summary), summary->counts.total,
					 summary->usable_connections,
					 pm_alert_recovery_level(pm_alert_utilization));
	ereport(LOG, (errmsg_internal("%s", msg.data)));
	remember_alert(PM_ALERT_CODE_RECOVERED, summary, now, msg.data);
	pfree(msg.data);
}

/*
 * Raise the rejected alert: the count since the last one, and per kind.
 */
static void
raise_rejected(const PmSummary *summary, TimestampTz now, uint64 count,
			   const uint64 *by_kind)
{
	StringInfoData msg;
	bool		first = true;

	initStringInfo(&msg);
	appendStringInfo(&msg,
					 "pool_monitor: " UINT64_FORMAT " connection %s rejected with SQLSTATE 53300 (",
					 count, count == 1 ? "attempt" : "attempts");
	for (int k = 0; k < PM_REJECT_KINDS; k++)
	{
		uint64		new_ones = by_kind[k] - pm_alert_ring->rejected_reported[k];

		pm_alert_ring->rejected_reported[k] = by_kind[k];
		if (new_ones == 0)
			continue;
		appendStringInfo(&msg, "%s%s " UINT64_FORMAT, first ? "" : ", ",
						 pm_reject_kind_name((PmRejectKind) k), new_ones);
		first = false;
	}
	appendStringInfoChar(&msg, ')');
	ereport(WARNING,
			(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
			 errmsg_internal("%s", msg.data),
			 errhint("Clients are being refused: lower the maximum sizes of the client pools or raise \"max_connections\".")));
	remember_alert(PM_ALERT_CODE_REJECTED, summary, now, msg.data);
	pfree(msg.data);
}

/*
 * Decide and raise the alerts of the sample just published.  Worker only.
 * The policy's state (and reset_seen) is written by the worker alone, so
 * reading and updating it needs no lock; the ring's readers never look at
 * it.
 */
void
pm_alerts_after_sample(const PmSummary *summary, TimestampTz now)
{
	PmAlertInput input;
	PmAlertDecision decision;
	uint64		by_kind[PM_REJECT_KINDS];
	TimestampTz stats_reset;

	input.now_us = now;
	input.utilization = pm_utilization(summary);
	input.threshold = pm_alert_utilization;
	input.cooldown_us = (int64) pm_alert_cooldown_s * USECS_PER_SEC;
	input.rejected_total = 0;
	for (int k = 0; k < PM_REJECT_KINDS; k++)
	{
		by_kind[k] = pg_atomic_read_u64(&pm_accounting->rejected[k]);
		input.rejected_total += by_kind[k];
	}

	/* a reset() since the last sample ends the episode and the cooldowns */
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	stats_reset = pm_shared->stats_reset;
	LWLockRelease(pm_shared->lock);
	if (stats_reset != pm_alert_ring->reset_seen)
	{
		pm_alert_forget(&pm_alert_ring->policy);
		pm_alert_ring->reset_seen = stats_reset;
	}

	decision = pm_alert_decide(&pm_alert_ring->policy, &input);

	if (decision.utilization)
		raise_utilization(summary, now);
	if (decision.recovered)
		raise_recovered(summary, now);
	if (decision.rejected)
		raise_rejected(summary, now, decision.new_rejections, by_kind);
}

/*
 * Everything the worker does after publishing a sample: alerts, then the
 * periodic log line.
 */
void
pm_after_sample(const PmSummary *summary)
{
	TimestampTz now = summary->sampled_at;

	pm_alerts_after_sample(summary, now);
	pm_statslog_after_sample(summary, now);
}
