/*
 * tools/spool/prune_deleted.c - reclaiming deleted messages, one sealed
 * segment at a time (prune_deleted.h).
 *
 * Owns: the order of the file operations of a rewrite, chosen so that no
 * reader ever sees an index that points into the wrong file (seg_reader
 * trusts any .idx whose checksums and segment number verify, and an old
 * .idx would verify against the new .seg too):
 *   1. NNNNNNNN.seg.tmp written (O_EXCL | O_NOFOLLOW, the old segment's
 *      mode; a stale one is unlinked first, never opened) and fdatasync'ed;
 *   2. the old .idx unlinked, the directory synced: from here on readers
 *      scan the segment (an open segment to them, the old one still whole);
 *   3. .seg.tmp renamed over .seg: readers scan the new one, every record
 *      in it valid;
 *   4. the new .idx written under .idx.tmp, renamed, the directory synced
 *      (spool_fs_replace).
 * A crash leaves the old segment with or without its index, or the new one
 * without it: the server's recovery indexes and seals a segment without
 * an index at its next start, and a leftover .seg.tmp is removed by the
 * next prune.  The moved records' synced_before is their new offset: the
 * file is synced whole before it is renamed, so every byte before a record
 * is durable, and recovery rejects a record claiming more than that
 * (synced_before past its own offset), which a larger value would break.
 * Workload: a segment's records are copied with one write each.
 */
#define _GNU_SOURCE
#include "prune_deleted.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "seg_reader.h"
#include "spool_dir.h"
#include "spool_format.h"
#include "spool_fs.h"

#define PRUNE_INDEX_DIR "index" /* index/mail_index_int.h INDEX_DIR */
#define PRUNE_MODE_BITS 0777u

/* A sealed segment's records sorted by offset, the deleted ones told apart. */
struct reclaim {
	struct seg_reader r;
	struct spool_index_entry *kept; /* by offset; entries take the new offsets when written */
	uint32_t kept_count, messages, deleted;
	uint64_t deleted_bytes;
	bool tiled; /* the records cover the file from its header to its end */
};

static int entry_offset_cmp(const void *a, const void *b)
{
	const struct spool_index_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Split the entries of r->r into kept and deleted; check they tile the file. */
static int reclaim_plan(struct reclaim *rc, const struct marks_deleted *d)
{
	uint32_t n = seg_reader_count(&rc->r);
	struct spool_index_entry *all = calloc(n ? n : 1, sizeof *all);
	if (all == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		seg_reader_entry(&rc->r, i, &all[i]);
	qsort(all, n, sizeof *all, entry_offset_cmp);
	uint64_t end = SPOOL_SEGMENT_HEADER_BYTES;
	rc->tiled = true;
	for (uint32_t i = 0; i < n; i++) {
		bool message = !(all[i].flags & SPOOL_FLAG_SESSION);
		rc->tiled &= all[i].offset == end;
		end = all[i].offset + all[i].record_len;
		rc->messages += message;
		if (message && marks_deleted_has(d, all[i].qid, all[i].received_us)) {
			rc->deleted++;
			rc->deleted_bytes += all[i].record_len;
		} else {
			all[rc->kept_count++] = all[i];
		}
	}
	rc->tiled &= end == rc->r.file_bytes;
	rc->kept = all;
	return 0;
}

/* Copy the kept record e to out at new_off after verifying it; e becomes
 * its entry there.  *buf (of *cap bytes) is the scratch copy of a moved
 * record. */
static int reclaim_copy(int out, const struct seg_reader *r, struct spool_index_entry *e, uint64_t new_off,
			uint8_t **buf, size_t *cap)
{
	const uint8_t *p = seg_reader_bytes(r, e->offset, e->record_len);
	struct spool_record rec;
	struct spool_index_entry ne;
	if (p == NULL || spool_record_decode(p, (size_t)e->record_len, &rec) != SPOOL_OK ||
	    rec.record_len != e->record_len || !spool_index_entry_of(&rec, new_off, &ne) ||
	    memcmp(ne.qid, e->qid, sizeof ne.qid) != 0)
		return -EBADMSG; /* damaged since it was indexed: never re-checksummed */
	if (new_off != e->offset) {
		if (*cap < e->record_len) {
			free(*buf);
			*cap = 0;
			if ((*buf = malloc((size_t)e->record_len)) == NULL)
				return -ENOMEM;
			*cap = (size_t)e->record_len;
		}
		memcpy(*buf, p, (size_t)e->record_len);
		spool_record_move(*buf, e->record_len, new_off);
		p = *buf;
	}
	*e = ne;
	return spool_fs_write_all(out, p, (size_t)e->record_len);
}

/* Step 1: the new segment under tmp, synced. */
static int reclaim_write(struct reclaim *rc, int fd, const char *tmp, uint32_t mode)
{
	int out = spool_fs_create(fd, tmp, mode, O_WRONLY);
	if (out == -EEXIST && unlinkat(fd, tmp, 0) == 0) /* a crashed prune's, or planted */
		out = spool_fs_create(fd, tmp, mode, O_WRONLY);
	if (out < 0)
		return out;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t off = SPOOL_SEGMENT_HEADER_BYTES;
	int e = spool_fs_write_all(out, rc->r.map, SPOOL_SEGMENT_HEADER_BYTES);
	for (uint32_t i = 0; e == 0 && i < rc->kept_count; i++) {
		e = reclaim_copy(out, &rc->r, &rc->kept[i], off, &buf, &cap);
		off += rc->kept[i].record_len;
	}
	if (e == 0 && fdatasync(out) != 0)
		e = -errno;
	close(out);
	free(buf);
	if (e != 0)
		unlinkat(fd, tmp, 0);
	return e;
}

/* Steps 2 to 4 (see the file header). */
static int reclaim_commit(struct reclaim *rc, int fd, const char *tmp, uint32_t mode)
{
	char idx[SPOOL_DIR_NAME_BYTES], seg[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(idx, sizeof idx, rc->r.segno, "idx");
	spool_dir_seg_name(seg, sizeof seg, rc->r.segno, "seg");
	uint32_t n = spool_index_sort(rc->kept, rc->kept_count, NULL, NULL); /* unique IDs: all kept */
	size_t bytes = spool_index_bytes(n);
	uint8_t *img = malloc(bytes);
	if (img == NULL)
		return -ENOMEM;
	spool_index_encode(rc->r.segno, rc->kept, n, img);
	int e = 0;
	if ((unlinkat(fd, idx, 0) != 0 && errno != ENOENT) || fsync(fd) != 0 || renameat(fd, tmp, fd, seg) != 0)
		e = -errno;
	if (e == 0)
		e = spool_fs_replace(fd, idx, img, bytes, mode);
	free(img);
	return e;
}

static int reclaim_rewrite(struct reclaim *rc, int fd)
{
	struct stat st;
	if (fstat(rc->r.fd, &st) != 0)
		return -errno;
	uint32_t mode = (uint32_t)st.st_mode & PRUNE_MODE_BITS;
	char tmp[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(tmp, sizeof tmp, rc->r.segno, "seg" SPOOL_FS_TMP_SUFFIX);
	int e = reclaim_write(rc, fd, tmp, mode);
	if (e != 0)
		return e;
	e = reclaim_commit(rc, fd, tmp, mode);
	if (e != 0)
		unlinkat(fd, tmp, 0); /* still there when the rename did not happen */
	return e;
}

int prune_deleted_unlink(int shard_fd, uint64_t segno)
{
	char idx[SPOOL_DIR_NAME_BYTES], seg[SPOOL_DIR_NAME_BYTES], dmg[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(idx, sizeof idx, segno, "idx");
	spool_dir_seg_name(seg, sizeof seg, segno, "seg");
	spool_dir_seg_name(dmg, sizeof dmg, segno, "damage");
	if (unlinkat(shard_fd, idx, 0) != 0 || unlinkat(shard_fd, seg, 0) != 0)
		return -errno;
	unlinkat(shard_fd, dmg, 0); /* a salvaged segment's damage list goes with it */
	return 0;
}

/* Delete the segment whole or rewrite it; its line on stdout. */
static void reclaim_act(struct reclaim *rc, bool dry_run, int fd, struct prune_tally *t)
{
	char name[SPOOL_DIR_NAME_BYTES + 16];
	seg_reader_name(&rc->r, name, sizeof name);
	bool whole = rc->deleted == rc->messages;
	uint64_t bytes = whole ? rc->r.file_bytes : rc->deleted_bytes;
	int e = dry_run ? 0 : whole ? prune_deleted_unlink(fd, rc->r.segno) : reclaim_rewrite(rc, fd);
	if (e != 0) {
		report_error("prune: %s: %s", name, strerror(-e));
		t->errors++;
		return;
	}
	if (whole)
		printf("%s %s and .idx: all %u messages deleted, %llu bytes\n", dry_run ? "would delete" : "deleted",
		       name, rc->deleted, (unsigned long long)bytes);
	else
		printf("%s %s: %u deleted messages, %llu bytes reclaimed, %u records kept\n",
		       dry_run ? "would rewrite" : "rewrote", name, rc->deleted, (unsigned long long)bytes,
		       rc->kept_count);
	*(whole ? &t->segments_deleted : &t->segments_rewritten) += 1;
	t->messages += rc->deleted;
	t->bytes += bytes;
}

void prune_deleted_segment(const struct marks_deleted *d, bool dry_run, int shard_fd, uint32_t shard, uint64_t segno,
			   struct prune_tally *t)
{
	struct reclaim rc = { 0 };
	if (seg_reader_open(&rc.r, shard_fd, shard, segno, false) != 0)
		return;
	if (rc.r.state == SEG_SEALED && reclaim_plan(&rc, d) == 0 && rc.deleted > 0) {
		char name[SPOOL_DIR_NAME_BYTES + 16];
		seg_reader_name(&rc.r, name, sizeof name);
		if (rc.tiled)
			reclaim_act(&rc, dry_run, shard_fd, t);
		else /* salvaged damage or unindexed bytes: left for verify to explain */
			printf("kept %s: %u deleted messages, but records that do not cover the file (see verify)\n",
			       name, rc.deleted);
	}
	free(rc.kept);
	seg_reader_close(&rc.r);
}

/* Unlink every entry of the directory dfd (the index keeps only files). */
static int drop_files(int dfd)
{
	DIR *dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return -errno;
	}
	int e = 0;
	for (struct dirent *de; (de = readdir(dir)) != NULL;)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd(dir), de->d_name, 0) != 0 && e == 0)
			e = -errno;
	closedir(dir);
	return e;
}

int prune_deleted_drop_index(const char *spool_path)
{
	int sfd = open(spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	int dfd = openat(sfd, PRUNE_INDEX_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = dfd < 0 ? (errno == ENOENT ? 0 : -errno) : drop_files(dfd);
	if (e == 0 && dfd >= 0 && (unlinkat(sfd, PRUNE_INDEX_DIR, AT_REMOVEDIR) != 0 || fsync(sfd) != 0))
		e = -errno;
	close(sfd);
	return e;
}
