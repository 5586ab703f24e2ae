/*
 * tests/core/test_mail_addr_list.c - splitting address-list header values.
 *
 * Owns: one table row per behaviour of mail_addr_list_next() (name forms,
 * quoting, comments, groups, routes, folding, empty elements, malformed
 * input), each value placed against a PROT_NONE page; the output bounds at
 * limit-1, limit and limit+1; and random bytes (no over-read, *pos only
 * grows, always ends).  A split is compared as one line: "name|address"
 * per mailbox, joined by " ; ".
 */
#include <stdio.h>

#include "mail_addr_list.h"
#include "session_harness.h"
#include "spool_support.h"
#include "test_text.h"

/* The split of value as one line (see the header). */
static void split(const char *value, size_t len, struct test_text *t)
{
	struct guard g;
	const char *v = (const char *)guard_place(&g, value, len);
	struct mail_addr a;
	size_t pos = 0, n = 0;
	t->len = 0;
	text_str(t, "");
	while (mail_addr_list_next(v, len, &pos, &a)) {
		text_str(t, n++ ? " ; " : "");
		text_str(t, a.name);
		text_str(t, "|");
		text_str(t, a.address);
	}
	CHECK_U64(pos, len);
	guard_free(&g);
}

static const struct {
	const char *in, *want;
} rows[] = {
	{ "", "" },
	{ "alice@example.com", "|alice@example.com" },
	{ "Alice <alice@example.com>", "Alice|alice@example.com" },
	{ "  Alice   Smith\r\n <alice@example.com> ", "Alice Smith|alice@example.com" },
	{ "<alice@example.com>", "|alice@example.com" },
	{ "\"Smith, Alice\" <a@x.org>, bob@y.org", "Smith, Alice|a@x.org ; |bob@y.org" },
	{ "\"a \\\"quoted\\\" b\" <q@x>", "a \"quoted\" b|q@x" },
	{ "bob@y.org (Bob Jones)", "Bob Jones|bob@y.org" },
	{ "bob@y.org (Bob (the, builder))", "Bob (the, builder)|bob@y.org" },
	{ "Bob (comment) <bob@y.org>", "Bob|bob@y.org" },
	{ "team: a@x, B <b@x>;, c@x", "|a@x ; B|b@x ; |c@x" },
	{ "undisclosed-recipients:;", "" },
	{ "a@x,, ,b@x,", "|a@x ; |b@x" },
	{ "<@relay1,@relay2:route@x.org>", "|route@x.org" },
	{ "Name <  spaced @ x.org  >", "Name|spaced@x.org" },
	{ "=?UTF-8?B?w6lsw6g=?= <e@x>", "=?UTF-8?B?w6lsw6g=?=|e@x" },
	{ "\"unclosed <u@x>, v@x", "|\"unclosed <u@x>, v@x\"" },
	{ "Open <o@x, p@x", "Open|o@x,p@x" },
	{ "\"\" <empty-name@x>", "|empty-name@x" },
	{ "Just A Name <>", "Just A Name|" },
	{ "\"local part\"@x.org", "|\"local part\"@x.org" },
	{ "a@x;b@x", "|a@x ; |b@x" },
};

static void test_rows(void)
{
	struct test_text t = { 0 };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		split(rows[i].in, strlen(rows[i].in), &t);
		if (!CHECK_STR(t.p, t.len, rows[i].want))
			fprintf(stderr, "  input: %s\n", rows[i].in);
	}
	free(t.p);
}

/* Names and addresses at limit-1, limit and limit+1 bytes: cut to the
 * buffer, NUL-terminated. */
static void test_bounds(void)
{
	struct test_text in = { 0 }, want = { 0 }, got = { 0 };
	size_t lims[] = { MAIL_ADDR_NAME_MAX_BYTES - 2, MAIL_ADDR_NAME_MAX_BYTES - 1, MAIL_ADDR_NAME_MAX_BYTES };
	for (size_t k = 0; k < 3; k++) {
		in.len = want.len = 0;
		text_fill(&in, 'n', lims[k]);
		text_str(&in, " <");
		text_fill(&in, 'a', lims[k]);
		text_str(&in, ">");
		size_t keep = lims[k] < MAIL_ADDR_NAME_MAX_BYTES ? lims[k] : MAIL_ADDR_NAME_MAX_BYTES - 1;
		text_str(&want, "");
		text_fill(&want, 'n', keep);
		text_str(&want, "|");
		text_fill(&want, 'a', keep);
		split(in.p, in.len, &got);
		CHECK_STR(got.p, got.len, want.p);
	}
	free(in.p);
	free(want.p);
	free(got.p);
}

/* Random bytes from a small alphabet of the syntax: no over-read (the
 * guard page), *pos strictly grows, the outputs are terminated. */
static void test_random(void)
{
	static const char alphabet[] = "\"\\(),;:<>@ \t\r\nab";
	struct harness_rng g;
	unsigned bad = 0;
	harness_rng_seed(&g, 13);
	for (int round = 0; round < 20000; round++) {
		char v[64];
		size_t len = harness_rng_below(&g, sizeof v);
		for (size_t i = 0; i < len; i++)
			v[i] = alphabet[harness_rng_below(&g, sizeof alphabet - 1)];
		struct guard gd;
		const char *p = (const char *)guard_place(&gd, v, len);
		struct mail_addr a;
		size_t pos = 0, last = 0, n = 0;
		bool ok = true;
		while (ok && mail_addr_list_next(p, len, &pos, &a)) {
			ok = pos > last && pos <= len && strlen(a.name) < sizeof a.name && n++ < len;
			last = pos;
		}
		bad += !ok || pos != len;
		guard_free(&gd);
	}
	CHECK_U64(bad, 0);
}

int main(void)
{
	test_rows();
	test_bounds();
	test_random();
	return harness_finish("test_mail_addr_list");
}
