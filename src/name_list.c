/*-------------------------------------------------------------------------
 *
 * name_list.c
 *		The exclude lists' parser: PostgreSQL's own list rules
 *		(SplitIdentifierString for names, SplitGUCList for patterns) as a
 *		pure function that reports where a list goes wrong.
 *
 * The rules, as varlena.c has them: items are separated by commas, with
 * white space allowed around them; an item is either double-quoted (any
 * character, "" for a quote; empty allowed) or unquoted (up to a comma or
 * white space, never empty).  Names are then folded (unquoted ones
 * down-cased, all truncated to NAMEDATALEN - 1 bytes) by the caller's
 * rules; patterns are kept as written.  The value is never modified.
 *
 * The result comes from the caller's allocator (the GUC machinery frees a
 * setting's extra itself, with a free function that depends on the
 * version); the scratch buffer is malloc()'d and freed here, so that the
 * fuzz harness runs with no PostgreSQL around.
 * prune_settings.c cross-checks the result against varlena.c's functions
 * in assert-enabled builds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>
#include <string.h>

#include "name_list.h"

/* Record a syntax error at item, showing the value from start to the next
 * comma at or after fault (or to the end). */
static void
set_bad_item(PmListError *error, int item, const char *value,
			 const char *start, const char *fault)
{
	const char *end = strchr(fault, ',');

	if (end == NULL)
		end = fault + strlen(fault);
	error->kind = PM_LIST_BAD_ITEM;
	error->item = item;
	error->offset = (int) (start - value);
	error->length = (int) (end - start);
}

/* Skip white space as the server's rules define it. */
static const char *
skip_space(const char *p, const PmListRules *rules)
{
	while (*p && rules->is_space(*p))
		p++;
	return p;
}

/*
 * Copy the items, each terminated, from text (n of them, end to end) into
 * one PmNameList block from the rules' allocator.
 */
static PmNameList *
build_list(const char *text, int n, const PmListRules *rules)
{
	size_t		textsize = 0;
	const char *t = text;
	PmNameList *list;
	char	   *copy;

	for (int i = 0; i < n; i++)
	{
		textsize += strlen(t) + 1;
		t += strlen(t) + 1;
	}
	list = rules->alloc_list(offsetof(PmNameList, items) + sizeof(char *) * n + textsize);
	if (list == NULL)
		return NULL;
	copy = (char *) &list->items[n];
	memcpy(copy, text, textsize);
	list->nitems = n;
	for (int i = 0; i < n; i++)
	{
		list->items[i] = copy;
		copy += strlen(copy) + 1;
	}
	return list;
}

/*
 * Parse value; see name_list.h.  The items are first written end to end,
 * each terminated, into a scratch buffer as long as the value (unquoting
 * and folding never lengthen an item, and every item but the last is
 * followed by a comma in the value, which pays for its terminator).
 */
PmNameList *
pm_parse_name_list(const char *value, const PmListRules *rules,
				   PmListError *error)
{
	const char *p = skip_space(value, rules);
	char	   *scratch = malloc(strlen(value) + 1);
	char	   *out = scratch;
	int			n = 0;
	PmNameList *list;

	memset(error, 0, sizeof(PmListError));
	if (scratch == NULL)
	{
		error->kind = PM_LIST_OUT_OF_MEMORY;
		return NULL;
	}

	while (*p)
	{
		const char *start = p;
		char	   *item = out;
		bool		quoted = (*p == '"');

		n++;
		if (quoted)
		{
			for (p++;; p++)
			{
				if (*p == '\0')
				{
					set_bad_item(error, n, value, start, p);
					goto fail;
				}
				if (*p == '"')
				{
					if (p[1] != '"')
						break;
					p++;		/* "" stands for one quote */
				}
				*out++ = *p;
			}
			p++;				/* past the closing quote */
		}
		else
		{
			while (*p && *p != ',' && !rules->is_space(*p))
				*out++ = *p++;
			if (out == item)
			{
				error->kind = PM_LIST_EMPTY_ITEM;
				error->item = n;
				goto fail;
			}
		}
		*out++ = '\0';
		if (rules->fold_identifier)
		{
			rules->fold_identifier(item, quoted);
			out = item + strlen(item) + 1;
		}

		p = skip_space(p, rules);
		if (*p == ',')
		{
			p = skip_space(p + 1, rules);
			if (*p == '\0')
			{
				/* a trailing comma promises an item that is not there */
				error->kind = PM_LIST_EMPTY_ITEM;
				error->item = n + 1;
				goto fail;
			}
		}
		else if (*p != '\0')
		{
			set_bad_item(error, n, value, start, p);
			goto fail;
		}
	}

	list = build_list(scratch, n, rules);
	free(scratch);
	if (list == NULL)
		error->kind = PM_LIST_OUT_OF_MEMORY;
	return list;

fail:
	free(scratch);
	return NULL;
}

/* See name_list.h. */
bool
pm_find_bad_pattern(const PmNameList *list, PmListError *error)
{
	memset(error, 0, sizeof(PmListError));
	for (int i = 0; i < list->nitems; i++)
	{
		const char *pattern = list->items[i];

		error->item = i + 1;
		if (strlen(pattern) >= NAMEDATALEN)
		{
			error->kind = PM_LIST_PATTERN_TOO_LONG;
			return true;
		}
		for (const char *c = pattern; *c; c++)
		{
			if (*c < 32 || *c > 126)
			{
				error->kind = PM_LIST_PATTERN_NOT_ASCII;
				return true;
			}
		}
	}
	error->item = 0;
	return false;
}
