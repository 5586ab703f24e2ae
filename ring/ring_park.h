/*
 * ring/ring_park.h - connections parked until receive buffers come back.
 *
 * Owns: the list of connections whose multishot recv ended with -ENOBUFS
 * (the provided-buffer ring ran dry).  They are re-armed once buffers have
 * been given back (ring_bufs_flush() returned true), oldest first.
 *
 * Does not: know what a connection is (entries are the caller's
 * pointers), count references, or re-arm anything: the drain callback
 * does that, in the caller's own terms.
 *
 * Invariants: an entry stays valid while it is parked (the caller holds a
 * reference for it).  Memory: the list grows by doubling (grow.h) and is
 * never shrunk; a caller can size it once up front so that adding never
 * allocates.  Idle connections cost nothing here.
 */
#ifndef SMTPSINK_RING_PARK_H
#define SMTPSINK_RING_PARK_H

#include <stdbool.h>
#include <stddef.h>

struct ring_park {
	void **items;
	size_t count, cap;
};

/* Room for n entries up front (0: grow on demand).  false: no memory. */
bool ring_park_reserve(struct ring_park *p, size_t n);

/* Park item.  false: no memory (item is not parked). */
bool ring_park_add(struct ring_park *p, void *item);

/* Hand every parked item to fn, oldest first, and empty the list.  An item
 * fn parks again waits for the next drain. */
void ring_park_drain(struct ring_park *p, void (*fn)(void *ctx, void *item), void *ctx);

void ring_park_free(struct ring_park *p);

#endif
