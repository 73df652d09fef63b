/*-------------------------------------------------------------------------
 *
 * busy.h
 *		Exact per-pool and server-wide concurrency: how many sessions are
 *		busy now, the most that were busy at once, and the busy time
 *		integral, counted by each backend at each transition.
 *
 * A session is busy from the moment the first statement of a transaction
 * reaches the executor or utility hook to the end of that transaction
 * (commit, abort or PREPARE TRANSACTION); both moments are taken where the
 * counts change, so the integral and the peak describe one step function.
 * An autocommit statement is busy for its own duration; a transaction
 * block from its BEGIN to its COMMIT or ROLLBACK, idle in transaction
 * included.  An error in a block aborts the transaction, and ends the busy
 * period, at once: the failed block's wait for ROLLBACK is not busy.  The
 * mean over an interval is busy-seconds divided by elapsed seconds
 * (Little's law).
 *
 * Only client sessions that accounting.c counted as opened are tracked:
 * walsenders, parallel workers and background workers never are.  A
 * session counts in the pool it opened into (its key at start-up), also
 * after it changes application_name.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_BUSY_H
#define POOL_MONITOR_BUSY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"

#include "pool_monitor.h"

/*
 * One busy counter: a pool's, or the server's.  Each sits on cache lines of
 * its own, so that pools do not share lines with each other or with the
 * server's counter.  The atomics are written by backends; base_us and
 * peak_reset_pending by the worker and reset(), under pm_shared->lock
 * held exclusively.
 */
typedef struct PmBusyCounter
{
	pg_atomic_uint64 busy;		/* sessions busy now */
	pg_atomic_uint64 peak;		/* most busy at once since start or reset */
	pg_atomic_uint64 peak_interval; /* the same since the latest sample */
	pg_atomic_uint64 done_us;	/* busy time of ended periods, ever */
	uint64		base_us;		/* the integral at start or reset() */
	TimestampTz since;			/* when base_us was taken */
} PmBusyCounter;

typedef union PmBusyCounterPadded
{
	PmBusyCounter c;
	char		pad[PG_CACHE_LINE_SIZE];
} PmBusyCounterPadded;

/* One backend's busy period in progress, if any; written by it alone. */
typedef struct PmBusyBackend
{
	pg_atomic_uint64 start;		/* its start (TimestampTz), 0 when not busy */
	int32		slot;			/* the pool counter it counts in, -1 none */
} PmBusyBackend;

typedef union PmBusyBackendPadded
{
	PmBusyBackend b;
	char		pad[PG_CACHE_LINE_SIZE];
} PmBusyBackendPadded;

/* The figures one counter shows, as the SQL functions return them. */
typedef struct PmBusyFigures
{
	int32		busy;			/* now */
	int32		peak;			/* since start or reset() */
	double		busy_seconds;	/* integral since start or reset() */
	double		elapsed_seconds;	/* time that integral covers */
} PmBusyFigures;

/* busy.c */
extern void pm_busy_init(void);
extern void pm_busy_shmem_request(void);
extern void pm_busy_shmem_startup(void);
extern void pm_busy_session_open(const PmPoolKey *key);
extern void pm_busy_session_close(void);
extern void pm_busy_slot_handed_over(int slot, TimestampTz now);
extern void pm_busy_reset(PmBusyFigures *scratch, TimestampTz now);
extern void pm_busy_server_figures(PmBusyFigures *figures, TimestampTz now);
extern void pm_busy_pool_figures(PmBusyFigures *figures, TimestampTz now);
extern void pm_busy_close_interval(PmHistoryEntry *entry);

#endif							/* POOL_MONITOR_BUSY_H */
