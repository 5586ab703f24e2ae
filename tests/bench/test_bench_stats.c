/*
 * tests/bench/test_bench_stats.c - bench/bench_stats.c: merging and the
 * worker-to-parent encoding.
 *
 * Checks: encode then decode-merge of several workers' stats equals
 * merging them directly (counters, every histogram counter and exact
 * field); the run's start is the earliest, its end, the last message's
 * start and the largest schedule lag the latest (largest); the TLS
 * counters add up; a
 * truncated, extended or corrupted image is refused with -EINVAL.  A
 * progress snapshot (BENCH_STEPS_LIVE) carries the counters and only the
 * live steps' histograms, is smaller than a whole image, is refused when
 * read as a whole image, and bench_stats_reset() empties everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "bench_stats.h"

#define WORKERS 3

static void fill(struct bench_stats *s, unsigned w)
{
	s->c.messages = 100 + w;
	s->c.txn_started = 110 + w;
	s->c.txn_failed = 10;
	s->c.replies[250] = 400 + w;
	s->c.replies[450] = w;
	s->c.errors[BENCH_ERR_TIMEOUT] = w;
	s->c.errors[BENCH_ERR_TLS_HANDSHAKE] = 2 * w;
	s->c.tls_handshakes = 50 + w;
	s->c.tls_resumed = 40 + w;
	s->c.tls_failed = 2 * w;
	s->c.start_ns = 5000 - w * 100;
	s->c.end_ns = 9000 + w * 7;
	s->c.sched_last_ns = 8000 + w;
	s->c.sched_lag_max_ns = 30 - w * 10; /* the largest from the first worker */
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++)
		for (unsigned i = 0; i < 1000 * (w + 1); i++)
			hdr_record(&s->lat[st], (uint64_t)(i * 7919 + st * 104729 + w) % 50000000);
}

static bool same(const struct bench_stats *a, const struct bench_stats *b)
{
	if (memcmp(&a->c, &b->c, sizeof a->c) != 0)
		return false;
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++) {
		const struct hdr_histogram *x = &a->lat[st], *y = &b->lat[st];
		if (x->total_count != y->total_count || x->min != y->min || x->max != y->max || x->sum != y->sum ||
		    memcmp(x->counts, y->counts, x->counts_len * sizeof *x->counts) != 0)
			return false;
	}
	return true;
}

/* A snapshot of the live steps: those histograms and the counters come
 * through, no other step does; read with the wrong step set, it is refused. */
static void check_live_snapshot(const struct bench_stats *src)
{
	struct bench_stats got;
	bench_stats_init(&got);
	size_t len = 0, whole = 0;
	uint8_t *img = bench_stats_encode_steps(src, BENCH_STEPS_LIVE, &len);
	uint8_t *all = bench_stats_encode(src, &whole);
	CHECK(img != NULL && len < whole, "live image %zu bytes, whole %zu", len, whole);
	CHECK(bench_stats_decode_merge(&got, img, len) == -EINVAL, "live image read as whole");
	bench_stats_reset(&got);
	CHECK(bench_stats_decode_merge_steps(&got, BENCH_STEPS_LIVE, img, len) == 0, "live decode");
	CHECK(memcmp(&got.c, &src->c, sizeof got.c) == 0, "live counters");
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++) {
		bool live = (BENCH_STEPS_LIVE & BENCH_STEP_BIT(st)) != 0;
		const struct hdr_histogram *g = &got.lat[st], *w = &src->lat[st];
		CHECK(live ? g->total_count == w->total_count && g->max == w->max &&
				      memcmp(g->counts, w->counts, g->counts_len * sizeof *g->counts) == 0 :
			     g->total_count == 0,
		      "step %u (live %d): %llu values", st, live, (unsigned long long)g->total_count);
	}
	CHECK(hdr_value_at_percentile(&got.lat[CLIENT_STEP_MESSAGE], 99) ==
		      hdr_value_at_percentile(&src->lat[CLIENT_STEP_MESSAGE], 99),
	      "p99 of the message latency");
	const struct hdr_histogram *m = &got.lat[CLIENT_STEP_MESSAGE];
	uint32_t at_max = hdr_index_of(m, src->lat[CLIENT_STEP_MESSAGE].max);
	CHECK(m->counts[at_max] != 0, "the largest message latency is counted");
	bench_stats_reset(&got);
	CHECK(got.c.messages == 0 && m->total_count == 0 && m->max == 0 && m->counts[at_max] == 0, "reset");
	free(img);
	free(all);
	bench_stats_fini(&got);
}

int main(void)
{
	struct bench_stats w[WORKERS], direct, via;
	bench_stats_init(&direct);
	bench_stats_init(&via);
	for (unsigned i = 0; i < WORKERS; i++) {
		bench_stats_init(&w[i]);
		fill(&w[i], i);
		CHECK(bench_stats_merge(&direct, &w[i]) == 0, "merge %u", i);
		size_t len = 0;
		uint8_t *img = bench_stats_encode(&w[i], &len);
		CHECK(img != NULL && bench_stats_decode_merge(&via, img, len) == 0, "decode %u", i);
		if (i == 0) { /* damaged images are refused */
			struct bench_stats junk;
			bench_stats_init(&junk);
			CHECK(bench_stats_decode_merge(&junk, img, len - 1) == -EINVAL, "truncated");
			uint8_t *longer = malloc(len + 1);
			memcpy(longer, img, len);
			longer[len] = 0;
			CHECK(bench_stats_decode_merge(&junk, longer, len + 1) == -EINVAL, "extended");
			memset(longer + sizeof(struct bench_counts) + 40, 0xff, 4); /* a pair count far too large */
			CHECK(bench_stats_decode_merge(&junk, longer, len) == -EINVAL, "corrupted");
			CHECK(bench_stats_decode_merge(&junk, img, 3) == -EINVAL, "tiny");
			free(longer);
			bench_stats_fini(&junk);
		}
		free(img);
	}
	CHECK(same(&direct, &via), "encoded merge differs from direct merge");
	check_live_snapshot(&direct);
	CHECK(direct.c.start_ns == 5000 - 200 && direct.c.end_ns == 9014, "start %llu end %llu",
	      (unsigned long long)direct.c.start_ns, (unsigned long long)direct.c.end_ns);
	CHECK(direct.c.sched_last_ns == 8002 && direct.c.sched_lag_max_ns == 30, "last %llu lag %llu",
	      (unsigned long long)direct.c.sched_last_ns, (unsigned long long)direct.c.sched_lag_max_ns);
	CHECK(direct.c.messages == 303 && direct.c.replies[450] == 3 && direct.lat[0].total_count == 6000, "sums");
	CHECK(direct.c.tls_handshakes == 153 && direct.c.tls_resumed == 123 && direct.c.tls_failed == 6 &&
		      direct.c.errors[BENCH_ERR_TLS_HANDSHAKE] == 6 &&
		      direct.lat[CLIENT_STEP_TLS_HANDSHAKE].total_count == 6000,
	      "TLS sums: %llu %llu %llu", (unsigned long long)direct.c.tls_handshakes,
	      (unsigned long long)direct.c.tls_resumed, (unsigned long long)direct.c.tls_failed);
	for (unsigned i = 0; i < WORKERS; i++)
		bench_stats_fini(&w[i]);
	bench_stats_fini(&direct);
	bench_stats_fini(&via);
	return bench_check_finish("test_bench_stats");
}
