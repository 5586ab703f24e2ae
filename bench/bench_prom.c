/*
 * bench/bench_prom.c - --prometheus ADDR: serve the run's live counters at
 * http://ADDR/metrics (any other path: 404) from libmicrohttpd's own
 * thread.
 *
 * Owns: the daemon, and handing snapshots from the thread that makes them
 * to the HTTP thread without a lock: a sequence lock over relaxed atomic
 * words.  The writer (one thread, once a second) makes seq odd, stores
 * every word, makes it even; a reader copies the words and tries again if
 * seq was odd or moved meanwhile.  The writer never waits or retries; a
 * scrape sees one snapshot whole, never half of two.
 *
 * Where the snapshots come from: the workers count in their own process,
 * each its own counters (single writer, no atomics on the hot path), and
 * hand a snapshot to the parent once a second through their pipe
 * (bench_workers.c); the parent merges them and publishes here.  With one
 * worker its loop publishes its own stats once a second.  So the figures
 * are at most a second old while the run goes, and exact at its end
 * (published once more with the final totals, which --prometheus-linger
 * keeps serving).
 *
 * Does not: format (bench_prom_text.c), or count.
 */
#include "bench_prom.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_prom_text.h"

#define PROM_CONN_LIMIT 16u /* scrapers: a Prometheus or two, and curl */
#define PROM_CONN_TIMEOUT_S 10u
#define PROM_PATH "/metrics"
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct bench_prom {
	struct MHD_Daemon *daemon;
	double rate;
	_Atomic uint64_t seq; /* odd while the writer is storing */
	_Atomic uint64_t words[BENCH_PROM_SNAP_WORDS];
};

_Static_assert(sizeof(struct bench_prom_snap) % sizeof(uint64_t) == 0, "a snapshot is whole words");

/* The writer's side of the sequence lock. */
static void store_snapshot(struct bench_prom *p, const struct bench_prom_snap *snap)
{
	uint64_t w[BENCH_PROM_SNAP_WORDS];
	memcpy(w, snap, sizeof w);
	uint64_t seq = atomic_load_explicit(&p->seq, memory_order_relaxed);
	atomic_store_explicit(&p->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd seq is visible before any new word */
	for (size_t i = 0; i < BENCH_PROM_SNAP_WORDS; i++)
		atomic_store_explicit(&p->words[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&p->seq, seq + 2, memory_order_release);
}

void bench_prom_publish(struct bench_prom *p, const struct bench_stats *s, bool running)
{
	struct bench_prom_snap snap;
	bench_prom_snap_fill(&snap, s, running);
	store_snapshot(p, &snap);
}

/* The reader's side: a whole snapshot, as the writer last left it. */
static void read_snapshot(struct bench_prom *p, struct bench_prom_snap *out)
{
	uint64_t w[BENCH_PROM_SNAP_WORDS], before, after;
	do {
		before = atomic_load_explicit(&p->seq, memory_order_acquire);
		for (size_t i = 0; i < BENCH_PROM_SNAP_WORDS; i++)
			w[i] = atomic_load_explicit(&p->words[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire); /* the words are read before seq again */
		after = atomic_load_explicit(&p->seq, memory_order_relaxed);
	} while ((before & 1) != 0 || before != after);
	memcpy(out, w, sizeof w);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result e = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return e;
}

/* The exposition of the latest snapshot, in a malloc'd buffer. */
static char *exposition(struct bench_prom *p, size_t *len)
{
	struct bench_prom_snap snap;
	read_snapshot(p, &snap);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	int e = bench_prom_write(f, &snap, p->rate);
	if (fclose(f) != 0 || e != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET only\n"), strlen("GET only\n"),
			     "text/plain");
	if (strcmp(url, PROM_PATH) != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, strdup("only " PROM_PATH "\n"), strlen("only " PROM_PATH "\n"),
			     "text/plain");
	size_t len = 0;
	char *body = exposition(cls, &len);
	if (body == NULL)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, body, len, PROM_CONTENT_TYPE);
}

struct bench_prom *bench_prom_start(const struct bench_config *cfg, char *err, size_t err_len)
{
	struct bench_prom *p = calloc(1, sizeof *p);
	if (p == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	p->rate = cfg->rate;
	store_snapshot(p, &(struct bench_prom_snap){ .running = 1 }); /* before the first snapshot: zeros */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
	if (cfg->prom_addr.sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	p->daemon =
		MHD_start_daemon(flags, 0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR,
				 (const struct sockaddr *)&cfg->prom_addr.sa, MHD_OPTION_CONNECTION_LIMIT,
				 PROM_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, PROM_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (p->daemon == NULL) {
		snprintf(err, err_len, "cannot listen on %s (in use?)", cfg->prom_text);
		free(p);
		return NULL;
	}
	return p;
}

void bench_prom_stop(struct bench_prom *p)
{
	if (p == NULL)
		return;
	MHD_stop_daemon(p->daemon);
	free(p);
}
