/*-------------------------------------------------------------------------
 *
 * prune_settings.c
 *		The pool_monitor.* settings of idle termination, and the checks
 *		that refuse a bad exclude list at reload while the old value stays.
 *
 * All are PGC_SIGHUP.  The exclude lists are parsed once, in the check
 * hook, into a PmNameList kept as the setting's "extra", so the prune step
 * never parses.  Role and database names are SQL identifiers
 * (SplitIdentifierString: unquoted names are down-cased, quote to keep
 * case or commas).  Application patterns keep their case (SplitGUCList);
 * '*' is their only wildcard.  Refused: bad quoting, empty items, and
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
#include "utils/varlena.h"

#include "compat.h"
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

/* Split a list as the setting's kind wants it; false on a syntax error. */
static bool
split_list(char *raw, bool patterns, List **items)
{
	if (patterns)
		return SplitGUCList(raw, ',', items);
	return SplitIdentifierString(raw, ',', items);
}

/*
 * Name the first bad item of a list that did not split, for the error
 * detail.  Cuts at every comma, so a quoted item holding a comma may be
 * shown in pieces; the message still points at the right place.
 */
static void
report_bad_item(const char *value, bool patterns)
{
	char	   *copy = pstrdup(value);
	char	   *piece = copy;
	int			position = 1;

	for (;;)
	{
		char	   *comma = strchr(piece, ',');
		char	   *trial;
		List	   *items = NIL;

		if (comma)
			*comma = '\0';
		trial = pstrdup(piece);
		if (!split_list(trial, patterns, &items) || list_length(items) != 1)
		{
			char	   *shown = piece;

			while (*shown == ' ')
				shown++;
			if (*shown == '\0')
				GUC_check_errdetail("List item %d is empty.", position);
			else
				GUC_check_errdetail("List item %d, %s, is not a valid %s.",
									position, shown,
									patterns ? "pattern" : "name");
			return;
		}
		if (comma == NULL)
			break;
		piece = comma + 1;
		position++;
	}
	GUC_check_errdetail("The list has unbalanced double quotes.");
}

/* Could an application_name ever match this pattern?  Sets the detail. */
static bool
pattern_is_valid(const char *pattern, int position)
{
	if (strlen(pattern) >= NAMEDATALEN)
	{
		GUC_check_errdetail("Pattern %d, \"%s\", is longer than %d bytes, the longest application_name.",
							position, pattern, NAMEDATALEN - 1);
		return false;
	}
	for (const char *c = pattern; *c; c++)
	{
		if (*c < 32 || *c > 126)
		{
			GUC_check_errdetail("Pattern %d, \"%s\", contains a character other than printable ASCII, which application_name never holds.",
								position, pattern);
			return false;
		}
	}
	return true;
}

/*
 * Copy the items into one malloc'd block (the GUC machinery frees extras
 * with free()): the PmNameList, its pointers, then the strings.
 */
static PmNameList *
build_name_list(List *items)
{
	Size		size = offsetof(PmNameList, items) +
		sizeof(char *) * list_length(items);
	PmNameList *list;
	char	   *text;
	ListCell   *lc;

	foreach(lc, items)
		size += strlen((char *) lfirst(lc)) + 1;
	list = malloc(size);
	if (list == NULL)
		return NULL;
	list->nitems = 0;
	text = (char *) &list->items[list_length(items)];
	foreach(lc, items)
	{
		const char *item = (const char *) lfirst(lc);

		strcpy(text, item);
		list->items[list->nitems++] = text;
		text += strlen(item) + 1;
	}
	return list;
}

/* Parse and check a list; on success *extra holds the PmNameList. */
static bool
check_list(char **newval, void **extra, bool patterns)
{
	char	   *raw = pstrdup(*newval ? *newval : "");
	List	   *items = NIL;
	ListCell   *lc;
	int			position = 1;

	if (!split_list(raw, patterns, &items))
	{
		report_bad_item(*newval, patterns);
		GUC_check_errhint("Separate items with commas; double-quote an item that holds a comma, a space or a double quote.");
		return false;
	}
	if (patterns)
	{
		foreach(lc, items)
		{
			if (!pattern_is_valid((const char *) lfirst(lc), position++))
				return false;
		}
	}
	*extra = build_name_list(items);
	if (*extra == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	list_free(items);
	pfree(raw);
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
