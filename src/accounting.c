/*-------------------------------------------------------------------------
 *
 * accounting.c
 *		Exact connection accounting: sessions opened, closed and refused,
 *		counted from hooks in every backend rather than sampled, and the
 *		exact peak of concurrent sessions.
 *
 * A session is counted as opened when its start-up transaction commits:
 * ClientAuthentication_hook (after authentication succeeded) registers an
 * exit callback and a transaction callback, and the commit that ends
 * InitPostgres is the first point at which every start-up check, including
 * the 53300 ones that run after authentication (reserved slots, role and
 * database connection limits), has passed.  So "opened" counts sessions
 * established, never one refused a moment later, and the database and role
 * of the session's pool are known by then.  "closed" is counted by the exit
 * callback, for counted sessions only.
 *
 * Refusals are caught by an emit_log_hook installed in the postmaster and
 * inherited by every child: a FATAL with SQLSTATE 53300.  Some of them are
 * raised before the backend has a PGPROC (MyProc is NULL), so that hook only
 * touches atomics: no lock, no allocation, and it checks pm_accounting for
 * NULL first.
 *
 * The pool a session opens into is found through the pool index
 * (pool_index.c) under a shared lock.  A pool with no slot yet is noted in
 * a short pending list under the exclusive lock; the worker credits it at
 * its next sample, creating the slot if the pool's sessions came and went
 * between samples.  Either way each session is credited exactly once: the
 * worker publishes slots and takes the pending list under the exclusive
 * lock, which excludes both backend paths.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "replication/walsender.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "accounting.h"
#include "busy.h"
#include "compat.h"
#include "pool_monitor.h"
#include "status_reader.h"

/*
 * ClientAuthentication_hook as libpq/auth.h declares it.  auth.h pulls in
 * libpq-be.h, which needs the GSSAPI headers (libkrb5-dev) on servers built
 * with GSSAPI; the hook never looks into the Port, so an incomplete struct
 * is enough and the build needs nothing beyond postgresql-server-dev.
 */
struct Port;
typedef void (*pm_client_auth_hook_type) (struct Port *port, int status);
extern PGDLLIMPORT pm_client_auth_hook_type ClientAuthentication_hook;

/* settings */
int			pm_alert_utilization = 90;
int			pm_alert_cooldown_s = 60;
int			pm_log_interval_s = 60;

/* shared state */
PmAccounting *pm_accounting = NULL;
PmAlertRing *pm_alert_ring = NULL;

/* hooks we chain to */
static pm_client_auth_hook_type prev_client_auth_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/* this backend's session */
static bool awaiting_startup_commit = false;
static bool session_counted = false;

/*
 * Each 53300 message, by the start of its untranslated format string, and
 * the kind it means.  Prefixes, because the texts end differently across
 * versions ("...reserved for non-replication superuser connections" up to
 * 15, "...reserved for roles with the %s attribute" and "...with privileges
 * of the \"%s\" role" from 16).
 */
static const struct
{
	const char *prefix;
	PmRejectKind kind;
}			reject_messages[] =
{
	{"sorry, too many clients already", PM_REJECT_TOO_MANY_CLIENTS},
	{"remaining connection slots are reserved", PM_REJECT_RESERVED_SLOTS},
	{"too many connections for role", PM_REJECT_ROLE_LIMIT},
	{"too many connections for database", PM_REJECT_DATABASE_LIMIT},
	{"number of requested standby connections exceeds", PM_REJECT_WAL_SENDERS},
};

static const char *const reject_kind_names[PM_REJECT_KINDS] = {
	"too_many_clients", "reserved_slots", "role_limit", "database_limit",
	"wal_senders", "other"
};

/*
 * The kind of a 53300 refusal from its message id (the untranslated
 * format string, so the server's lc_messages does not matter).  Pure: safe
 * in the emit_log_hook.
 */
PmRejectKind
pm_classify_rejection(const char *message_id)
{
	if (message_id == NULL)
		return PM_REJECT_OTHER;
	for (size_t i = 0; i < lengthof(reject_messages); i++)
		if (strncmp(message_id, reject_messages[i].prefix,
					strlen(reject_messages[i].prefix)) == 0)
			return reject_messages[i].kind;
	return PM_REJECT_OTHER;
}

/* A refusal kind as SQL and the log spell it. */
const char *
pm_reject_kind_name(PmRejectKind kind)
{
	if (kind < 0 || kind >= PM_REJECT_KINDS)
		return "other";
	return reject_kind_names[kind];
}

/* Sessions opened, refused (of every kind) and ended, since server start. */
void
pm_accounting_event_totals(PmEventTotals *totals)
{
	totals->opened = pg_atomic_read_u64(&pm_accounting->opened);
	totals->rejected = 0;
	for (int k = 0; k < PM_REJECT_KINDS; k++)
		totals->rejected += pg_atomic_read_u64(&pm_accounting->rejected[k]);
	totals->terminated = pg_atomic_read_u64(&pm_accounting->terminated_total);
}

/*
 * For the termination code: count n sessions that pool_monitor ended, for
 * history's and the log line's "terminated".
 */
void
pm_accounting_count_terminated(uint64 n)
{
	if (pm_accounting != NULL)
		pg_atomic_fetch_add_u64(&pm_accounting->terminated_total, n);
}

/*
 * Note "count" opens of a pool with no slot, for the worker to credit at
 * its next sample: from a backend's start-up, or from the worker as it
 * hands a pool's slot to another pool.  Caller holds pm_shared->lock
 * exclusively: no allocation, no error.
 */
void
pm_accounting_add_pending(const PmPoolKey *key, uint64 count)
{
	PmAccounting *acct = pm_accounting;

	for (int i = 0; i < acct->npending; i++)
		if (memcmp(&acct->pending[i].key, key, sizeof(PmPoolKey)) == 0)
		{
			acct->pending[i].count += count;
			return;
		}
	if (acct->npending >= acct->pending_capacity)
	{
		acct->pending_dropped += count;
		return;
	}
	acct->pending[acct->npending].key = *key;
	acct->pending[acct->npending].count = count;
	acct->npending++;
}

/*
 * Credit this session's open to its pool: directly when the pool has a
 * slot, else through the pending list.  The key is built from this
 * backend's own backend-status entry, published just before the start-up
 * transaction commits, by the function the sampler uses on the same entry:
 * so the keys are equal byte for byte.
 */
static void
credit_pool_open(void)
{
	PmPoolKey	key;
	Oid			dbid;
	Oid			roleid;
	const SockAddr *addr;
	const char *appname;
	int			slot;

	if (!pm_own_status(&dbid, &roleid, &addr, &appname))
		return;
	pm_make_pool_key(&key, dbid, roleid, addr, appname);
	pm_busy_session_open(&key);

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	slot = pm_pool_index_find(&key);
	if (slot >= 0)
		pg_atomic_fetch_add_u64(&pm_pools[slot].opened, 1);
	LWLockRelease(pm_shared->lock);
	if (slot >= 0)
		return;

	/* look again under the exclusive lock: the worker may have just added it */
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	slot = pm_pool_index_find(&key);
	if (slot >= 0)
		pg_atomic_fetch_add_u64(&pm_pools[slot].opened, 1);
	else
		pm_accounting_add_pending(&key, 1);
	LWLockRelease(pm_shared->lock);
}

/* Count this session as established and raise the peaks. */
static void
count_session_open(void)
{
	PmAccounting *acct = pm_accounting;
	uint64		sessions;

	sessions = pg_atomic_add_fetch_u64(&acct->sessions, 1);
	pg_atomic_fetch_add_u64(&acct->opened, 1);
	pm_atomic_advance_u64(&acct->peak_since_reset, sessions);
	pm_atomic_advance_u64(&acct->peak_interval, sessions);
	session_counted = true;
	credit_pool_open();
}

/*
 * Transaction callback registered at authentication: the first commit is
 * the one that ends InitPostgres, after which the session is established.
 * Later transactions cost one test of a static flag.
 */
static void
startup_xact_callback(XactEvent event, void *arg)
{
	if (!awaiting_startup_commit || event != XACT_EVENT_COMMIT)
		return;
	awaiting_startup_commit = false;
	count_session_open();
}

/*
 * before_shmem_exit callback: leave the sampler's registry and count an
 * established session's end.
 */
static void
session_exit_callback(int code, Datum arg)
{
	awaiting_startup_commit = false;
	pm_registry_leave();
	pm_debug_delay_exit();
	pm_busy_session_close();
	if (!session_counted || pm_accounting == NULL)
		return;
	session_counted = false;
	pg_atomic_fetch_sub_u64(&pm_accounting->sessions, 1);
	pg_atomic_fetch_add_u64(&pm_accounting->closed, 1);
}

/*
 * ClientAuthentication_hook: chain first (an earlier hook may refuse), then
 * arrange for the session to be counted once it is established, and enter
 * the sampler's registry (status_reader.c) once its exit callback is in
 * place.
 * Walsenders are not client sessions for pool_monitor, as in the sampler.
 */
static void
client_authentication(struct Port *port, int status)
{
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	if (status != STATUS_OK || pm_accounting == NULL || am_walsender)
		return;
	awaiting_startup_commit = true;
	RegisterXactCallback(startup_xact_callback, NULL);
	pm_debug_fail_registration();
	before_shmem_exit(session_exit_callback, (Datum) 0);
	/* last: the two calls above can fail, and must not leave a live bit */
	pm_registry_enter();
}

/*
 * Refusals reach emit_log_hook only as their FATAL is logged, which it is
 * at every log_min_messages but "panic".  Tell whoever reads the counts
 * (summary, rejections) that they miss every refusal then.  The level that
 * counts is the configured one, not one a reader has SET.
 */
void
pm_warn_if_refusals_uncounted(void)
{
	const char *level = GetConfigOptionResetString("log_min_messages");

	if (level != NULL && pg_strcasecmp(level, "panic") == 0)
		ereport(WARNING,
				(errmsg("pool_monitor does not count refused connections while log_min_messages is \"panic\""),
				 errdetail("Connections refused with SQLSTATE 53300 are seen only as their FATAL message is logged."),
				 errhint("Set log_min_messages to \"fatal\" or a lower level.")));
}

/*
 * emit_log_hook: count FATAL refusals with SQLSTATE 53300.  Runs in
 * processes without a PGPROC: atomics only, nothing that allocates, locks
 * or can fail.
 */
static void
emit_log(ErrorData *edata)
{
	if (edata->elevel == FATAL &&
		edata->sqlerrcode == ERRCODE_TOO_MANY_CONNECTIONS &&
		pm_accounting != NULL)
		pg_atomic_fetch_add_u64(
								&pm_accounting->rejected[pm_classify_rejection(edata->message_id)], 1);

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

static void
define_settings(void)
{
	DefineCustomIntVariable("pool_monitor.alert_utilization",
							"Connection utilization, in percent of usable connections, that raises an alert.",
							"0 turns utilization alerts off.",
							&pm_alert_utilization,
							90, 0, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pool_monitor.alert_cooldown",
							"Time that passes before an alert of the same kind is raised again.",
							NULL,
							&pm_alert_cooldown_s,
							60, 0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pool_monitor.log_interval",
							"Time between two pool-stats lines in the server log.",
							"0 turns the lines off.",
							&pm_log_interval_s,
							60, 0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * Define the settings and install the hooks.  Called from _PG_init while
 * shared_preload_libraries is processed, so every backend inherits them.
 */
void
pm_accounting_init(void)
{
	define_settings();

	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = client_authentication;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = emit_log;
}

/* Pending opens the list holds: distinct new pools per sample interval. */
static int
pending_capacity(void)
{
	return Max(MaxConnections, 64);
}

static Size
accounting_size(void)
{
	return add_size(offsetof(PmAccounting, pending),
					mul_size(sizeof(PmPendingOpen), pending_capacity()));
}

/* Ask for the accounting and alerts chunks; see pm_shmem_request. */
void
pm_accounting_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(MAXALIGN(accounting_size()),
									MAXALIGN(sizeof(PmAlertRing))));
}

static void
init_accounting(void)
{
	PmAccounting *acct = pm_accounting;

	memset(acct, 0, accounting_size());
	pg_atomic_init_u64(&acct->opened, 0);
	pg_atomic_init_u64(&acct->closed, 0);
	for (int k = 0; k < PM_REJECT_KINDS; k++)
		pg_atomic_init_u64(&acct->rejected[k], 0);
	pg_atomic_init_u64(&acct->terminated_total, 0);
	pg_atomic_init_u64(&acct->sessions, 0);
	pg_atomic_init_u64(&acct->peak_since_reset, 0);
	pg_atomic_init_u64(&acct->peak_interval, 0);
	acct->pending_capacity = pending_capacity();

	memset(pm_alert_ring, 0, sizeof(PmAlertRing));
}

/* Create or attach to the accounting and alerts chunks. */
void
pm_accounting_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pm_accounting = ShmemInitStruct("pool_monitor accounting",
									accounting_size(), &found);
	pm_alert_ring = ShmemInitStruct("pool_monitor alerts",
									sizeof(PmAlertRing), &found);
	if (!found)
		init_accounting();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Part of reset(): counters restart from now, the peak from the sessions
 * open now, and the alerts ring empties (the worker ends the alert
 * cooldowns when it sees the new stats_reset).  Caller holds
 * pm_shared->lock exclusively.
 */
void
pm_accounting_reset(void)
{
	PmAccounting *acct = pm_accounting;

	acct->opened_at_reset = pg_atomic_read_u64(&acct->opened);
	acct->closed_at_reset = pg_atomic_read_u64(&acct->closed);
	for (int k = 0; k < PM_REJECT_KINDS; k++)
		acct->rejected_at_reset[k] = pg_atomic_read_u64(&acct->rejected[k]);
	acct->terminated_at_reset = pg_atomic_read_u64(&acct->terminated_total);
	pg_atomic_write_u64(&acct->peak_since_reset,
						pg_atomic_read_u64(&acct->sessions));

	pm_alert_ring->raised_at_reset = pm_alert_ring->raised;
	pm_alert_ring->next = 0;
	pm_alert_ring->count = 0;
}

/*
 * Fill a history entry's exact figures for the interval it ends, and start
 * the next interval.  Worker only, with pm_shared->lock held exclusively:
 * atomics only.
 */
void
pm_accounting_close_interval(PmHistoryEntry *entry)
{
	PmAccounting *acct = pm_accounting;
	PmEventTotals totals;
	uint64		peak;

	pm_accounting_event_totals(&totals);
	entry->opened = (int64) (totals.opened - acct->interval_base.opened);
	entry->rejected = (int64) (totals.rejected - acct->interval_base.rejected);
	entry->terminated =
		(int64) (totals.terminated - acct->interval_base.terminated);
	acct->interval_base = totals;

	/* the next interval starts at the sessions open now */
	peak = pg_atomic_exchange_u64(&acct->peak_interval,
								  pg_atomic_read_u64(&acct->sessions));
	pm_atomic_advance_u64(&acct->peak_interval,
						  pg_atomic_read_u64(&acct->sessions));
	entry->peak_total = (int32) Min(peak, (uint64) PG_INT32_MAX);
}

/*
 * Move the pending opens into out[] (capacity at least pending_capacity)
 * and empty the list; returns how many.  Worker only, at every sample, so
 * an empty list, the usual case, is seen without the exclusive lock: a
 * session that adds to it meanwhile is credited at the next sample.
 */
int
pm_accounting_take_pending(PmPendingOpen *out, int capacity)
{
	int			n;

	if (*(volatile int32 *) &pm_accounting->npending == 0)
		return 0;
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	n = Min(pm_accounting->npending, capacity);
	memcpy(out, pm_accounting->pending, sizeof(PmPendingOpen) * n);
	pm_accounting->npending = 0;
	LWLockRelease(pm_shared->lock);
	return n;
}
