/*
 * tests/core/test_session_edge_sync.c - SMTP-EDGE-CASES.md, pipelining,
 * synchronisation and faults, against the session core.
 *
 * Owns: cases 37-41 (RFC 2920 groups, content before the 354, talking
 * before the banner, commands after end of data, DATA after a refused
 * RCPT) and what the pure session can show of 55 and 58-63: a timeout or
 * shutdown abort, the peer closing mid-command, mid-DATA and right after
 * end of data, output backpressure, and refusals from the layer above
 * (verdict, MAIL override).  Timers, sockets and the spool are not the
 * core's.  Expectations come from the document and issue 2.
 *
 * Lenient cases run at every split point; strict_sync and pre-greeting,
 * whose meaning depends on how input arrives, run with the cuts that make
 * up the client's writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_support.h"
#include "session_harness.h"

/* ---- 37-41: pipelining and synchronisation ------------------------------ */

#define W_EHLO "EHLO x\r\n"
#define W_GROUP "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
#define W_HI "hi\r\n.\r\n"
#define LEN(lit) (sizeof(lit) - 1)

static void case_37_pipelined_group(void)
{
	static const char in[] = W_EHLO W_GROUP W_HI "QUIT\r\n";
	static const char out[] = BANNER R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE;
	static const char ev[] = E_G E_EHLO E_MAIL E_RCPT E_DATA E_HI_END("-") E_QUIT;
	static const size_t groups[] = { LEN(W_EHLO), LEN(W_EHLO W_GROUP), LEN(W_EHLO W_GROUP W_HI) };
	struct smtp_config strict = cfg_default();
	strict.strict_sync = true;
	struct harness_opts o = { .cfg = &strict };
	harness_expect_all_splits(NULL, in, sizeof(in) - 1, out, ev);
	harness_expect_cuts(&o, in, sizeof(in) - 1, groups, NROWS(groups), out, ev);
	/* The group's replies are ready together, for one write. */
	struct drv d;
	drv_init(&d, &strict, 4096);
	smtp_session_greet(&d.s, &d.out);
	drv_feed(&d, W_EHLO, LEN(W_EHLO));
	size_t used = 0;
	CHECK(smtp_session_feed(&d.s, (const uint8_t *)W_GROUP, LEN(W_GROUP), &used, &d.out) == SMTP_STOP_INPUT);
	CHECK_U64(used, LEN(W_GROUP));
	CHECK_STR(d.out.buf, d.out.len, R_MAIL R_RCPT R_354);
	drv_free(&d);
}

static void case_38_content_before_354(void)
{
	static const char in[] = W_EHLO W_GROUP "QUIT\r\n" W_HI "QUIT\r\n";
	static const size_t cuts[] = { LEN(W_EHLO), LEN(W_EHLO W_GROUP "QUIT\r\n" W_HI) };
	struct smtp_config c = cfg_default();
	struct harness_opts o = { .cfg = &c, .show_sync_flags = true };
	/* Lenient: flagged, and the content is never read as commands. */
	harness_expect_cuts(&o, in, sizeof(in) - 1, cuts, NROWS(cuts), BANNER R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE,
			    E_G E_EHLO E_MAIL E_RCPT E_DATA
			    "MSG_END size=10 rcpts=1 flags=ill_pipelining body=\"QUIT\\r\\nhi\\r\\n\"\n" E_QUIT);
	harness_expect_all_splits(NULL, in, sizeof(in) - 1, BANNER R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE,
				  E_G E_EHLO E_MAIL E_RCPT E_DATA
				  "MSG_END size=10 rcpts=1 flags=- body=\"QUIT\\r\\nhi\\r\\n\"\n" E_QUIT);
	/* strict_sync: 554 instead of the 354, and the close. */
	c.strict_sync = true;
	harness_expect_cuts(&o, in, sizeof(in) - 1, cuts, NROWS(cuts), BANNER R_EHLO R_MAIL R_RCPT R_SYNC,
			    E_G E_EHLO E_MAIL E_RCPT "CMD DATA\nCLOSE reason=sync\n");
}

static void case_39_talking_before_the_banner(void)
{
	struct smtp_config strict = cfg_default();
	strict.strict_sync = true;
	struct harness_opts o = { .cfg = &strict, .no_greet = true };
	harness_expect_whole(&o, "EHLO x\r\n", 8, R_SYNC, "CLOSE reason=sync\n");
	/* Lenient: flagged, and feed() writes the banner itself before it
	 * answers the EHLO; nothing is lost and nothing is answered early. */
	static const char ehlo[] = "EHLO x\r\n";
	struct drv d;
	drv_init(&d, NULL, 4096);
	size_t used = 0;
	enum smtp_stop st = smtp_session_feed(&d.s, (const uint8_t *)ehlo, 8, &used, &d.out);
	CHECK(d.s.quirks & SMTP_QUIRK_PREGREET);
	CHECK(st == SMTP_STOP_INPUT && used == 8);
	drv_drain(&d);
	CHECK_STR(d.text.p, d.text.len, BANNER R_EHLO);
	drv_free(&d);
}

#define E_SECOND "CMD MAIL\nMAIL from=<e@f> params=<>\nCMD RCPT\nRCPT to=<g@h> params=<>\n" E_DATA

static void case_40_pipelining_after_end_of_data(void)
{
#define W_GROUP2 "MAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n"
	static const char in[] = W_EHLO W_GROUP W_HI W_GROUP2 "ho\r\n.\r\nQUIT\r\n";
	static const size_t cuts[] = { LEN(W_EHLO), LEN(W_EHLO W_GROUP), LEN(W_EHLO W_GROUP W_HI W_GROUP2) };
#undef W_GROUP2
	struct smtp_config c = cfg_default();
	struct harness_opts o = { .cfg = &c };
	/* Lenient: the group after the dot is handled in order, however cut. */
	harness_expect_all_splits(&o, in, sizeof(in) - 1,
				  BANNER R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_MAIL R_RCPT R_354 R_Q2 R_BYE,
				  E_G E_EHLO E_MAIL E_RCPT E_DATA E_HI_END("-") E_SECOND
				  "MSG_END size=4 rcpts=1 flags=- body=\"ho\\r\\n\"\n" E_QUIT);
	/* strict_sync: the first message is answered, then 554 and the close. */
	c.strict_sync = true;
	harness_expect_cuts(&o, in, sizeof(in) - 1, cuts, NROWS(cuts), BANNER R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_SYNC,
			    E_G E_EHLO E_MAIL E_RCPT E_DATA E_HI_END("-") "CLOSE reason=sync\n");
}
#undef E_SECOND

static const struct smtp_override *refuse_rcpt(void *ctx, const struct smtp_event *ev, unsigned cmd_index)
{
	static const struct smtp_override no = { 550, false, "5.1.1 <c@d>: Recipient address rejected" };
	return ev->verb == SMTP_VERB_RCPT ? &no : NULL;
}

static void case_41_rejected_rcpt_then_data(void)
{
	static const struct row rows[] = {
		ROW("RCPT syntax", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c d>\r\nDATA\r\nNOOP\r\n",
		    BANNER R_HELO R_MAIL "501 5.5.4 Syntax: RCPT TO:<address>\r\n" R_NO_VALID R_OK,
		    E_G E_HELO E_MAIL "CMD RCPT\nCMD DATA\nCMD NOOP\n"),
	};
	static const char in[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	static const char content[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c d>\r\nDATA\r\nhi\r\n.\r\n";
	static const size_t cut[] = { 8 };
	run_rows("case 41", NULL, rows, NROWS(rows));
	struct harness_opts o = { .override = refuse_rcpt };
	harness_expect_all_splits(&o, in, sizeof(in) - 1,
				  BANNER R_EHLO R_MAIL "550 5.1.1 <c@d>: Recipient address rejected\r\n" R_NO_VALID,
				  E_G E_EHLO E_MAIL "CMD RCPT\nCMD DATA\n");
	/* Content sent anyway, in the same write as DATA: sync handling. */
	struct smtp_config strict = cfg_default();
	strict.strict_sync = true;
	struct harness_opts so = { .cfg = &strict };
	harness_expect_cuts(&so, content, sizeof(content) - 1, cut, 1,
			    BANNER R_EHLO R_MAIL "501 5.5.4 Syntax: RCPT TO:<address>\r\n" R_SYNC,
			    E_G E_EHLO E_MAIL "CMD RCPT\nCMD DATA\nCLOSE reason=sync\n");
}

/* ---- 55, 58-63: what the session sees of faults ------------------------- */

static void case_55_61_abort_timeout_and_shutdown(void)
{
	static const char txn[] = I_TXN "DATA\r\npartial line";
	struct drv d;
	drv_init(&d, NULL, 4096);
	smtp_session_greet(&d.s, &d.out);
	drv_feed(&d, "HELO x\r\n", 8);
	CHECK(smtp_session_is_idle(&d.s));
	smtp_session_abort(&d.s, SMTP_REASON_TIMEOUT, &d.out);
	drv_drain(&d);
	CHECK_STR(d.text.p, d.text.len, BANNER R_HELO "421 4.4.2 smtpsink Error: timeout exceeded\r\n");
	CHECK_STR(d.log.p, d.log.len, "CLOSE timeout\n");
	drv_free(&d);

	/* 61: shutdown mid-DATA; nothing half-written is acknowledged. */
	drv_init(&d, NULL, 4096);
	smtp_session_greet(&d.s, &d.out);
	drv_feed(&d, txn, sizeof(txn) - 1);
	CHECK(!smtp_session_is_idle(&d.s));
	smtp_session_abort(&d.s, SMTP_REASON_SHUTDOWN, &d.out);
	drv_drain(&d);
	CHECK_STR(d.text.p, d.text.len, R_TXN R_354 "421 4.3.2 smtpsink Service shutting down\r\n");
	CHECK_STR(d.log.p, d.log.len, "MSG_ABORT shutdown\nCLOSE shutdown\n");
	size_t used = 1;
	CHECK(smtp_session_feed(&d.s, (const uint8_t *)"\r\n.\r\n", 5, &used, &d.out) == SMTP_STOP_CLOSE);
	CHECK(used == 0 && d.out.len == 0);
	drv_free(&d);
}

static void case_58_59_peer_closes(void)
{
	static const struct row rows[] = {
		ROW("58: mid-command", "HELO x\r\nMAIL FROM:<a", BANNER R_HELO, E_G E_HELO "CLOSE reason=eof\n"),
		ROW("58: after RCPT", I_TXN, R_TXN, E_TXN "CLOSE reason=eof\n"),
		ROW("58: mid-DATA", I_TXN "DATA\r\nhel", R_TXN R_354,
		    E_TXN E_DATA "MSG_ABORT reason=eof body=\"hel\"\nCLOSE reason=eof\n"),
		ROW("58: mid-terminator", I_TXN "DATA\r\nhi\r\n.\r", R_TXN R_354,
		    E_TXN E_DATA "MSG_ABORT reason=eof body=\"hi\\r\\n\"\nCLOSE reason=eof\n"),
		ROW("59: right after the end of data", I_TXN "DATA\r\nhi\r\n.\r\n", R_TXN R_354 R_Q1,
		    E_TXN E_DATA E_HI_END("-") "CLOSE reason=eof\n"),
	};
	struct harness_opts o = { .eof_at_end = true };
	for (size_t i = 0; i < NROWS(rows); i++)
		if (harness_expect_all_splits(&o, rows[i].in, rows[i].len, rows[i].replies, rows[i].events))
			fprintf(stderr, "  ^ case %s\n", rows[i].name);
	struct test_text in = { 0 };
	text_fill(&in, 'x', 3 * SMTP_COMMAND_LINE_MAX_BYTES);
	if (harness_expect_all_splits(&o, in.p, in.len, BANNER, E_G "CLOSE reason=eof\n"))
		fprintf(stderr, "  ^ case 58: mid long line\n");
	text_free(&in);
}

/* 60: a client that never reads: the session stops taking input while its
 * output is full, and never writes past the buffer. */
static void case_60_output_backpressure(void)
{
	enum {
		NOOPS = 10000
	};
	struct test_text in = { 0 }, out = { 0 }, ev = { 0 };
	text_rep(&in, "NOOP\r\n", 300);
	text_str(&out, BANNER);
	text_rep(&out, R_OK, 300);
	text_str(&ev, E_G);
	text_rep(&ev, "CMD NOOP\n", 300);
	struct harness_opts o = { .out_cap = SMTP_OUT_RESERVE_BYTES };
	if (harness_expect_all_splits(&o, in.p, in.len, out.p, ev.p))
		fprintf(stderr, "  ^ case 60: NOOPs through a minimal output buffer\n");
	text_free(&in);
	text_free(&out);
	text_free(&ev);

	struct drv d;
	drv_init(&d, NULL, SMTP_OUT_RESERVE_BYTES);
	d.keep_text = false;
	text_rep(&in, "NOOP\r\n", NOOPS);
	smtp_session_greet(&d.s, &d.out);
	size_t used = 0, before = d.out.len;
	CHECK(smtp_session_feed(&d.s, (const uint8_t *)in.p, in.len, &used, &d.out) == SMTP_STOP_OUT_FULL);
	CHECK(used < in.len && d.out.len <= d.out.cap);
	before = d.out.len;
	size_t again = 1;
	CHECK(smtp_session_feed(&d.s, (const uint8_t *)in.p + used, in.len - used, &again, &d.out) ==
	      SMTP_STOP_OUT_FULL);
	CHECK(again == 0 && d.out.len == before);
	drv_drain(&d);
	CHECK(drv_feed(&d, in.p + used, in.len - used) == SMTP_STOP_INPUT);
	CHECK_U64(d.codes[250], NOOPS);
	text_free(&in);
	drv_free(&d);
}

static void refuse_verdict(void *ctx, unsigned msg_index, struct smtp_verdict *v)
{
	if (msg_index == 0) {
		v->code = 451;
		v->text = "4.3.0 Error: write error";
	}
}

static const struct smtp_override *storage_full(void *ctx, const struct smtp_event *ev, unsigned cmd_index)
{
	static const struct smtp_override full = { 452, false, "4.3.1 Insufficient system storage" };
	return ev->verb == SMTP_VERB_MAIL ? &full : NULL;
}

/* 62: a refused verdict is never a 250; 63: MAIL refused for storage. */
static void case_62_63_refusals_from_above(void)
{
	static const char in[] = I_TXN "DATA\r\nhi\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\n";
	struct harness_opts o = { .verdict = refuse_verdict };
	harness_expect_all_splits(&o, in, sizeof(in) - 1,
				  R_TXN R_354 "451 4.3.0 Error: write error\r\n" R_MAIL R_RCPT R_354 R_Q2,
				  E_TXN E_DATA E_HI_END("-") E_MAIL E_RCPT E_DATA E_HI_END("-"));
	static const char mail[] = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
	struct harness_opts so = { .override = storage_full };
	harness_expect_all_splits(&so, mail, sizeof(mail) - 1,
				  BANNER R_HELO "452 4.3.1 Insufficient system storage\r\n" R_NEED_MAIL,
				  E_G E_HELO "CMD MAIL\nCMD RCPT\n");
}

int main(void)
{
	case_37_pipelined_group();
	case_38_content_before_354();
	case_39_talking_before_the_banner();
	case_40_pipelining_after_end_of_data();
	case_41_rejected_rcpt_then_data();
	case_55_61_abort_timeout_and_shutdown();
	case_58_59_peer_closes();
	case_60_output_backpressure();
	case_62_63_refusals_from_above();
	return harness_finish("session_edge_sync");
}
