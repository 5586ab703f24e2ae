/*
 * bench/hdr_histogram.c - log-linear histogram (see hdr_histogram.h).
 *
 * Index arithmetic follows HdrHistogram_c: bucket b holds values whose
 * highest set bit is b + unit_magnitude + sub_bucket_half_count_magnitude;
 * bucket 0 also holds everything below it at unit resolution.  Each bucket
 * but the first only uses its upper half of sub-buckets (the lower half
 * overlaps the previous bucket), so the counter array has
 * (bucket_count + 1) * sub_bucket_half_count entries.
 */
#include "hdr_histogram.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static unsigned log2_floor(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

static uint64_t pow10_u64(unsigned n)
{
	uint64_t r = 1;
	while (n-- > 0)
		r *= 10;
	return r;
}

int hdr_init(struct hdr_histogram *h, uint64_t lowest, uint64_t highest, unsigned sig_digits)
{
	memset(h, 0, sizeof *h);
	if (lowest < 1 || sig_digits < 1 || sig_digits > HDR_SIG_DIGITS_MAX || highest / 2 < lowest)
		return -EINVAL;
	/* the largest value that must still be kept at unit resolution */
	uint64_t single_unit_max = 2 * pow10_u64(sig_digits);
	unsigned sub_bucket_count_magnitude = log2_floor(single_unit_max - 1) + 1;
	h->lowest = lowest;
	h->highest = highest;
	h->sig_digits = sig_digits;
	h->unit_magnitude = log2_floor(lowest);
	h->sub_bucket_half_count_magnitude = sub_bucket_count_magnitude - 1;
	h->sub_bucket_count = 1u << sub_bucket_count_magnitude;
	h->sub_bucket_half_count = h->sub_bucket_count / 2;
	if (h->unit_magnitude + sub_bucket_count_magnitude > 62)
		return -EINVAL;
	h->sub_bucket_mask = ((uint64_t)h->sub_bucket_count - 1) << h->unit_magnitude;
	uint64_t smallest_untrackable = (uint64_t)h->sub_bucket_count << h->unit_magnitude;
	uint32_t buckets = 1;
	while (smallest_untrackable <= highest) {
		if (smallest_untrackable > (UINT64_MAX >> 2)) {
			buckets++;
			break;
		}
		smallest_untrackable <<= 1;
		buckets++;
	}
	h->bucket_count = buckets;
	h->counts_len = (buckets + 1) * h->sub_bucket_half_count;
	h->counts = calloc(h->counts_len, sizeof *h->counts);
	if (h->counts == NULL)
		return -ENOMEM;
	h->min = UINT64_MAX;
	return 0;
}

void hdr_fini(struct hdr_histogram *h)
{
	free(h->counts);
	h->counts = NULL;
}

void hdr_reset(struct hdr_histogram *h)
{
	memset(h->counts, 0, (size_t)h->counts_len * sizeof *h->counts);
	h->total_count = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
	h->saturated = 0;
}

static unsigned bucket_index(const struct hdr_histogram *h, uint64_t v)
{
	unsigned pow2_ceiling = 64u - (unsigned)__builtin_clzll(v | h->sub_bucket_mask);
	return pow2_ceiling - h->unit_magnitude - (h->sub_bucket_half_count_magnitude + 1);
}

static uint32_t sub_bucket_index(const struct hdr_histogram *h, uint64_t v, unsigned bucket)
{
	return (uint32_t)(v >> (bucket + h->unit_magnitude));
}

uint32_t hdr_index_of(const struct hdr_histogram *h, uint64_t v)
{
	unsigned b = bucket_index(h, v);
	uint32_t sub = sub_bucket_index(h, v, b);
	return ((b + 1) << h->sub_bucket_half_count_magnitude) + sub - h->sub_bucket_half_count;
}

uint64_t hdr_value_at_index(const struct hdr_histogram *h, uint32_t index)
{
	int bucket = (int)(index >> h->sub_bucket_half_count_magnitude) - 1;
	uint32_t sub = (index & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
	if (bucket < 0) {
		sub -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return (uint64_t)sub << ((unsigned)bucket + h->unit_magnitude);
}

uint64_t hdr_lowest_equivalent(const struct hdr_histogram *h, uint64_t v)
{
	unsigned b = bucket_index(h, v);
	return (uint64_t)sub_bucket_index(h, v, b) << (b + h->unit_magnitude);
}

uint64_t hdr_highest_equivalent(const struct hdr_histogram *h, uint64_t v)
{
	unsigned b = bucket_index(h, v);
	uint32_t sub = sub_bucket_index(h, v, b);
	unsigned adjusted = sub >= h->sub_bucket_count ? b + 1 : b;
	uint64_t range = (uint64_t)1 << (h->unit_magnitude + adjusted);
	return ((uint64_t)sub << (b + h->unit_magnitude)) + range - 1;
}

void hdr_record_n(struct hdr_histogram *h, uint64_t value, uint64_t n)
{
	if (n == 0)
		return;
	if (value > h->highest) {
		value = h->highest;
		h->saturated += n;
	}
	h->counts[hdr_index_of(h, value)] += n;
	h->total_count += n;
	h->sum += value * n;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

int hdr_merge(struct hdr_histogram *dst, const struct hdr_histogram *src)
{
	if (dst->lowest != src->lowest || dst->highest != src->highest || dst->sig_digits != src->sig_digits ||
	    dst->counts_len != src->counts_len)
		return -EINVAL;
	for (uint32_t i = 0; i < src->counts_len; i++)
		dst->counts[i] += src->counts[i];
	struct hdr_exact x = { src->total_count, src->min, src->max, src->sum, src->saturated };
	hdr_merge_exact(dst, &x);
	return 0;
}

int hdr_merge_index(struct hdr_histogram *h, uint32_t index, uint64_t count)
{
	if (index >= h->counts_len)
		return -EINVAL;
	h->counts[index] += count;
	return 0;
}

void hdr_merge_exact(struct hdr_histogram *h, const struct hdr_exact *x)
{
	h->total_count += x->total_count;
	h->sum += x->sum;
	h->saturated += x->saturated;
	if (x->min < h->min)
		h->min = x->min;
	if (x->max > h->max)
		h->max = x->max;
}

uint64_t hdr_value_at_percentile(const struct hdr_histogram *h, double pct)
{
	if (h->total_count == 0)
		return 0;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	uint64_t want = (uint64_t)(pct / 100.0 * (double)h->total_count + 0.5);
	if (want < 1)
		want = 1;
	if (want > h->total_count)
		want = h->total_count;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < h->counts_len; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			uint64_t v = hdr_highest_equivalent(h, hdr_value_at_index(h, i));
			return v < h->max ? v : h->max; /* never above what was seen */
		}
	}
	return h->max;
}

void hdr_count_le(const struct hdr_histogram *h, const uint64_t *v, size_t n, uint64_t *out)
{
	uint64_t seen = 0;
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t last = v[i] >= h->highest ? h->counts_len - 1 : hdr_index_of(h, v[i]);
		for (; k <= last; k++)
			seen += h->counts[k];
		out[i] = seen;
	}
}

double hdr_mean(const struct hdr_histogram *h)
{
	return h->total_count ? (double)h->sum / (double)h->total_count : 0.0;
}
