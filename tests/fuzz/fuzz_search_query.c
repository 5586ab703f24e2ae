/*
 * tests/fuzz/fuzz_search_query.c - libFuzzer harness: the search-query
 * parser.
 *
 * Owns: parsing the whole input (no header bytes: the input is the query)
 * twice, into structs filled with different junk, and checking that both
 * runs agree; the result's invariants; and, on success, a round trip: the
 * terms written back in a canonical form (every text value quoted with its
 * escapes, is:/has: spelled out, dates as RFC 3339 UTC with microseconds,
 * sizes in bytes) must parse to the same terms.
 *
 * Invariants checked: count <= SEARCH_QUERY_MAX_TERMS; text_len <=
 * SEARCH_TERM_MAX_BYTES with a NUL at text_len; typed terms keep no text,
 * text terms are not empty; on an error err_at <= len and a status text
 * exists.  The input is libFuzzer's own allocation of exactly its size, so
 * ASan sees any over-read.
 *
 * Workload: queries up to a few KB (the parser refuses more).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for the canonical form: every text byte may double, plus quotes,
 * prefix and blank per term. */
#define CANON_MAX (2 * SEARCH_QUERY_MAX_TERMS * (SEARCH_TERM_MAX_BYTES + 48u))
#define YEAR_10000_US 253402300800000000ull /* 10000-01-01T00:00:00Z */
#define MAX_WEST_OFFSET_US (86340ull * 1000000) /* -23:59 */

static const char *const prefix_of[] = {
	[SEARCH_TEXT] = "",
	[SEARCH_TO] = "to:",
	[SEARCH_FROM] = "from:",
	[SEARCH_CC] = "cc:",
	[SEARCH_BCC] = "bcc:",
	[SEARCH_SUBJECT] = "subject:",
	[SEARCH_MESSAGE_ID] = "message-id:",
	[SEARCH_IS_READ] = "is:read",
	[SEARCH_HAS_ATTACHMENT] = "has:attachment",
	[SEARCH_BEFORE] = "before:",
	[SEARCH_AFTER] = "after:",
	[SEARCH_LARGER] = "larger:",
	[SEARCH_SMALLER] = "smaller:",
};

struct canon {
	char buf[CANON_MAX];
	size_t len;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_search_query: %s\n", what);
		abort();
	}
}

static void put(struct canon *c, const char *s, size_t n)
{
	check(c->len + n <= sizeof c->buf, "canonical form overflows its bound");
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

static void put_str(struct canon *c, const char *s)
{
	put(c, s, strlen(s));
}

/* Microseconds since the epoch as YYYY-MM-DDTHH:MM:SS.ffffffZ (days to a
 * civil date by walking years and months).  A time in year 10000 UTC (9999
 * with a negative offset) is written in local time at -23:59. */
static void put_time(struct canon *c, uint64_t us)
{
	const char *zone = "Z";
	if (us >= YEAR_10000_US) {
		us -= MAX_WEST_OFFSET_US;
		zone = "-23:59";
	}
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	uint64_t s = us / 1000000, days = s / 86400, sod = s % 86400;
	unsigned y = 1970, m = 0;
	for (;;) {
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (days < (leap ? 366u : 365u))
			break;
		days -= leap ? 366 : 365;
		y++;
	}
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	for (; days >= mdays[m] + (m == 1 && leap); m++)
		days -= mdays[m] + (m == 1 && leap);
	char t[64];
	int n = snprintf(t, sizeof t, "%04u-%02u-%02uT%02u:%02u:%02u.%06u%s", y, m + 1, (unsigned)days + 1,
			 (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
			 (unsigned)(us % 1000000), zone);
	put(c, t, (size_t)n);
}

/* One term in the canonical form. */
static void put_term(struct canon *c, const struct search_term *t)
{
	char num[32];
	put_str(c, t->negated ? "-" : "");
	put_str(c, prefix_of[t->field]);
	switch (t->field) {
	case SEARCH_IS_READ:
	case SEARCH_HAS_ATTACHMENT:
		return;
	case SEARCH_BEFORE:
	case SEARCH_AFTER:
		put_time(c, t->value);
		return;
	case SEARCH_LARGER:
	case SEARCH_SMALLER:
		put(c, num, (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)t->value));
		return;
	default:
		break;
	}
	put_str(c, "\"");
	for (size_t i = 0; i < t->text_len; i++) {
		if (t->text[i] == '"' || t->text[i] == '\\')
			put_str(c, "\\");
		put(c, &t->text[i], 1);
	}
	put_str(c, "\"");
}

static void check_invariants(const struct search_query *q)
{
	check(q->count <= SEARCH_QUERY_MAX_TERMS, "too many terms");
	for (size_t i = 0; i < q->count; i++) {
		const struct search_term *t = &q->terms[i];
		check(t->field <= SEARCH_SMALLER, "unknown field");
		check(t->text_len <= SEARCH_TERM_MAX_BYTES && t->text[t->text_len] == '\0', "text not bounded");
		bool typed = t->field >= SEARCH_IS_READ;
		check(typed ? t->text_len == 0 : t->text_len > 0, "typed term with text, or empty text term");
		check(memchr(t->text, '\0', t->text_len) == NULL, "NUL inside a term's text");
	}
}

/* Same terms; the phrase flag is left out (the canonical form quotes all). */
static bool same_terms(const struct search_query *a, const struct search_query *b, bool with_phrase)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		const struct search_term *x = &a->terms[i], *y = &b->terms[i];
		bool typed = x->field >= SEARCH_BEFORE;
		if (x->field != y->field || x->negated != y->negated || (with_phrase && x->phrase != y->phrase) ||
		    (typed && x->value != y->value) || x->text_len != y->text_len ||
		    memcmp(x->text, y->text, x->text_len) != 0)
			return false;
	}
	return true;
}

static void round_trip(const struct search_query *q)
{
	struct canon *c = malloc(sizeof *c);
	struct search_query *again = malloc(sizeof *again);
	check(c != NULL && again != NULL, "malloc");
	c->len = 0;
	for (size_t i = 0; i < q->count; i++) {
		put_str(c, i ? " " : "");
		put_term(c, &q->terms[i]);
	}
	size_t at;
	/* Quoting and escapes may push a legal query past the byte bound. */
	if (c->len <= SEARCH_QUERY_MAX_BYTES) {
		enum search_status st = search_query_parse(c->buf, c->len, again, &at);
		if (st != SEARCH_OK)
			fprintf(stderr, "canonical form: %.*s\n", (int)c->len, c->buf);
		check(st == SEARCH_OK, "the canonical form does not parse");
		check(same_terms(q, again, false), "the canonical form parses to other terms");
	}
	free(again);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct search_query *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	check(a != NULL && b != NULL, "malloc");
	memset(a, 0x00, sizeof *a);
	memset(b, 0xFF, sizeof *b);
	size_t at_a = (size_t)-1, at_b = 0;
	enum search_status sa = search_query_parse((const char *)data, size, a, &at_a);
	enum search_status sb = search_query_parse((const char *)data, size, b, &at_b);
	check(sa == sb, "two runs disagree on the status");
	check(search_status_text(sa) != NULL && search_status_text(sa)[0] != '\0', "no status text");
	if (sa != SEARCH_OK) {
		check(at_a == at_b && at_a <= size, "err_at out of the input, or differs between runs");
	} else {
		check_invariants(a);
		check(same_terms(a, b, true), "two runs disagree on the terms");
		check(size <= SEARCH_QUERY_MAX_BYTES, "a query over the bound parsed");
		round_trip(a);
	}
	free(a);
	free(b);
	return 0;
}
