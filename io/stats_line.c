/*
 * io/stats_line.c - the --stats line (see stats_line.h).
 */
#include "stats_line.h"

#include <inttypes.h>
#include <stdio.h>

static double per_s(uint64_t n, uint64_t ms)
{
	return ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0;
}

/* ", replies 2xx=N 3xx=N 4xx=N 5xx=N, p99 end-of-data X ms" of the
 * difference now - prev (prev all zero: the totals). */
static void tail(char *buf, size_t cap, const struct metrics_totals *prev, const struct metrics_totals *now)
{
	uint64_t cls[4], eod[SHARD_STATS_BUCKETS], ended = 0;
	for (unsigned c = 0; c < 4; c++)
		cls[c] = metrics_replies_class(now, c + 2) - metrics_replies_class(prev, c + 2);
	for (unsigned b = 0; b < SHARD_STATS_BUCKETS; b++) {
		eod[b] = now->eod[b] - prev->eod[b];
		ended += eod[b];
	}
	char p99[32] = "-";
	if (ended > 0) {
		uint64_t us = shard_stats_quantile_us(eod, 0.99);
		snprintf(p99, sizeof p99, "%" PRIu64 ".%03" PRIu64 " ms", us / 1000u, us % 1000u);
	}
	snprintf(buf, cap,
		 ", replies 2xx=%" PRIu64 " 3xx=%" PRIu64 " 4xx=%" PRIu64 " 5xx=%" PRIu64 ", p99 end-of-data %s\n",
		 cls[0], cls[1], cls[2], cls[3], p99);
}

void stats_line_interval(char *buf, size_t cap, const struct metrics_totals *prev, const struct metrics_totals *now,
			 uint64_t elapsed_ms, uint64_t run_ms)
{
	int n = snprintf(buf, cap, "smtpsink: stats %.1fs: %.1f conn/s, %.1f msg/s, %" PRIu64 " open",
			 (double)run_ms / 1000.0, per_s(now->conns - prev->conns, elapsed_ms),
			 per_s(now->messages - prev->messages, elapsed_ms), now->conns - now->conns_closed);
	if (n > 0 && (size_t)n < cap)
		tail(buf + n, cap - (size_t)n, prev, now);
}

void stats_line_total(char *buf, size_t cap, const struct metrics_totals *t, uint64_t run_ms)
{
	static const struct metrics_totals zero;
	int n = snprintf(buf, cap,
			 "smtpsink: stats total %.1fs: %" PRIu64 " connections, %" PRIu64 " messages (%.1f msg/s)",
			 (double)run_ms / 1000.0, t->conns, t->messages, per_s(t->messages, run_ms));
	if (n > 0 && (size_t)n < cap)
		tail(buf + n, cap - (size_t)n, &zero, t);
}
