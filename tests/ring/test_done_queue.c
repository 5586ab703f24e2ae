/*
 * tests/ring/test_done_queue.c - results an epoll loop delivers later
 * (ring/done_queue.c).
 *
 * Owns: both delivery orders against a naive reference (newest first for
 * the server, oldest first for the generator), with records queued while
 * delivering delivered in the same run and in the order the backends rely
 * on; growth across the first capacity (255, 256, 257 records) keeping
 * every record; and an emptied queue starting again at the front.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "done_queue.h"
#include "session_harness.h"

static void *owner(uintptr_t i)
{
	return (void *)(i + 1);
}

/* n records in, all out in the order asked for (newest or oldest first),
 * each intact. */
static void test_order(size_t n, bool newest)
{
	struct done_queue q = { 0 };
	size_t bad = 0, got = 0;
	for (size_t i = 0; i < n; i++)
		bad += !done_queue_push(&q, owner(i), (int)(i % 7), -(int)i);
	struct done d;
	while (newest ? done_queue_pop_newest(&q, &d) : done_queue_pop_oldest(&q, &d)) {
		size_t want = newest ? n - 1 - got : got;
		got++;
		bad += d.owner != owner(want) || d.kind != (int)(want % 7) || d.res != -(int)want;
	}
	CHECK_U64(got, n);
	CHECK_U64(bad, 0);
	CHECK(done_queue_empty(&q));
	CHECK_U64(q.head, 0); /* starts again at the front */
	CHECK_U64(q.count, 0);
	done_queue_free(&q);
}

/* Records queued while delivering are delivered in the same run.  The
 * server (newest first) queues a batch's sync (a) before its write (b), so
 * the write comes first, and a send queued while delivering it (c) comes
 * before the sync; the generator (oldest first) delivers c after all that
 * was queued before. */
static void test_requeue(bool newest, const char *want)
{
	struct done_queue q = { 0 };
	done_queue_push(&q, owner(0), 'a', 0);
	done_queue_push(&q, owner(1), 'b', 0);
	struct done d;
	char order[8] = { 0 };
	int n = 0;
	while (n < 7 && (newest ? done_queue_pop_newest(&q, &d) : done_queue_pop_oldest(&q, &d))) {
		order[n++] = (char)d.kind;
		if (n == 1)
			done_queue_push(&q, owner(2), 'c', 0);
	}
	CHECK_STR(order, (size_t)n, want);
	CHECK(done_queue_empty(&q));
	done_queue_free(&q);
}

int main(void)
{
	static const size_t sizes[] = { 0, 1, 255, 256, 257, 5000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		test_order(sizes[i], true);
		test_order(sizes[i], false);
	}
	test_requeue(true, "bca");
	test_requeue(false, "abc");
	return harness_finish("done_queue");
}
