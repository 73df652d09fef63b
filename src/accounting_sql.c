/*-------------------------------------------------------------------------
 *
 * accounting_sql.c
 *		The SQL-callable functions behind pool_monitor.alerts and
 *		pool_monitor.rejections, and the accounting columns that
 *		pm_get_summary (sql_api.c) appends to summary.
 *
 * As in sql_api.c: copy under the shared lock into memory allocated
 * before taking it, build tuples after releasing it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "accounting.h"
#include "compat.h"
#include "pool_monitor.h"

PG_FUNCTION_INFO_V1(pm_get_alerts);
PG_FUNCTION_INFO_V1(pm_get_rejections);

/*
 * Put summary's accounting columns, since the last reset, at
 * values[first ...]: terminated, connections_opened, connections_closed,
 * connections_rejected, peak_total, alerts.  Returns how many.
 */
int
pm_accounting_summary_values(Datum *values, int first)
{
	PmAccounting *acct = pm_accounting;
	uint64		terminated;
	uint64		opened;
	uint64		closed;
	uint64		rejected = 0;
	uint64		peak;
	uint64		alerts;

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	terminated = pg_atomic_read_u64(&acct->terminated_total) -
		acct->terminated_at_reset;
	opened = pg_atomic_read_u64(&acct->opened) - acct->opened_at_reset;
	closed = pg_atomic_read_u64(&acct->closed) - acct->closed_at_reset;
	for (int k = 0; k < PM_REJECT_KINDS; k++)
		rejected += pg_atomic_read_u64(&acct->rejected[k]) -
			acct->rejected_at_reset[k];
	peak = pg_atomic_read_u64(&acct->peak_since_reset);
	alerts = pm_alert_ring->raised - pm_alert_ring->raised_at_reset;
	LWLockRelease(pm_shared->lock);

	values[first] = Int64GetDatum((int64) terminated);
	values[first + 1] = Int64GetDatum((int64) opened);
	values[first + 2] = Int64GetDatum((int64) closed);
	values[first + 3] = Int64GetDatum((int64) rejected);
	values[first + 4] = Int32GetDatum((int32) Min(peak, (uint64) PG_INT32_MAX));
	values[first + 5] = Int64GetDatum((int64) alerts);
	return 6;
}

/*
 * pm_get_alerts: the alerts ring, oldest first.
 */
#define ALERTS_COLS 6

Datum
pm_get_alerts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmAlert    *copy;
	int			count;
	int			next;

	pm_require_shared();
	pm_init_materialized_srf(fcinfo);

	copy = palloc(sizeof(PmAlert) * PM_ALERT_RING_SIZE);
	LWLockAcquire(pm_shared->lock, LW_SHARED);
	count = pm_alert_ring->count;
	next = pm_alert_ring->next;
	memcpy(copy, pm_alert_ring->entries, sizeof(PmAlert) * PM_ALERT_RING_SIZE);
	LWLockRelease(pm_shared->lock);

	for (int i = 0; i < count; i++)
	{
		int			at = (next - count + i + PM_ALERT_RING_SIZE) % PM_ALERT_RING_SIZE;
		PmAlert    *alert = &copy[at];
		Datum		values[ALERTS_COLS];
		bool		nulls[ALERTS_COLS];

		memset(nulls, 0, sizeof(nulls));
		values[0] = TimestampTzGetDatum(alert->raised_at);
		values[1] = CStringGetTextDatum(pm_alert_kind_name((PmAlertKindCode) alert->kind));
		values[2] = Float8GetDatum(alert->utilization);
		values[3] = Int32GetDatum(alert->total);
		values[4] = Int32GetDatum(alert->usable);
		values[5] = CStringGetTextDatum(alert->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pm_get_rejections: 53300 refusals by kind since the last reset, one row
 * per kind, zeros included.
 */
Datum
pm_get_rejections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		counts[PM_REJECT_KINDS];

	pm_require_shared();
	pm_warn_if_refusals_uncounted();
	pm_init_materialized_srf(fcinfo);

	LWLockAcquire(pm_shared->lock, LW_SHARED);
	for (int k = 0; k < PM_REJECT_KINDS; k++)
		counts[k] = pg_atomic_read_u64(&pm_accounting->rejected[k]) -
			pm_accounting->rejected_at_reset[k];
	LWLockRelease(pm_shared->lock);

	for (int k = 0; k < PM_REJECT_KINDS; k++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(pm_reject_kind_name((PmRejectKind) k));
		values[1] = Int64GetDatum((int64) counts[k]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
