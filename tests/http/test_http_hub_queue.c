/*
 * tests/http/test_http_hub_queue.c - the bounded queue of an event
 * stream (http/hub_queue.c).
 *
 * Owns: the bound at HUB_QUEUE_MAX-1, HUB_QUEUE_MAX and +1 unsent bytes
 * (a refusal appends nothing), consumed bytes not counting against it,
 * and the order of bytes across consumption, sliding and growth, checked
 * against a naive reference on random operations.
 */
#include <stdlib.h>
#include <string.h>

#include "hub_queue.h"
#include "session_harness.h"

static void test_bound(void)
{
	char *big = calloc(1, HUB_QUEUE_MAX + 1);
	for (size_t n = HUB_QUEUE_MAX - 1; n <= HUB_QUEUE_MAX + 1; n++) {
		struct hub_queue q = { 0 };
		CHECK(hub_queue_add(&q, big, n) == (n <= HUB_QUEUE_MAX));
		CHECK_U64(q.len, n <= HUB_QUEUE_MAX ? n : 0);
		free(q.p);
	}
	/* full: one more byte is refused until some is consumed */
	struct hub_queue q = { 0 };
	CHECK(hub_queue_add(&q, big, HUB_QUEUE_MAX));
	CHECK(!hub_queue_add(&q, "x", 1));
	CHECK_U64(q.len - q.off, HUB_QUEUE_MAX);
	q.off += 1;
	CHECK(hub_queue_add(&q, "x", 1));
	CHECK_U64(q.len - q.off, HUB_QUEUE_MAX);
	free(q.p);
	free(big);
}

/* Random appends and consumptions against a plain string of what is unsent. */
static void test_reference(void)
{
	struct hub_queue q = { 0 };
	size_t ref_cap = 1u << 16, ref_len = 0;
	char *ref = malloc(ref_cap);
	unsigned seed = 7;
	char chunk[300];
	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = (seed >> 8) % sizeof chunk;
		if ((seed >> 4) & 1) {
			for (size_t i = 0; i < n; i++)
				chunk[i] = (char)('a' + (step + i) % 26);
			if (ref_len + n <= ref_cap && hub_queue_add(&q, chunk, n)) {
				memcpy(ref + ref_len, chunk, n);
				ref_len += n;
			}
		} else {
			size_t k = n < q.len - q.off ? n : q.len - q.off;
			q.off += k;
			memmove(ref, ref + k, ref_len - k);
			ref_len -= k;
		}
		if (!CHECK_U64(q.len - q.off, ref_len) || (ref_len > 0 && memcmp(q.p + q.off, ref, ref_len) != 0)) {
			CHECK(false);
			break;
		}
	}
	free(q.p);
	free(ref);
}

int main(void)
{
	test_bound();
	test_reference();
	return harness_finish("http_hub_queue");
}
