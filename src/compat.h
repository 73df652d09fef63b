/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every difference between the PostgreSQL versions pool_monitor
 *		supports (13 to 18), so that the rest of the code reads as if there
 *		were one PostgreSQL.
 *
 * Nothing outside this file tests PG_VERSION_NUM.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_COMPAT_H
#define POOL_MONITOR_COMPAT_H

/*
 * The supported range, checked before anything else is read: pg_config.h
 * alone says which PostgreSQL this is.  Older servers lack the hooks and
 * the backend-status layout the code below relies on; newer ones are
 * built, with a warning from the Makefile, but not tested.
 */
#include "pg_config.h"
#if PG_VERSION_NUM < 130000
#error "pool_monitor supports PostgreSQL 13 to 18; this server's headers are older (PG_VERSION_NUM < 130000)"
#endif

#include "postgres.h"

#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/postmaster.h"
#if PG_VERSION_NUM >= 140000
#include "utils/backend_status.h"
#include "utils/wait_event.h"
#endif

/*
 * The number of slots in the shared backend-status array, as core sizes it
 * (NumBackendStatSlots, private to core): one per PGPROC of a real
 * process.  17 numbered auxiliary processes with the others and replaced
 * NUM_AUXPROCTYPES by NUM_AUXILIARY_PROCS.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/proc.h"
#define PM_BACKEND_STATUS_SLOTS (MaxBackends + NUM_AUXILIARY_PROCS)
#else
#include "miscadmin.h"
#define PM_BACKEND_STATUS_SLOTS (MaxBackends + NUM_AUXPROCTYPES)
#endif

/*
 * This backend's own slot in that array: its backend id, 1-based, up to
 * 16; its PGPROC number, 0-based, from 17 on.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define PM_MY_STATUS_SLOT() ((int) MyProcNumber)
#else
#include "storage/backendid.h"
#define PM_MY_STATUS_SLOT() ((int) MyBackendId - 1)
#endif

/*
 * The same number of slots, at a time when shared memory is sized: from
 * 15 on in shmem_request_hook, when MaxBackends is known; on 13 and 14 in
 * _PG_init, before it is, so computed as InitializeMaxBackends() does.
 */
#if PG_VERSION_NUM >= 150000
static inline int
pm_status_slots_for_sizing(void)
{
	return PM_BACKEND_STATUS_SLOTS;
}
#else
#include "postmaster/autovacuum.h"
#include "replication/walsender.h"

static inline int
pm_status_slots_for_sizing(void)
{
	return MaxConnections + autovacuum_max_workers + 1 +
		max_worker_processes + max_wal_senders + NUM_AUXPROCTYPES;
}
#endif

/*
 * A hint to start loading memory the code will soon read: the sampler
 * walks arrays with one cache line per slot, cold between samples.  Not a
 * PostgreSQL difference but a compiler one; a no-op where unknown.
 */
#if defined(__GNUC__) || defined(__clang__)
#define pm_prefetch(addr) __builtin_prefetch((const void *) (addr))
#else
#define pm_prefetch(addr) ((void) 0)
#endif

/* How many slots ahead the array walks prefetch. */
#define PM_PREFETCH_DISTANCE 8

/*
 * Connection slots reserved for superusers: superuser_reserved_connections,
 * plus reserved_connections (for pg_use_reserved_connections) from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define PM_RESERVED_CONNECTIONS (SuperuserReservedConnections + ReservedConnections)
#else
#define PM_RESERVED_CONNECTIONS ReservedBackends
#endif

/* Predefined roles were renamed from DEFAULT_ROLE_* to ROLE_PG_* in 14. */
#if PG_VERSION_NUM < 140000
#define ROLE_PG_MONITOR			DEFAULT_ROLE_MONITOR
#define ROLE_PG_READ_ALL_STATS	DEFAULT_ROLE_READ_ALL_STATS
#endif

/*
 * Materialized set-returning functions: InitMaterializedSRF() is 15's name
 * for what 13 and 14 spelled out by hand.
 */
#if PG_VERSION_NUM >= 150001
#define pm_init_materialized_srf(fcinfo) InitMaterializedSRF((fcinfo), 0)
#elif PG_VERSION_NUM >= 150000
/* 15.0 named it SetSingleFuncCall; 15.1 renamed it */
#define pm_init_materialized_srf(fcinfo) SetSingleFuncCall((fcinfo), 0)
#else
static inline void
pm_init_materialized_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(oldcontext);
}
#endif

/* Custom settings' prefix: 15 renamed EmitWarningsOnPlaceholders. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * 15 added shmem_request_hook, the only place where RequestAddinShmemSpace
 * and RequestNamedLWLockTranche may be called; before, _PG_init called them
 * directly.
 */
#if PG_VERSION_NUM >= 150000
#define PM_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/*
 * Since 16 PGXS builds with hidden symbol visibility and fmgr.h declares
 * _PG_init with PGDLLEXPORT; before, we declare it.  Other entry points
 * named in bgw_function_name need PGDLLEXPORT on every version.
 */
#if PG_VERSION_NUM < 160000
extern PGDLLEXPORT void _PG_init(void);
#endif

/*
 * The fields of this backend's own backend-status entry that make up its
 * pool key, for the accounting hook.  MyBEEntry is exported from 14 on; 13
 * keeps it static in pgstat.c, so there the same values are taken from
 * where pgstat_bestart() copies them.  (That needs libpq-be.h, and with it
 * the GSSAPI headers on servers built with GSSAPI, on 13 only.)  Returns
 * false when there is no entry.
 */
#if PG_VERSION_NUM >= 140000
static inline bool
pm_own_status(Oid *dbid, Oid *roleid, const SockAddr **addr,
			  const char **appname)
{
	volatile PgBackendStatus *be = MyBEEntry;

	if (be == NULL)
		return false;
	*dbid = be->st_databaseid;
	*roleid = be->st_userid;
	*addr = (const SockAddr *) &be->st_clientaddr;
	*appname = (const char *) be->st_appname;
	return true;
}
#else
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "utils/guc.h"

static inline bool
pm_own_status(Oid *dbid, Oid *roleid, const SockAddr **addr,
			  const char **appname)
{
	if (MyProcPort == NULL)
		return false;
	*dbid = MyDatabaseId;
	*roleid = GetSessionUserId();
	*addr = &MyProcPort->raddr;
	*appname = application_name;
	return true;
}
#endif

/*
 * A client backend that has not authenticated yet.  Up to 17 a client
 * backend's status entry is published only once it has authenticated;
 * from 18 on it is published before authentication, in state
 * STATE_STARTING with no role, and the role is filled in once
 * authentication has passed.  Such an entry is not yet a connection of any
 * pool: it is neither counted nor audited.
 */
#if PG_VERSION_NUM >= 180000
#define PM_BACKEND_AUTHENTICATING(state, roleid) \
	((state) == STATE_STARTING && !OidIsValid(roleid))
#else
#define PM_BACKEND_AUTHENTICATING(state, roleid) false
#endif

/*
 * A setting's "extra" is freed by the GUC machinery itself: with free() up
 * to 15; from 16 on GUC memory lives in a memory context of its own and is
 * freed with guc_free(), so the extra must come from guc_malloc().  Both
 * return NULL when out of memory.
 */
#if PG_VERSION_NUM >= 160000
#include "utils/guc.h"

static inline void *
pm_guc_alloc(size_t size)
{
	return guc_malloc(LOG, size);
}
#define pm_guc_free(ptr) guc_free(ptr)
#else
static inline void *
pm_guc_alloc(size_t size)
{
	return malloc(size);
}
#define pm_guc_free(ptr) free(ptr)
#endif

/*
 * Raise *ptr to target unless it is already higher; returns the value now
 * stored.  Core has pg_atomic_monotonic_advance_u64 from 17 on only.
 */
static inline uint64
pm_atomic_advance_u64(volatile pg_atomic_uint64 *ptr, uint64 target)
{
	uint64		current = pg_atomic_read_u64(ptr);

	while (current < target)
	{
		if (pg_atomic_compare_exchange_u64(ptr, &current, target))
			return target;
	}
	return current;
}

/*
 * pg_terminate_backend() signals the backend's process group, which the
 * backend leads where setsid() exists: HAVE_SETSID up to 15, every
 * platform but Windows from 16 on (the configure test was dropped).
 */
#if defined(HAVE_SETSID) || (PG_VERSION_NUM >= 160000 && !defined(WIN32))
#define PM_SIGNAL_PROCESS_GROUP 1
#endif

/*
 * ProcessUtility_hook's parameters: 14 added readOnlyTree.  A hook is
 * declared as hook(PM_PROCESS_UTILITY_ARGS) and passes them on with
 * PM_PROCESS_UTILITY_PASS.
 */
#include "tcop/utility.h"
#if PG_VERSION_NUM >= 140000
#define PM_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define PM_PROCESS_UTILITY_PASS \
	pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define PM_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define PM_PROCESS_UTILITY_PASS \
	pstmt, queryString, context, params, queryEnv, dest, qc
#endif

#endif							/* POOL_MONITOR_COMPAT_H */
