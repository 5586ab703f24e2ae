/*
 * io/free_list.h - a shard's pool of same-size heap blocks.
 *
 * Owns: blocks of one size, linked through their first word while free.
 * The pool grows to its high-water mark and keeps what is given back, so
 * once the load has been seen nothing is allocated; the blocks are freed
 * only at the end.  It does not zero blocks, and is not thread-safe: one
 * shard's thread uses it.
 *
 * Workload: a shard's output buffers (CONN_OUT_BYTES, taken by a
 * connection while it has something to send) and command-line carries
 * (LINE_SCAN_CARRY_BYTES, taken only while a partial command line waits):
 * an idle connection holds neither.
 */
#ifndef SMTPSINK_FREE_LIST_H
#define SMTPSINK_FREE_LIST_H

#include <stddef.h>

struct free_list {
	void *head; /* the last block given back, or NULL */
	size_t block_bytes; /* at least sizeof(void *) */
};

void free_list_init(struct free_list *fl, size_t block_bytes);
/* A free block, or a new one; NULL when memory ran out. */
void *free_list_get(struct free_list *fl);
void free_list_put(struct free_list *fl, void *block);
/* Free every block given back (those still taken are the caller's). */
void free_list_fini(struct free_list *fl);

#endif
