/*
 * index/indexer.h - the thread that feeds the index from the spool.
 *
 * Owns: one thread with its own struct mail_index; tailing the spool
 * (tools/spool's spool_tail: sealed segments through their .idx, open ones
 * by scanning committed records) and indexing every new message in two
 * phases.  Phase 1, at capture speed, in batches of INDEXER_BATCH_MAX per
 * transaction: the row from the record's head (envelope and first header
 * block, no checksum over the body, no GMime): listed, counted, found by
 * to: from: cc: bcc: subject: message-id: before: after: larger: smaller:
 * is:read at once; its trigrams (which make the substring searches fast;
 * until then they check the row directly) follow in slices of
 * INDEXER_TRIGRAM_SLICE.  Phase 2, behind them: GMime's parse (snippet,
 * attachments, free text; GMime's reading of the header fields replaces
 * the head reader's), in slices of INDEXER_BODY_SLICE rows, one
 * transaction each, run only while no new mail waits: new mail waits at
 * most one slice.  Free text and has:attachment only see phase-2 rows.
 * Also: purging the rows that marks hid (INDEXER_PURGE_SLICE per
 * transaction, between phase-1 batches); dropping the rows of segments
 * that retention or prune deleted (at once when the shards say they
 * deleted some, else every INDEXER_SWEEP_MS); reporting both lags and
 * the index's share of the disk (io/index_share.h).  Woken by
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
struct index_share;

#define INDEXER_NICE 10 /* the thread's nice value: below the shards (0) */
#define INDEXER_POLL_MS 250u /* without a poke, look at the spool this often */
#define INDEXER_BATCH_MAX 4000u /* phase-1 messages per transaction */
#define INDEXER_TRIGRAM_SLICE 1000u /* rows given their trigrams per transaction (~30 ms) */
#define INDEXER_BODY_SLICE 128u /* phase-2 messages per transaction (~20 ms of GMime at 6,000/s) */
#define INDEXER_BODY_SLICE_BYTES (1u << 20) /* ... and at most this many message bytes (but one message) */
#define INDEXER_PURGE_SLICE 1000u /* hidden rows deleted per transaction (~17 ms through the FTS triggers) */

struct indexer;

/* Called on the indexer thread after each committed batch, once per new
 * message, oldest first.  The summary is phase 1's (no snippet, no
 * attachment count yet) unless indexer_complete_events is on. */
typedef void (*indexer_new_fn)(void *arg, const struct mail_summary *s);

struct indexer_stats {
	uint64_t indexed; /* messages added since start */
	uint64_t pending; /* messages seen in the spool, not yet indexed */
	int64_t lag_us; /* received time of the newest message seen minus that of the newest indexed */
	uint64_t last_seq;
	bool caught_up; /* the first full pass over the spool is done */
	/* Phase 2: rows listed and searchable by their headers whose body
	 * (snippet, attachments, free text) is not indexed yet, and the
	 * received time of the newest phase-1 row minus that of the oldest
	 * row still waiting (0 when none waits). */
	uint64_t body_pending;
	int64_t body_lag_us;
	uint64_t body_indexed; /* phase-2 rows completed since start */
};

/* Start the thread: 0 or -errno (*err: a static text). */
int indexer_start(struct indexer **out, const char *spool_path, indexer_new_fn on_new, void *arg, const char **err);
/* The eventfd the shards write 1 to after committing messages. */
int indexer_notify_fd(const struct indexer *ix);
/* The same eventfd as the shards' commit bell (io/commit_bell.h): the
 * indexer arms it right before each look at the spool, so only the first
 * commit after a look writes to the eventfd.  Valid until indexer_stop. */
struct commit_bell *indexer_bell(struct indexer *ix);
/* The index's share of the spool's disk (io/index_share.h): published by
 * the indexer for the shards' admission and retention; the shards count
 * the segments they delete there.  Valid until indexer_stop. */
struct index_share *indexer_share(struct indexer *ix);
/* While on (someone streams events), each on_new summary is complete: a
 * row phase 2 has not reached gets its snippet and attachment count from
 * the message (GMime, one parse per message on this thread; phase 2
 * parses it again later), as the message list would show it.  Any
 * thread; x may be NULL. */
void indexer_complete_events(struct indexer *x, bool on);
/* Lock-free snapshot of the counters (relaxed atomics). */
void indexer_stats(const struct indexer *ix, struct indexer_stats *st);
/* Stop and join the thread. */
void indexer_stop(struct indexer *ix);

#endif
