/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The pool_monitor background worker: registers itself, then samples
 *		every client backend each sample_interval (or at once when
 *		sample_now() asks) and publishes the sample into shared memory.
 *		Each prune_interval (or when prune_now() asks) it runs the
 *		idle-termination policy on a fresh sample (terminate.c).
 *
 * The loop is the canonical one: WaitLatch with WL_EXIT_ON_PM_DEATH,
 * ResetLatch, CHECK_FOR_INTERRUPTS, reload on SIGHUP.  SIGTERM ends the
 * worker with exit code 1, and so does an ERROR, so the postmaster
 * restarts it after PM_WORKER_RESTART_SECONDS; shared memory, and with it
 * the history, outlives it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "compat.h"
#include "pool_monitor.h"
#include "termination.h"

PGDLLEXPORT void pm_worker_main(Datum main_arg);

/*
 * Register the worker.  Only possible while shared_preload_libraries is
 * being processed.  It starts once the server is consistent, so that it
 * samples a hot standby too.
 */
void
pm_register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = PM_WORKER_RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "pool_monitor", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pm_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pool_monitor sampler", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pool_monitor", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/*
 * on_shmem_exit callback: no worker to wake any more.  An error may have
 * ended the worker while it held pm_shared->lock, and not every minor
 * release frees LWLocks before these callbacks run: free them first, or
 * the worker would wait on itself and every later exclusive acquirer with
 * it.
 */
static void
detach_worker(int code, Datum arg)
{
	LWLockReleaseAll();
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	if (pm_shared->worker_pid == MyProcPid)
	{
		pm_shared->worker_pid = 0;
		pm_shared->worker_latch = NULL;
	}
	LWLockRelease(pm_shared->lock);
}

static void
attach_worker(void)
{
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	pm_shared->worker_pid = MyProcPid;
	pm_shared->worker_latch = MyLatch;
	LWLockRelease(pm_shared->lock);
	on_shmem_exit(detach_worker, (Datum) 0);
}

/*
 * Credit to their pools the sessions opened into pools that had no slot
 * (see accounting.c), through "opens", room for the whole pending list.
 */
static void
credit_pending_opens(PmPendingOpen *opens)
{
	pm_pool_table_credit(opens,
						 pm_accounting_take_pending(opens,
													pm_accounting->pending_capacity));
}

/*
 * One cycle: sample, assign pools, publish, then raise the sample's alerts
 * and log line.  Serves every sample_now() request counted before the
 * sample began, once all of that is done.
 */
static void
sample_once(PmSample *sample, PmPendingOpen *opens)
{
	uint64		request = pg_atomic_read_u64(&pm_shared->sample_requests);
	instr_time	start;
	instr_time	duration;

	INSTR_TIME_SET_CURRENT(start);
	pm_take_sample(sample);
	pm_pool_table_assign(sample);
	credit_pending_opens(opens);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	sample->summary.sample_duration_us = INSTR_TIME_GET_DOUBLE(duration) * 1e6;

	pm_publish_sample(sample);
	pm_after_sample(&sample->summary);
	pm_serve_sample_requests(request);
}

static bool
sample_requested(void)
{
	return pg_atomic_read_u64(&pm_shared->sample_requests) >
		pg_atomic_read_u64(&pm_shared->sample_served);
}

static long
ms_until(TimestampTz when)
{
	long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), when);

	return Max(ms, 0);
}

void
pm_worker_main(Datum main_arg)
{
	MemoryContext cycle_context;
	PmSample	sample;
	PmPendingOpen *opens;
	TimestampTz next_sample;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: visible in pg_stat_activity, reads only shared state */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pool_monitor");

	attach_worker();
	pm_pool_table_attach();

	memset(&sample, 0, sizeof(sample));
	sample.connections = MemoryContextAlloc(TopMemoryContext,
											sizeof(PmConnection) * pm_connection_capacity);
	opens = MemoryContextAlloc(TopMemoryContext,
							   sizeof(PmPendingOpen) * pm_accounting->pending_capacity);
	cycle_context = AllocSetContextCreate(TopMemoryContext,
										  "pool_monitor cycle",
										  ALLOCSET_DEFAULT_SIZES);
	next_sample = GetCurrentTimestamp();

	ereport(LOG,
			(errmsg("pool_monitor worker started, sampling every %d ms",
					pm_sample_interval_ms)));
	pm_explain_settings();

	for (;;)
	{
		MemoryContext oldcontext;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			pm_explain_settings();
			/* a new interval counts from the last sample */
			next_sample = TimestampTzPlusMilliseconds(
													  pm_shared->latest.sampled_at, pm_sample_interval_ms);
		}

		if (sample_requested() || ms_until(next_sample) == 0 || pm_prune_due())
		{
			oldcontext = MemoryContextSwitchTo(cycle_context);
			pm_debug_fail_cycle();
			sample_once(&sample, opens);
			if (pm_prune_due())
				pm_prune(&sample);
			MemoryContextSwitchTo(oldcontext);
			MemoryContextReset(cycle_context);
			next_sample = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													  pm_sample_interval_ms);
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ms_until(next_sample), pm_prune_wait_ms()),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
