/*
 * io/index_share.h - the index's share of the spool's disk: what the
 * indexer thread tells the shards, and what they tell it back.
 *
 * Owns: three counters shared by every shard and the indexer (created by
 * the indexer, published to the shards through server_shared.index like
 * the commit bell).  The indexer writes what the index (SPOOL/index and
 * SPOOL/marks) takes on the disk now and what it will still write for mail
 * already stored; the shards add the first to their segments for
 * --spool-max-bytes (retention) and keep the second free beside
 * --spool-min-free (admission: MAIL gets 452 4.3.1 before the index could
 * eat the room a transaction under way needs).  The shards count the
 * segments retention deleted, so the indexer drops their rows at once
 * rather than at its next periodic sweep.
 * Invariants: figures, not synchronisation: relaxed atomics; a shard that
 * reads a stale figure errs for one retention pass or one look at the free
 * space (every SPOOL_ROOM_CHECK_MS).  NULL (no index: --no-http, --discard)
 * counts as an index of 0 bytes.
 * Workload: the indexer stores after its commits (at most every
 * INDEX_SHARE_PUBLISH_MS) and adds once per phase-1 batch; a shard adds
 * once per committed batch and loads once per retention pass and per look
 * at the free space, never per message.
 */
#ifndef SMTPSINK_INDEX_SHARE_H
#define SMTPSINK_INDEX_SHARE_H

#include <stdatomic.h>
#include <stdint.h>

#define INDEX_SHARE_PUBLISH_MS 100u /* the indexer measures the index at most this often */
/* What the index will still write per byte of a record it has not read
 * yet: the row, the decoded text (message_text) and its words (fts_text,
 * with positions), and their WAL frames before a checkpoint copies them.
 * Measured on tests/hostile/test_small.py's text of unique words: the
 * index ends at 1.5 to 2.1 times the mail, and free space falls by up to
 * twice that while the WAL holds the pages; attachments (not kept) add
 * less.  An upper bound: the room is there when the indexer gets to it. */
#define INDEX_SHARE_GROWTH 5u

struct index_share {
	atomic_uint_fast64_t disk_bytes; /* pages in use, the WAL, the marks log */
	atomic_uint_fast64_t reserve_bytes; /* still to be written for records the indexer has read */
	atomic_uint_fast64_t committed_bytes; /* records the shards made durable (since start) */
	atomic_uint_fast64_t seen_bytes; /* ... of which the indexer has read (received since start) */
	atomic_uint_fast64_t retired; /* segments retention deleted (shards add) */
};

static inline uint64_t index_share_disk(const struct index_share *s)
{
	return s == NULL ? 0 : atomic_load_explicit(&s->disk_bytes, memory_order_relaxed);
}

static inline uint64_t index_share_reserve(const struct index_share *s)
{
	return s == NULL ? 0 : atomic_load_explicit(&s->reserve_bytes, memory_order_relaxed);
}

/* What the shards keep free for the index: its reserve, and room for
 * the records committed that it has not read yet. */
static inline uint64_t index_share_keep(const struct index_share *s)
{
	if (s == NULL)
		return 0;
	uint64_t done = atomic_load_explicit(&s->committed_bytes, memory_order_relaxed);
	uint64_t seen = atomic_load_explicit(&s->seen_bytes, memory_order_relaxed);
	uint64_t unseen = done > seen ? done - seen : 0;
	return index_share_reserve(s) + INDEX_SHARE_GROWTH * unseen;
}

/* A shard made records of this many bytes durable. */
static inline void index_share_committed(struct index_share *s, uint64_t bytes)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->committed_bytes, bytes, memory_order_relaxed);
}

/* A shard deleted n segments: their rows are to be dropped. */
static inline void index_share_retired(struct index_share *s, uint64_t n)
{
	if (s != NULL && n > 0)
		atomic_fetch_add_explicit(&s->retired, n, memory_order_relaxed);
}

#endif
