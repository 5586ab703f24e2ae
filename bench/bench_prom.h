/*
 * bench/bench_prom.h - --prometheus ADDR: the run's live counters served at
 * http://ADDR/metrics.  See bench_prom.c.
 */
#ifndef SMTPSINK_BENCH_PROM_H
#define SMTPSINK_BENCH_PROM_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_config.h"
#include "bench_stats.h"

struct bench_prom;

/* Listen on cfg->prom_addr, answering from libmicrohttpd's own thread.
 * NULL, with why in err, if it cannot. */
struct bench_prom *bench_prom_start(const struct bench_config *cfg, char *err, size_t err_len);
/* From one thread at a time (once a second): what scrapes see from now
 * on.  running false: the final counts. */
void bench_prom_publish(struct bench_prom *p, const struct bench_stats *s, bool running);
void bench_prom_stop(struct bench_prom *p); /* NULL: nothing */

#endif
