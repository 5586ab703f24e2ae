/*
 * index/index_marks.c - read flags, tags and deletions: appended to the
 * marks log first (durable), then mirrored in the index (mail_index.h's
 * mail_index_set_read ... mail_index_tags_json).
 *
 * Owns: turning API calls into marks (a mark per queue ID; "every message"
 * as one mark covering what was received up to now), applying marks in
 * log order to `message` and to the `mark` / `mark_all` tables that
 * index_add consults for messages indexed later (a rebuild), and catching
 * up with the log: `meta.marks_end` is the log offset applied so far, in
 * the same transaction as the marks it covers, so each mark is applied
 * exactly once per database whichever connection reads it first.
 * A deletion hides the row at once (`deleted`, or meta.hidden_until for
 * every message received until the mark: one row written whatever the
 * number of messages) and stays in `mark` / `mark_all`: the message is
 * never indexed again.  The indexer purges hidden rows later
 * (index_purge), in chunks.
 * Workload: one API call at a time; a replay of the whole log after a
 * rebuild (a few microseconds per mark).
 */
#define _GNU_SOURCE
#include "mail_index_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "json_out.h"
#include "search_sql.h"

/* A JSON array of strings (malloc'd), NULL on failure. */
static char *marks_tags_json(const struct mail_mark *m)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (f == NULL)
		return NULL;
	fputc('[', f);
	for (uint32_t i = 0; i < m->tag_count; i++) {
		if (i > 0)
			fputc(',', f);
		json_out_str(f, (const uint8_t *)m->tags[i], m->tag_len[i]);
	}
	fputc(']', f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int marks_bind_qid(sqlite3_stmt *st, const char *qid)
{
	return sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -EIO;
}

/* A mark for one queue ID. */
static int marks_apply_one(struct mail_index *ix, const struct mail_mark *m, uint64_t pos)
{
	sqlite3_stmt **st = ix->stmt;
	bool read = m->type == MAIL_MARK_READ;
	char *json;
	int err;
	switch (m->type) {
	case MAIL_MARK_READ:
	case MAIL_MARK_UNREAD:
		marks_bind_qid(st[IX_MARK_READ], m->qid);
		sqlite3_bind_int(st[IX_MARK_READ], 2, read);
		sqlite3_bind_int64(st[IX_MARK_READ], 3, (int64_t)pos);
		marks_bind_qid(st[IX_MSG_READ], m->qid);
		sqlite3_bind_int(st[IX_MSG_READ], 2, read);
		return index_step(st[IX_MARK_READ]) == 0 ? index_step(st[IX_MSG_READ]) : -EIO;
	case MAIL_MARK_DELETE:
		marks_bind_qid(st[IX_MARK_DELETE], m->qid);
		marks_bind_qid(st[IX_MSG_DELETE], m->qid);
		return index_step(st[IX_MARK_DELETE]) == 0 ? index_step(st[IX_MSG_DELETE]) : -EIO;
	case MAIL_MARK_TAGS:
		if ((json = marks_tags_json(m)) == NULL)
			return -ENOMEM;
		marks_bind_qid(st[IX_MARK_TAGS], m->qid);
		sqlite3_bind_text(st[IX_MARK_TAGS], 2, json, -1, SQLITE_STATIC);
		marks_bind_qid(st[IX_MSG_TAGS], m->qid);
		sqlite3_bind_text(st[IX_MSG_TAGS], 2, json, -1, SQLITE_STATIC);
		err = index_step(st[IX_MARK_TAGS]) == 0 ? index_step(st[IX_MSG_TAGS]) : -EIO;
		free(json);
		return err;
	}
	return 0;
}

/* A mark for every message received at or before m->at_us (TAGS for all
 * is never written: mail_index_set_tags names each message). */
static int marks_apply_all(struct mail_index *ix, const struct mail_mark *m, uint64_t pos)
{
	sqlite3_stmt **st = ix->stmt;
	if (m->type == MAIL_MARK_TAGS)
		return 0;
	sqlite3_bind_int64(st[IX_MARK_ALL], 1, (int64_t)pos);
	sqlite3_bind_int(st[IX_MARK_ALL], 2, (int)m->type);
	sqlite3_bind_int64(st[IX_MARK_ALL], 3, (int64_t)m->at_us);
	if (index_step(st[IX_MARK_ALL]) != 0)
		return -EIO;
	if (m->type == MAIL_MARK_DELETE) { /* hidden at once, purged by the indexer */
		sqlite3_bind_int64(st[IX_MSG_DELETE_ALL], 1, (int64_t)m->at_us);
		return index_step(st[IX_MSG_DELETE_ALL]) == 0 ? index_step(st[IX_RECOUNT]) : -EIO;
	}
	sqlite3_bind_int(st[IX_MSG_READ_ALL], 1, m->type == MAIL_MARK_READ);
	sqlite3_bind_int64(st[IX_MSG_READ_ALL], 2, (int64_t)m->at_us);
	return index_step(st[IX_MSG_READ_ALL]);
}

struct marks_replay {
	struct mail_index *ix;
	uint64_t end;
};

static int marks_apply(void *arg, const struct mail_mark *m, uint64_t pos, size_t len)
{
	struct marks_replay *r = arg;
	int err = m->qid[0] != '\0' ? marks_apply_one(r->ix, m, pos) : marks_apply_all(r->ix, m, pos);
	r->end = pos + len;
	return err;
}

static int64_t marks_end_get(struct mail_index *ix)
{
	sqlite3_stmt *st = ix->stmt[IX_META_GET];
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	return v;
}

/* Replay from meta.marks_end inside the caller's transaction. */
static int marks_replay_locked(struct mail_index *ix)
{
	int64_t end = marks_end_get(ix);
	if (end < 0)
		return -EIO;
	struct marks_replay r = { ix, (uint64_t)end };
	int err = mail_marks_replay(&ix->marks, r.end, marks_apply, &r);
	if (err == -ERANGE) { /* the log was cut or replaced: start over */
		if (index_exec(ix, "DELETE FROM mark; DELETE FROM mark_all") != 0)
			return -EIO;
		r.end = 0;
		err = mail_marks_replay(&ix->marks, 0, marks_apply, &r);
	}
	if (err != 0 || r.end == (uint64_t)end)
		return err;
	sqlite3_bind_int64(ix->stmt[IX_META_SET], 1, (int64_t)r.end);
	return index_step(ix->stmt[IX_META_SET]);
}

int index_marks_catch_up(struct mail_index *ix)
{
	int err = index_begin(ix);
	if (err != 0)
		return err;
	err = marks_replay_locked(ix);
	if (err == 0)
		return index_commit(ix);
	index_rollback(ix);
	return err;
}

/* Append marks, then apply them (and any the log holds before them). */
static int marks_write(struct mail_index *ix, const struct mail_mark *marks, size_t n)
{
	int err = n > 0 ? mail_marks_append(&ix->marks, marks, n) : 0;
	return err == 0 ? index_marks_catch_up(ix) : err;
}

static uint64_t marks_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One mark of `proto` per queue ID (n > 0), or one covering every message
 * received until now (n == 0). */
static int marks_write_each(struct mail_index *ix, const struct mail_mark *proto, const char *const *qids, size_t n)
{
	struct mail_mark *marks = calloc(n ? n : 1, sizeof *marks);
	if (marks == NULL)
		return -ENOMEM;
	int err = 0;
	for (size_t i = 0; i < (n ? n : 1) && err == 0; i++) {
		marks[i] = *proto;
		marks[i].at_us = marks_now_us();
		if (n > 0 && strlen(qids[i]) > MAIL_MARKS_QID_BYTES)
			err = -EINVAL;
		else if (n > 0)
			strcpy(marks[i].qid, qids[i]);
	}
	err = err == 0 ? marks_write(ix, marks, n ? n : 1) : err;
	free(marks);
	return err;
}

int mail_index_set_read(struct mail_index *ix, const char *const *qids, size_t n, bool read)
{
	struct mail_mark proto = { .type = read ? MAIL_MARK_READ : MAIL_MARK_UNREAD };
	return marks_write_each(ix, &proto, qids, n);
}

int mail_index_delete(struct mail_index *ix, const char *const *qids, size_t n)
{
	struct mail_mark proto = { .type = MAIL_MARK_DELETE };
	return marks_write_each(ix, &proto, qids, n);
}

typedef char marks_qid[MAIL_INDEX_QID_BYTES + 1];

/* The queue IDs a query matches (every message for an empty one):
 * *ids malloc'd (free it), *ptrs pointing at each (free it too). */
static int marks_select_qids(struct mail_index *ix, const struct search_query *q, marks_qid **ids, const char ***ptrs,
			     size_t *n)
{
	struct search_sql s;
	sqlite3_stmt *st = NULL;
	char sql[SEARCH_SQL_WHERE_MAX_BYTES + 64];
	size_t cap = 0;
	*ids = NULL;
	*ptrs = NULL;
	*n = 0;
	int err = search_sql_build(&ix->plan, q, 1, &s);
	snprintf(sql, sizeof sql, "SELECT m.qid FROM message m WHERE %s", s.where); /* visible rows only */
	if (err == 0 && (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK || search_sql_bind(&s, st) != 0))
		err = -EIO;
	while (err == 0 && sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			marks_qid *grown = realloc(*ids, cap * sizeof *grown);
			if (grown == NULL) {
				err = -ENOMEM;
				break;
			}
			*ids = grown;
		}
		snprintf((*ids)[(*n)++], sizeof(marks_qid), "%s", (const char *)sqlite3_column_text(st, 0));
	}
	if (err == 0 && (*ptrs = malloc((*n ? *n : 1) * sizeof **ptrs)) == NULL)
		err = -ENOMEM;
	for (size_t i = 0; err == 0 && i < *n; i++)
		(*ptrs)[i] = (*ids)[i];
	sqlite3_finalize(st);
	search_sql_free(&s);
	return err;
}

/* Marks of `proto` for what q matches; nothing if it matches nothing. */
static int marks_write_search(struct mail_index *ix, const struct mail_mark *proto, const struct search_query *q)
{
	if (search_sql_all(q))
		return marks_write_each(ix, proto, NULL, 0);
	marks_qid *ids;
	const char **ptrs;
	size_t n;
	int err = marks_select_qids(ix, q, &ids, &ptrs, &n);
	if (err == 0 && n > 0)
		err = marks_write_each(ix, proto, ptrs, n);
	free(ids);
	free(ptrs);
	return err;
}

int mail_index_set_read_search(struct mail_index *ix, const struct search_query *q, bool read)
{
	struct mail_mark proto = { .type = read ? MAIL_MARK_READ : MAIL_MARK_UNREAD };
	return marks_write_search(ix, &proto, q);
}

int mail_index_delete_search(struct mail_index *ix, const struct search_query *q)
{
	struct mail_mark proto = { .type = MAIL_MARK_DELETE };
	return marks_write_search(ix, &proto, q);
}

/* The TAGS mark prototype: -EINVAL for too many, empty or long tags. */
static int marks_tags_proto(struct mail_mark *proto, const char *const *tags, size_t tag_count)
{
	memset(proto, 0, sizeof *proto);
	proto->type = MAIL_MARK_TAGS;
	if (tag_count > MAIL_INDEX_TAGS_MAX || tag_count > MAIL_MARKS_TAGS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < tag_count; i++) {
		size_t len = strlen(tags[i]);
		if (len == 0 || len > MAIL_MARKS_TAG_MAX_BYTES)
			return -EINVAL;
		proto->tags[i] = tags[i];
		proto->tag_len[i] = (uint8_t)len;
	}
	proto->tag_count = (uint32_t)tag_count;
	return 0;
}

int mail_index_set_tags(struct mail_index *ix, const char *const *qids, size_t n, const char *const *tags,
			size_t tag_count)
{
	struct mail_mark proto;
	int err = marks_tags_proto(&proto, tags, tag_count);
	if (err != 0 || n > 0)
		return err != 0 ? err : marks_write_each(ix, &proto, qids, n);
	marks_qid *ids; /* every message: a mark each (tags are per message) */
	const char **ptrs;
	err = marks_select_qids(ix, NULL, &ids, &ptrs, &n);
	if (err == 0 && n > 0)
		err = marks_write_each(ix, &proto, ptrs, n);
	free(ids);
	free(ptrs);
	return err;
}

int mail_index_tags_json(struct mail_index *ix, char **json)
{
	/* from the marks (few) to their messages: left to itself the planner
	 * walked every message (60 ms at 200,000, each list page pays it) */
	static const char sql[] = "SELECT json_group_array(tag) FROM (SELECT DISTINCT j.value AS tag"
				  " FROM mark CROSS JOIN message m ON m.qid = mark.qid, json_each(mark.tags_json) j"
				  " WHERE mark.tags_json IS NOT NULL AND " INDEX_VISIBLE " ORDER BY tag)";
	sqlite3_stmt *st;
	*json = NULL;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		*json = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return *json != NULL ? 0 : -ENOMEM;
}
