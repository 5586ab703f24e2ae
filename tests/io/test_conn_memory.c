/*
 * tests/io/test_conn_memory.c - bounded memory whatever clients send
 * (io/capture.c spill files, io/mem_budget.c, io/conn_input.c), through the
 * fake backend of engine_harness.h, in capture mode.
 *
 * Owns: a message far bigger than a chunk goes to its spill file as it
 * arrives and is stored byte for byte; the memory it holds meanwhile stays
 * within two chunks and one read; a slow disk (spill writes not done)
 * stops the connection reading, so what waits is in the client's socket,
 * not in the server, and it goes on when the disk catches up; the end of
 * data while a spill write is in flight; a spill write that fails (451,
 * nothing stored, the session goes on); one that finds the disk full (452,
 * and MAIL gets 452 until a look at free space finds room); recipients
 * past the budget (452 4.3.1, never a client error); a transaction aborted or a client
 * gone mid-message (no descriptor or byte left behind); a budget far
 * smaller than the clients' content (they wait in turn, all are stored,
 * the budget is whole again at the end); an idle connection's size, and
 * the command-line carry lent from the shard's pool only while half a line
 * waits (complete lines never take one).
 *
 * Workload: messages of a few MiB, a clock that moves only to let the
 * spool look at free space again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "engine_harness.h"
#include "session_harness.h"
#include "spool.h"

#define PORT 40003
#define MIB (1024u * 1024u)
/* An idle connection: struct conn with its session, no carry, no buffer
 * (the 100,000-session aim is 1 KiB of RSS each, docs/ARCHITECTURE.md). */
#define IDLE_CONN_MAX_BYTES 560u

/* n bytes of message content: lines of 78 letters, never a lone dot. */
static char *content(size_t n, unsigned seed)
{
	char *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i + seed) % 26);
	for (size_t i = 78; i + 1 < n; i += 80) {
		p[i] = '\r';
		p[i + 1] = '\n';
	}
	return p;
}

static void open_transaction(struct engine *e, int k)
{
	ENGINE_CMD(e, k, "MAIL FROM:<big@example.com>\r\n", "250");
	ENGINE_CMD(e, k, "RCPT TO:<r@example.com>\r\n", "250");
	ENGINE_CMD(e, k, "DATA\r\n", "354");
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d != NULL && readdir(d) != NULL)
		n++;
	if (d != NULL)
		closedir(d);
	return n;
}

/* The bytes the budget counts for this shard's sessions (and the session
 * reports queued for the spool: written first, so that none is left). */
static int64_t held(struct engine *e)
{
	engine_spool_tick(e);
	engine_spool_complete(e);
	return e->sh.mem.held;
}

/* The first message stored is body (total bytes) and its line end, byte
 * for byte; then the client quits and nothing is held. */
static void finish_stored(struct engine *e, int k, char *body, size_t total)
{
	struct engine_spooled sp;
	CHECK(engine_spool_read(e, 0, &sp));
	CHECK_U64(sp.body_len, total + 2);
	char *want = malloc(total + 2);
	memcpy(want, body, total);
	memcpy(want + total, "\r\n", 2);
	CHECK_U64(sp.body_hash, XXH3_64bits(want, total + 2));
	free(want);
	free(body);
	ENGINE_CMD(e, k, "QUIT\r\n", "221");
	CHECK_U64(held(e), 0);
	engine_fini(e);
}

/* 5 MiB in pieces of 60 KiB: spilled as it comes, at most two chunks and a
 * read held at any time, stored whole. */
static void test_big_message_spills(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	size_t total = 5 * MIB, piece = 60 * 1024;
	char *body = content(total, 1);
	int64_t peak = 0;
	for (size_t off = 0; off < total; off += piece) {
		engine_send(&e, k, body + off, total - off < piece ? total - off : piece);
		engine_pump(&e);
		peak = held(&e) > peak ? held(&e) : peak;
	}
	CHECK(peak <= 2 * CAPTURE_CHUNK_MAX_BYTES + 64 * 1024);
	CHECK(e.spill_writes >= total / CAPTURE_CHUNK_MAX_BYTES - 1);
	ENGINE_CMD(&e, k, "\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	finish_stored(&e, k, body, total);
}

/* A disk that does not keep up: the connection stops taking content and
 * stops receiving; the client's bytes wait on its side; nothing grows. */
static void test_slow_disk_backpressure(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	size_t total = 4 * MIB;
	char *body = content(total, 2);
	e.hold_spills = true;
	engine_send(&e, k, body, total);
	engine_pump(&e);
	struct conn *c = e.clients[k].conn;
	CHECK(!c->recv_armed); /* it stopped receiving */
	CHECK(e.clients[k].pending_len > total / 2); /* the rest waits in the client */
	CHECK(held(&e) <= 2 * CAPTURE_CHUNK_MAX_BYTES + 64 * 1024);
	CHECK(e.sh.rbufs.count - e.sh.rbufs.free_count <= 1);
	e.hold_spills = false; /* the disk catches up */
	engine_pump(&e);
	CHECK(c->recv_armed);
	CHECK_U64(e.clients[k].pending_len, 0);
	ENGINE_CMD(&e, k, "\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.body_len, total + 2);
	free(body);
	engine_fini(&e);
}

/* The end of data comes while a spill write is in flight: the record reads
 * that chunk from memory; the capture lives until both writes are done. */
static void test_end_while_spilling(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	size_t total = 700 * 1024;
	char *body = content(total, 3);
	engine_send(&e, k, body, 500 * 1024);
	engine_pump(&e);
	e.hold_spills = true;
	engine_send(&e, k, body + 500 * 1024, total - 500 * 1024);
	engine_send_str(&e, k, "\r\n.\r\n");
	engine_pump(&e);
	CHECK(e.spill_count >= 1); /* a spill write is still out */
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	e.hold_spills = false;
	engine_pump(&e); /* the spill write reports: the capture is freed */
	finish_stored(&e, k, body, total);
}

/* A spill write that fails: the message is refused at its end (never 250),
 * nothing is stored, and the session goes on. */
static void test_spill_failure(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	char *body = content(MIB, 4);
	e.fail_spill = -EIO;
	engine_send(&e, k, body, MIB);
	ENGINE_CMD(&e, k, "\r\n.\r\n", "451 4.3.0");
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(&e, k, "RCPT TO:<c@d.example>\r\n", "250");
	ENGINE_CMD(&e, k, "DATA\r\n", "354");
	ENGINE_CMD(&e, k, "small\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.messages, 1);
	CHECK_STR(sp.body, strlen(sp.body), "small\r\n");
	free(body);
	engine_fini(&e);
}

/* A spill write that finds the disk full: 452 4.3.1 at the end, and MAIL
 * gets 452 4.3.1 (before a client sends another body) until the spool's
 * next look at free space finds --spool-min-free; then mail flows. */
static void test_spill_disk_full(void)
{
	static const char *const args[] = { "--spool-min-free", "1M", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	char *body = content(MIB, 6);
	e.fail_spill = -ENOSPC;
	engine_send(&e, k, body, MIB);
	ENGINE_CMD(&e, k, "\r\n.\r\n", "452 4.3.1");
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "452 4.3.1");
	engine_advance(&e, SPOOL_ROOM_CHECK_MS / 2);
	engine_spool_tick(&e);
	ENGINE_CMD(&e, k, "MAIL FROM:<a@b.example>\r\n", "452 4.3.1");
	engine_advance(&e, SPOOL_ROOM_CHECK_MS);
	engine_spool_tick(&e); /* the test's disk has a MiB free */
	open_transaction(&e, k);
	ENGINE_CMD(&e, k, "small\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	free(body);
	engine_fini(&e);
}

/* The envelope is held within the budget too: recipients with long
 * addresses until the budget (1 MiB) is spent get 452 4.3.1 (never a
 * client error: no 421 however many), the memory held stays within the
 * limit and one growth, the recipients taken are stored, and the budget
 * is whole again afterwards. */
static void test_envelope_in_budget(void)
{
	static const char *const args[] = { "--memory-limit", "1M", "--max-rcpts", "20000", "--max-errors", "5", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "MAIL FROM:<big@example.com>\r\n", "250");
	char label[60]; /* addresses of 250 octets: the longest a path may be */
	memset(label, 'd', sizeof label - 1);
	label[sizeof label - 1] = '\0';
	unsigned taken = 0, refused = 0;
	int64_t peak = 0;
	char line[600];
	for (unsigned i = 0; i < 6000 && refused < 20; i++) {
		snprintf(line, sizeof line, "RCPT TO:<r%05u@%s.%s.%s.%s.example>\r\n", i, label, label, label, label);
		engine_send_str(&e, k, line);
		engine_pump(&e);
		const char *r = engine_reply(&e, k);
		if (strncmp(r, "250", 3) == 0) {
			CHECK_U64(refused, 0); /* none taken after the first refusal */
			taken++;
		} else {
			CHECK(strncmp(r, "452 4.3.1 ", 10) == 0);
			refused++;
		}
		peak = held(&e) > peak ? held(&e) : peak;
	}
	CHECK_U64(refused, 20);
	CHECK(taken > 2000); /* most of a MiB went to recipients */
	CHECK(peak <= (1 << 20) + (1 << 20) / 2);
	ENGINE_CMD(&e, k, "DATA\r\n", "354");
	ENGINE_CMD(&e, k, "Subject: many\r\n\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued");
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.rcpt_count, taken);
	ENGINE_CMD(&e, k, "QUIT\r\n", "221");
	CHECK_U64(held(&e), 0);
	engine_fini(&e);
}

/* Aborted in the middle: by RSET (the session says it), by a reset with a
 * spill write in flight; the spill files are gone, the budget whole. */
static void test_abort_mid_message(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int fds = open_fds();
	char *body = content(2 * MIB, 5);
	int k = engine_connect_greeted(&e, PORT);
	open_transaction(&e, k);
	engine_send(&e, k, body, 2 * MIB);
	engine_pump(&e);
	CHECK(open_fds() > fds); /* its spill file */
	engine_reset(&e, k);
	engine_pump(&e);
	int j = engine_connect_greeted(&e, PORT);
	open_transaction(&e, j);
	e.hold_spills = true;
	engine_send(&e, j, body, MIB);
	engine_pump(&e);
	engine_reset(&e, j); /* gone with a spill write out */
	engine_pump(&e);
	e.hold_spills = false;
	engine_pump(&e);
	CHECK_U64(open_fds(), fds);
	CHECK_U64(held(&e), 0);
	CHECK_U64(e.sh.live_count, 0);
	free(body);
	engine_fini(&e);
}

/* A budget of 1 MiB, eight clients each sending 3 MiB at once, a disk
 * slower than they are: they take turns; the budget is kept (within every
 * session's floor); every message is stored whole. */
static void test_small_budget(void)
{
	enum {
		CLIENTS = 8
	};
	static struct engine e;
	const char *const args[] = { "--memory-limit", "1048576", NULL };
	CHECK(engine_init(&e, args));
	size_t total = 3 * MIB;
	char *body = content(total, 6);
	int k[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		k[i] = engine_connect_greeted(&e, PORT);
		open_transaction(&e, k[i]);
	}
	e.hold_spills = true;
	for (int i = 0; i < CLIENTS; i++)
		engine_send(&e, k[i], body, total);
	int64_t peak = 0;
	for (int round = 0; round < 100000; round++) {
		engine_pump(&e);
		peak = held(&e) > peak ? held(&e) : peak;
		bool done = true;
		for (int i = 0; i < CLIENTS; i++)
			done = done && e.clients[k[i]].pending_len == 0;
		if (done && e.spill_count == 0)
			break;
		e.hold_spills = false; /* one disk round at a time */
		engine_pump(&e);
		e.hold_spills = true;
	}
	e.hold_spills = false;
	CHECK(peak <= (int64_t)MIB + CLIENTS * (int64_t)(MEM_BUDGET_FLOOR_BYTES + 16 * 1024));
	/* the budget did bite: chunks stayed small (tight) */
	CHECK(e.spill_writes > CLIENTS * (total / CAPTURE_CHUNK_TIGHT_BYTES) / 2);
	for (int i = 0; i < CLIENTS; i++)
		ENGINE_CMD(&e, k[i], "\r\n.\r\n", "");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	for (int i = 0; i < CLIENTS; i++)
		ENGINE_CHECK_REPLY(&e, k[i], "250 2.0.0 Ok: queued");
	for (unsigned i = 0; i < CLIENTS; i++) {
		struct engine_spooled sp;
		CHECK(engine_spool_read(&e, i, &sp));
		CHECK_U64(sp.body_len, total + 2);
	}
	for (int i = 0; i < CLIENTS; i++)
		ENGINE_CMD(&e, k[i], "QUIT\r\n", "221");
	CHECK_U64(held(&e), 0);
	free(body);
	engine_fini(&e);
}

/* The command-line carry: none while idle or for complete lines; one from
 * the shard's pool while half a line waits, back once the line is done or
 * the connection is gone, and reused from the pool. */
static void test_carry_only_while_pending(void)
{
	static const char *const args[] = { "--discard", NULL };
	static struct engine e;
	CHECK(engine_init(&e, args));
	CHECK(sizeof(struct conn) <= IDLE_CONN_MAX_BYTES);
	int k = engine_connect_greeted(&e, PORT);
	struct conn *c = e.clients[k].conn;
	CHECK(c->session.lines.carry == NULL && c->out == NULL); /* idle: neither */
	ENGINE_CMD(&e, k, "EHLO client.example\r\n", "250");
	ENGINE_CMD(&e, k, "NOOP\r\n", "250");
	CHECK(c->session.lines.carry == NULL && e.sh.carries.head == NULL); /* never one */
	engine_send_str(&e, k, "MAIL FROM:<a@");
	engine_pump(&e);
	uint8_t *first = c->session.lines.carry;
	CHECK(first != NULL);
	engine_send_str(&e, k, "example.com");
	engine_pump(&e);
	CHECK(c->session.lines.carry == first && e.sh.carries.head == NULL);
	ENGINE_CMD(&e, k, ">\r\n", "250 2.1.0");
	CHECK(c->session.lines.carry == NULL && e.sh.carries.head == first); /* back in the pool */
	int j = engine_connect_greeted(&e, PORT);
	engine_send_str(&e, j, "NOOP\r\nRSET");
	engine_pump(&e);
	CHECK(e.clients[j].conn->session.lines.carry == first && e.sh.carries.head == NULL); /* reused */
	engine_reset(&e, j);
	engine_pump(&e);
	CHECK(e.clients[j].freed && e.sh.carries.head == first); /* a gone connection gives it back */
	ENGINE_CMD(&e, k, "QUIT\r\n", "221");
	engine_fini(&e);
}

int main(void)
{
	test_carry_only_while_pending();
	test_big_message_spills();
	test_slow_disk_backpressure();
	test_end_while_spilling();
	test_spill_failure();
	test_spill_disk_full();
	test_envelope_in_budget();
	test_abort_mid_message();
	test_small_budget();
	return harness_finish("test_conn_memory");
}
