/*
 * http/hub_queue.c - a bounded byte queue for one event stream
 * (hub_queue.h).
 */
#include "hub_queue.h"

#include <string.h>

#include "grow.h"

bool hub_queue_add(struct hub_queue *q, const char *p, size_t n)
{
	if (q->off > 0 && q->off == q->len)
		q->off = q->len = 0;
	if (q->len - q->off + n > HUB_QUEUE_MAX)
		return false;
	if (q->off > 0 && q->len + n > q->cap) { /* slide what is unsent to the front */
		memmove(q->p, q->p + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	if (!grow_array((void **)&q->p, &q->cap, q->len + n, 1, 4096))
		return false;
	memcpy(q->p + q->len, p, n);
	q->len += n;
	return true;
}
