/*
 * tests/core/test_session_edge.c - /work/shared/SMTP-EDGE-CASES.md against
 * the session core: command lines, addresses, ESMTP parameters and
 * recipients.
 *
 * Owns: cases 1-22.  DATA framing, smuggling and BDAT (23-36, 42-51) are in
 * test_session_edge_data.c; pipelining, synchronisation and the session
 * side of faults (37-41, 55, 58-63) in test_session_edge_sync.c.  TLS
 * (52-54), timers, the engine, the spool and load are not the core's.
 *
 * Expectations come from the edge-case document and issue 2, not from what
 * the code does; reply wording is the Postfix wording core/ uses.  Where
 * the document says "policy", both settings run.  Every case runs whole, at
 * every split point and byte by byte.  Inputs too big for that quadratic
 * sweep (a 1 MB line, a 100 KB EHLO, 5 GiB, a million RCPTs) run whole plus
 * fixed and seeded random cuts, or through the direct feed loop of
 * edge_support.h, which also sees the flags the harness leaves out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_support.h"
#include "session_harness.h"

/* ---- 1-14: command line and syntax -------------------------------------- */

static void case_01_noop_before_ehlo(void)
{
	static const char in[] = "NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nQUIT\r\n";
	static const char out[] = BANNER R_OK R_OK
		"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		"214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n" R_BYE;
	static const char ev[] = E_G "CMD NOOP\nCMD RSET\nRESET\nCMD VRFY\nCMD HELP\n" E_QUIT;
	struct smtp_config strict = cfg_default();
	strict.strict_helo_first = true;
	harness_expect_all_splits(NULL, in, sizeof(in) - 1, out, ev);
	struct harness_opts o = { .cfg = &strict };
	harness_expect_all_splits(&o, in, sizeof(in) - 1, out, ev);
}

static void case_02_empty_line(void)
{
	static const struct row rows[] = {
		ROW("CRLF", "\r\nNOOP\r\n", BANNER R_BAD_SYNTAX R_OK, E_G "CMD ?\nCMD NOOP\n"),
		ROW("bare LF", "\nNOOP\r\n", BANNER R_BAD_SYNTAX R_OK, E_G "CMD ?\nCMD NOOP\n"),
		ROW("blanks", "   \r\nNOOP\r\n", BANNER R_UNKNOWN R_OK, E_G "CMD ?\nCMD NOOP\n"),
	};
	run_rows("case 2", NULL, rows, NROWS(rows));
}

/* k unknown commands then NOOP, with an error limit of max. */
static void unknown_then_noop(const struct smtp_config *cfg, unsigned k, unsigned max)
{
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	unsigned shown = k < max ? k : max;
	text_rep(&in, "FOOBAR\r\n", k);
	text_str(&in, "NOOP\r\n");
	text_str(&out, BANNER);
	text_rep(&out, R_UNKNOWN, shown);
	text_str(&out, k >= max ? R_TOO_MANY_ERRORS : R_OK);
	text_str(&ev, E_G);
	text_rep(&ev, "CMD ?\n", shown);
	text_str(&ev, k >= max ? "CLOSE reason=too_many_errors\n" : "CMD NOOP\n");
	struct harness_opts o = { .cfg = cfg };
	if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ case 3: %u unknown commands, limit %u\n", k, max);
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

static void case_03_unknown_command_and_error_limit(void)
{
	struct smtp_config three = cfg_default();
	three.max_errors = 3;
	for (unsigned k = 1; k <= 4; k++)
		unknown_then_noop(&three, k, 3);
	for (unsigned k = SMTP_ERRORS_DEFAULT - 1; k <= SMTP_ERRORS_DEFAULT + 1; k++)
		unknown_then_noop(NULL, k, SMTP_ERRORS_DEFAULT);
}

/* A NOOP line of exactly total octets (terminator included), then NOOP. */
static void line_of(unsigned total, bool bare_lf)
{
	const char *eol = bare_lf ? "\n" : "\r\n";
	struct test_text in = { 0 };
	text_str(&in, "NOOP ");
	text_fill(&in, 'x', total - 5 - strlen(eol));
	text_str(&in, eol);
	text_str(&in, "NOOP\r\n");
	bool fits = total <= SMTP_COMMAND_LINE_MAX_BYTES;
	if (harness_expect_all_splits(NULL, in.p, in.len, fits ? BANNER R_OK R_OK : BANNER R_TOO_LONG R_OK,
				      fits ? E_G "CMD NOOP\nCMD NOOP\n" : E_G "CMD NOOP\n"))
		fprintf(stderr, "  ^ case 4: %u-octet line%s\n", total, bare_lf ? " (bare LF)" : "");
	text_free(&in);
}

static void case_04_command_line_512(void)
{
	for (unsigned n = SMTP_COMMAND_LINE_MAX_BYTES - 1; n <= SMTP_COMMAND_LINE_MAX_BYTES + 1; n++) {
		line_of(n, false);
		line_of(n, true);
	}
}

static void case_05_million_bytes_without_crlf(void)
{
	struct test_text in = { 0 };
	text_fill(&in, 'a', 1000000);
	text_str(&in, "\r\nNOOP\r\n");
	run_big("case 5: 1,000,000 bytes", NULL, &in, BANNER R_TOO_LONG R_OK, E_G "CMD NOOP\n");
	text_free(&in);
}

/* 5 GiB without an LF (qmail CVE-2005-1513): no counter may wrap. */
static void case_05_five_gib_without_lf(void)
{
	enum {
		PIECE = 1u << 20
	};
	struct drv d;
	drv_init(&d, NULL, 4096);
	uint8_t *piece = malloc(PIECE);
	if (piece == NULL)
		abort();
	memset(piece, 'a', PIECE);
	smtp_session_greet(&d.s, &d.out);
	bool all_taken = true;
	for (unsigned i = 0; i < 5u * 1024u; i++)
		all_taken &= drv_feed(&d, piece, PIECE) == SMTP_STOP_INPUT && d.out.len == 0;
	CHECK(all_taken);
	drv_feed(&d, "\r\nNOOP\r\n", 8);
	CHECK_STR(d.text.p, d.text.len, BANNER R_TOO_LONG R_OK);
	CHECK(smtp_session_is_idle(&d.s));
	/* The contract: a few hundred bytes; the one command line of carry is
	 * lent by the caller only while a line is pending. */
	CHECK(sizeof(struct smtp_session) <= 512);
	free(piece);
	drv_free(&d);
}

static void case_06_ehlo_100kb_name(void)
{
	struct test_text in = { 0 };
	text_str(&in, "EHLO ");
	text_fill(&in, 'h', 100 * 1024);
	text_str(&in, "\r\nNOOP\r\n");
	run_big("case 6: EHLO with a 100 KB name", NULL, &in, BANNER R_TOO_LONG R_OK, E_G "CMD NOOP\n");
	text_free(&in);
}

static void case_07_command_order(void)
{
	static const struct row rows[] = {
		ROW("MAIL before HELO (lenient)", "MAIL FROM:<a@b>\r\n", BANNER R_MAIL, E_G E_MAIL),
		ROW("RCPT before MAIL", "HELO x\r\nRCPT TO:<c@d>\r\n", BANNER R_HELO R_NEED_MAIL,
		    E_G E_HELO "CMD RCPT\n"),
		ROW("DATA before MAIL", "HELO x\r\nDATA\r\n", BANNER R_HELO R_NEED_MAIL, E_G E_HELO "CMD DATA\n"),
		ROW("DATA before RCPT", "HELO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n", BANNER R_HELO R_MAIL R_NEED_RCPT,
		    E_G E_HELO E_MAIL "CMD DATA\n"),
		ROW("nested MAIL", I_TXN "MAIL FROM:<e@f>\r\n", R_TXN "503 5.5.1 Error: nested MAIL command\r\n",
		    E_TXN "CMD MAIL\n"),
	};
	static const struct row strict_rows[] = {
		ROW("MAIL before HELO (strict)", "MAIL FROM:<a@b>\r\nHELO x\r\nMAIL FROM:<a@b>\r\n",
		    BANNER "503 5.5.1 Error: send HELO/EHLO first\r\n" R_HELO R_MAIL, E_G "CMD MAIL\n" E_HELO E_MAIL),
	};
	struct smtp_config strict = cfg_default();
	strict.strict_helo_first = true;
	run_rows("case 7", NULL, rows, NROWS(rows));
	run_rows("case 7", &strict, strict_rows, NROWS(strict_rows));
}

static void case_08_rset(void)
{
	static const struct row rows[] = {
		ROW("RSET with an argument", "RSET extra\r\n", BANNER "501 5.5.4 Syntax: RSET\r\n", E_G "CMD RSET\n"),
		ROW("RSET clears the transaction", I_TXN "RSET\r\nRCPT TO:<c@d>\r\nDATA\r\n",
		    R_TXN R_OK R_NEED_MAIL R_NEED_MAIL, E_TXN "CMD RSET\nRESET\nCMD RCPT\nCMD DATA\n"),
	};
	struct smtp_config three = cfg_default();
	three.max_errors = 3;
	run_rows("case 8", NULL, rows, NROWS(rows));
	/* RSET itself never closes, however close to the error limit. */
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	text_str(&in, "FOOBAR\r\nFOOBAR\r\n");
	text_rep(&in, "RSET\r\n", 30);
	text_str(&out, BANNER R_UNKNOWN R_UNKNOWN);
	text_rep(&out, R_OK, 30);
	text_str(&ev, E_G "CMD ?\nCMD ?\n");
	text_rep(&ev, "CMD RSET\nRESET\n", 30);
	struct harness_opts o = { .cfg = &three };
	if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ case 8: RSET near the error limit\n");
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

static void case_09_ehlo_mid_transaction(void)
{
	static const struct row rows[] = {
		ROW("EHLO resets", I_TXN "EHLO y\r\nRCPT TO:<c@d>\r\n", R_TXN R_EHLO R_NEED_MAIL,
		    E_TXN "CMD EHLO\nRESET\nHELO EHLO name=<y>\nCMD RCPT\n"),
		ROW("EHLO without a name is accepted (lenient) and resets", I_TXN "EHLO\r\nDATA\r\n",
		    R_TXN R_EHLO R_NEED_MAIL, E_TXN "CMD EHLO\nRESET\nHELO EHLO name=<> no_name\nCMD DATA\n"),
		ROW("refused LHLO keeps the transaction", I_TXN "LHLO y\r\nDATA\r\nhi\r\n.\r\n",
		    R_TXN R_UNKNOWN R_354 R_Q1, E_TXN "CMD LHLO\n" E_DATA E_HI_END("-")),
		ROW("EHLO between BDAT chunks drops the message",
		    I_TXN "BDAT 3\r\nabcEHLO y\r\nBDAT 2 LAST\r\nhiNOOP\r\n",
		    R_TXN "250 2.0.0 Ok: 3 octets\r\n" R_EHLO R_NEED_MAIL R_OK,
		    E_TXN "CMD BDAT\nDATA_BEGIN bdat\nCMD EHLO\nMSG_ABORT reason=helo body=\"abc\"\nRESET\n"
			  "HELO EHLO name=<y>\nCMD BDAT\nCMD NOOP\n"),
	};
	static const struct row strict_rows[] = {
		ROW("refused EHLO keeps the transaction", I_TXN "EHLO\r\nDATA\r\nhi\r\n.\r\n",
		    R_TXN "501 5.5.4 Syntax: EHLO hostname\r\n" R_354 R_Q1, E_TXN "CMD EHLO\n" E_DATA E_HI_END("-")),
	};
	struct smtp_config strict = cfg_default();
	strict.strict_helo_name = true;
	run_rows("case 9", NULL, rows, NROWS(rows));
	run_rows("case 9", &strict, strict_rows, NROWS(strict_rows));
}

static void case_10_case_spacing_brackets(void)
{
	static const struct row rows[] = {
		ROW("mixed-case verbs", "HELO x\r\nmAiL fRoM:<a@b>\r\nrCpT tO:<c@d>\r\n", R_TXN, E_TXN),
		ROW("space after the colon", "HELO x\r\nMAIL FROM: <a@b>\r\nRCPT TO: <c@d>\r\n", R_TXN, E_TXN),
		ROW("no brackets (lenient)", "HELO x\r\nMAIL FROM:a@b\r\nRCPT TO:c@d\r\nDATA\r\nhi\r\n.\r\n",
		    R_TXN R_354 R_Q1,
		    E_G E_HELO "CMD MAIL\nMAIL from=<a@b> params=<> no_brackets\n"
			       "CMD RCPT\nRCPT to=<c@d> params=<> no_brackets\n" E_DATA E_HI_END("no_brackets")),
	};
	static const struct row strict_rows[] = {
		ROW("MAIL without brackets (strict)", "HELO x\r\nMAIL FROM:a@b\r\n",
		    BANNER R_HELO "501 5.1.7 Error: bad sender address syntax\r\n", E_G E_HELO "CMD MAIL\n"),
		ROW("RCPT without brackets (strict)", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:c@d\r\n",
		    BANNER R_HELO R_MAIL "501 5.1.3 Error: bad recipient address syntax\r\n",
		    E_G E_HELO E_MAIL "CMD RCPT\n"),
	};
	struct smtp_config strict = cfg_default();
	strict.strict_address = true;
	run_rows("case 10", NULL, rows, NROWS(rows));
	run_rows("case 10", &strict, strict_rows, NROWS(strict_rows));
}

static void case_11_bare_lf_command(void)
{
	static const struct row accept[] = {
		ROW("bare LF commands accepted", "HELO x\r\nNOOP\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nNOOP\r\n",
		    BANNER R_HELO R_OK R_MAIL R_RCPT R_OK, E_G E_HELO "CMD NOOP\n" E_MAIL E_RCPT "CMD NOOP\n"),
	};
	static const struct row reject[] = {
		ROW("bare LF commands refused", "HELO x\r\nNOOP\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nNOOP\r\n",
		    BANNER R_HELO R_BARE_LF R_BARE_LF R_NEED_MAIL R_OK,
		    E_G E_HELO "CMD NOOP\nCMD MAIL\nCMD RCPT\nCMD NOOP\n"),
	};
	struct smtp_config c = cfg_default();
	run_rows("case 11 preserve", &c, accept, NROWS(accept));
	c.bare_lf = SMTP_BARE_LF_NORMALIZE;
	run_rows("case 11 normalize", &c, accept, NROWS(accept));
	c.bare_lf = SMTP_BARE_LF_REJECT;
	run_rows("case 11 reject", &c, reject, NROWS(reject));
	/* Accepted bare-LF lines are flagged, on the event and the session. */
	struct drv d;
	drv_init(&d, NULL, 4096);
	smtp_session_greet(&d.s, &d.out);
	drv_feed(&d, "NOOP\r\n", 6);
	CHECK(!(d.cmd_flags & SMTP_EVF_BARE_LF_LINE) && !(d.s.quirks & SMTP_QUIRK_BARE_LF_COMMAND));
	drv_feed(&d, "NOOP\n", 5);
	CHECK(d.cmd_flags & SMTP_EVF_BARE_LF_LINE);
	CHECK(d.s.quirks & SMTP_QUIRK_BARE_LF_COMMAND);
	CHECK_STR(d.text.p, d.text.len, BANNER R_OK R_OK);
	drv_free(&d);
}

static void case_12_nul_in_command(void)
{
#define R_NUL "500 5.5.2 Error: NUL character in command\r\n"
	static const struct row rows[] = {
		ROW("NUL in the address", "HELO x\r\nMAIL FROM:<a\0@b>\r\nRCPT TO:<c@d>\r\n",
		    BANNER R_HELO R_NUL R_NEED_MAIL, E_G E_HELO "CMD MAIL\nCMD RCPT\n"),
		ROW("NUL before the terminator", "NOOP\0\r\nNOOP\r\n", BANNER R_NUL R_OK, E_G "CMD ?\nCMD NOOP\n"),
		ROW("NUL first", "\0MAIL FROM:<a@b>\r\n", BANNER R_NUL, E_G "CMD ?\n"),
	};
#undef R_NUL
	run_rows("case 12", NULL, rows, NROWS(rows));
}

static void case_13_bad_utf8(void)
{
#define R_UTF8 "500 5.5.2 Error: bad UTF-8 syntax\r\n"
	static const struct row rows[] = {
		ROW("0xff", "MAIL FROM:<\xff@b>\r\nNOOP\r\n", BANNER R_UTF8 R_OK, E_G "CMD MAIL\nCMD NOOP\n"),
		ROW("overlong", "MAIL FROM:<\xc0\xaf@b>\r\n", BANNER R_UTF8, E_G "CMD MAIL\n"),
		ROW("surrogate", "MAIL FROM:<\xed\xa0\x80@b>\r\n", BANNER R_UTF8, E_G "CMD MAIL\n"),
		ROW("truncated", "MAIL FROM:<\xc3@b>\r\n", BANNER R_UTF8, E_G "CMD MAIL\n"),
		ROW("above U+10FFFF", "MAIL FROM:<\xf4\x90\x80\x80@b>\r\n", BANNER R_UTF8, E_G "CMD MAIL\n"),
	};
#undef R_UTF8
	run_rows("case 13", NULL, rows, NROWS(rows));
}

static void case_14_http_on_port_25(void)
{
	static const struct row rows[] = {
		ROW("one 500 per line", "GET / HTTP/1.1\r\nHost: x\r\n\r\nNOOP\r\n",
		    BANNER R_UNKNOWN R_UNKNOWN R_BAD_SYNTAX R_OK, E_G "CMD ?\nCMD ?\nCMD ?\nCMD NOOP\n"),
	};
	static const struct row limited[] = {
		ROW("closed at the limit", "GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nNOOP\r\n",
		    BANNER R_UNKNOWN R_UNKNOWN R_UNKNOWN R_TOO_MANY_ERRORS,
		    E_G "CMD ?\nCMD ?\nCMD ?\nCLOSE reason=too_many_errors\n"),
	};
	struct smtp_config three = cfg_default();
	three.max_errors = 3;
	run_rows("case 14", NULL, rows, NROWS(rows));
	run_rows("case 14", &three, limited, NROWS(limited));
}

/* ---- 15-20: addresses and ESMTP parameters ------------------------------ */

static void case_15_null_sender(void)
{
	static const struct row rows[] = {
		ROW("MAIL FROM:<>", "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\n", R_TXN R_354 R_Q1,
		    E_G E_HELO "CMD MAIL\nMAIL from=<> params=<>\n" E_RCPT E_DATA E_HI_END("-")),
	};
	run_rows("case 15", NULL, rows, NROWS(rows));
}

/* "VERB:<addr>" after HELO where addr is local@domain of the given sizes;
 * accepted (with its event) or refused with refusal. */
static void path_case(const char *verb, size_t local, size_t domain, bool bracket, const char *refusal)
{
	bool mail = strcmp(verb, "MAIL FROM") == 0;
	struct test_text addr = { 0 }, in = { 0 }, out = { 0 }, ev = { 0 };
	text_fill(&addr, 'l', local);
	text_str(&addr, "@");
	text_fill(&addr, 'd', domain);
	text_str(&in, mail ? "HELO x\r\n" : "HELO x\r\nMAIL FROM:<a@b>\r\n");
	text_str(&in, verb);
	text_str(&in, bracket ? ":<" : ":");
	text_str(&in, addr.p);
	text_str(&in, bracket ? ">\r\n" : "\r\n");
	text_str(&out, mail ? BANNER R_HELO : BANNER R_HELO R_MAIL);
	text_str(&out, refusal ? refusal : mail ? R_MAIL : R_RCPT);
	text_str(&ev, mail ? E_G E_HELO "CMD MAIL\n" : E_G E_HELO E_MAIL "CMD RCPT\n");
	if (refusal == NULL) {
		text_str(&ev, mail ? "MAIL from=<" : "RCPT to=<");
		text_str(&ev, addr.p);
		text_str(&ev, bracket ? "> params=<>\n" : "> params=<> no_brackets\n");
	}
	if (harness_expect_all_splits(NULL, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ case 16: %s local %zu domain %zu\n", verb, local, domain);
	text_free(&addr);
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

static void case_16_path_lengths(void)
{
	const char *from_long = "501 5.1.7 Error: sender address too long\r\n";
	const char *to_long = "501 5.1.3 Error: recipient address too long\r\n";
	path_case("MAIL FROM", SMTP_LOCAL_PART_MAX_BYTES, 1, true, NULL);
	/* RFC 5321 4.5.3.1.3: 256 octets with the brackets. */
	path_case("MAIL FROM", 1, SMTP_PATH_MAX_BYTES - 5, true, NULL);
	path_case("MAIL FROM", 1, SMTP_PATH_MAX_BYTES - 4, true, NULL);
	path_case("MAIL FROM", 1, SMTP_PATH_MAX_BYTES - 3, true, from_long);
	path_case("RCPT TO", 1, SMTP_PATH_MAX_BYTES - 4, true, NULL);
	path_case("RCPT TO", 1, SMTP_PATH_MAX_BYTES - 3, true, to_long);
	path_case("MAIL FROM", 1, SMTP_PATH_MAX_BYTES - 4, false, NULL);
	path_case("MAIL FROM", 1, SMTP_PATH_MAX_BYTES - 3, false, from_long);
	/* A domain of 255 octets cannot fit a 256-octet path; as a HELO name it
	 * must be accepted. */
	struct test_text in = { 0 }, ev = { 0 };
	text_str(&in, "HELO ");
	text_fill(&in, 'd', SMTP_DOMAIN_MAX_BYTES);
	text_str(&in, "\r\n");
	text_str(&ev, E_G "CMD HELO\nHELO HELO name=<");
	text_add(&ev, in.p + 5, SMTP_DOMAIN_MAX_BYTES);
	text_str(&ev, ">\n");
	if (harness_expect_all_splits(NULL, in.p, in.len, BANNER R_HELO, ev.p))
		fprintf(stderr, "  ^ case 16: HELO with a 255-octet domain\n");
	text_free(&in);
	text_free(&ev);
}

static void case_17_shell_and_format_strings_verbatim(void)
{
	static const struct row rows[] = {
		ROW("sleep", "HELO x\r\nMAIL FROM:<;sleep 66;>\r\n",
		    BANNER R_HELO "501 5.5.4 Syntax: MAIL FROM:<address>\r\n", E_G E_HELO "CMD MAIL\n"),
		ROW("$(id)", "HELO x\r\nMAIL FROM:<$(id)@x>\r\n", BANNER R_HELO R_MAIL,
		    E_G E_HELO "CMD MAIL\nMAIL from=<$(id)@x> params=<>\n"),
		ROW("${run}", "HELO x\r\nMAIL FROM:<${run{/bin/true}}@x>\r\n", BANNER R_HELO R_MAIL,
		    E_G E_HELO "CMD MAIL\nMAIL from=<${run{/bin/true}}@x> params=<>\n"),
		ROW("%n", "HELO x\r\nMAIL FROM:<%n%n@x>\r\nRCPT TO:<`id`@x>\r\n", BANNER R_HELO R_MAIL R_RCPT,
		    E_G E_HELO "CMD MAIL\nMAIL from=<%n%n@x> params=<>\nCMD RCPT\nRCPT to=<`id`@x> params=<>\n"),
	};
	run_rows("case 17", NULL, rows, NROWS(rows));
}

struct param_row {
	const char *params; /* after "MAIL FROM:<a@b> " */
	const char *reply; /* NULL: accepted */
	const char *parsed; /* accepted: what the MAIL event adds */
};

static void run_param_rows(const char *what, const struct smtp_config *cfg, const struct param_row *rows, size_t n)
{
	struct harness_opts o = { .cfg = cfg };
	for (size_t i = 0; i < n; i++) {
		struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
		text_str(&in, "HELO x\r\nMAIL FROM:<a@b> ");
		text_str(&in, rows[i].params);
		text_str(&in, "\r\nNOOP\r\n");
		text_str(&out, BANNER R_HELO);
		text_str(&out, rows[i].reply ? rows[i].reply : R_MAIL);
		text_str(&out, R_OK);
		text_str(&ev, E_G E_HELO "CMD MAIL\n");
		if (rows[i].reply == NULL) {
			text_str(&ev, "MAIL from=<a@b> params=<");
			text_str(&ev, rows[i].params);
			text_str(&ev, ">");
			text_str(&ev, rows[i].parsed);
			text_str(&ev, "\n");
		}
		text_str(&ev, "CMD NOOP\n");
		if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
			fprintf(stderr, "  ^ %s: %s\n", what, rows[i].params);
		text_free(&in);
		text_free(&out);
		text_free(&ev);
	}
}

static void case_18_esmtp_params(void)
{
#define R_SIZE_SYNTAX "501 5.5.4 Bad message size syntax\r\n"
#define R_SIZE_BIG "552 5.3.4 Message size exceeds fixed limit\r\n"
	static const struct param_row rows[] = {
		{ "SIZE=abc", R_SIZE_SYNTAX, NULL },
		{ "SIZE=", R_SIZE_SYNTAX, NULL },
		{ "SIZE", R_SIZE_SYNTAX, NULL },
		{ "SIZE=99999999999999999999999", R_SIZE_BIG, NULL },
		{ "SIZE=18446744073709551616", R_SIZE_BIG, NULL }, /* 2^64: wraps to 0 */
		{ "SIZE=18446744073709551615", R_SIZE_BIG, NULL },
		{ "SIZE=52428799", NULL, " size=52428799" },
		{ "SIZE=52428800", NULL, " size=52428800" },
		{ "SIZE=52428801", R_SIZE_BIG, NULL },
		{ "BODY=9BIT", "501 5.5.4 Bad BODY keyword\r\n", NULL },
		{ "SMTPUTF8=YES", "501 5.5.4 Bad SMTPUTF8 parameter\r\n", NULL },
		{ "FOO=bar", "555 5.5.4 Unsupported option: FOO\r\n", NULL },
		{ "=", "501 5.5.4 Error: bad parameter syntax\r\n", NULL },
		{ "X=\"", "555 5.5.4 Unsupported option: X\r\n", NULL },
		{ "SIZE=1 SIZE=1", "501 5.5.4 Error: duplicate parameter\r\n", NULL },
		{ "BODY=8BITMIME RET=HDRS", NULL, " body=8bitmime ret=hdrs" },
	};
	static const struct param_row unlimited[] = {
		{ "SIZE=99999999999999999999999", R_SIZE_BIG, NULL },
		{ "SIZE=18446744073709551616", R_SIZE_BIG, NULL },
	};
#undef R_SIZE_SYNTAX
#undef R_SIZE_BIG
	run_param_rows("case 18", NULL, rows, NROWS(rows));
	struct smtp_config c = cfg_default();
	c.max_size_bytes = 0;
	run_param_rows("case 18 (no size limit)", &c, unlimited, NROWS(unlimited));
	struct test_text many = { 0 }, long_param = { 0 };
	text_rep(&many, "A ", 199);
	text_str(&many, "A");
	struct param_row r200 = { many.p, "555 5.5.4 Unsupported option: A\r\n", NULL };
	run_param_rows("case 18: 200 params", NULL, &r200, 1);
	text_str(&long_param, "ENVID=");
	text_fill(&long_param, 'e', 600);
	struct test_text in = { 0 };
	text_str(&in, "HELO x\r\nMAIL FROM:<a@b> ");
	text_str(&in, long_param.p);
	text_str(&in, "\r\nNOOP\r\n");
	if (harness_expect_all_splits(NULL, in.p, in.len, BANNER R_HELO R_TOO_LONG R_OK, E_G E_HELO "CMD NOOP\n"))
		fprintf(stderr, "  ^ case 18: a 600-byte parameter\n");
	text_free(&many);
	text_free(&long_param);
	text_free(&in);
}

static void case_19_encoded_crlf_in_params(void)
{
	static const struct param_row rows[] = {
		{ "ENVID=a+0D+0Ab", "501 5.5.4 Bad ENVID parameter syntax\r\n", NULL },
		{ "AUTH=<x+0D+0AX>", "501 5.5.4 Bad AUTH parameter syntax\r\n", NULL },
		{ "AUTH=x+0AX", "501 5.5.4 Bad AUTH parameter syntax\r\n", NULL },
		{ "AUTH=x\rX", "501 5.5.4 Error: bad parameter syntax\r\n", NULL },
		{ "ENVID=ok+2Bx", NULL, " envid=<ok+2Bx>" },
	};
	static const struct row raw[] = {
		ROW("ORCPT with CR LF", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d> ORCPT=rfc822;a+0D+0A@b\r\n",
		    BANNER R_HELO R_MAIL "501 5.5.4 Bad ORCPT parameter syntax\r\n", E_G E_HELO E_MAIL "CMD RCPT\n"),
		ROW("CR in the path", "HELO x\r\nMAIL FROM:<a\r@b>\r\n",
		    BANNER R_HELO "501 5.5.4 Syntax: MAIL FROM:<address>\r\n", E_G E_HELO "CMD MAIL\n"),
		ROW("literal CRLF inside AUTH=<...>", "HELO x\r\nMAIL FROM:<a@b> AUTH=<x\r\nX>\r\n",
		    BANNER R_HELO R_MAIL R_UNKNOWN,
		    E_G E_HELO "CMD MAIL\nMAIL from=<a@b> params=<AUTH=<x> auth=<<x>\nCMD ?\n"),
	};
	run_param_rows("case 19", NULL, rows, NROWS(rows));
	run_rows("case 19", NULL, raw, NROWS(raw));
}

static void case_20_utf8_address(void)
{
#define I_UTF8(param) "HELO x\r\nMAIL FROM:<\xc3\xa9@b>" param "\r\nRCPT TO:<\xc3\xa9@d>\r\nDATA\r\nhi\r\n.\r\n"
#define E_UTF8_RCPT "CMD RCPT\nRCPT to=<\\xc3\\xa9@d> params=<>\n"
	static const struct row rows[] = {
		ROW("with SMTPUTF8", I_UTF8(" SMTPUTF8"), R_TXN R_354 R_Q1,
		    E_G E_HELO "CMD MAIL\nMAIL from=<\\xc3\\xa9@b> params=<SMTPUTF8> smtputf8\n" E_UTF8_RCPT E_DATA
			    E_HI_END("smtputf8")),
		ROW("without SMTPUTF8 (lenient: flagged)", I_UTF8(""), R_TXN R_354 R_Q1,
		    E_G E_HELO
		    "CMD MAIL\nMAIL from=<\\xc3\\xa9@b> params=<>\n" E_UTF8_RCPT E_DATA E_HI_END("utf8_no_param")),
	};
	static const struct row strict_rows[] = {
		ROW("MAIL without SMTPUTF8 (strict)", "HELO x\r\nMAIL FROM:<\xc3\xa9@b>\r\n",
		    BANNER R_HELO "553 5.6.7 Error: SMTPUTF8 is required for this address\r\n",
		    E_G E_HELO "CMD MAIL\n"),
		ROW("RCPT without SMTPUTF8 (strict)", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<\xc3\xa9@d>\r\n",
		    BANNER R_HELO R_MAIL "553 5.6.7 Error: SMTPUTF8 is required for this address\r\n",
		    E_G E_HELO E_MAIL "CMD RCPT\n"),
	};
	static const struct row off_rows[] = {
		ROW("SMTPUTF8 not offered", "HELO x\r\nMAIL FROM:<a@b> SMTPUTF8\r\n",
		    BANNER R_HELO "555 5.5.4 Unsupported option: SMTPUTF8\r\n", E_G E_HELO "CMD MAIL\n"),
	};
#undef I_UTF8
#undef E_UTF8_RCPT
	struct smtp_config strict = cfg_default(), off = cfg_default();
	strict.strict_address = true;
	off.ext &= ~(uint32_t)SMTP_EXT_SMTPUTF8;
	run_rows("case 20", NULL, rows, NROWS(rows));
	run_rows("case 20", &strict, strict_rows, NROWS(strict_rows));
	run_rows("case 20", &off, off_rows, NROWS(off_rows));
}

/* ---- 21-22: recipients -------------------------------------------------- */

/* n RCPTs against a cap of max, then a message. */
static void rcpts_then_data(const struct smtp_config *cfg, unsigned n, unsigned max)
{
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	unsigned kept = n < max ? n : max;
	char end[96];
	text_str(&in, "HELO x\r\nMAIL FROM:<a@b>\r\n");
	text_rep(&in, "RCPT TO:<c@d>\r\n", n);
	text_str(&in, "DATA\r\nhi\r\n.\r\n");
	text_str(&out, BANNER R_HELO R_MAIL);
	text_rep(&out, R_RCPT, kept);
	text_rep(&out, R_TOO_MANY_RCPTS, n - kept);
	text_str(&out, R_354 R_Q1);
	text_str(&ev, E_G E_HELO E_MAIL);
	text_rep(&ev, E_RCPT, kept);
	text_rep(&ev, "CMD RCPT\n", n - kept);
	snprintf(end, sizeof(end), "MSG_END size=4 rcpts=%u flags=- body=\"hi\\r\\n\"\n", kept);
	text_str(&ev, E_DATA);
	text_str(&ev, end);
	struct harness_opts o = { .cfg = cfg };
	if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ case 21: %u RCPTs, cap %u\n", n, max);
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

static void case_21_recipient_cap(void)
{
	struct smtp_config c = cfg_default();
	c.max_rcpts = SMTP_RCPTS_MIN_ALLOWED;
	for (unsigned n = c.max_rcpts - 1; n <= c.max_rcpts + 1; n++)
		rcpts_then_data(&c, n, c.max_rcpts);
	rcpts_then_data(NULL, SMTP_RCPTS_MIN_ALLOWED, SMTP_RCPTS_DEFAULT); /* RFC 5321 4.5.3.1.8 */
}

/* The cap (100) and then over more RCPTs, then NOOP, with an error limit. */
static void rcpts_past_cap(unsigned over, unsigned max_errors)
{
	struct smtp_config c = cfg_default();
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	c.max_rcpts = SMTP_RCPTS_MIN_ALLOWED;
	c.max_errors = max_errors;
	unsigned errors = over > SMTP_RCPT_OVERSHOOT_MAX ? over - SMTP_RCPT_OVERSHOOT_MAX : 0;
	bool closes = errors >= max_errors;
	unsigned answered = closes ? SMTP_RCPT_OVERSHOOT_MAX + max_errors : over;
	text_str(&in, "HELO x\r\nMAIL FROM:<a@b>\r\n");
	text_rep(&in, "RCPT TO:<c@d>\r\n", SMTP_RCPTS_MIN_ALLOWED + over);
	text_str(&in, "NOOP\r\n");
	text_str(&out, BANNER R_HELO R_MAIL);
	text_rep(&out, R_RCPT, SMTP_RCPTS_MIN_ALLOWED);
	text_rep(&out, R_TOO_MANY_RCPTS, answered);
	text_str(&out, closes ? R_TOO_MANY_ERRORS : R_OK);
	text_str(&ev, E_G E_HELO E_MAIL);
	text_rep(&ev, E_RCPT, SMTP_RCPTS_MIN_ALLOWED);
	text_rep(&ev, "CMD RCPT\n", answered);
	text_str(&ev, closes ? "CLOSE reason=too_many_errors\n" : "CMD NOOP\n");
	struct harness_opts o = { .cfg = &c };
	char what[80];
	snprintf(what, sizeof(what), "case 22: %u RCPTs past the cap, error limit %u", over, max_errors);
	run_big(what, &o, &in, out.p, ev.p);
	text_free(&in);
	text_free(&out);
	text_free(&ev);
}

/* A million pipelined RCPTs: the count stops at the cap, nothing wraps. */
static void case_22_million_rcpts(void)
{
	enum {
		PER_PIECE = 4000,
		PIECES = 250
	};
	struct smtp_config c = cfg_default();
	c.max_rcpts = SMTP_RCPTS_MIN_ALLOWED;
	c.max_errors = 0;
	struct drv d;
	drv_init(&d, &c, 4096);
	d.keep_text = false;
	struct test_text piece = { 0 };
	text_rep(&piece, "RCPT TO:<c@d>\r\n", PER_PIECE);
	smtp_session_greet(&d.s, &d.out);
	drv_feed(&d, "HELO x\r\nMAIL FROM:<a@b>\r\n", 25);
	for (unsigned i = 0; i < PIECES; i++)
		drv_feed(&d, piece.p, piece.len);
	CHECK_U64(d.s.rcpts, SMTP_RCPTS_MIN_ALLOWED);
	drv_feed(&d, "DATA\r\nhi\r\n.\r\n", 14);
	CHECK_U64(d.codes[452], (uint64_t)PER_PIECE * PIECES - SMTP_RCPTS_MIN_ALLOWED);
	CHECK_U64(d.codes[250], 3 + SMTP_RCPTS_MIN_ALLOWED); /* HELO, MAIL, the cap, queued */
	CHECK_U64(d.codes[354], 1);
	CHECK_STR(d.log.p, d.log.len, "MSG_END rcpts=100\n");
	text_free(&piece);
	drv_free(&d);

	/* Past the cap, 452s are orderly until the overshoot limit
	 * (Postfix's smtpd_recipient_overshoot_limit); then each one is a
	 * client error, and the error limit ends the session. */
	for (unsigned over = SMTP_RCPT_OVERSHOOT_MAX - 1; over <= SMTP_RCPT_OVERSHOOT_MAX + 1; over++)
		rcpts_past_cap(over, 1);
	rcpts_past_cap(SMTP_RCPT_OVERSHOOT_MAX + SMTP_ERRORS_DEFAULT + 5, SMTP_ERRORS_DEFAULT);
}

int main(void)
{
	case_01_noop_before_ehlo();
	case_02_empty_line();
	case_03_unknown_command_and_error_limit();
	case_04_command_line_512();
	case_05_million_bytes_without_crlf();
	case_05_five_gib_without_lf();
	case_06_ehlo_100kb_name();
	case_07_command_order();
	case_08_rset();
	case_09_ehlo_mid_transaction();
	case_10_case_spacing_brackets();
	case_11_bare_lf_command();
	case_12_nul_in_command();
	case_13_bad_utf8();
	case_14_http_on_port_25();
	case_15_null_sender();
	case_16_path_lengths();
	case_17_shell_and_format_strings_verbatim();
	case_18_esmtp_params();
	case_19_encoded_crlf_in_params();
	case_20_utf8_address();
	case_21_recipient_cap();
	case_22_million_rcpts();
	return harness_finish("session_edge");
}
