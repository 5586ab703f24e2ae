/*
 * tests/core/test_session.c - golden whole-session transcripts for the
 * commands of the SMTP session (issue 2, "SMTP session state machine").
 *
 * Owns: the greeting, HELO/EHLO, each EHLO keyword switched off and what
 * that disables, the lenient defaults against the strict_* switches, MAIL
 * and RCPT with every parameter, command order (503s), DATA with
 * dot-unstuffing, the bare-LF policies, BDAT, RSET at every point, the
 * simple commands, and EHLO in mid-transaction.  Limits, pipelining, AUTH,
 * LMTP, verdicts, overrides and the calls from the layer above
 * (abort/eof/is_idle) are in test_session_modes.c; the edge-case list
 * (SMTP-EDGE-CASES.md) is in test_session_edge.c.
 *
 * Every scenario runs through harness_expect_all_splits: whole, cut at every
 * offset and byte by byte, comparing reply bytes and event text exactly.
 * Expected texts are written from the issue and the RFCs; the exact wording
 * follows Postfix where the issue asks for it.
 */
#include <stdio.h>
#include <string.h>

#include "session_golden.h"

/* One command line after a fixed prefix: the reply line and the event line
 * that follows "CMD <VERB>" (empty when the command is refused). */
struct line_row {
	const char *line;
	const char *reply;
	const char *event;
};

struct line_prefix {
	const char *in;
	const char *replies;
	const char *events;
	const char *cmd_event; /* "CMD MAIL\n" */
};

static void expect_line_rows(const struct smtp_config *cfg, const struct line_prefix *p, const struct line_row *rows,
			     size_t n)
{
	char in[1024], replies[2048], events[2048];
	for (size_t i = 0; i < n; i++) {
		snprintf(in, sizeof in, "%s%s\r\n", p->in, rows[i].line);
		snprintf(replies, sizeof replies, "%s%s\r\n", p->replies, rows[i].reply);
		snprintf(events, sizeof events, "%s%s%s", p->events, p->cmd_event, rows[i].event);
		struct transcript t = { rows[i].line, in, replies, events };
		expect_cfg(cfg, &t);
	}
}

/* ---- greeting, HELO, EHLO ----------------------------------------------- */

static void test_greeting(void)
{
	static const struct transcript cases[] = {
		{ "banner only", "", R_GREET, E_GREET },
		{ "banner then QUIT", "QUIT\r\n", R_GREET R_BYE, E_GREET E_QUIT },
		{ "nothing after QUIT is consumed", "QUIT\r\nNOOP\r\nQUIT\r\n", R_GREET R_BYE, E_GREET E_QUIT },
		{ "QUIT with an argument", "QUIT now\r\nQUIT\r\n", R_GREET "501 5.5.4 Syntax: QUIT\r\n" R_BYE,
		  E_GREET "CMD QUIT\n" E_QUIT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_default(&cases[i]);
}

static void test_helo_ehlo(void)
{
	static const struct transcript cases[] = {
		{ "HELO", "HELO c.example\r\n", R_GREET "250 smtpsink\r\n",
		  E_GREET "CMD HELO\nHELO HELO name=<c.example>\n" },
		{ "EHLO lists every keyword", IN_EHLO, R_GREET R_EHLO, E_GREET E_EHLO },
		{ "lower-case ehlo", "ehlo c.example\r\n", R_GREET R_EHLO, E_GREET E_EHLO },
		{ "HELO then EHLO", "HELO c.example\r\nEHLO d.example\r\n", R_GREET "250 smtpsink\r\n" R_EHLO,
		  E_GREET "CMD HELO\nHELO HELO name=<c.example>\nCMD EHLO\nHELO EHLO name=<d.example>\n" },
		{ "LHLO is not SMTP", "LHLO c.example\r\nQUIT\r\n", R_GREET R_UNKNOWN R_BYE,
		  E_GREET "CMD LHLO\n" E_QUIT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_default(&cases[i]);
}

/* Each EHLO keyword switched off: gone from the EHLO reply, and what it
 * governs is refused. */
struct ext_case {
	uint32_t ext_off;
	struct transcript t;
};

static const struct ext_case ext_cases[] = {
	{ SMTP_EXT_PIPELINING,
	  { "PIPELINING off: not advertised, a pipelined group still works (lenient)",
	    IN_EHLO IN_TXN "DATA\r\nhi\r\n.\r\nQUIT\r\n",
	    R_GREET K_HOST K_SIZE K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK R_MAIL R_RCPT R_354 R_Q1 R_BYE,
	    E_GREET E_EHLO E_MAIL E_RCPT E_DATA_HI E_QUIT } },
	{ SMTP_EXT_SIZE,
	  { "SIZE off: SIZE= is an unknown parameter", IN_EHLO "MAIL FROM:<a@b> SIZE=10\r\nMAIL FROM:<a@b>\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK
	    "555 5.5.4 Unsupported option: SIZE\r\n" R_MAIL R_BYE,
	    E_GREET E_EHLO "CMD MAIL\n" E_MAIL E_QUIT } },
	{ SMTP_EXT_8BITMIME,
	  { "8BITMIME off: BODY=8BITMIME refused, BODY=7BIT still fine",
	    IN_EHLO "MAIL FROM:<a@b> BODY=8BITMIME\r\nMAIL FROM:<a@b> BODY=7BIT\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK
	    "501 5.5.4 Bad BODY keyword\r\n" R_MAIL R_BYE,
	    E_GREET E_EHLO "CMD MAIL\nCMD MAIL\nMAIL from=<a@b> params=<BODY=7BIT> body=7bit\n" E_QUIT } },
	{ SMTP_EXT_SMTPUTF8,
	  { "SMTPUTF8 off: the SMTPUTF8 parameter is unknown",
	    IN_EHLO "MAIL FROM:<a@b> SMTPUTF8\r\nMAIL FROM:<a@b>\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_8BIT K_ENH K_AUTH K_DSN K_CHUNK
	    "555 5.5.4 Unsupported option: SMTPUTF8\r\n" R_MAIL R_BYE,
	    E_GREET E_EHLO "CMD MAIL\n" E_MAIL E_QUIT } },
	{ SMTP_EXT_ENHANCEDSTATUSCODES,
	  { "ENHANCEDSTATUSCODES off: no x.y.z in any reply",
	    IN_EHLO
	    "MAIL FROM:<a@b> FOO=1\r\n" IN_TXN "DATA\r\nhi\r\n.\r\n" IN_TXN "BDAT 2\r\nabBDAT 0 LAST\r\n"
	    "RSET\r\nVRFY x\r\nEXPN x\r\nHELP\r\nXYZZY\r\nRCPT TO:<c@d>\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_AUTH K_DSN K_CHUNK
	    "555 Unsupported option: FOO\r\n250 Ok\r\n250 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 Ok: queued as Q1\r\n250 Ok\r\n250 Ok\r\n250 Ok: 2 octets\r\n250 Ok: queued as Q2\r\n250 Ok\r\n"
	    "252 Cannot VRFY user, but will accept message and attempt delivery\r\n"
	    "502 Error: command not implemented\r\n"
	    "214 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n"
	    "500 Error: command not recognized\r\n503 Error: need MAIL command\r\n"
	    "235 Authentication successful\r\n221 Bye\r\n",
	    E_GREET E_EHLO "CMD MAIL\n" E_MAIL E_RCPT E_DATA_HI E_MAIL E_RCPT
			   "CMD BDAT\nDATA_BEGIN bdat\nCMD BDAT\nMSG_END size=2 rcpts=1 flags=bdat body=\"ab\"\n"
			   "CMD RSET\nRESET\nCMD VRFY\nCMD EXPN\nCMD HELP\nCMD ?\nCMD RCPT\n"
			   "CMD AUTH\nAUTH_USER user=<user>\nAUTH ok\n" E_QUIT } },
	{ SMTP_EXT_CHUNKING,
	  { "CHUNKING off: BDAT refused after its payload, BODY=BINARYMIME refused",
	    IN_EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" IN_TXN "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_ENH K_AUTH
	    "250 DSN\r\n"
	    "501 5.5.4 Bad BODY keyword\r\n" R_MAIL R_RCPT R_NOT_IMPL R_OK R_BYE,
	    E_GREET E_EHLO "CMD MAIL\n" E_MAIL E_RCPT "CMD BDAT\nCMD NOOP\n" E_QUIT } },
	{ SMTP_EXT_DSN,
	  { "DSN off: RET, ENVID, NOTIFY and ORCPT are unknown",
	    IN_EHLO "MAIL FROM:<a@b> RET=HDRS\r\nMAIL FROM:<a@b> ENVID=x\r\nMAIL FROM:<a@b>\r\n"
		    "RCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO:<c@d> ORCPT=rfc822;c@d\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_ENH K_AUTH K_CHUNK
	    "555 5.5.4 Unsupported option: RET\r\n555 5.5.4 Unsupported option: ENVID\r\n" R_MAIL
	    "555 5.5.4 Unsupported option: NOTIFY\r\n555 5.5.4 Unsupported option: ORCPT\r\n" R_BYE,
	    E_GREET E_EHLO "CMD MAIL\nCMD MAIL\n" E_MAIL "CMD RCPT\nCMD RCPT\n" E_QUIT } },
	{ SMTP_EXT_AUTH,
	  { "AUTH off: AUTH refused, MAIL AUTH= unknown",
	    IN_EHLO "AUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b> AUTH=<>\r\nQUIT\r\n",
	    R_GREET K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_ENH K_DSN K_CHUNK
	    "503 5.5.1 Error: authentication not enabled\r\n555 5.5.4 Unsupported option: AUTH\r\n" R_BYE,
	    E_GREET E_EHLO "CMD AUTH\nCMD MAIL\n" E_QUIT } },
	{ SMTP_EXT_ESMTP,
	  { "ESMTP off: EHLO refused, HELO works", IN_EHLO "HELO c.example\r\nQUIT\r\n",
	    "220 smtpsink SMTP smtpsink\r\n" R_NOT_IMPL "250 smtpsink\r\n" R_BYE,
	    E_GREET "CMD EHLO\nCMD HELO\nHELO HELO name=<c.example>\n" E_QUIT } },
	{ SMTP_EXT_ALL,
	  { "everything off: plain RFC 821 with no status codes",
	    IN_EHLO "HELO c.example\r\nMAIL FROM:<a@b> SIZE=10\r\nMAIL FROM:<a@b>\r\nQUIT\r\n",
	    "220 smtpsink SMTP smtpsink\r\n502 Error: command not implemented\r\n250 smtpsink\r\n555 Unsupported "
	    "option: SIZE\r\n250 Ok\r\n"
	    "221 Bye\r\n",
	    E_GREET "CMD EHLO\nCMD HELO\nHELO HELO name=<c.example>\nCMD MAIL\n" E_MAIL E_QUIT } },
};

static void test_ext_switched_off(void)
{
	for (size_t i = 0; i < sizeof ext_cases / sizeof ext_cases[0]; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.ext &= ~ext_cases[i].ext_off;
		expect_cfg(&c, &ext_cases[i].t);
	}
}

/* ---- lenient defaults and strict switches ------------------------------- */

enum {
	STRICT_HELO_NAME = 1u << 0,
	STRICT_HELO_FIRST = 1u << 1,
	STRICT_ADDRESS = 1u << 2,
};

struct strictness_case {
	unsigned strict; /* STRICT_* bits; 0: the lenient defaults */
	struct transcript t;
};

static const struct strictness_case strictness_cases[] = {
	{ 0,
	  { "HELO without a name", "HELO\r\n", R_GREET "250 smtpsink\r\n",
	    E_GREET "CMD HELO\nHELO HELO name=<> no_name\n" } },
	{ 0, { "EHLO without a name", "EHLO\r\n", R_GREET R_EHLO, E_GREET "CMD EHLO\nHELO EHLO name=<> no_name\n" } },
	{ STRICT_HELO_NAME,
	  { "strict: HELO without a name", "HELO\r\n", R_GREET "501 5.5.4 Syntax: HELO hostname\r\n",
	    E_GREET "CMD HELO\n" } },
	{ STRICT_HELO_NAME,
	  { "strict: EHLO without a name", "EHLO\r\n", R_GREET "501 5.5.4 Syntax: EHLO hostname\r\n",
	    E_GREET "CMD EHLO\n" } },
	{ STRICT_HELO_NAME,
	  { "strict: HELO with a name", "HELO c.example\r\n", R_GREET "250 smtpsink\r\n",
	    E_GREET "CMD HELO\nHELO HELO name=<c.example>\n" } },
	{ 0,
	  { "MAIL with no HELO at all", IN_TXN "DATA\r\nhi\r\n.\r\n", R_GREET R_MAIL R_RCPT R_354 R_Q1,
	    E_GREET E_MAIL E_RCPT E_DATA_HI } },
	{ STRICT_HELO_FIRST,
	  { "strict: MAIL before HELO", IN_TXN, R_GREET "503 5.5.1 Error: send HELO/EHLO first\r\n" R_NEED_MAIL,
	    E_GREET "CMD MAIL\nCMD RCPT\n" } },
	{ STRICT_HELO_FIRST,
	  { "strict: MAIL after HELO", "HELO c.example\r\n" IN_TXN, R_GREET "250 smtpsink\r\n" R_MAIL R_RCPT,
	    E_GREET "CMD HELO\nHELO HELO name=<c.example>\n" E_MAIL E_RCPT } },
	{ 0,
	  { "MAIL FROM without brackets", "MAIL FROM:a@b\r\n", R_GREET R_MAIL,
	    E_GREET "CMD MAIL\nMAIL from=<a@b> params=<> no_brackets\n" } },
	{ STRICT_ADDRESS,
	  { "strict: MAIL FROM without brackets", "MAIL FROM:a@b\r\n",
	    R_GREET "501 5.1.7 Error: bad sender address syntax\r\n", E_GREET "CMD MAIL\n" } },
	{ STRICT_ADDRESS,
	  { "strict: RCPT TO without brackets", "MAIL FROM:<a@b>\r\nRCPT TO:c@d\r\n",
	    R_GREET R_MAIL "501 5.1.3 Error: bad recipient address syntax\r\n", E_GREET E_MAIL "CMD RCPT\n" } },
};

static void test_lenient_and_strict(void)
{
	for (size_t i = 0; i < sizeof strictness_cases / sizeof strictness_cases[0]; i++) {
		const struct strictness_case *k = &strictness_cases[i];
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.strict_helo_name = (k->strict & STRICT_HELO_NAME) != 0;
		c.strict_helo_first = (k->strict & STRICT_HELO_FIRST) != 0;
		c.strict_address = (k->strict & STRICT_ADDRESS) != 0;
		expect_cfg(&c, &k->t);
	}
}

/* ---- MAIL ---------------------------------------------------------------- */

#define MAIL_OK "250 2.1.0 Ok"
#define MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address>"

static const struct line_row mail_rows[] = {
	{ "MAIL FROM:<a@b>", MAIL_OK, "MAIL from=<a@b> params=<>\n" },
	{ "MAIL FROM:<>", MAIL_OK, "MAIL from=<> params=<>\n" },
	{ "mail from:<a@b> body=8bitmime", MAIL_OK, "MAIL from=<a@b> params=<body=8bitmime> body=8bitmime\n" },
	{ "MAIL FROM:<a@b> SIZE=1000", MAIL_OK, "MAIL from=<a@b> params=<SIZE=1000> size=1000\n" },
	{ "MAIL FROM:<a@b> BODY=7BIT", MAIL_OK, "MAIL from=<a@b> params=<BODY=7BIT> body=7bit\n" },
	{ "MAIL FROM:<a@b> BODY=8BITMIME", MAIL_OK, "MAIL from=<a@b> params=<BODY=8BITMIME> body=8bitmime\n" },
	{ "MAIL FROM:<a@b> BODY=BINARYMIME", MAIL_OK, "MAIL from=<a@b> params=<BODY=BINARYMIME> body=binarymime\n" },
	{ "MAIL FROM:<a@b> SMTPUTF8", MAIL_OK, "MAIL from=<a@b> params=<SMTPUTF8> smtputf8\n" },
	{ "MAIL FROM:<a@b> AUTH=<>", MAIL_OK, "MAIL from=<a@b> params=<AUTH=<>> auth=<<>>\n" },
	{ "MAIL FROM:<a@b> AUTH=u+40c.example", MAIL_OK,
	  "MAIL from=<a@b> params=<AUTH=u+40c.example> auth=<u+40c.example>\n" },
	{ "MAIL FROM:<a@b> RET=FULL", MAIL_OK, "MAIL from=<a@b> params=<RET=FULL> ret=full\n" },
	{ "MAIL FROM:<a@b> RET=HDRS", MAIL_OK, "MAIL from=<a@b> params=<RET=HDRS> ret=hdrs\n" },
	{ "MAIL FROM:<a@b> ENVID=QQ314159", MAIL_OK, "MAIL from=<a@b> params=<ENVID=QQ314159> envid=<QQ314159>\n" },
	{ "MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8 AUTH=<> RET=HDRS ENVID=x", MAIL_OK,
	  "MAIL from=<> params=<SIZE=10 BODY=8BITMIME SMTPUTF8 AUTH=<> RET=HDRS ENVID=x> size=10 body=8bitmime ret=hdrs"
	  " smtputf8 auth=<<>> envid=<x>\n" },
	{ "MAIL FROM:<a@b> FOO=bar", "555 5.5.4 Unsupported option: FOO", "" },
	{ "MAIL FROM:<a@b> XVERP", "555 5.5.4 Unsupported option: XVERP", "" },
	{ "MAIL FROM:<a@b> SIZE=abc", "501 5.5.4 Bad message size syntax", "" },
	{ "MAIL FROM:<a@b> SIZE=", "501 5.5.4 Bad message size syntax", "" },
	{ "MAIL FROM:<a@b> BODY=9BIT", "501 5.5.4 Bad BODY keyword", "" },
	{ "MAIL FROM:<a@b> SMTPUTF8=YES", "501 5.5.4 Bad SMTPUTF8 parameter", "" },
	{ "MAIL FROM:<a@b> RET=NONE", "501 5.5.4 Bad RET parameter syntax", "" },
	{ "MAIL FROM:<a@b> ENVID=a+0Db", "501 5.5.4 Bad ENVID parameter syntax", "" },
	{ "MAIL FROM:<a@b> AUTH=", "501 5.5.4 Bad AUTH parameter syntax", "" },
	{ "MAIL FROM:<a@b> SIZE=1 SIZE=2", "501 5.5.4 Error: duplicate parameter", "" },
	{ "MAIL", MAIL_SYNTAX, "" },
	{ "MAIL FROM:", MAIL_SYNTAX, "" },
	{ "MAIL FROM:<a@b", MAIL_SYNTAX, "" },
	{ "MAIL FROM:<a@b>x", MAIL_SYNTAX, "" },
	{ "MAIL TO:<a@b>", MAIL_SYNTAX, "" },
};

/* SIZE against a 1000-octet limit, and numbers that do not fit. */
static const struct line_row size_rows[] = {
	{ "MAIL FROM:<a@b> SIZE=0", MAIL_OK, "MAIL from=<a@b> params=<SIZE=0>\n" },
	{ "MAIL FROM:<a@b> SIZE=999", MAIL_OK, "MAIL from=<a@b> params=<SIZE=999> size=999\n" },
	{ "MAIL FROM:<a@b> SIZE=1000", MAIL_OK, "MAIL from=<a@b> params=<SIZE=1000> size=1000\n" },
	{ "MAIL FROM:<a@b> SIZE=1001", "552 5.3.4 Message size exceeds fixed limit", "" },
	{ "MAIL FROM:<a@b> SIZE=4294968296", "552 5.3.4 Message size exceeds fixed limit", "" },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551615", "552 5.3.4 Message size exceeds fixed limit", "" },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551616", "552 5.3.4 Message size exceeds fixed limit", "" },
	{ "MAIL FROM:<a@b> SIZE=99999999999999999999999999", "552 5.3.4 Message size exceeds fixed limit", "" },
};

/* With no limit (max_size 0: "SIZE" alone), overflowing numbers are still
 * never accepted. */
static const struct line_row size_unlimited_rows[] = {
	{ "MAIL FROM:<a@b> SIZE=1000000000000", MAIL_OK,
	  "MAIL from=<a@b> params=<SIZE=1000000000000> size=1000000000000\n" },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551616", "552 5.3.4 Message size exceeds fixed limit", "" },
	{ "MAIL FROM:<a@b> SIZE=99999999999999999999999999", "552 5.3.4 Message size exceeds fixed limit", "" },
};

static void test_mail(void)
{
	struct line_prefix p = { IN_EHLO, R_GREET R_EHLO, E_GREET E_EHLO, "CMD MAIL\n" };
	expect_line_rows(NULL, &p, mail_rows, sizeof mail_rows / sizeof mail_rows[0]);

	struct smtp_config c;
	smtp_config_defaults(&c);
	c.max_size_bytes = 1000;
	p.replies = R_GREET K_HOST K_PIPE "250-SIZE 1000\r\n" K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK;
	expect_line_rows(&c, &p, size_rows, sizeof size_rows / sizeof size_rows[0]);

	c.max_size_bytes = 0;
	p.replies = R_GREET K_HOST K_PIPE "250-SIZE\r\n" K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK;
	expect_line_rows(&c, &p, size_unlimited_rows, sizeof size_unlimited_rows / sizeof size_unlimited_rows[0]);
}

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its brackets, so an
 * address of 254 octets is the limit.  Too long: 501 5.1.7. */
static void test_mail_path_length(void)
{
	static const struct {
		size_t addr_len;
		const char *reply;
	} rows[] = {
		{ 253, MAIL_OK },
		{ 254, MAIL_OK },
		{ 255, "501 5.1.7 Error: sender address too long" },
	};
	struct line_prefix p = { IN_EHLO, R_GREET R_EHLO, E_GREET E_EHLO, "CMD MAIL\n" };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char addr[300], line[400], event[400];
		memset(addr, 'd', rows[i].addr_len);
		memcpy(addr, "u@", 2);
		addr[rows[i].addr_len] = '\0';
		snprintf(line, sizeof line, "MAIL FROM:<%s>", addr);
		snprintf(event, sizeof event, "MAIL from=<%s> params=<>\n", addr);
		struct line_row row = { line, rows[i].reply, rows[i].reply[0] == '2' ? event : "" };
		expect_line_rows(NULL, &p, &row, 1);
	}
}

/* ---- RCPT and command order ---------------------------------------------- */

static const struct line_row rcpt_rows[] = {
	{ "RCPT TO:<c@d>", "250 2.1.5 Ok", "RCPT to=<c@d> params=<>\n" },
	{ "RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE", "250 2.1.5 Ok",
	  "RCPT to=<c@d> params=<NOTIFY=SUCCESS,FAILURE> notify=success,failure\n" },
	{ "RCPT TO:<c@d> NOTIFY=NEVER", "250 2.1.5 Ok", "RCPT to=<c@d> params=<NOTIFY=NEVER> notify=never\n" },
	{ "RCPT TO:<c@d> NOTIFY=DELAY ORCPT=rfc822;c@d", "250 2.1.5 Ok",
	  "RCPT to=<c@d> params=<NOTIFY=DELAY ORCPT=rfc822;c@d> notify=delay orcpt=<rfc822;c@d>\n" },
	{ "RCPT TO:<c@d> ORCPT=rfc822;c+2Bx@d", "250 2.1.5 Ok",
	  "RCPT to=<c@d> params=<ORCPT=rfc822;c+2Bx@d> orcpt=<rfc822;c+2Bx@d>\n" },
	{ "RCPT TO:<c@d> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Bad NOTIFY parameter syntax", "" },
	{ "RCPT TO:<c@d> NOTIFY=SOMETIMES", "501 5.5.4 Bad NOTIFY parameter syntax", "" },
	{ "RCPT TO:<c@d> ORCPT=c@d", "501 5.5.4 Bad ORCPT parameter syntax", "" },
	{ "RCPT TO:<c@d> FOO=1", "555 5.5.4 Unsupported option: FOO", "" },
	{ "RCPT TO:<>", "501 5.1.3 Error: bad recipient address syntax", "" },
	{ "RCPT TO:", "501 5.5.4 Syntax: RCPT TO:<address>", "" },
	{ "RCPT FROM:<c@d>", "501 5.5.4 Syntax: RCPT TO:<address>", "" },
};

static void test_rcpt(void)
{
	struct line_prefix p = { IN_EHLO "MAIL FROM:<a@b>\r\n", R_GREET R_EHLO R_MAIL, E_GREET E_EHLO E_MAIL,
				 "CMD RCPT\n" };
	expect_line_rows(NULL, &p, rcpt_rows, sizeof rcpt_rows / sizeof rcpt_rows[0]);
}

/* RFC 5321 3.3: RCPT and DATA need MAIL; DATA needs an accepted RCPT (503
 * when none was tried, 554 when all were refused); MAIL does not nest. */
static void test_command_order(void)
{
	static const struct transcript t = {
		"command order",
		IN_EHLO "RCPT TO:<c@d>\r\nDATA\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<e@f>\r\nDATA\r\nRCPT TO:<>\r\nDATA\r\n"
			"RCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		R_GREET R_EHLO R_NEED_MAIL R_NEED_MAIL R_MAIL
		"503 5.5.1 Error: nested MAIL command\r\n"
		"503 5.5.1 Error: need RCPT command\r\n501 5.1.3 Error: bad recipient address syntax\r\n"
		"554 5.5.1 Error: no valid recipients\r\n" R_RCPT R_354 R_Q1 R_BYE,
		E_GREET E_EHLO "CMD RCPT\nCMD DATA\n" E_MAIL
			       "CMD MAIL\nCMD DATA\nCMD RCPT\nCMD DATA\n" E_RCPT E_DATA_HI E_QUIT,
	};
	expect_default(&t);
}

/* ---- DATA ----------------------------------------------------------------- */

static void test_data(void)
{
	static const struct transcript cases[] = {
		{ "dot-unstuffing: only a leading dot of a line goes",
		  IN_EHLO IN_TXN "DATA\r\nSubject: t\r\n\r\n..hello\r\n..\r\n...x\r\na.b.\r\n.\r\nQUIT\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE,
		  E_GREET E_EHLO E_MAIL E_RCPT
		  "CMD DATA\nDATA_BEGIN\nMSG_END size=36 rcpts=1 flags=- "
		  "body=\"Subject: t\\r\\n\\r\\n.hello\\r\\n.\\r\\n..x\\r\\na.b.\\r\\n\"\n" E_QUIT },
		{ "empty body", IN_EHLO IN_TXN "DATA\r\n.\r\nQUIT\r\n", R_GREET R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE,
		  E_GREET E_EHLO E_MAIL E_RCPT
		  "CMD DATA\nDATA_BEGIN\nMSG_END size=0 rcpts=1 flags=- body=\"\"\n" E_QUIT },
		{ "two messages, the transaction is reset by the 250",
		  IN_EHLO IN_TXN "DATA\r\nhi\r\n.\r\nRCPT TO:<c@d>\r\n" IN_TXN "DATA\r\nhi\r\n.\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_NEED_MAIL R_MAIL R_RCPT R_354 R_Q2,
		  E_GREET E_EHLO E_MAIL E_RCPT E_DATA_HI "CMD RCPT\n" E_MAIL E_RCPT E_DATA_HI },
		{ "DATA with an argument", IN_EHLO IN_TXN "DATA now\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT "501 5.5.4 Syntax: DATA\r\n",
		  E_GREET E_EHLO E_MAIL E_RCPT "CMD DATA\n" },
		{ "BODY=BINARYMIME: DATA refused, BDAT fine",
		  IN_EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\nRCPT TO:<c@d>\r\nDATA\r\nBDAT 3 LAST\r\n\x01\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT "503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n" R_Q1,
		  E_GREET E_EHLO
		  "CMD MAIL\nMAIL from=<a@b> params=<BODY=BINARYMIME> body=binarymime\n" E_RCPT
		  "CMD DATA\nCMD BDAT\nDATA_BEGIN bdat\nMSG_END size=3 rcpts=1 flags=bdat body=\"\\x01\\r\\n\"\n" },
		{ "SMTPUTF8 is reported with the message",
		  IN_EHLO "MAIL FROM:<a@b> SMTPUTF8\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT R_354 R_Q1,
		  E_GREET E_EHLO "CMD MAIL\nMAIL from=<a@b> params=<SMTPUTF8> smtputf8\n" E_RCPT
				 "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=1 flags=smtputf8 body=\"hi\\r\\n\"\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_default(&cases[i]);
}

/* --bare-lf: preserve stores the bytes, normalize stores CRLF, reject
 * answers 550 after end of data (and for a command line); only CRLF.CRLF
 * ends the message in every mode. */
struct bare_lf_case {
	enum smtp_bare_lf_policy policy;
	struct transcript t;
};

#define IN_BARE IN_EHLO IN_TXN "DATA\r\na\nb\r\n.\r\nNOOP\n" IN_TXN
#define R_BARE_PRE R_GREET R_EHLO R_MAIL R_RCPT R_354
#define E_BARE_PRE E_GREET E_EHLO E_MAIL E_RCPT "CMD DATA\nDATA_BEGIN\n"
#define R_BARE_550 "550 5.5.2 Error: bare <LF> received\r\n"

static const struct bare_lf_case bare_lf_cases[] = {
	{ SMTP_BARE_LF_PRESERVE,
	  { "preserve", IN_BARE, R_BARE_PRE R_Q1 R_OK R_MAIL R_RCPT,
	    E_BARE_PRE "MSG_END size=5 rcpts=1 flags=bare_lf body=\"a\\nb\\r\\n\"\nCMD NOOP\n" E_MAIL E_RCPT } },
	{ SMTP_BARE_LF_NORMALIZE,
	  { "normalize", IN_BARE, R_BARE_PRE R_Q1 R_OK R_MAIL R_RCPT,
	    E_BARE_PRE "MSG_END size=6 rcpts=1 flags=bare_lf body=\"a\\r\\nb\\r\\n\"\nCMD NOOP\n" E_MAIL E_RCPT } },
	{ SMTP_BARE_LF_REJECT,
	  { "reject", IN_BARE, R_BARE_PRE R_BARE_550 R_BARE_550 R_MAIL R_RCPT,
	    E_BARE_PRE "MSG_ABORT reason=bare_lf body=\"a\\nb\\r\\n\"\nCMD NOOP\n" E_MAIL E_RCPT } },
	{ SMTP_BARE_LF_REJECT,
	  { "reject, BDAT", IN_EHLO IN_TXN "BDAT 4 LAST\r\na\nb\n" IN_TXN,
	    R_GREET R_EHLO R_MAIL R_RCPT R_BARE_550 R_MAIL R_RCPT,
	    E_GREET E_EHLO E_MAIL E_RCPT
	    "CMD BDAT\nDATA_BEGIN bdat\nMSG_ABORT reason=bare_lf body=\"a\\nb\\n\"\n" E_MAIL E_RCPT } },
};

static void test_bare_lf_policies(void)
{
	for (size_t i = 0; i < sizeof bare_lf_cases / sizeof bare_lf_cases[0]; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		c.bare_lf = bare_lf_cases[i].policy;
		expect_cfg(&c, &bare_lf_cases[i].t);
	}
}

/* ---- BDAT (RFC 3030) ----------------------------------------------------- */

static void test_bdat(void)
{
	static const struct transcript cases[] = {
		{ "chunks, LAST, and what is refused around them",
		  IN_EHLO IN_TXN "BDAT 5\r\nhelloBDAT 8\r\n\r\nQUIT\r\nDATA\r\nRCPT TO:<e@f>\r\nMAIL FROM:<e@f>\r\n"
				 "BDAT 3 LAST\r\nendBDAT 2\r\nxyNOOP\r\nQUIT\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT
		  "250 2.0.0 Ok: 5 octets\r\n250 2.0.0 Ok: 8 octets\r\n"
		  "503 5.5.1 Error: DATA after BDAT\r\n503 5.5.1 Error: RCPT after BDAT\r\n"
		  "503 5.5.1 Error: nested MAIL command\r\n" R_Q1 R_NEED_MAIL R_OK R_BYE,
		  E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN
		  "CMD BDAT\nCMD DATA\nCMD RCPT\nCMD MAIL\nCMD BDAT\n"
		  "MSG_END size=16 rcpts=1 flags=bdat body=\"hello\\r\\nQUIT\\r\\nend\"\nCMD BDAT\nCMD NOOP\n" E_QUIT },
		{ "BDAT 0 LAST ends a chunked message", IN_EHLO IN_TXN "BDAT 4\r\nabcdBDAT 0 LAST\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT "250 2.0.0 Ok: 4 octets\r\n" R_Q1,
		  E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN
		  "CMD BDAT\nMSG_END size=4 rcpts=1 flags=bdat body=\"abcd\"\n" },
		{ "BDAT 0 LAST alone is an empty message", IN_EHLO IN_TXN "BDAT 0 LAST\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT R_Q1,
		  E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN "MSG_END size=0 rcpts=1 flags=bdat body=\"\"\n" },
		{ "lower-case bdat/last, then a DATA transaction",
		  IN_EHLO IN_TXN "bdat 3 last\r\nabc" IN_TXN "DATA\r\nhi\r\n.\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT R_Q1 R_MAIL R_RCPT R_354 R_Q2,
		  E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN
		  "MSG_END size=3 rcpts=1 flags=bdat body=\"abc\"\n" E_MAIL E_RCPT E_DATA_HI },
		{ "refused BDAT (no MAIL): the payload is not a command", IN_EHLO "BDAT 6\r\nQUIT\r\nNOOP\r\n",
		  R_GREET R_EHLO R_NEED_MAIL R_OK, E_GREET E_EHLO "CMD BDAT\nCMD NOOP\n" },
		{ "refused BDAT (no RCPT)", IN_EHLO "MAIL FROM:<a@b>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
		  R_GREET R_EHLO R_MAIL "503 5.5.1 Error: need RCPT command\r\n" R_OK,
		  E_GREET E_EHLO E_MAIL "CMD BDAT\nCMD NOOP\n" },
		{ "refused BDAT (every RCPT refused)",
		  IN_EHLO "MAIL FROM:<a@b>\r\nRCPT TO:<>\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n",
		  R_GREET R_EHLO R_MAIL "501 5.1.3 Error: bad recipient address syntax\r\n"
					"554 5.5.1 Error: no valid recipients\r\n" R_OK,
		  E_GREET E_EHLO E_MAIL "CMD RCPT\nCMD BDAT\nCMD NOOP\n" },
		{ "malformed BDAT inside a message: 521, the message is dropped",
		  IN_EHLO IN_TXN "BDAT 3\r\nabcBDAT x\r\nNOOP\r\n",
		  R_GREET R_EHLO R_MAIL R_RCPT "250 2.0.0 Ok: 3 octets\r\n521 5.5.4 Syntax: BDAT count [LAST]\r\n",
		  E_GREET E_EHLO E_MAIL E_RCPT E_BDAT_BEGIN
		  "CMD BDAT\nMSG_ABORT reason=syntax body=\"abc\"\nCLOSE reason=syntax\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_default(&cases[i]);
}

/* A chunk size that cannot be read leaves the stream out of sync: 521 and
 * close, and the bytes after it are never consumed. */
static void test_bdat_malformed(void)
{
	static const char *const lines[] = {
		"BDAT",		  "BDAT x",	   "BDAT -1",
		"BDAT 1e9",	  "BDAT 10 FIRST", "BDAT 10LAST",
		"BDAT 10 LAST x", "BDAT 0x10",	   "BDAT 99999999999999999999999",
	};
	struct line_prefix p = { IN_EHLO IN_TXN, R_GREET R_EHLO R_MAIL R_RCPT, E_GREET E_EHLO E_MAIL E_RCPT,
				 "CMD BDAT\n" };
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct line_row row = { lines[i], "521 5.5.4 Syntax: BDAT count [LAST]", "CLOSE reason=syntax\n" };
		expect_line_rows(NULL, &p, &row, 1);
	}
	static const struct transcript after = { "input after a malformed BDAT", "BDAT x\r\nNOOP\r\nQUIT\r\n",
						 R_GREET "521 5.5.4 Syntax: BDAT count [LAST]\r\n",
						 E_GREET "CMD BDAT\nCLOSE reason=syntax\n" };
	expect_default(&after);
}

/* ---- RSET, the simple commands, EHLO in mid-transaction ----------------- */

static void test_rset_everywhere(void)
{
	static const struct transcript t = {
		"RSET at every point",
		"RSET\r\n" IN_EHLO "RSET\r\n" IN_TXN "RSET\r\nRCPT TO:<c@d>\r\n" IN_TXN
		"BDAT 3\r\nabcRSET\r\nBDAT 1 LAST\r\nx" IN_TXN "DATA\r\nhi\r\n.\r\nRSET\r\nRSET\r\nRSET\r\nQUIT\r\n",
		R_GREET R_OK R_EHLO R_OK R_MAIL R_RCPT R_OK R_NEED_MAIL R_MAIL R_RCPT
		"250 2.0.0 Ok: 3 octets\r\n" R_OK R_NEED_MAIL R_MAIL R_RCPT R_354 R_Q1 R_OK R_OK R_OK R_BYE,
		E_GREET "CMD RSET\nRESET\n" E_EHLO "CMD RSET\nRESET\n" E_MAIL E_RCPT
			"CMD RSET\nRESET\nCMD RCPT\n" E_MAIL E_RCPT E_BDAT_BEGIN
			"CMD RSET\nMSG_ABORT reason=rset body=\"abc\"\nRESET\nCMD BDAT\n" E_MAIL E_RCPT E_DATA_HI
			"CMD RSET\nRESET\nCMD RSET\nRESET\nCMD RSET\nRESET\n" E_QUIT,
	};
	expect_default(&t);
	static const struct transcript arg = { "RSET with an argument", IN_TXN "RSET x\r\nRCPT TO:<e@f>\r\n",
					       R_GREET R_MAIL R_RCPT "501 5.5.4 Syntax: RSET\r\n" R_RCPT,
					       E_GREET E_MAIL E_RCPT "CMD RSET\nCMD RCPT\nRCPT to=<e@f> params=<>\n" };
	expect_default(&arg);
}

static void test_simple_commands(void)
{
	static const struct transcript t = {
		"NOOP VRFY EXPN HELP unknown STARTTLS QUIT",
		"NOOP\r\nNOOP hello\r\nVRFY postmaster\r\nVRFY\r\nEXPN staff\r\nHELP\r\nHELP MAIL\r\nXYZZY\r\n"
		"STARTTLS\r\nQUIT\r\nNOOP\r\n",
		R_GREET R_OK R_OK
		"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		"501 5.5.4 Syntax: VRFY address\r\n" R_NOT_IMPL
		"214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n"
		"214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n" R_UNKNOWN
			R_NOT_IMPL R_BYE,
		E_GREET
		"CMD NOOP\nCMD NOOP\nCMD VRFY\nCMD VRFY\nCMD EXPN\nCMD HELP\nCMD HELP\nCMD ?\nCMD STARTTLS\n" E_QUIT,
	};
	expect_default(&t);
	static const struct transcript quit_mid = {
		"QUIT between BDAT chunks", IN_TXN "BDAT 2\r\nabQUIT\r\n",
		R_GREET R_MAIL R_RCPT "250 2.0.0 Ok: 2 octets\r\n" R_BYE,
		E_GREET E_MAIL E_RCPT E_BDAT_BEGIN
		"CMD QUIT\nMSG_ABORT reason=quit body=\"ab\"\nQUIT\nCLOSE reason=quit\n"
	};
	expect_default(&quit_mid);
}

/* RFC 5321 4.1.4: EHLO/HELO in a transaction resets it (and drops a
 * message being received with BDAT). */
static void test_ehlo_mid_transaction(void)
{
	static const struct transcript t = {
		"EHLO and HELO reset the transaction",
		IN_EHLO IN_TXN "EHLO d.example\r\nRCPT TO:<c@d>\r\n" IN_TXN
			       "BDAT 2\r\nabHELO e.example\r\nDATA\r\nQUIT\r\n",
		R_GREET R_EHLO R_MAIL R_RCPT R_EHLO R_NEED_MAIL R_MAIL R_RCPT "250 2.0.0 Ok: 2 octets\r\n"
									      "250 smtpsink\r\n" R_NEED_MAIL R_BYE,
		E_GREET E_EHLO E_MAIL E_RCPT
		"CMD EHLO\nRESET\nHELO EHLO name=<d.example>\nCMD RCPT\n" E_MAIL E_RCPT E_BDAT_BEGIN
		"CMD HELO\nMSG_ABORT reason=helo body=\"ab\"\nRESET\nHELO HELO name=<e.example>\n"
		"CMD DATA\n" E_QUIT,
	};
	expect_default(&t);
}

int main(void)
{
	test_greeting();
	test_helo_ehlo();
	test_ext_switched_off();
	test_lenient_and_strict();
	test_mail();
	test_mail_path_length();
	test_rcpt();
	test_command_order();
	test_data();
	test_bare_lf_policies();
	test_bdat();
	test_bdat_malformed();
	test_rset_everywhere();
	test_simple_commands();
	test_ehlo_mid_transaction();
	return harness_finish("test_session");
}
