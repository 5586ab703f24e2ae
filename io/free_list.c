/*
 * io/free_list.c - a shard's pool of same-size heap blocks (see
 * free_list.h).
 *
 * Owns: the list of free blocks, linked through their first word (copied
 * with memcpy: a block has no alignment beyond malloc's, and no type).
 * Invariant: every block on the list came from malloc(block_bytes).
 */
#include "free_list.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void free_list_init(struct free_list *fl, size_t block_bytes)
{
	assert(block_bytes >= sizeof(void *));
	fl->head = NULL;
	fl->block_bytes = block_bytes;
}

void *free_list_get(struct free_list *fl)
{
	void *b = fl->head;
	if (b == NULL)
		return malloc(fl->block_bytes);
	memcpy(&fl->head, b, sizeof(void *));
	return b;
}

void free_list_put(struct free_list *fl, void *block)
{
	memcpy(block, &fl->head, sizeof(void *));
	fl->head = block;
}

void free_list_fini(struct free_list *fl)
{
	while (fl->head != NULL)
		free(free_list_get(fl));
}
