/*
 * io/stats_line.h - the --stats line: what the server did in the last
 * interval, one line on stderr (as smtp-sink -c), and the same totals once
 * more at exit.
 *
 * Owns: the line's wording, from two sums of the shards' counters
 * (metrics.h).  Pure: the caller reads the counters and the clock and
 * writes the line (the main thread, never a shard).
 *
 *   smtpsink: stats 10.0s: 120.5 conn/s, 3400.1 msg/s, 20 open, replies 2xx=13600 3xx=3400 4xx=0 5xx=0,
 *     p99 end-of-data 1.250 ms                                           (one line)
 *   smtpsink: stats total 62.0s: 7500 connections, 212000 messages (3419.4 msg/s), replies 2xx=... ,
 *     p99 end-of-data 1.250 ms                                           (at exit)
 *
 * Rates and reply counts are the interval's (since the previous line);
 * "open" is now; the p99 is the interval's messages' (the whole run's at
 * exit), from the end-of-data histogram, "-" when no message ended.
 */
#ifndef SMTPSINK_STATS_LINE_H
#define SMTPSINK_STATS_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define STATS_LINE_BYTES 320u

/* The interval from prev to now, elapsed_ms long, run_ms into the run. */
void stats_line_interval(char *buf, size_t cap, const struct metrics_totals *prev, const struct metrics_totals *now,
			 uint64_t elapsed_ms, uint64_t run_ms);
/* The whole run, at exit. */
void stats_line_total(char *buf, size_t cap, const struct metrics_totals *t, uint64_t run_ms);

#endif
