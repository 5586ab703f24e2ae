/*
 * core/grow.h - the one way a heap array grows: doubling, overflow-checked.
 *
 * Owns: the capacity rule (from first_cap, or the current capacity, double
 * until need elements fit) and the realloc that follows it.  Does not
 * shrink, zero the new slots, or know a caller's limits: a caller with a
 * bound checks it before asking for room.
 *
 * Invariants: on failure (no memory, or need * elem_bytes would not fit in
 * a size_t) the array and its capacity are left exactly as they were, so
 * the caller still owns a valid array with its old contents.  A request
 * that already fits changes nothing and allocates nothing.
 *
 * Workload: n appends cost O(log n) reallocations and O(n) copied bytes.
 */
#ifndef SMTPSINK_GROW_H
#define SMTPSINK_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* The capacity (in elements) an array of cap elements grows to so that
 * need of them fit: cap itself when they already fit; else first_cap (or
 * cap) doubled until need fits, at most SIZE_MAX / elem_bytes elements.
 * 0 when need elements of elem_bytes cannot fit in a size_t. */
size_t grow_capacity(size_t cap, size_t need, size_t elem_bytes, size_t first_cap);

/* Make *array (of *cap elements of elem_bytes each, NULL when *cap is 0)
 * hold at least need elements, by grow_capacity().  array is the address
 * of the caller's pointer, cast: (void **)&v.  false: nothing changed. */
bool grow_array(void **array, size_t *cap, size_t need, size_t elem_bytes, size_t first_cap);

#endif
