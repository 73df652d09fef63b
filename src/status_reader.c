/*-------------------------------------------------------------------------
 *
 * status_reader.c
 *		Finding and reading client backends in PostgreSQL's shared
 *		backend-status array, copying only the fields pool_monitor uses.
 *
 * pgstat's own snapshot (pgstat_read_current_status) is made for one
 * query of pg_stat_activity: it allocates room for every slot's query
 * text, copies every live entry whole, and up to 16 takes a lock per
 * backend to read its transaction ids.  At max_connections 1100 that fixed
 * cost was most of a sample.  The sampler needs a dozen fields, so it
 * reads them itself under the array's own protocol: read st_changecount,
 * copy, read it again, and retry if a writer came between (the reader's
 * side of PGSTAT_BEGIN_WRITE_ACTIVITY, as pgstat_read_current_status
 * does).
 *
 * Which slots to read: every client backend enters a registry of slots
 * when it authenticates and leaves it when its exit begins (accounting.c
 * calls us from its hooks), one bit per slot, with the index of the
 * backend's PGPROC beside it.  So a sample touches the slots of live
 * sessions only, not every slot max_connections reserves, and finds a
 * session's lock wait in its own PGPROC instead of walking them all.  A
 * backend whose slot we cannot hold, or a sampler audit that finds a
 * session the registry missed (another library's hook that does not chain
 * to ours), turns the registry off for good: every slot is read then.
 *
 * Nothing here locks or allocates; only attaching can fail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pool_monitor.h"
#include "registry_audit.h"
#include "status_reader.h"

/* The registry of slots held by client backends, in shared memory. */
typedef struct PmRegistry
{
	int32		nslots;
	pg_atomic_uint32 distrusted;	/* nonzero: read every slot */
	pg_atomic_uint64 live[FLEXIBLE_ARRAY_MEMBER];	/* a bit per slot */
	/* then int32 procnos[nslots]: each live slot's PGPROC index */
	/* then int32 leaving[nslots]: the pid that last left each slot */
} PmRegistry;

#define REGISTRY_WORDS(nslots)	(((nslots) + 63) / 64)

static PmRegistry *registry = NULL;
static int32 *registry_procnos = NULL;
static int32 *registry_leaving = NULL;

/* the slot this backend registered, or -1 */
static int	my_registered_slot = -1;

static volatile PgBackendStatus *status_array = NULL;
static int	status_slots = 0;

static Size
registry_size(int nslots)
{
	Size		size = offsetof(PmRegistry, live);

	size = add_size(size, mul_size(sizeof(pg_atomic_uint64),
								   REGISTRY_WORDS(nslots)));
	return add_size(size, mul_size(sizeof(int32), mul_size(2, nslots)));
}

/* Shared memory the registry needs; see pm_shmem_request. */
Size
pm_registry_shmem_size(void)
{
	return MAXALIGN(registry_size(pm_status_slots_for_sizing()));
}

/* Create or attach to the registry.  Caller holds AddinShmemInitLock. */
void
pm_registry_shmem_startup(void)
{
	int			nslots = pm_status_slots_for_sizing();
	bool		found;

	registry = ShmemInitStruct("pool_monitor backend registry",
							   registry_size(nslots), &found);
	registry_procnos = (int32 *) &registry->live[REGISTRY_WORDS(nslots)];
	registry_leaving = registry_procnos + nslots;
	if (found)
		return;
	registry->nslots = nslots;
	pg_atomic_init_u32(&registry->distrusted, 0);
	for (int i = 0; i < REGISTRY_WORDS(nslots); i++)
		pg_atomic_init_u64(&registry->live[i], 0);
	memset(registry_procnos, 0, sizeof(int32) * nslots);
	memset(registry_leaving, 0, sizeof(int32) * nslots);
}

/*
 * Enter this backend's slot, from ClientAuthentication_hook.  Atomics and
 * plain stores only.
 */
void
pm_registry_enter(void)
{
	int			slot = PM_MY_STATUS_SLOT();

	if (registry == NULL || MyProc == NULL || my_registered_slot >= 0 ||
		pm_debug_skip_registry)
		return;
	if (slot < 0 || slot >= registry->nslots)
	{
		pg_atomic_write_u32(&registry->distrusted, 1);
		return;
	}
	registry_procnos[slot] = (int32) (MyProc - ProcGlobal->allProcs);
	registry_leaving[slot] = 0;
	/* a full barrier: the PGPROC index is visible before the bit */
	pg_atomic_fetch_or_u64(&registry->live[slot / 64],
						   UINT64CONST(1) << (slot % 64));
	my_registered_slot = slot;
}

/* Leave it, when the backend's exit begins. */
void
pm_registry_leave(void)
{
	int			slot = my_registered_slot;

	if (registry == NULL || slot < 0)
		return;
	/* a full barrier: who left is visible before the bit is gone */
	registry_leaving[slot] = MyProcPid;
	pg_atomic_fetch_and_u64(&registry->live[slot / 64],
							~(UINT64CONST(1) << (slot % 64)));
	my_registered_slot = -1;
}

/* Read every slot from now on; returns true the first time only. */
static bool
registry_distrust(void)
{
	return pg_atomic_exchange_u32(&registry->distrusted, 1) == 0;
}

bool
pm_registry_trusted(void)
{
	return pg_atomic_read_u32(&registry->distrusted) == 0;
}

/* Is this slot registered?  Only meaningful while the registry is trusted. */
bool
pm_registry_has(int slot)
{
	uint64		word;

	if (slot < 0 || slot >= registry->nslots)
		return false;
	word = pg_atomic_read_u64(&registry->live[slot / 64]);
	return (word & (UINT64CONST(1) << (slot % 64))) != 0;
}

/*
 * Put the registered slots, ascending, into slots[] (room for
 * pm_status_slots() entries) and return how many.
 */
int
pm_registry_slots(int *slots)
{
	int			n = 0;
	int			limit = Min(registry->nslots, pm_status_slots());

	for (int w = 0; w < REGISTRY_WORDS(registry->nslots); w++)
	{
		uint64		word = pg_atomic_read_u64(&registry->live[w]);

		while (word != 0)
		{
			int			slot = w * 64 + pg_rightmost_one_pos64(word);

			word &= word - 1;
			if (slot < limit)
				slots[n++] = slot;
		}
	}
	return n;
}

/*
 * Does the registered backend in this slot, with this pid, wait on a
 * heavyweight lock?  Reads the one PGPROC the registry points at; the pid
 * check rejects a slot that changed hands since it was read.
 */
bool
pm_registry_waits_on_lock(int slot, int32 pid)
{
	int32		procno = registry_procnos[slot];
	volatile PGPROC *proc;
	uint32		wait_event_info;

	if (procno < 0 || procno >= (int32) ProcGlobal->allProcCount)
		return false;
	proc = &ProcGlobal->allProcs[procno];
	wait_event_info = proc->wait_event_info;
	pg_read_barrier();
	return proc->pid == pid && (wait_event_info & 0xFF000000) == PG_WAIT_LOCK;
}

/* The audit's memory, worker-local; registry_audit.c decides. */
static PmAuditState audit_state;

void
pm_registry_audit_begin(void)
{
	pm_audit_begin(&audit_state);
}

/*
 * A client backend this audit read whose slot the registry does not hold.
 * One that left the registry itself is on its way out, however long its
 * exit takes (aborting a large transaction can take seconds): not a miss.
 */
void
pm_registry_audit_note(const PmStatusEntry *entry)
{
	if (registry_leaving[entry->slot] == entry->pid)
		return;
	pm_audit_note(&audit_state, entry->pid, entry->backend_start);
}

/*
 * End an audit: a session missed twice turns the registry off, with one
 * WARNING that says why.
 */
void
pm_registry_audit_end(void)
{
	int32		missed = pm_audit_end(&audit_state);

	if (missed != 0 && registry_distrust())
		ereport(WARNING,
				(errmsg("pool_monitor found a client backend that its connection hook never saw"),
				 errdetail("Process %d is connected but did not pass through pool_monitor's ClientAuthentication_hook.",
						   missed),
				 errhint("Another library in shared_preload_libraries may set ClientAuthentication_hook without calling the hook it replaces.  pool_monitor now reads every backend slot in each sample, and its connection counters miss such sessions.")));
}

/*
 * Find the array by its name in the shared-memory index.  ShmemInitStruct
 * checks that the size we expect is the size core allocated, so a layout
 * we do not know fails here, loudly, rather than being misread.
 */
static void
attach_status_array(void)
{
	int			slots = PM_BACKEND_STATUS_SLOTS;
	bool		found;
	void	   *array;

	array = ShmemInitStruct("Backend Status Array",
							mul_size(sizeof(PgBackendStatus), slots), &found);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pool_monitor could not find the backend-status array in shared memory")));
	status_array = (volatile PgBackendStatus *) array;
	status_slots = slots;
}

/* How many backend-status slots there are to read; attaches on first use. */
int
pm_status_slots(void)
{
	if (status_array == NULL)
		attach_status_array();
	return status_slots;
}

/*
 * Start loading a slot the caller will read soon: the slots are cold
 * between samples, one cache miss each.
 */
void
pm_status_prefetch(int slot)
{
	if (slot >= 0 && slot < status_slots)
		pm_prefetch(&status_array[slot]);
}

/*
 * Copy slot "slot" (0-based) into *entry if it holds a client backend
 * that has authenticated; false otherwise.  The copy is consistent: one
 * version of the entry.
 */
bool
pm_read_client_backend(int slot, PmStatusEntry *entry)
{
	volatile PgBackendStatus *be;
	bool		is_client;

	Assert(status_array != NULL && slot >= 0 && slot < status_slots);
	be = &status_array[slot];
	entry->slot = slot;
	for (;;)
	{
		int			before;
		int			after;

		pgstat_begin_read_activity(be, before);
		entry->pid = be->st_procpid;
		is_client = (entry->pid > 0 && be->st_backendType == B_BACKEND);
		if (is_client)
		{
			entry->dbid = be->st_databaseid;
			entry->roleid = be->st_userid;
			memcpy(&entry->clientaddr, (const void *) &be->st_clientaddr,
				   sizeof(SockAddr));
			strlcpy(entry->appname, (const char *) be->st_appname, NAMEDATALEN);
			entry->backend_start = be->st_proc_start_timestamp;
			entry->state_since = be->st_state_start_timestamp;
			entry->xact_start = be->st_xact_start_timestamp;
			entry->backend_state = (int) be->st_state;
		}
		pgstat_end_read_activity(be, after);
		if (pgstat_read_activity_complete(before, after))
			break;
		/* a writer came between: read the entry again */
		CHECK_FOR_INTERRUPTS();
	}
	/* not a connection until it has authenticated (see compat.h) */
	if (is_client &&
		PM_BACKEND_AUTHENTICATING(entry->backend_state, entry->roleid))
		return false;
	return is_client;
}

/*
 * Find the client backend with this pid and copy it into *entry; false if
 * there is none now.  Reads every slot: the caller is about to signal the
 * backend and must not trust anything but the array itself.
 */
bool
pm_find_client_backend(int32 pid, PmStatusEntry *entry)
{
	int			slots = pm_status_slots();

	for (int i = 0; i < slots; i++)
	{
		/* the pid alone first: a torn read only costs a full read */
		if (status_array[i].st_procpid != pid)
			continue;
		if (pm_read_client_backend(i, entry) && entry->pid == pid)
			return true;
	}
	return false;
}
