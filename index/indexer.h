/*
 * index/indexer.h - the thread that feeds the index from the spool.
 *
 * Owns: one thread with its own struct mail_index; tailing the spool
 * (tools/spool's spool_tail: sealed segments through their .idx, open ones
 * by scanning committed records) and adding every new message in batches,
 * one transaction per batch, parsed with mime/mime_msg.h; dropping the rows
 * of segments that retention or prune deleted; reporting its lag.  Woken by
 * the shards through an eventfd (indexer_notify_fd: the shards only ever
 * write 1 to it, lock-free, off their hot path's critical section) and by a
 * fallback timer (INDEXER_POLL_MS) for a spool written by someone else.
 * Does not serve anything: new messages are handed to on_new (the HTTP
 * server's long polls and event streams) after their batch commits.
 */
#ifndef SMTPSINK_INDEXER_H
#define SMTPSINK_INDEXER_H

#include <stdint.h>

#include "mail_index.h"

struct commit_bell;

#define INDEXER_POLL_MS 250u /* without a poke, look at the spool this often */
#define INDEXER_BATCH_MAX 1000u /* messages per transaction */

struct indexer;

/* Called on the indexer thread after each committed batch, once per new
 * message, oldest first. */
typedef void (*indexer_new_fn)(void *arg, const struct mail_summary *s);

struct indexer_stats {
	uint64_t indexed; /* messages added since start */
	uint64_t pending; /* messages seen in the spool, not yet indexed */
	int64_t lag_us; /* received time of the newest message seen minus that of the newest indexed */
	uint64_t last_seq;
	bool caught_up; /* the first full pass over the spool is done */
};

/* Start the thread: 0 or -errno (*err: a static text). */
int indexer_start(struct indexer **out, const char *spool_path, indexer_new_fn on_new, void *arg, const char **err);
/* The eventfd the shards write 1 to after committing messages. */
int indexer_notify_fd(const struct indexer *ix);
/* The same eventfd as the shards' commit bell (io/commit_bell.h): the
 * indexer arms it right before each look at the spool, so only the first
 * commit after a look writes to the eventfd.  Valid until indexer_stop. */
struct commit_bell *indexer_bell(struct indexer *ix);
/* Lock-free snapshot of the counters (relaxed atomics). */
void indexer_stats(const struct indexer *ix, struct indexer_stats *st);
/* Stop and join the thread. */
void indexer_stop(struct indexer *ix);

#endif
