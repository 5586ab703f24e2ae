/*
 * tools/spool/spool_walk.h - every message (or every session report) of a
 * spool, newest first.
 *
 * Owns: the order of a listing.  Within a shard, queue IDs (and so the
 * entries of each segment, and the segments by number) are in time order;
 * the walk goes through each shard backwards, segment by segment
 * (quarantined .seg.corrupt files included: their intact records are
 * listed too), one segment open at a time, and merges the shards by received time (ties:
 * the larger queue ID first).  A time range stops a shard as soon as it
 * reaches messages older than `since`, so a recent window costs only the
 * segments it touches.  Entries come from the index of sealed segments and
 * from a scan of open ones (seg_reader.c); the walk itself reads no record.
 *
 * Several spools (one per node, docs/SCALE-OUT.md) are walked as one: every
 * shard of every spool is a cursor of the same merge.  Queue IDs name their
 * node (--node-id), so two spools should never hold the same ID: when they
 * do, both entries are handed out and the walk reports it (a warning for
 * each of the first SPOOL_WALK_DUP_REPORTS, then a count at the end), as it
 * reports two spools holding IDs of the same node (nodes sharing a
 * --node-id, whose IDs can repeat).
 */
#ifndef SMTPSINK_SPOOL_WALK_H
#define SMTPSINK_SPOOL_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seg_reader.h"
#include "spool_dir.h"

#define SPOOL_WALK_DUP_REPORTS 5u /* duplicate IDs named one by one; the rest counted */

/* Called once per message in range, newest first: 0 to go on, 1 to stop,
 * or a negative -errno to stop with an error.  src is the index of the
 * spool in the walk's array; r and e are valid only during the call. */
typedef int (*spool_walk_fn)(void *arg, size_t src, const struct seg_reader *r, const struct spool_index_entry *e);

struct spool_walk_range {
	uint64_t since_us; /* 0: no lower bound */
	uint64_t until_us; /* UINT64_MAX: no upper bound */
	bool sessions; /* walk the session reports instead of the messages */
};

/* Walk the n spools dirs[0..n) merged: 0 (all walked), 1 (fn stopped it)
 * or -errno. */
int spool_walk(const struct spool_dir *dirs, size_t n, const struct spool_walk_range *range, spool_walk_fn fn,
	       void *arg);

/* Warn once about a segment that cannot be listed normally (bad header,
 * index that does not verify, quarantined, damaged ranges skipped). */
void spool_walk_warn_segment(const struct seg_reader *r);

/* Warn about one record that cannot be used (why: msg_status_text() or
 * the like): "FILE: offset N (ID): why; skipped (run verify)", the ID
 * cleaned for the terminal (it comes from a file). */
void spool_walk_warn_record(const struct seg_reader *r, const struct spool_index_entry *e, const char *why);

#endif
