/*
 * ring/done_queue.c - results delivered later (done_queue.h).
 */
#include "done_queue.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define DONE_QUEUE_FIRST 256u /* records of a fresh queue */

bool done_queue_push(struct done_queue *q, void *owner, int kind, int res)
{
	if (!grow_array((void **)&q->items, &q->cap, q->count + 1, sizeof *q->items, DONE_QUEUE_FIRST))
		return false;
	q->items[q->count++] = (struct done){ owner, kind, res };
	return true;
}

bool done_queue_pop_newest(struct done_queue *q, struct done *out)
{
	if (q->head == q->count) {
		q->head = q->count = 0;
		return false;
	}
	*out = q->items[--q->count];
	return true;
}

bool done_queue_pop_oldest(struct done_queue *q, struct done *out)
{
	if (q->head == q->count) {
		q->head = q->count = 0; /* empty: start again at the front */
		return false;
	}
	*out = q->items[q->head++];
	return true;
}

void done_queue_free(struct done_queue *q)
{
	free(q->items);
	memset(q, 0, sizeof *q);
}
