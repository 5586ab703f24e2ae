/*
 * index/mail_index.c - opening the index and answering from it
 * (mail_index.h): lists, counts, one message, the long poll's query, the
 * raw bytes of a message read from the spool.
 *
 * Owns: the summary row (the columns of struct mail_summary, in one
 * SELECT list) and the order of every list: newest first by received time,
 * then queue ID, which the index message_time serves, so a page costs its
 * rows plus `start` index steps.  Marks are index_marks.c's, the schema
 * index_schema.c's, inserts index_add.c's.
 * Workload: a page or a count per API request.
 */
#define _GNU_SOURCE
#include "mail_index_int.h"
#include "mime_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search_sql.h"
#include "spool_dir.h"
#include "spool_format.h"

#define SUMMARY_COLUMNS                                                                                         \
	"SELECT m.qid, m.received_us, m.size, m.message_id, m.subject, m.snippet, m.from_name, m.from_address," \
	" m.to_json, m.cc_json, m.bcc_json, m.reply_to_json, m.tags_json, m.attachments, m.read, m.shard,"      \
	" m.segno, m.offset, m.seq, m.phase FROM message m"
#define ORDER_NEWEST " ORDER BY m.received_us DESC, m.qid DESC"
#define ORDER_OLDEST " ORDER BY m.received_us ASC, m.qid ASC"
#define QUERY_SQL_BYTES (SEARCH_SQL_WHERE_MAX_BYTES + 512u)

int mail_index_open(struct mail_index **out, const char *spool_path, const char **err)
{
	struct mail_index *ix = calloc(1, sizeof *ix);
	*out = NULL;
	if (ix == NULL || (ix->spool_path = strdup(spool_path)) == NULL) {
		free(ix);
		*err = "out of memory";
		return -ENOMEM;
	}
	ix->marks.fd = ix->marks.dir_fd = -1;
	int e = index_schema_open(ix, err);
	if (e == 0 && (e = mail_marks_open(&ix->marks, spool_path)) != 0)
		*err = "cannot open the marks log SPOOL/marks/marks.log";
	if (e == 0 && (e = index_marks_catch_up(ix)) != 0)
		*err = "cannot apply the marks log to the index";
	if (e != 0) {
		mail_index_close(ix);
		return e;
	}
	*out = ix;
	return 0;
}

void mail_index_close(struct mail_index *ix)
{
	if (ix == NULL)
		return;
	index_schema_close(ix);
	mail_marks_close(&ix->marks);
	free(ix->spool_path);
	free(ix);
}

static const char *summary_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return s != NULL ? s : "";
}

/* The current row as a summary. */
static void summary_read(sqlite3_stmt *st, struct mail_summary *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->qid, sizeof s->qid, "%s", summary_text(st, 0));
	s->received_us = sqlite3_column_int64(st, 1);
	s->size = (uint64_t)sqlite3_column_int64(st, 2);
	s->message_id = summary_text(st, 3);
	s->subject = summary_text(st, 4);
	s->snippet = summary_text(st, 5);
	s->from_name = summary_text(st, 6);
	s->from_address = summary_text(st, 7);
	s->to_json = summary_text(st, 8);
	s->cc_json = summary_text(st, 9);
	s->bcc_json = summary_text(st, 10);
	s->reply_to_json = summary_text(st, 11);
	s->tags_json = summary_text(st, 12);
	s->attachments = (uint32_t)sqlite3_column_int64(st, 13);
	s->read = sqlite3_column_int(st, 14) != 0;
	s->shard = (uint32_t)sqlite3_column_int64(st, 15);
	s->segno = (uint64_t)sqlite3_column_int64(st, 16);
	s->offset = (uint64_t)sqlite3_column_int64(st, 17);
	s->seq = (uint64_t)sqlite3_column_int64(st, 18);
}

/* A row whose body phase 2 has not reached yet lacks its snippet and
 * attachment count: read them from the message itself (GMime, as phase 2
 * will), so no summary depends on how far the indexer got.  A page costs
 * at most its rows' parses, only while the indexer lags. */
static void summary_complete(struct mail_index *ix, struct mail_summary *s, char *snippet, size_t cap)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	struct mime_msg mm;
	if (mail_index_raw(ix, s, &raw, &len) != 0)
		return;
	if (mime_msg_parse(raw, len, &mm) == 0) {
		s->attachments = (uint32_t)mm.attachment_count;
		snprintf(snippet, cap, "%s", mm.snippet);
		s->snippet = snippet;
		mime_msg_free(&mm);
	}
	free(raw);
}

/* Run a summary SELECT; fn per row (complete: rows without their body
 * phase are completed first).  0 (rows: *rows), or -errno. */
static int summary_run(struct mail_index *ix, sqlite3_stmt *st, mail_summary_fn fn, void *arg, uint64_t *rows,
		       bool complete)
{
	int rc;
	char snippet[sizeof((struct mime_msg *)0)->snippet];
	*rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mail_summary s;
		summary_read(st, &s);
		if (complete && sqlite3_column_int(st, 19) < 2)
			summary_complete(ix, &s, snippet, sizeof snippet);
		(*rows)++;
		if (fn(arg, &s) != 0)
			return 0;
	}
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Prepare sql with q's parameters bound from ?first: the caller binds the
 * others. */
static int query_prepare(struct mail_index *ix, const char *sql, const struct search_sql *s, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(ix->db, sql, -1, st, NULL) != SQLITE_OK)
		return -EIO;
	if (search_sql_bind(s, *st) != 0) {
		sqlite3_finalize(*st);
		return -EIO;
	}
	return 0;
}

static int64_t clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* One read snapshot for a query and the plan built for it: the plan's
 * looks at the trigram table (search_trigram.c) and the query must see the
 * same rows, or a row whose trigrams land in between is in neither (it
 * was past trigram_through for the plan, and not for the query).  Returns
 * whether a transaction was begun (not when one is open already). */
static bool snapshot_begin(struct mail_index *ix)
{
	return sqlite3_get_autocommit(ix->db) && sqlite3_exec(ix->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

static void snapshot_end(struct mail_index *ix, bool begun)
{
	if (begun)
		sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL);
}

int mail_index_search(struct mail_index *ix, const struct search_query *q, uint64_t start, uint64_t limit,
		      mail_summary_fn fn, void *arg)
{
	char sql[QUERY_SQL_BYTES];
	struct search_sql s;
	sqlite3_stmt *st;
	uint64_t rows;
	bool snap = snapshot_begin(ix);
	int err = search_sql_build(&ix->plan, q, 3, &s);
	snprintf(sql, sizeof sql, SUMMARY_COLUMNS "%s WHERE %s" ORDER_NEWEST " LIMIT ?1 OFFSET ?2",
		 s.broad && !s.selective ? " INDEXED BY message_time" : "", s.where);
	if (err == 0 && (err = query_prepare(ix, sql, &s, &st)) == 0) {
		sqlite3_bind_int64(st, 1, clamp_i64(limit));
		sqlite3_bind_int64(st, 2, clamp_i64(start));
		err = summary_run(ix, st, fn, arg, &rows, true);
		sqlite3_finalize(st);
	}
	search_sql_free(&s);
	snapshot_end(ix, snap);
	return err;
}

int mail_index_count(struct mail_index *ix, const struct search_query *q, uint64_t *total, uint64_t *unread)
{
	char sql[QUERY_SQL_BYTES];
	struct search_sql s;
	sqlite3_stmt *st;
	bool snap = snapshot_begin(ix);
	int err = search_sql_build(&ix->plan, q, 1, &s);
	if (search_sql_all(q))
		snprintf(sql, sizeof sql, "SELECT total, unread FROM counts");
	else
		snprintf(sql, sizeof sql, "SELECT count(*), coalesce(sum(m.read = 0), 0) FROM message m WHERE %s",
			 s.where);
	*total = *unread = 0;
	if (err == 0 && (err = query_prepare(ix, sql, &s, &st)) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*total = (uint64_t)sqlite3_column_int64(st, 0);
			*unread = (uint64_t)sqlite3_column_int64(st, 1);
		} else {
			err = -EIO;
		}
		sqlite3_finalize(st);
	}
	search_sql_free(&s);
	snapshot_end(ix, snap);
	return err;
}

int mail_index_get(struct mail_index *ix, const char *id, mail_summary_fn fn, void *arg)
{
	bool latest = strcmp(id, "latest") == 0;
	const char *sql = latest ? SUMMARY_COLUMNS " WHERE " INDEX_VISIBLE ORDER_NEWEST " LIMIT 1" :
				   SUMMARY_COLUMNS " WHERE m.qid = ?1 AND " INDEX_VISIBLE;
	sqlite3_stmt *st;
	uint64_t rows;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (!latest)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int err = summary_run(ix, st, fn, arg, &rows, true);
	sqlite3_finalize(st);
	return err != 0 ? err : rows == 0 ? -ENOENT : 0;
}

int mail_index_first_since(struct mail_index *ix, const struct search_query *q, uint64_t after_seq, int64_t since_us,
			   mail_summary_fn fn, void *arg)
{
	char sql[QUERY_SQL_BYTES];
	struct search_sql s;
	sqlite3_stmt *st;
	uint64_t rows = 0;
	bool snap = snapshot_begin(ix);
	int err = search_sql_build(&ix->plan, q, 3, &s);
	snprintf(sql, sizeof sql,
		 SUMMARY_COLUMNS " WHERE m.seq > ?1 AND m.received_us >= ?2 AND %s" ORDER_OLDEST " LIMIT 1", s.where);
	if (err == 0 && (err = query_prepare(ix, sql, &s, &st)) == 0) {
		sqlite3_bind_int64(st, 1, clamp_i64(after_seq));
		sqlite3_bind_int64(st, 2, since_us);
		err = summary_run(ix, st, fn, arg, &rows, true);
		sqlite3_finalize(st);
	}
	search_sql_free(&s);
	snapshot_end(ix, snap);
	return err != 0 ? err : rows == 0 ? -ENOENT : 0;
}

int index_each_since(struct mail_index *ix, uint64_t after_seq, mail_summary_fn fn, void *arg, bool complete)
{
	sqlite3_stmt *st;
	uint64_t rows;
	if (sqlite3_prepare_v2(ix->db, SUMMARY_COLUMNS " WHERE m.seq > ?1 AND " INDEX_VISIBLE " ORDER BY m.seq", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, clamp_i64(after_seq));
	int err = summary_run(ix, st, fn, arg, &rows, complete);
	sqlite3_finalize(st);
	return err;
}

/* One integer from a one-row query, or 0. */
static int64_t query_int(struct mail_index *ix, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

uint64_t mail_index_last_seq(struct mail_index *ix)
{
	/* AUTOINCREMENT keeps the highest seq ever given, deleted rows included */
	return (uint64_t)query_int(ix, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'message'");
}

int mail_index_info(struct mail_index *ix, struct mail_index_info *info)
{
	memset(info, 0, sizeof *info);
	int err = mail_index_count(ix, NULL, &info->messages, &info->unread);
	info->db_bytes =
		(uint64_t)query_int(ix, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
	return err;
}
