/*
 * io/metrics.h - the server's counters as other threads see them: the
 * Prometheus exposition of GET /metrics, Mailpit's RuntimeStats, and the
 * sums the --stats line is made of.
 *
 * Owns: which metrics exist, their names, types, labels and help
 * (docs/METRICS.md lists them), and summing the shards' counters.  Reads
 * every shard's struct shard_stats with relaxed loads while the shards
 * run (shard_stats.h): no lock, and nothing a shard does waits for a
 * reader.  The fault rules' counts come from io/fault_live.c, under its
 * lock (never a shard's).  Runs on the HTTP thread (a scrape) and the main
 * thread (--stats, the summary at exit).
 */
#ifndef SMTPSINK_METRICS_H
#define SMTPSINK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http_metrics.h"
#include "shard_stats.h"

struct shard;
struct fault_live;

/* Where the counters are: main.c fills it before the shards start. */
struct metrics_src {
	struct shard *shards;
	unsigned n;
	struct fault_live *faults; /* NULL: no fault rule counts */
};

/* The shards' counters summed: what --stats and RuntimeStats need. */
struct metrics_totals {
	uint64_t conns, conns_closed, messages, message_bytes, refused, recipients;
	uint64_t replies[SHARD_STATS_CODES]; /* by code, from SHARD_STATS_CODE_MIN */
	uint64_t eod[SHARD_STATS_BUCKETS], eod_sum_us;
};

void metrics_totals(const struct metrics_src *src, struct metrics_totals *t);
/* One field of struct shard_stats (its offset), summed over shards. */
uint64_t metrics_sum(const struct metrics_src *src, size_t offset);
/* The reply lines of codes class*100 .. class*100+99 (class 2..5). */
uint64_t metrics_replies_class(const struct metrics_totals *t, unsigned cls);

/* struct http_metrics_ops's calls (arg: the struct metrics_src). */
char *metrics_expose(void *arg, size_t *len);
void metrics_smtp_counts(void *arg, struct http_smtp_counts *c);

#endif
