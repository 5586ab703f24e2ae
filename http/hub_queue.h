/*
 * http/hub_queue.h - the bytes waiting for one event stream (SSE or
 * websocket), bounded.
 *
 * Owns: appending at the end, consuming from the front (off), reusing the
 * space before off, and the bound: more than HUB_QUEUE_MAX unsent bytes is
 * refused, and the caller ends the stream (a client that reads slower than
 * mail arrives is cut off rather than allowed to grow the server).  Not
 * thread-safe: the hub's lock guards it.
 */
#ifndef SMTPSINK_HUB_QUEUE_H
#define SMTPSINK_HUB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#define HUB_QUEUE_MAX (4u << 20) /* unsent bytes for one stream */

struct hub_queue {
	char *p;
	size_t len, cap, off; /* [off, len) is unsent */
};

/* Append p[0, n): false (nothing appended) past HUB_QUEUE_MAX unsent
 * bytes, or out of memory. */
bool hub_queue_add(struct hub_queue *q, const char *p, size_t n);

#endif
