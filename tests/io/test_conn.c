/*
 * tests/io/test_conn.c - a connection's lifecycle (io/conn*.c) through a
 * fake backend (engine_harness.h): no sockets, no ring, no sleeping.
 *
 * Owns: what a client sees and what the connection does with the kernel
 * when a send is short, when it never completes (backpressure: receiving
 * stops, memory stays bounded, and resumes), when the receive ends
 * (ENOBUFS parking ends in a new receive), when the client resets or
 * closes at each stage, when --timeout and --data-min-rate expire (also
 * with a client that never reads our 421), --max-conns, the PROXY header
 * (whole, split, malformed), and shutdown.  Faults, holds and the spool
 * are in test_conn_faults.c and test_conn_spool.c.
 *
 * Workload: a few connections per test, a clock moved by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_harness.h"
#include "session_harness.h"

#define PORT 40000
#define TIMEOUT_421 "421 4.4.2 smtpsink Error: timeout exceeded\r\n"
#define MESSAGE "Subject: t\r\n\r\nhello\r\n.\r\n"

static void transaction(struct engine *e, int k)
{
	ENGINE_CMD(e, k, "MAIL FROM:<a@example.com>\r\n", "250 2.1.0");
	ENGINE_CMD(e, k, "RCPT TO:<b@example.com>\r\n", "250 2.1.5");
	ENGINE_CMD(e, k, "DATA\r\n", "354");
	ENGINE_CMD(e, k, MESSAGE, "250 2.0.0 Ok: queued as ");
}

static bool gone(const struct engine *e, int k)
{
	return e->clients[k].closed && e->clients[k].freed;
}

static const char *const discard[] = { "--discard", NULL };

/* --- the whole life of a session ----------------------------------------- */
static void test_session_lifecycle(void)
{
	static struct engine e;
	CHECK(engine_init(&e, discard));
	int k = engine_connect_greeted(&e, PORT);
	CHECK_U64(e.clients[k].conn->state, CONN_SESSION);
	ENGINE_CMD(&e, k, "EHLO client.example\r\n", "250-smtpsink");
	transaction(&e, k);
	ENGINE_CMD(&e, k, "QUIT\r\n", "221 2.0.0");
	CHECK(gone(&e, k));
	CHECK_U64(e.sh.live_count, 0);
	CHECK_U64(atomic_load(&e.shared.conns), 0);
	CHECK_U64(e.sh.stats.messages, 1);
	CHECK_U64(e.sh.rbufs.free_count, e.sh.rbufs.count); /* every buffer back */
	engine_fini(&e);
}

/* --- output: one send in flight, short sends continued ------------------- */
static void test_short_sends(void)
{
	static const char group[] = "EHLO c.example\r\nNOOP\r\nNOOP\r\nRSET\r\nNOOP\r\nQUIT\r\n";
	static struct engine e, ref;
	/* the reference: every send completes whole */
	CHECK(engine_init(&ref, discard));
	int r = engine_connect_greeted(&ref, PORT);
	engine_send_str(&ref, r, group);
	engine_pump(&ref);
	char want[4096];
	snprintf(want, sizeof want, "%s", engine_wire(&ref, r));
	engine_fini(&ref);

	CHECK(engine_init(&e, discard));
	int k = engine_connect(&e, PORT);
	engine_send_str(&e, k, group); /* pipelined before the banner was taken */
	size_t total = 0, rounds = 0;
	while (e.clients[k].send_pending && rounds++ < 10000)
		total += engine_complete_send(&e, k, 3); /* 3 bytes at a time */
	engine_pump(&e);
	CHECK_STR(engine_wire(&e, k), strlen(engine_wire(&e, k)), want);
	CHECK(total == strlen(want));
	CHECK(e.clients[k].sends > 10); /* it really was continued, not redone */
	CHECK(gone(&e, k));
	engine_fini(&e);
}

/* A send that fails ends the connection as a reset would. */
static void test_send_error(void)
{
	static struct engine e;
	CHECK(engine_init(&e, discard));
	int k = engine_connect(&e, PORT);
	engine_fail_send(&e, k, -EPIPE);
	engine_pump(&e);
	CHECK(gone(&e, k));
	CHECK_U64(e.sh.live_count, 0);
	engine_fini(&e);
}

/* --- backpressure: a client that does not read its replies --------------- */
static void test_never_reads(void)
{
	static struct engine e;
	CHECK(engine_init(&e, discard));
	int k = engine_connect_greeted(&e, PORT);
	enum {
		NOOPS = 20000
	};
	char *noops = malloc(NOOPS * 6);
	for (int i = 0; i < NOOPS; i++)
		memcpy(noops + 6 * i, "NOOP\r\n", 6);
	engine_send(&e, k, noops, NOOPS * 6); /* and never complete a send */
	struct conn *c = e.clients[k].conn;
	CHECK(!c->recv_armed); /* it stopped receiving */
	CHECK(e.recv_pauses >= 1);
	CHECK(e.clients[k].pending_len > 0); /* the rest waits in the "kernel" */
	uint32_t held = e.sh.rbufs.count - e.sh.rbufs.free_count;
	CHECK(held <= 1); /* its input was copied out: the buffers went back */
	CHECK(c->out_len <= CONN_OUT_BYTES);
	/* the client reads: everything is answered, in order */
	engine_pump(&e);
	const char *w = engine_wire(&e, k);
	size_t oks = 0;
	for (const char *p = w; (p = strstr(p, "250 2.0.0 Ok\r\n")) != NULL; p++)
		oks++;
	CHECK_U64(oks, NOOPS);
	CHECK(e.recv_resumes >= 1 && c->recv_armed);
	CHECK_U64(e.sh.rbufs.free_count, e.sh.rbufs.count);
	free(noops);
	engine_fini(&e);
}

/* Sessions that never read their replies do not pin the shared receive
 * buffers: each keeps at most one while the pool is plentiful, and when it
 * runs out (more stalled sessions than buffers) they all copy what they
 * hold out (bounded) and give the buffers back; an honest client is
 * served. */
static void test_stalled_sessions_release_buffers(void)
{
	enum {
		STALLED = 100
	};
	const char *const args[] = { "--discard", "--recv-buffers", "64", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	size_t len = 64 * 1024;
	char *noops = malloc(len);
	for (size_t i = 0; i + 6 <= len; i += 6)
		memcpy(noops + i, "NOOP\r\n", 6);
	int k[STALLED];
	for (int i = 0; i < STALLED; i++) {
		k[i] = engine_connect_greeted(&e, PORT);
		e.clients[k[i]].no_read = true;
		engine_send(&e, k[i], noops, len - len % 6); /* and never read */
	}
	engine_pump(&e);
	uint32_t held = e.sh.rbufs.count - e.sh.rbufs.free_count;
	CHECK(held <= e.sh.rbufs.count * 3 / 4); /* never all of them, with 100 stalled */
	e.sh.rbufs_short = true; /* as when a receive found none (ENOBUFS) */
	engine_pump(&e); /* the loop's next turn: every blocked one gives back */
	CHECK_U64(e.sh.rbufs.free_count, e.sh.rbufs.count);
	for (int i = 0; i < STALLED; i++)
		CHECK(!e.clients[k[i]].conn->recv_armed); /* each stopped receiving */
	int honest = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, honest, "EHLO honest.example\r\n", "250-smtpsink");
	transaction(&e, honest);
	ENGINE_CMD(&e, honest, "QUIT\r\n", "221");
	free(noops);
	engine_fini(&e);
}

/* --- the receive ends (ENOBUFS parking, or the kernel ended it) ----------- */
static void test_recv_stopped(void)
{
	static struct engine e;
	CHECK(engine_init(&e, discard));
	int k = engine_connect_greeted(&e, PORT);
	engine_recv_stopped(&e, k);
	CHECK(e.clients[k].conn->recv_armed); /* asked again at once */
	ENGINE_CMD(&e, k, "NOOP\r\n", "250");
	/* while backpressure holds it, a stopped receive is not re-armed */
	char big[8192];
	for (size_t i = 0; i + 6 <= sizeof big; i += 6)
		memcpy(big + i, "NOOP\r\n", 6);
	for (int i = 0; i < 20 && e.clients[k].conn->recv_armed; i++)
		engine_send(&e, k, big, sizeof big - sizeof big % 6);
	CHECK(!e.clients[k].conn->recv_armed);
	engine_recv_stopped(&e, k);
	CHECK(!e.clients[k].conn->recv_armed);
	engine_pump(&e); /* replies leave: receiving resumes */
	CHECK(e.clients[k].conn->recv_armed);
	/* parked after ENOBUFS, re-armed by backpressure ending meanwhile:
	 * the buffers coming back arm no second receive */
	unsigned resumes = e.recv_resumes;
	conn_on_buffers_back(e.clients[k].conn);
	CHECK_U64(e.recv_resumes, resumes);
	engine_fini(&e);
}

/* --- the client goes away at each stage --------------------------------- */
static void test_reset_and_eof(void)
{
	static const char *const stages[] = { "", "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
					      "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nabc" };
	for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
		for (int reset = 0; reset < 2; reset++) {
			static struct engine e;
			CHECK(engine_init(&e, discard));
			int k = engine_connect_greeted(&e, PORT);
			engine_send_str(&e, k, stages[i]);
			engine_pump(&e);
			if (reset)
				engine_reset(&e, k);
			else
				engine_eof(&e, k);
			engine_pump(&e);
			CHECK(gone(&e, k));
			CHECK_U64(e.sh.stats.messages, 0);
			CHECK_U64(e.sh.rbufs.free_count, e.sh.rbufs.count);
			engine_fini(&e);
		}
	}
}

/* --- --timeout at every stage ------------------------------------------ */
static void test_idle_timeout(void)
{
	static const char *const stages[] = {
		"", /* after the banner */
		"MAIL FROM:<a@b.exam", /* in the middle of a command */
		"MAIL FROM:<a@b.example>\r\n",
		"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n",
		"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 1000 LAST\r\nyyyy",
	};
	const char *const args[] = { "--discard", "--timeout", "2", NULL };
	for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
		static struct engine e;
		CHECK(engine_init(&e, args));
		int k = engine_connect_greeted(&e, PORT);
		engine_send_str(&e, k, stages[i]);
		engine_pump(&e);
		size_t before = e.clients[k].wire_len;
		engine_advance(&e, 2000); /* exactly the timeout: not yet */
		CHECK_U64(e.clients[k].wire_len, before);
		CHECK(!e.clients[k].closed);
		engine_advance(&e, 2000); /* 1 s ticks: at most a second more */
		const char *w = engine_wire(&e, k);
		CHECK(strstr(w, TIMEOUT_421) != NULL);
		CHECK(gone(&e, k));
		CHECK_U64(e.sh.stats.timeouts, 1);
		engine_fini(&e);
	}
}

/* Activity postpones the timeout; our own 421 to a client that never
 * reads it is given up on at the next expiry. */
static void test_timeout_never_read(void)
{
	const char *const args[] = { "--discard", "--timeout", "3", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	for (int i = 0; i < 5; i++) { /* a NOOP every 2 s keeps it alive */
		engine_advance(&e, 2000);
		ENGINE_CMD(&e, k, "NOOP\r\n", "250");
	}
	CHECK(!e.clients[k].closed);
	engine_send_str(&e, k, "NOOP\r\n"); /* its reply is never taken */
	engine_tick(&e, 4500);
	struct conn *c = e.clients[k].conn;
	CHECK(c->state == CONN_DRAINING); /* 421 written, not taken */
	CHECK(c->out_len > c->out_inflight);
	CHECK(!e.clients[k].close_pending);
	engine_tick(&e, 4000); /* the next expiry gives up on it */
	CHECK(e.clients[k].close_pending);
	engine_pump(&e);
	CHECK(gone(&e, k));
	CHECK_U64(e.sh.stats.timeouts, 2); /* each expiry counts: the 421, then the drop */
	engine_fini(&e);
}

/* A command line trickled a byte at a time has a deadline from its first
 * byte: every byte is activity, but the line is never done. */
static void test_trickled_command(void)
{
	const char *const args[] = { "--discard", "--timeout", "5", NULL };
	static const char line[] = "MAIL FROM:<trickle@example.com>\r\n";
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	uint64_t ms = 0;
	for (size_t i = 0; i < sizeof line - 3 && !e.clients[k].closed; i++) {
		engine_send(&e, k, line + i, 1);
		engine_advance(&e, 2000);
		ms += 2000;
	}
	CHECK(e.clients[k].closed);
	CHECK(ms >= 6000 && ms <= 8000); /* the deadline, not the idle timer */
	CHECK(strstr(engine_wire(&e, k), TIMEOUT_421) != NULL);
	/* a pipelined group whose lines all end is never cut */
	int j = engine_connect_greeted(&e, PORT);
	for (int i = 0; i < 10; i++) {
		engine_advance(&e, 2000);
		ENGINE_CMD(&e, j, "NOOP\r\n", "250");
	}
	CHECK(!e.clients[j].closed);
	engine_fini(&e);
	/* the PROXY header too: --timeout from the connection, not per byte */
	static const char hdr[] = "PROXY TCP4 192.0.2.7 192.0.2.1 51000 25\r\n";
	const char *const proxied[] = { "--discard", "--timeout", "5", "--proxy-protocol", NULL };
	CHECK(engine_init(&e, proxied));
	k = engine_connect(&e, PORT);
	engine_pump(&e);
	ms = 0;
	for (size_t i = 0; i < sizeof hdr - 3 && !e.clients[k].closed; i++) {
		engine_send(&e, k, hdr + i, 1);
		engine_advance(&e, 2000);
		ms += 2000;
	}
	CHECK(e.clients[k].closed);
	CHECK(ms >= 6000 && ms <= 8000);
	engine_fini(&e);
}

/* --session-max: a session busy all along still ends. */
static void test_session_max(void)
{
	const char *const args[] = { "--discard", "--session-max", "10", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	int n = 0;
	while (!e.clients[k].closed && n < 30) {
		ENGINE_CMD(&e, k, "NOOP\r\n", "250");
		engine_advance(&e, 1000);
		n++;
	}
	CHECK(n >= 10 && n <= 12);
	CHECK(strstr(engine_wire(&e, k), TIMEOUT_421) != NULL);
	engine_fini(&e);
}

/* Stress: 80 % of --max-conns in use, and idle sessions time out after
 * 10 s instead of --timeout; below 70 % the normal timeout is back. */
static void test_stress_mode(void)
{
	const char *const args[] = { "--discard", "--max-conns", "10", "--timeout", "300", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k[8];
	for (int i = 0; i < 8; i++)
		k[i] = engine_connect_greeted(&e, PORT);
	CHECK(e.sh.stress);
	engine_advance(&e, 12000);
	for (int i = 0; i < 8; i++)
		CHECK(e.clients[k[i]].closed);
	CHECK(!e.sh.stress);
	int j = engine_connect_greeted(&e, PORT);
	engine_advance(&e, 30000);
	CHECK(!e.clients[j].closed);
	engine_fini(&e);
}

/* --client-max-conns: a fourth session from one address is refused, from
 * another address it is not; a place freed is taken again. */
static void test_client_max_conns(void)
{
	const char *const args[] = { "--discard", "--client-max-conns", "3", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int a[3];
	for (int i = 0; i < 3; i++)
		a[i] = engine_connect_greeted(&e, PORT);
	int over = engine_connect(&e, PORT);
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, over, "421 4.7.0 smtpsink Error: too many connections from your address");
	CHECK(e.clients[over].closed);
	int other = engine_connect_from(&e, "127.0.0.2", PORT);
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, other, "220");
	ENGINE_CMD(&e, a[0], "QUIT\r\n", "221");
	int again = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, again, "NOOP\r\n", "250");
	engine_fini(&e);
}

/* --data-min-rate: a slowloris DATA is cut, a steady one is not. */
static void test_data_min_rate(void)
{
	const char *const args[] = { "--discard", "--timeout", "3", "--data-min-rate", "1000", NULL };
	for (int steady = 0; steady < 2; steady++) {
		static struct engine e;
		CHECK(engine_init(&e, args));
		int k = engine_connect_greeted(&e, PORT);
		ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
		ENGINE_CMD(&e, k, "RCPT TO:<c@d.example>\r\n", "250");
		ENGINE_CMD(&e, k, "DATA\r\n", "354");
		char piece[1001];
		size_t len = steady ? 1000 : 50; /* per 250 ms: 4000 B/s or 200 B/s */
		memset(piece, 'z', len - 2);
		memcpy(piece + len - 2, "\r\n", 2);
		uint64_t ms = 0;
		while (ms < 8000 && !e.clients[k].closed) {
			engine_send(&e, k, piece, len);
			engine_advance(&e, 250);
			ms += 250;
		}
		if (steady) {
			CHECK(!e.clients[k].closed);
			ENGINE_CMD(&e, k, ".\r\n", "250 2.0.0 Ok: queued");
		} else {
			CHECK(strstr(engine_wire(&e, k), TIMEOUT_421) != NULL);
			CHECK(ms > 3000 && ms <= 5250); /* after the first interval */
			CHECK(gone(&e, k));
			CHECK_U64(e.sh.stats.messages, 0);
		}
		engine_fini(&e);
	}
}

/* --- --max-conns ---------------------------------------------------------- */
static void test_max_conns(void)
{
	const char *const args[] = { "--discard", "--max-conns", "2", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int a = engine_connect_greeted(&e, PORT), b = engine_connect_greeted(&e, PORT);
	int c = engine_connect(&e, PORT);
	engine_pump(&e);
	CHECK_STR(engine_wire(&e, c), strlen(engine_wire(&e, c)), "421 4.7.0 Too many connections\r\n");
	CHECK(gone(&e, c));
	CHECK_U64(e.sh.stats.conns_refused, 1);
	ENGINE_CMD(&e, a, "QUIT\r\n", "221");
	int d = engine_connect_greeted(&e, PORT); /* a place is free again */
	ENGINE_CMD(&e, b, "NOOP\r\n", "250");
	ENGINE_CMD(&e, d, "NOOP\r\n", "250");
	engine_fini(&e);
}

/* --proxy-from: only a trusted peer's header is read; any other peer gets
 * no banner and is closed. */
static void test_proxy_from(void)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.7 192.0.2.1 51000 25\r\n";
	const char *const args[] = { "--discard", "--proxy-from", "127.0.0.2", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int bad = engine_connect(&e, PORT);
	engine_send_str(&e, bad, hdr);
	engine_pump(&e);
	CHECK_U64(e.clients[bad].wire_len, 0);
	CHECK(e.clients[bad].closed);
	CHECK_U64(e.sh.stats.proxy_refused, 1);
	int good = engine_connect_from(&e, "127.0.0.2", PORT);
	engine_send_str(&e, good, hdr);
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, good, "220 smtpsink");
	CHECK(e.clients[good].conn->peer.addr[0] == 192);
	engine_fini(&e);
}

/* --- the PROXY header ---------------------------------------------------- */
static void test_proxy_header(void)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.7 192.0.2.1 51000 25\r\n";
	const char *const args[] = { "--discard", "--proxy-protocol", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect(&e, PORT);
	engine_pump(&e);
	CHECK_U64(e.clients[k].wire_len, 0); /* no banner before the header */
	CHECK_U64(e.clients[k].conn->state, CONN_PROXY);
	for (size_t i = 0; i < sizeof hdr - 1; i++) { /* a byte at a time */
		engine_send(&e, k, hdr + i, 1);
		engine_pump(&e);
	}
	ENGINE_CHECK_REPLY(&e, k, "220 smtpsink");
	struct conn *c = e.clients[k].conn;
	CHECK_U64(c->peer.port, 51000);
	CHECK(c->peer.addr[0] == 192 && c->peer.addr[3] == 7);
	ENGINE_CMD(&e, k, "NOOP\r\n", "250");
	/* a connection that does not start with a header is dropped, unanswered */
	int bad = engine_connect(&e, PORT);
	engine_send_str(&e, bad, "EHLO not-a-proxy\r\n");
	engine_pump(&e);
	CHECK_U64(e.clients[bad].wire_len, 0);
	CHECK(gone(&e, bad));
	engine_fini(&e);
}

/* --- shutdown: idle sessions at once, busy ones when idle or forced ------ */
static void test_shutdown(void)
{
	static struct engine e;
	CHECK(engine_init(&e, discard));
	int idle = engine_connect_greeted(&e, PORT), busy = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, busy, "MAIL FROM:<a@b.example>\r\n", "250");
	atomic_store(&e.shared.stopping, true);
	conn_shutdown(e.clients[idle].conn, false);
	conn_shutdown(e.clients[busy].conn, false);
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, idle, "421 4.3.2 smtpsink Service shutting down");
	CHECK(gone(&e, idle));
	CHECK(!e.clients[busy].closed); /* mid-transaction: it may finish */
	ENGINE_CMD(&e, busy, "RCPT TO:<c@d.example>\r\n", "250");
	conn_shutdown(e.clients[busy].conn, true); /* the grace period is over */
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, busy, "421 4.3.2");
	CHECK(gone(&e, busy));
	engine_fini(&e);
}

int main(void)
{
	test_session_lifecycle();
	test_short_sends();
	test_send_error();
	test_never_reads();
	test_stalled_sessions_release_buffers();
	test_recv_stopped();
	test_reset_and_eof();
	test_idle_timeout();
	test_timeout_never_read();
	test_data_min_rate();
	test_trickled_command();
	test_session_max();
	test_stress_mode();
	test_client_max_conns();
	test_proxy_from();
	test_max_conns();
	test_proxy_header();
	test_shutdown();
	return harness_finish("test_conn");
}
