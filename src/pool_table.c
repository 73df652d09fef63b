/*-------------------------------------------------------------------------
 *
 * pool_table.c
 *		The worker's side of the pool table: which slot each connection of a
 *		sample belongs to, and the per-pool aggregates it publishes.
 *
 * A pool is (database, role, application_name, client_addr).  The shared
 * table has max_pools slots and one overflow slot after them.  Only the
 * worker hands out slots, so it keeps a private hash from key to slot and
 * never has to search shared memory.  When every slot is taken, a new pool
 * takes the slot of the pool that has had no session for longest; when no
 * pool is empty, its sessions fold into the overflow row.
 *
 * Work is split so that the exclusive critical section only copies:
 * pm_pool_table_assign() runs before the lock (it may allocate), and
 * pm_pool_table_apply() runs under it (it never allocates or errors).
 *
 * Sessions opened into a pool that had no slot yet (accounting.c) reach
 * the worker as pending opens; pm_pool_table_credit() gives them a slot,
 * creating one if the pool's sessions all came and went between samples,
 * and pm_pool_table_apply() adds them to the slot's "opened".  Backends
 * find a pool's slot through the shared pool index (pool_index.c), which
 * pm_pool_table_apply() keeps in step with the slots' keys.
 *
 * When a slot passes from one pool to another, the opens credited to the
 * old pool since the latest sample have been in no sample yet; they go
 * back to the pending list, so that the old pool's next slot gets them
 * and no open is lost in the hand-over.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "accounting.h"
#include "busy.h"
#include "pool_monitor.h"

typedef struct PoolMapEntry
{
	PmPoolKey	key;			/* hash key: must be first */
	int			slot;
} PoolMapEntry;

/* A slot handed to a new key in this sample, written out under the lock. */
typedef struct NewSlot
{
	int			slot;
	PmPoolKey	key;
} NewSlot;

/* Per-slot aggregates of the current sample. */
typedef struct SlotAggregate
{
	PmCounts	counts;
	int64		longest_idle_us;
} SlotAggregate;

static HTAB *pool_map = NULL;
static int	slots_used = 0;
static NewSlot *new_slots = NULL;
static int	nnew_slots = 0;
static SlotAggregate *aggregates = NULL;	/* max_pools + 1 entries */
static uint64 *credits = NULL;	/* pending opens per slot, max_pools + 1 */

/* each slot's "opened" as the latest sample published it, max_pools + 1 */
static uint64 *opened_published = NULL;
static TimestampTz reset_published = 0; /* stats_reset at that sample */

static inline int
overflow_slot(void)
{
	return pm_max_pools;
}

/*
 * Build the private key->slot map from the shared table: at worker start,
 * the table may already hold pools from an earlier incarnation.
 */
void
pm_pool_table_attach(void)
{
	HASHCTL		ctl;
	PmPoolKey  *keys;
	bool	   *in_use;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PmPoolKey);
	ctl.entrysize = sizeof(PoolMapEntry);
	ctl.hcxt = TopMemoryContext;
	pool_map = hash_create("pool_monitor pool map", pm_max_pools, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	new_slots = MemoryContextAlloc(TopMemoryContext,
								   sizeof(NewSlot) * pm_max_pools);
	aggregates = MemoryContextAlloc(TopMemoryContext,
									sizeof(SlotAggregate) * (pm_max_pools + 1));
	credits = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(uint64) * (pm_max_pools + 1));
	opened_published = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(uint64) * (pm_max_pools + 1));

	/*
	 * Copy the keys out under the lock and fill the map after it: entering
	 * a key can allocate, and nothing that can fail runs under the lock.
	 */
	keys = MemoryContextAlloc(TopMemoryContext, sizeof(PmPoolKey) * pm_max_pools);
	in_use = MemoryContextAllocZero(TopMemoryContext, sizeof(bool) * pm_max_pools);
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	slots_used = pm_shared->pools_used;
	for (int i = 0; i < slots_used; i++)
	{
		in_use[i] = pm_pools[i].in_use;
		if (in_use[i])
			keys[i] = pm_pools[i].key;
		opened_published[i] = pg_atomic_read_u64(&pm_pools[i].opened);
	}
	reset_published = pm_shared->stats_reset;
	LWLockRelease(pm_shared->lock);

	for (int i = 0; i < slots_used; i++)
	{
		PoolMapEntry *entry;

		if (!in_use[i])
			continue;
		entry = hash_search(pool_map, &keys[i], HASH_ENTER, NULL);
		entry->slot = i;
	}
	pfree(keys);
	pfree(in_use);
}

/*
 * A slot for a new pool: a never-used one, else the one whose pool has gone
 * longest without a session and has none in this sample.  -1 when every
 * pool has sessions now.  Slot keys and last_seen are written by the worker
 * only, so reading them without the lock is safe here.
 */
static int
claim_slot(const bool *referenced)
{
	int			victim = -1;

	if (slots_used < pm_max_pools)
		return slots_used++;

	for (int i = 0; i < pm_max_pools; i++)
	{
		if (referenced[i])
			continue;
		if (victim < 0 || pm_pools[i].last_seen < pm_pools[victim].last_seen)
			victim = i;
	}
	if (victim >= 0)
		hash_search(pool_map, &pm_pools[victim].key, HASH_REMOVE, NULL);
	return victim;
}

/*
 * Find the slot of a connection's pool, handing out a new slot for a pool
 * not seen before.  Returns the overflow slot when none can be had.
 */
static int
slot_for_new_key(const PmPoolKey *key, bool *referenced, bool *table_full)
{
	PoolMapEntry *entry;
	bool		found;
	int			slot;

	entry = hash_search(pool_map, key, HASH_FIND, &found);
	if (found)
		return entry->slot;
	if (*table_full)
		return overflow_slot();

	slot = claim_slot(referenced);
	if (slot < 0)
	{
		*table_full = true;
		return overflow_slot();
	}
	entry = hash_search(pool_map, key, HASH_ENTER, NULL);
	entry->slot = slot;
	referenced[slot] = true;
	new_slots[nnew_slots].slot = slot;
	new_slots[nnew_slots].key = *key;
	nnew_slots++;
	return slot;
}

/*
 * Give every connection of the sample its pool slot and aggregate the
 * counts per slot.  Fills in the summary's pool figures.  Call before
 * taking the lock: this may allocate.
 */
void
pm_pool_table_assign(PmSample *sample)
{
	bool	   *referenced = palloc0(sizeof(bool) * (pm_max_pools + 1));
	bool		table_full = false;
	TimestampTz now = sample->summary.sampled_at;
	int			pools_with_sessions = 0;

	nnew_slots = 0;
	memset(aggregates, 0, sizeof(SlotAggregate) * (pm_max_pools + 1));

	/* known pools first, so that eviction never takes a pool seen now */
	for (int i = 0; i < sample->nconnections; i++)
	{
		PmConnection *conn = &sample->connections[i];
		PoolMapEntry *entry = hash_search(pool_map, &conn->key, HASH_FIND, NULL);

		conn->pool = entry ? entry->slot : -1;
		if (entry)
			referenced[entry->slot] = true;
	}
	for (int i = 0; i < sample->nconnections; i++)
	{
		PmConnection *conn = &sample->connections[i];
		SlotAggregate *agg;

		if (conn->pool < 0)
			conn->pool = slot_for_new_key(&conn->key, referenced, &table_full);
		agg = &aggregates[conn->pool];
		pm_count_connection(&agg->counts, conn);
		if (conn->state == PM_STATE_IDLE && conn->state_since != 0)
			agg->longest_idle_us = Max(agg->longest_idle_us,
									   now - conn->state_since);
	}

	for (int i = 0; i < pm_max_pools; i++)
		if (aggregates[i].counts.total > 0)
			pools_with_sessions++;
	sample->summary.pools_in_use = pools_with_sessions;
	sample->summary.overflow_connections = aggregates[overflow_slot()].counts.total;
	pfree(referenced);
}

/*
 * Give each pending open a slot, as a session of the sample would get one,
 * and note its credit for pm_pool_table_apply().  Call after
 * pm_pool_table_assign() and before taking the lock: this may allocate.
 */
void
pm_pool_table_credit(const PmPendingOpen *opens, int nopens)
{
	bool	   *referenced;
	bool		table_full = false;

	if (nopens == 0)
		return;
	/* a slot with sessions in this sample must not be evicted */
	referenced = palloc0(sizeof(bool) * (pm_max_pools + 1));
	for (int i = 0; i <= pm_max_pools; i++)
		referenced[i] = (aggregates[i].counts.total > 0);
	for (int i = 0; i < nopens; i++)
	{
		int			slot = slot_for_new_key(&opens[i].key, referenced,
											&table_full);

		referenced[slot] = true;
		credits[slot] += opens[i].count;
	}
	pfree(referenced);
}

static void
start_pool(PmPool *pool, const PmPoolKey *key, TimestampTz now)
{
	pool->key = *key;
	pool->in_use = true;
	pool->peak_total = 0;
	pool->first_seen = now;
	pool->last_seen = now;
	pool->terminated = 0;
	pg_atomic_write_u64(&pool->opened, 0);
	pm_pool_start_advice(pool);
}

/*
 * Give slot "slot" to the pool "key", handing the late opens of the pool
 * that held it, if any, back to the pending list.  Caller holds
 * pm_shared->lock exclusively.
 */
static void
hand_over_slot(int slot, const PmPoolKey *key, TimestampTz now)
{
	PmPool	   *pool = &pm_pools[slot];
	const PmPoolKey *old_key = NULL;

	if (pool->in_use)
	{
		/* a reset() since the latest sample zeroed "opened": all are late */
		uint64		published = (pm_shared->stats_reset == reset_published) ?
			opened_published[slot] : 0;
		uint64		late = pg_atomic_read_u64(&pool->opened) - published;

		if (late > 0)
			pm_accounting_add_pending(&pool->key, late);
		old_key = &pool->key;
	}
	pm_pool_index_move(old_key, key, slot);
	start_pool(pool, key, now);
	pm_busy_slot_handed_over(slot, now);
}

static void
publish_slot(PmPool *pool, const SlotAggregate *agg, TimestampTz now)
{
	pool->counts = agg->counts;
	pool->longest_idle_us = agg->longest_idle_us;
	if (agg->counts.total > 0)
	{
		pool->last_seen = now;
		pool->peak_total = Max(pool->peak_total, agg->counts.total);
		pm_pool_track_busy(pool, &agg->counts);
	}
}

/*
 * Write the sample's pool figures into the shared table.  Caller holds
 * pm_shared->lock exclusively: no allocation, no error, no waiting here.
 */
void
pm_pool_table_apply(TimestampTz now)
{
	PmPool	   *overflow = &pm_pools[overflow_slot()];

	for (int i = 0; i < nnew_slots; i++)
		hand_over_slot(new_slots[i].slot, &new_slots[i].key, now);
	pm_shared->pools_used = slots_used;

	for (int i = 0; i < slots_used; i++)
		publish_slot(&pm_pools[i], &aggregates[i], now);

	if ((aggregates[overflow_slot()].counts.total > 0 ||
		 credits[overflow_slot()] > 0) && !overflow->in_use)
	{
		overflow->in_use = true;
		overflow->first_seen = now;
	}
	publish_slot(overflow, &aggregates[overflow_slot()], now);

	for (int i = 0; i <= pm_max_pools; i++)
	{
		if (credits[i] != 0)
			pg_atomic_fetch_add_u64(&pm_pools[i].opened, credits[i]);
		credits[i] = 0;
		opened_published[i] = pg_atomic_read_u64(&pm_pools[i].opened);
	}
	reset_published = pm_shared->stats_reset;
}
