/*
 * tools/spool/spool_walk.c - newest-first merge over shards (spool_walk.h).
 *
 * Owns: one cursor per shard (its segment list, the open segment, the next
 * entry going down) and picking the newest head among the shards.  The
 * pick is a linear pass: shards are one per CPU of the server (a few to a
 * few dozen), cheaper to compare than to keep in a heap.
 *
 * Invariant: each shard's cursor only moves towards older entries, so
 * every message is handed out at most once and a stopped walk has read
 * nothing it did not need.  Assumes received times grow with queue IDs
 * within a shard (they do unless the clock stepped back while the server
 * ran; then the order is approximate and a --since bound may end a shard
 * a little early).  A walk hands out one kind of record: messages, or
 * session reports.  Session reports break the invariant (one carries its
 * connect time but is written when the session ends, after its messages),
 * so the messages' order is kept by leaving them out of a message walk, and
 * a session walk never ends a shard early; its order is only approximate
 * (cmd_sessions.c sorts what it lists).
 */
#include "spool_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "text_out.h"

struct cursor {
	uint32_t shard;
	int dir_fd;
	struct spool_seg *segs;
	size_t next_seg; /* segs[next_seg - 1] is the next to open */
	struct seg_reader r;
	bool open;
	uint32_t next; /* entries [0, next) are still to come */
	struct spool_index_entry head;
	bool has_head;
};

void spool_walk_warn_segment(const struct seg_reader *r)
{
	char name[SPOOL_DIR_NAME_BYTES * 2];
	seg_reader_name(r, name, sizeof name);
	if (r->state == SEG_BAD_HEADER)
		report_warning("%s: the segment header does not verify; skipped (run verify)", name);
	else if (r->index_bad)
		report_warning("%s: its .idx does not verify; reading the segment instead (run verify)", name);
	if (r->state == SEG_QUARANTINED)
		report_warning("%s: quarantined by the server; reading its intact records (%u damaged range(s) "
			       "skipped; run verify --salvage)",
			       name, r->damage_count);
	else if (r->damage_count > 0)
		report_warning("%s: %u damaged range(s) skipped; the records after them are read (run verify)", name,
			       r->damage_count);
}

void spool_walk_warn_record(const struct seg_reader *r, const struct spool_index_entry *e, const char *why)
{
	char name[SPOOL_DIR_NAME_BYTES * 2], qid[4 * MSG_QID_BYTES];
	seg_reader_name(r, name, sizeof name);
	text_out_safe(e->qid, strnlen(e->qid, MSG_QID_BYTES), qid, sizeof qid);
	report_warning("%s: offset %llu (%s%s): %s; skipped (run verify)", name, (unsigned long long)e->offset,
		       (e->flags & SPOOL_FLAG_SESSION) ? "session " : "", qid, why);
}

static void cursor_close(struct cursor *c)
{
	if (c->open)
		seg_reader_close(&c->r);
	c->open = false;
}

/* Open the next older segment; false when there is none. */
static bool cursor_next_segment(struct cursor *c)
{
	cursor_close(c);
	while (c->next_seg > 0) {
		const struct spool_seg *s = &c->segs[--c->next_seg];
		int e = seg_reader_open(&c->r, c->dir_fd, c->shard, s->segno, s->quarantined);
		if (e == -ENOENT)
			continue; /* deleted by retention or prune meanwhile */
		if (e != 0) {
			report_warning("shard-%02u/%08llu.seg%s: %s; skipped", c->shard, (unsigned long long)s->segno,
				       s->quarantined ? ".corrupt" : "", strerror(-e));
			continue;
		}
		spool_walk_warn_segment(&c->r);
		c->open = true;
		c->next = seg_reader_count(&c->r);
		return true;
	}
	return false;
}

/* Move c->head to the next entry in range, or clear has_head. */
static void cursor_advance(struct cursor *c, const struct spool_walk_range *range)
{
	c->has_head = false;
	for (;;) {
		if (!c->open || c->next == 0) {
			if (!cursor_next_segment(c))
				return;
			continue;
		}
		seg_reader_entry(&c->r, --c->next, &c->head);
		bool session = (c->head.flags & SPOOL_FLAG_SESSION) != 0;
		if (session != range->sessions || c->head.received_us > range->until_us)
			continue;
		if (c->head.received_us < range->since_us && session)
			continue; /* written at its end, so not a bound on what is further back */
		if (c->head.received_us < range->since_us) {
			cursor_close(c); /* everything further back is older */
			c->next_seg = 0;
			return;
		}
		c->has_head = true;
		return;
	}
}

static bool newer(const struct spool_index_entry *a, const struct spool_index_entry *b)
{
	if (a->received_us != b->received_us)
		return a->received_us > b->received_us;
	return memcmp(a->qid, b->qid, sizeof a->qid) > 0;
}

static int setup(struct spool_dir *d, struct cursor *cs)
{
	for (uint32_t i = 0; i < d->shard_count; i++) {
		struct cursor *c = &cs[i];
		size_t n = 0;
		c->shard = d->shards[i];
		c->dir_fd = d->shard_fd[i];
		if (c->dir_fd < 0)
			continue;
		int e = spool_dir_segments(c->dir_fd, true, &c->segs, &n);
		if (e != 0)
			return e;
		c->next_seg = n;
	}
	return 0;
}

int spool_walk(struct spool_dir *d, const struct spool_walk_range *range, spool_walk_fn fn, void *arg)
{
	struct cursor *cs = calloc(d->shard_count ? d->shard_count : 1, sizeof *cs);
	if (cs == NULL)
		return -ENOMEM;
	int rc = setup(d, cs);
	for (uint32_t i = 0; rc == 0 && i < d->shard_count; i++)
		cursor_advance(&cs[i], range);
	while (rc == 0) {
		struct cursor *best = NULL;
		for (uint32_t i = 0; i < d->shard_count; i++)
			if (cs[i].has_head && (best == NULL || newer(&cs[i].head, &best->head)))
				best = &cs[i];
		if (best == NULL)
			break;
		rc = fn(arg, &best->r, &best->head);
		if (rc == 0)
			cursor_advance(best, range);
	}
	for (uint32_t i = 0; i < d->shard_count; i++) {
		cursor_close(&cs[i]);
		free(cs[i].segs);
	}
	free(cs);
	return rc;
}
