/*
 * tools/spool/tally.c - counting by key (see tally.h).
 */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define TALLY_FIRST_SLOTS 64u
#define TALLY_FIRST_ROWS 32u
#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t hash(const uint8_t *p, size_t len)
{
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

/* The slot of key: its row's, or the empty one where it would go. */
static size_t find_slot(const struct tally *t, const uint8_t *key, size_t len)
{
	size_t mask = t->slot_count - 1, i = (size_t)hash(key, len) & mask;
	while (t->slots[i] != 0) {
		const struct tally_row *r = &t->rows[t->slots[i] - 1];
		if (r->len == len && memcmp(r->key, key, len) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

/* Twice the slots (or the first ones), every row filed again. */
static bool rehash(struct tally *t)
{
	size_t n = t->slot_count ? 2 * t->slot_count : TALLY_FIRST_SLOTS;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (slots == NULL)
		return false;
	free(t->slots);
	t->slots = slots;
	t->slot_count = n;
	for (size_t r = 0; r < t->count; r++)
		t->slots[find_slot(t, t->rows[r].key, t->rows[r].len)] = (uint32_t)(r + 1);
	return true;
}

struct tally_row *tally_get(struct tally *t, const void *key, size_t len)
{
	if (2 * (t->count + 1) > t->slot_count && (t->count >= UINT32_MAX - 1 || !rehash(t)))
		return NULL;
	size_t i = find_slot(t, key, len);
	if (t->slots[i] != 0)
		return &t->rows[t->slots[i] - 1];
	if (!grow_array((void **)&t->rows, &t->cap, t->count + 1, sizeof *t->rows, TALLY_FIRST_ROWS))
		return NULL;
	struct tally_row *r = &t->rows[t->count];
	*r = (struct tally_row){ malloc(len ? len : 1), len, { 0, 0 } };
	if (r->key == NULL)
		return NULL;
	memcpy(r->key, key, len);
	t->slots[i] = (uint32_t)++t->count;
	return r;
}

static int row_order(const void *a, const void *b)
{
	const struct tally_row *x = a, *y = b;
	if (x->n[0] != y->n[0])
		return x->n[0] > y->n[0] ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

void tally_sort(struct tally *t)
{
	if (t->count > 1)
		qsort(t->rows, t->count, sizeof *t->rows, row_order);
	free(t->slots); /* the slots name rows by position: no longer valid */
	t->slots = NULL;
	t->slot_count = 0;
}

void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->rows[i].key);
	free(t->rows);
	free(t->slots);
	*t = (struct tally){ 0 };
}
