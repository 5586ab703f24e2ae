/*
 * bench/hdr_histogram.h - an HDR-style latency histogram (log-linear
 * buckets), after Gil Tene's HdrHistogram.
 *
 * Owns: recording integer values with a fixed relative precision, merging
 * two histograms of the same layout, and reading percentiles back.  Values
 * are bucketed by powers of two; each bucket is split linearly into
 * sub-buckets so that every value above 2^unit_magnitude * sub_bucket_count
 * is kept to sig_digits significant decimal digits (3 digits: within
 * 1/1024 < 0.1 %), and smaller values to one unit (2^unit_magnitude).
 * Values above `highest` are clamped to it and counted as saturated.
 *
 * Layout used by smtpsink-bench: values in nanoseconds, lowest discernible
 * 1 us (unit 512 ns), highest 1 h, 3 digits: 24,576 counters (192 KiB) per
 * histogram, allocated once at start-up.
 *
 * Does not: read clocks, allocate after hdr_init(), or print.  min, max,
 * count and sum are exact (not bucketed).
 *
 * Workload: one hdr_record() per reply, i.e. a few per message, so
 * recording is a handful of shifts and one increment.
 */
#ifndef SMTPSINK_HDR_HISTOGRAM_H
#define SMTPSINK_HDR_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HDR_SIG_DIGITS_MAX 5u

struct hdr_histogram {
	uint64_t lowest; /* lowest discernible value (>= 1) */
	uint64_t highest; /* highest trackable value; above it: clamped */
	unsigned sig_digits;
	unsigned unit_magnitude; /* floor(log2(lowest)) */
	unsigned sub_bucket_half_count_magnitude;
	uint32_t sub_bucket_count; /* a power of two: 2048 for 3 digits */
	uint32_t sub_bucket_half_count;
	uint64_t sub_bucket_mask;
	uint32_t bucket_count;
	uint32_t counts_len;
	uint64_t total_count;
	uint64_t min, max; /* exact; min is UINT64_MAX while empty */
	uint64_t sum; /* exact sum of recorded (clamped) values */
	uint64_t saturated; /* values above highest */
	uint64_t *counts;
};

/* Set up for values in [0, highest], lowest >= 1, highest >= 2 * lowest,
 * 1 <= sig_digits <= HDR_SIG_DIGITS_MAX.  0, -EINVAL or -ENOMEM. */
int hdr_init(struct hdr_histogram *h, uint64_t lowest, uint64_t highest, unsigned sig_digits);
void hdr_fini(struct hdr_histogram *h);
void hdr_reset(struct hdr_histogram *h);

void hdr_record_n(struct hdr_histogram *h, uint64_t value, uint64_t n);
static inline void hdr_record(struct hdr_histogram *h, uint64_t value)
{
	hdr_record_n(h, value, 1);
}

/* Add src's counts to dst.  Both must have the same layout (same init
 * arguments): -EINVAL otherwise, and dst is left unchanged. */
int hdr_merge(struct hdr_histogram *dst, const struct hdr_histogram *src);

/* The value at percentile pct (0..100): the highest value equivalent to
 * the smallest recorded value v such that at least max(1, round(pct/100 *
 * count)) values are <= v.  0 for an empty histogram. */
uint64_t hdr_value_at_percentile(const struct hdr_histogram *h, double pct);
double hdr_mean(const struct hdr_histogram *h);
/* Cumulative counts for ascending values v[0..n): out[i] is how many
 * recorded values are <= v[i] to the histogram's precision (v[i]'s own
 * counter counts whole: values up to hdr_highest_equivalent(v[i])).  One
 * pass over the counters, for Prometheus-style buckets. */
void hdr_count_le(const struct hdr_histogram *h, const uint64_t *v, size_t n, uint64_t *out);

/* Equivalence ranges: values in [lowest_equivalent(v), highest_equivalent(v)]
 * share one counter. */
uint64_t hdr_lowest_equivalent(const struct hdr_histogram *h, uint64_t v);
uint64_t hdr_highest_equivalent(const struct hdr_histogram *h, uint64_t v);

/* Merging a serialised histogram (bench_stats.c's pipe image, the JSON
 * report's "histograms"): its non-zero counters one by one (-EINVAL for an
 * index outside this layout), then its exact fields. */
struct hdr_exact {
	uint64_t total_count, min, max, sum, saturated;
};
int hdr_merge_index(struct hdr_histogram *h, uint32_t index, uint64_t count);
void hdr_merge_exact(struct hdr_histogram *h, const struct hdr_exact *x);

/* Counter index of v (for serialising), and the lowest value of an index. */
uint32_t hdr_index_of(const struct hdr_histogram *h, uint64_t v);
uint64_t hdr_value_at_index(const struct hdr_histogram *h, uint32_t index);

#endif
