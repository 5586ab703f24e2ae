/*
 * bench/bench_report.h - a run's results for people (summary, progress
 * line) and for programs (--json).  See bench_report.c.
 */
#ifndef SMTPSINK_BENCH_REPORT_H
#define SMTPSINK_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "bench_config.h"
#include "bench_stats.h"

struct bench_report_info {
	const struct bench_config *cfg;
	const char *io_name;
	uint32_t workers;
};

void bench_report_human(FILE *f, const struct bench_report_info *ri, const struct bench_stats *s);
void bench_report_json(FILE *f, const struct bench_report_info *ri, const struct bench_stats *s);
/* Open loop whose rate was not offered: say so on f, true. */
bool bench_report_rate_warning(FILE *f, const struct bench_config *cfg, const struct bench_counts *c);
/* One "\r..." line: elapsed_s since the run began, the message rate since
 * prev (dt_s seconds ago), the counts so far and the p99 of the message
 * latency so far; with tls, the handshake rate since prev. */
void bench_report_progress(FILE *f, const struct bench_stats *now, const struct bench_counts *prev, double dt_s,
			   double elapsed_s, bool tls);
double bench_report_elapsed_s(const struct bench_counts *c);
/* "connect", "reuse", "pipeline", "bdat"; NULL past the last mode. */
const char *bench_report_mode_name(enum client_mode m);

#endif
