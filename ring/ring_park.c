/*
 * ring/ring_park.c - the list of connections waiting for buffers
 * (ring_park.h).
 */
#include "ring_park.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define RING_PARK_FIRST 64u /* entries of a list that grows on demand */

bool ring_park_reserve(struct ring_park *p, size_t n)
{
	return grow_array((void **)&p->items, &p->cap, n, sizeof *p->items, n);
}

bool ring_park_add(struct ring_park *p, void *item)
{
	if (!grow_array((void **)&p->items, &p->cap, p->count + 1, sizeof *p->items, RING_PARK_FIRST))
		return false;
	p->items[p->count++] = item;
	return true;
}

void ring_park_drain(struct ring_park *p, void (*fn)(void *ctx, void *item), void *ctx)
{
	size_t n = p->count;
	for (size_t i = 0; i < n; i++)
		fn(ctx, p->items[i]);
	/* what fn parked meanwhile went after the first n: keep only that */
	p->count -= n;
	memmove(p->items, p->items + n, p->count * sizeof *p->items);
}

void ring_park_free(struct ring_park *p)
{
	free(p->items);
	memset(p, 0, sizeof *p);
}
