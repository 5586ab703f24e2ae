/*
 * index/index_raw.c - a message's raw bytes, read from the spool where the
 * index says its record is (mail_index_raw).
 *
 * Owns: reading one record by position: its 48-byte header first (which
 * gives its length), then the whole record, decoded and verified through
 * the spool reader's msg_decode (record checksum, queue ID against the
 * index's).  A message the index no longer holds (deleted by a mark) is
 * not served, even while its record is still in the spool.
 * Workload: one request at a time; two preads per message, no scan of the
 * segment (an open segment of 64 MiB is never read whole for one message).
 */
#define _GNU_SOURCE
#include "mail_index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "spool_dir.h"

static int raw_pread(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* cut short: not the record the index saw */
		got += (size_t)n;
	}
	return 0;
}

/* The segment file holding s (a .seg, or the same number quarantined). */
int index_raw_open_segment(const char *spool, const struct mail_summary *s)
{
	struct spool_dir d;
	char name[SPOOL_DIR_NAME_BYTES];
	int err = spool_dir_open(&d, spool), fd = -ENOENT;
	if (err != 0)
		return err;
	int k = spool_dir_shard_index(&d, s->shard);
	for (int q = 0; k >= 0 && d.shard_fd[k] >= 0 && q < 2 && fd == -ENOENT; q++) {
		spool_dir_seg_name(name, sizeof name, s->segno, q == 0 ? "seg" : "seg.corrupt");
		fd = openat(d.shard_fd[k], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		fd = fd >= 0 ? fd : -errno;
	}
	spool_dir_close(&d);
	return fd;
}

/* Read and verify the record of s from fd into *rec_buf (malloc'd). */
int index_raw_read_record(int fd, const struct mail_summary *s, uint8_t **rec_buf, struct msg *m)
{
	uint8_t head[SPOOL_RECORD_HEADER_BYTES];
	struct spool_record rec;
	int err = raw_pread(fd, head, sizeof head, s->offset);
	if (err != 0)
		return err;
	enum spool_verdict v = spool_record_decode(head, sizeof head, &rec);
	if ((v != SPOOL_SHORT && v != SPOOL_OK) || rec.record_len > SIZE_MAX)
		return -EIO;
	struct spool_index_entry e = { .received_us = (uint64_t)s->received_us,
				       .offset = s->offset,
				       .record_len = rec.record_len,
				       .meta_len = rec.meta_len,
				       .flags = rec.flags };
	memcpy(e.qid, s->qid, strnlen(s->qid, sizeof e.qid));
	if ((*rec_buf = malloc((size_t)rec.record_len)) == NULL)
		return -ENOMEM;
	err = raw_pread(fd, *rec_buf, (size_t)rec.record_len, s->offset);
	if (err == 0 &&
	    (msg_decode(m, *rec_buf, rec.record_len, &e, true) != MSG_OK || (m->rec.flags & SPOOL_FLAG_SESSION) != 0))
		err = -EIO;
	return err;
}

static bool raw_still_indexed(struct mail_index *ix, const char *qid)
{
	sqlite3_stmt *st;
	bool found = false;
	if (sqlite3_prepare_v2(ix->db, "SELECT 1 FROM message m WHERE m.qid = ?1 AND " INDEX_VISIBLE, -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int mail_index_raw(struct mail_index *ix, const struct mail_summary *s, uint8_t **body, size_t *len)
{
	return mail_index_raw_session(ix, s, body, len, NULL, 0);
}

int mail_index_raw_session(struct mail_index *ix, const struct mail_summary *s, uint8_t **body, size_t *len,
			   char *session_id, size_t cap)
{
	struct msg m;
	if (cap > 0)
		session_id[0] = '\0';
	uint8_t *rec_buf = NULL;
	*body = NULL;
	*len = 0;
	if (!raw_still_indexed(ix, s->qid))
		return -ENOENT;
	int fd = index_raw_open_segment(ix->spool_path, s);
	if (fd < 0)
		return fd;
	int err = index_raw_read_record(fd, s, &rec_buf, &m);
	close(fd);
	if (err == 0) {
		if (m.session_id.len < cap) {
			memcpy(session_id, m.session_id.ptr, m.session_id.len);
			session_id[m.session_id.len] = '\0';
		}
		*len = (size_t)m.rec.body_len;
		memmove(rec_buf, m.rec.body, *len);
		*body = rec_buf;
		return 0;
	}
	free(rec_buf);
	return err;
}
