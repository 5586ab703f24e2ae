/*
 * index/indexer.c - the indexer thread (indexer.h).
 *
 * Owns: the loop (arm the shards' commit bell, poll the spool through
 * spool_tail, index what is new, sleep on the eventfd or INDEXER_POLL_MS), the batches (one transaction
 * per INDEXER_BATCH_MAX entries, with the per-segment progress bumped in
 * the same transaction, so the progress never runs ahead of the rows), the
 * sweep of segments that are gone (at start and every INDEXER_SWEEP_MS),
 * the on_new calls after each commit, and the counters.
 * Resuming: the tail starts from the start of the spool, but each segment
 * skips the entries its progress row says were handed out (sealed
 * segments read only their .idx); the queue ID's UNIQUE index makes a
 * message handed out twice (progress lost with a database that was not
 * synced) a no-op.  Session reports are entries too (they count in the
 * progress) but are not indexed: the HTTP side reads them from the spool.
 * A record that does not decode is skipped (smtpsink-spool verify
 * reports it); a database error rolls the batch back and restarts the
 * tail from the stored progress at the next poll.
 * Workload: capture speed in batches; MIME parsing is the cost.
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
#include <time.h>
#include <unistd.h>

#include "commit_bell.h"
#include "index_doc.h"
#include "mail_index_int.h"
#include "spool_tail.h"

#define INDEXER_SWEEP_MS 60000u /* look for segments retention or prune deleted */

struct indexer {
	pthread_t thread;
	int efd;
	struct commit_bell bell; /* fd: efd; armed before each look */
	atomic_bool stop;
	char *spool_path;
	indexer_new_fn on_new;
	void *arg;
	struct mail_index *ix;
	struct spool_tail tail;
	bool tail_broken; /* restart the tail from the stored progress */
	/* the batch being built (indexer thread only) */
	bool in_txn;
	uint32_t batch_n;
	uint64_t batch_added, seq_before;
	int64_t batch_newest_us, seen_newest_us, indexed_newest_us;
	size_t poll_done;
	/* read by indexer_stats from any thread */
	_Atomic uint64_t indexed, pending, last_seq;
	_Atomic int64_t lag_us;
	atomic_bool caught_up;
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
	if (x->batch_newest_us > x->indexed_newest_us)
		x->indexed_newest_us = x->batch_newest_us;
	atomic_store_explicit(&x->lag_us, x->seen_newest_us - x->indexed_newest_us, memory_order_relaxed);
	atomic_store_explicit(&x->last_seq, mail_index_last_seq(x->ix), memory_order_relaxed);
	if (x->on_new != NULL && x->batch_added > 0 && index_each_since(x->ix, x->seq_before, indexer_call_new, x) != 0)
		indexer_warn("reading the new messages back", EIO);
	x->batch_added = 0;
}

/* Index one record (a message: parsed and added; a damaged one skipped). */
static int indexer_add(struct indexer *x, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct msg m;
	struct index_doc d;
	struct index_doc_store st;
	if ((e->flags & SPOOL_FLAG_SESSION) != 0 || seg_reader_msg(r, e, true, &m) != MSG_OK)
		return 0;
	int err = index_doc_build(&d, &st, &m);
	int added = err == 0 ? index_add(x->ix, &d) : err;
	index_doc_free(&st);
	if (added > 0) {
		x->batch_added++;
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
	int err = index_segment_bump(x->ix, r->shard, r->segno);
	err = err == 0 ? indexer_add(x, r, e) : err;
	if (err != 0) {
		index_rollback(x->ix);
		x->in_txn = false;
		x->batch_n = 0;
		x->batch_added = 0;
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

static void indexer_sweep(struct indexer *x)
{
	uint64_t dropped;
	int err = index_drop_missing_segments(x->ix, &dropped);
	if (err != 0 && err != -ENOENT)
		indexer_warn("dropping the rows of deleted segments", err);
}

/* Sleep until poked, stopped, or INDEXER_POLL_MS passed. */
static void indexer_wait(struct indexer *x)
{
	struct pollfd p = { .fd = x->efd, .events = POLLIN };
	uint64_t v;
	if (poll(&p, 1, (int)INDEXER_POLL_MS) > 0 && read(x->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		indexer_warn("reading the eventfd", errno);
}

static void *indexer_main(void *arg)
{
	struct indexer *x = arg;
	uint64_t next_sweep = 0;
	while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
		if (indexer_now_ms() >= next_sweep) {
			indexer_sweep(x);
			next_sweep = indexer_now_ms() + INDEXER_SWEEP_MS;
		}
		indexer_poll(x);
		if (!atomic_load_explicit(&x->stop, memory_order_relaxed))
			indexer_wait(x);
	}
	return NULL;
}

static void indexer_free(struct indexer *x)
{
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
	x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	x->bell.fd = x->efd;
	int e = x->efd < 0 ? -errno : 0;
	if (e != 0)
		*err = "cannot create the indexer's eventfd";
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

void indexer_stats(const struct indexer *x, struct indexer_stats *st)
{
	st->indexed = atomic_load_explicit(&x->indexed, memory_order_relaxed);
	st->pending = atomic_load_explicit(&x->pending, memory_order_relaxed);
	st->lag_us = atomic_load_explicit(&x->lag_us, memory_order_relaxed);
	st->last_seq = atomic_load_explicit(&x->last_seq, memory_order_relaxed);
	st->caught_up = atomic_load_explicit(&x->caught_up, memory_order_relaxed);
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
