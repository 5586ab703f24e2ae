/*
 * io/prom_text.h - writing Prometheus's text exposition format 0.0.4.
 *
 * Owns: the text of a scrape: a family's HELP and TYPE lines, samples
 * with at most one label (its value escaped: backslash, double quote,
 * newline), and a histogram's cumulative buckets, _sum and _count from
 * per-bucket counts in microseconds (le and _sum written in seconds,
 * exactly, from the integers).  It knows nothing of smtpsink's counters
 * (io/metrics.c says what is exposed).  Memory: one growing buffer; an
 * allocation failure is remembered and the text is then refused whole.
 * Workload: one scrape every few seconds, a few hundred lines.
 */
#ifndef SMTPSINK_PROM_TEXT_H
#define SMTPSINK_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_TEXT_US_BYTES 32u /* "18446744073709.551615" and a NUL */

struct prom_text {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory: prom_text_take() gives NULL */
};

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void prom_text_family(struct prom_text *t, const char *name, const char *type, const char *help);
/* "name v", or "name{label="value"} v" when label is not NULL. */
void prom_text_sample(struct prom_text *t, const char *name, const char *label, const char *value, uint64_t v);
/* The same with a number as the label's value (shard="3", code="250"). */
void prom_text_sample_n(struct prom_text *t, const char *name, const char *label, uint64_t value, uint64_t v);
/* name_bucket{le=...} for each of the n bounds (microseconds) and +Inf,
 * cumulative, from bucket[0..n] (n + 1 counts, not cumulative); then
 * name_sum (seconds) and name_count. */
void prom_text_histogram(struct prom_text *t, const char *name, const uint32_t *bounds_us, unsigned n,
			 const uint64_t *bucket, uint64_t sum_us);
/* us microseconds as seconds in decimal, without trailing zeros ("0.00025",
 * "1", "12.5") into buf (PROM_TEXT_US_BYTES). */
void prom_text_seconds(char *buf, uint64_t us);
/* The text (malloc'd, NUL-terminated, *len bytes; the caller frees it), or
 * NULL if memory ran out on the way; t is empty afterwards. */
char *prom_text_take(struct prom_text *t, size_t *len);

#endif
