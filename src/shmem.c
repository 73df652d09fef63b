/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		pool_monitor's shared memory: its size, its creation at server
 *		start, publishing a sample into it, and clearing its statistics.
 *
 * Layout: a fixed PmShared struct, then three arrays in chunks of their
 * own, sized once at server start from max_connections, max_pools and
 * history_size, and the pool index (pool_index.c).  One LWLock guards
 * them; counters that backends bump from hooks are atomics and need no
 * lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "busy.h"
#include "compat.h"
#include "pool_monitor.h"
#include "status_reader.h"
#include "termination.h"

PmShared   *pm_shared = NULL;
PmConnection *pm_connections = NULL;
PmPool	   *pm_pools = NULL;
PmHistoryEntry *pm_history = NULL;
int			pm_connection_capacity = 0;

/*
 * Client backends are bounded by max_connections (walsenders, autovacuum
 * and background workers have slots of their own), so that is how many
 * connections a sample can hold.  The sampler still checks the bound.
 */
static Size
connections_size(void)
{
	return mul_size(sizeof(PmConnection), MaxConnections);
}

static Size
pools_size(void)
{
	return mul_size(sizeof(PmPool), pm_max_pools + 1);
}

static Size
history_size(void)
{
	return mul_size(sizeof(PmHistoryEntry), pm_history_size);
}

/*
 * Ask for pool_monitor's shared memory and its LWLock.  Called from
 * shmem_request_hook (15+) or directly from _PG_init (13, 14).
 */
void
pm_shmem_request(void)
{
	Size		size = MAXALIGN(sizeof(PmShared));

	size = add_size(size, MAXALIGN(connections_size()));
	size = add_size(size, MAXALIGN(pools_size()));
	size = add_size(size, MAXALIGN(history_size()));
	size = add_size(size, pm_pool_index_shmem_size());
	size = add_size(size, pm_terminations_shmem_size());
	size = add_size(size, pm_registry_shmem_size());
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche("pool_monitor", 1);
}

static void
init_shared(void)
{
	memset(pm_shared, 0, sizeof(PmShared));
	pm_shared->lock = &(GetNamedLWLockTranche("pool_monitor"))->lock;
	pg_atomic_init_u64(&pm_shared->sample_requests, 0);
	pg_atomic_init_u64(&pm_shared->sample_served, 0);
	ConditionVariableInit(&pm_shared->sample_cv);
	pm_shared->stats_reset = GetCurrentTimestamp();

	memset(pm_connections, 0, connections_size());
	memset(pm_history, 0, history_size());
	memset(pm_pools, 0, pools_size());
	for (int i = 0; i <= pm_max_pools; i++)
		pg_atomic_init_u64(&pm_pools[i].opened, 0);
}

/*
 * Create or attach to pool_monitor's shared memory.  Called from
 * shmem_startup_hook in the postmaster and, on EXEC_BACKEND builds, in each
 * backend.
 */
void
pm_shmem_startup(void)
{
	bool		found;

	pm_connection_capacity = MaxConnections;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pm_shared = ShmemInitStruct("pool_monitor", sizeof(PmShared), &found);
	pm_connections = ShmemInitStruct("pool_monitor connections",
									 connections_size(), &found);
	pm_pools = ShmemInitStruct("pool_monitor pools", pools_size(), &found);
	pm_history = ShmemInitStruct("pool_monitor history", history_size(),
								 &found);
	if (!found)
		init_shared();
	pm_pool_index_shmem_startup();
	pm_terminations_shmem_startup();
	pm_registry_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Raise an ERROR unless the shared state exists, i.e. unless the library
 * was loaded through shared_preload_libraries.
 */
void
pm_require_shared(void)
{
	if (pm_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pool_monitor must be loaded via \"shared_preload_libraries\""),
				 errhint("Add pool_monitor to shared_preload_libraries in postgresql.conf and restart the server.")));
}

static void
append_history(const PmSummary *summary)
{
	PmHistoryEntry *entry = &pm_history[pm_shared->history_next];

	memset(entry, 0, sizeof(PmHistoryEntry));
	entry->sampled_at = summary->sampled_at;
	entry->counts = summary->counts;
	entry->usable = summary->usable_connections;
	entry->longest_idle_us = summary->longest_idle_us;
	pm_accounting_close_interval(entry);
	pm_busy_close_interval(entry);

	pm_shared->history_next = (pm_shared->history_next + 1) % pm_history_size;
	if (pm_shared->history_count < pm_history_size)
		pm_shared->history_count++;
}

/*
 * Publish a sample: pools, connections, summary and a history entry, in
 * one exclusive critical section that only copies.
 */
void
pm_publish_sample(PmSample *sample)
{
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	pm_debug_fail_under_lock();
	pm_pool_table_apply(sample->summary.sampled_at);
	memcpy(pm_connections, sample->connections,
		   sizeof(PmConnection) * sample->nconnections);
	pm_shared->nconnections = sample->nconnections;
	pm_shared->latest = sample->summary;
	pm_shared->samples++;
	append_history(&sample->summary);
	LWLockRelease(pm_shared->lock);
}

/*
 * Tell sample_now() callers that every request up to "request" has been
 * served: its sample is published and everything that follows from it
 * (alerts, the log line) is done.
 */
void
pm_serve_sample_requests(uint64 request)
{
	pm_atomic_advance_u64(&pm_shared->sample_served, request);
	ConditionVariableBroadcast(&pm_shared->sample_cv);
}

/*
 * Clear history, peaks and counters, and set stats_reset.  The latest
 * sample stays: it is the present, not history.  Pool keys stay too (the
 * worker owns them); their statistics start again from now.
 */
void
pm_reset_statistics(void)
{
	TimestampTz now = GetCurrentTimestamp();
	PmBusyFigures *scratch = palloc(sizeof(PmBusyFigures) * (pm_max_pools + 1));

	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	pm_shared->samples = 0;
	pm_shared->stats_reset = now;
	pm_shared->history_next = 0;
	pm_shared->history_count = 0;
	for (int i = 0; i <= pm_max_pools; i++)
	{
		PmPool	   *pool = &pm_pools[i];

		pool->peak_total = pool->counts.total;
		pool->terminated = 0;
		pg_atomic_write_u64(&pool->opened, 0);
		pm_pool_reset_advice(pool);
	}
	pm_reset_terminations();
	pm_accounting_reset();
	pm_busy_reset(scratch, now);
	LWLockRelease(pm_shared->lock);
	pfree(scratch);
}

/*
 * Wake the worker, if one runs.  Callers waiting for it do this on every
 * turn of their wait: the worker may have restarted meanwhile.
 */
void
pm_wake_worker(void)
{
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	if (pm_shared->worker_latch != NULL)
		SetLatch(pm_shared->worker_latch);
	LWLockRelease(pm_shared->lock);
}

/*
 * One turn of a wait for the worker on "cv", prepared by the caller: sleep
 * until the condition variable is signalled, at most 100 ms so the caller
 * re-checks, or raise an ERROR once "deadline" has passed.  "what" says
 * what the worker failed to do, e.g. "take a sample".
 */
void
pm_wait_for_worker_step(ConditionVariable *cv, TimestampTz deadline,
						const char *what)
{
	long		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															deadline);

	if (remaining <= 0)
	{
		ConditionVariableCancelSleep();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pool_monitor worker did not %s within %d ms",
						what, PM_SAMPLE_NOW_TIMEOUT_MS),
				 errhint("Check that the pool_monitor background worker is running: SELECT pid FROM pg_stat_activity WHERE backend_type = 'pool_monitor'.")));
	}
	(void) ConditionVariableTimedSleep(cv, Min(remaining, 100),
									   PG_WAIT_EXTENSION);
}
