/*
 * tests/core/test_session_answers.c - answers from the layer above against
 * the session core.
 *
 * Owns: overrides returned by the SMTP_EV_MAIL / SMTP_EV_RCPT callbacks
 * (refusal, a 2xx text, a 2xx without text, close, close without a reply)
 * next to the COMMAND-time overrides they must not disturb (BDAT among
 * them); an override on a line answering a 334; and the SMTP_EVF_REFUSED
 * flag that says when the session refuses a line itself, so that no
 * override is used for it.
 *
 * Does not: smtp_session_fail(), smtp_session_pause() or the quirk bits
 * (test_session_quirks.c).  The driver, fdrv.c, answers MAIL and RCPT by
 * address and COMMAND by verb, and records every event as one line.
 *
 * Workload: a few dozen short sessions.
 */
#include <stdbool.h>
#include <string.h>

#include "fdrv.h"

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
	test_auth_line_override();
	test_refused_flag();
	return harness_finish("session_answers");
}
