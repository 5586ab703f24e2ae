/*
 * bench/bench_stats.c - counters and histograms, merge and encoding (see
 * bench_stats.h).  The encoding is for a pipe between a parent and the
 * children it forked from the same binary: native byte order, no version.
 */
#include "bench_stats.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HIST_FIELDS 5u /* total, min, max, sum, saturated */
#define PAIR_BYTES (sizeof(uint32_t) + sizeof(uint64_t))

static const char *const error_names[BENCH_ERR_COUNT] = {
	"connect_failed",    "timeout",		 "unexpected_reply", "malformed_reply",
	"extension_missing", "closed_by_server", "io_error",	     "tls_handshake",
};

const char *bench_error_name(enum bench_error e)
{
	return e < BENCH_ERR_COUNT ? error_names[e] : "?";
}

int bench_stats_init(struct bench_stats *s)
{
	memset(s, 0, sizeof *s);
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++) {
		int e = hdr_init(&s->lat[i], BENCH_LAT_LOWEST_NS, BENCH_LAT_HIGHEST_NS, BENCH_LAT_SIG_DIGITS);
		if (e < 0) {
			bench_stats_fini(s);
			return e;
		}
	}
	return 0;
}

void bench_stats_fini(struct bench_stats *s)
{
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++)
		hdr_fini(&s->lat[i]);
}

void bench_stats_reset(struct bench_stats *s)
{
	memset(&s->c, 0, sizeof s->c);
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++)
		hdr_reset(&s->lat[i]);
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void bench_counts_merge(struct bench_counts *dst, const struct bench_counts *src)
{
	uint64_t start = dst->start_ns, end = dst->end_ns;
	uint64_t last = max_u64(dst->sched_last_ns, src->sched_last_ns);
	uint64_t lag = max_u64(dst->sched_lag_max_ns, src->sched_lag_max_ns);
	const uint64_t *a = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	for (size_t i = 0; i < sizeof *src / sizeof(uint64_t); i++)
		d[i] += a[i];
	dst->start_ns = start == 0 || (src->start_ns != 0 && src->start_ns < start) ? src->start_ns : start;
	dst->end_ns = max_u64(src->end_ns, end);
	dst->sched_last_ns = last;
	dst->sched_lag_max_ns = lag;
}

int bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
	bench_counts_merge(&dst->c, &src->c);
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++)
		if (hdr_merge(&dst->lat[i], &src->lat[i]) != 0)
			return -EINVAL;
	return 0;
}

uint8_t *bench_stats_encode_steps(const struct bench_stats *s, uint32_t steps, size_t *len)
{
	size_t n = sizeof s->c;
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++) {
		if (!(steps & BENCH_STEP_BIT(i)))
			continue;
		n += HIST_FIELDS * sizeof(uint64_t) + sizeof(uint32_t);
		for (uint32_t k = 0; k < s->lat[i].counts_len; k++)
			n += s->lat[i].counts[k] ? PAIR_BYTES : 0;
	}
	uint8_t *buf = malloc(n), *p = buf;
	if (buf == NULL)
		return NULL;
	memcpy(p, &s->c, sizeof s->c);
	p += sizeof s->c;
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++) {
		const struct hdr_histogram *h = &s->lat[i];
		if (!(steps & BENCH_STEP_BIT(i)))
			continue;
		uint64_t f[HIST_FIELDS] = { h->total_count, h->min, h->max, h->sum, h->saturated };
		uint32_t pairs = 0;
		for (uint32_t k = 0; k < h->counts_len; k++)
			pairs += h->counts[k] != 0;
		memcpy(p, f, sizeof f);
		memcpy(p + sizeof f, &pairs, sizeof pairs);
		p += sizeof f + sizeof pairs;
		for (uint32_t k = 0; k < h->counts_len; k++) {
			if (h->counts[k] == 0)
				continue;
			memcpy(p, &k, sizeof k);
			memcpy(p + sizeof k, &h->counts[k], sizeof h->counts[k]);
			p += PAIR_BYTES;
		}
	}
	*len = n;
	return buf;
}

uint8_t *bench_stats_encode(const struct bench_stats *s, size_t *len)
{
	return bench_stats_encode_steps(s, BENCH_STEPS_ALL, len);
}

/* One histogram's image merged into h; the bytes used, 0 if malformed. */
static size_t decode_hist(struct hdr_histogram *h, const uint8_t *p, size_t left)
{
	uint64_t f[HIST_FIELDS];
	uint32_t pairs;
	if (left < sizeof f + sizeof pairs)
		return 0;
	memcpy(f, p, sizeof f);
	memcpy(&pairs, p + sizeof f, sizeof pairs);
	size_t used = sizeof f + sizeof pairs;
	if ((left - used) / PAIR_BYTES < pairs)
		return 0;
	for (uint32_t j = 0; j < pairs; j++, used += PAIR_BYTES) {
		uint32_t k;
		uint64_t count;
		memcpy(&k, p + used, sizeof k);
		memcpy(&count, p + used + sizeof k, sizeof count);
		if (hdr_merge_index(h, k, count) != 0)
			return 0;
	}
	struct hdr_exact x = { f[0], f[1], f[2], f[3], f[4] };
	hdr_merge_exact(h, &x);
	return used;
}

int bench_stats_decode_merge_steps(struct bench_stats *s, uint32_t steps, const uint8_t *buf, size_t len)
{
	struct bench_counts c;
	if (len < sizeof c)
		return -EINVAL;
	memcpy(&c, buf, sizeof c);
	size_t off = sizeof c;
	for (unsigned i = 0; i < CLIENT_STEP_COUNT; i++) {
		if (!(steps & BENCH_STEP_BIT(i)))
			continue;
		size_t used = decode_hist(&s->lat[i], buf + off, len - off);
		if (used == 0)
			return -EINVAL;
		off += used;
	}
	if (off != len)
		return -EINVAL;
	bench_counts_merge(&s->c, &c);
	return 0;
}

int bench_stats_decode_merge(struct bench_stats *s, const uint8_t *buf, size_t len)
{
	return bench_stats_decode_merge_steps(s, BENCH_STEPS_ALL, buf, len);
}
