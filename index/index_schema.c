/*
 * index/index_schema.c - the index database's file, schema and version
 * (docs/SPOOL-FORMAT.md, "Index database").
 *
 * Owns: SPOOL/index/mail.sqlite: creating it with the spool's file mode,
 * the connection settings (WAL, synchronous=OFF: the database is never
 * fsync'd, the spool and the marks log are the truth), the schema and its
 * version in PRAGMA user_version, and throwing the file away (with its
 * -wal and -shm) when it does not open, is not a database, or is of another
 * version: the indexer then rebuilds it from the spool and the marks log.
 *
 * Schema: `message` holds a row per message (the summary fields, where its
 * record is, the text of its address headers for to:/from:/cc:/bcc:, the
 * phase it reached: 0 its row from the head, 1 its trigrams too (phase 1
 * done), 2 GMime's fields and free text (phase 2 done); `deleted` when a
 * mark deleted it); `message_text` the decoded header values and body text for
 * free text (phase 2); two FTS5 tables index them as external content:
 * `fts_addr` (trigram, detail=none: which rows hold a trigram of the
 * subject, Message-ID or address texts; search_trigram.c picks rare ones,
 * instr() checks the column) and `fts_text` (unicode61 words of headers
 * and body, with positions for phrases).  Inserts into both are made by
 * the indexer with its own prepared statements (index_add.c,
 * index_body.c: one statement each instead of a trigger program per row);
 * deletions go through triggers, which know the old values (and only
 * remove trigrams a row has: phase >= 1).  meta.trigram_through: every
 * row up to that seq has its trigrams; a substring search checks the rows
 * after it directly (search_sql.c).
 * Deleting is two steps: a mark hides rows at once (`deleted` = 1, or
 * meta.hidden_until for "everything received until then", so hiding a
 * million rows is one UPDATE of one row), INDEX_VISIBLE keeps them out of
 * every answer, and the indexer purges them in bounded chunks.
 * `counts` keeps the total and unread counts of the visible rows up to
 * date (triggers, and index_add), so an unfiltered count is one row.  `mark` and `mark_all` mirror the marks log
 * (index_marks.c), `segment` the indexer's progress per segment, `meta`
 * the marks log offset applied so far.
 * Space: auto_vacuum=INCREMENTAL (set before the schema is made: version
 * 3), and the indexer gives the pages of dropped and purged rows back to
 * the file system (index_schema_vacuum), so the file follows what
 * --spool-max-bytes counts (index_disk_usage) instead of keeping its
 * largest size.
 * Workload: once per connection at start; a rebuild is a fresh file.
 */
#define _GNU_SOURCE
#include "mail_index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool_fs.h"

#define INDEX_SCHEMA_VERSION 3 /* 3: auto_vacuum=INCREMENTAL (index_schema_vacuum) */
#define INDEX_PATH_MAX 4096u
#define INDEX_CACHE_KIB 32768 /* page cache per connection */
#define INDEX_MMAP_BYTES (256ll << 20)
/* After a checkpoint the WAL is cut back to this (SQLite otherwise keeps
 * it at the largest size it ever reached): the index's share of the disk
 * (io/index_share.h) does not keep one big transaction's WAL for ever. */
#define INDEX_WAL_KEEP_BYTES (4ll << 20)

#define SCHEMA_HIDDEN "(SELECT value FROM meta WHERE key = 'hidden_until')"

static const char schema_sql[] =
	"CREATE TABLE message(seq INTEGER PRIMARY KEY AUTOINCREMENT, qid TEXT NOT NULL UNIQUE,"
	" received_us INTEGER NOT NULL, size INTEGER NOT NULL, shard INTEGER NOT NULL, segno INTEGER NOT NULL,"
	" offset INTEGER NOT NULL, message_id TEXT NOT NULL, subject TEXT NOT NULL, snippet TEXT NOT NULL,"
	" from_name TEXT NOT NULL, from_address TEXT NOT NULL, to_json TEXT NOT NULL, cc_json TEXT NOT NULL,"
	" bcc_json TEXT NOT NULL, reply_to_json TEXT NOT NULL, from_text TEXT NOT NULL, to_text TEXT NOT NULL,"
	" cc_text TEXT NOT NULL, bcc_text TEXT NOT NULL, attachments INTEGER NOT NULL,"
	" read INTEGER NOT NULL DEFAULT 0, tags_json TEXT NOT NULL DEFAULT '[]', phase INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX message_time ON message(received_us DESC, qid DESC);"
	"CREATE INDEX message_segment ON message(shard, segno);"
	/* named by INDEXED BY: the rowid order would scan every row done */
	"CREATE INDEX message_trigram_pending ON message(seq) WHERE phase = 0;"
	"CREATE INDEX message_body_pending ON message(seq) WHERE phase = 1;"
	"CREATE INDEX message_deleted ON message(seq) WHERE deleted = 1;"
	"CREATE TABLE message_text(seq INTEGER PRIMARY KEY, headers TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE VIRTUAL TABLE fts_addr USING fts5(subject, message_id, from_text, to_text, cc_text, bcc_text,"
	" content='message', content_rowid='seq', tokenize='trigram', detail='none');"
	"CREATE VIRTUAL TABLE fts_text USING fts5(headers, body, content='message_text', content_rowid='seq',"
	" tokenize='unicode61 remove_diacritics 2');"
	"CREATE TABLE counts(id INTEGER PRIMARY KEY CHECK (id = 1), total INTEGER NOT NULL,"
	" unread INTEGER NOT NULL);"
	"INSERT INTO counts VALUES(1, 0, 0);"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta VALUES('marks_end', 0);"
	"INSERT INTO meta VALUES('hidden_until', 0);"
	"INSERT INTO meta VALUES('trigram_through', 0);"
	"CREATE TRIGGER message_ad_trigram AFTER DELETE ON message WHEN old.phase >= 1 BEGIN"
	" INSERT INTO fts_addr(fts_addr, rowid, subject, message_id, from_text, to_text, cc_text, bcc_text)"
	" VALUES('delete', old.seq, old.subject, old.message_id, old.from_text, old.to_text, old.cc_text,"
	" old.bcc_text); END;"
	"CREATE TRIGGER message_ad AFTER DELETE ON message BEGIN"
	" DELETE FROM message_text WHERE seq = old.seq;"
	" UPDATE counts SET total = total - 1, unread = unread - (old.read = 0)"
	" WHERE old.deleted = 0 AND old.received_us > " SCHEMA_HIDDEN "; END;"
	"CREATE TRIGGER message_au AFTER UPDATE OF read ON message WHEN old.read != new.read AND old.deleted = 0"
	" AND old.received_us > " SCHEMA_HIDDEN " BEGIN"
	" UPDATE counts SET unread = unread + (new.read = 0) - (old.read = 0); END;"
	"CREATE TRIGGER message_hide AFTER UPDATE OF deleted ON message WHEN old.deleted = 0 AND new.deleted = 1"
	" AND old.received_us > " SCHEMA_HIDDEN " BEGIN"
	" UPDATE counts SET total = total - 1, unread = unread - (old.read = 0); END;"
	"CREATE TRIGGER text_ad AFTER DELETE ON message_text BEGIN"
	" INSERT INTO fts_text(fts_text, rowid, headers, body) VALUES('delete', old.seq, old.headers, old.body);"
	" END;"
	"CREATE TABLE mark(qid TEXT PRIMARY KEY, read INTEGER, read_pos INTEGER, deleted INTEGER NOT NULL DEFAULT 0,"
	" tags_json TEXT) WITHOUT ROWID;"
	"CREATE TABLE mark_all(pos INTEGER PRIMARY KEY, type INTEGER NOT NULL, at_us INTEGER NOT NULL);"
	"CREATE TABLE segment(shard INTEGER NOT NULL, segno INTEGER NOT NULL, handed INTEGER NOT NULL,"
	" PRIMARY KEY(shard, segno)) WITHOUT ROWID;";

static const char *const stmt_sql[IX_STMT_COUNT] = {
	[IX_EXISTS] = "SELECT 1 FROM message WHERE qid = ?1",
	[IX_INSERT] = "INSERT OR IGNORE INTO message(qid, received_us, size, shard, segno, offset, message_id,"
		      " subject, snippet, from_name, from_address, to_json, cc_json, bcc_json, reply_to_json,"
		      " from_text, to_text, cc_text, bcc_text, attachments, read, tags_json, phase)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
		      " ?20, ?21, ?22, ?23)",
	[IX_INSERT_TEXT] = "INSERT INTO message_text(seq, headers, body) VALUES(?1, ?2, ?3)",
	[IX_MARK_OF] = "SELECT read, read_pos, deleted, tags_json FROM mark WHERE qid = ?1",
	[IX_MARK_ALL_DELETE] = "SELECT 1 FROM mark_all WHERE type = 3 AND at_us >= ?1 LIMIT 1",
	[IX_MARK_ALL_READ] = "SELECT type, pos FROM mark_all WHERE type IN (1, 2) AND at_us >= ?1"
			     " ORDER BY pos DESC LIMIT 1",
	[IX_SEG_GET] = "SELECT handed FROM segment WHERE shard = ?1 AND segno = ?2",
	[IX_SEG_PUT] = "INSERT INTO segment(shard, segno, handed) VALUES(?1, ?2, ?3)"
		       " ON CONFLICT(shard, segno) DO UPDATE SET handed = excluded.handed",
	[IX_SEG_BUMP] = "INSERT INTO segment(shard, segno, handed) VALUES(?1, ?2, ?3)"
			" ON CONFLICT(shard, segno) DO UPDATE SET handed = handed + excluded.handed",
	[IX_MARK_READ] = "INSERT INTO mark(qid, read, read_pos) VALUES(?1, ?2, ?3)"
			 " ON CONFLICT(qid) DO UPDATE SET read = excluded.read, read_pos = excluded.read_pos",
	[IX_MSG_READ] = "UPDATE message SET read = ?2 WHERE qid = ?1",
	[IX_MARK_DELETE] = "INSERT INTO mark(qid, deleted) VALUES(?1, 1) ON CONFLICT(qid) DO UPDATE SET deleted = 1",
	[IX_MSG_DELETE] = "UPDATE message SET deleted = 1 WHERE qid = ?1 AND deleted = 0",
	[IX_MARK_TAGS] = "INSERT INTO mark(qid, tags_json) VALUES(?1, ?2)"
			 " ON CONFLICT(qid) DO UPDATE SET tags_json = excluded.tags_json",
	[IX_MSG_TAGS] = "UPDATE message SET tags_json = ?2 WHERE qid = ?1",
	[IX_MARK_ALL] = "INSERT OR REPLACE INTO mark_all(pos, type, at_us) VALUES(?1, ?2, ?3)",
	[IX_MSG_READ_ALL] = "UPDATE message SET read = ?1 WHERE received_us <= ?2 AND read != ?1",
	[IX_MSG_DELETE_ALL] = "UPDATE meta SET value = max(value, ?1) WHERE key = 'hidden_until'",
	[IX_META_GET] = "SELECT value FROM meta WHERE key = 'marks_end'",
	[IX_META_SET] = "UPDATE meta SET value = ?1 WHERE key = 'marks_end'",
	[IX_MARKS_ANY] = "SELECT EXISTS(SELECT 1 FROM mark), EXISTS(SELECT 1 FROM mark_all)",
	[IX_FTS_ADDR_ADD] = "INSERT INTO fts_addr(rowid, subject, message_id, from_text, to_text, cc_text, bcc_text)"
			    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[IX_FTS_ADDR_DEL] = "INSERT INTO fts_addr(fts_addr, rowid, subject, message_id, from_text, to_text, cc_text,"
			    " bcc_text) VALUES('delete', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[IX_FTS_TEXT_ADD] = "INSERT INTO fts_text(rowid, headers, body) VALUES(?1, ?2, ?3)",
	[IX_COUNTS_ADD] = "UPDATE counts SET total = total + ?1, unread = unread + ?2",
	[IX_BODY_PENDING] = "SELECT m.seq, m.qid, m.received_us, m.shard, m.segno, m.offset, m.size FROM message m"
			    " INDEXED BY message_body_pending WHERE m.phase = 1 AND m.seq > ?1 AND " INDEX_VISIBLE
			    " ORDER BY m.seq LIMIT ?2",
	[IX_TRIGRAM_ADD] = "INSERT INTO fts_addr(rowid, subject, message_id, from_text, to_text, cc_text, bcc_text)"
			   " SELECT seq, subject, message_id, from_text, to_text, cc_text, bcc_text FROM message"
			   " INDEXED BY message_trigram_pending WHERE phase = 0 ORDER BY seq LIMIT ?1",
	[IX_TRIGRAM_DONE] =
		"UPDATE message SET phase = 1 WHERE seq IN"
		" (SELECT seq FROM message INDEXED BY message_trigram_pending WHERE phase = 0 ORDER BY seq LIMIT ?1)",
	[IX_TRIGRAM_FRONTIER] =
		"UPDATE meta SET value = coalesce((SELECT min(seq) - 1 FROM message INDEXED BY message_trigram_pending"
		" WHERE phase = 0),"
		" (SELECT seq FROM sqlite_sequence WHERE name = 'message'), 0) WHERE key = 'trigram_through'",
	[IX_BODY_SET] = "UPDATE message SET phase = 2, message_id = ?2, subject = ?3, snippet = ?4, from_name = ?5,"
			" from_address = ?6, to_json = ?7, cc_json = ?8, bcc_json = ?9, reply_to_json = ?10,"
			" from_text = ?11, to_text = ?12, cc_text = ?13, bcc_text = ?14, attachments = ?15"
			" WHERE seq = ?1",
	[IX_BODY_LAG] = "SELECT (SELECT max(received_us) FROM message) - min("
			"coalesce((SELECT received_us FROM message INDEXED BY message_trigram_pending WHERE phase = 0"
			" ORDER BY seq LIMIT 1), 9223372036854775807),"
			" coalesce((SELECT received_us FROM message INDEXED BY message_body_pending WHERE phase = 1"
			" ORDER BY seq LIMIT 1), 9223372036854775807))",
	[IX_BODY_OLD] = "SELECT subject, message_id, from_text, to_text, cc_text, bcc_text FROM message WHERE seq = ?1",
	[IX_BODY_SKIP] = "UPDATE message SET phase = 2 WHERE seq = ?1",
	[IX_BODY_DROP] = "DELETE FROM message WHERE seq = ?1",
	[IX_PURGE_DELETED] = "DELETE FROM message WHERE seq IN (SELECT seq FROM message WHERE deleted = 1 LIMIT ?1)",
	[IX_PURGE_HIDDEN] = "DELETE FROM message WHERE seq IN (SELECT seq FROM message"
			    " WHERE received_us <= " SCHEMA_HIDDEN " ORDER BY received_us LIMIT ?1)",
	[IX_BODY_COUNT] =
		"SELECT sum(n), sum(b) FROM (SELECT count(*) AS n, coalesce(sum(m.size), 0) AS b FROM message m"
		" INDEXED BY message_trigram_pending WHERE m.phase = 0 AND " INDEX_VISIBLE
		" UNION ALL SELECT count(*), coalesce(sum(m.size), 0) FROM message m"
		" INDEXED BY message_body_pending WHERE m.phase = 1 AND " INDEX_VISIBLE ")",
	[IX_RECOUNT] = "UPDATE counts SET total = (SELECT count(*) FROM message m WHERE " INDEX_VISIBLE "),"
		       " unread = (SELECT count(*) FROM message m WHERE m.read = 0 AND " INDEX_VISIBLE ")",
};

int index_exec(struct mail_index *ix, const char *sql)
{
	return sqlite3_exec(ix->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int index_step(sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static void schema_forget_kept(struct mail_index *ix)
{
	ix->marks_known = false;
	ix->add_total = ix->add_unread = 0;
	ix->bump_n = 0;
}

int index_begin(struct mail_index *ix)
{
	schema_forget_kept(ix);
	return index_exec(ix, "BEGIN IMMEDIATE");
}

int index_commit(struct mail_index *ix)
{
	int err = index_add_flush(ix);
	schema_forget_kept(ix);
	return err == 0 ? index_exec(ix, "COMMIT") : err;
}

void index_rollback(struct mail_index *ix)
{
	schema_forget_kept(ix);
	if (!sqlite3_get_autocommit(ix->db))
		index_exec(ix, "ROLLBACK");
}

static int schema_version(struct mail_index *ix)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Create the schema in an empty database (another connection may be
 * doing the same: the exclusive transaction makes one of them win). */
static int schema_create(struct mail_index *ix)
{
	char sql[64];
	if (index_exec(ix, "BEGIN EXCLUSIVE") != 0)
		return -EIO;
	int v = schema_version(ix), err = 0;
	if (v == 0) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", INDEX_SCHEMA_VERSION);
		err = index_exec(ix, schema_sql) == 0 && index_exec(ix, sql) == 0 ? 0 : -EIO;
	} else if (v != INDEX_SCHEMA_VERSION) {
		err = -EPROTO;
	}
	if (err == 0)
		return index_commit(ix);
	index_rollback(ix);
	return err;
}

/* SQLite's own busy timeout sleeps up to 100 ms between tries and would
 * miss the short gaps the indexer leaves between its transactions: poll
 * every INDEX_BUSY_POLL_US instead, INDEX_BUSY_TIMEOUT_MS in all. */
static int schema_busy(void *arg, int tries)
{
	struct timespec ts = { 0, INDEX_BUSY_POLL_US * 1000L };
	if ((int64_t)tries * INDEX_BUSY_POLL_US >= (int64_t)INDEX_BUSY_TIMEOUT_MS * 1000)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/* Settings of every connection, then the schema: 0, -EPROTO (another
 * version), -EIO (not a database, damaged). */
static int schema_connect(struct mail_index *ix, const char *db_path)
{
	char sql[224];
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(db_path, &ix->db, flags, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_handler(ix->db, schema_busy, NULL);
	snprintf(sql, sizeof sql,
		 "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
		 " PRAGMA temp_store=MEMORY;"
		 " PRAGMA cache_size=-%d; PRAGMA mmap_size=%lld; PRAGMA journal_size_limit=%lld",
		 INDEX_CACHE_KIB, INDEX_MMAP_BYTES, INDEX_WAL_KEEP_BYTES);
	if (index_exec(ix, sql) != 0)
		return -EIO;
	int v = schema_version(ix);
	if (v < 0)
		return -EIO;
	if (v == 0 || v != INDEX_SCHEMA_VERSION) {
		int err = schema_create(ix);
		if (err != 0)
			return err;
	}
	ix->plan = (struct search_plan){ ix->db, SEARCH_TRIGRAM_RARE_ROWS };
	for (int i = 0; i < IX_STMT_COUNT; i++)
		if (sqlite3_prepare_v3(ix->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ix->stmt[i], NULL) !=
		    SQLITE_OK)
			return -EIO;
	return 0;
}

static void schema_disconnect(struct mail_index *ix)
{
	for (int i = 0; i < IX_STMT_COUNT; i++) {
		sqlite3_finalize(ix->stmt[i]);
		ix->stmt[i] = NULL;
	}
	sqlite3_close_v2(ix->db);
	ix->db = NULL;
}

/* The database file and its companions, gone. */
static void schema_unlink(int dir_fd)
{
	static const char *const names[] = { INDEX_DB_FILE, INDEX_DB_FILE "-wal", INDEX_DB_FILE "-shm" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlinkat(dir_fd, names[i], 0);
}

/* SPOOL/index, made with the spool's modes: its descriptor in *dir_fd,
 * the spool's file mode in *mode. */
static int schema_prepare_dir(const char *spool, int *dir_fd, uint32_t *mode)
{
	int spool_fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spool_fd < 0)
		return -errno;
	*mode = mail_marks_file_mode(spool_fd);
	int err = spool_fs_mkdir(spool_fd, INDEX_DIR, *mode);
	if (err == 0) {
		*dir_fd = openat(spool_fd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = *dir_fd < 0 ? -errno : 0;
	}
	close(spool_fd);
	return err;
}

/* The database file with the spool's file mode when missing (SQLite would
 * use the umask), as an empty file: SQLite takes it for an empty database. */
static int schema_make_file(int dir_fd, uint32_t mode)
{
	int fd = spool_fs_create(dir_fd, INDEX_DB_FILE, mode, O_RDWR);
	if (fd >= 0)
		close(fd);
	return fd >= 0 || fd == -EEXIST ? 0 : fd;
}

int index_schema_open(struct mail_index *ix, const char **err)
{
	char db_path[INDEX_PATH_MAX];
	int dir_fd = -1;
	uint32_t mode = SPOOL_FS_FILE_MODE_DEFAULT;
	int e = schema_prepare_dir(ix->spool_path, &dir_fd, &mode);
	e = e == 0 ? schema_make_file(dir_fd, mode) : e;
	if (e != 0) {
		if (dir_fd >= 0)
			close(dir_fd);
		*err = "cannot create the index directory SPOOL/index";
		return e;
	}
	snprintf(db_path, sizeof db_path, "%s/%s/%s", ix->spool_path, INDEX_DIR, INDEX_DB_FILE);
	e = schema_connect(ix, db_path);
	if (e != 0) { /* damaged or of another version: rebuilt from the spool */
		schema_disconnect(ix);
		schema_unlink(dir_fd);
		e = schema_make_file(dir_fd, mode);
		e = e == 0 ? schema_connect(ix, db_path) : e;
	}
	close(dir_fd);
	if (e != 0) {
		schema_disconnect(ix);
		*err = "cannot open or create the index database";
	}
	return e;
}

/* Bytes SPOOL/index/mail.sqlite<suffix> takes on the disk (0 when it is
 * not there). */
static uint64_t schema_file_bytes(const struct mail_index *ix, const char *suffix)
{
	char path[INDEX_PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s/%s%s", ix->spool_path, INDEX_DIR, INDEX_DB_FILE, suffix);
	return lstat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
}

int index_schema_vacuum(struct mail_index *ix)
{
	return index_exec(ix, "PRAGMA incremental_vacuum");
}

int index_disk_usage(struct mail_index *ix, uint64_t *bytes)
{
	static const char *const sql = "SELECT (p.page_count - f.freelist_count) * s.page_size"
				       " FROM pragma_page_count p, pragma_freelist_count f, pragma_page_size s";
	sqlite3_stmt *st;
	int err = -EIO;
	*bytes = 0;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
		err = 0;
	}
	sqlite3_finalize(st);
	*bytes += schema_file_bytes(ix, "-wal") + schema_file_bytes(ix, "-shm");
	struct stat mst;
	if (ix->marks.fd >= 0 && fstat(ix->marks.fd, &mst) == 0)
		*bytes += (uint64_t)mst.st_blocks * 512u;
	return err;
}

void index_schema_close(struct mail_index *ix)
{
	if (ix->db != NULL)
		schema_disconnect(ix);
}
