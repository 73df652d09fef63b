/*-------------------------------------------------------------------------
 *
 * prune_settings.c
 *		The pool_monitor.* settings of idle termination, and the checks
 *		that refuse a bad exclude list at reload while the old value stays.
 *
 * All are PGC_SIGHUP.  The exclude lists are parsed once, in the check
 * hook, into a PmNameList kept as the setting's "extra", so the prune step
 * never parses.  The parsing itself is name_list.c's, with PostgreSQL's
 * rules: role and database names are SQL identifiers (as
 * SplitIdentifierString: unquoted names are down-cased, quote to keep case
 * or commas); application patterns keep their case (as SplitGUCList), '*'
 * is their only wildcard.  Refused: bad quoting, empty items, and
 * patterns that no application_name could match (longer than 63 bytes, or
 * with characters other than printable ASCII, which PostgreSQL replaces in
 * application_name).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "nodes/pg_list.h"
#include "utils/guc.h"
#include "parser/scansup.h"
#include "utils/varlena.h"

#include "compat.h"
#include "name_list.h"
#include "termination.h"

/* settings; see docs/termination.md */
static int	idle_lifetime_s = 0;
static int	idle_in_xact_lifetime_s = 0;
static int	min_idle_per_pool = 5;
int			pm_prune_interval_s = 10;
static int	max_terminations_per_prune = 10;
static int	prune_min_utilization = 0;
static bool dry_run = false;
static bool terminate_superusers = false;
static char *exclude_roles_string = NULL;
static char *exclude_databases_string = NULL;
static char *exclude_applications_string = NULL;

/* the parsed lists: the settings' extras, owned by the GUC machinery */
static const PmNameList *exclude_roles = NULL;
static const PmNameList *exclude_databases = NULL;
static const PmNameList *exclude_applications = NULL;

/* White space around list items: the SQL scanner's. */
static bool
list_is_space(char c)
{
	return scanner_isspace(c);
}

/* Fold a name as SplitIdentifierString does (see name_list.h). */
static void
fold_identifier(char *name, bool quoted)
{
	if (!quoted)
	{
		char	   *down = downcase_truncate_identifier(name, strlen(name), false);

		strcpy(name, down);
		pfree(down);
	}
	truncate_identifier(name, strlen(name), false);
}

static const PmListRules name_rules = {list_is_space, fold_identifier, pm_guc_alloc};
static const PmListRules pattern_rules = {list_is_space, NULL, pm_guc_alloc};

#ifdef USE_ASSERT_CHECKING
/*
 * Assert that name_list.c parsed value as varlena.c's own function would:
 * the same verdict, and on success the same items.
 */
static void
assert_parsed_as_postgres(const char *value, bool patterns,
						  const PmNameList *list)
{
	char	   *raw = pstrdup(value);
	List	   *items = NIL;
	bool		ok;

	ok = patterns ? SplitGUCList(raw, ',', &items) :
		SplitIdentifierString(raw, ',', &items);
	Assert(ok == (list != NULL));
	if (ok && list != NULL)
	{
		Assert(list_length(items) == list->nitems);
		for (int i = 0; i < list->nitems; i++)
			Assert(strcmp(list_nth(items, i), list->items[i]) == 0);
	}
	list_free(items);
	pfree(raw);
}
#endif

/* Explain a refused list in the error detail and hint. */
static void
report_list_error(const char *value, const PmListError *error, bool patterns,
				  const PmNameList *list)
{
	switch (error->kind)
	{
		case PM_LIST_EMPTY_ITEM:
			GUC_check_errdetail("List item %d is empty.", error->item);
			break;
		case PM_LIST_BAD_ITEM:
			GUC_check_errdetail("List item %d, %.*s, is not a valid %s.",
								error->item, error->length,
								value + error->offset,
								patterns ? "pattern" : "name");
			break;
		case PM_LIST_PATTERN_TOO_LONG:
			GUC_check_errdetail("Pattern %d, \"%s\", is longer than %d bytes, the longest application_name.",
								error->item, list->items[error->item - 1],
								NAMEDATALEN - 1);
			return;
		case PM_LIST_PATTERN_NOT_ASCII:
			GUC_check_errdetail("Pattern %d, \"%s\", contains a character other than printable ASCII, which application_name never holds.",
								error->item, list->items[error->item - 1]);
			return;
		case PM_LIST_OUT_OF_MEMORY:
		case PM_LIST_OK:
			GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
			GUC_check_errmsg("out of memory");
			return;
	}
	GUC_check_errhint("Separate items with commas; double-quote an item that holds a comma, a space or a double quote.");
}

/*
 * Parse and check a list (name_list.c); on success *extra holds the
 * PmNameList, one block from the allocator the GUC machinery frees with.
 */
static bool
check_list(char **newval, void **extra, bool patterns)
{
	const char *value = *newval ? *newval : "";
	PmListError error;
	PmNameList *list;

	list = pm_parse_name_list(value, patterns ? &pattern_rules : &name_rules,
							  &error);
#ifdef USE_ASSERT_CHECKING
	if (error.kind != PM_LIST_OUT_OF_MEMORY)
		assert_parsed_as_postgres(value, patterns, list);
#endif
	if (list == NULL)
	{
		report_list_error(value, &error, patterns, NULL);
		return false;
	}
	if (patterns && pm_find_bad_pattern(list, &error))
	{
		report_list_error(value, &error, patterns, list);
		pm_guc_free(list);
		return false;
	}
	*extra = list;
	return true;
}

static bool
check_names(char **newval, void **extra, GucSource source)
{
	return check_list(newval, extra, false);
}

static bool
check_patterns(char **newval, void **extra, GucSource source)
{
	return check_list(newval, extra, true);
}

static void
assign_exclude_roles(const char *newval, void *extra)
{
	exclude_roles = (const PmNameList *) extra;
}

static void
assign_exclude_databases(const char *newval, void *extra)
{
	exclude_databases = (const PmNameList *) extra;
}

static void
assign_exclude_applications(const char *newval, void *extra)
{
	exclude_applications = (const PmNameList *) extra;
}

/*
 * Define the idle-termination settings.  Called from _PG_init, before the
 * prefix is reserved.
 */
void
pm_define_termination_settings(void)
{
	DefineCustomIntVariable("pool_monitor.idle_lifetime",
							"Idle time after which a session may be ended; 0 turns it off.",
							NULL, &idle_lifetime_s, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.idle_in_transaction_lifetime",
							"Time idle in a transaction after which a session may be ended; 0 turns it off.",
							NULL, &idle_in_xact_lifetime_s, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.min_idle_per_pool",
							"Idle sessions each pool keeps, whatever their idle time.",
							NULL, &min_idle_per_pool, 5, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.prune_interval",
							"Time between two runs of the idle-termination policy.",
							NULL, &pm_prune_interval_s, 10, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.max_terminations_per_prune",
							"Sessions ended at most per run; 0 means no limit.",
							NULL, &max_terminations_per_prune, 10, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pool_monitor.prune_min_utilization",
							"Server utilization, in percent of usable connections, below which idle sessions are not ended.",
							NULL, &prune_min_utilization, 0, 0, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("pool_monitor.dry_run",
							 "Decide and record terminations, but signal no session.",
							 NULL, &dry_run, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("pool_monitor.terminate_superusers",
							 "Let the policy end superusers' sessions too.",
							 NULL, &terminate_superusers, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pool_monitor.exclude_roles",
							   "Comma-separated roles whose sessions are never ended.",
							   NULL, &exclude_roles_string, "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_names, assign_exclude_roles, NULL);
	DefineCustomStringVariable("pool_monitor.exclude_databases",
							   "Comma-separated databases whose sessions are never ended.",
							   NULL, &exclude_databases_string, "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_names, assign_exclude_databases, NULL);
	DefineCustomStringVariable("pool_monitor.exclude_applications",
							   "Comma-separated application_name patterns ('*' matches anything) whose sessions are never ended.",
							   NULL, &exclude_applications_string, "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_patterns, assign_exclude_applications, NULL);
}

/* The settings in force, as the policy reads them. */
void
pm_current_policy_settings(PmPolicySettings *settings)
{
	memset(settings, 0, sizeof(PmPolicySettings));
	settings->idle_lifetime = idle_lifetime_s;
	settings->idle_in_xact_lifetime = idle_in_xact_lifetime_s;
	settings->min_idle_per_pool = min_idle_per_pool;
	settings->max_terminations = max_terminations_per_prune;
	settings->min_utilization = prune_min_utilization;
	settings->dry_run = dry_run;
	settings->terminate_superusers = terminate_superusers;
	settings->exclude_roles = exclude_roles;
	settings->exclude_databases = exclude_databases;
	settings->exclude_applications = exclude_applications;
}

/* Is either lifetime set, i.e. may a periodic run end anything? */
bool
pm_pruning_enabled(void)
{
	return idle_lifetime_s > 0 || idle_in_xact_lifetime_s > 0;
}
