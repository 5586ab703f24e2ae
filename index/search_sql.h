/*
 * index/search_sql.h - a parsed search query (core/search_query.h)
 * compiled to an SQL condition over the index's `message m` with bound
 * parameters only.
 *
 * Owns: what each term means in SQL (docs/HTTP-API.md, "Search"):
 *  - to: from: cc: bcc: subject: message-id: a substring of that field,
 *    ASCII letters case-insensitive (to/from/cc/bcc: the display names and
 *    addresses of the header, bcc: also the envelope recipients named in
 *    no To or Cc).  Rows are checked with instr(); the candidates come
 *    from the trigram index fts_addr when the value has rare trigrams
 *    (search_trigram.h), plus the newest rows that have no trigrams yet
 *    (seq > meta.trigram_through: the indexer adds them behind the rows),
 *    else from the newest-first scan, which stops once a page is full (a
 *    common value fills it at once).
 *  - free text: the words of the value, each matching a word of the
 *    headers or the decoded text (unicode61: case and diacritics folded),
 *    in order and adjacent; an unquoted value's last word matches as a
 *    prefix ("pass" finds "password"), a quoted phrase's exactly.  A value
 *    without any letter or digit ("%", "--") is a substring of the subject,
 *    the addresses or the Message-ID instead.
 *  - is:read, has:attachment, before:, after:, larger:, smaller: compare
 *    columns.  '-' or '!' negates any term.
 * User text only ever reaches SQLite as a bound value: for FTS5 as one
 * string literal ("..." with '"' doubled), so %, _, *, OR, NEAR(, col:
 * and quotes are plain text.  Column names in MATCH expressions are ours.
 * Workload: one compile per API request; O(terms).
 */
#ifndef SMTPSINK_SEARCH_SQL_H
#define SMTPSINK_SEARCH_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "search_query.h"
#include "search_trigram.h"

#define SEARCH_SQL_TERM_MAX_BYTES 320u /* one term's condition */
#define SEARCH_SQL_WHERE_MAX_BYTES (SEARCH_QUERY_MAX_TERMS * (SEARCH_SQL_TERM_MAX_BYTES + 8u) + 128u)
#define SEARCH_SQL_MIN_TRIGRAM_CHARS 3u

struct search_sql_param {
	bool is_text;
	int64_t num;
	char *text; /* malloc'd */
};

struct search_sql {
	char where[SEARCH_SQL_WHERE_MAX_BYTES]; /* "INDEX_VISIBLE AND (...) AND (...)": hidden rows never match */
	int first; /* the number of the first parameter (?NNN) */
	unsigned count;
	struct search_sql_param params[2 * SEARCH_QUERY_MAX_TERMS]; /* a field term takes two */
	/* The plan for a page: a positive term narrows the rows to a few
	 * (selective), or a free-text term matches many (broad).  Broad and
	 * not selective: walk the rows newest first and test each against the
	 * match set (a page fills at once), instead of sorting the whole set. */
	bool selective, broad;
};

/* Compile q (NULL: everything) with parameters numbered from `first`,
 * probing the trigram index to plan field terms: 0, -ENOMEM or -EIO.
 * Free with search_sql_free even on failure. */
int search_sql_build(const struct search_plan *plan, const struct search_query *q, int first, struct search_sql *s);
void search_sql_free(struct search_sql *s);
/* Bind the parameters to st: 0 or -EIO. */
int search_sql_bind(const struct search_sql *s, sqlite3_stmt *st);
/* True if q has no terms (so counts come from the counts row). */
bool search_sql_all(const struct search_query *q);

#endif
