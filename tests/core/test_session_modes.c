/*
 * tests/core/test_session_modes.c - golden session transcripts for limits,
 * modes and the interface to the layer above (issue 2).
 *
 * Owns: max_size for SIZE=/DATA/BDAT content and the recipient limit at
 * limit-1, limit and limit+1; the error limit (default 20, and 1 and 2);
 * PIPELINING with whole groups in one input and a tiny output buffer; AUTH
 * PLAIN and LOGIN; LMTP; verdicts (accepted, refused, per recipient in
 * LMTP); fault overrides and the RFC 821 aborted-transaction example; and
 * smtp_session_abort / smtp_session_eof / smtp_session_is_idle.  The
 * commands themselves are in test_session.c, the edge-case list in
 * test_session_edge.c, long-running cycles in test_session_cycles.c.
 *
 * Scenarios run whole, at every split and byte by byte (the harness);
 * abort and is_idle are calls from the layer above between feeds, so they
 * drive a session directly.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_golden.h"

#define R_235 "235 2.7.0 Authentication successful\r\n"
#define R_334_USER "334 VXNlcm5hbWU6\r\n"
#define R_334_PASS "334 UGFzc3dvcmQ6\r\n"
#define R_421_ERRORS "421 4.7.0 smtpsink Error: too many errors\r\n"
#define R_LMTP_GREET "220 smtpsink LMTP smtpsink\r\n"
#define PLAIN_USER "AHVzZXIAcGFzcw==" /* "\0user\0pass" */
#define E_AUTH_OK "AUTH_USER user=<user>\nAUTH ok\n"
#define E_LHLO "CMD LHLO\nHELO LHLO name=<c.example>\n"

/* A built scenario: the three texts, freed together. */
struct built {
	struct test_text in, replies, events;
};

static void built_expect(const struct harness_opts *o, struct built *b, const char *name)
{
	struct transcript t = { name, text_cstr(&b->in), text_cstr(&b->replies), text_cstr(&b->events) };
	expect_opts(o, &t);
	text_free(&b->in);
	text_free(&b->replies);
	text_free(&b->events);
}

/* ---- max_size: SIZE is in test_session.c; content here ------------------ */

#define R_EHLO_100 K_HOST K_PIPE "250-SIZE 100\r\n" K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK

/* DATA content of n octets against a 100-octet limit.  Over the limit the
 * content is read to the end of data, then 552; what was stored before the
 * limit is exactly the first 100 octets, however the input was cut. */
static void expect_data_size(const struct smtp_config *c, size_t n)
{
	struct built b = { 0 };
	struct test_text body = { 0 };
	text_fill(&body, 'x', n - 2);
	text_str(&body, "\r\n");
	text_str(&b.in, IN_EHLO IN_TXN "DATA\r\n");
	text_str(&b.in, text_cstr(&body));
	text_str(&b.in, ".\r\n" IN_TXN "QUIT\r\n");
	text_str(&b.replies, R_GREET R_EHLO_100 R_MAIL R_RCPT R_354);
	text_str(&b.replies, n <= 100 ? R_Q1 : "552 5.3.4 Error: message file too big\r\n");
	text_str(&b.replies, R_MAIL R_RCPT R_BYE);
	text_str(&b.events, E_GREET E_EHLO E_MAIL E_RCPT "CMD DATA\nDATA_BEGIN\n");
	if (n <= 100)
		text_printf(&b.events, "MSG_END size=%zu rcpts=1 flags=- body=\"", n);
	else
		text_str(&b.events, "MSG_ABORT reason=too_big body=\"");
	text_escaped(&b.events, body.p, n <= 100 ? n : 100);
	text_str(&b.events, "\"\n" E_MAIL E_RCPT E_QUIT);
	char name[64];
	snprintf(name, sizeof name, "DATA content of %zu octets, limit 100", n);
	struct harness_opts o = { .cfg = c };
	built_expect(&o, &b, name);
	text_free(&body);
}

static void test_max_size_data(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_size_bytes = 100;
	expect_data_size(&c, 99);
	expect_data_size(&c, 100);
	expect_data_size(&c, 101);
}

/* Chunk of n octets ("x" repeated) with its BDAT line. */
static void add_chunk(struct test_text *t, size_t n, bool last)
{
	text_printf(t, "BDAT %zu%s\r\n", n, last ? " LAST" : "");
	text_fill(t, 'x', n);
}

static void test_max_size_bdat(void)
{
	static const struct {
		size_t first, second; /* second 0: a single LAST chunk */
		const char *replies, *events;
	} rows[] = {
		{ 99, 0, R_Q1, E_BDAT_BEGIN "MSG_END size=99 rcpts=1 flags=bdat body=\"<x99>\"\n" },
		{ 100, 0, R_Q1, E_BDAT_BEGIN "MSG_END size=100 rcpts=1 flags=bdat body=\"<x100>\"\n" },
		{ 101, 0, "552 5.3.4 Error: chunk exceeds message size limit\r\n", "CMD BDAT\n" },
		{ 60, 40, "250 2.0.0 Ok: 60 octets\r\n" R_Q1,
		  E_BDAT_BEGIN "CMD BDAT\nMSG_END size=100 rcpts=1 flags=bdat body=\"<x100>\"\n" },
		{ 60, 41, "250 2.0.0 Ok: 60 octets\r\n552 5.3.4 Error: chunk exceeds message size limit\r\n",
		  E_BDAT_BEGIN "CMD BDAT\nMSG_ABORT reason=too_big body=\"<x60>\"\n" },
	};
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_size_bytes = 100;
	struct harness_opts o = { .cfg = &c };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct built b = { 0 };
		text_str(&b.in, IN_EHLO IN_TXN);
		add_chunk(&b.in, rows[i].first, rows[i].second == 0);
		if (rows[i].second)
			add_chunk(&b.in, rows[i].second, true);
		text_str(&b.in, IN_TXN);
		text_str(&b.replies, R_GREET R_EHLO_100 R_MAIL R_RCPT);
		text_str(&b.replies, rows[i].replies);
		text_str(&b.replies, R_MAIL R_RCPT);
		text_str(&b.events, E_GREET E_EHLO E_MAIL E_RCPT);
		const char *ev = rows[i].events, *mark;
		while ((mark = strstr(ev, "<x")) != NULL) { /* <xN>: N times 'x' */
			text_add(&b.events, ev, (size_t)(mark - ev));
			text_fill(&b.events, 'x', strtoul(mark + 2, NULL, 10));
			ev = strchr(mark, '>') + 1;
		}
		text_str(&b.events, ev);
		text_str(&b.events, E_MAIL E_RCPT);
		built_expect(&o, &b, "BDAT against a 100-octet limit");
	}
}

/* After a refused chunk the message is gone: later chunks get 551 until
 * LAST or RSET, and a new transaction works. */
static void test_bdat_after_refused_chunk(void)
{
	static const char *const tails[] = { "BDAT 1 LAST\r\nx", "RSET\r\n" };
	static const char *const tail_replies[] = { "551 5.0.0 Error: chunk discarded after an earlier error\r\n",
						    R_OK };
	static const char *const tail_events[] = { "CMD BDAT\n", "CMD RSET\nRESET\n" };
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_size_bytes = 100;
	struct harness_opts o = { .cfg = &c };
	for (size_t i = 0; i < 2; i++) {
		struct built b = { 0 };
		text_str(&b.in, IN_EHLO IN_TXN);
		add_chunk(&b.in, 60, false);
		add_chunk(&b.in, 41, false);
		text_str(&b.in, tails[i]);
		text_str(&b.in, IN_TXN "BDAT 0 LAST\r\n");
		text_str(&b.replies,
			 R_GREET R_EHLO_100 R_MAIL R_RCPT "250 2.0.0 Ok: 60 octets\r\n"
							  "552 5.3.4 Error: chunk exceeds message size limit\r\n");
		text_str(&b.replies, tail_replies[i]);
		text_str(&b.replies, R_MAIL R_RCPT R_Q1);
		text_str(&b.events,
			 E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN "CMD BDAT\nMSG_ABORT reason=too_big body=\"");
		text_fill(&b.events, 'x', 60);
		text_str(&b.events, "\"\n");
		text_str(&b.events, tail_events[i]);
		text_str(&b.events, E_MAIL E_RCPT E_BDAT_BEGIN "MSG_END size=0 rcpts=1 flags=bdat body=\"\"\n");
		built_expect(&o, &b, tails[i]);
	}
}

/* ---- recipient limit ----------------------------------------------------- */

/* n RCPTs against max_rcpts 100: the ones past the limit get 452 4.5.3,
 * the accepted ones are kept and DATA delivers to them (RFC 5321
 * 4.5.3.1.8 and 4.5.3.1.10: refusing the excess is the orderly way, and a
 * client may well send more than the server takes, then send the rest in a
 * later transaction). */
static void expect_rcpts(unsigned n)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_rcpts = 100;
	struct built b = { 0 };
	text_str(&b.in, IN_EHLO "MAIL FROM:<a@b>\r\n");
	text_str(&b.replies, R_GREET R_EHLO R_MAIL);
	text_str(&b.events, E_GREET E_EHLO E_MAIL);
	for (unsigned i = 1; i <= n; i++) {
		text_printf(&b.in, "RCPT TO:<r%u@d>\r\n", i);
		text_str(&b.replies, i <= 100 ? R_RCPT : "452 4.5.3 Error: too many recipients\r\n");
		text_str(&b.events, "CMD RCPT\n");
		if (i <= 100)
			text_printf(&b.events, "RCPT to=<r%u@d> params=<>\n", i);
	}
	text_str(&b.in, "DATA\r\nhi\r\n.\r\nQUIT\r\n");
	text_str(&b.replies, R_354 R_Q1 R_BYE);
	text_printf(&b.events, "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=%u flags=- body=\"hi\\r\\n\"\n" E_QUIT,
		    n < 100 ? n : 100);
	char name[64];
	snprintf(name, sizeof name, "%u recipients, limit 100", n);
	struct harness_opts o = { .cfg = &c };
	built_expect(&o, &b, name);
}

static void test_rcpt_limit(void)
{
	expect_rcpts(99);
	expect_rcpts(100);
	expect_rcpts(101);
	/* More excess recipients than max_errors (20): still orderly. */
	expect_rcpts(130);
}

/* ---- error limit ----------------------------------------------------------- */

struct error_case {
	uint32_t max_errors;
	struct transcript t;
};

#define XYZ5 "XYZ\r\nXYZ\r\nXYZ\r\nXYZ\r\nXYZ\r\n"
#define R_UNK5 R_UNKNOWN R_UNKNOWN R_UNKNOWN R_UNKNOWN R_UNKNOWN
#define E_RSET "CMD RSET\nRESET\n"
#define E_UNK5 "CMD ?\nCMD ?\nCMD ?\nCMD ?\nCMD ?\n"

static const struct error_case error_cases[] = {
	{ 20,
	  { "19 errors of 20", XYZ5 XYZ5 XYZ5 "XYZ\r\nXYZ\r\nXYZ\r\nXYZ\r\nNOOP\r\n",
	    R_GREET R_UNK5 R_UNK5 R_UNK5 R_UNKNOWN R_UNKNOWN R_UNKNOWN R_UNKNOWN R_OK,
	    E_GREET E_UNK5 E_UNK5 E_UNK5 "CMD ?\nCMD ?\nCMD ?\nCMD ?\nCMD NOOP\n" } },
	{ 20,
	  { "20 errors of 20", XYZ5 XYZ5 XYZ5 XYZ5 "NOOP\r\n", R_GREET R_UNK5 R_UNK5 R_UNK5 R_UNK5 R_421_ERRORS,
	    E_GREET E_UNK5 E_UNK5 E_UNK5 E_UNK5 "CLOSE reason=too_many_errors\n" } },
	{ 1,
	  { "limit 1", "XYZ\r\nNOOP\r\n", R_GREET R_UNKNOWN R_421_ERRORS,
	    E_GREET "CMD ?\nCLOSE reason=too_many_errors\n" } },
	{ 2,
	  { "limit 2", "XYZ\r\nNOOP\r\nXYZ\r\nNOOP\r\n", R_GREET R_UNKNOWN R_OK R_UNKNOWN R_421_ERRORS,
	    E_GREET "CMD ?\nCMD NOOP\nCMD ?\nCLOSE reason=too_many_errors\n" } },
	{ 3,
	  { "every kind of client error counts", "RCPT TO:<c@d>\r\nMAIL FROM:<a@b> FOO=1\r\nVRFY\r\nNOOP\r\n",
	    R_GREET R_NEED_MAIL "555 5.5.4 Unsupported option: FOO\r\n501 5.5.4 Syntax: VRFY address\r\n" R_421_ERRORS,
	    E_GREET "CMD RCPT\nCMD MAIL\nCMD VRFY\nCLOSE reason=too_many_errors\n" } },
	{ 1,
	  { "limit reached between BDAT chunks", IN_TXN "BDAT 2\r\nabXYZ\r\n",
	    R_GREET R_MAIL R_RCPT "250 2.0.0 Ok: 2 octets\r\n" R_UNKNOWN R_421_ERRORS,
	    E_GREET E_MAIL E_RCPT E_BDAT_BEGIN
	    "CMD ?\nMSG_ABORT reason=too_many_errors body=\"ab\"\nCLOSE reason=too_many_errors\n" } },
	{ 1,
	  { "RSET is never an error", "RSET\r\nRSET\r\nRSET\r\nRSET\r\nRSET\r\nRSET\r\nNOOP\r\n",
	    R_GREET R_OK R_OK R_OK R_OK R_OK R_OK R_OK,
	    E_GREET E_RSET E_RSET E_RSET E_RSET E_RSET E_RSET "CMD NOOP\n" } },
};

static void test_error_limit(void)
{
	for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.max_errors = error_cases[i].max_errors;
		expect_cfg(&c, &error_cases[i].t);
	}
	static const struct transcript plain = {
		"limit 1, no enhanced codes", "XYZ\r\n",
		R_GREET "500 Error: command not recognized\r\n421 smtpsink Error: too many errors\r\n",
		E_GREET "CMD ?\nCLOSE reason=too_many_errors\n"
	};
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_errors = 1;
	c.ext &= ~(uint32_t)SMTP_EXT_ENHANCEDSTATUSCODES;
	expect_cfg(&c, &plain);
}

/* ---- PIPELINING (RFC 2920) ---------------------------------------------------- */

/* Two pipelined groups, the content right after each DATA and the next
 * group right after end of data, all in one input. */
static const struct transcript pipelined_groups = {
	"pipelined groups with content",
	IN_EHLO "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\n"
		"MAIL FROM:<g@h>\r\nRCPT TO:<i@j>\r\nDATA\r\nsecond\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n",
	R_GREET R_EHLO R_MAIL R_RCPT R_RCPT R_354 R_Q1 R_MAIL R_RCPT R_354 R_Q2 R_OK R_OK R_BYE,
	E_GREET E_EHLO E_MAIL E_RCPT
	"CMD RCPT\nRCPT to=<e@f> params=<>\nCMD DATA\nDATA_BEGIN\n"
	"MSG_END size=20 rcpts=2 flags=- body=\"Subject: p\\r\\n\\r\\nbody\\r\\n\"\n"
	"CMD MAIL\nMAIL from=<g@h> params=<>\nCMD RCPT\nRCPT to=<i@j> params=<>\nCMD DATA\nDATA_BEGIN\n"
	"MSG_END size=8 rcpts=1 flags=- body=\"second\\r\\n\"\nCMD RSET\nRESET\nCMD NOOP\n" E_QUIT,
};

/* 20 messages of 5 recipients each, one input, ending with QUIT. */
static void build_long_group(struct built *b)
{
	text_str(&b->in, IN_EHLO);
	text_str(&b->replies, R_GREET R_EHLO);
	text_str(&b->events, E_GREET E_EHLO);
	for (unsigned m = 1; m <= 20; m++) {
		text_printf(&b->in, "MAIL FROM:<s%u@b>\r\n", m);
		text_str(&b->replies, R_MAIL);
		text_printf(&b->events, "CMD MAIL\nMAIL from=<s%u@b> params=<>\n", m);
		for (unsigned r = 1; r <= 5; r++) {
			text_printf(&b->in, "RCPT TO:<r%u.%u@d>\r\n", m, r);
			text_str(&b->replies, R_RCPT);
			text_printf(&b->events, "CMD RCPT\nRCPT to=<r%u.%u@d> params=<>\n", m, r);
		}
		text_printf(&b->in, "DATA\r\nm%02u\r\n.\r\n", m);
		text_printf(&b->replies, R_354 "250 2.0.0 Ok: queued as Q%u\r\n", m);
		text_printf(&b->events, "CMD DATA\nDATA_BEGIN\nMSG_END size=5 rcpts=5 flags=- body=\"m%02u\\r\\n\"\n",
			    m);
	}
	text_str(&b->in, "QUIT\r\n");
	text_str(&b->replies, R_BYE);
	text_str(&b->events, E_QUIT);
}

static void test_pipelining(void)
{
	struct harness_opts o = { 0 };
	expect_opts(&o, &pipelined_groups);
	o.out_cap = SMTP_OUT_RESERVE_BYTES; /* every command fills the output */
	expect_opts(&o, &pipelined_groups);

	struct built b = { 0 };
	build_long_group(&b);
	struct harness_result r;
	harness_run_opts(&o, (const uint8_t *)text_cstr(&b.in), b.in.len, NULL, 0, &r);
	CHECK_U64(r.harness_errors, 0);
	CHECK(r.closed);
	CHECK_STR(r.replies, r.replies_len, text_cstr(&b.replies));
	harness_result_free(&r);
	built_expect(&o, &b, "20 pipelined messages, output of SMTP_OUT_RESERVE_BYTES");
}

/* ---- AUTH (RFC 4954) ----------------------------------------------------------- */

static const struct transcript auth_cases[] = {
	{ "PLAIN, initial response", IN_EHLO "AUTH PLAIN " PLAIN_USER "\r\n" IN_TXN, R_GREET R_EHLO R_235 R_MAIL R_RCPT,
	  E_GREET E_EHLO "CMD AUTH\n" E_AUTH_OK E_MAIL E_RCPT },
	{ "PLAIN with an authorization identity", IN_EHLO "AUTH PLAIN YWRtaW4AdXNlcgBwYXNz\r\n", R_GREET R_EHLO R_235,
	  E_GREET E_EHLO "CMD AUTH\n" E_AUTH_OK },
	{ "PLAIN, 334 continuation", IN_EHLO "AUTH PLAIN\r\n" PLAIN_USER "\r\n", R_GREET R_EHLO "334 \r\n" R_235,
	  E_GREET E_EHLO "CMD AUTH\nCMD AUTH-RESPONSE\n" E_AUTH_OK },
	{ "PLAIN, UTF-8 user name", IN_EHLO "AUTH PLAIN AHVzw6lyAHB3\r\n", R_GREET R_EHLO R_235,
	  E_GREET E_EHLO "CMD AUTH\nAUTH_USER user=<us\\xc3\\xa9r>\nAUTH ok\n" },
	{ "LOGIN", IN_EHLO "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n", R_GREET R_EHLO R_334_USER R_334_PASS R_235,
	  E_GREET E_EHLO "CMD AUTH\nCMD AUTH-RESPONSE\nAUTH_USER user=<user>\nCMD AUTH-RESPONSE\nAUTH ok\n" },
	{ "LOGIN with an initial response", IN_EHLO "AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n",
	  R_GREET R_EHLO R_334_PASS R_235,
	  E_GREET E_EHLO "CMD AUTH\nAUTH_USER user=<user>\nCMD AUTH-RESPONSE\nAUTH ok\n" },
	{ "* cancels PLAIN; AUTH may start again", IN_EHLO "AUTH PLAIN\r\n*\r\nAUTH PLAIN " PLAIN_USER "\r\n",
	  R_GREET R_EHLO "334 \r\n501 5.7.0 Error: authentication aborted\r\n" R_235,
	  E_GREET E_EHLO "CMD AUTH\nCMD AUTH-RESPONSE\nAUTH fail\nCMD AUTH\n" E_AUTH_OK },
	{ "* cancels LOGIN at the password", IN_EHLO "AUTH LOGIN\r\ndXNlcg==\r\n*\r\nNOOP\r\n",
	  R_GREET R_EHLO R_334_USER R_334_PASS "501 5.7.0 Error: authentication aborted\r\n" R_OK,
	  E_GREET E_EHLO
	  "CMD AUTH\nCMD AUTH-RESPONSE\nAUTH_USER user=<user>\nCMD AUTH-RESPONSE\nAUTH fail\nCMD NOOP\n" },
	{ "bad base64 in the initial response", IN_EHLO "AUTH PLAIN !!!!\r\nNOOP\r\n",
	  R_GREET R_EHLO "501 5.5.2 Error: cannot decode response\r\n" R_OK,
	  E_GREET E_EHLO "CMD AUTH\nAUTH fail\nCMD NOOP\n" },
	{ "bad base64 after 334", IN_EHLO "AUTH LOGIN\r\nnot base64\r\nNOOP\r\n",
	  R_GREET R_EHLO R_334_USER "501 5.5.2 Error: cannot decode response\r\n" R_OK,
	  E_GREET E_EHLO "CMD AUTH\nCMD AUTH-RESPONSE\nAUTH fail\nCMD NOOP\n" },
	{ "AUTH twice", IN_EHLO "AUTH PLAIN " PLAIN_USER "\r\nAUTH LOGIN\r\n",
	  R_GREET R_EHLO R_235 "503 5.5.1 Error: already authenticated\r\n",
	  E_GREET E_EHLO "CMD AUTH\n" E_AUTH_OK "CMD AUTH\n" },
	{ "AUTH before EHLO, and after HELO",
	  "AUTH PLAIN " PLAIN_USER "\r\nHELO c.example\r\nAUTH PLAIN " PLAIN_USER "\r\n",
	  R_GREET "503 5.5.1 Error: send EHLO first\r\n250 smtpsink\r\n503 5.5.1 Error: send EHLO first\r\n",
	  E_GREET "CMD AUTH\nCMD HELO\nHELO HELO name=<c.example>\nCMD AUTH\n" },
	{ "AUTH in a transaction", IN_EHLO "MAIL FROM:<a@b>\r\nAUTH PLAIN " PLAIN_USER "\r\n",
	  R_GREET R_EHLO R_MAIL "503 5.5.1 Error: MAIL transaction in progress\r\n",
	  E_GREET E_EHLO E_MAIL "CMD AUTH\n" },
	{ "unknown mechanism", IN_EHLO "AUTH CRAM-MD5\r\n",
	  R_GREET R_EHLO "504 5.5.4 Error: unsupported authentication mechanism\r\n", E_GREET E_EHLO "CMD AUTH\n" },
};

static void test_auth(void)
{
	for (size_t i = 0; i < sizeof auth_cases / sizeof auth_cases[0]; i++)
		expect_default(&auth_cases[i]);

	static const struct transcript rejected = {
		"auth_reject: 535, the user is still recorded",
		IN_EHLO "AUTH PLAIN " PLAIN_USER "\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n",
		R_GREET R_EHLO "535 5.7.8 Error: authentication failed\r\n" R_334_USER R_334_PASS
			       "535 5.7.8 Error: authentication failed\r\n",
		E_GREET E_EHLO "CMD AUTH\nAUTH_USER user=<user>\nAUTH fail\nCMD AUTH\nCMD AUTH-RESPONSE\n"
			       "AUTH_USER user=<user>\nCMD AUTH-RESPONSE\nAUTH fail\n",
	};
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.auth_reject = true;
	expect_cfg(&c, &rejected);
}

/* ---- LMTP (RFC 2033) and verdicts ---------------------------------------------- */

#define IN_LMTP3 "LHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r1@d>\r\nRCPT TO:<r2@d>\r\nRCPT TO:<r3@d>\r\n"
#define E_LMTP3                                                                                          \
	E_GREET E_LHLO E_MAIL "CMD RCPT\nRCPT to=<r1@d> params=<>\nCMD RCPT\nRCPT to=<r2@d> params=<>\n" \
			      "CMD RCPT\nRCPT to=<r3@d> params=<>\n"
#define R_451 "451 4.3.0 Error: write error\r\n"

struct lmtp_case {
	uint16_t verdict_code; /* 0: 250 */
	struct transcript t;
};

static const struct lmtp_case lmtp_cases[] = {
	{ 0,
	  { "LHLO; HELO and EHLO are not LMTP", "HELO c.example\r\nEHLO c.example\r\nLHLO c.example\r\n",
	    R_LMTP_GREET R_UNKNOWN R_UNKNOWN R_EHLO, E_GREET "CMD HELO\nCMD EHLO\n" E_LHLO } },
	{ 0,
	  { "one reply per recipient", IN_LMTP3 "DATA\r\nhi\r\n.\r\nQUIT\r\n",
	    R_LMTP_GREET R_EHLO R_MAIL R_RCPT R_RCPT R_RCPT R_354 R_Q1 R_Q1 R_Q1 R_BYE,
	    E_LMTP3 "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=3 flags=- body=\"hi\\r\\n\"\n" E_QUIT } },
	{ 0,
	  { "a refused recipient gets no reply at the end",
	    "LHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r1@d>\r\nRCPT TO:<>\r\n"
	    "RCPT TO:<r3@d>\r\nDATA\r\nhi\r\n.\r\n",
	    R_LMTP_GREET R_EHLO R_MAIL R_RCPT
	    "501 5.1.3 Error: bad recipient address syntax\r\n" R_RCPT R_354 R_Q1 R_Q1,
	    E_GREET E_LHLO E_MAIL "CMD RCPT\nRCPT to=<r1@d> params=<>\nCMD RCPT\nCMD RCPT\nRCPT to=<r3@d> params=<>\n"
				  "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=2 flags=- body=\"hi\\r\\n\"\n" } },
	{ 0,
	  { "BDAT LAST, then the next transaction", IN_LMTP3 "BDAT 2 LAST\r\nhiMAIL FROM:<a@b>\r\n",
	    R_LMTP_GREET R_EHLO R_MAIL R_RCPT R_RCPT R_RCPT R_Q1 R_Q1 R_Q1 R_MAIL,
	    E_LMTP3 E_BDAT_BEGIN "MSG_END size=2 rcpts=3 flags=bdat body=\"hi\"\n" E_MAIL } },
	{ 451,
	  { "verdict refused: every recipient is told", IN_LMTP3 "DATA\r\nhi\r\n.\r\nMAIL FROM:<a@b>\r\n",
	    R_LMTP_GREET R_EHLO R_MAIL R_RCPT R_RCPT R_RCPT R_354 R_451 R_451 R_451 R_MAIL,
	    E_LMTP3 "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=3 flags=- body=\"hi\\r\\n\"\n" E_MAIL } },
};

/* 100 recipients: the per-recipient replies span several output drains. */
static void test_lmtp_many_recipients(const struct smtp_config *c)
{
	struct built b = { 0 };
	text_str(&b.in, "LHLO c.example\r\nMAIL FROM:<a@b>\r\n");
	text_str(&b.replies, R_LMTP_GREET R_EHLO R_MAIL);
	text_str(&b.events, E_GREET E_LHLO E_MAIL);
	for (unsigned i = 1; i <= 100; i++) {
		text_printf(&b.in, "RCPT TO:<r%u@d>\r\n", i);
		text_str(&b.replies, R_RCPT);
		text_printf(&b.events, "CMD RCPT\nRCPT to=<r%u@d> params=<>\n", i);
	}
	text_str(&b.in, "DATA\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n");
	text_str(&b.replies, R_354);
	text_rep(&b.replies, R_Q1, 100);
	text_str(&b.replies, R_OK R_BYE);
	text_str(&b.events,
		 "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=100 flags=- body=\"hi\\r\\n\"\nCMD NOOP\n" E_QUIT);
	struct harness_opts o = { .cfg = c, .out_cap = SMTP_OUT_RESERVE_BYTES };
	built_expect(&o, &b, "LMTP, 100 recipients, small output");
}

static void test_lmtp(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.lmtp = true;
	for (size_t i = 0; i < sizeof lmtp_cases / sizeof lmtp_cases[0]; i++) {
		struct harness_opts o = { .cfg = &c, .verdict_code = lmtp_cases[i].verdict_code };
		expect_opts(&o, &lmtp_cases[i].t);
	}
	test_lmtp_many_recipients(&c);
}

/* Refuse the first message with the ctx's code and text; accept the rest. */
struct verdict_rule {
	uint16_t code;
	const char *text;
};

static void refuse_first(void *ctx, unsigned msg_index, struct smtp_verdict *v)
{
	const struct verdict_rule *rule = ctx;
	if (msg_index == 0) {
		v->code = rule->code;
		v->text = rule->text;
	}
}

static void test_verdicts(void)
{
	static const struct {
		struct verdict_rule rule;
		uint32_t max_errors;
		struct transcript t;
	} cases[] = {
		{ { 451, "4.3.0 Error: write error" },
		  20,
		  { "451: the transaction is reset, the next MAIL works",
		    IN_EHLO IN_TXN "DATA\r\nhi\r\n.\r\n" IN_TXN "DATA\r\nhi\r\n.\r\n",
		    R_GREET R_EHLO R_MAIL R_RCPT R_354 R_451 R_MAIL R_RCPT R_354 R_Q2,
		    E_GREET E_EHLO E_MAIL E_RCPT E_DATA_HI E_MAIL E_RCPT E_DATA_HI } },
		{ { 554, "5.7.1 Rejected by policy" },
		  1,
		  { "554 after BDAT LAST, not a client error",
		    IN_TXN "BDAT 2 LAST\r\nhi" IN_TXN "BDAT 0 LAST\r\nNOOP\r\n",
		    R_GREET R_MAIL R_RCPT "554 5.7.1 Rejected by policy\r\n" R_MAIL R_RCPT R_Q2 R_OK,
		    E_GREET E_MAIL E_RCPT E_BDAT_BEGIN
		    "MSG_END size=2 rcpts=1 flags=bdat body=\"hi\"\n" E_MAIL E_RCPT E_BDAT_BEGIN
		    "MSG_END size=0 rcpts=1 flags=bdat body=\"\"\nCMD NOOP\n" } },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.max_errors = cases[i].max_errors;
		struct harness_opts o = { .cfg = &c, .verdict = refuse_first, .verdict_ctx = (void *)&cases[i].rule };
		expect_opts(&o, &cases[i].t);
	}
}

/* ---- fault overrides and RFC 821's aborted transaction ------------------------- */

/* Override every command with this verb (and, if match is set, whose line
 * contains it). */
struct override_rule {
	enum smtp_verb verb;
	const char *match;
	struct smtp_override ov;
};

static const struct smtp_override *override_by_rule(void *ctx, const struct smtp_event *ev, unsigned cmd_index)
{
	const struct override_rule *rule = ctx;
	(void)cmd_index;
	if (ev->verb != rule->verb)
		return NULL;
	if (rule->match && !memmem(ev->arg.ptr, ev->arg.len, rule->match, strlen(rule->match)))
		return NULL;
	return &rule->ov;
}

/* RFC 821 appendix F, example 2 (aborted transaction): Green is refused,
 * the client resets and quits. */
static void test_rfc821_aborted_transaction(void)
{
	static const struct override_rule green = { SMTP_VERB_RCPT,
						    "Green",
						    { 550, false, "5.1.1 No such user here" } };
	static const struct transcript t = {
		"RFC 821 aborted transaction",
		"HELO ISI-VAXA.ARPA\r\nMAIL FROM:<Smith@ISI-VAXA.ARPA>\r\nRCPT TO:<Jones@ISI-VAXA.ARPA>\r\n"
		"RCPT TO:<Green@ISI-VAXA.ARPA>\r\nRSET\r\nQUIT\r\n",
		"220 MIT-Multics.ARPA ESMTP smtpsink\r\n250 MIT-Multics.ARPA\r\n" R_MAIL R_RCPT
		"550 5.1.1 No such user here\r\n" R_OK R_BYE,
		E_GREET
		"CMD HELO\nHELO HELO name=<ISI-VAXA.ARPA>\nCMD MAIL\nMAIL from=<Smith@ISI-VAXA.ARPA> params=<>\n"
		"CMD RCPT\nRCPT to=<Jones@ISI-VAXA.ARPA> params=<>\nCMD RCPT\nCMD RSET\nRESET\n" E_QUIT,
	};
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.hostname = "MIT-Multics.ARPA";
	struct harness_opts o = { .cfg = &c, .override = override_by_rule, .override_ctx = (void *)&green };
	expect_opts(&o, &t);
}

static const struct {
	struct override_rule rule;
	uint32_t max_errors;
	struct transcript t;
} override_cases[] = {
	{ { SMTP_VERB_MAIL, NULL, { 451, false, "4.3.2 Try again later" } },
	  20,
	  { "4xx refuses MAIL", IN_EHLO IN_TXN "QUIT\r\n",
	    R_GREET R_EHLO "451 4.3.2 Try again later\r\n" R_NEED_MAIL R_BYE,
	    E_GREET E_EHLO "CMD MAIL\nCMD RCPT\n" E_QUIT } },
	{ { SMTP_VERB_RCPT, NULL, { 550, false, "5.1.1 Unknown user" } },
	  20,
	  { "5xx refuses RCPT; DATA then has no valid recipient", IN_EHLO IN_TXN "DATA\r\n",
	    R_GREET R_EHLO R_MAIL "550 5.1.1 Unknown user\r\n554 5.5.1 Error: no valid recipients\r\n",
	    E_GREET E_EHLO E_MAIL "CMD RCPT\nCMD DATA\n" } },
	{ { SMTP_VERB_RCPT, NULL, { 550, false, "5.1.1 Unknown user" } },
	  1,
	  { "an override refusal is not a client error", IN_TXN "RCPT TO:<e@f>\r\nNOOP\r\n",
	    R_GREET R_MAIL "550 5.1.1 Unknown user\r\n550 5.1.1 Unknown user\r\n" R_OK,
	    E_GREET E_MAIL "CMD RCPT\nCMD RCPT\nCMD NOOP\n" } },
	{ { SMTP_VERB_MAIL, NULL, { 250, false, "2.1.0 Sender fine" } },
	  20,
	  { "2xx replaces the success text", IN_TXN, R_GREET "250 2.1.0 Sender fine\r\n" R_RCPT,
	    E_GREET E_MAIL E_RCPT } },
	{ { SMTP_VERB_RCPT, NULL, { 250, false, "2.1.5 Fine" } },
	  20,
	  { "2xx does not hide the command's own refusal", "RCPT TO:<c@d>\r\n", R_GREET R_NEED_MAIL,
	    E_GREET "CMD RCPT\n" } },
	{ { SMTP_VERB_NOOP, NULL, { 250, false, NULL } },
	  20,
	  { "2xx without text: the normal reply", "NOOP\r\n", R_GREET R_OK, E_GREET "CMD NOOP\n" } },
	{ { SMTP_VERB_MAIL, NULL, { 421, true, "4.7.0 Go away" } },
	  20,
	  { "close with a reply", IN_EHLO IN_TXN, R_GREET R_EHLO "421 4.7.0 Go away\r\n",
	    E_GREET E_EHLO "CMD MAIL\nCLOSE reason=fault\n" } },
	{ { SMTP_VERB_MAIL, NULL, { 421, true, NULL } },
	  20,
	  { "close without a reply (NULL text)", IN_EHLO IN_TXN, R_GREET R_EHLO,
	    E_GREET E_EHLO "CMD MAIL\nCLOSE reason=fault\n" } },
	{ { SMTP_VERB_MAIL, NULL, { 421, true, "" } },
	  20,
	  { "close without a reply (empty text)", IN_EHLO IN_TXN, R_GREET R_EHLO,
	    E_GREET E_EHLO "CMD MAIL\nCLOSE reason=fault\n" } },
	{ { SMTP_VERB_NOOP, NULL, { 250, true, "2.0.0 Closing" } },
	  20,
	  { "2xx and close", "NOOP\r\nNOOP\r\n", R_GREET "250 2.0.0 Closing\r\n",
	    E_GREET "CMD NOOP\nCLOSE reason=fault\n" } },
	{ { SMTP_VERB_NOOP, NULL, { 421, true, "4.3.2 Bye" } },
	  20,
	  { "close between BDAT chunks drops the message", IN_TXN "BDAT 2\r\nabNOOP\r\nQUIT\r\n",
	    R_GREET R_MAIL R_RCPT "250 2.0.0 Ok: 2 octets\r\n421 4.3.2 Bye\r\n",
	    E_GREET E_MAIL E_RCPT E_BDAT_BEGIN "CMD NOOP\nMSG_ABORT reason=fault body=\"ab\"\nCLOSE reason=fault\n" } },
};

static void test_overrides(void)
{
	for (size_t i = 0; i < sizeof override_cases / sizeof override_cases[0]; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.max_errors = override_cases[i].max_errors;
		struct harness_opts o = { .cfg = &c,
					  .override = override_by_rule,
					  .override_ctx = (void *)&override_cases[i].rule };
		expect_opts(&o, &override_cases[i].t);
	}
}

/* ---- the layer above: eof, abort, is_idle ---------------------------------------- */

static const struct transcript eof_cases[] = {
	{ "eof mid-DATA", IN_EHLO IN_TXN "DATA\r\nline\r\npart", R_GREET R_EHLO R_MAIL R_RCPT R_354,
	  E_GREET E_EHLO E_MAIL E_RCPT
	  "CMD DATA\nDATA_BEGIN\nMSG_ABORT reason=eof body=\"line\\r\\npart\"\nCLOSE reason=eof\n" },
	{ "eof after CRLF and a dot", IN_TXN "DATA\r\nline\r\n.", R_GREET R_MAIL R_RCPT R_354,
	  E_GREET E_MAIL E_RCPT "CMD DATA\nDATA_BEGIN\nMSG_ABORT reason=eof body=\"line\\r\\n\"\nCLOSE reason=eof\n" },
	{ "eof mid-BDAT chunk", IN_TXN "BDAT 10\r\nabc", R_GREET R_MAIL R_RCPT,
	  E_GREET E_MAIL E_RCPT E_BDAT_BEGIN "MSG_ABORT reason=eof body=\"abc\"\nCLOSE reason=eof\n" },
	{ "eof between BDAT chunks", IN_TXN "BDAT 3\r\nabc", R_GREET R_MAIL R_RCPT "250 2.0.0 Ok: 3 octets\r\n",
	  E_GREET E_MAIL E_RCPT E_BDAT_BEGIN "MSG_ABORT reason=eof body=\"abc\"\nCLOSE reason=eof\n" },
	{ "eof in a transaction, no message yet", IN_TXN, R_GREET R_MAIL R_RCPT,
	  E_GREET E_MAIL E_RCPT "CLOSE reason=eof\n" },
	{ "eof mid-command", "NOOP\r\nNOO", R_GREET R_OK, E_GREET "CMD NOOP\nCLOSE reason=eof\n" },
};

static void test_eof(void)
{
	struct harness_opts o = { .eof_at_end = true };
	for (size_t i = 0; i < sizeof eof_cases / sizeof eof_cases[0]; i++)
		expect_opts(&o, &eof_cases[i]);
}

/* A session driven by hand, counting the events abort and eof matter for. */
struct direct {
	struct smtp_config cfg;
	struct smtp_session s;
	uint8_t carry[LINE_SCAN_CARRY_BYTES]; /* lent for good */
	struct smtp_out out;
	uint8_t buf[4096];
	unsigned aborts, closes, msg_ends;
	enum smtp_reason abort_reason, close_reason;
};

static const struct smtp_override *direct_event(void *ctx, const struct smtp_event *ev)
{
	struct direct *d = ctx;
	if (ev->type == SMTP_EV_MSG_ABORT) {
		d->aborts++;
		d->abort_reason = ev->reason;
	} else if (ev->type == SMTP_EV_CLOSE) {
		d->closes++;
		d->close_reason = ev->reason;
	} else if (ev->type == SMTP_EV_MSG_END) {
		d->msg_ends++;
	}
	return NULL;
}

static void direct_start(struct direct *d, uint32_t ext_off)
{
	memset(d, 0, sizeof *d);
	smtp_config_defaults(&d->cfg);
	d->cfg.ext &= ~ext_off;
	d->out = (struct smtp_out){ d->buf, 0, sizeof d->buf };
	smtp_session_init(&d->s, &d->cfg, direct_event, d);
	smtp_session_carry_lend(&d->s, d->carry);
	smtp_session_greet(&d->s, &d->out);
}

/* Feed in, which must be consumed whole (no verdict is answered here). */
static void direct_feed(struct direct *d, const char *in)
{
	size_t len = strlen(in), used;
	smtp_session_feed(&d->s, (const uint8_t *)in, len, &used, &d->out);
	CHECK_U64(used, len);
}

static void test_abort(void)
{
	static const struct {
		uint32_t ext_off;
		const char *before;
		enum smtp_reason why;
		const char *reply;
		unsigned aborts;
	} rows[] = {
		{ 0, IN_EHLO, SMTP_REASON_TIMEOUT, "421 4.4.2 smtpsink Error: timeout exceeded\r\n", 0 },
		{ 0, IN_EHLO IN_TXN "DATA\r\nhalf", SMTP_REASON_SHUTDOWN,
		  "421 4.3.2 smtpsink Service shutting down\r\n", 1 },
		{ 0, IN_TXN "BDAT 4\r\nab", SMTP_REASON_TIMEOUT, "421 4.4.2 smtpsink Error: timeout exceeded\r\n", 1 },
		{ SMTP_EXT_ENHANCEDSTATUSCODES, "", SMTP_REASON_TIMEOUT, "421 smtpsink Error: timeout exceeded\r\n",
		  0 },
		{ SMTP_EXT_ENHANCEDSTATUSCODES, "", SMTP_REASON_SHUTDOWN, "421 smtpsink Service shutting down\r\n", 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct direct d;
		size_t used = 1;
		direct_start(&d, rows[i].ext_off);
		direct_feed(&d, rows[i].before);
		d.out.len = 0;
		smtp_session_abort(&d.s, rows[i].why, &d.out);
		CHECK_STR(d.buf, d.out.len, rows[i].reply);
		CHECK_U64(d.aborts, rows[i].aborts);
		if (rows[i].aborts)
			CHECK_U64(d.abort_reason, rows[i].why);
		CHECK_U64(d.closes, 1);
		CHECK_U64(d.close_reason, rows[i].why);
		CHECK(!smtp_session_is_idle(&d.s));
		/* closed: nothing more is consumed or written */
		CHECK(smtp_session_feed(&d.s, (const uint8_t *)"NOOP\r\n", 6, &used, &d.out) == SMTP_STOP_CLOSE);
		CHECK_U64(used, 0);
		CHECK_U64(d.out.len, strlen(rows[i].reply));
		smtp_session_abort(&d.s, rows[i].why, &d.out);
		smtp_session_eof(&d.s);
		CHECK_U64(d.out.len, strlen(rows[i].reply));
		CHECK_U64(d.closes, 1);
	}
}

/* is_idle: true exactly when no transaction is open, no message is in
 * flight and no command line is half received. */
static void test_is_idle(void)
{
	static const struct {
		const char *feed;
		bool idle_after;
	} steps[] = {
		{ "", true },
		{ "EHL", false },
		{ "O c.example\r\n", true },
		{ "MAIL FROM:<a@b>\r\n", false },
		{ "RSET\r\n", true },
		{ IN_TXN, false },
		{ "DATA\r\n", false },
		{ "hi\r\n", false },
		{ ".\r\n", false }, /* verdict awaited */
		{ NULL, true }, /* the verdict */
		{ "NOOP\r\nNO", false },
		{ "OP\r\n", true },
		{ IN_TXN "BDAT 5\r\nab", false },
		{ "cde", false }, /* between chunks */
		{ "BDAT 0 LAST\r\n", false },
		{ NULL, true },
		{ IN_TXN "EHLO c.example\r\n", true },
	};
	struct direct d;
	direct_start(&d, 0);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (steps[i].feed) {
			direct_feed(&d, steps[i].feed);
		} else {
			struct smtp_verdict v = { 250, "I1", NULL };
			CHECK(smtp_session_verdict(&d.s, &v, &d.out) == SMTP_STOP_INPUT);
		}
		d.out.len = 0;
		if (!CHECK(smtp_session_is_idle(&d.s) == steps[i].idle_after))
			fprintf(stderr, "  is_idle after step %zu (%s)\n", i,
				steps[i].feed ? steps[i].feed : "verdict");
	}
	CHECK_U64(d.msg_ends, 2);
}

int main(void)
{
	test_max_size_data();
	test_max_size_bdat();
	test_bdat_after_refused_chunk();
	test_rcpt_limit();
	test_error_limit();
	test_pipelining();
	test_auth();
	test_lmtp();
	test_verdicts();
	test_rfc821_aborted_transaction();
	test_overrides();
	test_eof();
	test_abort();
	test_is_idle();
	return harness_finish("test_session_modes");
}
