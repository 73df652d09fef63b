/*-------------------------------------------------------------------------
 *
 * terminate.c
 *		The worker's prune step: resolve what the policy needs to know
 *		about each sampled connection, run the policy, and end the chosen
 *		sessions as pg_terminate_backend() does, recording each one.
 *
 * The worker is connected to no database, which is enough for the two
 * shared catalogs it needs, pg_authid (names, rolsuper) and pg_database
 * (names).  It reads each with one heap scan per run (catalog_scan.c),
 * inside a short transaction, rather than a syscache lookup per role and
 * database.  The scans run only when a prune has something to decide.
 *
 * The sample may be milliseconds old when a session is signalled.  Right
 * before each signal the backend's status entry is read again, and the
 * session is ended only if it is still the same session (pid and
 * backend_start) in the same state since the same moment, and has not
 * begun to exit (status_reader.c's registry).  What remains is
 * the window between that read and kill(), microseconds long, in which a
 * client's next statement may arrive; PostgreSQL offers no atomic
 * "terminate if idle".
 *
 * A signalled backend takes a while to exit, and until then later samples
 * still show it idle since the same moment.  The worker remembers the
 * sessions it has handled (signalled, or recorded in a periodic dry run)
 * for as long as samples show them unchanged, and does not end or record
 * them again; they still count towards their pool's floor, which is right,
 * as they are the ones the floor let go.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "catalog_scan.h"
#include "compat.h"
#include "status_reader.h"
#include "termination.h"

/* when the last run began; the worker's start before the first */
static TimestampTz last_prune = 0;

/* A session the worker has handled: signalled, or recorded in a dry run. */
typedef struct HandledSession
{
	int32		pid;
	bool		dry_run;
	TimestampTz backend_start;
	TimestampTz state_since;
} HandledSession;

/* sessions handled and still in the latest sample unchanged */
static HandledSession *handled = NULL;
static int	nhandled = 0;

/* An index of the sample's connections by one oid of their pool key. */
typedef struct OidRef
{
	Oid			oid;
	int			index;
} OidRef;

static int
compare_oid_refs(const void *a, const void *b)
{
	Oid			oa = ((const OidRef *) a)->oid;
	Oid			ob = ((const OidRef *) b)->oid;

	return (oa > ob) - (oa < ob);
}

/* Sort the sample's connections by role (by_role) or database oid. */
static OidRef *
index_by_oid(const PmSample *sample, bool by_role)
{
	OidRef	   *refs = palloc(sizeof(OidRef) * Max(sample->nconnections, 1));

	for (int i = 0; i < sample->nconnections; i++)
	{
		refs[i].oid = by_role ? sample->connections[i].key.roleid :
			sample->connections[i].key.dbid;
		refs[i].index = i;
	}
	qsort(refs, sample->nconnections, sizeof(OidRef), compare_oid_refs);
	return refs;
}

/* The first ref with this oid, or n when none. */
static int
first_ref(const OidRef *refs, int n, Oid oid)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (refs[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* What the catalog visitors fill: facts[] through the oid indexes. */
typedef struct FactsFill
{
	const OidRef *refs;
	int			n;
	PmPolicyFacts *facts;
	MemoryContext cxt;
} FactsFill;

static void
fill_role(Form_pg_authid role, void *arg)
{
	FactsFill  *fill = (FactsFill *) arg;
	char	   *name = NULL;

	for (int i = first_ref(fill->refs, fill->n, role->oid);
		 i < fill->n && fill->refs[i].oid == role->oid; i++)
	{
		if (name == NULL)
			name = MemoryContextStrdup(fill->cxt, NameStr(role->rolname));
		fill->facts[fill->refs[i].index].role = name;
		fill->facts[fill->refs[i].index].is_superuser = role->rolsuper;
	}
}

static void
fill_database(Form_pg_database db, void *arg)
{
	FactsFill  *fill = (FactsFill *) arg;
	char	   *name = NULL;

	for (int i = first_ref(fill->refs, fill->n, db->oid);
		 i < fill->n && fill->refs[i].oid == db->oid; i++)
	{
		if (name == NULL)
			name = MemoryContextStrdup(fill->cxt, NameStr(db->datname));
		fill->facts[fill->refs[i].index].database = name;
	}
}

/*
 * Fill facts[] for the sample: role and database names and superuser-ness,
 * from one scan each of pg_authid and pg_database (catalog_scan.c) in a
 * transaction of their own.  Names are copied into cxt, which the caller
 * resets.
 */
static void
resolve_facts(const PmSample *sample, PmPolicyFacts *facts, MemoryContext cxt)
{
	int			n = sample->nconnections;
	FactsFill	by_role = {index_by_oid(sample, true), n, facts, cxt};
	FactsFill	by_db = {index_by_oid(sample, false), n, facts, cxt};

	memset(facts, 0, sizeof(PmPolicyFacts) * n);

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	pm_scan_roles(fill_role, &by_role);
	pm_scan_databases(fill_database, &by_db);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * Is the backend still the session the sample saw, in the same state since
 * the same moment, and not yet on its way out?  Reads the live
 * backend-status array afresh.  A backend leaves the registry as its exit
 * begins but stays in the array, idle since the same moment, for a while
 * after; while the registry is trusted, one that has left it is exiting
 * already (perhaps from a signal of ours) and must not be ended again.
 */
static bool
still_same_session(const PmConnection *conn)
{
	PmStatusEntry be;

	return pm_find_client_backend(conn->pid, &be) &&
		be.backend_start == conn->backend_start &&
		pm_state_from_backend(be.backend_state) == (PmState) conn->state &&
		be.state_since == conn->state_since &&
		(!pm_registry_trusted() || pm_registry_has(be.slot));
}

/*
 * Send SIGTERM as pg_terminate_backend() does: to the backend's process
 * group when backends lead one, after checking the pid is a backend.  The
 * client then sees 57P01 (admin_shutdown).
 */
static bool
signal_backend(int32 pid)
{
	if (BackendPidGetProc(pid) == NULL)
		return false;
#ifdef PM_SIGNAL_PROCESS_GROUP
	if (kill(-pid, SIGTERM) == 0)
		return true;
#else
	if (kill(pid, SIGTERM) == 0)
		return true;
#endif
	ereport(WARNING,
			(errmsg("pool_monitor could not send signal to process %d: %m", pid)));
	return false;
}

static const char *
client_text(const PmAddr *addr, char *buf, size_t len)
{
	if (addr->family == 0 || inet_ntop(addr->family, addr->bytes, buf, len) == NULL)
		return "local";
	return buf;
}

/* Fill a ring entry for a session ended (or that would have been). */
static void
fill_entry(PmTermination *entry, const PmConnection *conn,
		   const PmPolicyFacts *facts, const PmVerdict *verdict,
		   uint64 run, TimestampTz now)
{
	memset(entry, 0, sizeof(PmTermination));
	entry->terminated_at = now;
	entry->run = run;
	entry->idle_for_us = now - conn->state_since;
	entry->pid = conn->pid;
	entry->roleid = conn->key.roleid;
	entry->state = conn->state;
	entry->reason = verdict->reason;
	entry->dry_run = verdict->dry_run;
	entry->addr = conn->key.addr;
	if (facts->database)
		namestrcpy(&entry->database, facts->database);
	if (facts->role)
		namestrcpy(&entry->role, facts->role);
	strlcpy(entry->appname, conn->key.appname, NAMEDATALEN);
}

/*
 * The ring's dry-run entry for the same session and idle period as entry,
 * or NULL.  The idle period is where it began: terminated_at less
 * idle_for_us.  Caller holds the lock; a scan of the ring, nothing more.
 */
static PmTermination *
find_dry_run_entry(const PmTermination *entry)
{
	TimestampTz since = entry->terminated_at - entry->idle_for_us;

	for (int i = 0; i < pm_terminations->count; i++)
	{
		PmTermination *old = &pm_terminations->entries[i];

		if (old->dry_run && old->pid == entry->pid &&
			old->terminated_at - old->idle_for_us == since)
			return old;
	}
	return NULL;
}

/*
 * Append an entry to the ring and count it.  A dry run that finds the same
 * session idle since the same moment as an earlier dry run (prune_now()
 * asked again) updates that entry instead, so that repeated checks do not
 * fill the ring; returns false then.  Takes the lock.
 */
static bool
record_termination(const PmTermination *entry, int pool)
{
	PmTermination *old = NULL;

	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	if (entry->dry_run)
		old = find_dry_run_entry(entry);
	if (old != NULL)
		*old = *entry;
	else
	{
		pm_terminations->entries[pm_terminations->next] = *entry;
		pm_terminations->next = (pm_terminations->next + 1) % PM_TERMINATIONS_SIZE;
		if (pm_terminations->count < PM_TERMINATIONS_SIZE)
			pm_terminations->count++;
		if (!entry->dry_run && pool >= 0 && pool <= pm_max_pools)
			pm_pools[pool].terminated++;
	}
	LWLockRelease(pm_shared->lock);

	/* the count behind summary, history and the stats log */
	if (!entry->dry_run)
		pm_accounting_count_terminated(1);
	return old == NULL;
}

static void
log_termination(const PmTermination *entry)
{
	char		client[INET6_ADDRSTRLEN];

	ereport(LOG,
			(errmsg("pool_monitor: %s pid=%d database=%s role=%s application=%s client=%s state=%s idle_for=%.3fs reason=%s",
					entry->dry_run ? "dry run, would have terminated" : "terminated",
					entry->pid, NameStr(entry->database), NameStr(entry->role),
					entry->appname,
					client_text(&entry->addr, client, sizeof(client)),
					pm_state_name((PmState) entry->state),
					entry->idle_for_us / 1e6,
					pm_reason_name((PmReason) entry->reason))));
}

/*
 * End one chosen session, or record that a dry run would have: only if it
 * is still the session the sample saw.  Returns whether it was recorded.
 */
static bool
end_session(const PmConnection *conn, const PmPolicyFacts *facts,
			const PmVerdict *verdict, uint64 run)
{
	PmTermination entry;

	if (!still_same_session(conn))
	{
		elog(DEBUG1, "pool_monitor: pid %d changed since the sample, not terminated",
			 conn->pid);
		return false;
	}
	if (!verdict->dry_run && !signal_backend(conn->pid))
		return false;
	fill_entry(&entry, conn, facts, verdict, run, GetCurrentTimestamp());
	/* a dry run already recorded and logged is only brought up to date */
	if (record_termination(&entry, conn->pool))
		log_termination(&entry);
	return true;
}

static bool
same_session(const HandledSession *h, const PmConnection *conn)
{
	return h->pid == conn->pid && h->backend_start == conn->backend_start &&
		h->state_since == conn->state_since;
}

/*
 * Forget the handled sessions that the sample no longer shows unchanged:
 * they have exited, or moved on to another state.
 */
static void
forget_changed_sessions(const PmSample *sample)
{
	int			kept = 0;

	if (handled == NULL)
		handled = MemoryContextAlloc(TopMemoryContext,
									 sizeof(HandledSession) * Max(pm_connection_capacity, 1));
	for (int i = 0; i < nhandled; i++)
	{
		for (int j = 0; j < sample->nconnections; j++)
		{
			if (same_session(&handled[i], &sample->connections[j]))
			{
				handled[kept++] = handled[i];
				break;
			}
		}
	}
	nhandled = kept;
}

/*
 * Was this session handled already, in a way that this run must not
 * repeat?  A signalled session always was.  A dry-run record only matters
 * to another periodic dry run: a real run must still end the session, and
 * prune_now() wants to see it again.
 */
static bool
already_handled(const PmConnection *conn, bool requested, bool dry_run)
{
	for (int i = 0; i < nhandled; i++)
		if (same_session(&handled[i], conn))
			return !handled[i].dry_run || (dry_run && !requested);
	return false;
}

static void
remember_handled(const PmConnection *conn, bool dry_run)
{
	for (int i = 0; i < nhandled; i++)
	{
		if (same_session(&handled[i], conn))
		{
			handled[i].dry_run = handled[i].dry_run && dry_run;
			return;
		}
	}
	if (nhandled >= pm_connection_capacity)
		return;
	handled[nhandled].pid = conn->pid;
	handled[nhandled].dry_run = dry_run;
	handled[nhandled].backend_start = conn->backend_start;
	handled[nhandled].state_since = conn->state_since;
	nhandled++;
}

/* Is a prune_now() request waiting?  Sets *dry_run to what it asks. */
static bool
prune_requested(uint64 *request, bool *dry_run)
{
	bool		pending;

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	pending = pm_terminations->request_pid != 0 &&
		pm_terminations->requested > pm_terminations->served;
	*request = pm_terminations->requested;
	*dry_run = pm_terminations->request_dry_run;
	LWLockRelease(pm_shared->lock);
	return pending;
}

/* Is a run due, periodic or asked for by prune_now()? */
bool
pm_prune_due(void)
{
	uint64		request;
	bool		dry;

	if (prune_requested(&request, &dry))
		return true;
	return pm_pruning_enabled() && pm_prune_wait_ms() == 0;
}

/*
 * Milliseconds until the next periodic run; a day when pruning is off.
 * The first periodic run comes one prune_interval after the worker starts.
 */
long
pm_prune_wait_ms(void)
{
	long		ms;

	if (last_prune == 0)
		last_prune = GetCurrentTimestamp();
	if (!pm_pruning_enabled())
		return 86400L * 1000;
	ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
										 TimestampTzPlusMilliseconds(last_prune,
																	 pm_prune_interval_s * 1000L));
	return Max(ms, 0);
}

/*
 * One run of the policy on a sample just published.  Serves a waiting
 * prune_now() request (with its dry_run) if there is one.  Call in the
 * worker, outside a transaction, in a memory context the caller resets.
 */
void
pm_prune(PmSample *sample)
{
	MemoryContext cxt = CurrentMemoryContext;
	PmPolicySettings settings;
	uint64		request;
	bool		request_dry_run;
	bool		requested = prune_requested(&request, &request_dry_run);
	uint64		run;
	int			n = sample->nconnections;
	double		utilization = pm_utilization(&sample->summary);

	last_prune = GetCurrentTimestamp();
	pm_current_policy_settings(&settings);
	if (requested && request_dry_run)
		settings.dry_run = true;

	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	run = ++pm_terminations->runs;
	LWLockRelease(pm_shared->lock);
	forget_changed_sessions(sample);

	if (n > 0 && (settings.idle_lifetime > 0 || settings.idle_in_xact_lifetime > 0))
	{
		PmPolicyFacts *facts = palloc(sizeof(PmPolicyFacts) * n);
		PmVerdict  *verdicts = palloc(sizeof(PmVerdict) * n);
		int		   *chosen = palloc(sizeof(int) * n);
		PmPolicyItem *scratch = palloc(sizeof(PmPolicyItem) * n);
		int			nchosen;

		resolve_facts(sample, facts, cxt);
		for (int i = 0; i < n; i++)
			facts[i].handled = already_handled(&sample->connections[i],
											   requested, settings.dry_run);
		nchosen = pm_decide(sample->connections, facts, n, &settings,
							utilization, sample->summary.sampled_at,
							verdicts, chosen, scratch);
		for (int i = 0; i < nchosen; i++)
		{
			int			k = chosen[i];
			PmConnection *conn = &sample->connections[k];

			if (end_session(conn, &facts[k], &verdicts[k], run))
				remember_handled(conn, verdicts[k].dry_run);
		}
	}

	if (requested)
	{
		LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
		pm_terminations->served = request;
		pm_terminations->served_run = run;
		LWLockRelease(pm_shared->lock);
		ConditionVariableBroadcast(&pm_terminations->cv);
	}
}
