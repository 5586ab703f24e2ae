/*
 * io/spool_table.h - queue ID -> index entry, for the open segment.
 *
 * Owns: an open-addressing hash table keyed by XXH3-64 of the queue ID, over
 * the open segment's index entries (struct spool_index_entry, which the
 * spool keeps in arrival order to write the .idx at seal).  Sealed segments
 * need no table: their .idx is sorted and binary-searched.  Bounded by the
 * entries of one segment; doubles at half load; cleared at seal.  The
 * spool fills it at the first lookup (spool_find_open), not per message.
 */
#ifndef SMTPSINK_SPOOL_TABLE_H
#define SMTPSINK_SPOOL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool_format.h"

struct spool_table {
	uint32_t *slot; /* entry index + 1; 0 = empty */
	uint32_t cap; /* power of two, or 0 */
	uint32_t used;
};

void spool_table_clear(struct spool_table *t);
void spool_table_free(struct spool_table *t);

/* Add entries[i] (its qid must be unique).  false: out of memory. */
bool spool_table_add(struct spool_table *t, const struct spool_index_entry *entries, uint32_t i);

/* The index of the entry with this queue ID, or -1. */
long spool_table_find(const struct spool_table *t, const struct spool_index_entry *entries, const char *qid,
		      size_t qid_len);

#endif
