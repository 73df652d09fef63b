/*-------------------------------------------------------------------------
 *
 * hardening.c
 *		The worker's explanations of contradictory settings, and the test
 *		facilities that make a cycle fail, the registry miss sessions, or a
 *		session's exit linger, on demand.
 *
 * pm_explain_settings() logs one WARNING per contradiction that
 * settings_advice.c finds; the worker calls it when it starts and after
 * each reload, never per cycle.
 *
 * pool_monitor.debug_fail_cycle (superuser-only, hidden from SHOW ALL,
 * pg_settings and the sample file) makes every cycle raise an ERROR, so
 * that a test can prove an ERROR ends the worker with exit code 1 and the
 * postmaster restarts only the worker (test/t/012_cycle_error.pl).  It
 * exists because the worker, connected to no database and reading only
 * shared memory, has no natural way to fail that a test could provoke.
 *
 * pool_monitor.debug_fail_under_lock (likewise hidden) raises that ERROR
 * while the worker holds pm_shared->lock exclusively, where nothing may
 * fail by design, so that a test can prove the exiting worker releases the
 * lock before its exit callback takes it again, and that neither it nor
 * connection start-up waits for ever (test/t/012_cycle_error.pl).
 *
 * pool_monitor.debug_fail_registration (likewise hidden) makes a new
 * session fail with FATAL as it registers its exit callback, as
 * before_shmem_exit does when its slots are full, so that a test can prove
 * that such a session leaves no trace in the sampler's registry
 * (test/t/016_registration_failure.pl).
 *
 * pool_monitor.debug_skip_registry (likewise hidden) keeps new sessions out
 * of the sampler's registry, as another library's ClientAuthentication_hook
 * that does not chain to ours would, so that a test can prove the
 * sampler's audit notices and reads every slot from then on
 * (test/t/014_registry_audit.pl).
 *
 * pool_monitor.debug_exit_delay (likewise hidden; a superuser sets it in
 * the session it delays) makes a session's exit pause right after it has
 * left the registry, as aborting a transaction that created many
 * relations does, so that a test can prove that audits taken meanwhile do
 * not mistake it for a missed session (test/t/014_registry_audit.pl).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "accounting.h"
#include "compat.h"
#include "pool_monitor.h"
#include "settings_advice.h"
#include "termination.h"

static bool debug_fail_cycle = false;
static bool debug_fail_under_lock = false;
static bool debug_fail_registration = false;
static int	debug_exit_delay_ms = 0;
bool		pm_debug_skip_registry = false;

/* Define the hidden test settings.  Called from _PG_init. */
void
pm_define_hardening_settings(void)
{
	DefineCustomBoolVariable("pool_monitor.debug_fail_cycle",
							 "Make every worker cycle raise an ERROR (a test facility).",
							 NULL, &debug_fail_cycle, false,
							 PGC_SIGHUP,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("pool_monitor.debug_fail_under_lock",
							 "Make the worker raise an ERROR while it holds its lock (a test facility).",
							 NULL, &debug_fail_under_lock, false,
							 PGC_SIGHUP,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("pool_monitor.debug_fail_registration",
							 "Make new sessions fail as they register their exit callback (a test facility).",
							 NULL, &debug_fail_registration, false,
							 PGC_SIGHUP,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("pool_monitor.debug_skip_registry",
							 "Keep new sessions out of the sampler's registry (a test facility).",
							 NULL, &pm_debug_skip_registry, false,
							 PGC_SIGHUP,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.debug_exit_delay",
							"Pause a session's exit after it leaves the sampler's registry (a test facility).",
							NULL, &debug_exit_delay_ms, 0, 0, 60 * 1000,
							PGC_SUSET,
							GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY |
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* The pause pool_monitor.debug_exit_delay asks for, if any. */
void
pm_debug_delay_exit(void)
{
	if (debug_exit_delay_ms > 0)
		pg_usleep(debug_exit_delay_ms * 1000L);
}

/* Raise the ERROR pool_monitor.debug_fail_cycle asks for, if it does. */
void
pm_debug_fail_cycle(void)
{
	if (debug_fail_cycle)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pool_monitor cycle failed on purpose"),
				 errdetail("pool_monitor.debug_fail_cycle is on.")));
}

/*
 * Raise the ERROR pool_monitor.debug_fail_under_lock asks for, if it does.
 * The worker calls this with pm_shared->lock held exclusively.
 */
void
pm_debug_fail_under_lock(void)
{
	if (debug_fail_under_lock)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pool_monitor failed on purpose while holding its lock"),
				 errdetail("pool_monitor.debug_fail_under_lock is on.")));
}

/*
 * Raise the FATAL pool_monitor.debug_fail_registration asks for, if it
 * does: where before_shmem_exit raises one when its slots are full.
 */
void
pm_debug_fail_registration(void)
{
	if (debug_fail_registration)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pool_monitor failed on purpose to register a session's exit callback"),
				 errdetail("pool_monitor.debug_fail_registration is on.")));
}

/* Gather the settings settings_advice.c judges. */
static void
current_settings(PmSettingsInput *in)
{
	PmPolicySettings policy;

	pm_current_policy_settings(&policy);
	in->sample_interval_ms = pm_sample_interval_ms;
	in->prune_interval_s = pm_prune_interval_s;
	in->idle_lifetime_s = policy.idle_lifetime;
	in->idle_in_xact_lifetime_s = policy.idle_in_xact_lifetime;
	in->min_idle_per_pool = policy.min_idle_per_pool;
	in->prune_min_utilization = policy.min_utilization;
	in->alert_utilization = pm_alert_utilization;
	in->alert_cooldown_s = pm_alert_cooldown_s;
	in->log_interval_s = pm_log_interval_s;
	in->dry_run = policy.dry_run;
	in->usable_connections = MaxConnections - PM_RESERVED_CONNECTIONS;
}

/* Log one contradiction, with the figures that make it one. */
static void
explain(PmContradiction what, const PmSettingsInput *in)
{
	switch (what)
	{
		case PM_IDLE_LIFETIME_BELOW_PRUNE_INTERVAL:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.idle_lifetime is shorter than pool_monitor.prune_interval"),
					 errdetail("Idle sessions become due after %d s but are looked at only every %d s, so some stay idle up to %d s.",
							   in->idle_lifetime_s, in->prune_interval_s,
							   in->idle_lifetime_s + in->prune_interval_s),
					 errhint("Set pool_monitor.prune_interval no longer than pool_monitor.idle_lifetime.")));
			break;
		case PM_IDLE_IN_XACT_LIFETIME_BELOW_PRUNE_INTERVAL:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.idle_in_transaction_lifetime is shorter than pool_monitor.prune_interval"),
					 errdetail("Sessions idle in a transaction become due after %d s but are looked at only every %d s, so some stay up to %d s.",
							   in->idle_in_xact_lifetime_s, in->prune_interval_s,
							   in->idle_in_xact_lifetime_s + in->prune_interval_s),
					 errhint("Set pool_monitor.prune_interval no longer than pool_monitor.idle_in_transaction_lifetime.")));
			break;
		case PM_MIN_IDLE_NOT_BELOW_USABLE:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.min_idle_per_pool is not below the usable connections"),
					 errdetail("Each pool keeps %d idle sessions, but the server accepts only %d client connections, so pool_monitor.idle_lifetime never ends an idle session.",
							   in->min_idle_per_pool, in->usable_connections),
					 errhint("Lower pool_monitor.min_idle_per_pool.")));
			break;
		case PM_PRUNE_UTILIZATION_ABOVE_ALERT:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.prune_min_utilization is above pool_monitor.alert_utilization"),
					 errdetail("Idle sessions are ended only above %d%% utilization, but the alert is raised at %d%%, before pruning can relieve the server.",
							   in->prune_min_utilization, in->alert_utilization),
					 errhint("Set pool_monitor.prune_min_utilization at or below pool_monitor.alert_utilization.")));
			break;
		case PM_DRY_RUN_WITHOUT_LIFETIME:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.dry_run is on but no lifetime is set"),
					 errdetail("Neither pool_monitor.idle_lifetime nor pool_monitor.idle_in_transaction_lifetime is set, so no periodic run decides anything, dry or not.")));
			break;
		case PM_ALERT_COOLDOWN_ZERO:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.alert_cooldown is 0"),
					 errdetail("While connections are being refused, an alert may be logged at every sample, every %d ms.",
							   in->sample_interval_ms),
					 errhint("Set pool_monitor.alert_cooldown to a minute or more.")));
			break;
		case PM_LOG_INTERVAL_BELOW_SAMPLE_INTERVAL:
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool_monitor.log_interval is shorter than pool_monitor.sample_interval"),
					 errdetail("Pool-stats lines follow samples, so they are written every %d ms, not every %d s.",
							   in->sample_interval_ms, in->log_interval_s),
					 errhint("Set pool_monitor.log_interval to at least pool_monitor.sample_interval.")));
			break;
		case PM_CONTRADICTION_COUNT:
			break;
	}
}

/*
 * Log a WARNING for each contradiction among the settings in force.  The
 * worker calls it at start and after each reload.
 */
void
pm_explain_settings(void)
{
	PmSettingsInput in;
	PmContradiction found[PM_CONTRADICTION_COUNT];
	int			n;

	current_settings(&in);
	n = pm_find_contradictions(&in, found);
	for (int i = 0; i < n; i++)
		explain(found[i], &in);
}
