/*
 * tests/core/fdrv.h - the session driver of the tests where the layer above
 * answers events or calls into the session (test_session_answers.c,
 * test_session_quirks.c).
 *
 * Owns: struct fdrv, one session with its own feed loop: the harness's
 * override hook sees only COMMAND events, so here the event callback answers
 * MAIL and RCPT by address (and COMMAND by verb), may call
 * smtp_session_pause() at a chosen event, and records every event (BODY left
 * out) as one line.  Each fdrv_feed() call is one client write, so whether a
 * command was pipelined is decided by the test.  Also the reply, input and
 * event texts both test files script with: core/'s Postfix wording with
 * hostname "smtpsink".
 *
 * Does not: decide what the session should say (the tests do), or check the
 * feed contract over every split (session_harness.c does that).
 *
 * Workload: a few dozen short sessions per test executable.
 */
#ifndef SMTPSINK_TESTS_FDRV_H
#define SMTPSINK_TESTS_FDRV_H

#include <stdint.h>

#include "session_harness.h"
#include "smtp_session.h"
#include "test_text.h"

#define OUT_CAP 8192u

#define BANNER "220 smtpsink ESMTP smtpsink\r\n"
#define R_HELO "250 smtpsink\r\n"
#define R_MAIL "250 2.1.0 Ok\r\n"
#define R_RCPT "250 2.1.5 Ok\r\n"
#define R_354 "354 End data with <CR><LF>.<CR><LF>\r\n"
#define R_Q1 "250 2.0.0 Ok: queued as Q1\r\n"
#define R_BYE "221 2.0.0 Bye\r\n"
#define R_NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define R_NO_VALID "554 5.5.1 Error: no valid recipients\r\n"

#define I_HELO "HELO x\r\n"
#define I_EHLO "EHLO x\r\n"
#define I_MAIL "MAIL FROM:<a@b>\r\n"
#define I_RCPT "RCPT TO:<c@d>\r\n"
#define I_BAD "RCPT TO:<bad@d>\r\n"
#define I_DATA "DATA\r\n"
#define I_QUIT "QUIT\r\n"

#define E_G "GREETING\n"
#define E_HELO "CMD HELO\nHELO\n"
#define E_EHLO "CMD EHLO\nHELO\n"
#define E_MAIL "CMD MAIL\nMAIL <a@b>\n"
#define E_RCPT "CMD RCPT\nRCPT <c@d>\n"
#define E_BAD "CMD RCPT\nRCPT <bad@d>\n"
#define E_DATA "CMD DATA\nDATA_BEGIN\n"
#define E_QUIT "CMD QUIT\nQUIT\nCLOSE quit\n"

struct fdrv {
	struct smtp_config cfg;
	struct smtp_session s;
	uint8_t carry[LINE_SCAN_CARRY_BYTES]; /* lent for good */
	struct smtp_out out;
	uint8_t buf[OUT_CAP];
	struct test_text replies; /* everything written, drained or not */
	struct test_text events; /* one line per event */
	/* answers: an address-matched override at MAIL / RCPT, a verb-matched
	 * one at COMMAND */
	const char *mail_addr;
	const struct smtp_override *mail_ov;
	const char *rcpt_addr;
	const struct smtp_override *rcpt_ov;
	enum smtp_verb cmd_verb;
	const struct smtp_override *cmd_ov;
	uint32_t last_msg_flags; /* of the last MSG_END */
	uint32_t last_cmd_flags; /* of the last COMMAND event */
	int pause_on; /* an event type whose callback calls smtp_session_pause(); -1: none */
	enum smtp_verb pause_verb; /* ... for COMMAND: this verb only */
	enum smtp_stop last_stop;
	size_t last_used; /* consumed by the last feed() call */
};

/* Zeroes d and starts its session with cfg (NULL: the defaults); greets. */
void fdrv_init(struct fdrv *d, const struct smtp_config *cfg);
/* Moves what the session wrote into d->replies. */
void fdrv_drain(struct fdrv *d);
/* One client write, fed until used up or the session stops; verdicts are 250 Q1. */
enum smtp_stop fdrv_feed(struct fdrv *d, const char *in);
/* Each of the NULL-ended writes in turn. */
void fdrv_writes(struct fdrv *d, const char *const *writes);
void fdrv_free(struct fdrv *d);

#define CHECK_REPLIES(d, want) CHECK_STR((d)->replies.p, (d)->replies.len, want)
#define CHECK_EVENTS(d, want) CHECK_STR((d)->events.p, (d)->events.len, want)

#endif
