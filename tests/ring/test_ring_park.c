/*
 * tests/ring/test_ring_park.c - connections parked until buffers come back
 * (ring/ring_park.c).
 *
 * Owns: a drain hands out every parked entry once, oldest first, and
 * empties the list; an entry parked again during the drain waits for the
 * next one; a list reserved up front never reallocates when filled to its
 * size (n-1, n) and grows past it (n+1); growth on demand keeps order.
 */
#include <stdint.h>
#include <stdio.h>

#include "ring_park.h"
#include "session_harness.h"

struct seen {
	uintptr_t order[64];
	size_t n;
	struct ring_park *repark; /* park odd entries again: NULL never */
};

static void collect(void *ctx, void *item)
{
	struct seen *s = ctx;
	uintptr_t v = (uintptr_t)item;
	if (s->n < 64)
		s->order[s->n] = v;
	s->n++;
	if (s->repark != NULL && (v & 1))
		ring_park_add(s->repark, item);
}

static void test_drain_order(void)
{
	struct ring_park p = { 0 };
	for (uintptr_t i = 1; i <= 10; i++)
		CHECK(ring_park_add(&p, (void *)i));
	struct seen s = { .n = 0 };
	ring_park_drain(&p, collect, &s);
	CHECK_U64(s.n, 10);
	size_t bad = 0;
	for (size_t i = 0; i < 10; i++)
		bad += s.order[i] != i + 1;
	CHECK_U64(bad, 0);
	CHECK_U64(p.count, 0);
	s.n = 0;
	ring_park_drain(&p, collect, &s); /* empty: nothing */
	CHECK_U64(s.n, 0);
	ring_park_free(&p);
}

static void test_repark_waits(void)
{
	struct ring_park p = { 0 };
	for (uintptr_t i = 1; i <= 6; i++)
		CHECK(ring_park_add(&p, (void *)i));
	struct seen s = { .n = 0, .repark = &p };
	ring_park_drain(&p, collect, &s);
	CHECK_U64(s.n, 6); /* the re-parked ones were not handed out twice */
	CHECK_U64(p.count, 3);
	s = (struct seen){ .n = 0 };
	ring_park_drain(&p, collect, &s);
	CHECK_U64(s.n, 3);
	CHECK(s.order[0] == 1 && s.order[1] == 3 && s.order[2] == 5);
	ring_park_free(&p);
}

static void test_reserved(void)
{
	const size_t n = 100;
	struct ring_park p = { 0 };
	CHECK(ring_park_reserve(&p, n));
	CHECK_U64(p.cap, n);
	void **was = p.items;
	for (uintptr_t i = 1; i <= n - 1; i++)
		CHECK(ring_park_add(&p, (void *)i));
	CHECK(ring_park_add(&p, (void *)n)); /* the n-th: still no growth */
	CHECK(p.items == was);
	CHECK_U64(p.cap, n);
	CHECK(ring_park_add(&p, (void *)(n + 1))); /* n+1: grows, keeps order */
	CHECK(p.cap > n);
	struct seen s = { .n = 0 };
	ring_park_drain(&p, collect, &s);
	CHECK_U64(s.n, n + 1);
	CHECK(s.order[0] == 1 && s.order[63] == 64);
	ring_park_free(&p);
}

int main(void)
{
	test_drain_order();
	test_repark_waits();
	test_reserved();
	return harness_finish("ring_park");
}
