/*
 * index/mail_index_int.h - what the index's own files share (mail_index.c,
 * index_schema.c, index_add.c, index_marks.c, search_sql.c) and what the
 * indexer adds through: not part of the mail_index.h contract.
 *
 * Owns: struct mail_index (one SQLite connection and its prepared
 * statements, the marks log, the spool path) and struct index_doc, one
 * message as the indexer hands it over.
 */
#ifndef SMTPSINK_MAIL_INDEX_INT_H
#define SMTPSINK_MAIL_INDEX_INT_H

#include <sqlite3.h>

#include "mail_index.h"
#include "mail_marks.h"
#include "search_trigram.h"

#define INDEX_DIR "index"
#define INDEX_DB_FILE "mail.sqlite"
#define INDEX_BUSY_TIMEOUT_MS 10000 /* a writer waits this long for the other connection's transaction */

/* The statements every connection prepares once (index_schema.c). */
enum index_stmt {
	IX_EXISTS,
	IX_INSERT,
	IX_INSERT_TEXT,
	IX_MARK_OF,
	IX_MARK_ALL_DELETE,
	IX_MARK_ALL_READ,
	IX_SEG_GET,
	IX_SEG_PUT,
	IX_SEG_BUMP,
	IX_MARK_READ,
	IX_MSG_READ,
	IX_MARK_DELETE,
	IX_MSG_DELETE,
	IX_MARK_TAGS,
	IX_MSG_TAGS,
	IX_MARK_ALL,
	IX_MSG_READ_ALL,
	IX_MSG_DELETE_ALL,
	IX_META_GET,
	IX_META_SET,
	IX_STMT_COUNT
};

struct mail_index {
	sqlite3 *db;
	sqlite3_stmt *stmt[IX_STMT_COUNT];
	struct mail_marks marks;
	char *spool_path;
	struct search_plan plan; /* db and the rare-trigram bound for search_sql */
};

/* One message for index_add (strings NUL-terminated UTF-8; NULL is ""). */
struct index_doc {
	char qid[MAIL_INDEX_QID_BYTES + 1];
	int64_t received_us;
	uint64_t size;
	uint32_t shard;
	uint64_t segno, offset;
	const char *message_id, *subject, *snippet;
	const char *from_name, *from_address;
	const char *to_json, *cc_json, *bcc_json, *reply_to_json; /* Mailpit's address arrays */
	const char *from_text, *to_text, *cc_text, *bcc_text; /* names and addresses, for to: from: ... */
	uint32_t attachments;
	const char *headers_text; /* every decoded header value, for free text */
	const char *body_text; /* decoded text (and HTML stripped to text), for free text */
};

/* index_schema.c: open the database at SPOOL/index/mail.sqlite, deleting
 * and recreating it when it does not open or is of another version. */
int index_schema_open(struct mail_index *ix, const char **err);
void index_schema_close(struct mail_index *ix);

/* index_add.c: add a message unless its queue ID is there or it was
 * deleted by a mark; marks already made for it are applied.  Inside the
 * caller's transaction.  1 added, 0 skipped, -EIO. */
int index_add(struct mail_index *ix, const struct index_doc *d);
/* The indexer's progress in a segment: entries already handed out, or 0. */
uint32_t index_segment_progress(struct mail_index *ix, uint32_t shard, uint64_t segno);
int index_segment_set_progress(struct mail_index *ix, uint32_t shard, uint64_t segno, uint32_t handed);
/* One more entry of the segment handed out (in the caller's transaction). */
int index_segment_bump(struct mail_index *ix, uint32_t shard, uint64_t segno);
/* Drop the rows of segments whose files are gone (retention, prune):
 * 0 or -errno; *dropped counts the messages removed. */
int index_drop_missing_segments(struct mail_index *ix, uint64_t *dropped);

/* Transactions: BEGIN IMMEDIATE (the write lock up front, so a read
 * snapshot never has to be upgraded), COMMIT, ROLLBACK.  0 or -EIO. */
int index_begin(struct mail_index *ix);
int index_commit(struct mail_index *ix);
void index_rollback(struct mail_index *ix);
/* Run one SQL text without results: 0 or -EIO. */
int index_exec(struct mail_index *ix, const char *sql);
/* Step a prepared statement to its end, then reset it and clear its
 * bindings: 0 or -EIO. */
int index_step(sqlite3_stmt *st);

/* mail_index.c: every message indexed after seq after_seq, in seq order
 * (the indexer's on_new).  0 or -EIO. */
int index_each_since(struct mail_index *ix, uint64_t after_seq, mail_summary_fn fn, void *arg);

/* index_marks.c: replay the marks log records not applied yet (at open). */
int index_marks_catch_up(struct mail_index *ix);

#endif
