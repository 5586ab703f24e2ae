/*
 * ring/done_queue.h - results an epoll loop delivers later, like
 * completions.
 *
 * Owns: the queue of (owner, kind, result) records that an epoll backend
 * fills when it learns a result inside the call that started an operation
 * (a send that finished at once, a close), so that the result reaches the
 * layer above from the loop, never from inside that layer's own call: the
 * same contract as an io_uring completion, and nobody is re-entered.
 *
 * Does not: interpret owner or kind (the backend's), or choose the order:
 * the backend pops newest first (the server, whose spool queues an fsync's
 * result before its write's) or oldest first (the generator).  Records
 * queued while delivering are delivered in the same run.
 *
 * Memory: grows by doubling (grow.h), never shrinks; empty costs nothing.
 */
#ifndef SMTPSINK_DONE_QUEUE_H
#define SMTPSINK_DONE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct done {
	void *owner;
	int kind;
	int res; /* bytes, 0, or -errno */
};

struct done_queue {
	struct done *items; /* [head, count) are waiting */
	size_t head, count, cap;
};

/* Queue a result.  false: no memory (nothing queued). */
bool done_queue_push(struct done_queue *q, void *owner, int kind, int res);

static inline bool done_queue_empty(const struct done_queue *q)
{
	return q->head == q->count;
}

/* Take the record queued last; false when empty. */
bool done_queue_pop_newest(struct done_queue *q, struct done *out);

/* Take the record queued first; false when empty. */
bool done_queue_pop_oldest(struct done_queue *q, struct done *out);

void done_queue_free(struct done_queue *q);

#endif
