/*
 * tools/spool/spool_tail.h - new messages as the server writes them
 * (follow, wait).
 *
 * Owns: remembering, per shard, which segments may still grow and how
 * many of their records were already handed out, and noticing rotation.
 * Each poll: look for new shard directories and new segment files; scan
 * every tracked segment from where its last scan stopped (seg_reader.c);
 * a tracked segment is finished once its .idx exists (checked before the
 * last scan, so the records written before the seal are all seen) or its
 * file was deleted.  A segment that is never sealed (a failed seal) stays
 * tracked; a 4 KiB read per poll is its cost.
 *
 * The new messages of one poll are handed out oldest first (by received
 * time, then queue ID) across shards.  Started "at the end", messages that
 * were already there are skipped; started "from the start", every message
 * is new (in segment order, each sealed segment through its index).
 */
#ifndef SMTPSINK_SPOOL_TAIL_H
#define SMTPSINK_SPOOL_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seg_reader.h"
#include "spool_dir.h"
#include "spool_walk.h"

struct tail_seg {
	struct seg_reader r;
	uint32_t handed; /* entries [0, handed) were handed out */
	bool finished;
};

struct tail_shard {
	uint32_t shard;
	int fd; /* shard-NN, owned */
	uint64_t high; /* the highest segment number seen */
	struct tail_seg *segs;
	size_t n, cap;
};

struct tail_item {
	struct tail_seg *seg;
	struct spool_index_entry e;
};

/* Resuming a tail started from the start (the indexer after a restart):
 * how many entries of segment `segno` of `shard` were handed out before
 * (they are skipped without being read), 0 for none. */
typedef uint32_t (*spool_tail_resume_fn)(void *arg, uint32_t shard, uint64_t segno);

struct spool_tail {
	const char *path;
	bool from_start;
	spool_tail_resume_fn resume; /* NULL: nothing was handed out before */
	void *resume_arg;
	bool primed; /* the first poll happened */
	int dir_fd; /* -1 until the spool directory exists */
	struct tail_shard shards[SPOOL_DIR_SHARDS_MAX];
	uint32_t shard_count;
	struct tail_item *items; /* one poll's new messages */
	size_t item_count, item_cap;
};

void spool_tail_init(struct spool_tail *t, const char *path, bool from_start);
/* From the start, skipping in each segment what resume says was handed
 * out before this process: a sealed segment handed out whole costs its
 * index, never a record. */
void spool_tail_resume(struct spool_tail *t, spool_tail_resume_fn resume, void *arg);

/* Called once per new message, as spool_walk_fn but from one spool. */
typedef int (*spool_tail_fn)(void *arg, const struct seg_reader *r, const struct spool_index_entry *e);

/* Hand every new message to fn (oldest first); fn returning non-zero stops
 * the poll (the rest of this poll's messages are dropped).  Returns 0, fn's value, or -errno.
 * A spool directory that does not exist yet is not an error: nothing is
 * new until it appears. */
int spool_tail_poll(struct spool_tail *t, spool_tail_fn fn, void *arg);

/* True once the spool directory was found. */
bool spool_tail_found(const struct spool_tail *t);

void spool_tail_close(struct spool_tail *t);

#endif
