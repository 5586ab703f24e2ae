/*
 * bench/bench_prom_text.h - smtpsink-bench's live counters as Prometheus
 * text (exposition format 0.0.4), for --prometheus.
 *
 * Owns: the snapshot the exporter serves (struct bench_prom_snap: the
 * run's counters, and the TLS handshake, end-of-data and message latencies
 * as cumulative buckets), filling it from a bench_stats, and writing it as text: metric
 * names (all prefixed smtpsink_bench_), HELP and TYPE lines, labels.
 *
 * Does not: serve HTTP, or share the snapshot between threads
 * (bench_prom.c).  Pure: no clock, no allocation.
 *
 * Invariant: a snapshot is only uint64_t words, so bench_prom.c can copy it
 * word by word through relaxed atomics.
 */
#ifndef SMTPSINK_BENCH_PROM_TEXT_H
#define SMTPSINK_BENCH_PROM_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_stats.h"

#define BENCH_PROM_BUCKETS 16u /* 100 us .. 10 s, then +Inf */
#define BENCH_PROM_HISTS 3u /* tls_handshake, end_of_data, message (BENCH_STEPS_LIVE) */

struct bench_prom_hist {
	uint64_t le[BENCH_PROM_BUCKETS]; /* values <= bench_prom_bound_ns(i) */
	uint64_t count, sum_ns;
};

struct bench_prom_snap {
	struct bench_counts c;
	struct bench_prom_hist hist[BENCH_PROM_HISTS];
	uint64_t running; /* 1 while the run goes; 0 once these are its final counts */
};

#define BENCH_PROM_SNAP_WORDS (sizeof(struct bench_prom_snap) / sizeof(uint64_t))

/* The snapshot of s (its live steps' histograms at least). */
void bench_prom_snap_fill(struct bench_prom_snap *out, const struct bench_stats *s, bool running);
/* The whole exposition; rate: the --rate asked (0: closed loop).  0, or
 * -1 if f reported an error. */
int bench_prom_write(FILE *f, const struct bench_prom_snap *s, double rate);

#endif
