/*
 * tests/bench/test_hdr_histogram.c - bench/hdr_histogram.c against a naive
 * reference: a sorted array of the same random values.
 *
 * Checks: the layout for smtpsink-bench's parameters (1 us..1 h in ns, 3
 * digits); percentiles equal the reference's value rounded up to its
 * equivalence range (capped at the exact max) on random data of several
 * shapes; every range is within 3 significant digits (or one unit);
 * indexes and ranges agree; min, max, count and sum are exact; values at
 * highest-1, highest and highest+1 (saturation); merge equals recording
 * everything in one histogram; invalid arguments and layouts are refused;
 * cumulative counts (hdr_count_le) equal the reference's count of values
 * up to each bound's equivalence range, at 0, random bounds, the
 * Prometheus-style bounds and highest-1, highest, highest+1.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "hdr_histogram.h"

#define LOWEST 1000ull
#define HIGHEST 3600000000000ull
#define DIGITS 3u
#define SAMPLES 200000u
#define ROUNDS 6u

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Shapes: log-uniform over the whole range, a latency-like cluster with a
 * tail, small values near the unit, and a few above highest. */
static uint64_t sample(unsigned shape)
{
	switch (shape % 4) {
	case 0:
		return (uint64_t)exp(log(1.0) + rnd_unit() * log((double)HIGHEST * 1.5));
	case 1:
		return 20000 + rnd() % 30000 + (rnd() % 100 == 0 ? rnd() % 50000000 : 0);
	case 2:
		return rnd() % 5000;
	default:
		return rnd() % 1000 == 0 ? HIGHEST + rnd() % HIGHEST : rnd() % (HIGHEST / 1000);
	}
}

static void check_layout(void)
{
	struct hdr_histogram h;
	CHECK(hdr_init(&h, LOWEST, HIGHEST, DIGITS) == 0, "init");
	CHECK(h.unit_magnitude == 9 && h.sub_bucket_count == 2048 && h.bucket_count == 23 && h.counts_len == 24576,
	      "layout: unit %u sub %u buckets %u len %u", h.unit_magnitude, h.sub_bucket_count, h.bucket_count,
	      h.counts_len);
	CHECK(hdr_index_of(&h, HIGHEST) < h.counts_len, "highest fits");
	CHECK(hdr_value_at_percentile(&h, 50) == 0 && hdr_mean(&h) == 0, "empty");
	hdr_fini(&h);
	CHECK(hdr_init(&h, 0, HIGHEST, DIGITS) == -EINVAL, "lowest 0");
	CHECK(hdr_init(&h, 1000, 1999, DIGITS) == -EINVAL, "highest < 2 lowest");
	CHECK(hdr_init(&h, 1000, HIGHEST, 0) == -EINVAL, "0 digits");
	CHECK(hdr_init(&h, 1000, HIGHEST, HDR_SIG_DIGITS_MAX + 1) == -EINVAL, "too many digits");
	CHECK(hdr_init(&h, 1000, 2000, 1) == 0, "smallest valid");
	hdr_fini(&h);
}

/* Equivalence ranges: consistent with indexes, and narrow enough. */
static void check_ranges(const struct hdr_histogram *h)
{
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t v = sample(i) % (HIGHEST + 1);
		uint64_t lo = hdr_lowest_equivalent(h, v), hi = hdr_highest_equivalent(h, v);
		uint32_t idx = hdr_index_of(h, v);
		CHECK(lo <= v && v <= hi, "range of %llu: [%llu, %llu]", (unsigned long long)v, (unsigned long long)lo,
		      (unsigned long long)hi);
		CHECK(hdr_index_of(h, lo) == idx && hdr_index_of(h, hi) == idx && hdr_value_at_index(h, idx) == lo,
		      "index of %llu", (unsigned long long)v);
		CHECK(hdr_index_of(h, hi + 1) == idx + 1, "next index after %llu", (unsigned long long)v);
		uint64_t width = hi - lo + 1, unit = 1ull << h->unit_magnitude;
		CHECK(width <= unit || (double)width <= (double)lo / 1000.0, "range of %llu too wide: %llu",
		      (unsigned long long)v, (unsigned long long)width);
	}
}

static uint64_t ref_percentile(const uint64_t *sorted, size_t n, double pct)
{
	uint64_t want = (uint64_t)(pct / 100.0 * (double)n + 0.5);
	if (want < 1)
		want = 1;
	if (want > n)
		want = n;
	return sorted[want - 1];
}

/* How many of sorted[0..n) are <= x. */
static size_t ref_count_le(const uint64_t *sorted, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#define BOUNDS 40u

static void check_count_le(const struct hdr_histogram *h, const uint64_t *sorted, size_t n, unsigned shape)
{
	uint64_t b[BOUNDS], got[BOUNDS];
	static const uint64_t fixed[] = { 0,	      100000,	   250000,  1000000,	10000000,
					  1000000000, HIGHEST - 1, HIGHEST, HIGHEST + 1 };
	const size_t nf = sizeof fixed / sizeof fixed[0];
	for (size_t i = 0; i < BOUNDS; i++)
		b[i] = i < nf ? fixed[i] : sample(shape) % HIGHEST;
	qsort(b, BOUNDS, sizeof *b, cmp_u64);
	hdr_count_le(h, b, BOUNDS, got);
	for (size_t i = 0; i < BOUNDS; i++) {
		uint64_t upto = b[i] >= HIGHEST ? HIGHEST : hdr_highest_equivalent(h, b[i]);
		size_t want = ref_count_le(sorted, n, upto);
		CHECK(got[i] == want, "shape %u: values <= %llu: got %llu want %zu", shape, (unsigned long long)b[i],
		      (unsigned long long)got[i], want);
	}
}

static void check_against_reference(unsigned shape, uint64_t *vals, size_t n)
{
	struct hdr_histogram h;
	hdr_init(&h, LOWEST, HIGHEST, DIGITS);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = sample(shape);
		hdr_record(&h, v);
		vals[i] = v > HIGHEST ? HIGHEST : v;
		sum += vals[i];
	}
	qsort(vals, n, sizeof *vals, cmp_u64);
	CHECK(h.total_count == n && h.min == vals[0] && h.max == vals[n - 1] && h.sum == sum, "shape %u exact fields",
	      shape);
	static const double fixed[] = { 0, 0.001, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100 };
	for (unsigned i = 0; i < 64; i++) {
		double pct = i < sizeof fixed / sizeof fixed[0] ? fixed[i] : rnd_unit() * 100;
		uint64_t ref = ref_percentile(vals, n, pct);
		uint64_t want = hdr_highest_equivalent(&h, ref);
		want = want < h.max ? want : h.max;
		uint64_t got = hdr_value_at_percentile(&h, pct);
		CHECK(got == want, "shape %u p%g: got %llu want %llu (ref %llu)", shape, pct, (unsigned long long)got,
		      (unsigned long long)want, (unsigned long long)ref);
		CHECK(got >= ref &&
			      (got - ref <= (1ull << h.unit_magnitude) || (double)(got - ref) <= (double)ref / 1000),
		      "shape %u p%g: %llu not within 3 digits of %llu", shape, pct, (unsigned long long)got,
		      (unsigned long long)ref);
	}
	check_count_le(&h, vals, n, shape);
	hdr_fini(&h);
}

static void check_limits(void)
{
	struct hdr_histogram h;
	hdr_init(&h, LOWEST, HIGHEST, DIGITS);
	hdr_record(&h, HIGHEST - 1);
	hdr_record(&h, HIGHEST);
	CHECK(h.saturated == 0 && h.max == HIGHEST, "highest-1, highest: not saturated");
	hdr_record(&h, HIGHEST + 1);
	hdr_record(&h, UINT64_MAX);
	CHECK(h.saturated == 2 && h.max == HIGHEST && h.total_count == 4, "highest+1: clamped, counted");
	CHECK(hdr_value_at_percentile(&h, 100) == HIGHEST, "p100 is the max");
	hdr_record(&h, 0);
	CHECK(h.min == 0 && hdr_value_at_percentile(&h, 0) == hdr_highest_equivalent(&h, 0), "zero");
	hdr_record_n(&h, 5000, 0);
	CHECK(h.total_count == 5, "a count of 0 records nothing");
	hdr_reset(&h);
	CHECK(h.total_count == 0 && h.max == 0 && h.min == UINT64_MAX, "reset");
	hdr_fini(&h);
}

static void check_merge(void)
{
	struct hdr_histogram a, b, all, other;
	hdr_init(&a, LOWEST, HIGHEST, DIGITS);
	hdr_init(&b, LOWEST, HIGHEST, DIGITS);
	hdr_init(&all, LOWEST, HIGHEST, DIGITS);
	hdr_init(&other, LOWEST * 2, HIGHEST, DIGITS);
	for (unsigned i = 0; i < SAMPLES; i++) {
		uint64_t v = sample(i);
		hdr_record(i % 3 ? &a : &b, v);
		hdr_record(&all, v);
	}
	CHECK(hdr_merge(&a, &b) == 0, "merge");
	CHECK(memcmp(a.counts, all.counts, all.counts_len * sizeof *all.counts) == 0, "merged counts");
	CHECK(a.total_count == all.total_count && a.min == all.min && a.max == all.max && a.sum == all.sum &&
		      a.saturated == all.saturated,
	      "merged exact fields");
	uint64_t before = a.total_count;
	CHECK(hdr_merge(&a, &other) == -EINVAL && a.total_count == before, "layout mismatch refused");
	hdr_fini(&a);
	hdr_fini(&b);
	hdr_fini(&all);
	hdr_fini(&other);
}

int main(void)
{
	check_layout();
	struct hdr_histogram h;
	hdr_init(&h, LOWEST, HIGHEST, DIGITS);
	check_ranges(&h);
	hdr_fini(&h);
	uint64_t *vals = malloc(SAMPLES * sizeof *vals);
	for (unsigned r = 0; r < ROUNDS * 4; r++)
		check_against_reference(r, vals, r < 4 ? 1 + r * 7 : SAMPLES / (1 + r % 3)); /* tiny ones too */
	free(vals);
	check_limits();
	check_merge();
	return bench_check_finish("test_hdr_histogram");
}
