/*-------------------------------------------------------------------------
 *
 * fuzz_name_list.c
 *		libFuzzer target for the exclude lists' parser (src/name_list.c),
 *		built with ASan and UBSan by `make fuzz`.
 *
 * The first input byte picks the kind (odd: application patterns, even:
 * role/database names); the rest, up to a NUL, is the setting's value.
 * Properties checked on every input, beyond "no sanitizer report":
 *
 *	- the verdict and the items are those of PostgreSQL's own splitting
 *	  rules, written out again independently below (reference_split);
 *	- a refusal names an item that exists, and the text it shows lies
 *	  inside the value;
 *	- no name is longer than NAMEDATALEN - 1 bytes;
 *	- render then parse gives the same list back: parse(render(parse(x)))
 *	  == parse(x).
 *
 * The server's two rules are stood in for by PostgreSQL 15's white space
 * (scanner_isspace) and ASCII-only down-casing with byte truncation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name_list.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

/*
 * Write a list back as a value the parser accepts: every item
 * double-quoted, quotes doubled, ", " between.  Returns the length it
 * needs (without the terminator), writing at most size bytes.
 */
static size_t
render_name_list(const PmNameList *list, char *buf, size_t size)
{
	size_t		len = 0;

#define EMIT(ch) do { if (len + 1 < size) buf[len] = (ch); len++; } while (0)
	for (int i = 0; i < list->nitems; i++)
	{
		if (i > 0)
		{
			EMIT(',');
			EMIT(' ');
		}
		EMIT('"');
		for (const char *c = list->items[i]; *c; c++)
		{
			if (*c == '"')
				EMIT('"');
			EMIT(*c);
		}
		EMIT('"');
	}
#undef EMIT
	if (size > 0)
		buf[Min(len, size - 1)] = '\0';
	return len;
}

static bool
fuzz_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void
fuzz_fold(char *name, bool quoted)
{
	if (!quoted)
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c += 'a' - 'A';
	if (strlen(name) >= NAMEDATALEN)
		name[NAMEDATALEN - 1] = '\0';
}

static const PmListRules name_rules = {fuzz_is_space, fuzz_fold, malloc};
static const PmListRules pattern_rules = {fuzz_is_space, NULL, malloc};

/*
 * PostgreSQL's SplitIdentifierString / SplitGUCList, restated: split raw
 * in place into items[] (n of them).  False on a syntax error.
 */
static bool
reference_split(char *raw, bool fold, char **items, int *n)
{
	char	   *p = raw;
	bool		done = false;

	*n = 0;
	while (fuzz_is_space(*p))
		p++;
	if (*p == '\0')
		return true;
	do
	{
		char	   *name;
		char	   *end;
		bool		quoted = (*p == '"');

		if (quoted)
		{
			name = p + 1;
			for (;;)
			{
				end = strchr(p + 1, '"');
				if (end == NULL)
					return false;
				if (end[1] != '"')
					break;
				memmove(end, end + 1, strlen(end));
				p = end;
			}
			p = end + 1;
		}
		else
		{
			name = p;
			while (*p && *p != ',' && !fuzz_is_space(*p))
				p++;
			end = p;
			if (name == end)
				return false;
		}
		while (fuzz_is_space(*p))
			p++;
		if (*p == ',')
		{
			p++;
			while (fuzz_is_space(*p))
				p++;
		}
		else if (*p == '\0')
			done = true;
		else
			return false;
		*end = '\0';
		if (fold)
			fuzz_fold(name, quoted);
		items[(*n)++] = name;
	} while (!done);
	return true;
}

/* Are the two lists the same items in the same order? */
static bool
same_list(const PmNameList *a, const PmNameList *b)
{
	if (a->nitems != b->nitems)
		return false;
	for (int i = 0; i < a->nitems; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const PmListRules *rules;
	bool		patterns;
	char	   *value;
	char	   *raw;
	char	  **ref_items;
	int			ref_n;
	bool		ref_ok;
	int			commas = 0;
	PmListError error;
	PmNameList *list;

	if (size == 0)
		return 0;
	patterns = data[0] & 1;
	rules = patterns ? &pattern_rules : &name_rules;
	value = malloc(size);
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	for (char *c = value; *c; c++)
		commas += (*c == ',');

	raw = strdup(value);
	ref_items = malloc(sizeof(char *) * (commas + 1));
	ref_ok = reference_split(raw, !patterns, ref_items, &ref_n);

	list = pm_parse_name_list(value, rules, &error);
	CHECK((list != NULL) == ref_ok);
	if (list == NULL)
	{
		CHECK(error.kind == PM_LIST_EMPTY_ITEM || error.kind == PM_LIST_BAD_ITEM);
		CHECK(error.item >= 1 && error.item <= commas + 1);
		if (error.kind == PM_LIST_BAD_ITEM)
		{
			CHECK(error.offset >= 0 && error.length > 0);
			CHECK((size_t) error.offset + error.length <= strlen(value));
		}
	}
	else
	{
		PmNameList *again;
		size_t		len;
		char	   *rendered;

		CHECK(list->nitems == ref_n);
		for (int i = 0; i < ref_n; i++)
		{
			CHECK(strcmp(list->items[i], ref_items[i]) == 0);
			if (!patterns)
				CHECK(strlen(list->items[i]) < NAMEDATALEN);
		}

		len = render_name_list(list, NULL, 0);
		rendered = malloc(len + 1);
		CHECK(render_name_list(list, rendered, len + 1) == len);
		CHECK(strlen(rendered) == len);
		again = pm_parse_name_list(rendered, rules, &error);
		CHECK(again != NULL);
		CHECK(same_list(list, again));

		if (patterns && pm_find_bad_pattern(list, &error))
			CHECK(error.item >= 1 && error.item <= list->nitems);
		free(again);
		free(rendered);
		free(list);
	}
	free(ref_items);
	free(raw);
	free(value);
	return 0;
}
