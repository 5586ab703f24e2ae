/*
 * tests/core/test_session_faults.c - answers from the layer above and the
 * quirks that tell clients apart, against the session core.
 *
 * Owns: (a) overrides returned by the SMTP_EV_MAIL / SMTP_EV_RCPT callbacks
 * (refusal, a 2xx text, a 2xx without text, close, close without a reply)
 * next to the COMMAND-time overrides they must not disturb; (b)
 * smtp_session_fail() mid-DATA, without a text, idle, and after the close;
 * (c) the quirk bits PIPELINING_NO_EHLO, PIPELINING_UNADVERTISED (and that
 * the two exclude each other), BARE_LF_CONTENT, BARE_CR_CONTENT and
 * CONTENT_BEFORE_354, none of which a clean session sets.
 *
 * The harness's override hook sees only COMMAND events, so this file has
 * its own feed loop: the callback answers MAIL and RCPT by address, and
 * records every event (BODY left out) as one line.  Each feed() call is one
 * client write, so whether a command was pipelined is decided by the test.
 * Reply texts are core/'s Postfix wording with hostname "smtpsink".
 *
 * Workload: a few dozen short sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the driver ------------------------------------------------------------ */

struct fdrv {
	struct smtp_config cfg;
	struct smtp_session s;
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

static bool view_is(struct smtp_view v, const char *s)
{
	return s != NULL && v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static void log_view(struct test_text *t, const char *what, struct smtp_view v)
{
	text_str(t, what);
	text_str(t, " <");
	text_escaped(t, v.ptr, v.len);
	text_str(t, ">\n");
}

static const struct smtp_override *fdrv_event(void *ctx, const struct smtp_event *ev)
{
	struct fdrv *d = ctx;
	struct test_text *t = &d->events;
	if ((int)ev->type == d->pause_on && (ev->type != SMTP_EV_COMMAND || ev->verb == d->pause_verb))
		smtp_session_pause(&d->s);
	switch (ev->type) {
	case SMTP_EV_GREETING:
		text_str(t, "GREETING\n");
		return NULL;
	case SMTP_EV_COMMAND:
		d->last_cmd_flags = ev->flags;
		text_printf(t, "CMD %s\n", smtp_cmd_name(ev->verb));
		return d->cmd_ov != NULL && ev->verb == d->cmd_verb ? d->cmd_ov : NULL;
	case SMTP_EV_HELO:
		text_str(t, "HELO\n");
		return NULL;
	case SMTP_EV_MAIL:
		log_view(t, "MAIL", ev->arg);
		return view_is(ev->arg, d->mail_addr) ? d->mail_ov : NULL;
	case SMTP_EV_RCPT:
		log_view(t, "RCPT", ev->arg);
		return view_is(ev->arg, d->rcpt_addr) ? d->rcpt_ov : NULL;
	case SMTP_EV_DATA_BEGIN:
		text_str(t, "DATA_BEGIN\n");
		return NULL;
	case SMTP_EV_BODY:
		return NULL;
	case SMTP_EV_MSG_END:
		d->last_msg_flags = ev->flags;
		text_printf(t, "MSG_END rcpts=%u\n", (unsigned)ev->rcpts);
		return NULL;
	case SMTP_EV_MSG_ABORT:
		text_printf(t, "MSG_ABORT %s\n", harness_reason_name(ev->reason));
		return NULL;
	case SMTP_EV_RESET:
		text_printf(t, "RESET %s\n", harness_reason_name(ev->reason));
		return NULL;
	case SMTP_EV_QUIT:
		text_str(t, "QUIT\n");
		return NULL;
	case SMTP_EV_CLOSE:
		text_printf(t, "CLOSE %s\n", harness_reason_name(ev->reason));
		return NULL;
	default:
		text_str(t, "OTHER\n");
		return NULL;
	}
}

static void fdrv_drain(struct fdrv *d)
{
	text_add(&d->replies, d->out.buf, d->out.len);
	d->out.len = 0;
}

/* cfg NULL: the defaults.  Greets. */
static void fdrv_init(struct fdrv *d, const struct smtp_config *cfg)
{
	memset(d, 0, sizeof *d);
	if (cfg != NULL)
		d->cfg = *cfg;
	else
		smtp_config_defaults(&d->cfg);
	d->out.buf = d->buf;
	d->out.cap = sizeof d->buf;
	d->pause_on = -1;
	text_str(&d->replies, "");
	text_str(&d->events, "");
	smtp_session_init(&d->s, &d->cfg, fdrv_event, d);
	smtp_session_greet(&d->s, &d->out);
	fdrv_drain(d);
}

/* One client write: feed it until it is used up or the session stops for
 * good; verdicts are 250 Q1. */
static enum smtp_stop fdrv_feed(struct fdrv *d, const char *in)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t len = strlen(in);
	d->last_used = 0;
	for (;;) {
		size_t used = 0;
		enum smtp_stop st = smtp_session_feed(&d->s, p, len, &used, &d->out);
		p += used;
		len -= used;
		d->last_used += used;
		if (st == SMTP_STOP_VERDICT) {
			struct smtp_verdict v = { .code = 250, .qid = "Q1" };
			st = smtp_session_verdict(&d->s, &v, &d->out);
			fdrv_drain(d);
			if (st == SMTP_STOP_CLOSE)
				return d->last_stop = st;
			continue;
		}
		fdrv_drain(d);
		if (st != SMTP_STOP_OUT_FULL)
			return d->last_stop = st;
	}
}

/* Feed each of the NULL-ended writes in turn. */
static void fdrv_writes(struct fdrv *d, const char *const *writes)
{
	for (size_t i = 0; writes[i] != NULL; i++)
		fdrv_feed(d, writes[i]);
}

static void fdrv_free(struct fdrv *d)
{
	text_free(&d->replies);
	text_free(&d->events);
}

#define CHECK_REPLIES(d, want) CHECK_STR((d)->replies.p, (d)->replies.len, want)
#define CHECK_EVENTS(d, want) CHECK_STR((d)->events.p, (d)->events.len, want)

/* ---- (a) answers at MAIL and RCPT ------------------------------------------ */

/* A 4xx/5xx answer at RCPT refuses the recipient: its reply is the
 * override's, the recipient is not counted, and DATA with no other one is
 * 554 no valid recipients.  The refusal is not a client error. */
static void test_rcpt_refused(void)
{
	static const uint16_t codes[] = { 550, 450 };
	static const char *const texts[] = { "5.1.1 <bad@d>: Recipient address rejected", "4.2.1 Mailbox busy" };
	static const char *const want_replies[] = {
		BANNER R_HELO R_MAIL "550 5.1.1 <bad@d>: Recipient address rejected\r\n" R_NO_VALID R_BYE,
		BANNER R_HELO R_MAIL "450 4.2.1 Mailbox busy\r\n" R_NO_VALID R_BYE,
	};
	for (size_t i = 0; i < 2; i++) {
		struct fdrv d;
		struct smtp_override ov = { codes[i], false, texts[i] };
		fdrv_init(&d, NULL);
		d.rcpt_addr = "bad@d";
		d.rcpt_ov = &ov;
		static const char *const w1[] = { I_HELO, I_MAIL, I_BAD, NULL };
		fdrv_writes(&d, w1);
		CHECK_U64(d.s.rcpts, 0);
		CHECK_U64(d.s.rcpts_refused, 1);
		CHECK_U64(d.s.errors, 0);
		CHECK_U64(d.s.txn, SMTP_TXN_MAIL);
		static const char *const w2[] = { I_DATA, I_QUIT, NULL };
		fdrv_writes(&d, w2);
		CHECK_REPLIES(&d, want_replies[i]);
		CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_BAD "CMD DATA\n" E_QUIT);
		/* the 554 follows from the layer above's refusal: not the
		 * client's error (issue 12: pipelining clients send DATA anyway) */
		CHECK_U64(d.s.errors, 0);
		fdrv_free(&d);
	}
}

/* A pipelining client whose recipients are all refused by the layer above
 * sends DATA (or BDAT LAST) anyway, as RFC 2920/3030 allow, message after
 * message: the 554s are not its errors, so max_errors (20) never closes the
 * session; a MAIL refused above makes the RCPT and DATA after it 503, not
 * errors either.  The session's own refusals still count. */
static void test_refusals_above_not_errors(void)
{
	struct fdrv d;
	struct smtp_override ov = { 550, false, "5.1.1 <bad@d>: Recipient address rejected" };
	fdrv_init(&d, NULL);
	d.rcpt_addr = "bad@d";
	d.rcpt_ov = &ov;
	fdrv_feed(&d, I_EHLO);
	for (int i = 0; i < 30; i++) {
		fdrv_feed(&d, I_MAIL I_BAD I_BAD I_DATA);
		fdrv_feed(&d, "RSET\r\n" I_MAIL I_BAD "BDAT 4 LAST\r\nabcd");
		fdrv_feed(&d, "RSET\r\n");
	}
	CHECK_U64(d.s.errors, 0);
	CHECK(d.s.state != SMTP_STATE_CLOSED);
	CHECK(strstr(d.replies.p, "421") == NULL);
	/* MAIL refused above: the RCPT and DATA behind it are not errors */
	d.mail_addr = "a@b";
	struct smtp_override mail_ov = { 451, false, "4.7.1 Try later" };
	d.mail_ov = &mail_ov;
	fdrv_feed(&d, I_MAIL I_RCPT I_DATA);
	CHECK_U64(d.s.errors, 0);
	/* the session's own refusal is the client's error: a syntax-refused
	 * RCPT, then DATA */
	d.mail_ov = NULL;
	fdrv_feed(&d, "RSET\r\n" I_MAIL "RCPT TO:<a b>\r\n" I_DATA);
	CHECK_U64(d.s.errors, 2);
	fdrv_free(&d);
}

/* A refused recipient next to an accepted one: the message has one. */
static void test_rcpt_refused_mixed(void)
{
	struct fdrv d;
	struct smtp_override ov = { 550, false, "5.1.1 No such user" };
	fdrv_init(&d, NULL);
	d.rcpt_addr = "bad@d";
	d.rcpt_ov = &ov;
	static const char *const w[] = { I_HELO, I_MAIL, I_BAD, I_RCPT, I_DATA, "hi\r\n.\r\n", I_QUIT, NULL };
	fdrv_writes(&d, w);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL "550 5.1.1 No such user\r\n" R_RCPT R_354 R_Q1 R_BYE);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_BAD E_RCPT E_DATA "MSG_END rcpts=1\n" E_QUIT);
	CHECK_U64(d.s.errors, 0);
	fdrv_free(&d);
}

/* A 2xx answer with a text keeps the recipient and replaces "250 2.1.5
 * Ok"; one without a text (NULL or empty) changes nothing. */
static void test_rcpt_2xx(void)
{
	struct fdrv d;
	struct smtp_override ov = { 250, false, "2.1.5 Recipient ok, will be delayed" };
	fdrv_init(&d, NULL);
	d.rcpt_addr = "c@d";
	d.rcpt_ov = &ov;
	static const char *const w[] = { I_HELO, I_MAIL, I_RCPT, I_DATA, "hi\r\n.\r\n", I_QUIT, NULL };
	fdrv_writes(&d, w);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL "250 2.1.5 Recipient ok, will be delayed\r\n" R_354 R_Q1 R_BYE);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_DATA "MSG_END rcpts=1\n" E_QUIT);
	fdrv_free(&d);

	static const struct smtp_override plain[] = {
		{ 250, false, NULL },
		{ 250, false, "" },
		{ 251, false, NULL },
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		fdrv_init(&d, NULL);
		d.rcpt_addr = "c@d";
		d.rcpt_ov = &plain[i];
		fdrv_writes(&d, w);
		CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT R_354 R_Q1 R_BYE);
		CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_DATA "MSG_END rcpts=1\n" E_QUIT);
		fdrv_free(&d);
	}
}

/* An answer at MAIL: a refusal undoes the transaction (RCPT is 503 need
 * MAIL, a new MAIL is accepted); a 2xx text replaces "250 2.1.0 Ok". */
static void test_mail_answers(void)
{
	struct fdrv d;
	struct smtp_override no = { 550, false, "5.7.1 Sender refused" };
	fdrv_init(&d, NULL);
	d.mail_addr = "a@b";
	d.mail_ov = &no;
	static const char *const w1[] = { I_HELO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w1);
	CHECK_U64(d.s.txn, SMTP_TXN_NONE);
	CHECK(smtp_session_is_idle(&d.s));
	static const char *const w2[] = { "MAIL FROM:<ok@b>\r\n", I_RCPT, I_QUIT, NULL };
	fdrv_writes(&d, w2);
	CHECK_REPLIES(&d, BANNER R_HELO "550 5.7.1 Sender refused\r\n" R_NEED_MAIL R_MAIL R_RCPT R_BYE);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL "CMD RCPT\n"
					   "CMD MAIL\nMAIL <ok@b>\n" E_RCPT E_QUIT);
	fdrv_free(&d);

	struct smtp_override yes = { 250, false, "2.1.0 Sender looks fine" };
	fdrv_init(&d, NULL);
	d.mail_addr = "a@b";
	d.mail_ov = &yes;
	static const char *const w3[] = { I_HELO, I_MAIL, I_RCPT, I_DATA, "hi\r\n.\r\n", NULL };
	fdrv_writes(&d, w3);
	CHECK_REPLIES(&d, BANNER R_HELO "250 2.1.0 Sender looks fine\r\n" R_RCPT R_354 R_Q1);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_DATA "MSG_END rcpts=1\n");
	fdrv_free(&d);
}

/* close = true: the reply, then SMTP_EV_CLOSE reason fault; the rest of
 * the client's write is not consumed. */
static void test_answer_close(void)
{
	struct fdrv d;
	struct smtp_override bye = { 421, true, "4.7.0 smtpsink Closing" };
	fdrv_init(&d, NULL);
	d.rcpt_addr = "bad@d";
	d.rcpt_ov = &bye;
	static const char *const w[] = { I_HELO, I_MAIL, NULL };
	fdrv_writes(&d, w);
	CHECK(fdrv_feed(&d, I_RCPT I_BAD I_RCPT I_QUIT) == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, strlen(I_RCPT I_BAD));
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT "421 4.7.0 smtpsink Closing\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_BAD "CLOSE fault\n");
	CHECK_U64(d.s.state, SMTP_STATE_CLOSED);
	CHECK_U64(d.s.txn, SMTP_TXN_NONE);
	CHECK(fdrv_feed(&d, I_QUIT) == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, 0);
	fdrv_free(&d);

	/* at MAIL */
	fdrv_init(&d, NULL);
	d.mail_addr = "a@b";
	d.mail_ov = &bye;
	fdrv_feed(&d, I_HELO);
	CHECK(fdrv_feed(&d, I_MAIL I_RCPT) == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, strlen(I_MAIL));
	CHECK_REPLIES(&d, BANNER R_HELO "421 4.7.0 smtpsink Closing\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL "CLOSE fault\n");
	fdrv_free(&d);

	/* a 2xx text with close: accepted, its reply, then the close */
	struct smtp_override ok_bye = { 250, true, "2.1.5 Ok, and goodbye" };
	fdrv_init(&d, NULL);
	d.rcpt_addr = "c@d";
	d.rcpt_ov = &ok_bye;
	fdrv_writes(&d, w);
	CHECK(fdrv_feed(&d, I_RCPT) == SMTP_STOP_CLOSE);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL "250 2.1.5 Ok, and goodbye\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT "CLOSE fault\n");
	fdrv_free(&d);
}

/* close with an empty text: no reply at all, and the close. */
static void test_answer_silent_close(void)
{
	static const struct smtp_override silent[] = {
		{ 421, true, "" },
		{ 550, true, NULL },
	};
	for (size_t i = 0; i < sizeof silent / sizeof silent[0]; i++) {
		struct fdrv d;
		fdrv_init(&d, NULL);
		d.rcpt_addr = "c@d";
		d.rcpt_ov = &silent[i];
		static const char *const w[] = { I_HELO, I_MAIL, NULL };
		fdrv_writes(&d, w);
		CHECK(fdrv_feed(&d, I_RCPT) == SMTP_STOP_CLOSE);
		CHECK_REPLIES(&d, BANNER R_HELO R_MAIL);
		CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT "CLOSE fault\n");
		fdrv_free(&d);

		fdrv_init(&d, NULL);
		d.mail_addr = "a@b";
		d.mail_ov = &silent[i];
		fdrv_feed(&d, I_HELO);
		CHECK(fdrv_feed(&d, I_MAIL) == SMTP_STOP_CLOSE);
		CHECK_REPLIES(&d, BANNER R_HELO);
		CHECK_EVENTS(&d, E_G E_HELO E_MAIL "CLOSE fault\n");
		fdrv_free(&d);
	}
}

/* COMMAND-time overrides as before: a refusal of RCPT counts it refused
 * (no RCPT event), a 2xx text at MAIL runs it and replaces the reply, a
 * refusal at DATA leaves the transaction, a close at NOOP closes. */
/* A BDAT refused by a COMMAND override still reads its chunk (RFC 3030:
 * the stream stays in sync), in any cut, and answers once it is read; the
 * refusal is not a client error; later chunks of the transaction get 551
 * until LAST, and a new transaction works.  With close: at once. */
static void test_bdat_override(void)
{
	struct fdrv d;
	struct smtp_override full = { 452, false, "4.3.1 Insufficient storage" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_BDAT;
	d.cmd_ov = &full;
	static const char *const w1[] = { I_EHLO, I_MAIL, I_RCPT, "BDAT 7\r\nhel", "lo\r\n", NULL };
	fdrv_writes(&d, w1);
	CHECK_U64(d.s.state, SMTP_STATE_COMMAND);
	CHECK_U64(d.s.errors, 0);
	d.cmd_ov = NULL;
	static const char *const w2[] = { "BDAT 6 LAST\r\nQUIT\r", "\n", I_MAIL, I_RCPT, "BDAT 4 LAST\r\nabcd", NULL };
	fdrv_writes(&d, w2);
	size_t ehlo_end = strstr(d.replies.p, "250 CHUNKING\r\n") - d.replies.p + strlen("250 CHUNKING\r\n");
	CHECK_STR(d.replies.p + ehlo_end, d.replies.len - ehlo_end,
		  R_MAIL R_RCPT "452 4.3.1 Insufficient storage\r\n"
				"551 5.0.0 Error: chunk discarded after an earlier error\r\n" R_MAIL R_RCPT R_Q1);
	fdrv_free(&d);

	struct smtp_override bye = { 421, true, "4.7.0 Closing" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_BDAT;
	d.cmd_ov = &bye;
	static const char *const w3[] = { I_EHLO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w3);
	CHECK(fdrv_feed(&d, "BDAT 7 LAST\r\nhello\r\n") == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, strlen("BDAT 7 LAST\r\n"));
	fdrv_free(&d);
}

static void test_command_overrides(void)
{
	struct fdrv d;
	struct smtp_override no = { 550, false, "5.7.1 Not now" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_RCPT;
	d.cmd_ov = &no;
	static const char *const w1[] = { I_HELO, I_MAIL, I_RCPT, I_DATA, I_QUIT, NULL };
	fdrv_writes(&d, w1);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL "550 5.7.1 Not now\r\n" R_NO_VALID R_BYE);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL "CMD RCPT\nCMD DATA\n" E_QUIT);
	fdrv_free(&d);

	struct smtp_override yes = { 250, false, "2.1.0 Fine" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_MAIL;
	d.cmd_ov = &yes;
	static const char *const w2[] = { I_HELO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w2);
	CHECK_REPLIES(&d, BANNER R_HELO "250 2.1.0 Fine\r\n" R_RCPT);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT);
	CHECK_U64(d.s.rcpts, 1);
	fdrv_free(&d);

	struct smtp_override busy = { 451, false, "4.3.0 Try later" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_DATA;
	d.cmd_ov = &busy;
	static const char *const w3[] = { I_HELO, I_MAIL, I_RCPT, I_DATA, NULL };
	fdrv_writes(&d, w3);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT "451 4.3.0 Try later\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT "CMD DATA\n");
	CHECK_U64(d.s.txn, SMTP_TXN_MAIL);
	CHECK_U64(d.s.rcpts, 1);
	fdrv_free(&d);

	struct smtp_override bye = { 421, true, "4.7.0 Bye now" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_NOOP;
	d.cmd_ov = &bye;
	fdrv_feed(&d, I_HELO);
	CHECK(fdrv_feed(&d, "NOOP\r\n") == SMTP_STOP_CLOSE);
	CHECK_REPLIES(&d, BANNER R_HELO "421 4.7.0 Bye now\r\n");
	CHECK_EVENTS(&d, E_G E_HELO "CMD NOOP\nCLOSE fault\n");
	fdrv_free(&d);
}

/* ---- (b) smtp_session_fail() ----------------------------------------------- */

static void test_fail(void)
{
	struct fdrv d;
	static const char *const txn[] = { I_HELO, I_MAIL, I_RCPT, I_DATA, "partial line\r\nmore", NULL };

	/* mid-DATA, with a text */
	fdrv_init(&d, NULL);
	fdrv_writes(&d, txn);
	CHECK_U64(d.s.state, SMTP_STATE_DATA);
	smtp_session_fail(&d.s, 550, "5.3.0 aborted", &d.out);
	fdrv_drain(&d);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT R_354 "550 5.3.0 aborted\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_DATA "MSG_ABORT fault\nCLOSE fault\n");
	CHECK_U64(d.s.state, SMTP_STATE_CLOSED);
	CHECK_U64(d.s.txn, SMTP_TXN_NONE);
	CHECK_U64(d.s.rcpts, 0);
	CHECK(!smtp_session_is_idle(&d.s));
	CHECK(fdrv_feed(&d, "\r\n.\r\n") == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, 0);
	fdrv_free(&d);

	/* mid-DATA, no text: no bytes */
	fdrv_init(&d, NULL);
	fdrv_writes(&d, txn);
	size_t before = d.replies.len;
	smtp_session_fail(&d.s, 421, NULL, &d.out);
	CHECK_U64(d.out.len, 0);
	fdrv_drain(&d);
	CHECK_U64(d.replies.len, before);
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT E_DATA "MSG_ABORT fault\nCLOSE fault\n");
	CHECK_U64(d.s.state, SMTP_STATE_CLOSED);
	fdrv_free(&d);

	/* in a transaction without a message: no MSG_ABORT */
	fdrv_init(&d, NULL);
	static const char *const open[] = { I_HELO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, open);
	smtp_session_fail(&d.s, 451, "4.3.0 gone", &d.out);
	fdrv_drain(&d);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT "451 4.3.0 gone\r\n");
	CHECK_EVENTS(&d, E_G E_HELO E_MAIL E_RCPT "CLOSE fault\n");
	CHECK_U64(d.s.txn, SMTP_TXN_NONE);
	fdrv_free(&d);

	/* idle, right after the banner */
	fdrv_init(&d, NULL);
	CHECK(smtp_session_is_idle(&d.s));
	smtp_session_fail(&d.s, 421, "4.3.2 Going away", &d.out);
	fdrv_drain(&d);
	CHECK_REPLIES(&d, BANNER "421 4.3.2 Going away\r\n");
	CHECK_EVENTS(&d, E_G "CLOSE fault\n");
	CHECK(!smtp_session_is_idle(&d.s));
	fdrv_free(&d);

	/* without ENHANCEDSTATUSCODES the enhanced code is dropped */
	struct smtp_config plain;
	smtp_config_defaults(&plain);
	plain.ext &= ~(uint32_t)SMTP_EXT_ENHANCEDSTATUSCODES;
	fdrv_init(&d, &plain);
	smtp_session_fail(&d.s, 550, "5.3.0 aborted", &d.out);
	fdrv_drain(&d);
	CHECK_REPLIES(&d, BANNER "550 aborted\r\n");
	fdrv_free(&d);

	/* after the close: nothing at all */
	fdrv_init(&d, NULL);
	static const char *const quit[] = { I_HELO, I_QUIT, NULL };
	fdrv_writes(&d, quit);
	CHECK(d.last_stop == SMTP_STOP_CLOSE);
	before = d.events.len;
	smtp_session_fail(&d.s, 550, "5.3.0 aborted", &d.out);
	smtp_session_fail(&d.s, 550, NULL, &d.out);
	CHECK_U64(d.out.len, 0);
	CHECK_U64(d.events.len, before);
	CHECK_REPLIES(&d, BANNER R_HELO R_BYE);
	CHECK_EVENTS(&d, E_G E_HELO E_QUIT);
	fdrv_free(&d);

	/* after a fail, a second one: nothing more */
	fdrv_init(&d, NULL);
	smtp_session_fail(&d.s, 421, NULL, &d.out);
	smtp_session_fail(&d.s, 421, "4.3.2 again", &d.out);
	fdrv_drain(&d);
	CHECK_REPLIES(&d, BANNER);
	CHECK_EVENTS(&d, E_G "CLOSE fault\n");
	fdrv_free(&d);
}

/* ---- (c) quirks ----------------------------------------------------------- */

#define Q_PIPE_BITS (SMTP_QUIRK_PIPELINING_NO_EHLO | SMTP_QUIRK_PIPELINING_UNADVERTISED)
#define Q_NEW_BITS                                                                                         \
	(SMTP_QUIRK_PIPELINING_NO_EHLO | SMTP_QUIRK_PIPELINING_UNADVERTISED | SMTP_QUIRK_BARE_LF_CONTENT | \
	 SMTP_QUIRK_BARE_CR_CONTENT | SMTP_QUIRK_CONTENT_BEFORE_354)

static void test_quirk_pipelining_no_ehlo(void)
{
	struct fdrv d;
	/* HELO, then MAIL and RCPT in one write */
	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_HELO);
	CHECK_U64(d.s.quirks, 0);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_REPLIES(&d, BANNER R_HELO R_MAIL R_RCPT);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, SMTP_QUIRK_PIPELINING_NO_EHLO);
	CHECK(!(d.s.quirks & SMTP_QUIRK_ILL_PIPELINING)); /* MAIL may be inside a group */
	CHECK_U64(d.s.rcpts, 1);
	fdrv_free(&d);

	/* no HELO at all */
	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_REPLIES(&d, BANNER R_MAIL R_RCPT);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, SMTP_QUIRK_PIPELINING_NO_EHLO);
	CHECK(d.s.quirks & SMTP_QUIRK_NO_HELO);
	fdrv_free(&d);

	/* HELO with PIPELINING off: still NO_EHLO, never both */
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.ext &= ~(uint32_t)SMTP_EXT_PIPELINING;
	fdrv_init(&d, &c);
	fdrv_feed(&d, I_HELO);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, SMTP_QUIRK_PIPELINING_NO_EHLO);
	fdrv_free(&d);

	/* the same write, command by command: no quirk */
	fdrv_init(&d, NULL);
	static const char *const w[] = { I_HELO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, 0);
	fdrv_free(&d);
}

static void test_quirk_pipelining_unadvertised(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.ext &= ~(uint32_t)SMTP_EXT_PIPELINING;
	struct fdrv d;
	fdrv_init(&d, &c);
	fdrv_feed(&d, I_EHLO);
	CHECK_U64(d.s.quirks, 0);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_REPLIES(&d, BANNER
		      "250-smtpsink\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
		      "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250-DSN\r\n250 CHUNKING\r\n" R_MAIL R_RCPT);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, SMTP_QUIRK_PIPELINING_UNADVERTISED);
	fdrv_free(&d);

	/* EHLO with PIPELINING advertised: neither */
	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_EHLO);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_REPLIES(&d, BANNER "250-smtpsink\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
				 "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250-DSN\r\n"
				 "250 CHUNKING\r\n" R_MAIL R_RCPT);
	CHECK_U64(d.s.quirks, 0);
	fdrv_free(&d);

	/* a HELO after the EHLO makes it NO_EHLO again, not UNADVERTISED */
	fdrv_init(&d, &c);
	fdrv_feed(&d, I_EHLO);
	fdrv_feed(&d, I_HELO);
	fdrv_feed(&d, I_MAIL I_RCPT);
	CHECK_U64(d.s.quirks & Q_PIPE_BITS, SMTP_QUIRK_PIPELINING_NO_EHLO);
	fdrv_free(&d);
}

static void test_quirk_content(void)
{
	static const struct {
		const char *content;
		uint32_t quirks;
		uint32_t msg_flags;
	} rows[] = {
		{ "a\nb\r\n.\r\n", SMTP_QUIRK_BARE_LF_CONTENT, SMTP_MSG_BARE_LF },
		{ "a\rb\r\n.\r\n", SMTP_QUIRK_BARE_CR_CONTENT, SMTP_MSG_BARE_CR },
		{ "a\rb\nc\r\n.\r\n", SMTP_QUIRK_BARE_LF_CONTENT | SMTP_QUIRK_BARE_CR_CONTENT,
		  SMTP_MSG_BARE_LF | SMTP_MSG_BARE_CR },
		{ "clean\r\n.\r\n", 0, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct fdrv d;
		fdrv_init(&d, NULL);
		static const char *const w[] = { I_EHLO, I_MAIL, I_RCPT, I_DATA, NULL };
		fdrv_writes(&d, w);
		d.replies.len = 0;
		fdrv_feed(&d, rows[i].content);
		CHECK_REPLIES(&d, R_Q1);
		CHECK_U64(d.s.quirks & Q_NEW_BITS, rows[i].quirks);
		CHECK_U64(d.last_msg_flags & (SMTP_MSG_BARE_LF | SMTP_MSG_BARE_CR), rows[i].msg_flags);
		fdrv_free(&d);
	}
}

static void test_quirk_content_before_354(void)
{
	struct fdrv d;
	fdrv_init(&d, NULL);
	static const char *const w[] = { I_EHLO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w);
	d.replies.len = 0;
	fdrv_feed(&d, I_DATA "hi\r\n.\r\n");
	CHECK_REPLIES(&d, R_354 R_Q1);
	CHECK_U64(d.s.quirks & Q_NEW_BITS, SMTP_QUIRK_CONTENT_BEFORE_354);
	CHECK(d.s.quirks & SMTP_QUIRK_ILL_PIPELINING); /* DATA ends a group */
	CHECK(d.last_msg_flags & SMTP_MSG_ILL_PIPELINING);
	fdrv_free(&d);

	/* DATA alone, content in the next write: no quirk */
	fdrv_init(&d, NULL);
	fdrv_writes(&d, w);
	fdrv_feed(&d, I_DATA);
	fdrv_feed(&d, "hi\r\n.\r\n");
	CHECK_U64(d.s.quirks, 0);
	CHECK(!(d.last_msg_flags & SMTP_MSG_ILL_PIPELINING));
	fdrv_free(&d);
}

/* A clean session, one command per write, two messages, sets no quirk. */
static void test_clean_session(void)
{
	static const char *const cfgs_ext_off[] = { "all", "no-pipelining" };
	for (size_t i = 0; i < 2; i++) {
		struct smtp_config c;
		smtp_config_defaults(&c);
		if (i == 1)
			c.ext &= ~(uint32_t)SMTP_EXT_PIPELINING;
		struct fdrv d;
		fdrv_init(&d, &c);
		static const char *const w[] = { I_EHLO,     I_MAIL, I_RCPT, I_DATA, "Subject: x\r\n\r\nbody\r\n.\r\n",
						 "RSET\r\n", I_MAIL, I_RCPT, I_DATA, "x\r\n.\r\n",
						 "NOOP\r\n", I_QUIT, NULL };
		fdrv_writes(&d, w);
		if (!CHECK_U64(d.s.quirks, 0))
			fprintf(stderr, "  ^ clean session, %s\n", cfgs_ext_off[i]);
		CHECK(d.last_stop == SMTP_STOP_CLOSE);
		fdrv_free(&d);
	}
}

/* ---- smtp_session_pause() ------------------------------------------------ */

/* One feed() call, no verdict handling: the stop and what it consumed. */
static enum smtp_stop feed_once(struct fdrv *d, const char *in)
{
	size_t used = 0;
	enum smtp_stop st = smtp_session_feed(&d->s, (const uint8_t *)in, strlen(in), &used, &d->out);
	d->last_used = used;
	fdrv_drain(d);
	return st;
}

/* A pause asked for at a command stops feed() right after that command's
 * reply; at DATA_BEGIN right after the 354 (DATA) or the BDAT command line,
 * before any content, whatever came in the same read; a verdict or a close
 * takes precedence and consumes the request. */
static void test_pause(void)
{
	struct fdrv d;
	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_EHLO);
	d.pause_on = SMTP_EV_COMMAND;
	d.pause_verb = SMTP_VERB_MAIL;
	CHECK(feed_once(&d, I_MAIL I_RCPT I_DATA) == SMTP_STOP_PAUSE);
	CHECK_U64(d.last_used, strlen(I_MAIL));
	CHECK(feed_once(&d, I_RCPT I_DATA) == SMTP_STOP_INPUT); /* no request: on to the end */
	d.pause_on = SMTP_EV_DATA_BEGIN;
	fdrv_free(&d);

	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_EHLO I_MAIL I_RCPT);
	d.pause_on = SMTP_EV_DATA_BEGIN;
	CHECK(feed_once(&d, I_DATA "Subject: x\r\n\r\nbody\r\n.\r\n") == SMTP_STOP_PAUSE);
	CHECK_U64(d.last_used, strlen(I_DATA));
	CHECK_U64(d.s.state, SMTP_STATE_DATA);
	CHECK(feed_once(&d, "Subject: x\r\n\r\nbody\r\n.\r\n") == SMTP_STOP_VERDICT);
	fdrv_free(&d);

	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_EHLO I_MAIL I_RCPT);
	d.pause_on = SMTP_EV_DATA_BEGIN;
	CHECK(feed_once(&d, "BDAT 5 LAST\r\nhello") == SMTP_STOP_PAUSE);
	CHECK_U64(d.last_used, strlen("BDAT 5 LAST\r\n"));
	CHECK_U64(d.s.state, SMTP_STATE_BDAT);
	CHECK(feed_once(&d, "hello") == SMTP_STOP_VERDICT);
	fdrv_free(&d);

	/* BDAT 0 LAST completes the message inside the command: the verdict
	 * wins, and the request does not linger */
	fdrv_init(&d, NULL);
	fdrv_feed(&d, I_EHLO I_MAIL I_RCPT);
	d.pause_on = SMTP_EV_DATA_BEGIN;
	CHECK(feed_once(&d, "BDAT 0 LAST\r\n" I_QUIT) == SMTP_STOP_VERDICT);
	struct smtp_verdict v = { .code = 250, .qid = "Q1" };
	CHECK(smtp_session_verdict(&d.s, &v, &d.out) == SMTP_STOP_INPUT);
	d.pause_on = -1;
	CHECK(feed_once(&d, I_QUIT) == SMTP_STOP_CLOSE);
	CHECK_U64(d.last_used, strlen(I_QUIT));
	fdrv_free(&d);

	/* a close wins too */
	struct smtp_override bye = { 421, true, "4.7.0 Closing" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_NOOP;
	d.cmd_ov = &bye;
	d.pause_on = SMTP_EV_COMMAND;
	d.pause_verb = SMTP_VERB_NOOP;
	CHECK(feed_once(&d, "NOOP\r\n" I_QUIT) == SMTP_STOP_CLOSE);
	fdrv_free(&d);
}

/* An override on a line answering a 334 (a rule at the auth stage): a
 * refusal ends the exchange, failed, with the override's reply; a 2xx text
 * replaces the success reply; a close closes. */
static void test_auth_line_override(void)
{
	struct fdrv d;
	struct smtp_override no = { 535, false, "5.7.8 Go away" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_AUTH_RESPONSE;
	d.cmd_ov = &no;
	fdrv_feed(&d, I_EHLO "AUTH LOGIN\r\ndXNlcg==\r\n");
	CHECK_U64(d.s.state, SMTP_STATE_COMMAND);
	CHECK(!d.s.authenticated);
	CHECK_U64(d.s.errors, 0);
	CHECK(strstr(d.replies.p, "334 VXNlcm5hbWU6\r\n535 5.7.8 Go away\r\n") != NULL);
	CHECK_EVENTS(&d, E_G "CMD EHLO\nHELO\nCMD AUTH\nCMD AUTH-RESPONSE\nOTHER\n"); /* OTHER: AUTH, failed */
	fdrv_feed(&d, I_MAIL); /* back to commands */
	CHECK(strstr(d.replies.p, "Go away\r\n" R_MAIL) != NULL);
	fdrv_free(&d);

	struct smtp_override fine = { 235, false, "2.7.0 Welcome, tester" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_AUTH_RESPONSE;
	d.cmd_ov = &fine;
	fdrv_feed(&d, I_EHLO "AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n");
	CHECK(d.s.authenticated);
	CHECK(strstr(d.replies.p, "334 \r\n235 2.7.0 Welcome, tester\r\n") != NULL);
	fdrv_free(&d);

	struct smtp_override bye = { 421, true, "4.7.0 Closing" };
	fdrv_init(&d, NULL);
	d.cmd_verb = SMTP_VERB_AUTH_RESPONSE;
	d.cmd_ov = &bye;
	fdrv_feed(&d, I_EHLO);
	CHECK(fdrv_feed(&d, "AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n" I_MAIL) == SMTP_STOP_CLOSE);
	CHECK(!d.s.authenticated);
	fdrv_free(&d);
}

/* A pipelined EHLO is not pipelining "without EHLO": the client did not
 * wait for the list that would offer PIPELINING. */
static void test_pipelined_ehlo_quirk(void)
{
	struct fdrv d;
	fdrv_init(&d, NULL);
	fdrv_feed(&d, "EHLO x\r\nNOOP\r\n");
	CHECK_U64(d.s.quirks & (SMTP_QUIRK_PIPELINING_NO_EHLO | SMTP_QUIRK_PIPELINING_UNADVERTISED),
		  SMTP_QUIRK_PIPELINING_UNADVERTISED);
	fdrv_free(&d);
	fdrv_init(&d, NULL);
	fdrv_feed(&d, "HELO x\r\nNOOP\r\n");
	CHECK_U64(d.s.quirks & (SMTP_QUIRK_PIPELINING_NO_EHLO | SMTP_QUIRK_PIPELINING_UNADVERTISED),
		  SMTP_QUIRK_PIPELINING_NO_EHLO);
	fdrv_free(&d);
}

/* A COMMAND event says when the session will refuse the line itself
 * (malformed, bare LF under reject, a strict_sync violation): the layer
 * above then decides no rule for it, and an override is not used. */
static void test_refused_flag(void)
{
	static const struct {
		const char *line;
		bool refused;
	} rows[] = {
		{ "NOOP\r\n", false },
		{ "\r\n", true },
		{ "NO\0OP\r\n", true },
		{ "MAIL FROM:<\xff\xfe@b>\r\n", true },
	};
	struct smtp_override busy = { 451, false, "4.3.0 Busy" };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct fdrv d;
		fdrv_init(&d, NULL);
		d.cmd_verb = smtp_cmd_parse(smtp_view_make(rows[i].line, strcspn(rows[i].line, "\r"))).verb;
		d.cmd_ov = &busy;
		size_t len = strlen(rows[i].line);
		if (i == 2)
			len = 8; /* the NUL inside */
		size_t used = 0;
		smtp_session_feed(&d.s, (const uint8_t *)rows[i].line, len, &used, &d.out);
		fdrv_drain(&d);
		CHECK_U64((d.last_cmd_flags & SMTP_EVF_REFUSED) != 0, rows[i].refused);
		CHECK_U64(strstr(d.replies.p, "451 4.3.0 Busy") != NULL, !rows[i].refused); /* override used or not */
		fdrv_free(&d);
	}
	struct smtp_config strict;
	smtp_config_defaults(&strict);
	strict.bare_lf = SMTP_BARE_LF_REJECT;
	strict.strict_sync = true;
	struct fdrv d;
	fdrv_init(&d, &strict);
	fdrv_feed(&d, "NOOP\n");
	CHECK((d.last_cmd_flags & SMTP_EVF_REFUSED) != 0);
	static const char *const w[] = { I_EHLO, I_MAIL, I_RCPT, NULL };
	fdrv_writes(&d, w);
	CHECK((d.last_cmd_flags & SMTP_EVF_REFUSED) == 0);
	fdrv_feed(&d, "DATA\r\nNOOP\r\n"); /* DATA must end a group: 554 and close */
	CHECK_U64(d.s.state, SMTP_STATE_CLOSED);
	CHECK((d.last_cmd_flags & SMTP_EVF_REFUSED) != 0);
	fdrv_free(&d);
}

int main(void)
{
	test_rcpt_refused();
	test_rcpt_refused_mixed();
	test_refusals_above_not_errors();
	test_rcpt_2xx();
	test_mail_answers();
	test_answer_close();
	test_answer_silent_close();
	test_command_overrides();
	test_bdat_override();
	test_pause();
	test_auth_line_override();
	test_pipelined_ehlo_quirk();
	test_refused_flag();
	test_fail();
	test_quirk_pipelining_no_ehlo();
	test_quirk_pipelining_unadvertised();
	test_quirk_content();
	test_quirk_content_before_354();
	test_clean_session();
	return harness_finish("session_faults");
}
