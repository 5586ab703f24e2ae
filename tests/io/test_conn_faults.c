/*
 * tests/io/test_conn_faults.c - fault delays as holds, and the one hook
 * that may change a session's course (io/conn_hold.c, io/conn_events.c,
 * io/conn_fault.c), through the fake backend of engine_harness.h.
 *
 * Owns: each reply of a pipelined group held in turn (what was written
 * before a delayed reply leaves, it and what follows wait), a hold's
 * exact length on the 1 ms wheel, a greeting delay with a client that
 * talks first, a content stall and the abort after it, a delayed refusal
 * and close, a delay at end of data in capture mode (the verdict waits
 * for the hold too) and with --discard (the usual 250, held), rules that refuse MAIL/RCPT (undone: the message
 * does not keep them), and an idle timeout that does not count our own
 * hold as the client's silence.
 *
 * Workload: a few connections per test, the clock moved a millisecond at
 * a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_harness.h"
#include "session_harness.h"
#include "session_log.h"

#define PORT 40001

/* Each RCPT's reply is held 100 ms, in turn: the MAIL reply before them
 * leaves at once, the DATA reply after them waits for both. */
static void test_pipelined_holds(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--fault", "rcpt:delay=100ms", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "EHLO c.example\r\n", "250-smtpsink");
	engine_send_str(&e, k, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\nDATA\r\n");
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.1.0");
	ENGINE_CHECK_NOTHING(&e, k);
	CHECK_U64(e.clients[k].conn->state, CONN_HELD);
	engine_advance(&e, 99);
	ENGINE_CHECK_NOTHING(&e, k);
	engine_advance(&e, 1);
	ENGINE_CHECK_REPLY(&e, k, "250 2.1.5");
	ENGINE_CHECK_NOTHING(&e, k);
	engine_advance(&e, 99);
	ENGINE_CHECK_NOTHING(&e, k);
	engine_advance(&e, 1);
	ENGINE_CHECK_REPLY(&e, k, "250 2.1.5");
	ENGINE_CHECK_REPLY(&e, k, "354");
	CHECK_U64(e.clients[k].conn->state, CONN_SESSION);
	ENGINE_CMD(&e, k, "Subject: x\r\n\r\n.\r\n", "250 2.0.0 Ok: queued");
	CHECK_U64(e.sh.stats.faults, 2);
	engine_fini(&e);
}

/* --greeting-delay: no banner until it ends; a client that talks first
 * gets the banner, then its reply. */
static void test_greeting_delay(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--greeting-delay", "300ms", NULL };
	CHECK(engine_init(&e, args));
	int quiet = engine_connect(&e, PORT), eager = engine_connect(&e, PORT);
	engine_send_str(&e, eager, "NOOP\r\n");
	engine_advance(&e, 299);
	ENGINE_CHECK_NOTHING(&e, quiet);
	ENGINE_CHECK_NOTHING(&e, eager);
	engine_advance(&e, 1);
	ENGINE_CHECK_REPLY(&e, quiet, "220 smtpsink");
	ENGINE_CHECK_REPLY(&e, eager, "220 smtpsink");
	ENGINE_CHECK_REPLY(&e, eager, "250");
	engine_fini(&e);
}

/* A connect rule that delays, then refuses: the refusal after the delay,
 * then the close. */
static void test_delayed_refusal(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--fault", "connect:reply=554 5.7.1 go away:delay=200ms", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect(&e, PORT);
	engine_advance(&e, 199);
	ENGINE_CHECK_NOTHING(&e, k);
	CHECK(!e.clients[k].closed);
	engine_advance(&e, 1);
	ENGINE_CHECK_REPLY(&e, k, "554 5.7.1 go away");
	CHECK(e.clients[k].closed);
	engine_fini(&e);
}

/* content:close after a stall (smtp-sink -A), or a stall alone: content
 * rules act before any content is read, however it comes (DATA pipelined
 * with its content, a BDAT chunk in the same write as its command); the
 * 354 leaves at once; after the stall the abort and the close (nothing is
 * stored, no 250 ever sent), or the message is taken. */
static void test_content_stall(void)
{
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	char bdat[128], data[128];
	snprintf(bdat, sizeof bdat, "BDAT %zu LAST\r\n%s", sizeof body - 1, body);
	snprintf(data, sizeof data, "DATA\r\n%s.\r\n", body);
	const char *const abort_args[] = { "--discard", "--fault", "content:close=451 4.3.0 stalled:delay=500ms",
					   NULL };
	const char *const stall_args[] = { "--discard", "--fault", "content:delay=500ms", NULL };
	for (int aborts = 0; aborts < 2; aborts++) {
		for (int use_bdat = 0; use_bdat < 2; use_bdat++) {
			static struct engine e;
			CHECK(engine_init(&e, aborts ? abort_args : stall_args));
			int k = engine_connect_greeted(&e, PORT);
			ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
			ENGINE_CMD(&e, k, "RCPT TO:<c@d.example>\r\n", "250");
			engine_send_str(&e, k, use_bdat ? bdat : data);
			engine_pump(&e);
			if (!use_bdat)
				ENGINE_CHECK_REPLY(&e, k, "354"); /* only the input is held */
			ENGINE_CHECK_NOTHING(&e, k);
			engine_advance(&e, 499);
			ENGINE_CHECK_NOTHING(&e, k);
			engine_advance(&e, 1);
			if (aborts) {
				ENGINE_CHECK_REPLY(&e, k, "451 4.3.0 stalled");
				CHECK(e.clients[k].closed);
				CHECK(strstr(engine_wire(&e, k), "250 2.0.0 Ok: queued") == NULL);
				CHECK_U64(e.sh.stats.messages, 0);
			} else {
				ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
				CHECK_U64(e.sh.stats.messages, 1);
			}
			engine_fini(&e);
		}
	}
}

/* delay=A-B: each hold is drawn within the range, and they differ. */
static void test_delay_range(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--fault", "noop:delay=200-500ms", "--seed", "11", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 8; i++) {
		engine_send_str(&e, k, "NOOP\r\n");
		engine_pump(&e);
		uint64_t ms = 0;
		while (engine_reply(&e, k)[0] == '\0' && ms < 1000) {
			engine_advance(&e, 1);
			ms++;
		}
		CHECK(ms >= 200 && ms <= 500);
		lo = ms < lo ? ms : lo;
		hi = ms > hi ? ms : hi;
	}
	CHECK(hi - lo > 50); /* drawn, not fixed */
	engine_fini(&e);
}

/* The time we hold a reply is not the client's idleness. */
static void test_hold_is_not_idle(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--timeout", "2", "--fault", "noop:delay=3s", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	engine_send_str(&e, k, "NOOP\r\n");
	engine_advance(&e, 3000);
	ENGINE_CHECK_REPLY(&e, k, "250");
	CHECK(!e.clients[k].closed);
	engine_advance(&e, 1900); /* under the timeout since the hold ended */
	CHECK(!e.clients[k].closed);
	engine_advance(&e, 2000);
	ENGINE_CHECK_REPLY(&e, k, "421 4.4.2");
	engine_fini(&e);
}

/* A rule refusing a recipient: the session undoes it (the record keeps
 * only the accepted ones: test_conn_spool.c); the report counts the
 * firing and the commands. */
static void test_refused_rcpt_undone(void)
{
	static struct engine e;
	const char *const args[] = { "--fault", "rcpt:reply=550 5.1.1 no:domain=bad.example", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<x@bad.example>\r\n", "550 5.1.1 no");
	ENGINE_CMD(&e, k, "RCPT TO:<tempfail@ok.example>\r\n", "450 4.2.0 <tempfail@ok.example>");
	ENGINE_CMD(&e, k, "RCPT TO:<y@ok.example>\r\n", "250");
	struct conn *c = e.clients[k].conn;
	CHECK(c->log != NULL && c->log->r.faults == 1);
	CHECK(c->log->r.verbs[SMTP_VERB_RCPT] == 3); /* refused at finish: 3 - 1 */
	CHECK(c->log->r.rcpts_accepted == 1);
	CHECK_U64(e.sh.stats.outcomes, 1);
	CHECK_U64(e.sh.stats.faults, 1);
	engine_fini(&e);
}

/* A delay at end of data in capture mode: the 250 waits for the hold and
 * for the spool, whichever is later. */
static void dot_delay_with_spool(void)
{
	static struct engine e;
	const char *const args[] = { "--fault", "dot:delay=100ms", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<c@d.example>\r\n", "250");
	ENGINE_CMD(&e, k, "DATA\r\n", "354");
	engine_send_str(&e, k, "Subject: x\r\n\r\n.\r\nNOOP\r\n");
	engine_pump(&e);
	CHECK_U64(e.clients[k].conn->state, CONN_HELD);
	CHECK_U64(e.clients[k].conn->hold.resume, CONN_VERDICT);
	engine_spool_tick(&e);
	engine_spool_complete(&e); /* durable, but the hold still runs */
	ENGINE_CHECK_NOTHING(&e, k);
	CHECK_U64(e.clients[k].conn->hold.resume, CONN_SESSION);
	engine_advance(&e, 100);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok"); /* the NOOP behind it */
	engine_fini(&e);
}

/* ... and with --discard: the usual 250, held (a delay is no answer). */
static void dot_delay_discard(void)
{
	static struct engine e;
	const char *const args[] = { "--discard", "--fault", "dot:delay=20ms", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<c@d.example>\r\n", "250");
	ENGINE_CMD(&e, k, "DATA\r\n", "354");
	engine_send_str(&e, k, "Subject: x\r\n\r\n.\r\n");
	engine_pump(&e);
	ENGINE_CHECK_NOTHING(&e, k);
	engine_advance(&e, 20);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued as ");
	engine_fini(&e);
}

static void test_dot_delay(void)
{
	dot_delay_with_spool();
	dot_delay_discard();
}

int main(void)
{
	test_pipelined_holds();
	test_greeting_delay();
	test_delayed_refusal();
	test_content_stall();
	test_delay_range();
	test_hold_is_not_idle();
	test_refused_rcpt_undone();
	test_dot_delay();
	return harness_finish("test_conn_faults");
}
