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
#include "msg.h"
#include "search_trigram.h"

#define INDEX_DIR "index"
#define INDEX_DB_FILE "mail.sqlite"
#define INDEX_BUSY_TIMEOUT_MS 10000 /* a writer waits this long for the other connection's transaction */
#define INDEX_BUSY_POLL_US 100 /* ... trying again this often (the indexer leaves short gaps) */

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
	IX_MARKS_ANY,
	IX_FTS_ADDR_ADD,
	IX_FTS_ADDR_DEL,
	IX_FTS_TEXT_ADD,
	IX_COUNTS_ADD,
	IX_BODY_PENDING,
	IX_BODY_SET,
	IX_BODY_SKIP,
	IX_BODY_DROP,
	IX_PURGE_DELETED,
	IX_PURGE_HIDDEN,
	IX_BODY_LAG,
	IX_BODY_OLD,
	IX_TRIGRAM_ADD,
	IX_TRIGRAM_DONE,
	IX_TRIGRAM_FRONTIER,
	IX_BODY_COUNT,
	IX_RECOUNT,
	IX_STMT_COUNT
};

struct mail_index {
	sqlite3 *db;
	sqlite3_stmt *stmt[IX_STMT_COUNT];
	struct mail_marks marks;
	char *spool_path;
	struct search_plan plan; /* db and the rare-trigram bound for search_sql */
	/* What index_add and index_segment_bump keep for the transaction
	 * (reset by index_begin, written by index_commit): one statement per
	 * batch instead of one per row. */
	bool marks_known, any_mark, any_mark_all; /* are the mark tables empty (they change in no batch) */
	int64_t add_total, add_unread; /* counts of the rows added */
	uint32_t bump_shard; /* entries handed out in one segment, not written yet */
	uint64_t bump_segno, bump_n;
};

/* A row is served only while this holds: neither deleted by a mark of its
 * own nor received at or before the last "delete everything" mark
 * (meta.hidden_until).  Such rows are purged later by the indexer. */
#define INDEX_VISIBLE "m.deleted = 0 AND +m.received_us > (SELECT value FROM meta WHERE key = 'hidden_until')"

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
	int phase; /* 1: from the head (no snippet, attachments, free text, trigrams); else (2, or 0): complete */
};

/* A row waiting for its phase 2: what it holds now and where its record is. */
struct index_pending {
	int64_t seq, received_us;
	struct mail_summary at; /* qid, shard, segno, offset, received_us, size */
};

/* index_schema.c: open the database at SPOOL/index/mail.sqlite, deleting
 * and recreating it when it does not open or is of another version. */
int index_schema_open(struct mail_index *ix, const char **err);
void index_schema_close(struct mail_index *ix);

/* index_add.c: add a message unless its queue ID is there or it was
 * deleted by a mark; marks already made for it are applied.  A phase-1
 * doc gets its row and trigram entries; a phase-2 doc its free text too.
 * Inside the caller's transaction.  1 added, 0 skipped, -EIO. */
int index_add(struct mail_index *ix, const struct index_doc *d);
/* The free text of row seq from d (message_text and fts_text). */
int index_add_text(struct mail_index *ix, int64_t seq, const struct index_doc *d);

/* index_body.c: phase 2.  Up to max rows waiting for it (oldest first,
 * seq > after_seq, visible ones only) into out: their count, or -EIO. */
int index_body_pending(struct mail_index *ix, int64_t after_seq, struct index_pending *out, size_t max);
/* Complete row p with d (GMime's fields, free text), or with d NULL mark
 * it done as it is (its segment is gone: the sweep drops it).  In the
 * caller's transaction: 0 or -EIO. */
int index_body_set(struct mail_index *ix, const struct index_pending *p, const struct index_doc *d);
/* Remove row p: its record turned out damaged (phase 1 does not check the
 * body's checksum; phase 2 does, and a damaged record is not indexed). */
int index_body_drop(struct mail_index *ix, const struct index_pending *p);
/* The trigram step of phase 1 for up to max rows that have none yet
 * (oldest first), in the caller's transaction: the rows done, or -EIO. */
int index_trigram_slice(struct mail_index *ix, unsigned max);
/* The received time of the newest row minus that of the oldest row
 * waiting for phase 2 (negative or meaningless when none waits). */
int64_t index_body_lag(struct mail_index *ix);
/* Rows still waiting for phase 2 (visible ones): a count, or -EIO; their
 * messages' bytes in *bytes. */
int64_t index_body_count(struct mail_index *ix, uint64_t *bytes);
/* Physically delete up to max rows hidden by marks, in its own
 * transaction: the number deleted (0: none left), or -EIO. */
int index_purge(struct mail_index *ix, unsigned max);
/* The indexer's progress in a segment: entries already handed out, or 0. */
uint32_t index_segment_progress(struct mail_index *ix, uint32_t shard, uint64_t segno);
int index_segment_set_progress(struct mail_index *ix, uint32_t shard, uint64_t segno, uint32_t handed);
/* One more entry of the segment handed out (in the caller's transaction;
 * written by index_commit or when another segment is bumped). */
int index_segment_bump(struct mail_index *ix, uint32_t shard, uint64_t segno);
/* Write the kept counts and progress now (index_commit does). */
int index_add_flush(struct mail_index *ix);
/* Drop the rows of segments whose files are gone (retention, prune):
 * 0 or -errno; *dropped counts the messages removed. */
int index_drop_missing_segments(struct mail_index *ix, uint64_t *dropped);

/* index_schema.c: what the index takes on the spool's disk: the
 * database's pages in use (its free pages are reused before it grows),
 * its WAL and shared-memory files, the marks log.  0 or -EIO. */
int index_disk_usage(struct mail_index *ix, uint64_t *bytes);
/* Give the database's free pages back to the file system (the file
 * shrinks; auto_vacuum=INCREMENTAL): 0 or -EIO. */
int index_schema_vacuum(struct mail_index *ix);

/* Transactions: BEGIN IMMEDIATE (the write lock up front, so a read
 * snapshot never has to be upgraded), COMMIT (after writing what
 * index_add and index_segment_bump kept), ROLLBACK.  0 or -EIO. */
int index_begin(struct mail_index *ix);
int index_commit(struct mail_index *ix);
void index_rollback(struct mail_index *ix);
/* Run one SQL text without results: 0 or -EIO. */
int index_exec(struct mail_index *ix, const char *sql);
/* Step a prepared statement to its end, then reset it and clear its
 * bindings: 0 or -EIO. */
int index_step(sqlite3_stmt *st);

/* index_raw.c: the segment file of s, opened read-only (a .seg, or the
 * same number quarantined): a descriptor or -errno. */
int index_raw_open_segment(const char *spool, const struct mail_summary *s);
/* Read and verify s's record from fd into *rec_buf (malloc'd; free it
 * whatever the result), decoded into m: 0, -EIO, -ENOMEM. */
int index_raw_read_record(int fd, const struct mail_summary *s, uint8_t **rec_buf, struct msg *m);

/* mail_index.c: every message indexed after seq after_seq, in seq order
 * (the indexer's on_new); complete: rows phase 2 has not reached get
 * their snippet and attachment count from the message (GMime), as a list
 * shows them.  0 or -EIO. */
int index_each_since(struct mail_index *ix, uint64_t after_seq, mail_summary_fn fn, void *arg, bool complete);

/* index_marks.c: replay the marks log records not applied yet (at open). */
int index_marks_catch_up(struct mail_index *ix);

#endif
