/*-------------------------------------------------------------------------
 *
 * sampler.c
 *		Reading every client backend from PostgreSQL's backend-status array
 *		into one PmSample: per-connection rows and the server-wide summary.
 *
 * The sampler only reads: through status_reader.c, a consistent copy of
 * each client backend's entry, found through pool_monitor's registry of
 * live slots.  Lock waits are not in the backend-status array; they are
 * read without locks from the session's PGPROC, as pg_stat_activity reads
 * them.  Every PM_REGISTRY_AUDIT_EVERY-th sample reads every slot instead
 * and checks that the registry missed no session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "compat.h"
#include "pool_monitor.h"
#include "status_reader.h"

static int
compare_pids(const void *a, const void *b)
{
	int32		pa = *(const int32 *) a;
	int32		pb = *(const int32 *) b;

	return (pa > pb) - (pa < pb);
}

/*
 * Collect, sorted, the pids of processes waiting on a heavyweight lock.
 * Returns how many; *pids is palloc'd in the current memory context.
 */
static int
collect_lock_waiters(int32 **pids)
{
	uint32		nprocs = ProcGlobal->allProcCount;
	int			n = 0;

	*pids = palloc(sizeof(int32) * Max(nprocs, 1));
	for (uint32 i = 0; i < nprocs; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		uint32		wait_event_info;
		int32		pid;

		if (i + PM_PREFETCH_DISTANCE < nprocs)
			pm_prefetch(&ProcGlobal->allProcs[i + PM_PREFETCH_DISTANCE].wait_event_info);
		wait_event_info = *(volatile uint32 *) &proc->wait_event_info;

		/* the pid's cache line only for the few that wait on a lock */
		if ((wait_event_info & 0xFF000000) != PG_WAIT_LOCK)
			continue;
		pid = proc->pid;
		if (pid != 0)
			(*pids)[n++] = pid;
	}
	if (n > 1)
		qsort(*pids, n, sizeof(int32), compare_pids);
	return n;
}

/* Our state for a backend-status entry's BackendState. */
PmState
pm_state_from_backend(int backend_state)
{
	switch ((BackendState) backend_state)
	{
		case STATE_RUNNING:
			return PM_STATE_ACTIVE;
		case STATE_IDLE:
			return PM_STATE_IDLE;
		case STATE_IDLEINTRANSACTION:
			return PM_STATE_IDLE_IN_XACT;
		case STATE_IDLEINTRANSACTION_ABORTED:
			return PM_STATE_IDLE_IN_XACT_ABORTED;
		case STATE_FASTPATH:
			return PM_STATE_FASTPATH;
		case STATE_DISABLED:
			return PM_STATE_DISABLED;
		default:
			return PM_STATE_STARTING;
	}
}

/*
 * The state as pg_stat_activity spells it; NULL for a backend that has not
 * reported one yet.
 */
const char *
pm_state_name(PmState state)
{
	switch (state)
	{
		case PM_STATE_ACTIVE:
			return "active";
		case PM_STATE_IDLE:
			return "idle";
		case PM_STATE_IDLE_IN_XACT:
			return "idle in transaction";
		case PM_STATE_IDLE_IN_XACT_ABORTED:
			return "idle in transaction (aborted)";
		case PM_STATE_FASTPATH:
			return "fastpath function call";
		case PM_STATE_DISABLED:
			return "disabled";
		case PM_STATE_STARTING:
			break;
	}
	return NULL;
}

static void
copy_client_addr(PmAddr *dst, const SockAddr *src)
{
	const struct sockaddr *sa = (const struct sockaddr *) &src->addr;

	memset(dst, 0, sizeof(PmAddr));
	if (src->salen == 0)
		return;
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *in4 = (const struct sockaddr_in *) sa;

		dst->family = AF_INET;
		memcpy(dst->bytes, &in4->sin_addr, 4);
	}
	else if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

		dst->family = AF_INET6;
		memcpy(dst->bytes, &in6->sin6_addr, 16);
	}
}

/*
 * Build a pool key.  The sampler and the accounting hook (accounting.c)
 * both build keys here, so that a session's key from its own process
 * equals the one the sampler reads from its backend-status entry: the
 * application name is clipped as pgstat_report_appname clips it.
 */
void
pm_make_pool_key(PmPoolKey *key, Oid dbid, Oid roleid, const SockAddr *addr,
				 const char *appname)
{
	memset(key, 0, sizeof(PmPoolKey));
	key->dbid = dbid;
	key->roleid = roleid;
	copy_client_addr(&key->addr, addr);
	if (appname)
		memcpy(key->appname, appname,
			   pg_mbcliplen(appname, strlen(appname), NAMEDATALEN - 1));
}

/*
 * A sample's connection utilization in percent of usable connections, as
 * the alerts, the pool-stats line and the termination policy judge it.
 * (PostgreSQL keeps at least one connection usable; were none, any session
 * would make it full.)
 */
double
pm_utilization(const PmSummary *summary)
{
	if (summary->usable_connections <= 0)
		return summary->counts.total > 0 ? 100.0 : 0.0;
	return 100.0 * summary->counts.total / summary->usable_connections;
}

/*
 * Count one connection into *counts by its state.
 */
void
pm_count_connection(PmCounts *counts, const PmConnection *conn)
{
	counts->total++;
	switch ((PmState) conn->state)
	{
		case PM_STATE_ACTIVE:
		case PM_STATE_FASTPATH:
			counts->active++;
			if (conn->waiting)
				counts->waiting++;
			break;
		case PM_STATE_IDLE:
			counts->idle++;
			break;
		case PM_STATE_IDLE_IN_XACT:
			counts->idle_in_xact++;
			break;
		case PM_STATE_IDLE_IN_XACT_ABORTED:
			counts->idle_in_xact_aborted++;
			break;
		case PM_STATE_STARTING:
		case PM_STATE_DISABLED:
			break;
	}
}

/*
 * Fill one PmConnection from a client backend's status.
 */
static void
read_connection(PmConnection *conn, const PmStatusEntry *be)
{
	memset(conn, 0, sizeof(PmConnection));
	conn->pid = be->pid;
	conn->pool = -1;
	pm_make_pool_key(&conn->key, be->dbid, be->roleid, &be->clientaddr,
					 be->appname);
	conn->backend_start = be->backend_start;
	conn->state_since = be->state_since;
	conn->xact_start = be->xact_start;
	conn->state = (uint8) pm_state_from_backend(be->backend_state);
}

/*
 * Mark the active connections that wait on a heavyweight lock by walking
 * every PGPROC: a cache miss per process slot, so only for active
 * sessions the registry does not hold (it points at each one's PGPROC).
 */
static void
mark_lock_waiters(PmSample *sample)
{
	int32	   *waiters;
	int			nwaiters = collect_lock_waiters(&waiters);

	for (int i = 0; nwaiters > 0 && i < sample->nconnections; i++)
	{
		PmConnection *conn = &sample->connections[i];

		conn->waiting = (conn->state == PM_STATE_ACTIVE &&
						 bsearch(&conn->pid, waiters, nwaiters, sizeof(int32),
								 compare_pids) != NULL);
	}
	pfree(waiters);
}

static void
track_longest(PmSummary *summary, const PmConnection *conn, TimestampTz now)
{
	int64		in_state = conn->state_since ? now - conn->state_since : 0;
	int64		in_xact = conn->xact_start ? now - conn->xact_start : 0;

	if (conn->state == PM_STATE_IDLE)
		summary->longest_idle_us = Max(summary->longest_idle_us, in_state);
	else if (conn->state == PM_STATE_IDLE_IN_XACT ||
			 conn->state == PM_STATE_IDLE_IN_XACT_ABORTED)
		summary->longest_idle_in_xact_us =
			Max(summary->longest_idle_in_xact_us, in_state);
	summary->longest_xact_us = Max(summary->longest_xact_us, in_xact);
}

/*
 * The slots to read this sample, into slots[] (room for every slot):
 * those the registry holds, or every slot when this sample audits the
 * registry or the registry is off.  Returns how many.  While the registry
 * is trusted, an audit sample still counts only registered sessions.
 */
static int
slots_to_read(int *slots, int nslots, bool trusted, bool *audit)
{
	static uint64 samples_taken = 0;

	*audit = (samples_taken++ % PM_REGISTRY_AUDIT_EVERY) == 0;
	if (trusted && !*audit)
		return pm_registry_slots(slots);
	for (int i = 0; i < nslots; i++)
		slots[i] = i;
	return nslots;
}

/*
 * Take one sample of every client backend into *sample, whose connections
 * array must hold pm_connection_capacity entries.  Allocates in the current
 * memory context, which the caller resets between samples.
 */
void
pm_take_sample(PmSample *sample)
{
	PmSummary  *summary = &sample->summary;
	int			nslots = pm_status_slots();
	int		   *slots = palloc(sizeof(int) * nslots);
	int			nread;
	bool		trusted = pm_registry_trusted();
	bool		audit;
	bool		walk_procs = false;
	TimestampTz now;

	nread = slots_to_read(slots, nslots, trusted, &audit);
	if (audit)
		pm_registry_audit_begin();
	now = GetCurrentTimestamp();

	memset(summary, 0, sizeof(PmSummary));
	summary->sampled_at = now;
	summary->max_connections = MaxConnections;
	summary->reserved_connections = PM_RESERVED_CONNECTIONS;
	summary->usable_connections = MaxConnections - PM_RESERVED_CONNECTIONS;
	sample->nconnections = 0;
	sample->dropped = 0;

	for (int k = 0; k < nread; k++)
	{
		PmStatusEntry entry;
		PmConnection *conn;

		if (k + PM_PREFETCH_DISTANCE < nread)
			pm_status_prefetch(slots[k + PM_PREFETCH_DISTANCE]);
		if (!pm_read_client_backend(slots[k], &entry))
			continue;
		/* a slot read from the registry is registered; an audit checks */
		if (trusted && audit && !pm_registry_has(entry.slot))
		{
			/*
			 * An audit found a session out of the registry: one on its way
			 * out, as a rule.  Note it for the audit, but count it no more
			 * than the samples between audits do, so that no session
			 * flickers back into view every 16th sample.
			 */
			pm_registry_audit_note(&entry);
			continue;
		}
		if (sample->nconnections >= pm_connection_capacity)
		{
			/* cannot happen while slots match max_connections; never overrun */
			sample->dropped++;
			summary->counts.total++;
			continue;
		}
		conn = &sample->connections[sample->nconnections++];
		read_connection(conn, &entry);
		/* only an active session can wait on a lock */
		if (conn->state != PM_STATE_ACTIVE)
			continue;
		if (trusted)
			conn->waiting = pm_registry_waits_on_lock(entry.slot, entry.pid);
		else
			walk_procs = true;
	}
	if (audit)
		pm_registry_audit_end();

	if (walk_procs)
		mark_lock_waiters(sample);
	for (int i = 0; i < sample->nconnections; i++)
	{
		pm_count_connection(&summary->counts, &sample->connections[i]);
		track_longest(summary, &sample->connections[i], now);
	}
	pfree(slots);
}
