/*-------------------------------------------------------------------------
 *
 * fuzz_pattern.c
 *		libFuzzer target for the application_name pattern matcher
 *		(pm_pattern_match in src/policy.c), built with ASan and UBSan by
 *		`make fuzz`.
 *
 * The input, split at its first NUL byte, is a pattern and a text; each is
 * copied into a buffer of exactly its size, so that ASan sees any read
 * past either end.  Properties checked on every input:
 *
 *	- the verdict equals an independent dynamic-programming matcher's;
 *	- the pattern matches the text it spells with every '*' left out, and
 *	  with every '*' replaced by the text "x*y".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

/* Longest pattern or text tried; the reference is quadratic. */
#define MAX_LEN 256

/* '*' matches any run, all else itself: match[i][j] over suffixes. */
static bool
reference_match(const char *pattern, const char *text)
{
	size_t		np = strlen(pattern);
	size_t		nt = strlen(text);
	static bool match[MAX_LEN * 3 + 1][MAX_LEN * 3 + 1];

	for (size_t i = np + 1; i-- > 0;)
		for (size_t j = nt + 1; j-- > 0;)
		{
			if (i == np)
				match[i][j] = (j == nt);
			else if (pattern[i] == '*')
				match[i][j] = match[i + 1][j] || (j < nt && match[i][j + 1]);
			else
				match[i][j] = j < nt && pattern[i] == text[j] &&
					match[i + 1][j + 1];
		}
	return match[0][0];
}

/* A copy of pattern with every '*' replaced by with (a malloc'd string). */
static char *
replace_stars(const char *pattern, const char *with)
{
	char	   *out = malloc(strlen(pattern) * (strlen(with) + 1) + 1);
	char	   *o = out;

	for (const char *c = pattern; *c; c++)
	{
		if (*c == '*')
		{
			strcpy(o, with);
			o += strlen(with);
		}
		else
			*o++ = *c;
	}
	*o = '\0';
	return out;
}

/* Exactly-sized heap copy of n bytes plus a terminator. */
static char *
exact_copy(const uint8_t *data, size_t n)
{
	char	   *copy = malloc(n + 1);

	memcpy(copy, data, n);
	copy[n] = '\0';
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t		plen = nul ? (size_t) (nul - data) : size;
	size_t		tlen = nul ? size - plen - 1 : 0;
	char	   *pattern;
	char	   *text;
	char	   *plain;
	char	   *filled;

	if (plen > MAX_LEN || tlen > MAX_LEN)
		return 0;
	pattern = exact_copy(data, plen);
	text = exact_copy(nul ? nul + 1 : data + size, tlen);
	text[strnlen(text, tlen)] = '\0';

	CHECK(pm_pattern_match(pattern, text) == reference_match(pattern, text));

	plain = replace_stars(pattern, "");
	CHECK(pm_pattern_match(pattern, plain));
	filled = replace_stars(pattern, "x*y");
	CHECK(pm_pattern_match(pattern, filled));

	free(filled);
	free(plain);
	free(text);
	free(pattern);
	return 0;
}
