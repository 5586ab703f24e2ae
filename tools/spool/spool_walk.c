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
 *
 * Several spools: their shards are all cursors of the one merge (a few
 * nodes times a few dozen shards: still a linear pick).  The watch below
 * notices an ID handed out from two spools (the same time and ID at two
 * heads: they come out one after the other) and node IDs found in two
 * spools (an array of the first spool that showed each node, 128 KiB, only
 * when there are several spools).
 */
#include "spool_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue_id.h"
#include "report.h"
#include "text_out.h"

struct cursor {
	size_t src; /* the spool */
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

/* What the walk noticed across spools (unused with one spool). */
struct watch {
	const struct spool_dir *dirs;
	uint16_t *node_src; /* per node ID: 1 + the first spool holding one of its IDs, 0: none yet */
	uint8_t *node_warned; /* per node ID: reported */
	uint64_t dups;
};

static int watch_init(struct watch *w, const struct spool_dir *dirs, size_t n)
{
	*w = (struct watch){ .dirs = dirs };
	if (n < 2)
		return 0;
	if (n > UINT16_MAX)
		return -EINVAL;
	w->node_src = calloc(QUEUE_ID_NODE_MAX + 1u, sizeof *w->node_src);
	w->node_warned = calloc(QUEUE_ID_NODE_MAX + 1u, 1);
	return w->node_src && w->node_warned ? 0 : -ENOMEM;
}

/* Note e's node for spool src; report a node seen in two spools, once. */
static void watch_node(struct watch *w, size_t src, const struct spool_index_entry *e)
{
	uint64_t us;
	uint32_t node, shard;
	if (w->node_src == NULL || !queue_id_parse(e->qid, strnlen(e->qid, sizeof e->qid), &us, &node, &shard))
		return;
	if (w->node_src[node] == 0) {
		w->node_src[node] = (uint16_t)(src + 1);
	} else if (w->node_src[node] != src + 1 && !w->node_warned[node]) {
		w->node_warned[node] = 1;
		report_warning("%s and %s both hold queue IDs of node %u: give every node its own --node-id, or "
			       "IDs can repeat",
			       w->dirs[w->node_src[node] - 1].path, w->dirs[src].path, node);
	}
}

/* Report best's ID if another spool's head has the same time and ID. */
static void watch_dup(struct watch *w, const struct cursor *cs, size_t ncs, const struct cursor *best)
{
	for (size_t i = 0; i < ncs; i++) {
		const struct cursor *c = &cs[i];
		if (c == best || c->src == best->src || !c->has_head || c->head.received_us != best->head.received_us ||
		    memcmp(c->head.qid, best->head.qid, sizeof c->head.qid) != 0)
			continue;
		if (w->dups++ < SPOOL_WALK_DUP_REPORTS) {
			char qid[4 * MSG_QID_BYTES];
			text_out_safe(best->head.qid, strnlen(best->head.qid, MSG_QID_BYTES), qid, sizeof qid);
			report_warning("queue ID %s is in both %s and %s: listed from each (same --node-id on two "
				       "nodes, or a copied spool?)",
				       qid, w->dirs[best->src].path, w->dirs[c->src].path);
		}
		return; /* the other one reports nothing when its turn comes */
	}
}

static void watch_fini(struct watch *w)
{
	if (w->dups > SPOOL_WALK_DUP_REPORTS)
		report_warning("%llu queue IDs in all were found in more than one spool", (unsigned long long)w->dups);
	free(w->node_src);
	free(w->node_warned);
}

static int setup(const struct spool_dir *dirs, size_t n, struct cursor *cs)
{
	size_t k = 0;
	for (size_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < dirs[s].shard_count; i++) {
			struct cursor *c = &cs[k++];
			size_t nseg = 0;
			c->src = s;
			c->shard = dirs[s].shards[i];
			c->dir_fd = dirs[s].shard_fd[i];
			if (c->dir_fd < 0)
				continue;
			int e = spool_dir_segments(c->dir_fd, true, &c->segs, &nseg);
			if (e != 0)
				return e;
			c->next_seg = nseg;
		}
	return 0;
}

/* The cursor with the newest head, or NULL when all are done. */
static struct cursor *pick(struct cursor *cs, size_t ncs)
{
	struct cursor *best = NULL;
	for (size_t i = 0; i < ncs; i++)
		if (cs[i].has_head && (best == NULL || newer(&cs[i].head, &best->head)))
			best = &cs[i];
	return best;
}

int spool_walk(const struct spool_dir *dirs, size_t n, const struct spool_walk_range *range, spool_walk_fn fn,
	       void *arg)
{
	size_t ncs = 0;
	for (size_t s = 0; s < n; s++)
		ncs += dirs[s].shard_count;
	struct cursor *cs = calloc(ncs ? ncs : 1, sizeof *cs);
	struct watch w;
	int rc = watch_init(&w, dirs, n);
	if (cs == NULL && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = setup(dirs, n, cs);
	for (size_t i = 0; rc == 0 && i < ncs; i++)
		cursor_advance(&cs[i], range);
	struct cursor *best;
	while (rc == 0 && (best = pick(cs, ncs)) != NULL) {
		if (n > 1) {
			watch_dup(&w, cs, ncs, best);
			watch_node(&w, best->src, &best->head);
		}
		rc = fn(arg, best->src, &best->r, &best->head);
		if (rc == 0)
			cursor_advance(best, range);
	}
	for (size_t i = 0; cs != NULL && i < ncs; i++) {
		cursor_close(&cs[i]);
		free(cs[i].segs);
	}
	free(cs);
	watch_fini(&w);
	return rc;
}
