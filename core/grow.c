/*
 * core/grow.c - growing heap arrays (grow.h).
 *
 * Owns: the doubling rule and its overflow checks.  Pure apart from
 * realloc: no I/O, no globals.
 */
#include "grow.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t grow_capacity(size_t cap, size_t need, size_t elem_bytes, size_t first_cap)
{
	assert(elem_bytes > 0);
	if (need <= cap)
		return cap;
	size_t limit = SIZE_MAX / elem_bytes; /* elements whose bytes fit in a size_t */
	if (need > limit)
		return 0;
	size_t n = cap ? cap : first_cap ? first_cap : 1;
	if (n > limit)
		n = limit;
	while (n < need)
		n = n > limit / 2 ? limit : n * 2;
	return n;
}

bool grow_array(void **array, size_t *cap, size_t need, size_t elem_bytes, size_t first_cap)
{
	if (need <= *cap)
		return true;
	size_t n = grow_capacity(*cap, need, elem_bytes, first_cap);
	if (n == 0)
		return false;
	void *old, *p;
	/* the caller's pointer has its own type: copy it, never alias it */
	memcpy(&old, array, sizeof old);
	p = realloc(old, n * elem_bytes);
	if (p == NULL)
		return false;
	memcpy(array, &p, sizeof p);
	*cap = n;
	return true;
}
