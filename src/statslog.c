/*-------------------------------------------------------------------------
 *
 * statslog.c
 *		The periodic pool-stats line in the server log: one LOG line per
 *		pool_monitor.log_interval, key=value, for log-based monitoring.
 *
 * The line describes the latest sample (total ... longest_idle) and, for
 * opened, rejected and terminated, the exact counts since the previous
 * line.  It is written by the worker after a sample, so the interval
 * between two lines is log_interval rounded up to the next sample.  The
 * baselines live in shared memory, so a restarted worker goes on counting
 * from the previous line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "accounting.h"
#include "compat.h"
#include "pool_monitor.h"

/*
 * Write the line: the sample's figures, and the events since "base".
 */
static void
log_line(const PmSummary *summary, const PmEventTotals *totals,
		 const PmEventTotals *base)
{
	ereport(LOG,
			(errmsg_internal("pool_monitor: total=%d active=%d idle=%d idle_in_transaction=%d waiting=%d usable=%d utilization=%.1f%% longest_idle=%llds opened=" UINT64_FORMAT " rejected=" UINT64_FORMAT " terminated=" UINT64_FORMAT,
							 summary->counts.total, summary->counts.active,
							 summary->counts.idle,
							 summary->counts.idle_in_xact +
							 summary->counts.idle_in_xact_aborted,
							 summary->counts.waiting,
							 summary->usable_connections, pm_utilization(summary),
							 (long long) (summary->longest_idle_us / USECS_PER_SEC),
							 totals->opened - base->opened,
							 totals->rejected - base->rejected,
							 totals->terminated - base->terminated),
			 errhidestmt(true)));
}

/*
 * Write the pool-stats line if log_interval has passed since the last one.
 * Worker only; the first sample only starts the first interval.
 */
void
pm_statslog_after_sample(const PmSummary *summary, TimestampTz now)
{
	PmAccounting *acct = pm_accounting;
	PmEventTotals totals;

	pm_accounting_event_totals(&totals);
	if (acct->last_log_at != 0 && pm_log_interval_s != 0)
	{
		if (now - acct->last_log_at < (int64) pm_log_interval_s * USECS_PER_SEC)
			return;
		log_line(summary, &totals, &acct->log_base);
	}
	/* the next line counts from now: after a line, before the first, or off */
	acct->last_log_at = now;
	acct->log_base = totals;
}

