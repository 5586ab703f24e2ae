/*
 * tools/spool/spool_find.c - lookup by queue ID (spool_find.h).
 *
 * Owns: the two-pass segment order and the messages for IDs that are not
 * there or whose record is damaged.  Workload: one index binary search
 * per sealed segment of one shard (~20 comparisons each).
 */
#include "spool_find.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue_id.h"
#include "report.h"

/* Search one segment; FOUND keeps *r open. */
static int search(int fd, uint32_t shard, const struct spool_seg *seg, const char *qid, uint64_t qid_us,
		  bool first_pass, struct seg_reader *r, struct spool_index_entry *e)
{
	int err = seg_reader_open(r, fd, shard, seg->segno, seg->quarantined);
	if (err == -ENOENT)
		return SPOOL_FIND_NOT_FOUND;
	if (err != 0)
		return err;
	bool later = r->created_us > qid_us;
	long i = later == first_pass ? -1 : seg_reader_find(r, qid, strlen(qid));
	if (i >= 0) {
		seg_reader_entry(r, (uint32_t)i, e);
		return SPOOL_FIND_FOUND;
	}
	seg_reader_close(r);
	return SPOOL_FIND_NOT_FOUND;
}

int spool_find(const struct spool_dir *d, const char *qid, struct seg_reader *r, struct spool_index_entry *e)
{
	uint64_t qid_us;
	uint32_t node, shard;
	if (!queue_id_parse(qid, strlen(qid), &qid_us, &node, &shard))
		return SPOOL_FIND_BAD_ID;
	int k = spool_dir_shard_index(d, shard);
	if (k < 0 || d->shard_fd[k] < 0)
		return SPOOL_FIND_NOT_FOUND;
	struct spool_seg *segs;
	size_t n;
	int rc = spool_dir_segments(d->shard_fd[k], true, &segs, &n);
	if (rc != 0)
		return rc;
	rc = SPOOL_FIND_NOT_FOUND;
	for (int pass = 0; rc == SPOOL_FIND_NOT_FOUND && pass < 2; pass++)
		for (size_t i = n; i-- > 0 && rc == SPOOL_FIND_NOT_FOUND;)
			rc = search(d->shard_fd[k], shard, &segs[i], qid, qid_us, pass == 0, r, e);
	free(segs);
	return rc;
}

int spool_find_bad_id(const char *cmd, const char *qid)
{
	report_error("%s: '%s' is not a queue ID (14 characters 0-9A-Za-z, as in \"250 2.0.0 Ok: queued as ...\")", cmd,
		     qid);
	return SPOOL_EXIT_USAGE;
}

int spool_find_msg(const struct spool_dir *d, const char *cmd, const char *qid, struct seg_reader *r, struct msg *m)
{
	struct spool_index_entry e;
	int rc = spool_find(d, qid, r, &e);
	if (rc == SPOOL_FIND_BAD_ID)
		return spool_find_bad_id(cmd, qid);
	if (rc == SPOOL_FIND_NOT_FOUND) {
		report_error("%s: no message %s in %s", cmd, qid, d->path);
		return SPOOL_EXIT_NOT_FOUND;
	}
	if (rc < 0) {
		report_error("%s: %s: %s", cmd, qid, strerror(-rc));
		return SPOOL_EXIT_IO;
	}
	return spool_find_decode(cmd, qid, r, &e, m);
}

int spool_find_decode(const char *cmd, const char *qid, struct seg_reader *r, const struct spool_index_entry *e,
		      struct msg *m)
{
	if (e->flags & SPOOL_FLAG_SESSION) {
		report_error("%s: %s is a session, not a message (%s session %s)", cmd, qid, REPORT_PROG, qid);
		seg_reader_close(r);
		return SPOOL_EXIT_NOT_FOUND;
	}
	enum msg_status st = seg_reader_msg(r, e, true, m);
	if (st != MSG_OK) {
		char name[SPOOL_DIR_NAME_BYTES * 2];
		seg_reader_name(r, name, sizeof name);
		report_error("%s: %s: %s offset %llu: %s", cmd, qid, name, (unsigned long long)e->offset,
			     msg_status_text(st));
		seg_reader_close(r);
		return SPOOL_EXIT_NOT_FOUND;
	}
	return SPOOL_EXIT_OK;
}
