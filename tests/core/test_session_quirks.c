/*
 * tests/core/test_session_quirks.c - the quirks that tell clients apart, and
 * the two calls the layer above makes into a session, against the session
 * core.
 *
 * Owns: (b) smtp_session_fail() mid-DATA, without a text, idle, and after
 * the close; (c) the quirk bits PIPELINING_NO_EHLO, PIPELINING_UNADVERTISED
 * (and that the two exclude each other, a pipelined EHLO included),
 * BARE_LF_CONTENT, BARE_CR_CONTENT and CONTENT_BEFORE_354, none of which a
 * clean session sets; smtp_session_pause() asked for from an event callback.
 *
 * Does not: answers returned by event callbacks (test_session_answers.c).
 * The driver is fdrv.c; each fdrv_feed() call is one client write, so
 * whether a command was pipelined is decided by the test.
 *
 * Workload: a few dozen short sessions.
 */
#include <stdio.h>
#include <string.h>

#include "fdrv.h"

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

int main(void)
{
	test_pause();
	test_pipelined_ehlo_quirk();
	test_fail();
	test_quirk_pipelining_no_ehlo();
	test_quirk_pipelining_unadvertised();
	test_quirk_content();
	test_quirk_content_before_354();
	test_clean_session();
	return harness_finish("session_quirks");
}
