/*
 * tests/io/test_conn_stats.c - what the engine counts (io/shard_stats.h)
 * and --exit-after, through the fake backend of engine_harness.h.
 *
 * Owns: commands by verb, reply lines by code (a multi-line EHLO reply
 * once), messages, their bytes and recipients, refusals, connections
 * opened and closed, the end-of-data and fsync histograms (the fake clock
 * moved between the end of data and the sync's completion), and
 * --exit-after N: the Nth 250 sends SIGTERM to the process, a message past
 * N is refused 421 and not stored, a refused message gives its place back.
 *
 * Workload: a few messages per test; spool writes are real (a temporary
 * directory), their completions delivered when the test says.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "engine_harness.h"
#include "session_harness.h"

#define PORT 40005

static void send_message(struct engine *e, int k, const char *body)
{
	ENGINE_CMD(e, k, "MAIL FROM:<a@b.example>\r\n", "250");
	ENGINE_CMD(e, k, "RCPT TO:<c@d.example>\r\n", "250");
	ENGINE_CMD(e, k, "RCPT TO:<e@d.example>\r\n", "250");
	ENGINE_CMD(e, k, "DATA\r\n", "354");
	engine_send_str(e, k, body);
	engine_pump(e);
}

static uint64_t reply_count(const struct shard_stats *st, unsigned code)
{
	return shard_stats_get(&st->replies[code - SHARD_STATS_CODE_MIN]);
}

static uint64_t hist_count(const struct shard_stats_hist *h)
{
	uint64_t n = 0;
	for (unsigned b = 0; b < SHARD_STATS_BUCKETS; b++)
		n += shard_stats_get(&h->bucket[b]);
	return n;
}

static void test_counts(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	const struct shard_stats *st = &e.sh.stats;
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "EHLO client.example\r\n", "250-");
	send_message(&e, k, "Subject: one\r\n\r\nbody\r\n.\r\n");
	engine_spool_tick(&e); /* submitted now... */
	engine_tick(&e, 3); /* ... durable 3 ms after the end of data */
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "250 2.0.0 Ok: queued as ");
	ENGINE_CMD(&e, k, "RSET\r\n", "250");
	ENGINE_CMD(&e, k, "BOGUS\r\n", "500");
	ENGINE_CMD(&e, k, "QUIT\r\n", "221");
	engine_pump(&e);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_EHLO]), 1);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_MAIL]), 1);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_RCPT]), 2);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_DATA]), 1);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_UNKNOWN]), 1);
	CHECK_U64(shard_stats_get(&st->commands[SMTP_VERB_QUIT]), 1);
	CHECK_U64(reply_count(st, 220), 1);
	CHECK_U64(reply_count(st, 250), 6); /* EHLO (once), MAIL, 2 RCPT, the message, RSET */
	CHECK_U64(reply_count(st, 354), 1);
	CHECK_U64(reply_count(st, 500), 1);
	CHECK_U64(reply_count(st, 221), 1);
	CHECK_U64(shard_stats_get(&st->messages), 1);
	CHECK_U64(shard_stats_get(&st->recipients), 2);
	CHECK_U64(shard_stats_get(&st->message_bytes), strlen("Subject: one\r\n\r\nbody\r\n"));
	CHECK_U64(shard_stats_get(&st->messages_refused), 0);
	CHECK_U64(hist_count(&st->eod), 1);
	CHECK_U64(shard_stats_get(&st->eod.bucket[shard_stats_bucket(3000)]), 1);
	CHECK_U64(shard_stats_get(&st->eod.sum_us), 3000);
	CHECK_U64(hist_count(&st->fsync), 1);
	CHECK_U64(shard_stats_get(&st->fsync.sum_us), 3000);
	CHECK_U64(shard_stats_get(&st->conns_accepted), 1);
	CHECK_U64(shard_stats_get(&st->conns_closed), 1);
	engine_fini(&e);
}

/* A failed write answers 451: counted as refused, with its wait. */
static void test_refused(void)
{
	static struct engine e;
	CHECK(engine_init(&e, NULL));
	int k = engine_connect_greeted(&e, PORT);
	send_message(&e, k, "Subject: x\r\n\r\n.\r\n");
	e.fail_write = -EIO;
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, k, "451");
	CHECK_U64(shard_stats_get(&e.sh.stats.messages_refused), 1);
	CHECK_U64(shard_stats_get(&e.sh.stats.messages), 0);
	CHECK_U64(hist_count(&e.sh.stats.eod), 1);
	engine_fini(&e);
}

/* Was SIGTERM sent to the process (blocked, so it waits to be taken)? */
static bool took_sigterm(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	struct timespec zero = { 0, 0 };
	return sigtimedwait(&s, NULL, &zero) == SIGTERM;
}

/* One message sent, written and made durable. */
static void store_one(struct engine *e, int k)
{
	send_message(e, k, "Subject: x\r\n\r\n.\r\n");
	engine_spool_tick(e);
	engine_spool_complete(e);
}

static void test_exit_after(void)
{
	static struct engine e;
	const char *const args[] = { "--exit-after", "2", NULL };
	CHECK(engine_init(&e, args));
	int a = engine_connect_greeted(&e, PORT), b = engine_connect_greeted(&e, PORT);
	send_message(&e, a, "Subject: fails\r\n\r\n.\r\n");
	e.fail_write = -EIO;
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	ENGINE_CHECK_REPLY(&e, a, "451"); /* its place is given back */
	store_one(&e, a);
	ENGINE_CHECK_REPLY(&e, a, "250 2.0.0 Ok: queued");
	CHECK(!took_sigterm());
	store_one(&e, b);
	ENGINE_CHECK_REPLY(&e, b, "250 2.0.0 Ok: queued");
	CHECK(took_sigterm()); /* the second 250: the server stops */
	send_message(&e, a, "Subject: one too many\r\n\r\n.\r\n");
	ENGINE_CHECK_REPLY(&e, a, "421 4.3.2 Service shutting down");
	CHECK(e.clients[a].closed);
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	CHECK(!took_sigterm());
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK_U64(sp.messages, 2);
	CHECK_U64(shard_stats_get(&e.sh.stats.messages), 2);
	CHECK_U64(shard_stats_get(&e.sh.stats.messages_refused), 2);
	engine_fini(&e);
}

int main(void)
{
	sigset_t s; /* --exit-after's SIGTERM waits for took_sigterm() */
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigprocmask(SIG_BLOCK, &s, NULL);
	test_counts();
	test_refused();
	test_exit_after();
	return harness_finish("test_conn_stats");
}
