/*
 * index/index_add.c - what the indexer writes: messages, its progress per
 * segment, and the removal of messages whose segments are gone.
 *
 * Owns: the insert of one message with the marks made for it before it was
 * indexed (a rebuild: marks replayed first, messages after): a deletion
 * keeps it out, the last read/unread mark that covers it (its own or an
 * "every message" one, by log position) sets its flag, its tags come from
 * its last TAGS mark.  The queue ID is UNIQUE: INSERT OR IGNORE makes a
 * message handed over twice (a restart that lost its progress) a no-op.
 * The row's trigrams (fts_addr), the counts and, for a phase-2 doc, its
 * free text (message_text, fts_text) are written here with reused
 * statements, not by triggers.
 * Callers hold a transaction (index_begin) around a batch.
 * Workload: up to INDEXER_BATCH_MAX inserts per transaction, three primary
 * key lookups each for the marks.
 */
#define _GNU_SOURCE
#include "mail_index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "spool_dir.h"

/* The marks made for d before it was indexed. */
struct add_marks {
	bool deleted, read;
	char *tags_json; /* malloc'd, or NULL: none */
};

static int add_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* Are the mark tables empty?  Once per transaction: marks are applied in
 * transactions of their own. */
static int add_marks_known(struct mail_index *ix)
{
	sqlite3_stmt *st = ix->stmt[IX_MARKS_ANY];
	if (ix->marks_known)
		return 0;
	if (add_row(st) != 1) {
		sqlite3_reset(st);
		return -EIO;
	}
	ix->any_mark = sqlite3_column_int(st, 0) != 0;
	ix->any_mark_all = sqlite3_column_int(st, 1) != 0;
	ix->marks_known = true;
	return index_step(st) == 0 ? 0 : -EIO;
}

static int add_find_marks(struct mail_index *ix, const struct index_doc *d, struct add_marks *k)
{
	sqlite3_stmt *own = ix->stmt[IX_MARK_OF], *del = ix->stmt[IX_MARK_ALL_DELETE],
		     *all = ix->stmt[IX_MARK_ALL_READ];
	int64_t read_pos = -1;
	memset(k, 0, sizeof *k);
	int known = add_marks_known(ix);
	if (known != 0 || (!ix->any_mark && !ix->any_mark_all))
		return known;
	sqlite3_bind_text(own, 1, d->qid, -1, SQLITE_STATIC);
	int rc = add_row(own);
	if (rc == 1) {
		if (sqlite3_column_type(own, 0) != SQLITE_NULL) {
			k->read = sqlite3_column_int(own, 0) != 0;
			read_pos = sqlite3_column_int64(own, 1);
		}
		k->deleted = sqlite3_column_int(own, 2) != 0;
		if (sqlite3_column_type(own, 3) != SQLITE_NULL)
			k->tags_json = strdup((const char *)sqlite3_column_text(own, 3));
	}
	index_step(own);
	sqlite3_bind_int64(del, 1, d->received_us);
	int rd = rc < 0 ? rc : add_row(del);
	k->deleted |= rd == 1;
	index_step(del);
	sqlite3_bind_int64(all, 1, d->received_us);
	int ra = rd < 0 ? rd : add_row(all);
	if (ra == 1 && sqlite3_column_int64(all, 1) > read_pos)
		k->read = sqlite3_column_int(all, 0) == MAIL_MARK_READ;
	index_step(all);
	return ra < 0 ? -EIO : 0;
}

static void add_text(sqlite3_stmt *st, int n, const char *s)
{
	sqlite3_bind_text(st, n, s != NULL ? s : "", -1, SQLITE_STATIC);
}

/* Bind d's columns to the insert (?1..?23). */
static void add_bind(sqlite3_stmt *st, const struct index_doc *d, const struct add_marks *k)
{
	const char *texts[] = { d->message_id, d->subject, d->snippet,	d->from_name,	  d->from_address,
				d->to_json,    d->cc_json, d->bcc_json, d->reply_to_json, d->from_text,
				d->to_text,    d->cc_text, d->bcc_text };
	sqlite3_bind_text(st, 1, d->qid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, d->received_us);
	sqlite3_bind_int64(st, 3, (int64_t)d->size);
	sqlite3_bind_int64(st, 4, d->shard);
	sqlite3_bind_int64(st, 5, (int64_t)d->segno);
	sqlite3_bind_int64(st, 6, (int64_t)d->offset);
	for (int i = 0; i < (int)(sizeof texts / sizeof texts[0]); i++)
		add_text(st, 7 + i, texts[i]);
	sqlite3_bind_int64(st, 20, d->attachments);
	sqlite3_bind_int(st, 21, k->read);
	add_text(st, 22, k->tags_json != NULL ? k->tags_json : "[]");
	sqlite3_bind_int(st, 23, d->phase == 1 ? 0 : 2); /* the phase column: see index_schema.c */
}

/* The six trigram columns of row seq (?1) from texts (?2..?7). */
static void add_bind_addr(sqlite3_stmt *st, int64_t seq, const char *const texts[6])
{
	sqlite3_bind_int64(st, 1, seq);
	for (int i = 0; i < 6; i++)
		add_text(st, 2 + i, texts[i]);
}

/* The free text of row seq (phase 2): message_text and fts_text. */
int index_add_text(struct mail_index *ix, int64_t seq, const struct index_doc *d)
{
	sqlite3_stmt *rows[] = { ix->stmt[IX_INSERT_TEXT], ix->stmt[IX_FTS_TEXT_ADD] };
	for (int i = 0; i < 2; i++) {
		sqlite3_bind_int64(rows[i], 1, seq);
		add_text(rows[i], 2, d->headers_text);
		add_text(rows[i], 3, d->body_text);
		if (index_step(rows[i]) != 0)
			return -EIO;
	}
	return 0;
}

/* What a new row adds besides itself: the counts; for a complete doc its
 * trigrams (moving the trigram frontier) and free text. */
static int add_companions(struct mail_index *ix, int64_t seq, const struct index_doc *d, bool read)
{
	const char *const texts[6] = { d->subject, d->message_id, d->from_text, d->to_text, d->cc_text, d->bcc_text };
	sqlite3_stmt *fts = ix->stmt[IX_FTS_ADDR_ADD];
	ix->add_total++;
	ix->add_unread += !read;
	if (d->phase == 1) /* the trigram step and phase 2 come later */
		return 0;
	add_bind_addr(fts, seq, texts);
	if (index_step(fts) != 0 || index_step(ix->stmt[IX_TRIGRAM_FRONTIER]) != 0)
		return -EIO;
	return index_add_text(ix, seq, d);
}

int index_add(struct mail_index *ix, const struct index_doc *d)
{
	struct add_marks k;
	sqlite3_stmt *ex = ix->stmt[IX_EXISTS];
	sqlite3_bind_text(ex, 1, d->qid, -1, SQLITE_STATIC);
	int there = add_row(ex);
	index_step(ex);
	if (there != 0) /* there already (AUTOINCREMENT would burn a seq on an ignored insert) */
		return there < 0 ? -EIO : 0;
	int err = add_find_marks(ix, d, &k);
	if (err != 0 || k.deleted) {
		free(k.tags_json);
		return err;
	}
	add_bind(ix->stmt[IX_INSERT], d, &k);
	err = index_step(ix->stmt[IX_INSERT]);
	free(k.tags_json);
	if (err != 0 || sqlite3_changes(ix->db) == 0)
		return err; /* there already */
	return add_companions(ix, sqlite3_last_insert_rowid(ix->db), d, k.read) == 0 ? 1 : -EIO;
}

static int add_flush_bump(struct mail_index *ix);

uint32_t index_segment_progress(struct mail_index *ix, uint32_t shard, uint64_t segno)
{
	sqlite3_stmt *st = ix->stmt[IX_SEG_GET];
	if (add_flush_bump(ix) != 0)
		return 0;
	sqlite3_bind_int64(st, 1, shard);
	sqlite3_bind_int64(st, 2, (int64_t)segno);
	uint32_t handed = add_row(st) == 1 ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	index_step(st);
	return handed;
}

int index_segment_set_progress(struct mail_index *ix, uint32_t shard, uint64_t segno, uint32_t handed)
{
	sqlite3_stmt *st = ix->stmt[IX_SEG_PUT];
	sqlite3_bind_int64(st, 1, shard);
	sqlite3_bind_int64(st, 2, (int64_t)segno);
	sqlite3_bind_int64(st, 3, handed);
	return index_step(st);
}

/* Write the kept progress of one segment. */
static int add_flush_bump(struct mail_index *ix)
{
	sqlite3_stmt *st = ix->stmt[IX_SEG_BUMP];
	if (ix->bump_n == 0)
		return 0;
	sqlite3_bind_int64(st, 1, ix->bump_shard);
	sqlite3_bind_int64(st, 2, (int64_t)ix->bump_segno);
	sqlite3_bind_int64(st, 3, (int64_t)ix->bump_n);
	ix->bump_n = 0;
	return index_step(st);
}

int index_add_flush(struct mail_index *ix)
{
	sqlite3_stmt *counts = ix->stmt[IX_COUNTS_ADD];
	if (ix->add_total > 0) {
		sqlite3_bind_int64(counts, 1, ix->add_total);
		sqlite3_bind_int64(counts, 2, ix->add_unread);
		ix->add_total = ix->add_unread = 0;
		if (index_step(counts) != 0)
			return -EIO;
	}
	return add_flush_bump(ix);
}

int index_segment_bump(struct mail_index *ix, uint32_t shard, uint64_t segno)
{
	if (ix->bump_n > 0 && (ix->bump_shard != shard || ix->bump_segno != segno)) {
		int err = add_flush_bump(ix);
		if (err != 0)
			return err;
	}
	ix->bump_shard = shard;
	ix->bump_segno = segno;
	ix->bump_n++;
	return 0;
}

/* Does the shard's NNNNNNNN.seg (or its quarantined .seg.corrupt) exist? */
static bool add_segment_exists(const struct spool_dir *d, uint32_t shard, uint64_t segno)
{
	char name[SPOOL_DIR_NAME_BYTES];
	int k = spool_dir_shard_index(d, shard);
	if (k < 0 || d->shard_fd[k] < 0)
		return false;
	spool_dir_seg_name(name, sizeof name, segno, "seg");
	if (faccessat(d->shard_fd[k], name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return true;
	spool_dir_seg_name(name, sizeof name, segno, "seg.corrupt");
	return faccessat(d->shard_fd[k], name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Drop one segment's messages and progress (*dropped counts the visible
 * messages: hidden ones were deleted already as far as callers know). */
static int add_drop_segment(struct mail_index *ix, int64_t shard, int64_t segno, uint64_t *dropped)
{
	static const char *const sql[] = {
		"DELETE FROM message AS m WHERE m.shard = ?1 AND m.segno = ?2 AND NOT (" INDEX_VISIBLE ")",
		"DELETE FROM message WHERE shard = ?1 AND segno = ?2",
		"DELETE FROM segment WHERE shard = ?1 AND segno = ?2",
	};
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(ix->db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return -EIO;
		sqlite3_bind_int64(st, 1, shard);
		sqlite3_bind_int64(st, 2, segno);
		int err = index_step(st);
		if (i == 1)
			*dropped += (uint64_t)sqlite3_changes(ix->db);
		sqlite3_finalize(st);
		if (err != 0)
			return err;
	}
	return 0;
}

struct add_seg {
	int64_t shard, segno;
};

/* The segments the index has rows of whose files are gone (malloc'd). */
static int add_find_missing(struct mail_index *ix, const struct spool_dir *d, struct add_seg **out, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int err = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT shard, segno FROM segment", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (err == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct add_seg g = { sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1) };
		if (add_segment_exists(d, (uint32_t)g.shard, (uint64_t)g.segno))
			continue;
		if (!grow_array((void **)out, &cap, *n + 1, sizeof **out, 16))
			err = -ENOMEM;
		else
			(*out)[(*n)++] = g;
	}
	sqlite3_finalize(st);
	return err;
}

int index_drop_missing_segments(struct mail_index *ix, uint64_t *dropped)
{
	struct spool_dir d;
	struct add_seg *gone = NULL;
	size_t n = 0;
	*dropped = 0;
	int err = spool_dir_open(&d, ix->spool_path);
	if (err != 0)
		return err;
	err = index_begin(ix);
	if (err == 0)
		err = add_find_missing(ix, &d, &gone, &n);
	for (size_t i = 0; err == 0 && i < n; i++)
		err = add_drop_segment(ix, gone[i].shard, gone[i].segno, dropped);
	if (err == 0)
		err = index_commit(ix);
	if (err != 0)
		index_rollback(ix);
	free(gone);
	spool_dir_close(&d);
	return err;
}
