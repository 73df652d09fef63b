/*-------------------------------------------------------------------------
 *
 * pool_advice.c
 *		The per-pool figures behind the pool_advice view: the peak of busy
 *		sessions, the idle floor and the mean of busy sessions, kept by the
 *		worker as it publishes each sample.
 *
 * A session is busy when the client pool has it checked out: every state
 * but idle (active, idle in transaction, aborted, not yet started).  The
 * figures cover the samples in which the pool had at least one session,
 * since the pool was first seen or since reset().  The rules that turn
 * them into advice live in SQL (src/sql/90_observability.sql) and are
 * explained in docs/observability.md.
 *
 * Every function here runs with pm_shared->lock held exclusively: plain
 * arithmetic only, no allocation, no error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pool_monitor.h"

/*
 * Forget what a pool's advice figures have seen: for a new pool in a slot.
 */
void
pm_pool_start_advice(PmPool *pool)
{
	pool->peak_active = 0;
	pool->idle_floor = 0;
	pool->busy_sum = 0;
	pool->busy_samples = 0;
}

/*
 * Fold one sample's counts of a pool that has sessions into its figures.
 * idle_floor means nothing until busy_samples > 0, so a slot that was never
 * started (the overflow row) needs no special first value.
 */
void
pm_pool_track_busy(PmPool *pool, const PmCounts *counts)
{
	int32		busy = counts->total - counts->idle;

	pool->peak_active = Max(pool->peak_active, busy);
	if (pool->busy_samples == 0 || counts->idle < pool->idle_floor)
		pool->idle_floor = counts->idle;
	pool->busy_sum += busy;
	pool->busy_samples++;
}

/*
 * reset(): start the figures again from the latest sample, as peak_total
 * does.
 */
void
pm_pool_reset_advice(PmPool *pool)
{
	pm_pool_start_advice(pool);
	if (pool->counts.total > 0)
		pm_pool_track_busy(pool, &pool->counts);
}
