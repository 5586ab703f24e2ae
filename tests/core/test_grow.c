/*
 * tests/core/test_grow.c - growing heap arrays (core/grow.c).
 *
 * Owns: the capacity rule at its edges (need at cap-1, cap and cap+1; the
 * first allocation; doubling that would pass SIZE_MAX / elem_bytes; need
 * whose bytes overflow a size_t), that a real array keeps its contents
 * across growth, and that a refused request leaves array and capacity
 * untouched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "grow.h"
#include "session_harness.h"

struct cap_row {
	size_t cap, need, elem, first;
	size_t want; /* 0: refused */
};

#define LIMIT16 (SIZE_MAX / 16) /* elements of 16 bytes that fit in a size_t */

static const struct cap_row cap_rows[] = {
	/* fits already: nothing changes (cap-1, cap) */
	{ 8, 7, 4, 64, 8 },
	{ 8, 8, 4, 64, 8 },
	/* one past cap: doubles */
	{ 8, 9, 4, 64, 16 },
	{ 8, 17, 4, 64, 32 },
	/* first allocation: first_cap, doubled if need is larger */
	{ 0, 1, 4, 64, 64 },
	{ 0, 64, 4, 64, 64 },
	{ 0, 65, 4, 64, 128 },
	{ 0, 3, 4, 0, 4 }, /* first_cap 0: from 1 */
	/* doubling stops at the largest capacity whose bytes fit */
	{ LIMIT16 / 2 + 1, LIMIT16 / 2 + 2, 16, 64, LIMIT16 },
	{ 1, LIMIT16, 16, 64, LIMIT16 },
	{ 0, LIMIT16, 16, SIZE_MAX, LIMIT16 }, /* a first_cap past the limit is clamped */
	/* need * elem_bytes past SIZE_MAX: refused (limit, limit+1) */
	{ 1, LIMIT16 + 1, 16, 64, 0 },
	{ LIMIT16, LIMIT16 + 1, 16, 64, 0 },
	{ 0, SIZE_MAX, 2, 64, 0 },
	{ 0, SIZE_MAX, 1, 64, SIZE_MAX },
};

static void test_capacity(void)
{
	for (size_t i = 0; i < sizeof cap_rows / sizeof cap_rows[0]; i++) {
		const struct cap_row *r = &cap_rows[i];
		size_t got = grow_capacity(r->cap, r->need, r->elem, r->first);
		if (!CHECK_U64(got, r->want))
			fprintf(stderr, "  row %zu\n", i);
	}
}

/* Appends one at a time; every element survives each reallocation. */
static void test_array_keeps_contents(void)
{
	uint32_t *v = NULL;
	size_t cap = 0, reallocs = 0;
	for (uint32_t n = 0; n < 5000; n++) {
		size_t before = cap;
		if (!grow_array((void **)&v, &cap, (size_t)n + 1, sizeof *v, 16))
			break;
		reallocs += cap != before;
		v[n] = n * 2654435761u;
	}
	CHECK_U64(cap, 8192);
	CHECK_U64(reallocs, 10); /* 16, 32, ... 8192 */
	size_t bad = 0;
	for (uint32_t n = 0; n < 5000; n++)
		bad += v[n] != n * 2654435761u;
	CHECK_U64(bad, 0);
	free(v);
}

/* Room that is there already: the pointer and capacity stay the same. */
static void test_fits_allocates_nothing(void)
{
	char *v = NULL;
	size_t cap = 0;
	CHECK(grow_array((void **)&v, &cap, 10, 1, 64));
	char *was = v;
	CHECK(grow_array((void **)&v, &cap, 0, 1, 64));
	CHECK(grow_array((void **)&v, &cap, 63, 1, 64));
	CHECK(grow_array((void **)&v, &cap, 64, 1, 64));
	CHECK(v == was);
	CHECK_U64(cap, 64);
	CHECK(grow_array((void **)&v, &cap, 65, 1, 64));
	CHECK_U64(cap, 128);
	free(v);
}

/* A refused request (bytes overflow) leaves the old array as it was. */
static void test_refused_untouched(void)
{
	uint64_t *v = NULL;
	size_t cap = 0;
	CHECK(grow_array((void **)&v, &cap, 4, sizeof *v, 4));
	for (int i = 0; i < 4; i++)
		v[i] = (uint64_t)i + 100;
	uint64_t *was = v;
	CHECK(!grow_array((void **)&v, &cap, SIZE_MAX / sizeof *v + 1, sizeof *v, 4));
	CHECK(!grow_array((void **)&v, &cap, SIZE_MAX, sizeof *v, 4));
	CHECK(v == was);
	CHECK_U64(cap, 4);
	CHECK_U64(v[3], 103);
	free(v);
}

int main(void)
{
	test_capacity();
	test_array_keeps_contents();
	test_fits_allocates_nothing();
	test_refused_untouched();
	return harness_finish("grow");
}
