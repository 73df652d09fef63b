/*-------------------------------------------------------------------------
 *
 * sql_api.c
 *		The SQL-callable functions behind the pool_monitor views, and
 *		sample_now() and reset().
 *
 * Readers take the lock shared, copy what they need into memory they
 * allocated before taking it, release, and only then resolve names and
 * build tuples.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "busy.h"
#include "compat.h"
#include "pool_monitor.h"
#include "termination.h"

PG_FUNCTION_INFO_V1(pm_get_summary);
PG_FUNCTION_INFO_V1(pm_get_pools);
PG_FUNCTION_INFO_V1(pm_get_connections);
PG_FUNCTION_INFO_V1(pm_get_history);
PG_FUNCTION_INFO_V1(pm_sample_now);
PG_FUNCTION_INFO_V1(pm_reset);

/* Helpers that turn shared-memory values into Datums. */

static Datum
interval_datum(int64 microseconds)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = microseconds;
	return IntervalPGetDatum(result);
}

static void
set_timestamp(Datum *values, bool *nulls, int i, TimestampTz ts)
{
	nulls[i] = (ts == 0);
	values[i] = TimestampTzGetDatum(ts);
}

static void
set_name(Datum *values, bool *nulls, int i, const char *name)
{
	NameData   *result;

	nulls[i] = (name == NULL);
	if (name == NULL)
		return;
	result = palloc0(sizeof(NameData));
	namestrcpy(result, name);
	values[i] = NameGetDatum(result);
}

static void
set_client_addr(Datum *values, bool *nulls, int i, const PmAddr *addr,
				bool visible)
{
	char		text[INET6_ADDRSTRLEN];

	nulls[i] = true;
	if (!visible || addr->family == 0)
		return;
	if (inet_ntop(addr->family, addr->bytes, text, sizeof(text)) == NULL)
		return;
	values[i] = DirectFunctionCall1(inet_in, CStringGetDatum(text));
	nulls[i] = false;
}

/* A pool key's columns, with its database and role names given. */
static void
set_pool_columns(Datum *values, bool *nulls, int first, const PmPoolKey *key,
				 const char *database, const char *role, bool addr_visible)
{
	set_name(values, nulls, first, database);
	set_name(values, nulls, first + 1, role);
	values[first + 2] = CStringGetTextDatum(key->appname);
	nulls[first + 2] = false;
	set_client_addr(values, nulls, first + 3, &key->addr, addr_visible);
}

/* Names are resolved at read time, so the sampler never needs catalogs. */
static void
set_pool_key(Datum *values, bool *nulls, int first, const PmPoolKey *key,
			 bool addr_visible)
{
	set_pool_columns(values, nulls, first, key,
					 OidIsValid(key->dbid) ? get_database_name(key->dbid) : NULL,
					 OidIsValid(key->roleid) ?
					 GetUserNameFromId(key->roleid, true) : NULL,
					 addr_visible);
}

/*
 * May the current user see this role's client addresses?  The rule of
 * pg_stat_activity: your own roles', or everyone's with pg_read_all_stats.
 */
static bool
may_see_client_of(Oid roleid, bool sees_all)
{
	return sees_all || has_privs_of_role(GetUserId(), roleid);
}

static bool
current_user_sees_all(void)
{
	return has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

static void
set_counts(Datum *values, int first, const PmCounts *counts)
{
	values[first] = Int32GetDatum(counts->total);
	values[first + 1] = Int32GetDatum(counts->active);
	values[first + 2] = Int32GetDatum(counts->idle);
	values[first + 3] = Int32GetDatum(counts->idle_in_xact);
	values[first + 4] = Int32GetDatum(counts->idle_in_xact_aborted);
	values[first + 5] = Int32GetDatum(counts->waiting);
}

/*
 * pm_get_summary: the latest sample, one row.  Before the first sample the
 * sample's own columns are NULL.
 */
#define SUMMARY_COLS 29

/*
 * The exact busy columns (busy.c) at values[first ...]: busy now, the peak,
 * busy-seconds and their mean over the time they cover.  Only the 1.1
 * functions declare them; a 1.0 declaration ends before them, and tuples
 * are built to the declared width.
 */
static void
set_busy(Datum *values, bool *nulls, int first, const PmBusyFigures *figures)
{
	values[first] = Int32GetDatum(figures->busy);
	values[first + 1] = Int32GetDatum(figures->peak);
	values[first + 2] = Float8GetDatum(figures->busy_seconds);
	values[first + 3] = Float8GetDatum(figures->elapsed_seconds > 0 ?
									   figures->busy_seconds / figures->elapsed_seconds : 0.0);
	nulls[first + 3] = (figures->elapsed_seconds <= 0);
}

Datum
pm_get_summary(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[SUMMARY_COLS];
	bool		nulls[SUMMARY_COLS];
	PmSummary	latest;
	uint64		samples;
	int32		worker_pid;
	TimestampTz stats_reset;
	PmBusyFigures busy;

	pm_require_shared();
	pm_warn_if_refusals_uncounted();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	latest = pm_shared->latest;
	samples = pm_shared->samples;
	worker_pid = pm_shared->worker_pid;
	stats_reset = pm_shared->stats_reset;
	pm_busy_server_figures(&busy, GetCurrentTimestamp());
	LWLockRelease(pm_shared->lock);

	memset(nulls, 0, sizeof(nulls));
	set_timestamp(values, nulls, 0, latest.sampled_at);
	values[1] = Int32GetDatum(latest.max_connections);
	values[2] = Int32GetDatum(latest.reserved_connections);
	values[3] = Int32GetDatum(latest.usable_connections);
	set_counts(values, 4, &latest.counts);
	values[10] = interval_datum(latest.longest_idle_us);
	values[11] = interval_datum(latest.longest_idle_in_xact_us);
	values[12] = interval_datum(latest.longest_xact_us);
	values[13] = Int64GetDatum((int64) samples);
	values[14] = Float8GetDatum(latest.sample_duration_us);
	values[15] = Int32GetDatum(worker_pid);
	nulls[15] = (worker_pid == 0);
	set_timestamp(values, nulls, 16, stats_reset);
	values[17] = Int32GetDatum(latest.pools_in_use);
	values[18] = Int32GetDatum(latest.overflow_connections);
	(void) pm_accounting_summary_values(values, 19);
	set_busy(values, nulls, 25, &busy);

	/* nothing sampled yet: the sample's columns are unknown, not zero */
	if (latest.sampled_at == 0)
		for (int i = 1; i <= 14; i++)
			nulls[i] = true;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * pm_get_pools: one row per pool slot in use, the overflow row last when
 * anything was folded into it.
 */
#define POOLS_COLS 24

Datum
pm_get_pools(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmPool	   *copy;
	PmBusyFigures *busy;
	int			nslots;
	bool		sees_all;

	pm_require_shared();
	pm_init_materialized_srf(fcinfo);
	sees_all = current_user_sees_all();

	copy = palloc(sizeof(PmPool) * (pm_max_pools + 1));
	busy = palloc(sizeof(PmBusyFigures) * (pm_max_pools + 1));
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	pm_busy_pool_figures(busy, GetCurrentTimestamp());
	nslots = pm_shared->pools_used;
	memcpy(copy, pm_pools, sizeof(PmPool) * nslots);
	copy[nslots] = pm_pools[pm_max_pools];
	/* memcpy may tear a counter that backends bump under the shared lock */
	for (int i = 0; i <= nslots; i++)
		pg_atomic_write_u64(&copy[i].opened, pg_atomic_read_u64(
																&pm_pools[i < nslots ? i : pm_max_pools].opened));
	LWLockRelease(pm_shared->lock);

	for (int i = 0; i <= nslots; i++)
	{
		PmPool	   *pool = &copy[i];
		bool		overflow = (i == nslots);
		Datum		values[POOLS_COLS];
		bool		nulls[POOLS_COLS];

		if (!pool->in_use)
			continue;
		memset(nulls, 0, sizeof(nulls));
		if (overflow)
		{
			nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;
		}
		else
			set_pool_key(values, nulls, 0, &pool->key,
						 may_see_client_of(pool->key.roleid, sees_all));
		set_counts(values, 4, &pool->counts);
		values[10] = interval_datum(pool->longest_idle_us);
		values[11] = Int32GetDatum(pool->peak_total);
		set_timestamp(values, nulls, 12, pool->first_seen);
		set_timestamp(values, nulls, 13, pool->last_seen);
		values[14] = BoolGetDatum(overflow);
		values[15] = Int32GetDatum(pool->peak_active);
		values[16] = Int32GetDatum(pool->idle_floor);
		nulls[16] = (pool->busy_samples == 0);
		values[17] = Float8GetDatum(pool->busy_samples == 0 ? 0.0 :
									(double) pool->busy_sum / pool->busy_samples);
		nulls[17] = (pool->busy_samples == 0);
		values[18] = Int64GetDatum((int64) pool->terminated);
		values[19] = Int64GetDatum((int64) pg_atomic_read_u64(&pool->opened));
		/* sessions of pools without a slot count server-wide only */
		set_busy(values, nulls, 20, &busy[i]);
		if (overflow)
			nulls[20] = nulls[21] = nulls[22] = nulls[23] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pm_get_connections: one row per client backend in the latest sample.
 * idle_for is measured at the sample's time; prune_at and protected_by
 * are the idle-termination policy's verdict with the settings in force.
 */
#define CONNECTIONS_COLS 13

Datum
pm_get_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmConnection *copy;
	int			n;
	TimestampTz sampled_at;
	bool		sees_all;
	PmSummary	latest;
	PmVerdict  *verdicts;
	PmPolicyFacts *facts;

	pm_require_shared();
	pm_init_materialized_srf(fcinfo);
	sees_all = current_user_sees_all();

	copy = palloc(sizeof(PmConnection) * Max(pm_connection_capacity, 1));
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	n = pm_shared->nconnections;
	memcpy(copy, pm_connections, sizeof(PmConnection) * n);
	sampled_at = pm_shared->latest.sampled_at;
	latest = pm_shared->latest;
	LWLockRelease(pm_shared->lock);
	facts = palloc0(sizeof(PmPolicyFacts) * Max(n, 1));
	verdicts = pm_connection_verdicts(copy, n, &latest, facts);

	for (int i = 0; i < n; i++)
	{
		PmConnection *conn = &copy[i];
		const char *state = pm_state_name((PmState) conn->state);
		bool		idle = (conn->state == PM_STATE_IDLE ||
							conn->state == PM_STATE_IDLE_IN_XACT ||
							conn->state == PM_STATE_IDLE_IN_XACT_ABORTED);
		Datum		values[CONNECTIONS_COLS];
		bool		nulls[CONNECTIONS_COLS];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(conn->pid);
		set_pool_columns(values, nulls, 1, &conn->key, facts[i].database,
						 facts[i].role,
						 may_see_client_of(conn->key.roleid, sees_all));
		set_timestamp(values, nulls, 5, conn->backend_start);
		nulls[6] = (state == NULL);
		if (state)
			values[6] = CStringGetTextDatum(state);
		set_timestamp(values, nulls, 7, conn->state_since);
		nulls[8] = !(idle && conn->state_since != 0);
		if (!nulls[8])
			values[8] = interval_datum(sampled_at - conn->state_since);
		set_timestamp(values, nulls, 9, conn->xact_start);
		values[10] = BoolGetDatum(conn->waiting);
		pm_set_verdict_columns(values, nulls, 11, &verdicts[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pm_get_history: the history ring, oldest first.
 */
#define HISTORY_COLS 16

Datum
pm_get_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmHistoryEntry *copy;
	int			count;
	int			next;

	pm_require_shared();
	pm_init_materialized_srf(fcinfo);

	copy = palloc(sizeof(PmHistoryEntry) * pm_history_size);
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	count = pm_shared->history_count;
	next = pm_shared->history_next;
	memcpy(copy, pm_history, sizeof(PmHistoryEntry) * pm_history_size);
	LWLockRelease(pm_shared->lock);

	for (int i = 0; i < count; i++)
	{
		int			at = (next - count + i + pm_history_size) % pm_history_size;
		PmHistoryEntry *entry = &copy[at];
		Datum		values[HISTORY_COLS];
		bool		nulls[HISTORY_COLS];

		memset(nulls, 0, sizeof(nulls));
		set_timestamp(values, nulls, 0, entry->sampled_at);
		set_counts(values, 1, &entry->counts);
		values[7] = Int32GetDatum(entry->usable);
		values[8] = interval_datum(entry->longest_idle_us);
		values[9] = Int64GetDatum(entry->opened);
		values[10] = Int64GetDatum(entry->rejected);
		values[11] = Int64GetDatum(entry->terminated);
		values[12] = Int32GetDatum(entry->peak_total);
		/* the interval's busy peak, busy-seconds and mean busy */
		values[13] = Int32GetDatum(entry->busy_peak);
		values[14] = Float8GetDatum((double) entry->busy_us / 1e6);
		values[15] = Float8GetDatum(entry->interval_us > 0 ?
									(double) entry->busy_us / entry->interval_us : 0.0);
		nulls[13] = nulls[14] = nulls[15] = (entry->interval_us == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pm_sample_now: ask the worker for a fresh sample, wait until one that
 * began after the request is published, and return its time.
 */
Datum
pm_sample_now(PG_FUNCTION_ARGS)
{
	uint64		request;
	TimestampTz deadline;
	TimestampTz sampled_at;

	pm_require_shared();
	request = pg_atomic_add_fetch_u64(&pm_shared->sample_requests, 1);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   PM_SAMPLE_NOW_TIMEOUT_MS);

	ConditionVariablePrepareToSleep(&pm_shared->sample_cv);
	while (pg_atomic_read_u64(&pm_shared->sample_served) < request)
	{
		pm_wake_worker();
		pm_wait_for_worker_step(&pm_shared->sample_cv, deadline,
								"take a sample");
	}
	ConditionVariableCancelSleep();

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	sampled_at = pm_shared->latest.sampled_at;
	LWLockRelease(pm_shared->lock);
	PG_RETURN_TIMESTAMPTZ(sampled_at);
}

/*
 * pm_reset: clear history, peaks and counters.
 */
Datum
pm_reset(PG_FUNCTION_ARGS)
{
	pm_require_shared();
	pm_reset_statistics();
	PG_RETURN_VOID();
}
