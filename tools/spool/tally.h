/*
 * tools/spool/tally.h - counting by key: how many sessions (and firings,
 * messages) each fault rule or client had, for `sessions --summary`.
 *
 * Owns: a table of rows keyed by bytes (a rule's text, a client's family
 * and address), each with two counters, found through an open-addressing
 * hash so a summary over a million sessions from thousands of clients
 * stays linear; keys are copied (the caller's views point into a segment
 * mapping that goes away).  Rows come out sorted by their first counter,
 * largest first, then by key.
 * Workload: one lookup per session and per named rule it names.
 */
#ifndef SMTPSINK_SPOOL_TALLY_H
#define SMTPSINK_SPOOL_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tally_row {
	uint8_t *key;
	size_t len;
	uint64_t n[2]; /* the caller's two counters */
};

struct tally {
	struct tally_row *rows; /* in insertion order until tally_sort() */
	size_t count, cap;
	uint32_t *slots; /* row index + 1; 0: empty */
	size_t slot_count; /* a power of two, more than twice count */
};

/* The row of this key, added with zero counters if new; NULL: out of
 * memory.  Not after tally_sort(). */
struct tally_row *tally_get(struct tally *t, const void *key, size_t len);
/* Sort the rows (n[0] descending, then key); the table is read-only after. */
void tally_sort(struct tally *t);
void tally_free(struct tally *t);

#endif
