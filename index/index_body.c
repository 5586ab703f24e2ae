/*
 * index/index_body.c - phase 2 of indexing and the purge of hidden rows
 * (mail_index_int.h: index_body_pending ... index_purge).
 *
 * Owns: picking the rows that wait for phase 2 (the partial index
 * message_body_pending, oldest first), completing one with GMime's
 * fields: the row's columns overwritten (GMime reads some fields better
 * than the head reader: encodings in other charsets, odd address syntax),
 * its trigram entries replaced when a trigram column changed (fts_addr is
 * external content: the old values are removed with FTS5's 'delete'
 * command before the new ones go in), its free text added; and the
 * physical deletion of rows that marks hid (INDEX_VISIBLE), through the
 * triggers that keep the FTS5 tables in step.
 * Does not read the spool (the indexer does) nor decide when to run.
 * Workload: slices of INDEXER_BODY_SLICE rows and INDEXER_PURGE_SLICE rows
 * between the indexer's phase-1 batches.
 */
#define _GNU_SOURCE
#include "mail_index_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BODY_ADDR_COLUMNS 6 /* subject, message_id, from_text, to_text, cc_text, bcc_text */

int index_body_pending(struct mail_index *ix, int64_t after_seq, struct index_pending *out, size_t max)
{
	sqlite3_stmt *st = ix->stmt[IX_BODY_PENDING];
	size_t n = 0;
	int rc;
	sqlite3_bind_int64(st, 1, after_seq);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct index_pending *p = &out[n++];
		memset(p, 0, sizeof *p);
		p->seq = sqlite3_column_int64(st, 0);
		snprintf(p->at.qid, sizeof p->at.qid, "%s", (const char *)sqlite3_column_text(st, 1));
		p->received_us = p->at.received_us = sqlite3_column_int64(st, 2);
		p->at.shard = (uint32_t)sqlite3_column_int64(st, 3);
		p->at.segno = (uint64_t)sqlite3_column_int64(st, 4);
		p->at.offset = (uint64_t)sqlite3_column_int64(st, 5);
		p->at.size = (uint64_t)sqlite3_column_int64(st, 6);
		p->at.seq = (uint64_t)p->seq;
	}
	bool failed = n < max && rc != SQLITE_DONE;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return failed ? -EIO : (int)n;
}

/* Replace the trigram entries of row seq when a column changes: 0, -EIO. */
static int body_fts_addr(struct mail_index *ix, int64_t seq, const char *const now[BODY_ADDR_COLUMNS])
{
	sqlite3_stmt *old = ix->stmt[IX_BODY_OLD], *del = ix->stmt[IX_FTS_ADDR_DEL], *add = ix->stmt[IX_FTS_ADDR_ADD];
	bool same = true;
	sqlite3_bind_int64(old, 1, seq);
	if (sqlite3_step(old) != SQLITE_ROW) {
		sqlite3_reset(old);
		return -EIO;
	}
	sqlite3_bind_int64(del, 1, seq);
	for (int i = 0; i < BODY_ADDR_COLUMNS; i++) {
		const char *was = (const char *)sqlite3_column_text(old, i);
		same &= strcmp(was != NULL ? was : "", now[i] != NULL ? now[i] : "") == 0;
		sqlite3_bind_text(del, 2 + i, was != NULL ? was : "", -1, SQLITE_TRANSIENT);
	}
	index_step(old);
	if (same) {
		sqlite3_reset(del);
		sqlite3_clear_bindings(del);
		return 0;
	}
	if (index_step(del) != 0)
		return -EIO;
	sqlite3_bind_int64(add, 1, seq);
	for (int i = 0; i < BODY_ADDR_COLUMNS; i++)
		sqlite3_bind_text(add, 2 + i, now[i] != NULL ? now[i] : "", -1, SQLITE_STATIC);
	return index_step(add);
}

static void body_text(sqlite3_stmt *st, int n, const char *s)
{
	sqlite3_bind_text(st, n, s != NULL ? s : "", -1, SQLITE_STATIC);
}

int index_body_set(struct mail_index *ix, const struct index_pending *p, const struct index_doc *d)
{
	if (d == NULL) {
		sqlite3_bind_int64(ix->stmt[IX_BODY_SKIP], 1, p->seq);
		return index_step(ix->stmt[IX_BODY_SKIP]);
	}
	const char *const addr[BODY_ADDR_COLUMNS] = { d->subject, d->message_id, d->from_text,
						      d->to_text, d->cc_text,	 d->bcc_text };
	int err = body_fts_addr(ix, p->seq, addr);
	if (err != 0)
		return err;
	const char *const cols[] = { d->message_id, d->subject, d->snippet,  d->from_name,     d->from_address,
				     d->to_json,    d->cc_json, d->bcc_json, d->reply_to_json, d->from_text,
				     d->to_text,    d->cc_text, d->bcc_text };
	sqlite3_stmt *st = ix->stmt[IX_BODY_SET];
	sqlite3_bind_int64(st, 1, p->seq);
	for (int i = 0; i < (int)(sizeof cols / sizeof cols[0]); i++)
		body_text(st, 2 + i, cols[i]);
	sqlite3_bind_int64(st, 15, d->attachments);
	err = index_step(st);
	return err == 0 ? index_add_text(ix, p->seq, d) : err;
}

int index_body_drop(struct mail_index *ix, const struct index_pending *p)
{
	sqlite3_bind_int64(ix->stmt[IX_BODY_DROP], 1, p->seq);
	return index_step(ix->stmt[IX_BODY_DROP]);
}

int index_trigram_slice(struct mail_index *ix, unsigned max)
{
	sqlite3_stmt *add = ix->stmt[IX_TRIGRAM_ADD], *done = ix->stmt[IX_TRIGRAM_DONE];
	sqlite3_bind_int64(add, 1, max);
	sqlite3_bind_int64(done, 1, max);
	if (index_step(add) != 0 || index_step(done) != 0)
		return -EIO;
	int n = sqlite3_changes(ix->db);
	return index_step(ix->stmt[IX_TRIGRAM_FRONTIER]) == 0 ? n : -EIO;
}

int64_t index_body_lag(struct mail_index *ix)
{
	sqlite3_stmt *st = ix->stmt[IX_BODY_LAG];
	int64_t lag = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return lag;
}

int64_t index_body_count(struct mail_index *ix, uint64_t *bytes)
{
	sqlite3_stmt *st = ix->stmt[IX_BODY_COUNT];
	bool row = sqlite3_step(st) == SQLITE_ROW;
	int64_t n = row ? sqlite3_column_int64(st, 0) : -EIO;
	*bytes = row ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return n;
}

int index_purge(struct mail_index *ix, unsigned max)
{
	static const enum index_stmt kinds[] = { IX_PURGE_DELETED, IX_PURGE_HIDDEN };
	int64_t done = 0;
	if (index_begin(ix) != 0)
		return -EIO;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && done < (int64_t)max; i++) {
		sqlite3_stmt *st = ix->stmt[kinds[i]];
		sqlite3_bind_int64(st, 1, (int64_t)max - done);
		if (index_step(st) != 0) {
			index_rollback(ix);
			return -EIO;
		}
		done += sqlite3_changes(ix->db);
	}
	if (index_commit(ix) != 0) {
		index_rollback(ix);
		return -EIO;
	}
	return (int)done;
}
