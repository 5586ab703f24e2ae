/*
 * io/spool.c - append, group commit and verdicts (see spool.h).
 *
 * Owns the rule that no 250 leaves for a message before the fdatasync that
 * covers it has completed (--sync group/always).  Records are laid out at
 * increasing offsets as messages complete; a batch is one contiguous region
 * written with one vectored write hard-linked to one fdatasync, so a loop
 * turn's messages share a single flush (group commit).  At most one batch
 * is in flight; the following ones fill meanwhile.  A failed write or sync
 * fails every message in its batch and all batches queued behind it for the
 * same segment (451/452, never 250), poisons that segment (it is cut at the
 * failed offset and sealed) and opens a new one; if none can be opened the
 * spool is down and MAIL gets 452 until a retry succeeds.
 */
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit_bell.h"
#include "conn.h"
#include "grow.h"
#include "index_share.h"
#include "io_classify.h"
#include "session_report.h"
#include "shard.h"

bool spool_ready(const struct spool *sp)
{
	return sp->seg_fd >= 0 && !sp->full;
}

bool spool_accepting(const struct spool *sp)
{
	return spool_ready(sp) && !sp->low_space;
}

bool spool_idle(const struct spool *sp)
{
	return sp->queued == 0 && !sp->batch.busy;
}

bool spool_writing(const struct spool *sp, uint64_t segno)
{
	for (const struct capture *c = sp->queue_head; c != NULL; c = c->next)
		if (c->segno == segno)
			return true;
	return sp->batch.busy && sp->batch.segno == segno;
}

/* The index's share of the disk, or NULL (none: --no-http, tests). */
static struct index_share *index_of(const struct spool *sp)
{
	return sp->index == NULL ? NULL : atomic_load_explicit(sp->index, memory_order_acquire);
}

/* Retention, the index's bytes counted with the segments; the indexer
 * drops the rows of what went. */
static void retire(struct spool *sp, uint64_t now_us)
{
	struct index_share *ix = index_of(sp);
	index_share_retired(ix, spool_files_retire(sp, now_us, sp->max_bytes, sp->max_age_s, index_share_disk(ix)));
}

/* Rotate to a new segment if the record does not fit in the open one,
 * and preallocate its place; 0 or -errno. */
static int make_room(struct spool *sp, const struct capture *cap)
{
	if (SPOOL_SEGMENT_HEADER_BYTES + cap->record_len > sp->seg_size)
		return -EFBIG; /* would not fit even in an empty segment */
	if (sp->write_off + cap->record_len > sp->seg_size) {
		spool_files_seal(sp); /* sealed once its last record is durable */
		int e = spool_files_new_segment(sp, cap->received_us);
		if (e != 0)
			return e;
		if (sp->max_bytes != 0) /* a turn may fill several segments: hold the limit at each */
			retire(sp, cap->received_us);
	}
	int e = spool_files_reserve(sp, sp->write_off + cap->record_len, index_share_keep(index_of(sp)));
	if (io_classify(IO_VERB_WRITE, e) == IO_DISK_FULL && !sp->full) {
		sp->full = true; /* MAIL gets 452 until the segment can grow (retry) */
		sp->full_need = sp->write_off + cap->record_len;
		sp->retry_ms = 0;
		fprintf(stderr, "smtpsink: shard %u: spool disk full: answering 452 until there is room\n", sp->shard);
	}
	return e;
}

/* Room for a record whose head_len and record_len are set: the head
 * buffer, and a place in the open segment.  Rotate first: synced_before
 * must be the durable offset of the segment the record will be in. */
static int place_record(struct spool *sp, struct capture *cap)
{
	if (cap->record_len == 0 || !capture_alloc_head(cap))
		return -ENOMEM;
	return make_room(sp, cap);
}

/* The head is written: checksum head and body, write the tail. */
static bool seal_record(struct capture *cap)
{
	struct spool_checksum sum;
	spool_checksum_init(&sum);
	spool_checksum_update(&sum, cap->head, cap->head_len);
	for (uint32_t i = 0; i < cap->body_iov_count; i++)
		spool_checksum_update(&sum, cap->body_iov[i].iov_base, cap->body_iov[i].iov_len);
	cap->tail_len = spool_record_tail(&sum, cap->record_len, cap->head_len + cap->content_bytes, cap->tail);
	return cap->tail_len != 0; /* 0: the lengths disagree, never store that */
}

/* Encode the record around the captured body; 0 or -errno. */
static int build_record(struct spool *sp, struct capture *cap, struct spool_envelope *env)
{
	struct smtp_view *paths = malloc(2 * ((size_t)cap->rcpt_count + 1) * sizeof *paths);
	if (paths == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap->rcpt_count; i++) {
		paths[i] = capture_view(cap, cap->rcpts[2 * i]);
		paths[cap->rcpt_count + i] = capture_view(cap, cap->rcpts[2 * i + 1]);
	}
	env->mail_from = capture_view(cap, cap->mail_from);
	env->mail_params = capture_view(cap, cap->mail_params);
	env->rcpts = paths;
	env->rcpt_params = paths + cap->rcpt_count;
	env->rcpt_count = cap->rcpt_count;
	env->flags = cap->flags;
	env->qid = smtp_view_make(cap->qid, strlen(cap->qid));
	env->received_us = cap->received_us;
	env->shard = sp->shard;
	env->node = sp->node;
	cap->head_len = spool_record_meta_bytes(env);
	cap->record_len = spool_record_len(env, cap->content_bytes);
	int e = capture_body_ready(cap) ? place_record(sp, cap) : -EIO;
	if (e == 0)
		spool_record_head(env, cap->content_bytes, sp->durable_off, cap->head);
	free(paths);
	return e != 0 ? e : seal_record(cap) ? 0 : -EIO;
}

static bool add_entry(struct spool *sp, const struct capture *cap)
{
	if (!grow_array((void **)&sp->entries, &sp->entry_cap, (size_t)sp->entry_count + 1, sizeof *sp->entries, 1024))
		return false;
	struct spool_index_entry *e = &sp->entries[sp->entry_count++];
	memset(e, 0, sizeof *e);
	memcpy(e->qid, cap->qid, strlen(cap->qid));
	e->received_us = cap->received_us;
	e->offset = cap->offset;
	e->record_len = cap->record_len;
	e->meta_len = (uint32_t)(cap->head_len - SPOOL_RECORD_HEADER_BYTES);
	e->flags = cap->flags;
	if (sp->table_live && !spool_table_add(&sp->table, sp->entries, sp->entry_count - 1)) {
		sp->entry_count--;
		return false;
	}
	return true;
}

/* The table costs a hash and a cache miss per message: it is built when
 * the first lookup needs it, not before. */
const struct spool_index_entry *spool_find_open(struct spool *sp, const char *qid, size_t qid_len)
{
	if (!sp->table_live) {
		spool_table_clear(&sp->table);
		for (uint32_t k = 0; k < sp->entry_count; k++)
			if (!spool_table_add(&sp->table, sp->entries, k)) {
				spool_table_clear(&sp->table);
				return NULL; /* out of memory: not found, try again later */
			}
		sp->table_live = true;
	}
	long i = spool_table_find(&sp->table, sp->entries, qid, qid_len);
	return i < 0 ? NULL : &sp->entries[i];
}

/* Lay the record out at the end of the open segment and queue it (its
 * index entry needs the offset, so that is set first). */
static bool enqueue(struct spool *sp, struct capture *cap)
{
	cap->segno = sp->segno; /* build_record() made room for it */
	cap->seg_fd = sp->seg_fd;
	cap->offset = sp->write_off;
	if (!add_entry(sp, cap))
		return false;
	sp->write_off += cap->record_len;
	cap->next = NULL;
	if (sp->queue_tail != NULL)
		sp->queue_tail->next = cap;
	else
		sp->queue_head = cap;
	sp->queue_tail = cap;
	sp->queued++;
	return true;
}

static struct spool_answer failure(int err)
{
	bool full = io_classify(IO_VERB_WRITE, err) == IO_DISK_FULL;
	struct spool_answer a = { full ? 452 : 451, NULL, { 0 } };
	a.text = full ? "4.3.1 Insufficient system storage" : "4.3.0 Error: queue file write error";
	return a;
}

bool spool_append(struct shard *sh, struct capture *cap, struct spool_envelope *env, uint64_t now_us,
		  struct spool_answer *ans)
{
	struct spool *sp = &sh->spool;
	int e;
	queue_id_next(&sh->qids, now_us, cap->qid);
	cap->received_us = now_us;
	memcpy(ans->qid, cap->qid, sizeof ans->qid);
	ans->text = NULL;
	if (cap->failed) {
		*ans = failure(cap->error != 0 ? cap->error : -ENOMEM);
		memcpy(ans->qid, cap->qid, sizeof ans->qid);
	} else if (!spool_ready(sp)) {
		ans->code = 452;
		ans->text = "4.3.1 Insufficient system storage";
	} else if ((e = build_record(sp, cap, env)) != 0 || (e = enqueue(sp, cap) ? 0 : -ENOMEM) != 0) {
		*ans = failure(e);
		memcpy(ans->qid, cap->qid, sizeof ans->qid);
	} else if (sp->sync == SPOOL_SYNC_NONE) {
		ans->code = 250; /* acknowledged once queued: a crash may lose it */
		cap->conn = NULL; /* the spool keeps cap until the write is done */
		return true;
	} else {
		return false; /* conn_on_verdict() when the batch is durable */
	}
	capture_free(cap);
	return true;
}

bool spool_append_session(struct shard *sh, const struct session_report *r)
{
	struct spool *sp = &sh->spool;
	if (!spool_ready(sp) || r->id.len > QUEUE_ID_LEN)
		return false;
	struct capture *cap = capture_begin(sh, NULL, smtp_view_make("", 0), smtp_view_make("", 0), 0);
	if (cap == NULL)
		return false;
	memcpy(cap->qid, r->id.ptr, r->id.len);
	cap->received_us = r->connect_us;
	cap->flags = SPOOL_FLAG_SESSION;
	cap->head_len = session_report_meta_bytes(r);
	cap->record_len = session_report_record_len(r);
	bool ok = place_record(sp, cap) == 0;
	if (ok)
		session_report_head(r, sp->durable_off, cap->head);
	if (!ok || !seal_record(cap) || !enqueue(sp, cap)) {
		capture_free(cap);
		return false;
	}
	return true; /* nobody waits for it: written with the next batch */
}

static void answer_all(struct capture *list, const struct spool_answer *proto)
{
	struct spool_answer ans = *proto;
	for (struct capture *cap = list, *next; cap != NULL; cap = next) {
		next = cap->next;
		if (cap->conn != NULL) {
			memcpy(ans.qid, cap->qid, sizeof ans.qid);
			conn_on_verdict(cap->conn, &ans);
		}
		capture_free(cap);
	}
}

/* How many of a segment's index entries (in offset order) lie before
 * offset: the records from offset on were never durable. */
static uint32_t entries_before(const struct spool_index_entry *e, uint32_t count, uint64_t offset)
{
	while (count > 0 && e[count - 1].offset >= offset)
		count--;
	return count;
}

/* A segment rotated away failed: it already waits to be sealed, with an
 * end and entries that counted the failed records; cut it where they
 * begin. */
static void cut_sealing(struct spool *sp, uint64_t segno, uint64_t offset)
{
	for (struct spool_sealing *s = sp->sealing; s != NULL; s = s->next)
		if (s->segno == segno) {
			s->end_off = offset;
			s->entry_count = entries_before(s->entries, s->entry_count, offset);
		}
}

/* A write or sync failed: everything still queued for that segment fails
 * with it (never 250), the segment is cut where the failure happened and
 * sealed, and a new segment takes the next messages. */
static void poison(struct shard *sh, struct spool_batch *b)
{
	struct spool *sp = &sh->spool;
	struct capture *failed = NULL, **tail = &failed, **pp = &sp->queue_head;
	sp->errors++;
	fprintf(stderr, "smtpsink: shard %u: spool segment %llu: write failed at offset %llu: %s\n", sp->shard,
		(unsigned long long)b->segno, (unsigned long long)b->offset, strerror(-b->result));
	sp->queue_tail = NULL;
	while (*pp != NULL) {
		struct capture *c = *pp;
		if (c->segno == b->segno) {
			*pp = c->next;
			c->next = NULL;
			*tail = c;
			tail = &c->next;
			sp->queued--;
		} else {
			sp->queue_tail = c;
			pp = &c->next;
		}
	}
	if (b->segno != sp->segno) { /* rotated away meanwhile: waiting to be sealed */
		cut_sealing(sp, b->segno, b->offset);
	} else {
		sp->write_off = b->offset;
		sp->entry_count = entries_before(sp->entries, sp->entry_count, b->offset);
		spool_table_clear(&sp->table); /* the segment is sealed right below */
		spool_files_seal(sp);
		spool_files_new_segment(sp, sh->wall_us);
	}
	/* answered last: a 451 lets its client's pipelined input go on, and
	 * the next message must find the spool cut and on a new segment */
	struct spool_answer ans = failure(b->result);
	answer_all(failed, &ans);
}

static void batch_done(struct shard *sh, struct spool_batch *b)
{
	struct spool *sp = &sh->spool;
	if (b->pending != 0)
		return;
	struct spool_answer ans = { 250, NULL, { 0 } };
	if (b->result != 0)
		ans = failure(b->result);
	else if (b->fsync && b->segno == sp->segno && b->offset + b->bytes > sp->durable_off)
		sp->durable_off = b->offset + b->bytes;
	struct capture *list = b->head;
	b->head = b->tail = NULL;
	b->busy = false;
	if (b->result != 0)
		poison(sh, b);
	answer_all(list, &ans);
	if (ans.code == 250 && list != NULL) { /* the indexer may look now */
		index_share_committed(index_of(sp), b->bytes);
		commit_bell_ring(atomic_load_explicit(&sh->shared->bell, memory_order_acquire));
	}
	spool_files_seal_done(sp);
	spool_tick(sh);
}

void spool_on_write(struct shard *sh, struct spool_batch *b, int res)
{
	b->pending--;
	sh->spool.writes++;
	if (res >= 0 && (uint64_t)res != b->bytes)
		res = -EIO; /* a short write to a preallocated file */
	if (res < 0 && b->result == 0)
		b->result = res;
	batch_done(sh, b);
}

void spool_on_fsync(struct shard *sh, struct spool_batch *b, int res)
{
	b->pending--;
	sh->spool.fsyncs++;
	shard_stats_observe(&sh->stats.fsync, sh->mono_us - b->submit_us);
	if (res < 0 && b->result == 0)
		/* canceled: the write failed first, and said why */
		b->result = io_classify(IO_VERB_FSYNC, res) == IO_CANCELED ? -EIO : res;
	batch_done(sh, b);
}

/* Take the queued records of the oldest segment, in order (one with
 * --sync always), into the batch. */
static void fill_batch(struct spool *sp, struct spool_batch *b)
{
	uint32_t max = sp->sync == SPOOL_SYNC_ALWAYS ? 1 : SPOOL_BATCH_MAX_MSGS;
	struct capture *first = sp->queue_head;
	memset(b, 0, offsetof(struct spool_batch, iov)); /* not the iovecs */
	b->iov_count = 0;
	b->result = 0;
	b->segno = first->segno;
	b->seg_fd = first->seg_fd;
	b->offset = first->offset;
	b->fsync = sp->sync != SPOOL_SYNC_NONE;
	b->write_op = (struct io_op){ IO_OP_SPOOL_WRITE, b };
	b->fsync_op = (struct io_op){ IO_OP_SPOOL_FSYNC, b };
	while (sp->queue_head != NULL && b->count < max && sp->queue_head->segno == b->segno &&
	       b->iov_count + 2 + sp->queue_head->body_iov_count <= SPOOL_BATCH_IOV_MAX &&
	       (b->count == 0 || b->bytes + sp->queue_head->record_len <= sp->batch_max_bytes)) {
		struct capture *cap = sp->queue_head;
		sp->queue_head = cap->next;
		sp->queued--;
		cap->next = NULL;
		b->iov[b->iov_count++] = (struct iovec){ cap->head, cap->head_len };
		for (uint32_t i = 0; i < cap->body_iov_count; i++)
			b->iov[b->iov_count++] = cap->body_iov[i];
		b->iov[b->iov_count++] = (struct iovec){ cap->tail, cap->tail_len };
		b->bytes += cap->record_len;
		if (b->tail != NULL)
			b->tail->next = cap;
		else
			b->head = cap;
		b->tail = cap;
		b->count++;
	}
	if (sp->queue_head == NULL)
		sp->queue_tail = NULL;
}

/* Down (no segment, or a full disk): try again after 100, 200, 400 ms
 * ... a second, for ever (a disk that fails now may work later; a try
 * costs a few syscalls and two syncs, or one fallocate). */
static void retry(struct shard *sh, struct spool *sp)
{
	sp->retry_delay_ms = sp->retry_delay_ms == 0 ? SPOOL_RETRY_FIRST_MS : 2 * sp->retry_delay_ms;
	if (sp->retry_delay_ms > SPOOL_RETRY_MAX_MS)
		sp->retry_delay_ms = SPOOL_RETRY_MAX_MS;
	sp->retry_ms = sh->now_ms + sp->retry_delay_ms;
	int e = sp->seg_fd < 0 ? spool_files_new_segment(sp, sh->wall_us) :
				 spool_files_reserve(sp, sp->full_need, index_share_keep(index_of(sp)));
	if (e == -EFBIG) /* the segment is full anyway: the next record rotates */
		e = 0;
	if (e != 0)
		return;
	sp->full = false;
	sp->retry_delay_ms = 0;
	fprintf(stderr, "smtpsink: shard %u: spool is writable again\n", sp->shard);
}

/* Admission (Postfix's queue_minfree): a transaction starts only while
 * the disk has --spool-min-free free, so that a message taken in finds
 * room for its spill file and its record rather than a 452 after its
 * whole body was sent.  The index shares the disk and writes behind the
 * spool: what it will still write for mail already stored is kept free
 * too, or it would take the room a transaction under way counts on. */
static void check_room(struct shard *sh, struct spool *sp)
{
	sp->room_check_ms = sh->now_ms + SPOOL_ROOM_CHECK_MS;
	uint64_t room = spool_files_room(sp), keep = index_share_keep(index_of(sp));
	bool low = room < sp->min_free + keep;
	if (low != sp->low_space)
		fprintf(stderr,
			low ? "smtpsink: shard %u: spool disk low on space (%llu bytes, %llu kept for the index):"
			      " answering MAIL 452\n" :
			      "smtpsink: shard %u: spool disk has room again (%llu bytes, %llu kept for the index)\n",
			sp->shard, (unsigned long long)room, (unsigned long long)keep);
	sp->low_space = low;
}

void spool_out_of_room(struct shard *sh)
{
	struct spool *sp = &sh->spool;
	if (sp->min_free == 0 || sp->low_space)
		return; /* no admission check, or already refusing */
	fprintf(stderr, "smtpsink: shard %u: spool disk full: answering MAIL 452\n", sp->shard);
	sp->low_space = true;
	sp->room_check_ms = sh->now_ms + SPOOL_ROOM_CHECK_MS;
}

void spool_tick(struct shard *sh)
{
	struct spool *sp = &sh->spool;
	if (sp->dir_fd < 0)
		return;
	/* every SPOOL_RETIRE_MS; every turn while over the byte limit, so that the
	 * shards, each deleting only its oldest when it is the spool's, keep
	 * up with any load */
	if ((sh->now_ms >= sp->retire_ms || sp->over_bytes) && (sp->max_bytes != 0 || sp->max_age_s != 0)) {
		sp->retire_ms = sh->now_ms + SPOOL_RETIRE_MS;
		retire(sp, sh->wall_us);
	}
	if (!spool_ready(sp) && sh->now_ms >= sp->retry_ms)
		retry(sh, sp);
	if (sp->min_free != 0 && sh->now_ms >= sp->room_check_ms)
		check_room(sh, sp);
	struct spool_batch *b = &sp->batch;
	if (b->busy || sp->queue_head == NULL)
		return;
	fill_batch(sp, b);
	b->submit_us = sh->mono_us;
	b->busy = true;
	b->pending = b->fsync ? 2 : 1;
	sh->ops->spool_write(sh, b);
}
