/*
 * tools/spool/prune_deleted.h - `prune --deleted`: reclaiming the space of
 * messages the marks log deleted, one sealed segment at a time
 * (docs/SPOOL-TOOL.md "prune", docs/SPOOL-FORMAT.md "Reclaiming deleted
 * messages").
 *
 * Owns: the rule and the file work.  A sealed segment (its .idx verifies)
 * holding deleted messages is deleted whole when every message in it is
 * deleted (its session reports go with it), else rewritten without them:
 * same segment header, every other record byte for byte, except that a
 * record that moves gets synced_before = its new offset (core
 * spool_record_move), then a new index.  Only a segment whose indexed
 * records tile the file (no salvaged damage, nothing unindexed) is
 * touched; every record kept is verified before it is copied, so a
 * damaged one is never given fresh checksums.  The caller holds the
 * spool's owner lock and never passes a shard's newest segment.
 * Does not decide which segments to look at (cmd_prune.c) nor what is
 * deleted (marks_deleted.c).
 * Workload: a segment read once through its mapping and written once.
 */
#ifndef SMTPSINK_PRUNE_DELETED_H
#define SMTPSINK_PRUNE_DELETED_H

#include <stdbool.h>
#include <stdint.h>

#include "marks_deleted.h"

struct prune_tally {
	uint64_t segments_deleted, segments_rewritten, messages, bytes;
	int errors;
};

/* Delete a segment's .idx (first: no reader trusts an index without its
 * segment), its .seg, then its .damage list if any: 0 or -errno. */
int prune_deleted_unlink(int shard_fd, uint64_t segno);

/* Reclaim the deleted messages of shard_fd/NNNNNNNN.seg (segno), if it is
 * sealed and holds any; dry_run: count only.  Prints a line per segment. */
void prune_deleted_segment(const struct marks_deleted *d, bool dry_run, int shard_fd, uint32_t shard, uint64_t segno,
			   struct prune_tally *t);

/* Delete SPOOL/index/ (the HTTP index: derived data whose offsets a
 * rewrite made stale; the server rebuilds it at its next start): 0 (also
 * when there is none) or -errno. */
int prune_deleted_drop_index(const char *spool_path);

#endif
