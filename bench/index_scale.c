/*
 * bench/index_scale.c - the index at scale (issue 13's targets): build an
 * index of N synthetic messages (default 1,000,000) and time what the API
 * asks of it: the first page of the list with its counts (< 50 ms), a to:
 * search (< 100 ms) and a free-text search (< 500 ms).
 *
 * Usage: index_scale DIR [N]
 *        index_scale --indexer SPOOL
 *        index_scale --phase1 SPOOL
 *        index_scale --delete-all SPOOL
 * The second form runs the indexer thread (index/indexer.h) over a spool
 * written by the server or tests/spool/spool_gen until it has caught up,
 * and prints the rate of phase 1 (rows from the records' heads) and of
 * both phases (phase 2: records verified, parsed by mime/, free text):
 * how fast a rebuild goes, and how far capture may outrun each.
 * --phase1 stops once phase 1 has caught up (for profiling it alone).
 * --delete-all times "delete everything" on SPOOL's index (as the API
 * asks it) and the purge that follows (as the indexer runs it).
 * DIR is created as a spool directory holding only SPOOL/index and
 * SPOOL/marks (no segments: rows are added as the indexer adds them,
 * through index_add, without MIME parsing, so the build measures the
 * database).  An existing index in DIR with N messages is reused, so the
 * queries can be timed again without rebuilding.  Each query runs
 * QUERY_RUNS times; the first (cold statement cache) and the median are
 * printed.  Not a test: a measurement for docs/BENCHMARKS.md.
 *
 * Message i: from sender<i % 97>@example.com, to user<i % 1009>@example.org
 * (and cc<i % 7>@example.net when i % 3 == 0), Subject "Order <i % 5000>
 * shipped" or "Password reset <i>", a body of 12 words from a vocabulary of
 * 64, plus the word "ref<i % 10007>".  Received 1 ms apart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "indexer.h"
#include "mail_index_int.h"

#define DEFAULT_MESSAGES 1000000ull
#define BATCH 1000u
#define QUERY_RUNS 5
#define PAGE 50u
#define T0_US 1765000000000000ll
#define TEXT_BYTES 512u

static const char *const vocab[64] = {
	"account", "address", "alpha",	  "amount",   "answer",	 "apple",  "april",   "basket", "berry",  "bicycle",
	"billing", "bravo",   "bridge",	  "button",   "camera",	 "carbon", "charlie", "circle", "cloud",  "copper",
	"credit",  "delta",   "delivery", "desk",     "diamond", "echo",   "engine",  "falcon", "garden", "glass",
	"harbor",  "invoice", "island",	  "jacket",   "kettle",	 "ladder", "lemon",   "marble", "meadow", "mirror",
	"notice",  "ocean",   "orange",	  "package",  "paper",	 "pencil", "planet",  "quartz", "river",  "rocket",
	"saddle",  "silver",  "summit",	  "ticket",   "timber",	 "update", "velvet",  "violet", "wagon",  "window",
	"yellow",  "zebra",   "zenith",	  "shipping",
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct gen {
	char qid[MAIL_INDEX_QID_BYTES + 1], subject[TEXT_BYTES], from[TEXT_BYTES], to[TEXT_BYTES], cc[TEXT_BYTES];
	char to_json[TEXT_BYTES], body[TEXT_BYTES], headers[5 * TEXT_BYTES]; /* four fields and their names */
};

static void make_doc(struct gen *g, struct index_doc *d, uint64_t i)
{
	snprintf(g->qid, sizeof g->qid, "Q%015llu", (unsigned long long)(i % 1000000000000000ull));
	if (i % 4 == 0)
		snprintf(g->subject, sizeof g->subject, "Password reset %llu", (unsigned long long)i);
	else
		snprintf(g->subject, sizeof g->subject, "Order %llu shipped", (unsigned long long)(i % 5000));
	snprintf(g->from, sizeof g->from, "<sender%llu@example.com>", (unsigned long long)(i % 97));
	snprintf(g->to, sizeof g->to, "User %llu <user%llu@example.org>", (unsigned long long)(i % 1009),
		 (unsigned long long)(i % 1009));
	snprintf(g->to_json, sizeof g->to_json, "[{\"Name\":\"User %llu\",\"Address\":\"user%llu@example.org\"}]",
		 (unsigned long long)(i % 1009), (unsigned long long)(i % 1009));
	g->cc[0] = '\0';
	if (i % 3 == 0)
		snprintf(g->cc, sizeof g->cc, "<cc%llu@example.net>", (unsigned long long)(i % 7));
	size_t n = 0;
	uint64_t h = i * 0x9E3779B97F4A7C15ull;
	for (int w = 0; w < 12; w++, h = h * 6364136223846793005ull + 1442695040888963407ull)
		n += (size_t)snprintf(g->body + n, sizeof g->body - n, "%s ", vocab[(h >> 58) & 63]);
	snprintf(g->body + n, sizeof g->body - n, "ref%llu", (unsigned long long)(i % 10007));
	snprintf(g->headers, sizeof g->headers, "Subject: %s\nFrom: %s\nTo: %s\nCc: %s\n", g->subject, g->from, g->to,
		 g->cc);
	memset(d, 0, sizeof *d);
	memcpy(d->qid, g->qid, sizeof d->qid);
	d->received_us = T0_US + (int64_t)i * 1000;
	d->size = 800 + i % 4000;
	d->segno = 1 + i / 100000;
	d->offset = 64 + (i % 100000) * 1024;
	d->message_id = g->qid;
	d->subject = g->subject;
	d->snippet = g->body;
	d->from_address = g->from;
	d->to_json = g->to_json;
	d->cc_json = d->bcc_json = d->reply_to_json = "[]";
	d->from_text = g->from;
	d->to_text = g->to;
	d->cc_text = g->cc;
	d->attachments = i % 10 == 0;
	d->headers_text = g->headers;
	d->body_text = g->body;
}

static int build(struct mail_index *ix, uint64_t have, uint64_t n)
{
	struct gen g;
	struct index_doc d;
	double t0 = now_ms();
	for (uint64_t i = have; i < n;) {
		if (index_begin(ix) != 0)
			return -EIO;
		for (unsigned k = 0; k < BATCH && i < n; k++, i++) {
			make_doc(&g, &d, i);
			if (index_add(ix, &d) < 0)
				return -EIO;
		}
		if (index_commit(ix) != 0)
			return -EIO;
		if (i % 100000 == 0)
			fprintf(stderr, "  %llu messages, %.0f/s\n", (unsigned long long)i,
				(double)(i - have) / ((now_ms() - t0) / 1e3));
	}
	if (n > have)
		printf("build: %llu messages in %.1f s (%.0f/s)\n", (unsigned long long)(n - have),
		       (now_ms() - t0) / 1e3, (double)(n - have) / ((now_ms() - t0) / 1e3));
	return 0;
}

static int count_rows(void *arg, const struct mail_summary *s)
{
	(*(uint64_t *)arg)++;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A page of q plus its counts, as GET /api/v1/messages or /search does. */
static void time_query(struct mail_index *ix, const char *label, const struct search_query *q, uint64_t start)
{
	double ms[QUERY_RUNS];
	uint64_t rows = 0, total = 0, unread = 0;
	for (int r = 0; r < QUERY_RUNS; r++) {
		double t0 = now_ms();
		rows = 0;
		if (mail_index_search(ix, q, start, PAGE, count_rows, &rows) != 0 ||
		    mail_index_count(ix, q, &total, &unread) != 0)
			fprintf(stderr, "%s: query failed\n", label);
		ms[r] = now_ms() - t0;
	}
	double first = ms[0];
	qsort(ms, QUERY_RUNS, sizeof ms[0], cmp_double);
	printf("%-34s first %8.1f ms  median %8.1f ms  (%llu rows of %llu)\n", label, first, ms[QUERY_RUNS / 2],
	       (unsigned long long)rows, (unsigned long long)total);
}

/* What the API is asked, as query strings (core/search_query.c parses). */
static const struct {
	const char *label, *text;
	uint64_t start;
} queries[] = {
	{ "first page + counts", "", 0 },
	{ "page 100 (start 5000)", "", 5000 },
	{ "to:user123@example.org", "to:user123@example.org", 0 },
	{ "to:user12 (substring, 11 names)", "to:user12", 0 },
	{ "to:example.org (every message)", "to:example.org", 0 },
	{ "free text ref4242", "ref4242", 0 },
	{ "free text invoice (common)", "invoice", 0 },
	{ "free text \"password reset\"", "\"password reset\"", 0 },
};

/* Every row up to this seq has its trigrams. */
static uint64_t trigram_through(struct mail_index *ix)
{
	sqlite3_stmt *st;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT value FROM meta WHERE key = 'trigram_through'", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The indexer over SPOOL until caught up: the rate of phase 1 (rows
 * from the records' heads: list, count, header searches) and of both
 * phases (until phase 2, GMime and free text, caught up too). */
static int run_indexer(const char *spool, bool phase1_only)
{
	struct indexer *x;
	struct indexer_stats st;
	const char *err;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	double t0 = now_ms(), t1 = 0;
	if (indexer_start(&x, spool, NULL, NULL, &err) != 0) {
		fprintf(stderr, "index_scale: %s\n", err);
		return 1;
	}
	struct mail_index *ix = NULL;
	double t_tri = 0;
	do {
		nanosleep(&tick, NULL);
		indexer_stats(x, &st);
		if (t1 == 0 && st.caught_up) {
			t1 = now_ms();
			if (mail_index_open(&ix, spool, &err) != 0)
				ix = NULL;
		}
		if (t_tri == 0 && ix != NULL && trigram_through(ix) >= st.last_seq)
			t_tri = now_ms();
	} while (!st.caught_up || (st.body_pending > 0 && !phase1_only));
	double s1 = (t1 - t0) / 1e3, s = (now_ms() - t0) / 1e3;
	indexer_stop(x);
	mail_index_close(ix);
	printf("indexer phase 1: %llu messages in %.2f s (%.0f/s)\n", (unsigned long long)st.indexed, s1,
	       (double)st.indexed / s1);
	if (phase1_only)
		return 0;
	if (t_tri > 0)
		printf("indexer phase 1 with trigrams: %.1f s (trigram step alone %.0f/s)\n", (t_tri - t0) / 1e3,
		       (double)st.indexed / ((t_tri - t1) / 1e3));
	printf("indexer both phases: %llu messages in %.1f s (%.0f/s; phase 2 alone %.0f/s)\n",
	       (unsigned long long)st.body_indexed, s, (double)st.body_indexed / s, (double)st.body_indexed / (s - s1));
	return 0;
}

/* Delete everything in SPOOL's index as the API does, then purge as the
 * indexer does: how long each takes. */
static int run_delete_all(const char *spool)
{
	struct mail_index *ix;
	const char *err;
	uint64_t total, unread, purged = 0;
	if (mail_index_open(&ix, spool, &err) != 0) {
		fprintf(stderr, "index_scale: %s\n", err);
		return 1;
	}
	mail_index_count(ix, NULL, &total, &unread);
	double t0 = now_ms();
	int rc = mail_index_delete(ix, NULL, 0);
	double t1 = now_ms();
	for (int n; rc == 0 && (n = index_purge(ix, INDEXER_PURGE_SLICE)) > 0;)
		purged += (uint64_t)n;
	double t2 = now_ms();
	printf("delete all: %llu messages hidden in %.1f ms; purged %llu rows in %.1f s\n", (unsigned long long)total,
	       t1 - t0, (unsigned long long)purged, (t2 - t1) / 1e3);
	mail_index_close(ix);
	return rc != 0;
}

int main(int argc, char **argv)
{
	static struct search_query q;
	struct mail_index *ix;
	const char *err;
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : DEFAULT_MESSAGES, have, unread;
	if (argc < 2) {
		fprintf(stderr, "usage: index_scale DIR [N] | --indexer SPOOL | --phase1 SPOOL | --delete-all SPOOL\n");
		return 2;
	}
	if (strcmp(argv[1], "--indexer") == 0)
		return argc == 3 ? run_indexer(argv[2], false) : 2;
	if (strcmp(argv[1], "--delete-all") == 0)
		return argc == 3 ? run_delete_all(argv[2]) : 2;
	if (strcmp(argv[1], "--phase1") == 0)
		return argc == 3 ? run_indexer(argv[2], true) : 2;
	if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	if (mail_index_open(&ix, argv[1], &err) != 0) {
		fprintf(stderr, "index_scale: %s\n", err);
		return 1;
	}
	if (mail_index_count(ix, NULL, &have, &unread) != 0 || build(ix, have, n) != 0) {
		fprintf(stderr, "index_scale: build failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		size_t at;
		if (search_query_parse(queries[i].text, strlen(queries[i].text), &q, &at) != SEARCH_OK) {
			fprintf(stderr, "index_scale: query '%s' does not parse\n", queries[i].text);
			return 1;
		}
		time_query(ix, queries[i].label, &q, queries[i].start);
	}
	struct mail_index_info info;
	mail_index_info(ix, &info);
	printf("database: %.0f MB for %llu messages\n", (double)info.db_bytes / 1e6, (unsigned long long)info.messages);
	mail_index_close(ix);
	return 0;
}
