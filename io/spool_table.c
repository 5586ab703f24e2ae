/*
 * io/spool_table.c - the open segment's queue-ID table (see spool_table.h).
 *
 * Owns: linear probing over a power-of-two slot array.  Invariant: used <=
 * cap / 2, so a probe always ends at an empty slot.
 */
#include "spool_table.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static size_t qid_len_of(const struct spool_index_entry *e)
{
	return strnlen(e->qid, sizeof e->qid);
}

static uint32_t home(const struct spool_table *t, const char *qid, size_t len)
{
	return (uint32_t)XXH3_64bits(qid, len) & (t->cap - 1);
}

static void place(struct spool_table *t, const struct spool_index_entry *entries, uint32_t i)
{
	uint32_t s = home(t, entries[i].qid, qid_len_of(&entries[i]));
	while (t->slot[s] != 0)
		s = (s + 1) & (t->cap - 1);
	t->slot[s] = i + 1;
}

static bool grow(struct spool_table *t, const struct spool_index_entry *entries)
{
	uint32_t old_cap = t->cap;
	uint32_t *old = t->slot;
	uint32_t cap = old_cap ? 2 * old_cap : 1024;
	uint32_t *slot = calloc(cap, sizeof *slot);
	if (slot == NULL)
		return false;
	t->slot = slot;
	t->cap = cap;
	for (uint32_t s = 0; s < old_cap; s++)
		if (old[s] != 0)
			place(t, entries, old[s] - 1);
	free(old);
	return true;
}

bool spool_table_add(struct spool_table *t, const struct spool_index_entry *entries, uint32_t i)
{
	if (2 * (t->used + 1) > t->cap && !grow(t, entries))
		return false;
	place(t, entries, i);
	t->used++;
	return true;
}

long spool_table_find(const struct spool_table *t, const struct spool_index_entry *entries, const char *qid,
		      size_t qid_len)
{
	if (t->cap == 0)
		return -1;
	for (uint32_t s = home(t, qid, qid_len); t->slot[s] != 0; s = (s + 1) & (t->cap - 1)) {
		const struct spool_index_entry *e = &entries[t->slot[s] - 1];
		if (qid_len_of(e) == qid_len && memcmp(e->qid, qid, qid_len) == 0)
			return (long)(t->slot[s] - 1);
	}
	return -1;
}

void spool_table_clear(struct spool_table *t)
{
	if (t->cap != 0)
		memset(t->slot, 0, t->cap * sizeof *t->slot);
	t->used = 0;
}

void spool_table_free(struct spool_table *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = t->used = 0;
}
