/*
 * index/search_trigram.c - the rare trigrams of a substring search
 * (search_trigram.h).
 *
 * Owns: cutting the value into character trigrams, ASCII case folding,
 * the bounded probe and the choice.  The FTS5 expression quotes each
 * trigram as a string literal ('"' doubled): user text never becomes
 * query syntax.
 */
#define _GNU_SOURCE
#include "search_trigram.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIGRAM_BYTES 4u /* 3 ASCII characters and a NUL */

struct trigram {
	char t[TRIGRAM_BYTES];
	int rows;
};

/* The distinct all-ASCII trigrams of text, folded to lower case. */
static size_t trigram_cut(const char *text, size_t len, struct trigram *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i + 3 <= len && n < cap; i++) {
		char t[TRIGRAM_BYTES];
		bool ascii = true;
		for (size_t k = 0; k < 3; k++) {
			unsigned char c = (unsigned char)text[i + k];
			ascii &= c < 0x80;
			t[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		t[3] = '\0';
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k].t, t) == 0;
		if (ascii && !seen) {
			memcpy(out[n].t, t, sizeof t);
			out[n++].rows = 0;
		}
	}
	return n;
}

/* "abc" as an FTS5 string literal into out (at least 9 bytes). */
static void trigram_literal(const char *t, char *out)
{
	*out++ = '"';
	for (; *t; t++) {
		*out++ = *t;
		if (*t == '"')
			*out++ = '"';
	}
	*out++ = '"';
	*out = '\0';
}

int search_trigram_rows(const struct search_plan *plan, const char *table, const char *match)
{
	char sql[128];
	sqlite3_stmt *st;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s MATCH ?1 LIMIT ?2)", table, table);
	if (sqlite3_prepare_v2(plan->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, plan->rare_rows);
	int rows = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rows;
}

static int trigram_cmp(const void *a, const void *b)
{
	const struct trigram *x = a, *y = b;
	return (x->rows > y->rows) - (x->rows < y->rows);
}

/* "lit AND lit" of the first n of g (malloc'd). */
static char *trigram_expr(const struct trigram *g, size_t n)
{
	size_t cap = n * (2 * TRIGRAM_BYTES + 16) + 1, used = 0;
	char *out = malloc(cap), lit[2 * TRIGRAM_BYTES + 3];
	if (out == NULL)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		trigram_literal(g[i].t, lit);
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? " AND " : "", lit);
	}
	return out;
}

int search_trigram_pick(const struct search_plan *plan, const char *text, size_t len, char **match)
{
	struct trigram g[SEARCH_TRIGRAM_PROBE_MAX];
	char lit[2 * TRIGRAM_BYTES + 3];
	size_t n = trigram_cut(text, len, g, SEARCH_TRIGRAM_PROBE_MAX), rare = 0;
	*match = NULL;
	size_t very_rare = 0, probed = 0;
	for (; probed < n && very_rare < SEARCH_TRIGRAM_PICK; probed++) { /* two very rare ones: enough */
		trigram_literal(g[probed].t, lit);
		g[probed].rows = search_trigram_rows(plan, "fts_addr", lit);
		if (g[probed].rows <= 0)
			return g[probed].rows < 0 ? -EIO : -ENOENT;
		rare += g[probed].rows < plan->rare_rows;
		very_rare += g[probed].rows < plan->rare_rows / SEARCH_TRIGRAM_VERY_RARE_DIV;
	}
	n = probed;
	if (rare == 0)
		return 0;
	qsort(g, n, sizeof g[0], trigram_cmp);
	*match = trigram_expr(g, rare < SEARCH_TRIGRAM_PICK ? rare : SEARCH_TRIGRAM_PICK);
	return *match != NULL ? 1 : -ENOMEM;
}
