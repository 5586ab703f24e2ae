/*
 * tests/io/test_conn_spool.c - a connection and the spool's verdicts
 * (io/conn_capture.c with io/spool.c), through the fake backend of
 * engine_harness.h, in capture mode.
 *
 * Owns: no 250 before the batch's fdatasync has completed (--sync group),
 * the input pipelined behind end of data waiting for the verdict, a client
 * that resets or closes while its verdict is pending (the connection is
 * freed only when the answer has come, and the message is on disk), a
 * write or sync that fails (451 4.3.0, 452 4.3.1 for ENOSPC; never 250;
 * the next message goes to a new segment and is accepted, also when the
 * failure's answer lets a pipelined message in), what a record
 * keeps (only the recipients that were accepted), and the session report
 * written at the end.
 *
 * Workload: a few messages per test; spool writes are real (a temporary
 * directory), their completions delivered when the test says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_harness.h"
#include "session_harness.h"

#define PORT 40002

/* MAIL, RCPT, DATA and the content with its end: the verdict is left to
 * the spool. */
static void send_message(struct engine *e, int k, const char *body)
{
	ENGINE_CMD(e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(e, k, "RCPT TO:<c@d.example>\r\n", "250");
	ENGINE_CMD(e, k, "DATA\r\n", "354");
	engine_send_str(e, k, body);
	engine_pump(e);
}

/* The 250 leaves only once the batch's sync completed; what was pipelined
 * behind the end of data waits for it. */
static void test_verdict_after_sync(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	send_message(&e, k, "Subject: one\r\n\r\nbody\r\n.\r\nNOOP\r\n");
	CHECK_U64(e.clients[k].conn->state, CONN_VERDICT);
	CHECK(engine_reply(&e, k)[0] == '\0');
	engine_spool_tick(&e); /* the loop turn submits the batch */
	CHECK_U64(e.batch_count, 1);
	CHECK(engine_reply(&e, k)[0] == '\0'); /* written, not yet durable */
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued as ");
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok"); /* then the NOOP */
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.messages, 1);
	CHECK_STR(sp.body, strlen(sp.body), "Subject: one\r\n\r\nbody\r\n");
	engine_fini(&e);
}

/* Messages completed in one loop turn share one batch (group commit). */
static void test_group_commit(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int a = engine_connect_greeted(&e, PORT), b = engine_connect_greeted(&e, PORT);
	send_message(&e, a, "Subject: a\r\n\r\n.\r\n");
	send_message(&e, b, "Subject: b\r\n\r\n.\r\n");
	engine_spool_tick(&e);
	CHECK_U64(e.batch_count, 1);
	CHECK_U64(e.batches[0].b->count, 2);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, a, "250 2.0.0 Ok: queued");
	ENGINE_CHECK_REPLY(&e, b, "250 2.0.0 Ok: queued");
	engine_fini(&e);
}

/* The client goes away while its verdict is pending: the connection is
 * closed at once but freed only when the spool has answered; the message
 * is kept. */
static void test_close_while_verdict_pending(void)
{
	for (int reset = 0; reset < 2; reset++) {
		static struct engine e;
		CHECK(engine_init(&e, NULL));
		int k = engine_connect_greeted(&e, PORT);
		send_message(&e, k, "Subject: gone\r\n\r\n.\r\n");
		engine_spool_tick(&e);
		if (reset)
			engine_reset(&e, k);
		else
			engine_eof(&e, k);
		engine_pump(&e);
		struct conn *c = e.clients[k].conn;
		if (reset) { /* a reset closes at once */
			CHECK(e.clients[k].closed && !e.clients[k].freed);
			CHECK_U64(c->state, CONN_CLOSED);
			CHECK_U64(c->ops, 1); /* the spool's reference */
		} else { /* an EOF waits for the answer, which it then sends */
			CHECK(!e.clients[k].closed);
		}
		engine_spool_complete(&e);
		CHECK(e.clients[k].freed);
		CHECK_U64(e.sh.live_count, 0);
		struct engine_spooled sp;
		CHECK(engine_spool_read(&e, 0, &sp));
		CHECK_U64(sp.messages, 1);
		engine_fini(&e);
	}
}

/* A failed write or sync: never 250; the segment is cut and a new one
 * takes the next message. */
static void test_write_failure(void)
{
	struct {
		int write, fsync;
		const char *reply;
	} cases[] = {
		{ -EIO, 0, "451 4.3.0 Error: queue file write error" },
		{ 0, -EIO, "451 4.3.0 Error: queue file write error" },
		{ 0, -ENOSPC, "452 4.3.1 Insufficient system storage" },
		{ -EDQUOT, 0, "452 4.3.1 Insufficient system storage" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		static struct engine e;
		CHECK(engine_init(&e, NULL));
		int k = engine_connect_greeted(&e, PORT);
		uint64_t segno = e.sh.spool.segno;
		send_message(&e, k, "Subject: lost\r\n\r\n.\r\n");
		e.fail_write = cases[i].write;
		e.fail_fsync = cases[i].fsync;
		engine_spool_tick(&e);
		engine_spool_complete(&e);
		ENGINE_CHECK_REPLY(&e, k, cases[i].reply);
		CHECK(e.sh.spool.segno > segno); /* a new segment */
		send_message(&e, k, "Subject: kept\r\n\r\n.\r\n");
		engine_spool_tick(&e);
		engine_spool_complete(&e);
		ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
		CHECK_U64(e.sh.stats.messages, 1);
		engine_fini(&e);
	}
}

/* The record keeps what was accepted; the session's report follows. */
/* A sync fails while another client's message waits behind the batch,
 * with a second message pipelined after it (BDAT LAST, so no 354 is
 * awaited): the 451 for the first lets the second through at once, and
 * it must land in the new segment, not in the one being cut.  Every 250
 * is a stored message. */
static void test_failure_answer_reenters(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int a = engine_connect_greeted(&e, PORT), k = engine_connect_greeted(&e, PORT);
	send_message(&e, a, "Subject: a\r\n\r\n.\r\n");
	e.fail_fsync = -EIO;
	engine_spool_tick(&e); /* a's batch in flight */
	const char *m = "Subject: k\r\n\r\nbody\r\n";
	char buf[512];
	snprintf(buf, sizeof buf,
		 "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT %zu LAST\r\n%s"
		 "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT %zu LAST\r\n%s",
		 strlen(m), m, strlen(m), m);
	engine_send_str(&e, k, buf);
	engine_pump(&e); /* k's first message queued behind a's batch */
	engine_spool_complete(&e); /* 451 for both; k's second comes in */
	ENGINE_CHECK_REPLY(&e, a, "451 4.3.0");
	for (int i = 0; i < 3; i++) {
		engine_spool_tick(&e);
		engine_spool_complete(&e);
	}
	const char *wire = engine_wire(&e, k);
	CHECK(strstr(wire, "451 4.3.0") != NULL);
	CHECK(strstr(wire, "250 2.0.0 Ok: queued") != NULL); /* the second */
	struct engine_spooled sp;
	memset(&sp, 0, sizeof sp);
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.messages, 1); /* ... and it is there */
	engine_fini(&e);
}

static void test_record_and_report(void)
{
	static struct engine e;
	const char *const args[] = { "--fault", "rcpt:reply=550 5.1.1 no:domain=bad.example", NULL };
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<x@bad.example>\r\n", "550");
	ENGINE_CMD(&e, k, "RCPT TO:<y@ok.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<permfail@ok.example>\r\n", "550 5.1.1");
	ENGINE_CMD(&e, k, "RCPT TO:<z@ok.example>\r\n", "250");
	ENGINE_CMD(&e, k, "DATA\r\n", "354");
	engine_send_str(&e, k, "Subject: r\r\n\r\n.\r\n");
	engine_pump(&e);
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	ENGINE_CMD(&e, k, "QUIT\r\n", "221");
	CHECK(e.clients[k].freed);
	engine_spool_tick(&e); /* the report, with nobody waiting for it */
	engine_spool_complete(&e);
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.messages, 1);
	CHECK_U64(sp.sessions, 1);
	CHECK_STR(sp.rcpts, strlen(sp.rcpts), "y@ok.example,z@ok.example");
	engine_fini(&e);
}

int main(void)
{
	test_verdict_after_sync();
	test_group_commit();
	test_close_while_verdict_pending();
	test_write_failure();
	test_failure_answer_reenters();
	test_record_and_report();
	return harness_finish("test_conn_spool");
}
