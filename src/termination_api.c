/*-------------------------------------------------------------------------
 *
 * termination_api.c
 *		The terminations ring in shared memory and the SQL side of idle
 *		termination: the terminations view's function, prune_now(), and
 *		the prune_at / protected_by columns of the connections view.
 *
 * prune_now() does not signal anything itself: it asks the worker, which
 * runs the policy on a fresh sample, so that sessions are only ever ended
 * in one place.  One caller holds the request at a time; others wait.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "termination.h"

PG_FUNCTION_INFO_V1(pm_get_terminations);
PG_FUNCTION_INFO_V1(pm_prune_now);

PmTerminationsShared *pm_terminations = NULL;

/* Size of the terminations chunk, for pm_shmem_request(). */
Size
pm_terminations_shmem_size(void)
{
	return MAXALIGN(sizeof(PmTerminationsShared));
}

/*
 * Create or attach to the terminations chunk.  Called from
 * pm_shmem_startup() with AddinShmemInitLock held.
 */
void
pm_terminations_shmem_startup(void)
{
	bool		found;

	pm_terminations = ShmemInitStruct("pool_monitor terminations",
									  sizeof(PmTerminationsShared), &found);
	if (!found)
	{
		memset(pm_terminations, 0, sizeof(PmTerminationsShared));
		ConditionVariableInit(&pm_terminations->cv);
	}
}

/*
 * Clear the ring, for reset().  Caller holds pm_shared->lock exclusively.
 * Run numbers and the prune_now() handshake stay.
 */
void
pm_reset_terminations(void)
{
	pm_terminations->next = 0;
	pm_terminations->count = 0;
}

/* A role or database already looked up in this call, and where. */
typedef struct SeenOid
{
	Oid			oid;
	int			row;
} SeenOid;

#define MAX_SEEN_OIDS 32

/* The row whose facts already hold this oid, or -1. */
static int
seen_row(const SeenOid *seen, int nseen, Oid oid)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i].oid == oid)
			return seen[i].row;
	return -1;
}

static void
remember(SeenOid *seen, int *nseen, Oid oid, int row)
{
	if (*nseen < MAX_SEEN_OIDS)
	{
		seen[*nseen].oid = oid;
		seen[*nseen].row = row;
		(*nseen)++;
	}
}

/*
 * Fill each connection's role and database names and superuser-ness
 * through the syscaches (we are in a transaction), once per distinct role
 * and database: many sessions share few pools.
 */
static void
resolve_facts(const PmConnection *conns, int n, PmPolicyFacts *facts)
{
	SeenOid		roles[MAX_SEEN_OIDS];
	SeenOid		databases[MAX_SEEN_OIDS];
	int			nroles = 0;
	int			ndatabases = 0;

	for (int i = 0; i < n; i++)
	{
		Oid			roleid = conns[i].key.roleid;
		Oid			dbid = conns[i].key.dbid;
		int			row;

		if ((row = seen_row(roles, nroles, roleid)) >= 0)
		{
			facts[i].role = facts[row].role;
			facts[i].is_superuser = facts[row].is_superuser;
		}
		else
		{
			facts[i].role = OidIsValid(roleid) ?
				GetUserNameFromId(roleid, true) : NULL;
			facts[i].is_superuser = OidIsValid(roleid) && superuser_arg(roleid);
			remember(roles, &nroles, roleid, i);
		}

		if ((row = seen_row(databases, ndatabases, dbid)) >= 0)
			facts[i].database = facts[row].database;
		else
		{
			facts[i].database = OidIsValid(dbid) ? get_database_name(dbid) : NULL;
			remember(databases, &ndatabases, dbid, i);
		}
	}
}

/*
 * The policy's verdict on each connection of the latest sample, with the
 * settings in force now, for the connections view.  facts[] (room for n)
 * receives each connection's role and database names, for the view's
 * columns too.
 */
PmVerdict *
pm_connection_verdicts(const PmConnection *conns, int n,
					   const PmSummary *latest, PmPolicyFacts *facts)
{
	PmPolicySettings settings;
	PmVerdict  *verdicts = palloc0(sizeof(PmVerdict) * Max(n, 1));
	int		   *chosen = palloc(sizeof(int) * Max(n, 1));
	PmPolicyItem *scratch = palloc(sizeof(PmPolicyItem) * Max(n, 1));

	pm_current_policy_settings(&settings);
	resolve_facts(conns, n, facts);
	(void) pm_decide(conns, facts, n, &settings, pm_utilization(latest),
					 latest->sampled_at, verdicts, chosen, scratch);
	return verdicts;
}

/* Set the prune_at and protected_by columns from a verdict. */
void
pm_set_verdict_columns(Datum *values, bool *nulls, int first,
					   const PmVerdict *verdict)
{
	const char *protection = pm_protection_name((PmProtection) verdict->protected_by);

	nulls[first] = (verdict->prune_at == 0);
	values[first] = TimestampTzGetDatum(verdict->prune_at);
	nulls[first + 1] = (protection == NULL);
	if (protection)
		values[first + 1] = CStringGetTextDatum(protection);
}

#define TERMINATIONS_COLS 10

/* Put one ring entry into the result set. */
static void
put_entry(ReturnSetInfo *rsinfo, const PmTermination *entry, bool sees_all)
{
	Datum		values[TERMINATIONS_COLS];
	bool		nulls[TERMINATIONS_COLS];
	char		text[INET6_ADDRSTRLEN];
	Interval   *idle_for = palloc0(sizeof(Interval));
	bool		visible = sees_all ||
		has_privs_of_role(GetUserId(), entry->roleid);

	memset(nulls, 0, sizeof(nulls));
	values[0] = TimestampTzGetDatum(entry->terminated_at);
	values[1] = Int32GetDatum(entry->pid);
	values[2] = NameGetDatum(&entry->database);
	nulls[2] = (NameStr(entry->database)[0] == '\0');
	values[3] = NameGetDatum(&entry->role);
	nulls[3] = (NameStr(entry->role)[0] == '\0');
	values[4] = CStringGetTextDatum(entry->appname);
	nulls[5] = true;
	if (visible && entry->addr.family != 0 &&
		inet_ntop(entry->addr.family, entry->addr.bytes, text, sizeof(text)))
	{
		values[5] = DirectFunctionCall1(inet_in, CStringGetDatum(text));
		nulls[5] = false;
	}
	values[6] = CStringGetTextDatum(pm_state_name((PmState) entry->state));
	idle_for->time = entry->idle_for_us;
	values[7] = IntervalPGetDatum(idle_for);
	values[8] = CStringGetTextDatum(pm_reason_name((PmReason) entry->reason));
	values[9] = BoolGetDatum(entry->dry_run);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Return the ring, oldest first; only the entries of one run when run is
 * not 0.
 */
static void
return_ring(FunctionCallInfo fcinfo, uint64 run)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmTermination *copy = palloc(sizeof(PmTermination) * PM_TERMINATIONS_SIZE);
	bool		sees_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	int			count;
	int			next;

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	count = pm_terminations->count;
	next = pm_terminations->next;
	memcpy(copy, pm_terminations->entries,
		   sizeof(PmTermination) * PM_TERMINATIONS_SIZE);
	LWLockRelease(pm_shared->lock);

	for (int i = 0; i < count; i++)
	{
		int			at = (next - count + i + PM_TERMINATIONS_SIZE) % PM_TERMINATIONS_SIZE;

		if (run == 0 || copy[at].run == run)
			put_entry(rsinfo, &copy[at], sees_all);
	}
}

/*
 * pm_get_terminations: the terminations ring, oldest first.
 */
Datum
pm_get_terminations(PG_FUNCTION_ARGS)
{
	pm_require_shared();
	pm_init_materialized_srf(fcinfo);
	return_ring(fcinfo, 0);
	return (Datum) 0;
}

/* Give up the prune_now() request if this backend still holds it. */
static void
release_request(int code, Datum arg)
{
	LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
	if (pm_terminations->request_pid == MyProcPid)
		pm_terminations->request_pid = 0;
	LWLockRelease(pm_shared->lock);
	ConditionVariableBroadcast(&pm_terminations->cv);
}

/*
 * Take the request when it is free and, once taken, wait until the worker
 * has served it.  Returns the run that served it.  Errors out when the
 * deadline passes first.
 */
static uint64
request_and_wait(bool dry_run, TimestampTz deadline)
{
	uint64		request = 0;
	uint64		run = 0;
	bool		held = false;

	ConditionVariablePrepareToSleep(&pm_terminations->cv);
	for (;;)
	{
		LWLockAcquire(pm_shared->lock, LW_EXCLUSIVE);
		if (!held && pm_terminations->request_pid == 0)
		{
			held = true;
			pm_terminations->request_pid = MyProcPid;
			pm_terminations->request_dry_run = dry_run;
			request = ++pm_terminations->requested;
		}
		if (held && pm_terminations->served >= request)
			run = pm_terminations->served_run;
		LWLockRelease(pm_shared->lock);
		if (run != 0)
			break;

		/* wake it every time round: it may have restarted meanwhile */
		if (held)
			pm_wake_worker();
		pm_wait_for_worker_step(&pm_terminations->cv, deadline,
								"run the prune policy");
	}
	ConditionVariableCancelSleep();
	return run;
}

/*
 * pm_prune_now: have the worker run the policy once on a fresh sample,
 * signalling nobody when dry_run, and return what that run ended (or would
 * have).  EXECUTE is revoked from PUBLIC: superusers only unless granted.
 */
Datum
pm_prune_now(PG_FUNCTION_ARGS)
{
	bool		dry_run = PG_GETARG_BOOL(0);
	TimestampTz deadline;
	uint64		run;

	pm_require_shared();
	pm_init_materialized_srf(fcinfo);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   PM_SAMPLE_NOW_TIMEOUT_MS);

	PG_ENSURE_ERROR_CLEANUP(release_request, (Datum) 0);
	{
		run = request_and_wait(dry_run, deadline);
	}
	PG_END_ENSURE_ERROR_CLEANUP(release_request, (Datum) 0);
	release_request(0, (Datum) 0);

	return_ring(fcinfo, run);
	return (Datum) 0;
}
