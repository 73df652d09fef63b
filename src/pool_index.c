/*-------------------------------------------------------------------------
 *
 * pool_index.c
 *		The shared index from pool key to pool-table slot, so that a
 *		connection's start-up finds its pool in constant time however many
 *		pools the table holds.
 *
 * A dynahash table in shared memory with one preallocated entry per slot.
 * Only the worker writes it, under pm_shared->lock held exclusively, as it
 * hands slots to new pools (pool_table.c); backends read it under the lock
 * held shared.  A table never holds more keys than there are slots, so an
 * insert takes a preallocated entry and never allocates; should one still
 * find none, the key is simply not indexed, and sessions of that pool take
 * the pending-open path (accounting.c), which is slower but exact.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "pool_monitor.h"

typedef struct PoolIndexEntry
{
	PmPoolKey	key;			/* hash key: must be first */
	int32		slot;
} PoolIndexEntry;

static HTAB *pool_index = NULL;

Size
pm_pool_index_shmem_size(void)
{
	return hash_estimate_size(pm_max_pools, sizeof(PoolIndexEntry));
}

/*
 * Create or attach to the index.  Caller holds AddinShmemInitLock.
 */
void
pm_pool_index_shmem_startup(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PmPoolKey);
	ctl.entrysize = sizeof(PoolIndexEntry);
	pool_index = ShmemInitHash("pool_monitor pool index",
							   pm_max_pools, pm_max_pools, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/*
 * The slot of the pool with this key, or -1.  Caller holds pm_shared->lock
 * (shared is enough).
 */
int
pm_pool_index_find(const PmPoolKey *key)
{
	PoolIndexEntry *entry = hash_search(pool_index, key, HASH_FIND, NULL);

	return entry ? entry->slot : -1;
}

/*
 * Point "key" at "slot", after forgetting "old_key" (NULL when the slot was
 * free).  Caller holds pm_shared->lock exclusively: no allocation, no
 * error.
 */
void
pm_pool_index_move(const PmPoolKey *old_key, const PmPoolKey *key, int slot)
{
	PoolIndexEntry *entry;

	if (old_key != NULL)
		hash_search(pool_index, old_key, HASH_REMOVE, NULL);
	entry = hash_search(pool_index, key, HASH_ENTER_NULL, NULL);
	if (entry != NULL)
		entry->slot = slot;
}
