/*-------------------------------------------------------------------------
 *
 * pool_monitor.c
 *		Entry point of the pool_monitor extension: _PG_init, the
 *		pool_monitor.* settings, and the shared-memory hooks.
 *
 * pool_monitor only works when preloaded: without shared_preload_libraries
 * _PG_init returns at once, no shared state exists, and every SQL function
 * raises an error that says how to load it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "accounting.h"
#include "busy.h"
#include "compat.h"
#include "pool_monitor.h"
#include "termination.h"

PG_MODULE_MAGIC;

/* settings */
int			pm_sample_interval_ms = 1000;
int			pm_history_size = 3600;
int			pm_max_pools = 256;

/* hooks we chain to */
#ifdef PM_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
define_settings(void)
{
	DefineCustomIntVariable("pool_monitor.sample_interval",
							"Time between two samples of the client backends.",
							NULL,
							&pm_sample_interval_ms,
							1000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pool_monitor.history_size",
							"Number of samples kept in the history ring.",
							NULL,
							&pm_history_size,
							3600, 1, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pool_monitor.max_pools",
							"Number of distinct pools tracked; further pools fold into one overflow row.",
							NULL,
							&pm_max_pools,
							256, 1, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	pm_define_termination_settings();
	pm_define_hardening_settings();

	MarkGUCPrefixReserved("pool_monitor");
}

#ifdef PM_HAVE_SHMEM_REQUEST_HOOK
static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pm_shmem_request();
	pm_accounting_shmem_request();
	pm_busy_shmem_request();
}
#endif

static void
shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pm_shmem_startup();
	pm_accounting_shmem_startup();
	pm_busy_shmem_startup();
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	/* before define_settings(), which reserves the prefix */
	pm_accounting_init();
	define_settings();
	pm_busy_init();

#ifdef PM_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
#else
	pm_shmem_request();
	pm_accounting_shmem_request();
	pm_busy_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;

	pm_register_worker();
}
