/*
 * io/shard_stats.c - counting reply codes in a client's output, and the
 * quantile of a histogram (see shard_stats.h).
 *
 * Expected workload: a few reply lines per call, on every output a
 * session writes (one memchr per line); the quantile once per --stats line.
 */
#include "shard_stats.h"

#include <string.h>

static inline int digit(uint8_t b)
{
	return b >= '0' && b <= '9' ? b - '0' : -1;
}

void shard_stats_count_replies(struct shard_stats *st, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	while (p < end) {
		if (end - p >= 4 && p[3] == ' ') {
			int a = digit(p[0]), b = digit(p[1]), c = digit(p[2]);
			unsigned code = (unsigned)(a * 100 + b * 10 + c);
			if (a >= 0 && b >= 0 && c >= 0 && code >= SHARD_STATS_CODE_MIN &&
			    code < SHARD_STATS_CODE_MIN + SHARD_STATS_CODES)
				shard_stats_add(&st->replies[code - SHARD_STATS_CODE_MIN], 1);
		}
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL)
			break;
		p = lf + 1;
	}
}

uint64_t shard_stats_quantile_us(const uint64_t bucket[SHARD_STATS_BUCKETS], double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < SHARD_STATS_BUCKETS; i++)
		total += bucket[i];
	if (total == 0)
		return 0;
	double rank = q * (double)total, below = 0;
	for (unsigned i = 0; i < SHARD_STATS_BOUNDS; i++) {
		if (below + (double)bucket[i] >= rank && bucket[i] > 0) {
			double lo = i == 0 ? 0 : shard_stats_bounds_us[i - 1], hi = shard_stats_bounds_us[i];
			return (uint64_t)(lo + (hi - lo) * (rank - below) / (double)bucket[i]);
		}
		below += (double)bucket[i];
	}
	return shard_stats_bounds_us[SHARD_STATS_BOUNDS - 1];
}
