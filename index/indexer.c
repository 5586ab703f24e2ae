/*
 * index/indexer.c - the indexer thread (indexer.h).
 *
 * Owns: the loop: arm the shards' commit bell, poll the spool through
 * spool_tail and index what is new at phase 1 (the row from the record's
 * head), then one slice of purge and one of the trigram step (the rest of
 * phase 1), or when no trigrams are left one of phase 2 (GMime), while work
 * is left, polling the spool again between slices when the bell rang or
 * INDEXER_POLL_MS passed, else sleep on the eventfd.  Phase-1 batches (one
 * transaction per INDEXER_BATCH_MAX entries, with the per-segment progress
 * bumped in the same transaction, so the progress never runs ahead of the
 * rows); phase-2 slices read each record again (verified this time) from
 * the segment, kept open while consecutive rows share it; the sweep of
 * segments that are gone (at start and every INDEXER_SWEEP_MS), the on_new
 * calls after each phase-1 commit, and the counters.
 * Phase 2 needs no progress of its own: a row waits for it while its
 * phase column is 1, so a restart resumes it.
 * Resuming: the tail starts from the start of the spool, but each segment
 * skips the entries its progress row says were handed out (sealed
 * segments read only their .idx); the queue ID's UNIQUE index makes a
 * message handed out twice (progress lost with a database that was not
 * synced) a no-op.  Session reports are entries too (they count in the
 * progress) but are not indexed: the HTTP side reads them from the spool.
 * A record that does not decode is skipped (smtpsink-spool verify
 * reports it); a database error rolls the batch back and restarts the
 * tail from the stored progress at the next poll.
 * Workload: capture speed at phase 1; phase 2 (MIME parsing) behind it.
 */
#define _GNU_SOURCE
#include "indexer.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "commit_bell.h"
#include "index_doc.h"
#include "index_share.h"
#include "mail_index_int.h"
#include "spool_tail.h"

#define INDEXER_SWEEP_MS 60000u /* look for segments retention or prune deleted */
/* Between two slices the write lock is free this long: another
 * connection's writer (marks), polling every INDEX_BUSY_POLL_US, gets it
 * within a slice instead of waiting for the whole backlog. */
#define INDEXER_YIELD_US 300u
/* Besides what its waiting rows will add, the index may need this much
 * more of the disk at once: a phase-1 batch's pages in the WAL before the
 * checkpoint copies them (INDEXER_BATCH_MAX rows of about 1 KiB). */
#define INDEXER_ROOM_SLACK_BYTES (4ull << 20)

struct indexer {
	pthread_t thread;
	int efd;
	struct commit_bell bell; /* fd: efd; armed before each look */
	struct index_share share; /* the index's disk use, for the shards */
	uint64_t share_next_ms; /* measured again no sooner than this */
	uint64_t started_us; /* records received since count in share.seen_bytes */
	uint64_t retired_seen; /* share.retired when the last sweep began */
	atomic_bool stop;
	char *spool_path;
	indexer_new_fn on_new;
	void *arg;
	struct mail_index *ix;
	struct index_doc_store *doc;
	struct spool_tail tail;
	bool tail_broken; /* restart the tail from the stored progress */
	/* the batch being built (indexer thread only) */
	bool in_txn;
	uint32_t batch_n;
	uint64_t batch_added, seq_before;
	int64_t batch_newest_us, seen_newest_us, indexed_newest_us;
	size_t poll_done;
	/* phase 2 (indexer thread only) */
	struct index_pending pend[INDEXER_BODY_SLICE];
	int64_t body_after, body_waiting;
	uint64_t body_waiting_bytes, batch_added_bytes; /* their messages' bytes */
	int seg_fd; /* the segment of the last phase-2 row, or -1 */
	uint32_t seg_shard;
	uint64_t seg_segno;
	/* read by indexer_stats from any thread */
	_Atomic uint64_t indexed, pending, last_seq, body_pending, body_indexed;
	_Atomic int64_t lag_us, body_lag_us;
	atomic_bool caught_up;
	atomic_bool complete_events; /* on_new gets complete summaries (indexer_complete_events) */
};

static uint64_t indexer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void indexer_warn(const char *what, int err)
{
	fprintf(stderr, "smtpsink: indexer: %s: %s\n", what, strerror(err < 0 ? -err : err));
}

static int indexer_call_new(void *arg, const struct mail_summary *s)
{
	struct indexer *x = arg;
	x->on_new(x->arg, s);
	return 0;
}

/* Publish how far phase 2 is behind (0 when nothing waits). */
static void indexer_body_lag(struct indexer *x)
{
	int64_t lag = x->body_waiting > 0 ? index_body_lag(x->ix) : 0;
	atomic_store_explicit(&x->body_lag_us, lag > 0 ? lag : 0, memory_order_relaxed);
}

/* Tell the shards what the index takes on the disk and what it will
 * still write: INDEX_SHARE_GROWTH times the bytes of the messages
 * waiting for phase 2, and a batch's worth more.  At most every
 * INDEX_SHARE_PUBLISH_MS unless now. */
static void indexer_measure(struct indexer *x, bool now)
{
	uint64_t bytes, t = indexer_now_ms();
	if ((!now && t < x->share_next_ms) || index_disk_usage(x->ix, &bytes) != 0)
		return;
	x->share_next_ms = t + INDEX_SHARE_PUBLISH_MS;
	uint64_t reserve = INDEX_SHARE_GROWTH * x->body_waiting_bytes + INDEXER_ROOM_SLACK_BYTES;
	atomic_store_explicit(&x->share.disk_bytes, bytes, memory_order_relaxed);
	atomic_store_explicit(&x->share.reserve_bytes, reserve, memory_order_relaxed);
}

/* Commit the batch, publish the counters, tell on_new. */
static void indexer_flush(struct indexer *x)
{
	if (!x->in_txn)
		return;
	x->in_txn = false;
	x->batch_n = 0;
	if (index_commit(x->ix) != 0) {
		index_rollback(x->ix);
		indexer_warn("commit failed; retrying from the stored progress", EIO);
		x->tail_broken = true;
		return;
	}
	atomic_fetch_add_explicit(&x->indexed, x->batch_added, memory_order_relaxed);
	x->body_waiting += (int64_t)x->batch_added;
	x->body_waiting_bytes += x->batch_added_bytes;
	atomic_store_explicit(&x->body_pending, (uint64_t)x->body_waiting, memory_order_relaxed);
	indexer_body_lag(x);
	if (x->batch_newest_us > x->indexed_newest_us)
		x->indexed_newest_us = x->batch_newest_us;
	atomic_store_explicit(&x->lag_us, x->seen_newest_us - x->indexed_newest_us, memory_order_relaxed);
	atomic_store_explicit(&x->last_seq, mail_index_last_seq(x->ix), memory_order_relaxed);
	indexer_measure(x, false);
	bool complete = atomic_load_explicit(&x->complete_events, memory_order_relaxed);
	if (x->on_new != NULL && x->batch_added > 0 &&
	    index_each_since(x->ix, x->seq_before, indexer_call_new, x, complete) != 0)
		indexer_warn("reading the new messages back", EIO);
	x->batch_added = 0;
	x->batch_added_bytes = 0;
}

/* Index one record at phase 1 (its head; a damaged one skipped). */
static int indexer_add(struct indexer *x, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct msg m;
	struct index_doc d;
	if ((e->flags & SPOOL_FLAG_SESSION) != 0 || seg_reader_msg(r, e, false, &m) != MSG_OK)
		return 0;
	int err = index_doc_build_head(&d, x->doc, &m);
	int added = err == 0 ? index_add(x->ix, &d) : err;
	if (added > 0) {
		x->batch_added++;
		x->batch_added_bytes += d.size;
		if ((int64_t)e->received_us > x->batch_newest_us)
			x->batch_newest_us = (int64_t)e->received_us;
	}
	return added < 0 ? added : 0;
}

/* spool_tail's callback: one entry, oldest first. */
static int indexer_item(void *arg, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct indexer *x = arg;
	if (atomic_load_explicit(&x->stop, memory_order_relaxed))
		return 1;
	if (!x->in_txn) {
		if (index_begin(x->ix) != 0)
			return -EIO;
		x->in_txn = true;
		x->seq_before = mail_index_last_seq(x->ix);
	}
	if ((int64_t)e->received_us > x->seen_newest_us)
		x->seen_newest_us = (int64_t)e->received_us;
	if (e->received_us >= x->started_us) /* committed since start: the shards counted it */
		atomic_fetch_add_explicit(&x->share.seen_bytes, e->record_len, memory_order_relaxed);
	int err = index_segment_bump(x->ix, r->shard, r->segno);
	err = err == 0 ? indexer_add(x, r, e) : err;
	if (err != 0) {
		index_rollback(x->ix);
		x->in_txn = false;
		x->batch_n = 0;
		x->batch_added = 0;
		x->batch_added_bytes = 0;
		return err;
	}
	x->poll_done++;
	atomic_store_explicit(&x->pending, x->tail.item_count - x->poll_done, memory_order_relaxed);
	if (++x->batch_n >= INDEXER_BATCH_MAX)
		indexer_flush(x);
	return 0;
}

static uint32_t indexer_resume(void *arg, uint32_t shard, uint64_t segno)
{
	struct indexer *x = arg;
	return index_segment_progress(x->ix, shard, segno);
}

static void indexer_tail_start(struct indexer *x)
{
	spool_tail_init(&x->tail, x->spool_path, true);
	spool_tail_resume(&x->tail, indexer_resume, x);
}

/* One pass over what is new (armed first: a commit that lands after the
 * look began rings, one that landed before it is seen by it). */
static void indexer_poll(struct indexer *x)
{
	commit_bell_arm(&x->bell);
	if (x->tail_broken) {
		spool_tail_close(&x->tail);
		indexer_tail_start(x);
		x->tail_broken = false;
	}
	x->poll_done = 0;
	int rc = spool_tail_poll(&x->tail, indexer_item, x);
	indexer_flush(x);
	atomic_store_explicit(&x->pending, 0, memory_order_relaxed);
	if (rc < 0) {
		indexer_warn("reading the spool", rc);
		x->tail_broken = true;
	} else if (rc == 0 && !x->tail_broken) {
		atomic_store_explicit(&x->caught_up, true, memory_order_relaxed);
	}
}

/* Count the rows waiting for phase 2 again (marks may have hidden some). */
static void indexer_recount_body(struct indexer *x)
{
	uint64_t bytes;
	int64_t n = index_body_count(x->ix, &bytes);
	if (n < 0)
		return;
	x->body_waiting = n;
	x->body_waiting_bytes = bytes;
	atomic_store_explicit(&x->body_pending, (uint64_t)n, memory_order_relaxed);
	indexer_body_lag(x);
}

static void indexer_sweep(struct indexer *x)
{
	uint64_t dropped;
	x->retired_seen = atomic_load_explicit(&x->share.retired, memory_order_relaxed);
	int err = index_drop_missing_segments(x->ix, &dropped);
	if (err != 0 && err != -ENOENT)
		indexer_warn("dropping the rows of deleted segments", err);
	if (dropped > 0 && index_schema_vacuum(x->ix) != 0) /* the file shrinks as the spool did */
		indexer_warn("giving free pages back", EIO);
	indexer_recount_body(x);
	indexer_measure(x, true); /* retention counts the index: its rows are gone now */
}

/* The segment file of s, kept open for the next row in it. */
static int indexer_segment_fd(struct indexer *x, const struct mail_summary *s)
{
	if (x->seg_fd >= 0 && x->seg_shard == s->shard && x->seg_segno == s->segno)
		return x->seg_fd;
	if (x->seg_fd >= 0)
		close(x->seg_fd);
	x->seg_fd = index_raw_open_segment(x->spool_path, s);
	x->seg_shard = s->shard;
	x->seg_segno = s->segno;
	return x->seg_fd;
}

/* Phase 2 of one row: its record read and verified, parsed by GMime; a
 * damaged record's row is removed (as phase 1 would have skipped it had it
 * checked), one whose segment is gone or that GMime cannot parse keeps
 * what phase 1 made. */
static int indexer_body_one(struct indexer *x, const struct index_pending *p)
{
	struct msg m;
	struct index_doc d;
	uint8_t *rec = NULL;
	int fd = indexer_segment_fd(x, &p->at);
	int err = fd >= 0 ? index_raw_read_record(fd, &p->at, &rec, &m) : fd;
	if (err == -EIO) {
		free(rec);
		return index_body_drop(x->ix, p);
	}
	if (err == 0)
		err = index_doc_build(&d, x->doc, &m);
	int rc = index_body_set(x->ix, p, err == 0 ? &d : NULL);
	free(rec);
	return rc;
}

/* One slice of phase 2: true if rows are left for another. */
static bool indexer_body_slice(struct indexer *x)
{
	int n = x->body_waiting > 0 ? index_body_pending(x->ix, x->body_after, x->pend, INDEXER_BODY_SLICE) : 0;
	uint64_t bytes = 0;
	for (int i = 0; i < n; i++) /* bounded in bytes too: one transaction's WAL fits a small disk */
		if ((bytes += x->pend[i].at.size) > INDEXER_BODY_SLICE_BYTES && i > 0)
			n = i;
	int err = n > 0 ? index_begin(x->ix) : 0;
	for (int i = 0; err == 0 && i < n; i++)
		err = indexer_body_one(x, &x->pend[i]);
	err = err == 0 && n > 0 ? index_commit(x->ix) : err;
	if (n < 0 || err != 0) {
		index_rollback(x->ix);
		indexer_warn("phase 2 of a slice failed; its rows are retried after the others", EIO);
		x->body_after = n > 0 ? x->pend[n - 1].seq : x->body_after;
		return n > 0;
	}
	if (n == 0) {
		x->body_after = 0;
		indexer_recount_body(x);
		return false;
	}
	x->body_waiting = x->body_waiting > n ? x->body_waiting - n : 0;
	for (int i = 0; i < n; i++)
		x->body_waiting_bytes -=
			x->body_waiting_bytes > x->pend[i].at.size ? x->pend[i].at.size : x->body_waiting_bytes;
	atomic_fetch_add_explicit(&x->body_indexed, (uint64_t)n, memory_order_relaxed);
	atomic_store_explicit(&x->body_pending, (uint64_t)x->body_waiting, memory_order_relaxed);
	indexer_body_lag(x);
	indexer_measure(x, false);
	return true;
}

/* One slice of phase 1's trigram step: true if rows may be left. */
static bool indexer_trigram_slice(struct indexer *x)
{
	if (index_begin(x->ix) != 0)
		return false;
	int n = index_trigram_slice(x->ix, INDEXER_TRIGRAM_SLICE);
	if (n < 0 || index_commit(x->ix) != 0) {
		index_rollback(x->ix);
		indexer_warn("adding trigrams", EIO);
		return false;
	}
	return n >= (int)INDEXER_TRIGRAM_SLICE;
}

/* One slice of the purge: true if hidden rows may be left. */
static bool indexer_purge_slice(struct indexer *x)
{
	int n = index_purge(x->ix, INDEXER_PURGE_SLICE);
	if (n < 0)
		indexer_warn("purging hidden rows", n);
	if (n > 0 && n < (int)INDEXER_PURGE_SLICE && index_schema_vacuum(x->ix) != 0) /* the last slice */
		indexer_warn("giving free pages back", EIO);
	return n >= (int)INDEXER_PURGE_SLICE;
}

/* Sleep until poked, stopped, or timeout_us passed: true if poked. */
static bool indexer_wait(struct indexer *x, uint64_t timeout_us)
{
	struct pollfd p = { .fd = x->efd, .events = POLLIN };
	struct timespec ts = { (time_t)(timeout_us / 1000000u), (long)(timeout_us % 1000000u) * 1000L };
	uint64_t v;
	if (ppoll(&p, 1, &ts, NULL) <= 0)
		return false;
	if (read(x->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		indexer_warn("reading the eventfd", errno);
	return true;
}

static void *indexer_main(void *arg)
{
	struct indexer *x = arg;
	/* below the shards: when the CPUs are busy, capture goes first and
	 * the index lags (reported) rather than SMTP slowing down (issue 13) */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), INDEXER_NICE) != 0)
		indexer_warn("lowering the thread's priority", errno);
	uint64_t next_sweep = 0, next_poll = 0;
	bool look = true;
	while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
		/* every INDEXER_SWEEP_MS, and at once after retention deleted segments */
		if (indexer_now_ms() >= next_sweep ||
		    atomic_load_explicit(&x->share.retired, memory_order_relaxed) != x->retired_seen) {
			indexer_sweep(x);
			next_sweep = indexer_now_ms() + INDEXER_SWEEP_MS;
		}
		if (look) {
			indexer_poll(x); /* phase 1: everything new */
			next_poll = indexer_now_ms() + INDEXER_POLL_MS;
		}
		bool more = indexer_purge_slice(x);
		bool trigrams_left = indexer_trigram_slice(x); /* before phase 2: header searches first */
		more |= trigrams_left || indexer_body_slice(x);
		if (atomic_load_explicit(&x->stop, memory_order_relaxed))
			break;
		if (!more) {
			indexer_wait(x, INDEXER_POLL_MS * 1000u);
			look = true;
		} else { /* another slice unless new mail waits; the gap lets the HTTP thread write marks */
			look = indexer_wait(x, INDEXER_YIELD_US) || indexer_now_ms() >= next_poll;
		}
	}
	return NULL;
}

static void indexer_free(struct indexer *x)
{
	if (x->seg_fd >= 0)
		close(x->seg_fd);
	index_doc_store_free(x->doc);
	if (x->efd >= 0)
		close(x->efd);
	mail_index_close(x->ix);
	free(x->spool_path);
	free(x);
}

int indexer_start(struct indexer **out, const char *spool_path, indexer_new_fn on_new, void *arg, const char **err)
{
	struct indexer *x = calloc(1, sizeof *x);
	*out = NULL;
	if (x == NULL || (x->spool_path = strdup(spool_path)) == NULL) {
		free(x);
		*err = "out of memory";
		return -ENOMEM;
	}
	x->on_new = on_new;
	x->arg = arg;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	x->started_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	x->seg_fd = -1;
	x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	x->bell.fd = x->efd;
	int e = x->efd < 0 ? -errno : 0;
	if (e != 0)
		*err = "cannot create the indexer's eventfd";
	if (e == 0 && (x->doc = index_doc_store_new()) == NULL) {
		e = -ENOMEM;
		*err = "out of memory";
	}
	mime_msg_init(); /* before any other thread parses MIME */
	e = e == 0 ? mail_index_open(&x->ix, spool_path, err) : e;
	if (e == 0) {
		indexer_tail_start(x);
		e = -pthread_create(&x->thread, NULL, indexer_main, x);
		if (e != 0) {
			spool_tail_close(&x->tail);
			*err = "cannot start the indexer thread";
		}
	}
	if (e != 0) {
		indexer_free(x);
		return e;
	}
	*out = x;
	return 0;
}

int indexer_notify_fd(const struct indexer *x)
{
	return x->efd;
}

struct commit_bell *indexer_bell(struct indexer *x)
{
	return &x->bell;
}

struct index_share *indexer_share(struct indexer *x)
{
	return &x->share;
}

void indexer_complete_events(struct indexer *x, bool on)
{
	if (x != NULL)
		atomic_store_explicit(&x->complete_events, on, memory_order_relaxed);
}

void indexer_stats(const struct indexer *x, struct indexer_stats *st)
{
	st->indexed = atomic_load_explicit(&x->indexed, memory_order_relaxed);
	st->pending = atomic_load_explicit(&x->pending, memory_order_relaxed);
	st->lag_us = atomic_load_explicit(&x->lag_us, memory_order_relaxed);
	st->last_seq = atomic_load_explicit(&x->last_seq, memory_order_relaxed);
	st->caught_up = atomic_load_explicit(&x->caught_up, memory_order_relaxed);
	st->body_pending = atomic_load_explicit(&x->body_pending, memory_order_relaxed);
	st->body_lag_us = atomic_load_explicit(&x->body_lag_us, memory_order_relaxed);
	st->body_indexed = atomic_load_explicit(&x->body_indexed, memory_order_relaxed);
}

void indexer_stop(struct indexer *x)
{
	uint64_t one = 1;
	if (x == NULL)
		return;
	atomic_store(&x->stop, true);
	if (write(x->efd, &one, sizeof one) < 0)
		indexer_warn("waking the indexer", errno);
	pthread_join(x->thread, NULL);
	if (x->in_txn)
		indexer_flush(x);
	spool_tail_close(&x->tail);
	indexer_free(x);
}
