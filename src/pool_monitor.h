/*-------------------------------------------------------------------------
 *
 * pool_monitor.h
 *		Shared declarations of pool_monitor: the shared-memory layout that
 *		the sampling worker writes and the SQL functions read, the settings,
 *		and the entry points each source file offers the others.
 *
 * Data flows one way: backends -> sampler -> shared memory -> SQL
 * functions.  The worker is the only process that writes samples, pool
 * keys and history; SQL functions only read, except reset(), which clears
 * statistics but never pool keys, so the worker's private key->slot map
 * stays valid across a reset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_H
#define POOL_MONITOR_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* How long sample_now() waits for the worker before giving up. */
#define PM_SAMPLE_NOW_TIMEOUT_MS	10000

/* Seconds the postmaster waits before restarting a failed worker. */
#define PM_WORKER_RESTART_SECONDS	5

/*
 * Connection states, as pg_stat_activity spells them (see pm_state_name).
 * PM_STATE_STARTING covers a backend that has not reported a state yet
 * (pg_stat_activity shows NULL).
 */
typedef enum PmState
{
	PM_STATE_STARTING = 0,
	PM_STATE_ACTIVE,
	PM_STATE_IDLE,
	PM_STATE_IDLE_IN_XACT,
	PM_STATE_IDLE_IN_XACT_ABORTED,
	PM_STATE_FASTPATH,
	PM_STATE_DISABLED
} PmState;

/*
 * A client address in a fixed 18 bytes.  family is 0 for Unix-domain
 * sockets and unknown addresses (client_addr is then NULL, as in
 * pg_stat_activity), else AF_INET or AF_INET6.
 */
typedef struct PmAddr
{
	uint8		family;
	uint8		unused;
	uint8		bytes[16];
} PmAddr;

/*
 * What identifies a pool: the server-side image of one client pool.  Always
 * zero the whole struct before filling it in, so that padding and the tail
 * of appname compare and hash equal.
 */
typedef struct PmPoolKey
{
	Oid			dbid;
	Oid			roleid;
	PmAddr		addr;
	char		appname[NAMEDATALEN];
} PmPoolKey;

/* Connection counts by state; the unit of summary, pools and history. */
typedef struct PmCounts
{
	int32		total;			/* client backends, whatever their state */
	int32		active;			/* running a statement or fastpath call */
	int32		idle;
	int32		idle_in_xact;
	int32		idle_in_xact_aborted;
	int32		waiting;		/* active and waiting on a heavyweight lock */
} PmCounts;

/* One client backend as seen by the latest sample. */
typedef struct PmConnection
{
	int32		pid;
	int32		pool;			/* slot in the pool table (or the overflow slot) */
	PmPoolKey	key;
	TimestampTz backend_start;
	TimestampTz state_since;	/* when the current state began */
	TimestampTz xact_start;		/* 0 when no transaction is open */
	uint8		state;			/* PmState */
	bool		waiting;
} PmConnection;

/*
 * One pool.  Key and in_use are written by the worker only; reset() clears
 * the statistics below them.
 */
typedef struct PmPool
{
	PmPoolKey	key;
	bool		in_use;
	PmCounts	counts;			/* in the latest sample */
	int64		longest_idle_us;	/* in the latest sample */
	int32		peak_total;		/* since first seen or reset */
	TimestampTz first_seen;
	TimestampTz last_seen;		/* latest sample in which it had a session */
	pg_atomic_uint64 opened;	/* sessions opened since first seen or reset */
	uint64		terminated;		/* sessions the worker ended */
	/* for pool_advice: busy = total - idle, over samples with sessions */
	int32		peak_active;	/* most busy at once since first seen or reset */
	int32		idle_floor;		/* fewest idle; meaningless while busy_samples is 0 */
	int64		busy_sum;		/* busy summed over those samples */
	int64		busy_samples;	/* how many samples that sum covers */
} PmPool;

/* One entry of the history ring. */
typedef struct PmHistoryEntry
{
	TimestampTz sampled_at;
	PmCounts	counts;
	int32		usable;
	int64		longest_idle_us;
	/* exact figures for the interval that ended with this sample */
	int64		opened;
	int64		rejected;
	int64		terminated;
	int32		peak_total;
	/* exact busy figures for the interval (busy.c); interval_us 0: none */
	int32		busy_peak;
	int64		busy_us;
	int64		interval_us;
} PmHistoryEntry;

/* The latest sample, as summary shows it. */
typedef struct PmSummary
{
	TimestampTz sampled_at;		/* 0 until the first sample */
	int32		max_connections;
	int32		reserved_connections;
	int32		usable_connections;
	PmCounts	counts;
	int64		longest_idle_us;
	int64		longest_idle_in_xact_us;
	int64		longest_xact_us;
	double		sample_duration_us;
	int32		pools_in_use;
	int32		overflow_connections;	/* sessions folded into the overflow row */
} PmSummary;

/*
 * The fixed part of the shared state.  The connection, pool and history
 * arrays live in shared-memory chunks of their own (pm_connections,
 * pm_pools, pm_history), sized from the settings at server start.
 */
typedef struct PmShared
{
	LWLock	   *lock;			/* guards everything not atomic below */

	/* the worker */
	int32		worker_pid;		/* 0 while no worker runs */
	Latch	   *worker_latch;	/* NULL while no worker runs */

	/* sample_now(): requests counted up by callers, served by the worker */
	pg_atomic_uint64 sample_requests;
	pg_atomic_uint64 sample_served;
	ConditionVariable sample_cv;

	/* the latest sample */
	uint64		samples;		/* since start or reset */
	TimestampTz stats_reset;
	PmSummary	latest;
	int32		nconnections;	/* valid entries in pm_connections */

	/* the pool table: max_pools slots plus the overflow slot at the end */
	int32		pools_used;		/* slots handed out, never more than max_pools */

	/* the history ring */
	int32		history_next;	/* where the next entry goes */
	int32		history_count;	/* entries kept, at most history_size */
} PmShared;

/* settings (pool_monitor.c) */
extern int	pm_sample_interval_ms;
extern int	pm_history_size;
extern int	pm_max_pools;

/* shared memory (shmem.c); NULL when the library was not preloaded */
extern PmShared *pm_shared;
extern PmConnection *pm_connections;
extern PmPool *pm_pools;
extern PmHistoryEntry *pm_history;
extern int	pm_connection_capacity;

extern void pm_shmem_request(void);
extern void pm_shmem_startup(void);
extern void pm_require_shared(void);
extern void pm_reset_statistics(void);
extern void pm_wake_worker(void);
extern void pm_wait_for_worker_step(ConditionVariable *cv, TimestampTz deadline,
									const char *what);

/* the sampler (sampler.c) */
typedef struct PmSample
{
	PmSummary	summary;
	PmConnection *connections;	/* capacity pm_connection_capacity */
	int			nconnections;
	int			dropped;		/* client backends beyond capacity */
} PmSample;

extern void pm_take_sample(PmSample *sample);
extern const char *pm_state_name(PmState state);
extern PmState pm_state_from_backend(int backend_state);
extern void pm_count_connection(PmCounts *counts, const PmConnection *conn);
extern double pm_utilization(const PmSummary *summary);

/* the pool table (pool_table.c), worker-side */
extern void pm_pool_table_attach(void);
extern void pm_pool_table_assign(PmSample *sample);
extern void pm_pool_table_apply(TimestampTz now);

/* the shared index from pool key to slot (pool_index.c) */
extern Size pm_pool_index_shmem_size(void);
extern void pm_pool_index_shmem_startup(void);
extern int	pm_pool_index_find(const PmPoolKey *key);
extern void pm_pool_index_move(const PmPoolKey *old_key, const PmPoolKey *key,
							   int slot);

/* pool_advice figures (pool_advice.c); caller holds the lock exclusively */
extern void pm_pool_start_advice(PmPool *pool);
extern void pm_pool_track_busy(PmPool *pool, const PmCounts *counts);
extern void pm_pool_reset_advice(PmPool *pool);

/* publishing a sample (shmem.c), worker-side */
extern void pm_publish_sample(PmSample *sample);
extern void pm_serve_sample_requests(uint64 request);

/* the background worker (worker.c) */
extern void pm_register_worker(void);

/* hardening.c */
extern void pm_define_hardening_settings(void);
extern void pm_explain_settings(void);
extern void pm_debug_fail_cycle(void);
extern void pm_debug_fail_under_lock(void);
extern void pm_debug_fail_registration(void);
extern void pm_debug_delay_exit(void);
extern bool pm_debug_skip_registry;

#endif							/* POOL_MONITOR_H */
