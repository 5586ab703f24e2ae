/*
 * tests/core/test_search_query.c - the search-query language.
 *
 * Owns: one table row per behaviour of search_query_parse() (every prefix,
 * quoting and escapes, negation forms, the literal characters that other
 * search syntaxes give a meaning, dates, sizes, flags, invalid UTF-8),
 * each input placed against a PROT_NONE page; the bounds (query bytes,
 * term count, term bytes) at limit-1, limit and limit+1; every kind and
 * run of blank between and around terms; random queries of plain words
 * against a naive split-on-blanks reference; and random queries of
 * prefixed, negated, bare or quoted terms built with their expected parse.
 *
 * A parse is compared as one line of text, terms joined by " ; ", each
 * "[-]FIELD[\"]=TEXT-or-VALUE" ('-' negated, '"' quoted; is:/has: have no
 * "=..."), so a row reads like the query it checks.  Epoch values were
 * computed with Python's datetime, not with the code under test.
 */
#include <stdio.h>

#include "search_query.h"
#include "session_harness.h"
#include "spool_support.h"
#include "test_text.h"

static const char *const field_names[] = {
	[SEARCH_TEXT] = "text",
	[SEARCH_TO] = "to",
	[SEARCH_FROM] = "from",
	[SEARCH_CC] = "cc",
	[SEARCH_BCC] = "bcc",
	[SEARCH_SUBJECT] = "subject",
	[SEARCH_MESSAGE_ID] = "message-id",
	[SEARCH_IS_READ] = "is-read",
	[SEARCH_HAS_ATTACHMENT] = "has-attachment",
	[SEARCH_BEFORE] = "before",
	[SEARCH_AFTER] = "after",
	[SEARCH_LARGER] = "larger",
	[SEARCH_SMALLER] = "smaller",
};

/* The parse as one line (see the header); also checks each term's text
 * is NUL-terminated at text_len and typed terms keep no text. */
static void render(const struct search_query *q, struct test_text *out)
{
	for (size_t i = 0; i < q->count; i++) {
		const struct search_term *t = &q->terms[i];
		CHECK(t->text_len <= SEARCH_TERM_MAX_BYTES && t->text[t->text_len] == '\0');
		text_printf(out, "%s%s%s%s", i ? " ; " : "", t->negated ? "-" : "", field_names[t->field],
			    t->phrase ? "\"" : "");
		switch (t->field) {
		case SEARCH_IS_READ:
		case SEARCH_HAS_ATTACHMENT:
			CHECK(t->text_len == 0);
			break;
		case SEARCH_BEFORE:
		case SEARCH_AFTER:
		case SEARCH_LARGER:
		case SEARCH_SMALLER:
			CHECK(t->text_len == 0);
			text_printf(out, "=%llu", (unsigned long long)t->value);
			break;
		default:
			text_str(out, "=");
			text_add(out, t->text, t->text_len);
		}
	}
}

/* Parse s[0, len) against a guard page, into a dirty struct. */
static enum search_status parse_guarded(const char *s, size_t len, struct search_query *q, size_t *err_at)
{
	struct guard g;
	memset(q, 0xAA, sizeof *q);
	*err_at = (size_t)-1;
	enum search_status st = search_query_parse((const char *)guard_place(&g, s, len), len, q, err_at);
	guard_free(&g);
	return st;
}

/* One expectation: status, and err_at on errors or the rendering on OK. */
static void expect(const char *s, size_t len, enum search_status want_st, size_t want_at, const char *want, int line)
{
	struct search_query *q = malloc(sizeof *q);
	struct test_text got = { 0 };
	size_t at;
	char *esc = harness_escape(s, len);
	if (q == NULL || esc == NULL)
		abort();
	enum search_status st = parse_guarded(s, len, q, &at);
	if (harness_check_u64(st, want_st, __FILE__, line, esc) && st != SEARCH_OK)
		harness_check_u64(at, want_at, __FILE__, line, esc);
	if (st == SEARCH_OK) {
		render(q, &got);
		harness_check_mem(got.p ? got.p : "", got.len, want, strlen(want), __FILE__, line, esc);
	}
	CHECK(strlen(search_status_text(st)) > 0);
	free(got.p);
	free(esc);
	free(q);
}

struct row {
	const char *in;
	enum search_status st;
	size_t err_at; /* errors only */
	const char *want; /* SEARCH_OK only */
	int line;
};

#define OK(in, want)                             \
	{                                        \
		in, SEARCH_OK, 0, want, __LINE__ \
	}
#define ERR(in, st, at)                    \
	{                                  \
		in, st, at, NULL, __LINE__ \
	}

static const struct row rows[] = {
	/* empty and blank: match everything */
	OK("", ""),
	OK(" \t\r\n\v\f", ""),
	/* free text, and every prefix in mixed case */
	OK("foo", "text=foo"),
	OK("foo bar", "text=foo ; text=bar"),
	OK("to:alice@example.com", "to=alice@example.com"),
	OK("TO:Alice", "to=Alice"),
	OK("from:bob", "from=bob"),
	OK("From:Bob", "from=Bob"),
	OK("cc:carol", "cc=carol"),
	OK("CC:carol", "cc=carol"),
	OK("bcc:dave", "bcc=dave"),
	OK("bCc:dave", "bcc=dave"),
	OK("subject:hello", "subject=hello"),
	OK("SUBJECT:Hello", "subject=Hello"),
	OK("message-id:<abc@d.example>", "message-id=<abc@d.example>"),
	OK("Message-ID:abc", "message-id=abc"),
	OK("is:read", "is-read"),
	OK("is:unread", "-is-read"),
	OK("IS:UNREAD", "-is-read"),
	OK("Is:Read", "is-read"),
	OK("has:attachment", "has-attachment"),
	OK("has:attachments", "has-attachment"),
	OK("HAS:Attachment", "has-attachment"),
	OK("before:2024-01-01", "before=1704067200000000"),
	OK("after:2024-01-01", "after=1704067200000000"),
	OK("larger:1k", "larger=1024"),
	OK("smaller:1k", "smaller=1024"),
	OK("Before:2024-01-01 AFTER:2024-01-01", "before=1704067200000000 ; after=1704067200000000"),
	OK("LARGER:1K SMALLER:1K", "larger=1024 ; smaller=1024"),
	OK("to:to:x", "to=to:x"), /* only the first prefix counts */
	OK("subject:is:read", "subject=is:read"),
	/* unknown prefixes and near misses are free text, literally */
	OK("foo:bar", "text=foo:bar"),
	OK("tag:x", "text=tag:x"),
	OK("reply-to:x", "text=reply-to:x"),
	OK("addressed:x", "text=addressed:x"),
	OK("to", "text=to"),
	OK("tox:a", "text=tox:a"),
	OK(":to:a", "text=:to:a"),
	OK("to;a", "text=to;a"),
	OK("col:x", "text=col:x"),
	OK("subject", "text=subject"),
	/* negation */
	OK("-foo", "-text=foo"),
	OK("!foo", "-text=foo"),
	OK("-to:bob", "-to=bob"),
	OK("!subject:x", "-subject=x"),
	OK("-is:read", "-is-read"),
	OK("-is:unread", "is-read"),
	OK("!is:unread", "is-read"),
	OK("-has:attachment", "-has-attachment"),
	OK("-before:2024-01-01", "-before=1704067200000000"),
	OK("!larger:1", "-larger=1"),
	OK("-", "text=-"),
	OK("!", "text=!"),
	OK("- foo", "text=- ; text=foo"),
	OK("foo -", "text=foo ; text=-"),
	OK("--foo", "-text=-foo"),
	OK("-!foo", "-text=!foo"),
	OK("!-foo", "-text=-foo"),
	OK("to:-bob", "to=-bob"),
	OK("foo-bar", "text=foo-bar"),
	OK("foo!", "text=foo!"),
	OK("-foo:bar", "-text=foo:bar"),
	/* quoted phrases and escapes */
	OK("\"hello world\"", "text\"=hello world"),
	OK("-\"hello world\"", "-text\"=hello world"),
	OK("!\"a b\"", "-text\"=a b"),
	OK("subject:\"re: hi there\"", "subject\"=re: hi there"),
	OK("-to:\"Alice Smith\"", "-to\"=Alice Smith"),
	OK("\"a \\\"b\\\" c\"", "text\"=a \"b\" c"),
	OK("\"back\\\\slash\"", "text\"=back\\slash"),
	OK("\"a\\\\\"", "text\"=a\\"),
	OK("\"C:\\temp\\n\"", "text\"=C:\\temp\\n"), /* other escapes stay */
	OK("\"a\" \"b\"", "text\"=a ; text\"=b"),
	OK("\"a\"\t\"b\"", "text\"=a ; text\"=b"),
	OK("\"to:alice\"", "text\"=to:alice"), /* a quoted prefix is text */
	OK("\"is:read\"", "text\"=is:read"),
	OK("\"-foo\"", "text\"=-foo"),
	OK("\"a\tb\nc\"", "text\"=a\tb\nc"),
	OK("\"  \"", "text\"=  "),
	OK("is:\"unread\"", "-is-read\""),
	OK("has:\"attachment\"", "has-attachment\""),
	OK("before:\"2024-01-01 00:00:00Z\"", "before\"=1704067200000000"),
	OK("larger:\"2k\"", "larger\"=2048"),
	/* quotes inside words are literal */
	OK("foo\"bar", "text=foo\"bar"),
	OK("foo\"bar baz\"", "text=foo\"bar ; text=baz\""),
	OK("x:\"a b\"", "text=x:\"a ; text=b\""),
	OK("a\\\"b", "text=a\\\"b"),
	OK("it's", "text=it's"),
	/* what other search syntaxes read as operators is literal here */
	OK("100%", "text=100%"),
	OK("%", "text=%"),
	OK("a_b", "text=a_b"),
	OK("_", "text=_"),
	OK("*", "text=*"),
	OK("foo*", "text=foo*"),
	OK("OR", "text=OR"),
	OK("a OR b", "text=a ; text=OR ; text=b"),
	OK("AND NOT", "text=AND ; text=NOT"),
	OK("NEAR(a", "text=NEAR(a"),
	OK("NEAR(a b)", "text=NEAR(a ; text=b)"),
	OK("subject:%_*", "subject=%_*"),
	OK("to:col:x", "to=col:x"),
	OK("\"%_* OR NEAR( col:\"", "text\"=%_* OR NEAR( col:"),
	OK("^a +b {c} (d) [e]", "text=^a ; text=+b ; text={c} ; text=(d) ; text=[e]"),
	OK("'a' \\b", "text='a' ; text=\\b"),
	/* UTF-8 text; non-ASCII spaces are not blanks */
	OK("müller", "text=müller"),
	OK("to:ä@example.com", "to=ä@example.com"),
	OK("\"日本 語\"", "text\"=日本 語"),
	OK("a\xc2\xa0"
	   "b",
	   "text=a\xc2\xa0"
	   "b"),
	OK("\xf0\x9f\x93\xa7", "text=\xf0\x9f\x93\xa7"),
	/* blanks of every kind */
	OK("\tfoo\n", "text=foo"),
	OK("a\r\nb", "text=a ; text=b"),
	OK("a\vb\fc", "text=a ; text=b ; text=c"),
	/* empty values */
	ERR("to:", SEARCH_EMPTY_VALUE, 3),
	ERR("to: bob", SEARCH_EMPTY_VALUE, 3),
	ERR("foo subject:", SEARCH_EMPTY_VALUE, 12),
	ERR("-to:", SEARCH_EMPTY_VALUE, 4),
	ERR("to:\"\"", SEARCH_EMPTY_VALUE, 3),
	ERR("\"\"", SEARCH_EMPTY_VALUE, 0),
	ERR("-\"\"", SEARCH_EMPTY_VALUE, 1),
	ERR("is:", SEARCH_EMPTY_VALUE, 3),
	ERR("has:", SEARCH_EMPTY_VALUE, 4),
	ERR("before:", SEARCH_EMPTY_VALUE, 7),
	ERR("after:", SEARCH_EMPTY_VALUE, 6),
	ERR("larger:", SEARCH_EMPTY_VALUE, 7),
	ERR("smaller:", SEARCH_EMPTY_VALUE, 8),
	ERR("message-id:", SEARCH_EMPTY_VALUE, 11),
	/* unterminated or misplaced quotes */
	ERR("\"abc", SEARCH_UNTERMINATED_QUOTE, 0),
	ERR("foo \"abc", SEARCH_UNTERMINATED_QUOTE, 4),
	ERR("\"", SEARCH_UNTERMINATED_QUOTE, 0),
	ERR("-\"", SEARCH_UNTERMINATED_QUOTE, 1),
	ERR("to:\"a b", SEARCH_UNTERMINATED_QUOTE, 3),
	ERR("\"abc\\\"", SEARCH_UNTERMINATED_QUOTE, 0),
	ERR("\"a\"b", SEARCH_UNTERMINATED_QUOTE, 3),
	ERR("to:\"a\"b", SEARCH_UNTERMINATED_QUOTE, 6),
	ERR("\"a\"\"b\"", SEARCH_UNTERMINATED_QUOTE, 3),
	/* flags */
	ERR("is:foo", SEARCH_BAD_FLAG, 3),
	ERR("is:reads", SEARCH_BAD_FLAG, 3),
	ERR("is:tagged", SEARCH_BAD_FLAG, 3),
	ERR("is:\"read \"", SEARCH_BAD_FLAG, 3),
	ERR("has:inline", SEARCH_BAD_FLAG, 4),
	ERR("has:attach", SEARCH_BAD_FLAG, 4),
	ERR("-has:attachmentss", SEARCH_BAD_FLAG, 5),
	/* dates that parse */
	OK("before:2024-02-29", "before=1709164800000000"),
	OK("before:2000-02-29", "before=951782400000000"),
	OK("before:2100-03-01", "before=4107542400000000"),
	OK("before:1970-01-01", "before=0"),
	OK("before:2024-01-01T00:00:00Z", "before=1704067200000000"),
	OK("before:2024-01-01t00:00:00z", "before=1704067200000000"),
	OK("before:2024-01-01T01:30:00+01:30", "before=1704067200000000"),
	OK("before:2023-12-31T22:00:00-02:00", "before=1704067200000000"),
	OK("before:2024-01-01T00:00:00-00:00", "before=1704067200000000"),
	OK("before:2024-01-01T00:00:00.5Z", "before=1704067200500000"),
	OK("before:2024-01-01T00:00:00.000001+00:00", "before=1704067200000001"),
	OK("before:2024-01-01T00:00:00.123456789Z", "before=1704067200123456"),
	OK("before:1969-12-31T23:00:00-01:00", "before=0"),
	OK("before:1969-12-31T23:59:59-23:59", "before=86339000000"),
	OK("after:9999-12-31T23:59:59Z", "after=253402300799000000"),
	OK("after:9999-12-31T23:59:59.999999-23:59", "after=253402387139999999"),
	/* dates that do not */
	ERR("before:2024-13-01", SEARCH_BAD_DATE, 7),
	ERR("before:2024-00-10", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-00", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-32", SEARCH_BAD_DATE, 7),
	ERR("before:2024-04-31", SEARCH_BAD_DATE, 7),
	ERR("before:2024-02-30", SEARCH_BAD_DATE, 7),
	ERR("before:2023-02-29", SEARCH_BAD_DATE, 7),
	ERR("before:2100-02-29", SEARCH_BAD_DATE, 7),
	ERR("before:2024-1-1", SEARCH_BAD_DATE, 7),
	ERR("before:24-01-01", SEARCH_BAD_DATE, 7),
	ERR("before:02024-01-01", SEARCH_BAD_DATE, 7),
	ERR("before:2024/01/01", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01x", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00Z", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T24:00:00Z", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:60:00Z", SEARCH_BAD_DATE, 7),
	ERR("before:2016-12-31T23:59:60Z", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00.Z", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00,5Z", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00+0100", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00+01", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00+24:00", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00+01:60", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00Zjunk", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01T00:00:00ZZ", SEARCH_BAD_DATE, 7),
	ERR("before:2024-01-01_00:00:00Z", SEARCH_BAD_DATE, 7),
	ERR("before:1969-12-31", SEARCH_BAD_DATE, 7),
	ERR("before:1969-12-31T23:59:59Z", SEARCH_BAD_DATE, 7),
	ERR("before:1969-12-30T23:59:59-23:59", SEARCH_BAD_DATE, 7),
	ERR("before:1970-01-01T00:00:00+00:01", SEARCH_BAD_DATE, 7),
	ERR("before:0000-01-01", SEARCH_BAD_DATE, 7),
	ERR("before:yesterday", SEARCH_BAD_DATE, 7),
	ERR("after:1704067200", SEARCH_BAD_DATE, 6),
	ERR("after:\"Jan 2 2024\"", SEARCH_BAD_DATE, 6),
	ERR("after:\xef\xbc\x92"
	    "024-01-01",
	    SEARCH_BAD_DATE, 6),
	ERR("foo -after:2024-01-01Z", SEARCH_BAD_DATE, 11),
	/* sizes that parse */
	OK("larger:0", "larger=0"),
	OK("larger:10", "larger=10"),
	OK("larger:1b", "larger=1"),
	OK("larger:1B", "larger=1"),
	OK("larger:1KB", "larger=1024"),
	OK("larger:1kB", "larger=1024"),
	OK("larger:1Kb", "larger=1024"),
	OK("larger:0001k", "larger=1024"),
	OK("larger:2M", "larger=2097152"),
	OK("larger:2mb", "larger=2097152"),
	OK("smaller:1G", "smaller=1073741824"),
	OK("smaller:1gb", "smaller=1073741824"),
	OK("larger:1.5M", "larger=1572864"),
	OK("larger:0.5k", "larger=512"),
	OK("larger:1.0001k", "larger=1024"),
	OK("larger:1.999999999G", "larger=2147483646"),
	OK("larger:18446744073709551615", "larger=18446744073709551615"),
	OK("larger:18446744073709551615b", "larger=18446744073709551615"),
	OK("larger:17179869183G", "larger=18446744072635809792"),
	OK("larger:17179869183.999999999G", "larger=18446744073709551614"),
	OK("larger:1 k", "larger=1 ; text=k"),
	/* sizes that do not */
	ERR("larger:18446744073709551616", SEARCH_BAD_SIZE, 7),
	ERR("larger:99999999999999999999999", SEARCH_BAD_SIZE, 7),
	ERR("larger:17179869184G", SEARCH_BAD_SIZE, 7),
	ERR("larger:k", SEARCH_BAD_SIZE, 7),
	ERR("larger:1.5", SEARCH_BAD_SIZE, 7),
	ERR("larger:1.5b", SEARCH_BAD_SIZE, 7),
	ERR("larger:1.", SEARCH_BAD_SIZE, 7),
	ERR("larger:1.k", SEARCH_BAD_SIZE, 7),
	ERR("larger:.5k", SEARCH_BAD_SIZE, 7),
	ERR("larger:1.0000000001G", SEARCH_BAD_SIZE, 7),
	ERR("larger:1kib", SEARCH_BAD_SIZE, 7),
	ERR("larger:1t", SEARCH_BAD_SIZE, 7),
	ERR("larger:1bb", SEARCH_BAD_SIZE, 7),
	ERR("larger:-1", SEARCH_BAD_SIZE, 7),
	ERR("larger:+1", SEARCH_BAD_SIZE, 7),
	ERR("larger:\"1 k\"", SEARCH_BAD_SIZE, 7),
	ERR("larger:1e3", SEARCH_BAD_SIZE, 7),
	ERR("larger:0x10", SEARCH_BAD_SIZE, 7),
	ERR("smaller:1,5M", SEARCH_BAD_SIZE, 8),
	ERR("smaller:1_000", SEARCH_BAD_SIZE, 8),
	/* invalid bytes, wherever they are */
	ERR("a\xff", SEARCH_BAD_BYTES, 1),
	ERR("\xc3", SEARCH_BAD_BYTES, 0),
	ERR("ok \x80", SEARCH_BAD_BYTES, 3),
	ERR("\xc0\xaf", SEARCH_BAD_BYTES, 0),
	ERR("to:\xed\xa0\x80", SEARCH_BAD_BYTES, 3),
	ERR("\"\xf4\x90\x80\x80\"", SEARCH_BAD_BYTES, 1),
	ERR("\"unterminated \xfe", SEARCH_BAD_BYTES, 14),
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		expect(r->in, strlen(r->in), r->st, r->err_at, r->want ? r->want : "", r->line);
	}
}

/* NUL is refused anywhere, even inside a phrase. */
static void test_nul(void)
{
	expect("\0", 1, SEARCH_BAD_BYTES, 0, "", __LINE__);
	expect("a\0b", 3, SEARCH_BAD_BYTES, 1, "", __LINE__);
	expect("\"a\0\"", 4, SEARCH_BAD_BYTES, 2, "", __LINE__);
	expect("to:x \0", 6, SEARCH_BAD_BYTES, 5, "", __LINE__);
}

/* The whole query: SEARCH_QUERY_MAX_BYTES - 1, at and + 1 bytes. */
static void test_query_bytes(void)
{
	for (size_t len = SEARCH_QUERY_MAX_BYTES - 1; len <= SEARCH_QUERY_MAX_BYTES + 1; len++) {
		struct test_text t = { 0 };
		text_str(&t, "x");
		text_fill(&t, ' ', len - 2);
		text_str(&t, "y");
		bool fits = len <= SEARCH_QUERY_MAX_BYTES;
		expect(t.p, t.len, fits ? SEARCH_OK : SEARCH_TOO_LONG, SEARCH_QUERY_MAX_BYTES, "text=x ; text=y",
		       __LINE__);
		free(t.p);
	}
}

/* SEARCH_QUERY_MAX_TERMS - 1, at and + 1 terms ("a a a ..."). */
static void test_term_count(void)
{
	for (size_t n = SEARCH_QUERY_MAX_TERMS - 1; n <= SEARCH_QUERY_MAX_TERMS + 1; n++) {
		struct test_text in = { 0 }, want = { 0 };
		for (size_t i = 0; i < n; i++) {
			text_str(&in, i ? " a" : "a");
			text_str(&want, i ? " ; text=a" : "text=a");
		}
		text_str(&in, " "); /* trailing blanks are no term */
		bool fits = n <= SEARCH_QUERY_MAX_TERMS;
		expect(in.p, in.len, fits ? SEARCH_OK : SEARCH_TOO_MANY_TERMS, 2 * SEARCH_QUERY_MAX_TERMS, want.p,
		       __LINE__);
		free(in.p);
		free(want.p);
	}
}

/* One term's text at SEARCH_TERM_MAX_BYTES - 1, at and + 1, as a word, a
 * prefixed value, a phrase, and a phrase whose escapes shrink it to fit. */
static void test_term_bytes(void)
{
	static const struct {
		const char *head, *unit, *tail, *field;
		size_t unit_len; /* input bytes per text byte */
	} forms[] = {
		{ "", "w", "", "text=", 1 },
		{ "-subject:", "s", "", "-subject=", 1 },
		{ "\"", "p", "\"", "text\"=", 1 },
		{ "to:\"", "\\\"", "\"", "to\"=", 2 },
	};
	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		for (size_t n = SEARCH_TERM_MAX_BYTES - 1; n <= SEARCH_TERM_MAX_BYTES + 1; n++) {
			struct test_text in = { 0 }, want = { 0 };
			text_str(&in, forms[f].head);
			text_rep(&in, forms[f].unit, n);
			text_str(&in, forms[f].tail);
			text_str(&want, forms[f].field);
			text_fill(&want, forms[f].unit[forms[f].unit_len - 1], n);
			bool fits = n <= SEARCH_TERM_MAX_BYTES;
			size_t at = strlen(forms[f].head) + SEARCH_TERM_MAX_BYTES * forms[f].unit_len +
				    (forms[f].unit_len - 1);
			expect(in.p, in.len, fits ? SEARCH_OK : SEARCH_TERM_TOO_LONG, at, want.p, __LINE__);
			free(in.p);
			free(want.p);
		}
	}
}

/* Every kind and run of blank, before, between and after terms of every
 * form, gives the same terms. */
static void test_blanks(void)
{
	static const char *const terms[] = { "-to:bob", "\"a b\"", "is:unread", "larger:1k", "x", "!\"q\"" };
	static const char *const blanks[] = { " ", "\t", "\r\n", "\v", "\f", "  \t ", "\n\n" };
	static const char want[] = "-to=bob ; text\"=a b ; -is-read ; larger=1024 ; text=x ; -text\"=q";
	size_t nb = sizeof blanks / sizeof blanks[0];
	for (size_t a = 0; a < nb; a++) {
		for (size_t b = 0; b < nb; b++) {
			struct test_text in = { 0 };
			text_str(&in, b % 2 ? blanks[a] : "");
			for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
				text_str(&in, i ? blanks[(a + i * b) % nb] : "");
				text_str(&in, terms[i]);
			}
			text_str(&in, a % 2 ? blanks[b] : "");
			expect(in.p, in.len, SEARCH_OK, 0, want, __LINE__);
			free(in.p);
		}
	}
}

/* The naive reference for queries of plain words: split at blanks; a word
 * longer than one byte that starts with '-' or '!' is negated. */
static void reference(const char *s, struct test_text *out)
{
	size_t i = 0, count = 0;
	while (s[i] != '\0') {
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		size_t start = i;
		while (s[i] != '\0' && s[i] != ' ' && s[i] != '\t')
			i++;
		bool neg = i - start > 1 && (s[start] == '-' || s[start] == '!');
		text_printf(out, "%s%stext=", count++ ? " ; " : "", neg ? "-" : "");
		text_add(out, s + start + neg, i - start - neg);
	}
}

static void test_random_words(void)
{
	struct harness_rng g;
	harness_rng_seed(&g, 13);
	for (unsigned round = 0; round < 20000; round++) {
		char in[48];
		size_t len = (size_t)harness_rng_below(&g, sizeof in);
		harness_rng_bytes(&g, (uint8_t *)in, len, "ab-!:%*_ \t");
		in[len] = '\0';
		struct test_text want = { 0 };
		reference(in, &want);
		expect(in, len, SEARCH_OK, 0, want.p ? want.p : "", __LINE__);
		free(want.p);
	}
}

/* One random term of a text field, written into in and its rendering
 * into want: negation, prefix, a bare word or a phrase with escapes. */
static void random_term(struct harness_rng *g, struct test_text *in, struct test_text *want)
{
	static const char *const prefix[] = { "", "to:", "FROM:", "cc:", "Bcc:", "subject:", "message-id:" };
	static const char *const field[] = { "text", "to", "from", "cc", "bcc", "subject", "message-id" };
	size_t f = (size_t)harness_rng_below(g, sizeof prefix / sizeof prefix[0]);
	bool neg = harness_rng_below(g, 2), phrase = harness_rng_below(g, 2);
	char val[24];
	size_t n = 1 + (size_t)harness_rng_below(g, sizeof val - 1);
	harness_rng_bytes(g, (uint8_t *)val, n, phrase ? "ab \t\"\\%*" : "ab%_*:()-!\\");
	if (!phrase && (val[0] == '-' || val[0] == '!'))
		val[0] = 'a'; /* a leading sign would be the negation */
	text_printf(in, "%s%s%s", neg ? (harness_rng_below(g, 2) ? "-" : "!") : "", prefix[f], phrase ? "\"" : "");
	text_printf(want, "%s%s%s=", neg ? "-" : "", field[f], phrase ? "\"" : "");
	for (size_t i = 0; i < n; i++) {
		if (phrase && (val[i] == '"' || val[i] == '\\'))
			text_str(in, "\\");
		text_add(in, &val[i], 1);
	}
	text_add(want, val, n);
	if (phrase)
		text_str(in, "\"");
}

/* Random queries of text terms built together with their expected parse. */
static void test_random_terms(void)
{
	static const char *const blanks[] = { " ", "\t", "  ", "\r\n", " \f " };
	struct harness_rng g;
	harness_rng_seed(&g, 1313);
	for (unsigned round = 0; round < 20000; round++) {
		struct test_text in = { 0 }, want = { 0 };
		size_t terms = 1 + (size_t)harness_rng_below(&g, 8);
		for (size_t i = 0; i < terms; i++) {
			text_str(&in, blanks[harness_rng_below(&g, sizeof blanks / sizeof blanks[0])]);
			text_str(&want, i ? " ; " : "");
			random_term(&g, &in, &want);
		}
		expect(in.p, in.len, SEARCH_OK, 0, want.p, __LINE__);
		free(in.p);
		free(want.p);
	}
}

int main(void)
{
	test_rows();
	test_nul();
	test_query_bytes();
	test_term_count();
	test_term_bytes();
	test_blanks();
	test_random_words();
	test_random_terms();
	return harness_finish("test_search_query");
}
