/*
 * index/mail_index.h - the SQLite index of captured mail (with FTS5), beside
 * the spool at SPOOL/index/mail.sqlite.
 *
 * Owns: the schema; adding messages (from the indexer); listing, counting,
 * searching (a parsed core/search_query, compiled to SQL with bound
 * parameters: user text never becomes SQL or FTS5 syntax); read flags,
 * tags and deletions, which are first appended to the spool's marks log
 * (index/mail_marks.h, the source of truth, fdatasync'd) and then mirrored
 * here; reading a message's raw bytes from the spool where the index says
 * it is.  The spool is the only source of truth: the database is never
 * fsync'd (synchronous=OFF, WAL) and is rebuilt from the spool and the
 * marks log whenever it is missing, damaged or of another schema version.
 * Threads: one struct mail_index per thread (one SQLite connection each);
 * the indexer writes messages, the HTTP thread reads and writes marks.
 * Rows come in two phases (indexer.h): a row from the message's head
 * first (listed, counted, got, found by header terms), GMime's snippet,
 * attachment count and free text later; free text and has:attachment
 * only see rows that reached phase 2.
 * Workload: inserts in batches of thousands per transaction at capture
 * speed; a page of a list or a search per API request, answered from
 * indexes (first page of 1M messages < 50 ms, to: < 100 ms, free text <
 * 500 ms).
 */
#ifndef SMTPSINK_MAIL_INDEX_H
#define SMTPSINK_MAIL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "search_query.h"

#define MAIL_INDEX_QID_BYTES 16u
#define MAIL_INDEX_TAGS_MAX 32u

struct mail_index;

/* One message as listed (Mailpit's message summary).  Strings are
 * NUL-terminated UTF-8, valid only during the callback. */
struct mail_summary {
	char qid[MAIL_INDEX_QID_BYTES + 1]; /* the ID */
	int64_t received_us; /* Created */
	uint64_t size; /* the message's bytes */
	const char *message_id;
	const char *subject;
	const char *snippet;
	const char *from_name, *from_address;
	/* JSON arrays in Mailpit's shape, ready to embed: [{"Name":"..","Address":".."}] */
	const char *to_json, *cc_json, *bcc_json, *reply_to_json;
	const char *tags_json; /* ["a","b"] */
	uint32_t attachments; /* a count */
	bool read;
	/* Where its record is (for mail_index_raw). */
	uint32_t shard;
	uint64_t segno, offset;
	uint64_t seq; /* the index's own insertion order: larger is newer-indexed */
};

typedef int (*mail_summary_fn)(void *arg, const struct mail_summary *s); /* 0: go on, else stop */

/* Open (creating or rebuilding when needed) the index of the spool at
 * spool_path.  0 or -errno; *err gets a static text on failure. */
int mail_index_open(struct mail_index **out, const char *spool_path, const char **err);
void mail_index_close(struct mail_index *ix);

/* Messages matching q (NULL or no terms: all), newest first (received
 * time, then queue ID), skipping `start`, at most `limit`.  0 or -errno. */
int mail_index_search(struct mail_index *ix, const struct search_query *q, uint64_t start, uint64_t limit,
		      mail_summary_fn fn, void *arg);
/* How many match q, and how many of those are unread. */
int mail_index_count(struct mail_index *ix, const struct search_query *q, uint64_t *total, uint64_t *unread);
/* One message by queue ID, or "latest": 0, -ENOENT. */
int mail_index_get(struct mail_index *ix, const char *id, mail_summary_fn fn, void *arg);
/* The oldest message matching q that was indexed after seq `after_seq`
 * (0: any) and received at or after since_us: for the long poll.  0 (fn
 * called), -ENOENT (none yet). */
int mail_index_first_since(struct mail_index *ix, const struct search_query *q, uint64_t after_seq, int64_t since_us,
			   mail_summary_fn fn, void *arg);
/* The highest seq indexed so far (0 when empty). */
uint64_t mail_index_last_seq(struct mail_index *ix);

/* Marks, each appended to the marks log first (durable), then applied.
 * n == 0 means every message.  A deletion hides its messages at once
 * (never listed, counted, got or read raw again; "every message" writes
 * one row whatever their number) and the indexer purges the rows later. */
int mail_index_set_read(struct mail_index *ix, const char *const *qids, size_t n, bool read);
int mail_index_set_read_search(struct mail_index *ix, const struct search_query *q, bool read);
int mail_index_delete(struct mail_index *ix, const char *const *qids, size_t n);
int mail_index_delete_search(struct mail_index *ix, const struct search_query *q);
int mail_index_set_tags(struct mail_index *ix, const char *const *qids, size_t n, const char *const *tags,
			size_t tag_count);
/* Every tag in use, as a JSON array ["a","b"] (malloc'd; caller frees). */
int mail_index_tags_json(struct mail_index *ix, char **json);

/* The message's raw bytes (the record body) read from the spool, checksum
 * verified: *body malloc'd (caller frees).  0, -ENOENT (pruned since, or
 * deleted), -EIO (damaged). */
int mail_index_raw(struct mail_index *ix, const struct mail_summary *s, uint8_t **body, size_t *len);
/* The same, and the ID of the SMTP session that sent it (the record's
 * session field, for /api/v1/session/ID) into session_id[cap] ("" when the
 * record has none or it does not fit). */
int mail_index_raw_session(struct mail_index *ix, const struct mail_summary *s, uint8_t **body, size_t *len,
			   char *session_id, size_t cap);

struct mail_index_info {
	uint64_t messages, unread;
	uint64_t db_bytes; /* the database file's size */
};
int mail_index_info(struct mail_index *ix, struct mail_index_info *info);

#endif
