/*-------------------------------------------------------------------------
 *
 * status_reader.h
 *		Client backends found through pool_monitor's registry and read
 *		straight from the shared backend-status array (status_reader.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_STATUS_READER_H
#define POOL_MONITOR_STATUS_READER_H

#include "libpq/pqcomm.h"
#include "utils/timestamp.h"

/* The fields of one backend-status entry the sampler and pruner use. */
typedef struct PmStatusEntry
{
	int			slot;			/* index in the backend-status array */
	int32		pid;
	Oid			dbid;
	Oid			roleid;
	SockAddr	clientaddr;
	char		appname[NAMEDATALEN];
	TimestampTz backend_start;
	TimestampTz state_since;
	TimestampTz xact_start;
	int			backend_state;	/* BackendState */
} PmStatusEntry;

/* the registry of slots held by client backends */
extern Size pm_registry_shmem_size(void);
extern void pm_registry_shmem_startup(void);
extern void pm_registry_enter(void);
extern void pm_registry_leave(void);
extern bool pm_registry_trusted(void);
extern bool pm_registry_has(int slot);
extern int	pm_registry_slots(int *slots);
extern bool pm_registry_waits_on_lock(int slot, int32 pid);

/* every so many samples, the sampler reads every slot to audit it */
#define PM_REGISTRY_AUDIT_EVERY 16
extern void pm_registry_audit_begin(void);
extern void pm_registry_audit_note(const PmStatusEntry *entry);
extern void pm_registry_audit_end(void);

/* the backend-status array */
extern int	pm_status_slots(void);
extern void pm_status_prefetch(int slot);
extern bool pm_read_client_backend(int slot, PmStatusEntry *entry);
extern bool pm_find_client_backend(int32 pid, PmStatusEntry *entry);

#endif							/* POOL_MONITOR_STATUS_READER_H */
