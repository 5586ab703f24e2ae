/*
 * tests/core/session_golden.h - the reply and event lines that the golden
 * session transcripts share (test_session.c, test_session_modes.c).
 *
 * Owns: the default configuration's fixed texts (banner, EHLO keywords,
 * the common replies and event lines) as string-literal macros, so that a
 * transcript reads as a concatenation of what the session says, and the
 * struct transcript with its expect helpers, and a growable string for
 * scenarios built by loops (allocation failure aborts: test code).  It decides nothing: every
 * text here is written from the issue, the RFCs and Postfix's wording.
 */
#ifndef SMTPSINK_TESTS_SESSION_GOLDEN_H
#define SMTPSINK_TESTS_SESSION_GOLDEN_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"
#include "test_text.h"

/* ---- default configuration (hostname "smtpsink", every extension) ---- */

#define R_GREET "220 smtpsink ESMTP smtpsink\r\n"
#define K_HOST "250-smtpsink\r\n"
#define K_PIPE "250-PIPELINING\r\n"
#define K_SIZE "250-SIZE 52428800\r\n"
#define K_8BIT "250-8BITMIME\r\n"
#define K_UTF8 "250-SMTPUTF8\r\n"
#define K_ENH "250-ENHANCEDSTATUSCODES\r\n"
#define K_AUTH "250-AUTH PLAIN LOGIN\r\n"
#define K_DSN "250-DSN\r\n"
#define K_CHUNK "250 CHUNKING\r\n"
#define R_EHLO K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_ENH K_AUTH K_DSN K_CHUNK
#define R_OK "250 2.0.0 Ok\r\n"
#define R_MAIL "250 2.1.0 Ok\r\n"
#define R_RCPT "250 2.1.5 Ok\r\n"
#define R_354 "354 End data with <CR><LF>.<CR><LF>\r\n"
#define R_Q1 "250 2.0.0 Ok: queued as Q1\r\n"
#define R_Q2 "250 2.0.0 Ok: queued as Q2\r\n"
#define R_BYE "221 2.0.0 Bye\r\n"
#define R_NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define R_UNKNOWN "500 5.5.1 Error: command not recognized\r\n"
#define R_NOT_IMPL "502 5.5.1 Error: command not implemented\r\n"

#define IN_EHLO "EHLO c.example\r\n"
#define IN_TXN "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"

#define E_GREET "GREETING\n"
#define E_EHLO "CMD EHLO\nHELO EHLO name=<c.example>\n"
#define E_MAIL "CMD MAIL\nMAIL from=<a@b> params=<>\n"
#define E_RCPT "CMD RCPT\nRCPT to=<c@d> params=<>\n"
#define E_QUIT "CMD QUIT\nQUIT\nCLOSE reason=quit\n"
#define E_BDAT_BEGIN "CMD BDAT\nDATA_BEGIN bdat\n"
#define E_DATA_HI "CMD DATA\nDATA_BEGIN\nMSG_END size=4 rcpts=1 flags=- body=\"hi\\r\\n\"\n"

/* A whole scenario: input, reply bytes, event text. */
struct transcript {
	const char *name;
	const char *in;
	const char *replies;
	const char *events;
};

/* Whole, at every split and byte by byte; names the scenario on failure. */
static inline void expect_opts(const struct harness_opts *o, const struct transcript *t)
{
	if (harness_expect_all_splits(o, t->in, strlen(t->in), t->replies, t->events))
		fprintf(stderr, "  scenario: %s\n", t->name);
}

static inline void expect_cfg(const struct smtp_config *cfg, const struct transcript *t)
{
	struct harness_opts o = { .cfg = cfg };
	expect_opts(&o, t);
}

static inline void expect_default(const struct transcript *t)
{
	expect_cfg(NULL, t);
}

#endif
