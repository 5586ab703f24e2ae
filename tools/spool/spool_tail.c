/*
 * tools/spool/spool_tail.c - following a live spool (spool_tail.h).
 *
 * Owns: the per-shard lists of tracked segments, the rotation rules and
 * the per-poll ordering.  Invariant: a record is handed out at most once:
 * `handed` only grows, and a segment number is tracked at most once
 * (numbers only grow within a shard: io/spool_files.c).
 *
 * Workload: per poll, one readdir per shard and a small pread per tracked
 * segment; the new records are scanned once.
 */
#define _GNU_SOURCE
#include "spool_tail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "report.h"

void spool_tail_init(struct spool_tail *t, const char *path, bool from_start)
{
	memset(t, 0, sizeof *t);
	t->path = path;
	t->from_start = from_start;
	t->dir_fd = -1;
}

void spool_tail_resume(struct spool_tail *t, spool_tail_resume_fn resume, void *arg)
{
	t->from_start = true;
	t->resume = resume;
	t->resume_arg = arg;
}

bool spool_tail_found(const struct spool_tail *t)
{
	return t->dir_fd >= 0;
}

/* New shard directories (a server started after us creates them). */
static int find_shards(struct spool_tail *t)
{
	struct spool_dir d;
	int e = spool_dir_open(&d, t->path);
	if (e != 0)
		return e == -ENOENT ? 0 : e;
	if (t->dir_fd < 0)
		t->dir_fd = dup(d.fd);
	for (uint32_t i = 0; i < d.shard_count; i++) {
		bool known = false;
		for (uint32_t k = 0; k < t->shard_count && !known; k++)
			known = t->shards[k].shard == d.shards[i];
		if (known || d.shard_fd[i] < 0 || t->shard_count == SPOOL_DIR_SHARDS_MAX)
			continue;
		struct tail_shard *s = &t->shards[t->shard_count++];
		memset(s, 0, sizeof *s);
		s->shard = d.shards[i];
		s->fd = dup(d.shard_fd[i]);
	}
	spool_dir_close(&d);
	return 0;
}

/* Start tracking segment segno; skip_existing: what is there is old. */
static int track(const struct spool_tail *t, struct tail_shard *s, uint64_t segno, bool skip_existing)
{
	if (!grow_array((void **)&s->segs, &s->cap, s->n + 1, sizeof *s->segs, 8))
		return -ENOMEM;
	struct tail_seg *ts = &s->segs[s->n];
	memset(ts, 0, sizeof *ts);
	int e = seg_reader_open(&ts->r, s->fd, s->shard, segno, false);
	if (e == -ENOENT)
		return 0; /* gone already */
	if (e != 0)
		return e;
	if (skip_existing)
		ts->handed = seg_reader_count(&ts->r);
	else if (t->resume != NULL) /* may exceed what an open segment's scan found yet: collect() waits */
		ts->handed = t->resume(t->resume_arg, s->shard, segno);
	if (ts->r.state == SEG_SEALED && ts->handed > seg_reader_count(&ts->r))
		ts->handed = seg_reader_count(&ts->r); /* a sealed one never grows: it must retire */
	s->n++;
	return 0;
}

/* Segments newer than s->high.  On the first poll of a tail started at
 * the end, sealed segments are not tracked at all and open ones are
 * tracked with what they hold counted as handed out. */
static int find_segments(const struct spool_tail *t, struct tail_shard *s, bool skip_existing)
{
	struct spool_seg *segs;
	size_t n;
	int e = spool_dir_segments(s->fd, false, &segs, &n); /* new mail is never in a quarantined one */
	for (size_t i = 0; e == 0 && i < n; i++) {
		if (segs[i].segno <= s->high)
			continue;
		s->high = segs[i].segno;
		if (!(skip_existing && spool_dir_has_index(s->fd, segs[i].segno)))
			e = track(t, s, segs[i].segno, skip_existing);
	}
	free(segs);
	return e;
}

static int add_item(struct spool_tail *t, struct tail_seg *ts, uint32_t i)
{
	if (!grow_array((void **)&t->items, &t->item_cap, t->item_count + 1, sizeof *t->items, 256))
		return -ENOMEM;
	struct tail_item *it = &t->items[t->item_count++];
	it->seg = ts;
	seg_reader_entry(&ts->r, i, &it->e);
	return 0;
}

/* Scan one tracked segment and collect what is new in it. */
static int collect(struct spool_tail *t, struct tail_shard *s, struct tail_seg *ts)
{
	bool sealed = spool_dir_has_index(s->fd, ts->r.segno);
	struct stat st;
	int e = seg_reader_refresh(&ts->r);
	if (e < 0)
		return e;
	if (sealed || ts->r.state == SEG_SEALED || (fstat(ts->r.fd, &st) == 0 && st.st_nlink == 0))
		ts->finished = true;
	uint32_t count = seg_reader_count(&ts->r);
	for (; ts->handed < count; ts->handed++)
		if ((e = add_item(t, ts, ts->handed)) != 0)
			return e;
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct tail_item *x = a, *y = b;
	if (x->e.received_us != y->e.received_us)
		return x->e.received_us < y->e.received_us ? -1 : 1;
	return memcmp(x->e.qid, y->e.qid, sizeof x->e.qid);
}

/* Drop finished segments whose entries were all handed out. */
static void retire(struct tail_shard *s)
{
	size_t out = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tail_seg *ts = &s->segs[i];
		if (ts->finished && ts->handed == seg_reader_count(&ts->r))
			seg_reader_close(&ts->r);
		else
			s->segs[out++] = *ts;
	}
	s->n = out;
}

int spool_tail_poll(struct spool_tail *t, spool_tail_fn fn, void *arg)
{
	int e = find_shards(t);
	bool skip = !t->primed && !t->from_start;
	t->item_count = 0;
	for (uint32_t k = 0; e == 0 && k < t->shard_count; k++) {
		struct tail_shard *s = &t->shards[k];
		e = find_segments(t, s, skip);
		for (size_t i = 0; e == 0 && !skip && i < s->n; i++)
			e = collect(t, s, &s->segs[i]);
	}
	t->primed = true; /* what appears from now on is new, even the directory */
	if (e != 0)
		return e;
	if (t->item_count > 1)
		qsort(t->items, t->item_count, sizeof *t->items, cmp_item);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < t->item_count; i++)
		rc = fn(arg, &t->items[i].seg->r, &t->items[i].e);
	for (uint32_t k = 0; k < t->shard_count; k++)
		retire(&t->shards[k]);
	return rc;
}

void spool_tail_close(struct spool_tail *t)
{
	for (uint32_t k = 0; k < t->shard_count; k++) {
		struct tail_shard *s = &t->shards[k];
		for (size_t i = 0; i < s->n; i++)
			seg_reader_close(&s->segs[i].r);
		free(s->segs);
		close(s->fd);
	}
	free(t->items);
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	t->shard_count = 0;
}
