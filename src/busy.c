/*-------------------------------------------------------------------------
 *
 * busy.c
 *		Exact concurrency: each client session counts itself busy and idle
 *		again at every transition, per pool and server-wide, so that the
 *		peak of busy sessions and the busy time integral are exact, not
 *		sampled.  See busy.h for what "busy" means.
 *
 * The hot path.  A transaction's first statement reaches the executor or
 * utility hook; the session, if not busy already, notes the time in its
 * own entry of a per-backend array and adds one to the server's and its
 * pool's busy counters (one atomic add each, then a read of each peak,
 * which is raised with compare-and-swap only when passed).  The end of the
 * transaction (commit, abort or prepare callback) takes the time again,
 * adds the period's length to both counters' ended time, clears the entry
 * and subtracts one from the busy counters.  Both times are taken where
 * the counts change, so that the integral and the peak measure one step
 * function.  No lock, no allocation.  Each counter lies on a cache line of
 * its own, and each backend's entry on another, so that only sessions of
 * the same pool, and the server's counter, share a line.
 *
 * The pool.  A session counts in the pool it opened into: the key it was
 * credited under at start-up (accounting.c), kept for its life.  Its slot
 * is found through the pool index (pool_index.c) under the shared lock,
 * again only when the worker has handed out a slot since the session
 * last looked (a generation number the hot path reads); until its pool has
 * a slot, a session counts server-wide only.
 *
 * The integral.  A counter's busy time up to now is the length of its
 * ended periods (done_us) plus, for each backend busy in it now, the time
 * since that backend's start; readers add the second part by walking the
 * per-backend array.  A reader that runs while a period ends may miss or
 * count twice that one period for that one reading; the next reading is
 * exact again, so per-interval differences add up exactly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/timestamp.h"

#include "busy.h"
#include "compat.h"
#include "pool_monitor.h"

/* The shared part: the generation, then the counters, each on its own line. */
typedef struct PmBusyShared
{
	union
	{
		pg_atomic_uint32 generation;	/* bumped when a slot changes hands */
		char		pad[PG_CACHE_LINE_SIZE];
	}			g;
	PmBusyCounterPadded server;
	PmBusyCounterPadded pools[FLEXIBLE_ARRAY_MEMBER];	/* max_pools + 1 */
} PmBusyShared;

static PmBusyShared *busy_shared = NULL;
static PmBusyBackendPadded *busy_backends = NULL;
static int	busy_backend_count = 0;

/* hooks we chain to */
static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* this session */
static bool tracked = false;	/* a counted client session */
static bool busy = false;		/* a busy period is open */
static int	my_slot = -1;
static uint32 my_generation = 0;
static PmPoolKey my_key;
static PmBusyBackend *me = NULL;

static inline PmBusyCounter *
pool_counter(int slot)
{
	return &busy_shared->pools[slot].c;
}

/* Find this session's pool slot again: the worker has handed one out. */
static void
resolve_slot(void)
{
	uint32		generation = pg_atomic_read_u32(&busy_shared->g.generation);

	pg_read_barrier();
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	my_slot = pm_pool_index_find(&my_key);
	LWLockRelease(pm_shared->lock);
	me->slot = my_slot;
	pg_write_barrier();
	my_generation = generation;
}

/* One more busy in "counter"; "interval" for the server's, which history reads. */
static inline void
count_up(PmBusyCounter *counter, bool interval)
{
	uint64		now_busy = pg_atomic_add_fetch_u64(&counter->busy, 1);

	if (now_busy > pg_atomic_read_u64(&counter->peak))
		pm_atomic_advance_u64(&counter->peak, now_busy);
	if (interval && now_busy > pg_atomic_read_u64(&counter->peak_interval))
		pm_atomic_advance_u64(&counter->peak_interval, now_busy);
}

/* The hot path's start: see the file header. */
static inline void
busy_start(void)
{
	TimestampTz start;

	if (likely(!tracked || busy))
		return;
	/* ROLLBACK and the like in a failed block: its busy period has ended */
	if (IsAbortedTransactionBlockState())
		return;
	if (pg_atomic_read_u32(&busy_shared->g.generation) != my_generation)
		resolve_slot();
	start = GetCurrentTimestamp();
	busy = true;
	pg_atomic_write_u64(&me->start, (uint64) start);
	count_up(&busy_shared->server.c, true);
	if (my_slot >= 0)
		count_up(pool_counter(my_slot), false);
}

/* The hot path's end: see the file header. */
static void
busy_end(void)
{
	TimestampTz end;
	TimestampTz start;
	uint64		length;

	if (!busy)
		return;
	busy = false;
	end = GetCurrentTimestamp();
	start = (TimestampTz) pg_atomic_read_u64(&me->start);
	length = (end > start) ? (uint64) (end - start) : 0;
	pg_atomic_write_u64(&me->start, 0);
	pg_atomic_fetch_add_u64(&busy_shared->server.c.done_us, length);
	pg_atomic_fetch_sub_u64(&busy_shared->server.c.busy, 1);
	if (me->slot >= 0)
	{
		PmBusyCounter *counter = pool_counter(me->slot);

		pg_atomic_fetch_add_u64(&counter->done_us, length);
		pg_atomic_fetch_sub_u64(&counter->busy, 1);
	}
}

/*
 * The end of a transaction: commit, abort (errors, ROLLBACK, a backend
 * exiting with a transaction open) or PREPARE TRANSACTION, after which the
 * prepared transaction no longer belongs to the session.  An error inside
 * a transaction block aborts the transaction at once, so the busy period
 * ends there, not at the ROLLBACK the client sends later (the failed
 * block holds no locks or snapshot; statements in it do not start a new
 * period).  Subtransactions never end the busy period: their callbacks
 * are not these.
 */
static void
busy_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		busy_end();
}

static void
busy_executor_start(QueryDesc *queryDesc, int eflags)
{
	busy_start();
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
busy_process_utility(PM_PROCESS_UTILITY_ARGS)
{
	busy_start();
	if (prev_process_utility)
		prev_process_utility(PM_PROCESS_UTILITY_PASS);
	else
		standard_ProcessUtility(PM_PROCESS_UTILITY_PASS);
}

/*
 * A session is established (accounting.c): track it from now on, in the
 * pool "key".  Its slot is looked up at its first busy period.
 */
void
pm_busy_session_open(const PmPoolKey *key)
{
	int			index = PM_MY_STATUS_SLOT();

	if (busy_shared == NULL || index < 0 || index >= busy_backend_count)
		return;
	me = &busy_backends[index].b;
	pg_atomic_write_u64(&me->start, 0);
	me->slot = -1;
	my_key = *key;
	my_slot = -1;
	my_generation = pg_atomic_read_u32(&busy_shared->g.generation) - 1;
	busy = false;
	tracked = true;
	RegisterXactCallback(busy_xact_callback, NULL);
}

/*
 * The session ends (its exit callback): a busy period still open ends now,
 * before anything else can run in this backend's slot.
 */
void
pm_busy_session_close(void)
{
	if (!tracked)
		return;
	busy_end();
	tracked = false;
}

/* Install the hooks; from _PG_init. */
void
pm_busy_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = busy_executor_start;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = busy_process_utility;
}

static Size
busy_shared_size(void)
{
	return add_size(offsetof(PmBusyShared, pools),
					mul_size(sizeof(PmBusyCounterPadded), pm_max_pools + 1));
}

static Size
busy_backends_size(int count)
{
	return mul_size(sizeof(PmBusyBackendPadded), count);
}

void
pm_busy_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(add_size(busy_shared_size(),
											 busy_backends_size(pm_status_slots_for_sizing())),
									2 * PG_CACHE_LINE_SIZE));
}

static void
init_counter(PmBusyCounter *counter, TimestampTz now)
{
	pg_atomic_init_u64(&counter->busy, 0);
	pg_atomic_init_u64(&counter->peak, 0);
	pg_atomic_init_u64(&counter->peak_interval, 0);
	pg_atomic_init_u64(&counter->done_us, 0);
	counter->base_us = 0;
	counter->since = now;
}

/* Cache-line aligned chunks, so that the padding keeps lines apart. */
static void *
init_aligned(const char *name, Size size, bool *found)
{
	char	   *chunk = ShmemInitStruct(name, add_size(size, PG_CACHE_LINE_SIZE),
										found);

	return (void *) TYPEALIGN(PG_CACHE_LINE_SIZE, chunk);
}

void
pm_busy_shmem_startup(void)
{
	bool		found;
	TimestampTz now = GetCurrentTimestamp();

	busy_backend_count = PM_BACKEND_STATUS_SLOTS;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	busy_shared = init_aligned("pool_monitor busy", busy_shared_size(), &found);
	busy_backends = init_aligned("pool_monitor busy backends",
								 busy_backends_size(busy_backend_count), &found);
	if (!found)
	{
		pg_atomic_init_u32(&busy_shared->g.generation, 0);
		init_counter(&busy_shared->server.c, now);
		for (int i = 0; i <= pm_max_pools; i++)
			init_counter(pool_counter(i), now);
		for (int i = 0; i < busy_backend_count; i++)
		{
			pg_atomic_init_u64(&busy_backends[i].b.start, 0);
			busy_backends[i].b.slot = -1;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Time of the periods in progress at "now", in microseconds: server-wide,
 * and per slot into per_slot[].busy_seconds (as microseconds, when not
 * NULL; max_pools + 1 entries, zeroed by the caller).
 */
static uint64
in_progress_us(PmBusyFigures *per_slot, TimestampTz now)
{
	uint64		total = 0;

	for (int i = 0; i < busy_backend_count; i++)
	{
		PmBusyBackend *b = &busy_backends[i].b;
		TimestampTz start = (TimestampTz) pg_atomic_read_u64(&b->start);
		uint64		length;
		int			slot;

		if (start == 0)
			continue;
		pg_read_barrier();
		slot = b->slot;
		length = (now > start) ? (uint64) (now - start) : 0;
		total += length;
		if (per_slot != NULL && slot >= 0 && slot <= pm_max_pools)
			per_slot[slot].busy_seconds += (double) length;
	}
	return total;
}

static void
fill_figures(PmBusyFigures *figures, PmBusyCounter *counter,
			 double in_progress, TimestampTz now)
{
	/* signed: periods in progress at reset() are in base_us, not done_us */
	double		integral_us = (double) (int64) (pg_atomic_read_u64(&counter->done_us) -
												counter->base_us) + in_progress;

	figures->busy = (int32) Min(pg_atomic_read_u64(&counter->busy),
								(uint64) PG_INT32_MAX);
	figures->peak = (int32) Min(pg_atomic_read_u64(&counter->peak),
								(uint64) PG_INT32_MAX);
	figures->busy_seconds = Max(integral_us, 0.0) / 1e6;
	figures->elapsed_seconds = (now > counter->since) ?
		(double) (now - counter->since) / 1e6 : 0.0;
}

/* The server's figures at "now".  Caller holds pm_shared->lock. */
void
pm_busy_server_figures(PmBusyFigures *figures, TimestampTz now)
{
	if (busy_shared == NULL)
	{
		memset(figures, 0, sizeof(PmBusyFigures));
		return;
	}
	fill_figures(figures, &busy_shared->server.c,
				 (double) in_progress_us(NULL, now), now);
}

/*
 * Every slot's figures at "now", into figures[0 .. max_pools].  Caller
 * holds pm_shared->lock.
 */
void
pm_busy_pool_figures(PmBusyFigures *figures, TimestampTz now)
{
	memset(figures, 0, sizeof(PmBusyFigures) * (pm_max_pools + 1));
	if (busy_shared == NULL)
		return;
	(void) in_progress_us(figures, now);
	for (int i = 0; i <= pm_max_pools; i++)
		fill_figures(&figures[i], pool_counter(i), figures[i].busy_seconds,
					 now);
}

/* Start a counter's figures again at "now", with "in_progress" us under way. */
static void
restart_counter(PmBusyCounter *counter, uint64 in_progress, TimestampTz now)
{
	counter->base_us = pg_atomic_read_u64(&counter->done_us) + in_progress;
	counter->since = now;
	pg_atomic_write_u64(&counter->peak, pg_atomic_read_u64(&counter->busy));
}

/*
 * A slot passes to a new pool: its figures start again, and sessions look
 * their slot up again.  Caller holds pm_shared->lock exclusively.
 */
void
pm_busy_slot_handed_over(int slot, TimestampTz now)
{
	if (busy_shared == NULL)
		return;
	restart_counter(pool_counter(slot), 0, now);
	pg_atomic_fetch_add_u32(&busy_shared->g.generation, 1);
}

/*
 * Part of reset(): peaks restart from the sessions busy now, integrals
 * from zero.  scratch has max_pools + 1 entries.  Caller holds
 * pm_shared->lock exclusively: no allocation, no error.
 */
void
pm_busy_reset(PmBusyFigures *scratch, TimestampTz now)
{
	uint64		total;

	if (busy_shared == NULL)
		return;
	memset(scratch, 0, sizeof(PmBusyFigures) * (pm_max_pools + 1));
	total = in_progress_us(scratch, now);
	restart_counter(&busy_shared->server.c, total, now);
	pg_atomic_write_u64(&busy_shared->server.c.peak_interval,
						pg_atomic_read_u64(&busy_shared->server.c.busy));
	for (int i = 0; i <= pm_max_pools; i++)
		restart_counter(pool_counter(i), (uint64) scratch[i].busy_seconds, now);
}

/*
 * Fill a history entry's busy figures for the interval that ends at its
 * sample, and start the next.  Worker only, with pm_shared->lock held
 * exclusively.
 */
void
pm_busy_close_interval(PmHistoryEntry *entry)
{
	static uint64 integral_at_last = 0;
	static TimestampTz last_sampled_at = 0;
	PmBusyCounter *server;
	uint64		integral;
	uint64		peak;

	if (busy_shared == NULL)
		return;
	server = &busy_shared->server.c;
	integral = pg_atomic_read_u64(&server->done_us) +
		in_progress_us(NULL, entry->sampled_at);
	/* the worker's first interval has no start: it shows no busy figures */
	if (last_sampled_at != 0 && integral >= integral_at_last)
	{
		entry->busy_us = (int64) (integral - integral_at_last);
		entry->interval_us = entry->sampled_at - last_sampled_at;
	}
	integral_at_last = integral;
	last_sampled_at = entry->sampled_at;

	peak = pg_atomic_exchange_u64(&server->peak_interval,
								  pg_atomic_read_u64(&server->busy));
	pm_atomic_advance_u64(&server->peak_interval,
						  pg_atomic_read_u64(&server->busy));
	entry->busy_peak = (int32) Min(peak, (uint64) PG_INT32_MAX);
}
