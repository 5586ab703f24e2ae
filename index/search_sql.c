/*
 * index/search_sql.c - compiling search terms to SQL (search_sql.h).
 *
 * Owns: one SQL fragment per term kind, the FTS5 literal quoting and the
 * choice between the trigram index and instr() for short values.
 * Invariant: the SQL text holds only our column names, operators and ?NNN
 * placeholders; every value from the query is a parameter.
 */
#include "search_sql.h"

#include "mail_index_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows after this seq have no trigram entries yet (phase 1's second step
 * runs behind the rows): a substring search checks them directly. */
#define SQL_TRIGRAM_THROUGH "(SELECT value FROM meta WHERE key = 'trigram_through')"

/* A field's column in `message` and in fts_addr (same name). */
static const char *sql_column(enum search_field f)
{
	switch (f) {
	case SEARCH_TO:
		return "to_text";
	case SEARCH_FROM:
		return "from_text";
	case SEARCH_CC:
		return "cc_text";
	case SEARCH_BCC:
		return "bcc_text";
	case SEARCH_SUBJECT:
		return "subject";
	case SEARCH_MESSAGE_ID:
		return "message_id";
	default:
		return NULL;
	}
}

/* UTF-8 characters in text (continuation bytes not counted). */
static size_t sql_chars(const char *text, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)text[i] & 0xC0u) != 0x80u;
	return n;
}

/* Is c a byte unicode61 keeps in a word (a letter or a digit; any
 * non-ASCII byte counts: most are letters)? */
static bool sql_word_byte(unsigned char c)
{
	return c >= 0x80u || (c >= '0' && c <= '9') || ((c | 0x20u) >= 'a' && (c | 0x20u) <= 'z');
}

/* Does text hold a character unicode61 keeps in a word? */
static bool sql_has_word(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (sql_word_byte((unsigned char)text[i]))
			return true;
	return false;
}

/* Is text only what unicode61 keeps in its words, and blanks between
 * them?  Anything else (*, %, _, punctuation) is dropped by the tokenizer,
 * so a term holding it is checked against the text itself. */
static bool sql_words_only(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!sql_word_byte((unsigned char)text[i]) && text[i] != ' ')
			return false;
	return true;
}

/* prefix "literal" suffix, the literal with '"' doubled (FTS5 string). */
static char *sql_fts_literal(const char *prefix, const char *text, size_t len, const char *suffix)
{
	size_t cap = strlen(prefix) + 2 * len + strlen(suffix) + 3;
	char *out = malloc(cap), *p = out;
	if (out == NULL)
		return NULL;
	p += sprintf(p, "%s\"", prefix);
	for (size_t i = 0; i < len; i++) {
		*p++ = text[i];
		if (text[i] == '"')
			*p++ = '"';
	}
	sprintf(p, "\"%s", suffix);
	return out;
}

static int sql_add_text(struct search_sql *s, char *text)
{
	if (text == NULL)
		return -ENOMEM;
	s->params[s->count++] = (struct search_sql_param){ .is_text = true, .text = text };
	return 0;
}

static int sql_add_num(struct search_sql *s, uint64_t v)
{
	s->params[s->count++] = (struct search_sql_param){ .num = v > INT64_MAX ? INT64_MAX : (int64_t)v };
	return 0;
}

static int sql_add_copy(struct search_sql *s, const struct search_term *t)
{
	return sql_add_text(s, strndup(t->text, t->text_len));
}

/* The condition of a field term into buf (positive form). */
static int sql_field_term(const struct search_plan *plan, struct search_sql *s, const struct search_term *t, int n,
			  char *buf, size_t cap)
{
	const char *col = sql_column(t->field);
	char *match = NULL;
	int pick = 0;
	if (sql_chars(t->text, t->text_len) >= SEARCH_SQL_MIN_TRIGRAM_CHARS)
		pick = search_trigram_pick(plan, t->text, t->text_len, &match);
	if (pick == -ENOENT) { /* a trigram no indexed row holds: only rows without trigrams yet can match */
		snprintf(buf, cap, "m.seq > " SQL_TRIGRAM_THROUGH " AND instr(lower(m.%s), lower(?%d)) > 0", col, n);
		return sql_add_copy(s, t);
	}
	if (pick < 0)
		return pick;
	if (pick == 0) {
		snprintf(buf, cap, "instr(lower(m.%s), lower(?%d)) > 0", col, n);
		return sql_add_copy(s, t);
	}
	snprintf(buf, cap,
		 "(m.seq IN (SELECT rowid FROM fts_addr WHERE fts_addr MATCH ?%d) OR m.seq > " SQL_TRIGRAM_THROUGH
		 ") AND instr(lower(m.%s), lower(?%d)) > 0",
		 n, col, n + 1);
	s->selective |= !t->negated;
	int err = sql_add_text(s, match);
	return err == 0 ? sql_add_copy(s, t) : err;
}

/* Free text: words through fts_text, or a substring of the short fields. */
static int sql_text_term(const struct search_plan *plan, struct search_sql *s, const struct search_term *t, int n,
			 char *buf, size_t cap)
{
	if (!sql_has_word(t->text, t->text_len)) {
		snprintf(buf, cap,
			 "instr(lower(m.subject || ' ' || m.from_text || ' ' || m.to_text || ' ' || m.cc_text ||"
			 " ' ' || m.message_id), lower(?%d)) > 0",
			 n);
		return sql_add_copy(s, t);
	}
	unsigned words = s->count; /* the FTS5 string's parameter */
	int err = sql_add_text(s, sql_fts_literal("", t->text, t->text_len, t->phrase ? "" : " *"));
	if (err != 0)
		return err;
	bool literal = !sql_words_only(t->text, t->text_len);
	if (literal)
		/* the words find the candidates; the text itself must be there:
		 * "fin*" is not "final", "100%" not "100" (issue 13) */
		snprintf(buf, cap,
			 "m.seq IN (SELECT fts_text.rowid FROM fts_text JOIN message_text x ON x.seq = fts_text.rowid"
			 " WHERE fts_text MATCH ?%d AND instr(lower(x.headers || ' ' || x.body), lower(?%d)) > 0)",
			 n, n + 1);
	else
		snprintf(buf, cap, "m.seq IN (SELECT rowid FROM fts_text WHERE fts_text MATCH ?%d)", n);
	if (literal && (err = sql_add_copy(s, t)) != 0)
		return err;
	if (t->negated)
		return 0;
	int rows = search_trigram_rows(plan, "fts_text", s->params[words].text);
	if (rows < 0)
		return -EIO;
	s->selective |= rows < plan->rare_rows;
	s->broad |= rows >= plan->rare_rows;
	return 0;
}

/* The comparison of a column term. */
static int sql_compare(struct search_sql *s, const char *col, const char *op, uint64_t v, int n, char *buf, size_t cap)
{
	snprintf(buf, cap, "m.%s %s ?%d", col, op, n);
	return sql_add_num(s, v);
}

/* One term's condition (without negation) into buf. */
static int sql_term(const struct search_plan *plan, struct search_sql *s, const struct search_term *t, char *buf,
		    size_t cap)
{
	int n = s->first + (int)s->count;
	switch (t->field) {
	case SEARCH_TEXT:
		return sql_text_term(plan, s, t, n, buf, cap);
	case SEARCH_IS_READ:
		snprintf(buf, cap, "m.read = 1");
		return 0;
	case SEARCH_HAS_ATTACHMENT:
		snprintf(buf, cap, "m.attachments > 0");
		return 0;
	case SEARCH_BEFORE:
		return sql_compare(s, "received_us", "<", t->value, n, buf, cap);
	case SEARCH_AFTER:
		return sql_compare(s, "received_us", ">=", t->value, n, buf, cap);
	case SEARCH_LARGER:
		return sql_compare(s, "size", ">", t->value, n, buf, cap);
	case SEARCH_SMALLER:
		return sql_compare(s, "size", "<", t->value, n, buf, cap);
	default:
		return sql_field_term(plan, s, t, n, buf, cap);
	}
}

bool search_sql_all(const struct search_query *q)
{
	return q == NULL || q->count == 0;
}

int search_sql_build(const struct search_plan *plan, const struct search_query *q, int first, struct search_sql *s)
{
	char cond[SEARCH_SQL_TERM_MAX_BYTES];
	size_t len = (size_t)snprintf(s->where, sizeof s->where, "%s", INDEX_VISIBLE);
	s->first = first;
	s->count = 0;
	s->selective = s->broad = false;
	for (size_t i = 0; !search_sql_all(q) && i < q->count && i < SEARCH_QUERY_MAX_TERMS; i++) {
		const struct search_term *t = &q->terms[i];
		int err = sql_term(plan, s, t, cond, sizeof cond);
		if (err != 0)
			return err;
		len += (size_t)snprintf(s->where + len, sizeof s->where - len, " AND %s(%s)", t->negated ? "NOT " : "",
					cond);
	}
	return 0;
}

void search_sql_free(struct search_sql *s)
{
	for (unsigned i = 0; i < s->count; i++)
		free(s->params[i].text);
	s->count = 0;
}

int search_sql_bind(const struct search_sql *s, sqlite3_stmt *st)
{
	for (unsigned i = 0; i < s->count; i++) {
		int n = s->first + (int)i, rc;
		const struct search_sql_param *p = &s->params[i];
		if (p->is_text)
			rc = sqlite3_bind_text(st, n, p->text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(st, n, p->num);
		if (rc != SQLITE_OK)
			return -EIO;
	}
	return 0;
}
