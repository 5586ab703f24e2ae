/*
 * index/search_trigram.h - choosing the trigrams that find the candidates
 * of a substring search (to: from: cc: bcc: subject: message-id:) fast.
 *
 * Owns: the plan.  A row holds the value only if it holds every trigram of
 * it, so any of them narrows the rows to check; but FTS5 reads a trigram's
 * whole doclist, and in a spool of test mail the common ones ("exa",
 * "com") are in every row: an AND of all of them costs ~100 ms per million
 * rows, one rare trigram well under 1 ms.  Each distinct ASCII trigram of
 * the value (case folded as the trigram tokenizer does) is probed with a
 * bounded count (at most plan->rare_rows rows read); the two
 * rarest below that bound make the candidate set.  The caller checks each
 * candidate row with instr() (search_sql.c).  Windows with non-ASCII
 * characters are not probed (their folding is the tokenizer's).
 * Workload: a few dozen bounded index reads per search term.
 */
#ifndef SMTPSINK_SEARCH_TRIGRAM_H
#define SMTPSINK_SEARCH_TRIGRAM_H

#include <sqlite3.h>
#include <stddef.h>

#define SEARCH_TRIGRAM_RARE_ROWS 16384 /* default: a trigram in fewer rows narrows the search */
#define SEARCH_TRIGRAM_PICK 2u /* rare trigrams ANDed */
#define SEARCH_TRIGRAM_VERY_RARE_DIV 8 /* two trigrams under rare_rows / 8 end the probing early */
#define SEARCH_TRIGRAM_PROBE_MAX 64u /* distinct trigrams probed per value */

/* How to plan: the connection, and the bound under which a trigram is
 * rare (SEARCH_TRIGRAM_RARE_ROWS; tests lower it). */
struct search_plan {
	sqlite3 *db;
	int rare_rows;
};

/* Rows of FTS5 table `table` (ours: fts_addr, fts_text) matching the
 * expression match, counted up to plan->rare_rows; -1 on an error. */
int search_trigram_rows(const struct search_plan *plan, const char *table, const char *match);

/* For text[0, len) searched in a column of fts_addr: 1 with *match (malloc'd) an
 * FTS5 expression of rare trigrams ("\"abc\" AND \"xyz\"": fts_addr
 * keeps no columns: the caller checks the column with instr()), 0
 * if every trigram is common (scan instead), -ENOENT if one is in no row
 * at all (nothing can match), or -ENOMEM / -EIO. */
int search_trigram_pick(const struct search_plan *plan, const char *text, size_t len, char **match);

#endif
