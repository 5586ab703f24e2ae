/*
 * tests/core/test_session_edge_data.c - SMTP-EDGE-CASES.md, message
 * content, against the session core: DATA framing and dot handling, SMTP
 * smuggling, BDAT/CHUNKING.
 *
 * Owns: cases 23-36 and 42-51 (the spool and log halves of 36 belong to the
 * layers above; the core's part is the MSG_END flags they record).
 * Expectations come from the edge-case document and issue 2, not from what
 * the code does.  The bare-LF policy runs in all three settings wherever a
 * case has a bare LF.
 *
 * Every case runs whole, at every split point and byte by byte.  One thing
 * is masked: the body shown with MSG_ABORT for a message refused after it
 * grew past the size limit.  Which bytes reached the layer above before the
 * limit tripped depends on how the input was cut, and they are thrown away
 * with the abort; the replies and every other event must still be
 * identical (see expect_masked()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_support.h"
#include "session_harness.h"

#define I_DATA I_TXN "DATA\r\n"
#define R_DATA R_TXN R_354
#define E_DATA_ALL E_TXN E_DATA
#define R_TOO_BIG "552 5.3.4 Error: message file too big\r\n"
#define R_CHUNK_BIG "552 5.3.4 Error: chunk exceeds message size limit\r\n"
#define R_DISCARDED "551 5.0.0 Error: chunk discarded after an earlier error\r\n"
#define R_BDAT_SYNTAX "521 5.5.4 Syntax: BDAT count [LAST]\r\n"
#define E_BDAT "CMD BDAT\nDATA_BEGIN bdat\n"
#define S(lit) lit, sizeof(lit) - 1

static void add_end(struct test_text *t, const void *body, size_t len, const char *flags)
{
	char head[96];
	snprintf(head, sizeof(head), "MSG_END size=%zu rcpts=1 flags=%s body=\"", len, flags);
	text_str(t, head);
	text_escaped(t, body, len);
	text_str(t, "\"\n");
}

static void add_abort(struct test_text *t, const char *reason, const void *body, size_t len)
{
	text_str(t, "MSG_ABORT reason=");
	text_str(t, reason);
	text_str(t, " body=\"");
	text_escaped(t, body, len);
	text_str(t, "\"\n");
}

static void add_chunk_ok(struct test_text *t, size_t n)
{
	char line[64];
	snprintf(line, sizeof(line), "250 2.0.0 Ok: %zu octets\r\n", n);
	text_str(t, line);
}

/* Replace the body of every MSG_ABORT line with "?". */
static void mask_abort_bodies(const char *events, struct test_text *out)
{
	const char *p = events;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		const char *body = strstr(p, " body=\"");
		if (strncmp(p, "MSG_ABORT ", 10) == 0 && body != NULL && body < p + n) {
			text_add(out, p, (size_t)(body - p));
			text_str(out, " body=?\n");
		} else {
			text_add(out, p, n);
		}
		p += n;
	}
}

/* Like harness_expect_all_splits (every single cut and byte by byte when
 * every_split, else seeded random cuts), comparing events with
 * mask_abort_bodies() applied.  One check. */
static int expect_masked(const char *what, const struct harness_opts *o, const struct test_text *in,
			 const char *replies, const char *events, bool every_split)
{
	struct harness_rng g;
	size_t n = in->len, *cuts = malloc((n + 1) * sizeof(*cuts));
	if (cuts == NULL)
		abort();
	harness_rng_seed(&g, 0xda7a0000u + n);
	size_t runs = every_split ? n + 1 : 17;
	int bad = 0;
	for (size_t run = 0; run < runs && !bad; run++) {
		size_t ncuts = 0;
		if (run > 0 && every_split && run < n) {
			cuts[ncuts++] = run;
		} else if (run == n && every_split) {
			for (size_t i = 1; i < n; i++)
				cuts[ncuts++] = i;
		} else if (run > 0) {
			ncuts = 8;
			harness_rng_cuts(&g, n, cuts, ncuts);
		}
		struct harness_result r;
		struct test_text masked = { 0 };
		harness_run_opts(o, (const uint8_t *)in->p, n, cuts, ncuts, &r);
		mask_abort_bodies(r.events, &masked);
		bad = r.harness_errors != 0 || strcmp(r.replies, replies) != 0 ||
		      strcmp(text_cstr(&masked), events) != 0;
		if (bad) {
			char *got = harness_escape(r.replies, r.replies_len);
			fprintf(stderr, "FAIL %s (run %zu, %zu cuts)\n  replies: \"%s\"\n  events:\n%s", what, run,
				ncuts, got, text_cstr(&masked));
			free(got);
		}
		text_free(&masked);
		harness_result_free(&r);
	}
	free(cuts);
	if (bad)
		harness_failures++;
	else
		harness_passed++;
	return bad;
}

/* I_DATA, content (ending with the terminator), QUIT.  reply is what end
 * of data gets; tail the MSG_END or MSG_ABORT event line(s). */
static void data_case(const char *what, const struct smtp_config *cfg, const void *content, size_t clen,
		      const char *reply, const char *tail)
{
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	text_str(&in, I_DATA);
	text_add(&in, content, clen);
	text_str(&in, "QUIT\r\n");
	text_str(&out, R_DATA);
	text_str(&out, reply);
	text_str(&out, R_BYE);
	text_str(&ev, E_DATA_ALL);
	text_str(&ev, tail);
	text_str(&ev, E_QUIT);
	struct harness_opts o = { .cfg = cfg };
	if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ %s\n", what);
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

/* data_case for a message that must be stored as body with flags. */
static void stored_case(const char *what, const struct smtp_config *cfg, const void *content, size_t clen,
			const void *body, size_t blen, const char *flags)
{
	struct test_text tail = { 0 };
	add_end(&tail, body, blen, flags);
	data_case(what, cfg, content, clen, R_Q1, tail.p);
	text_free(&tail);
}

/* ---- 23-29: DATA framing and dot handling ------------------------------- */

/* A header line far past the size limit, with continuation lines. */
static void case_23_huge_header_line(void)
{
	struct smtp_config c = cfg_default();
	struct test_text in = { 0 }, big = { 0 };
	c.max_size_bytes = 4096;
	text_str(&in, I_DATA "X-Long: ");
	text_fill(&in, 'h', 10000);
	text_str(&in, "\r\n");
	text_rep(&in, " continued header line\r\n", 300);
	text_str(&in, "\r\nbody\r\n.\r\nNOOP\r\n");
	struct harness_opts o = { .cfg = &c };
	expect_masked("case 23: 10 KB header line", &o, &in, R_DATA R_TOO_BIG R_OK,
		      E_DATA_ALL "MSG_ABORT reason=too_big body=?\nCMD NOOP\n", true);
	/* The document's size: 10 MB in one line, 100k continuation lines. */
	c.max_size_bytes = 1u << 20;
	text_str(&big, I_DATA "X-Long: ");
	text_fill(&big, 'h', 10u << 20);
	text_str(&big, "\r\n");
	text_rep(&big, " c\r\n", 100000);
	text_str(&big, "\r\n.\r\nNOOP\r\n");
	expect_masked("case 23: 10 MB header line", &o, &big, R_DATA R_TOO_BIG R_OK,
		      E_DATA_ALL "MSG_ABORT reason=too_big body=?\nCMD NOOP\n", false);
	text_free(&in);
	text_free(&big);
}

static void case_24_empty_message(void)
{
	stored_case("case 24: end of data right after the 354", NULL, S(".\r\n"), S(""), "-");
	/* RFC 5321 4.1.1.4: here the first CRLF ends an empty line of content. */
	stored_case("case 24: one empty line", NULL, S("\r\n.\r\n"), S("\r\n"), "-");
}

static void case_25_dot_unstuffing(void)
{
	stored_case("case 25", NULL, S("..hello\r\n..\r\n...\r\nmid.dle\r\n.\r\n"),
		    S(".hello\r\n.\r\n..\r\nmid.dle\r\n"), "-");
}

/* One text line of total octets, CRLF included.  A stuffed line starts
 * with a dot, so it goes out with one more: RFC 5321 4.5.3.1.6 does not
 * count that one. */
static void long_line(unsigned total, bool stuffed)
{
	struct test_text in = { 0 }, body = { 0 };
	if (stuffed)
		text_str(&body, ".");
	text_fill(&body, 'x', total - 2 - (stuffed ? 1 : 0));
	text_str(&body, "\r\n");
	if (stuffed)
		text_str(&in, ".");
	text_add(&in, body.p, body.len);
	text_str(&in, ".\r\n");
	char what[80];
	snprintf(what, sizeof(what), "case 26: %u-octet line%s", total, stuffed ? ", stuffed" : "");
	stored_case(what, NULL, in.p, in.len, body.p, body.len, total <= SMTP_TEXT_LINE_MAX_BYTES ? "-" : "long_line");
	text_free(&in);
	text_free(&body);
}

static void case_26_text_line_1000(void)
{
	for (unsigned n = SMTP_TEXT_LINE_MAX_BYTES - 1; n <= SMTP_TEXT_LINE_MAX_BYTES + 1; n++) {
		long_line(n, false);
		long_line(n, true);
	}
}

/* A body of n octets ("x...\r\n") against a limit of 100. */
static void sized_body(unsigned n)
{
	struct smtp_config c = cfg_default();
	struct test_text in = { 0 };
	c.max_size_bytes = 100;
	text_str(&in, I_DATA);
	text_fill(&in, 'x', n - 2);
	text_str(&in, "\r\n.\r\nNOOP\r\n");
	struct harness_opts o = { .cfg = &c };
	char what[64];
	snprintf(what, sizeof(what), "case 27: %u octets, limit 100", n);
	if (n <= 100) {
		struct test_text ev = { 0 };
		text_str(&ev, E_DATA_ALL);
		add_end(&ev, in.p + sizeof(I_DATA) - 1, n, "-");
		text_str(&ev, "CMD NOOP\n");
		if (harness_expect_all_splits(&o, in.p, in.len, R_DATA R_Q1 R_OK, ev.p))
			fprintf(stderr, "  ^ %s\n", what);
		text_free(&ev);
	} else {
		expect_masked(what, &o, &in, R_DATA R_TOO_BIG R_OK,
			      E_DATA_ALL "MSG_ABORT reason=too_big body=?\nCMD NOOP\n", true);
	}
	text_free(&in);
}

static void case_27_message_over_size_limit(void)
{
	for (unsigned n = 99; n <= 101; n++)
		sized_body(n);
	/* Two delayed errors: the first to trip wins. */
	struct smtp_config c = cfg_default();
	c.max_size_bytes = 100;
	c.bare_lf = SMTP_BARE_LF_REJECT;
	struct harness_opts o = { .cfg = &c };
	struct test_text lf_first = { 0 }, big_first = { 0 };
	text_str(&lf_first, I_DATA "a\nb");
	text_fill(&lf_first, 'x', 200);
	text_str(&lf_first, "\r\n.\r\nNOOP\r\n");
	expect_masked("case 27: bare LF (reject) before the size limit", &o, &lf_first,
		      R_DATA "550 5.5.2 Error: bare <LF> received\r\n" R_OK,
		      E_DATA_ALL "MSG_ABORT reason=bare_lf body=?\nCMD NOOP\n", true);
	text_str(&big_first, I_DATA);
	text_fill(&big_first, 'x', 200);
	text_str(&big_first, "a\nb\r\n.\r\nNOOP\r\n");
	expect_masked("case 27: size limit before a bare LF (reject)", &o, &big_first, R_DATA R_TOO_BIG R_OK,
		      E_DATA_ALL "MSG_ABORT reason=too_big body=?\nCMD NOOP\n", true);
	text_free(&lf_first);
	text_free(&big_first);
}

static void case_29_bare_cr_lf_nul_in_body(void)
{
	static const char in[] = "a\rb\nc\0d\r\n.\r\n";
	struct smtp_config c = cfg_default();
	struct test_text tail = { 0 };
	stored_case("case 29 preserve", &c, S(in), S("a\rb\nc\0d\r\n"), "bare_lf,bare_cr,nul");
	c.bare_lf = SMTP_BARE_LF_NORMALIZE;
	stored_case("case 29 normalize", &c, S(in), S("a\rb\r\nc\0d\r\n"), "bare_lf,bare_cr,nul");
	c.bare_lf = SMTP_BARE_LF_REJECT;
	add_abort(&tail, "bare_lf", S("a\rb\nc\0d\r\n"));
	data_case("case 29 reject", &c, S(in), "550 5.5.2 Error: bare <LF> received\r\n", tail.p);
	stored_case("case 29 reject, bare CR only", &c, S("a\rb\r\n.\r\n"), S("a\rb\r\n"), "bare_cr");
	text_free(&tail);
}

/* ---- 30-36: SMTP smuggling ---------------------------------------------- */

#define SMUGGLE_HEAD "Subject: s\r\n\r\nbody"
#define SMUGGLE_TAIL "MAIL FROM:<smuggled@x>\r\nRCPT TO:<r@x>\r\nDATA\r\nsmuggled"

struct smuggle {
	const char *name;
	const char *inject;
	size_t inject_len;
	const char *stored; /* what the INJECT becomes in the stored body */
	size_t stored_len;
	const char *flags; /* MSG_END flags (36: false_eod on every variant) */
};

/* Bare LFs (an LF not after a CR) of body[0..len) made CRLF. */
static void normalized(struct test_text *t, const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
			text_str(t, "\r");
		text_add(t, body + i, 1);
	}
}

static void smuggle_one(const struct smuggle *m, enum smtp_bare_lf_policy policy)
{
	static const char *const names[] = { "preserve", "normalize", "reject" };
	struct smtp_config c = cfg_default();
	struct test_text content = { 0 }, body = { 0 }, stored = { 0 }, tail = { 0 };
	char what[96];
	c.bare_lf = policy;
	text_str(&content, SMUGGLE_HEAD);
	text_add(&content, m->inject, m->inject_len);
	text_str(&content, SMUGGLE_TAIL "\r\n.\r\n");
	text_str(&body, SMUGGLE_HEAD);
	text_add(&body, m->stored, m->stored_len);
	text_str(&body, SMUGGLE_TAIL "\r\n");
	if (policy == SMTP_BARE_LF_NORMALIZE)
		normalized(&stored, body.p, body.len);
	else
		text_add(&stored, body.p, body.len);
	bool refused = policy == SMTP_BARE_LF_REJECT && strstr(m->flags, "bare_lf") != NULL;
	if (refused)
		add_abort(&tail, "bare_lf", stored.p, stored.len);
	else
		add_end(&tail, stored.p, stored.len, m->flags);
	snprintf(what, sizeof(what), "smuggling case %s (%s)", m->name, names[policy]);
	data_case(what, &c, content.p, content.len, refused ? "550 5.5.2 Error: bare <LF> received\r\n" : R_Q1, tail.p);
	text_free(&content);
	text_free(&body);
	text_free(&stored);
	text_free(&tail);
}

static void case_30_36_smuggling(void)
{
	static const struct smuggle rows[] = {
		{ "30 \\n.\\n", S("\n.\n"), S("\n.\n"), "bare_lf,false_eod" },
		{ "31 \\r.\\r", S("\r.\r"), S("\r.\r"), "bare_cr,false_eod" },
		{ "32 \\n.\\r\\n", S("\n.\r\n"), S("\n.\r\n"), "bare_lf,false_eod" },
		{ "32 \\r\\n.\\n", S("\r\n.\n"), S("\r\n\n"), "bare_lf,false_eod" },
		{ "32 \\r.\\r\\n", S("\r.\r\n"), S("\r.\r\n"), "bare_cr,false_eod" },
		{ "32 \\r\\n.\\r", S("\r\n.\r"), S("\r\n\r"), "bare_cr,false_eod" },
		{ "32 \\n.\\r", S("\n.\r"), S("\n.\r"), "bare_lf,bare_cr,false_eod" },
		{ "32 \\r.\\n", S("\r.\n"), S("\r.\n"), "bare_lf,bare_cr,false_eod" },
		{ "33 \\r\\n.\\r\\r\\n", S("\r\n.\r\r\n"), S("\r\n\r\r\n"), "bare_cr,false_eod" },
		{ "33 \\r\\r\\n.\\r\\r\\n", S("\r\r\n.\r\r\n"), S("\r\r\n\r\r\n"), "bare_cr,false_eod" },
		{ "34 \\r\\n\\0.\\r\\n", S("\r\n\0.\r\n"), S("\r\n\0.\r\n"), "nul,false_eod" },
	};
	for (size_t i = 0; i < NROWS(rows); i++)
		for (int p = SMTP_BARE_LF_PRESERVE; p <= SMTP_BARE_LF_REJECT; p++)
			smuggle_one(&rows[i], (enum smtp_bare_lf_policy)p);
}

/* 35: \n.\n then a BDAT command and its 86 octets, all inside DATA. */
static void case_35_smuggled_bdat(void)
{
	struct test_text content = { 0 }, body = { 0 };
	text_str(&body, "body\n.\nBDAT 86 LAST\r\nSubject: smuggled\r\n\r\n");
	text_fill(&body, 'z', 86 - 21 - 2);
	text_str(&body, "\r\n");
	text_add(&content, body.p, body.len);
	text_str(&content, ".\r\n");
	stored_case("case 35", NULL, content.p, content.len, body.p, body.len, "bare_lf,false_eod");
	text_free(&content);
	text_free(&body);
}

/* ---- 42-51: BDAT -------------------------------------------------------- */

/* I_TXN then in; replies after R_TXN and events after E_TXN. */
static void bdat_case(const char *what, const struct harness_opts *o, const char *in, size_t len, const char *replies,
		      const char *events)
{
	struct test_text i = { 0 }, r = { 0 }, e = { 0 };
	text_str(&i, I_TXN);
	text_add(&i, in, len);
	text_str(&r, R_TXN);
	text_str(&r, replies);
	text_str(&e, E_TXN);
	text_str(&e, events);
	if (harness_expect_all_splits(o, i.p, i.len, r.p, e.p))
		fprintf(stderr, "  ^ %s\n", what);
	text_free(&i);
	text_free(&r);
	text_free(&e);
}

/* n (>= 2) octets of content ending in CRLF. */
static void chunk_of(struct test_text *t, size_t n)
{
	text_fill(t, 'c', n - 2);
	text_str(t, "\r\n");
}

/* "BDAT n[ LAST]\r\n" and n octets of content, appended to in and body. */
static void bdat_chunk(struct test_text *in, struct test_text *body, size_t n, bool last)
{
	char cmd[48];
	size_t at = body->len;
	snprintf(cmd, sizeof(cmd), "BDAT %zu%s\r\n", n, last ? " LAST" : "");
	text_str(in, cmd);
	if (n >= 2)
		chunk_of(body, n);
	else
		text_fill(body, 'c', n);
	text_add(in, body->p + at, n);
}

static void case_28_42_43_chunks(void)
{
	struct test_text in = { 0 }, body = { 0 }, out = { 0 }, ev = { 0 };
	text_str(&ev, E_BDAT);
	add_end(&ev, "hello", 5, "bdat");
	text_str(&ev, E_QUIT);
	bdat_case("case 28: no CRLF at the end", NULL, S("BDAT 5 LAST\r\nhelloQUIT\r\n"), R_Q1 R_BYE, ev.p);
	text_free(&ev);
	bdat_chunk(&in, &body, 88, true);
	text_str(&in, "QUIT\r\n");
	text_str(&ev, E_BDAT);
	add_end(&ev, body.p, body.len, "bdat");
	text_str(&ev, E_QUIT);
	bdat_case("case 42: BDAT 88 LAST", NULL, in.p, in.len, R_Q1 R_BYE, ev.p);
	text_free(&in);
	text_free(&body);
	text_free(&ev);
	bdat_chunk(&in, &body, 100, false);
	text_str(&in, "NOOP\r\nBDAT 0 LAST\r\n");
	add_chunk_ok(&out, 100);
	text_str(&out, R_OK R_Q1);
	text_str(&ev, E_BDAT "CMD NOOP\nCMD BDAT\n");
	add_end(&ev, body.p, body.len, "bdat");
	bdat_case("case 43: BDAT 100, NOOP, BDAT 0 LAST", NULL, in.p, in.len, out.p, ev.p);
	text_free(&in);
	text_free(&body);
	text_free(&out);
	text_free(&ev);
}

/* 26 for BDAT: the same line limit is judged in chunk content. */
static void case_26_long_line_in_chunk(void)
{
	for (size_t n = SMTP_TEXT_LINE_MAX_BYTES; n <= SMTP_TEXT_LINE_MAX_BYTES + 1; n++) {
		struct test_text in = { 0 }, body = { 0 }, ev = { 0 };
		bdat_chunk(&in, &body, n, true);
		text_str(&ev, E_BDAT);
		add_end(&ev, body.p, body.len, n > SMTP_TEXT_LINE_MAX_BYTES ? "long_line,bdat" : "bdat");
		bdat_case("case 26: a long line in a chunk", NULL, in.p, in.len, R_Q1, ev.p);
		text_free(&in);
		text_free(&body);
		text_free(&ev);
	}
}

/* 44: chunk data is never a command, whatever it looks like. */
static void case_44_commands_inside_a_chunk(void)
{
	static const char chunk[] = "To: Susan@bdat 78 last\r\nbdat 5 last\r\nQUIT\r\n.\r\nMAIL FROM:<s@x>\r\n";
	struct test_text in = { 0 }, ev = { 0 };
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", sizeof(chunk) - 1);
	text_str(&in, cmd);
	text_str(&in, chunk);
	text_str(&in, "QUIT\r\n");
	text_str(&ev, E_BDAT);
	add_end(&ev, S(chunk), "bdat");
	text_str(&ev, E_QUIT);
	bdat_case("case 44", NULL, in.p, in.len, R_Q1 R_BYE, ev.p);
	text_free(&in);
	text_free(&ev);
}

static void case_45_null_and_malformed_bdat(void)
{
	static const char *const bad[] = {
		"BDAT -1",
		"BDAT 1e9999",
		"BDAT 10 LAST extra",
		"BDAT abc",
		"BDAT",
		"BDAT 10LAST",
		"BDAT +10",
		"BDAT 99999999999999999999999",
		"BDAT 18446744073709551616",
	};
	bdat_case("case 45: BDAT 0", NULL, S("BDAT 0\r\nNOOP\r\n"), "551 5.7.1 Null BDAT request\r\n" R_OK,
		  "CMD BDAT\nCMD NOOP\n");
	for (size_t i = 0; i < NROWS(bad); i++) {
		struct test_text in = { 0 };
		text_str(&in, bad[i]);
		text_str(&in, "\r\n0123456789NOOP\r\n");
		bdat_case(bad[i], NULL, in.p, in.len, R_BDAT_SYNTAX, "CMD BDAT\nCLOSE reason=syntax\n");
		text_free(&in);
	}
	bdat_case("case 45: malformed BDAT mid-message", NULL, S("BDAT 3\r\nabcBDAT x\r\nNOOP\r\n"),
		  "250 2.0.0 Ok: 3 octets\r\n" R_BDAT_SYNTAX,
		  E_BDAT "CMD BDAT\nMSG_ABORT reason=syntax body=\"abc\"\nCLOSE reason=syntax\n");
}

static void case_46_short_last_chunk_then_close(void)
{
	struct test_text in = { 0 }, body = { 0 }, ev = { 0 };
	struct harness_opts o = { .eof_at_end = true };
	text_str(&in, "BDAT 89 LAST\r\n");
	chunk_of(&body, 88);
	text_add(&in, body.p, body.len);
	text_str(&ev, E_BDAT);
	add_abort(&ev, "eof", body.p, body.len);
	text_str(&ev, "CLOSE reason=eof\n");
	bdat_case("case 46", &o, in.p, in.len, "", ev.p);
	text_free(&in);
	text_free(&body);
	text_free(&ev);
}

static void case_47_out_of_order_after_bdat(void)
{
#define R_3 "250 2.0.0 Ok: 3 octets\r\n"
#define E_ABCDE "MSG_END size=5 rcpts=1 flags=bdat body=\"abcde\"\n"
	static const struct row rows[] = {
		ROW("DATA after BDAT", "BDAT 3\r\nabcDATA\r\nBDAT 2 LAST\r\nde",
		    R_3 "503 5.5.1 Error: DATA after BDAT\r\n" R_Q1, E_BDAT "CMD DATA\nCMD BDAT\n" E_ABCDE),
		ROW("MAIL after BDAT", "BDAT 3\r\nabcMAIL FROM:<e@f>\r\nBDAT 2 LAST\r\nde",
		    R_3 "503 5.5.1 Error: nested MAIL command\r\n" R_Q1, E_BDAT "CMD MAIL\nCMD BDAT\n" E_ABCDE),
		ROW("RCPT after BDAT", "BDAT 3\r\nabcRCPT TO:<g@h>\r\nBDAT 2 LAST\r\nde",
		    R_3 "503 5.5.1 Error: RCPT after BDAT\r\n" R_Q1, E_BDAT "CMD RCPT\nCMD BDAT\n" E_ABCDE),
		ROW("BDAT after LAST", "BDAT 5 LAST\r\nabcdeBDAT 3\r\nxyzNOOP\r\n", R_Q1 R_NEED_MAIL R_OK,
		    E_BDAT E_ABCDE "CMD BDAT\nCMD NOOP\n"),
	};
#undef R_3
#undef E_ABCDE
	for (size_t i = 0; i < NROWS(rows); i++)
		bdat_case(rows[i].name, NULL, rows[i].in, rows[i].len, rows[i].replies, rows[i].events);
}

/* 48: chunks of a transaction with no valid recipient: one error each,
 * payloads consumed, the stream in sync; after the first error, 551. */
static void case_48_chunks_without_recipients(void)
{
	struct test_text in = { 0 }, out = { 0 }, body = { 0 };
	text_str(&in, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c d>\r\n");
	bdat_chunk(&in, &body, 86, false);
	text_str(&in, "BDAT 4 LAST\r\nZZ\r\nMAIL FROM:<a@b>\r\n");
	text_str(&out, BANNER R_HELO R_MAIL "501 5.5.4 Syntax: RCPT TO:<address>\r\n" R_NO_VALID R_DISCARDED R_MAIL);
	if (harness_expect_all_splits(NULL, in.p, in.len, out.p,
				      E_G E_HELO E_MAIL "CMD RCPT\nCMD BDAT\nCMD BDAT\n" E_MAIL))
		fprintf(stderr, "  ^ case 48: no valid recipient\n");
	text_free(&in);
	text_free(&out);
	text_free(&body);
	/* Pipelined chunks are legal under strict_sync (RFC 3030 4.2). */
	static const char piped[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde";
	static const size_t cut[] = { 8 };
	struct smtp_config strict = cfg_default();
	strict.strict_sync = true;
	struct harness_opts o = { .cfg = &strict };
	harness_expect_cuts(&o, S(piped), cut, 1, BANNER R_EHLO R_MAIL R_RCPT "250 2.0.0 Ok: 3 octets\r\n" R_Q1,
			    E_G E_EHLO E_MAIL E_RCPT E_BDAT
			    "CMD BDAT\nMSG_END size=5 rcpts=1 flags=bdat body=\"abcde\"\n");
}

/* 49: a limit of 100 reached by chunks of first + second octets. */
static void chunks_against_limit(size_t first, size_t second, bool second_last, const char *tail_in,
				 const char *tail_out, const char *tail_ev)
{
	struct smtp_config c = cfg_default();
	struct test_text in = { 0 }, body = { 0 }, out = { 0 }, ev = { 0 };
	c.max_size_bytes = 100;
	bdat_chunk(&in, &body, first, false);
	size_t first_len = body.len;
	bdat_chunk(&in, &body, second, second_last);
	text_str(&in, tail_in);
	add_chunk_ok(&out, first);
	text_str(&ev, E_BDAT "CMD BDAT\n");
	if (first + second <= c.max_size_bytes) {
		text_str(&out, R_Q1);
		add_end(&ev, body.p, body.len, "bdat");
	} else {
		text_str(&out, R_CHUNK_BIG);
		add_abort(&ev, "too_big", body.p, first_len);
	}
	text_str(&out, tail_out);
	text_str(&ev, tail_ev);
	struct harness_opts o = { .cfg = &c };
	char what[64];
	snprintf(what, sizeof(what), "case 49: chunks of %zu and %zu, limit 100", first, second);
	bdat_case(what, &o, in.p, in.len, out.p, ev.p);
	text_free(&in);
	text_free(&body);
	text_free(&out);
	text_free(&ev);
}

static void case_49_chunk_over_size_limit(void)
{
	chunks_against_limit(60, 39, true, "NOOP\r\n", R_OK, "CMD NOOP\n");
	chunks_against_limit(60, 40, true, "NOOP\r\n", R_OK, "CMD NOOP\n");
	chunks_against_limit(60, 41, true, "NOOP\r\n", R_OK, "CMD NOOP\n");
	/* Later chunks are refused until RSET, then all is well again. */
	chunks_against_limit(60, 50, false, "BDAT 5 LAST\r\nvwxyzRSET\r\nMAIL FROM:<a@b>\r\n", R_DISCARDED R_OK R_MAIL,
			     "CMD BDAT\nCMD RSET\nRESET\n" E_MAIL);
	struct smtp_config c = cfg_default();
	c.max_size_bytes = 100;
	struct harness_opts o = { .cfg = &c };
	struct test_text in = { 0 }, body = { 0 };
	bdat_chunk(&in, &body, 101, true);
	text_str(&in, "NOOP\r\n");
	bdat_case("case 49: first chunk over the limit", &o, in.p, in.len, R_CHUNK_BIG R_OK, "CMD BDAT\nCMD NOOP\n");
	text_free(&in);
	text_free(&body);
}

/* 50: bare LF in chunk content, per policy; only text content is judged. */
static void case_50_bare_lf_in_chunks(void)
{
	static const char in[] = "BDAT 5 LAST\r\na\nb\r\n";
	struct smtp_config c = cfg_default();
	struct harness_opts o = { .cfg = &c };
	bdat_case("case 50 preserve", &o, S(in), R_Q1,
		  E_BDAT "MSG_END size=5 rcpts=1 flags=bare_lf,bdat body=\"a\\nb\\r\\n\"\n");
	c.bare_lf = SMTP_BARE_LF_REJECT;
	bdat_case("case 50 reject", &o, S(in), "550 5.5.2 Error: bare <LF> received\r\n",
		  E_BDAT "MSG_ABORT reason=bare_lf body=\"a\\nb\\r\\n\"\n");
	bdat_case("case 50 reject, CRLF across chunks", &o, S("BDAT 2\r\na\rBDAT 2 LAST\r\n\nb"),
		  "250 2.0.0 Ok: 2 octets\r\n" R_Q1,
		  E_BDAT "CMD BDAT\nMSG_END size=4 rcpts=1 flags=bdat body=\"a\\r\\nb\"\n");
	/* BODY=BINARYMIME content is not text: LF octets are data. */
	static const char binary[] =
		"HELO x\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\nRCPT TO:<c@d>\r\nBDAT 4 LAST\r\n\0\n\xff\n";
	if (harness_expect_all_splits(
		    &o, S(binary), BANNER R_HELO R_MAIL R_RCPT R_Q1,
		    E_G E_HELO "CMD MAIL\nMAIL from=<a@b> params=<BODY=BINARYMIME> body=binarymime\n" E_RCPT E_BDAT
			       "MSG_END size=4 rcpts=1 flags=bare_lf,nul,8bit,bdat body=\"\\0\\n\\xff\\n\"\n"))
		fprintf(stderr, "  ^ case 50 reject, BODY=BINARYMIME\n");
}

static void case_51_rset_between_chunks(void)
{
	bdat_case("case 51", NULL, S("BDAT 3\r\nabcRSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 2 LAST\r\nhi"),
		  "250 2.0.0 Ok: 3 octets\r\n" R_OK R_MAIL R_RCPT R_Q1,
		  E_BDAT "CMD RSET\nMSG_ABORT reason=rset body=\"abc\"\nRESET\n" E_MAIL E_RCPT E_BDAT
			 "MSG_END size=2 rcpts=1 flags=bdat body=\"hi\"\n");
}

int main(void)
{
	case_23_huge_header_line();
	case_24_empty_message();
	case_25_dot_unstuffing();
	case_26_text_line_1000();
	case_27_message_over_size_limit();
	case_29_bare_cr_lf_nul_in_body();
	case_30_36_smuggling();
	case_35_smuggled_bdat();
	case_28_42_43_chunks();
	case_26_long_line_in_chunk();
	case_44_commands_inside_a_chunk();
	case_45_null_and_malformed_bdat();
	case_46_short_last_chunk_then_close();
	case_47_out_of_order_after_bdat();
	case_48_chunks_without_recipients();
	case_49_chunk_over_size_limit();
	case_50_bare_lf_in_chunks();
	case_51_rset_between_chunks();
	return harness_finish("session_edge_data");
}
