/*-------------------------------------------------------------------------
 *
 * accounting.h
 *		Exact connection accounting, exhaustion alerts and the periodic
 *		pool-stats log line: the shared state they keep and the entry
 *		points the rest of pool_monitor calls.
 *
 * Backends write the counters from hooks, with atomics only; the worker
 * reads them after each sample.  Everything here lives in shared-memory
 * chunks of its own ("pool_monitor accounting", "pool_monitor alerts"),
 * so the core layout in pool_monitor.h does not change.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_ACCOUNTING_H
#define POOL_MONITOR_ACCOUNTING_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"

#include "libpq/pqcomm.h"

#include "alert_policy.h"
#include "pool_monitor.h"

/*
 * Why a connection was refused with SQLSTATE 53300 (too_many_connections);
 * pm_reject_kind_name() spells them for SQL and the log.
 */
typedef enum PmRejectKind
{
	PM_REJECT_TOO_MANY_CLIENTS = 0, /* no free slot at all */
	PM_REJECT_RESERVED_SLOTS,	/* only reserved slots were left */
	PM_REJECT_ROLE_LIMIT,		/* the role's CONNECTION LIMIT */
	PM_REJECT_DATABASE_LIMIT,	/* the database's CONNECTION LIMIT */
	PM_REJECT_WAL_SENDERS,		/* max_wal_senders reached */
	PM_REJECT_OTHER,			/* any other 53300 */
	PM_REJECT_KINDS
} PmRejectKind;

/* Sessions opened into a pool not in the pool table yet, by key. */
typedef struct PmPendingOpen
{
	PmPoolKey	key;
	uint64		count;
} PmPendingOpen;

/*
 * The events that history and the pool-stats line count per interval:
 * running totals, or a baseline taken from them.
 */
typedef struct PmEventTotals
{
	uint64		opened;
	uint64		rejected;
	uint64		terminated;
} PmEventTotals;

/*
 * The counters.  The atomics are lifetime counts, never reset, so that the
 * worker's per-interval differences stay right across reset(); reset()
 * records a baseline instead (the *_at_reset fields, under pm_shared->lock).
 */
typedef struct PmAccounting
{
	pg_atomic_uint64 opened;	/* sessions established */
	pg_atomic_uint64 closed;	/* established sessions that ended */
	pg_atomic_uint64 rejected[PM_REJECT_KINDS]; /* 53300 refusals */
	pg_atomic_uint64 terminated_total;	/* sessions pool_monitor ended */
	pg_atomic_uint64 sessions;	/* established and not ended: the gauge */
	pg_atomic_uint64 peak_since_reset;	/* max of sessions since reset */
	pg_atomic_uint64 peak_interval; /* max of sessions since last sample */

	/* baselines taken by reset(); guarded by pm_shared->lock */
	uint64		opened_at_reset;
	uint64		closed_at_reset;
	uint64		rejected_at_reset[PM_REJECT_KINDS];
	uint64		terminated_at_reset;

	/* totals at the latest sample, for history; written by the worker */
	PmEventTotals interval_base;

	/* totals at the latest log line; written by the worker */
	TimestampTz last_log_at;	/* 0 until the first sample */
	PmEventTotals log_base;

	/*
	 * Opens of pools that had no slot when the session looked; the worker
	 * credits them to the pool's slot (creating it) at the next sample.
	 * Guarded by pm_shared->lock.
	 */
	uint64		pending_dropped;	/* opens lost because the list was full */
	int32		npending;
	int32		pending_capacity;
	PmPendingOpen pending[FLEXIBLE_ARRAY_MEMBER];
} PmAccounting;

/* Kinds of alert, as pool_monitor.alerts spells them. */
typedef enum PmAlertKindCode
{
	PM_ALERT_CODE_UTILIZATION = 0,
	PM_ALERT_CODE_REJECTED,
	PM_ALERT_CODE_RECOVERED
} PmAlertKindCode;

#define PM_ALERT_RING_SIZE		128
#define PM_ALERT_MESSAGE_LEN	512

/* One raised alert. */
typedef struct PmAlert
{
	TimestampTz raised_at;
	int32		kind;			/* PmAlertKindCode */
	double		utilization;	/* percent of usable, at the sample */
	int32		total;
	int32		usable;
	char		message[PM_ALERT_MESSAGE_LEN];
} PmAlert;

/*
 * The alerts ring and the alert policy's state; guarded by pm_shared->lock,
 * written by the worker only.
 */
typedef struct PmAlertRing
{
	PmAlertPolicyState policy;
	uint64		rejected_reported[PM_REJECT_KINDS]; /* per kind, as policy */
	uint64		raised;			/* alerts since start */
	uint64		raised_at_reset;
	TimestampTz reset_seen;		/* the last reset() the policy has forgotten
								 * its cooldowns for (pm_shared->stats_reset) */
	int32		next;
	int32		count;
	PmAlert		entries[PM_ALERT_RING_SIZE];
} PmAlertRing;

/* warns when log_min_messages keeps refusals from being counted */
extern void pm_warn_if_refusals_uncounted(void);

/* settings (accounting.c) */
extern int	pm_alert_utilization;
extern int	pm_alert_cooldown_s;
extern int	pm_log_interval_s;

/* shared state (accounting.c); NULL when the library was not preloaded */
extern PmAccounting *pm_accounting;
extern PmAlertRing *pm_alert_ring;

/* accounting.c */
extern void pm_accounting_init(void);
extern void pm_accounting_shmem_request(void);
extern void pm_accounting_shmem_startup(void);
extern void pm_accounting_reset(void);
extern void pm_accounting_close_interval(PmHistoryEntry *entry);
extern int	pm_accounting_take_pending(PmPendingOpen *out, int capacity);
extern void pm_accounting_add_pending(const PmPoolKey *key, uint64 count);
extern void pm_accounting_count_terminated(uint64 n);
extern void pm_accounting_event_totals(PmEventTotals *totals);
extern const char *pm_reject_kind_name(PmRejectKind kind);
extern PmRejectKind pm_classify_rejection(const char *message_id);

/* accounting_sql.c */
extern int	pm_accounting_summary_values(Datum *values, int first);

/* the worker's side: alerts.c and statslog.c */
extern void pm_after_sample(const PmSummary *summary);
extern void pm_alerts_after_sample(const PmSummary *summary, TimestampTz now);
extern void pm_statslog_after_sample(const PmSummary *summary, TimestampTz now);
extern const char *pm_alert_kind_name(PmAlertKindCode kind);

/* sampler.c: a pool key, built the one way the sampler builds it */
extern void pm_make_pool_key(PmPoolKey *key, Oid dbid, Oid roleid,
							 const SockAddr *addr, const char *appname);

/* pool_table.c: credit pending opens to their pools, worker-side */
extern void pm_pool_table_credit(const PmPendingOpen *opens, int nopens);

#endif							/* POOL_MONITOR_ACCOUNTING_H */
