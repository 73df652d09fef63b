/*-------------------------------------------------------------------------
 *
 * name_list.h
 *		Parsing the exclude lists (pool_monitor.exclude_roles, _databases,
 *		_applications) as a pure function of a string: a parsed PmNameList,
 *		or the position of the first bad item and a sentence saying why.
 *
 * Nothing here calls PostgreSQL: the two server facts the rules depend on,
 * what counts as white space and how an identifier is folded, come in as
 * function pointers.  That keeps the parser callable from the libFuzzer
 * harness (test/fuzz) as well as from the settings' check hooks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef POOL_MONITOR_NAME_LIST_H
#define POOL_MONITOR_NAME_LIST_H

#include "policy.h"

/* How the server treats the text; see prune_settings.c for the real ones. */
typedef struct PmListRules
{
	/* white space around items (the SQL scanner's, scanner_isspace) */
	bool		(*is_space) (char c);

	/*
	 * Fold an identifier in place, shortening it at most: down-case an
	 * unquoted one, truncate either to NAMEDATALEN - 1 bytes.  NULL for
	 * patterns, which are kept as written.
	 */
	void		(*fold_identifier) (char *name, bool quoted);

	/*
	 * Allocate the parsed list's one block: the GUC machinery frees a
	 * setting's extra itself, with free() up to 15 and with its own
	 * guc_free() from 16 on, so the block must come from the matching
	 * allocator.  NULL when out of memory.
	 */
	void	   *(*alloc_list) (size_t size);
} PmListRules;

/* Why a list was refused. */
typedef enum PmListErrorKind
{
	PM_LIST_OK = 0,
	PM_LIST_EMPTY_ITEM,			/* nothing between two commas */
	PM_LIST_BAD_ITEM,			/* bad quoting, or text after an item */
	PM_LIST_OUT_OF_MEMORY,
	PM_LIST_PATTERN_TOO_LONG,	/* longer than any application_name */
	PM_LIST_PATTERN_NOT_ASCII	/* a character application_name never holds */
} PmListErrorKind;

typedef struct PmListError
{
	PmListErrorKind kind;
	int			item;			/* 1-based position of the bad item */
	int			offset;			/* PM_LIST_BAD_ITEM: the item's text in */
	int			length;			/* the value, up to the next comma after
								 * the fault (or the end) */
} PmListError;

/*
 * Parse value as a comma-separated list of names (rules->fold_identifier
 * set) or of application_name patterns (NULL).  Returns a PmNameList in
 * one block from rules->alloc_list, or NULL with *error filled in.
 */
extern PmNameList *pm_parse_name_list(const char *value,
									  const PmListRules *rules,
									  PmListError *error);

/*
 * The first pattern of list that no application_name could match, if any:
 * true with *error set (item, kind), false when all may match.
 */
extern bool pm_find_bad_pattern(const PmNameList *list, PmListError *error);

#endif							/* POOL_MONITOR_NAME_LIST_H */
