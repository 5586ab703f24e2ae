/*
 * io/spool_files.c - a shard's spool directory: segment files, indexes,
 * recovery at start-up and retention.
 *
 * Owns the file-level rules:
 *  - A new segment is created with O_EXCL, preallocated to --segment-size
 *    (so appends never change the file size and fdatasync has no size to
 *    commit), given its 64-byte header, synced, and its directory entry is
 *    synced too.
 *  - A segment is sealed when full or poisoned, once its last batch is
 *    durable: cut to its used length, synced, its index written to a
 *    temporary name, synced, renamed into place, directory synced.  A
 *    segment with an index is immutable.
 *  - Recovery at start-up scans every segment without an index
 *    (spool_segment_scan): a torn tail (nothing after it was ever durable)
 *    is cut and logged; damage before a durable offset renames the file to
 *    .seg.corrupt and says so loudly: it is never silently dropped.  The
 *    newest clean segment is reopened for appending.
 *  - Retention deletes the oldest sealed segments past --spool-max-bytes or
 *    --spool-max-age.
 * Blocking syscalls here run once per segment (every 256 MiB by default)
 * or at start-up, never per message.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "io_classify.h"
#include "queue_id.h"
#include "server_config.h"
#include "spool.h"

#define NAME_BYTES 40

static void seg_name(char *buf, uint64_t segno, const char *ext)
{
	snprintf(buf, NAME_BYTES, "%08llu.%s", (unsigned long long)segno, ext);
}

static int sync_dir(struct spool *sp)
{
	return fsync(sp->dir_fd) == 0 ? 0 : -errno;
}

int spool_files_new_segment(struct spool *sp, uint64_t now_us)
{
	char name[NAME_BYTES];
	uint8_t header[SPOOL_SEGMENT_HEADER_BYTES];
	uint64_t segno = sp->segno + 1;
	seg_name(name, segno, "seg");
	sp->seg_fd = -1;
	int fd = openat(sp->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int e = fallocate(fd, 0, 0, (off_t)sp->seg_size) == 0 ? 0 : -errno;
	if (e == -EOPNOTSUPP)
		e = ftruncate(fd, (off_t)sp->seg_size) == 0 ? 0 : -errno;
	spool_segment_header(sp->shard, sp->node, segno, now_us, header);
	if (e == 0 && pwrite(fd, header, sizeof header, 0) != (ssize_t)sizeof header)
		e = errno ? -errno : -EIO;
	if (e == 0 && fdatasync(fd) != 0)
		e = -errno;
	if (e == 0)
		e = sync_dir(sp);
	if (e != 0) {
		close(fd);
		unlinkat(sp->dir_fd, name, 0);
		fprintf(stderr, "smtpsink: shard %u: cannot create spool segment %s: %s\n", sp->shard, name,
			strerror(-e));
		return e;
	}
	sp->segno = segno;
	sp->seg_fd = fd;
	sp->seg_created_us = now_us;
	sp->write_off = SPOOL_SEGMENT_HEADER_BYTES;
	sp->durable_off = SPOOL_SEGMENT_HEADER_BYTES;
	sp->entry_count = 0;
	return 0;
}

static void add_sealed(struct spool *sp, uint64_t segno, uint64_t bytes, uint64_t created_us)
{
	if (!grow_array((void **)&sp->sealed, &sp->sealed_cap, (size_t)sp->sealed_count + 1, sizeof *sp->sealed, 64))
		return; /* only retention loses track of it */
	sp->sealed[sp->sealed_count++] = (struct spool_sealed){ segno, bytes, created_us };
}

static int by_qid(const void *a, const void *b)
{
	return memcmp(((const struct spool_index_entry *)a)->qid, ((const struct spool_index_entry *)b)->qid,
		      sizeof((const struct spool_index_entry *)a)->qid);
}

/* Write the index of a segment: temporary name, sync, rename, sync dir.
 * Entries are sorted by queue ID first: a session's report is written when
 * it ends, after messages with later IDs than the session's own. */
static int write_index(struct spool *sp, uint64_t segno, struct spool_index_entry *e, uint32_t count)
{
	qsort(e, count, sizeof *e, by_qid);
	char name[NAME_BYTES], tmp[NAME_BYTES + 4];
	size_t bytes = spool_index_bytes(count);
	uint8_t *img = malloc(bytes);
	if (img == NULL)
		return -ENOMEM;
	spool_index_encode(segno, e, count, img);
	seg_name(name, segno, "idx");
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(sp->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err = fd < 0 ? -errno : 0;
	if (err == 0 && write(fd, img, bytes) != (ssize_t)bytes)
		err = errno ? -errno : -EIO;
	if (err == 0 && fdatasync(fd) != 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err == 0 && renameat(sp->dir_fd, tmp, sp->dir_fd, name) != 0)
		err = -errno;
	if (err == 0)
		err = sync_dir(sp);
	free(img);
	return err;
}

void spool_files_seal(struct spool *sp)
{
	if (sp->seg_fd < 0)
		return;
	struct spool_sealing *s = calloc(1, sizeof *s);
	if (s == NULL) { /* no memory even for this: keep the file as it is */
		close(sp->seg_fd);
		sp->seg_fd = -1;
		return;
	}
	*s = (struct spool_sealing){ sp->sealing,	 sp->seg_fd,  sp->segno,      sp->write_off,
				     sp->seg_created_us, sp->entries, sp->entry_count };
	sp->sealing = s;
	sp->entries = NULL;
	sp->entry_count = sp->entry_cap = 0;
	spool_table_clear(&sp->table);
	sp->seg_fd = -1;
}

static void finish_seal(struct spool *sp, struct spool_sealing *s)
{
	int e = ftruncate(s->fd, (off_t)s->end_off) == 0 && fdatasync(s->fd) == 0 ? 0 : -errno;
	if (e == 0)
		e = write_index(sp, s->segno, s->entries, s->entry_count);
	if (e != 0) /* the segment stays without an index: recovery rescans it */
		fprintf(stderr, "smtpsink: shard %u: sealing segment %llu: %s\n", sp->shard,
			(unsigned long long)s->segno, strerror(-e));
	else
		add_sealed(sp, s->segno, s->end_off, s->created_us);
	close(s->fd);
	free(s->entries);
}

void spool_files_seal_done(struct spool *sp)
{
	struct spool_sealing **pp = &sp->sealing;
	while (*pp != NULL) {
		struct spool_sealing *s = *pp;
		if (spool_writing(sp, s->segno)) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		finish_seal(sp, s);
		free(s);
	}
}

void spool_files_retire(struct spool *sp, uint64_t now_us, uint64_t max_bytes, uint64_t max_age_s)
{
	uint64_t total = sp->write_off;
	for (uint32_t i = 0; i < sp->sealed_count; i++)
		total += sp->sealed[i].bytes;
	uint32_t gone = 0;
	while (gone < sp->sealed_count) {
		const struct spool_sealed *s = &sp->sealed[gone];
		bool too_big = max_bytes != 0 && total > max_bytes;
		bool too_old = max_age_s != 0 && s->created_us + max_age_s * 1000000u < now_us;
		if (!too_big && !too_old)
			break;
		char name[NAME_BYTES];
		seg_name(name, s->segno, "idx");
		unlinkat(sp->dir_fd, name, 0); /* the index first: no index, no reader trusts it */
		seg_name(name, s->segno, "seg");
		unlinkat(sp->dir_fd, name, 0);
		total -= s->bytes;
		gone++;
	}
	if (gone > 0) {
		memmove(sp->sealed, sp->sealed + gone, (sp->sealed_count - gone) * sizeof *sp->sealed);
		sp->sealed_count -= gone;
	}
}

/* Index entries for the valid records of a segment image. */
static int index_records(const uint8_t *img, uint64_t good_end, struct spool_index_entry **out, uint32_t *count,
			 size_t *cap)
{
	uint64_t off = SPOOL_SEGMENT_HEADER_BYTES;
	struct spool_record rec;
	*count = 0;
	while (off < good_end && spool_record_decode(img + off, good_end - off, &rec) == SPOOL_OK) {
		if (!grow_array((void **)out, cap, (size_t)*count + 1, sizeof **out, 1024))
			return -ENOMEM;
		struct spool_index_entry *e = &(*out)[(*count)++];
		memset(e, 0, sizeof *e);
		e->offset = off;
		e->record_len = rec.record_len;
		e->meta_len = rec.meta_len;
		e->flags = rec.flags;
		size_t pos = 0;
		uint8_t tag;
		struct smtp_view v;
		bool bad = false;
		while (spool_meta_next(&rec, &pos, &tag, &v, &bad)) {
			if (tag == SPOOL_TAG_QUEUE_ID)
				memcpy(e->qid, v.ptr, v.len < sizeof e->qid ? v.len : sizeof e->qid);
			else if (tag == SPOOL_TAG_RECEIVED_US && v.len == 8)
				memcpy(&e->received_us, v.ptr, 8); /* little-endian hosts only (x86-64, arm64) */
		}
		off += rec.record_len;
	}
	return 0;
}

/* The creation time in a segment header (offset 32), 0 if unreadable. */
static uint64_t segment_created_us(int fd)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES];
	uint64_t us = 0;
	if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && spool_segment_header_ok(h, sizeof h, NULL, NULL))
		memcpy(&us, h + 32, sizeof us);
	return us;
}

static void quarantine(struct spool *sp, uint64_t segno, const struct spool_scan *scan)
{
	char name[NAME_BYTES], bad[NAME_BYTES + 8];
	seg_name(name, segno, "seg");
	snprintf(bad, sizeof bad, "%s.corrupt", name);
	renameat(sp->dir_fd, name, sp->dir_fd, bad);
	sync_dir(sp);
	fprintf(stderr,
		"smtpsink: shard %u: SPOOL CORRUPTION in %s at offset %llu (durable up to %llu): %llu good records"
		" before it; file kept as %s, a new segment is used\n",
		sp->shard, name, (unsigned long long)scan->good_end, (unsigned long long)scan->durable,
		(unsigned long long)scan->records, bad);
}

/* A torn tail is cut, but its bytes are kept in NAME.cut-OFFSET first:
 * damage to the last durable records looks like a torn tail too, and what
 * is cut must never be destroyed (docs/SPOOL-FORMAT.md). */
static void keep_cut_bytes(struct spool *sp, const char *name, const uint8_t *img, uint64_t size,
			   const struct spool_scan *scan)
{
	uint64_t end = size;
	while (end > scan->good_end && img[end - 1] == 0)
		end--;
	char cut[NAME_BYTES + 32];
	snprintf(cut, sizeof cut, "%s.cut-%llu", name, (unsigned long long)scan->good_end);
	int fd = openat(sp->dir_fd, cut, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	for (int n = 2; fd < 0 && errno == EEXIST && n < 1000; n++) { /* never overwrite an earlier cut */
		snprintf(cut, sizeof cut, "%s.cut-%llu.%d", name, (unsigned long long)scan->good_end, n);
		fd = openat(sp->dir_fd, cut, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	bool kept = fd >= 0 &&
		    write(fd, img + scan->good_end, end - scan->good_end) == (ssize_t)(end - scan->good_end) &&
		    fdatasync(fd) == 0;
	if (fd >= 0)
		close(fd);
	fprintf(stderr,
		"smtpsink: shard %u: %s: torn tail after offset %llu cut (%llu records kept, %llu bytes cut%s%s)\n",
		sp->shard, name, (unsigned long long)scan->good_end, (unsigned long long)scan->records,
		(unsigned long long)(end - scan->good_end),
		kept ? ", saved as " : ", NOT saved: ", kept ? cut : strerror(errno));
}

/* An unsealed segment found at start-up: cut a torn tail, quarantine
 * corruption; the newest one (last) stays open for appending, older ones
 * are sealed now. */
static int recover_segment(struct spool *sp, uint64_t segno, bool last)
{
	char name[NAME_BYTES];
	struct stat st;
	seg_name(name, segno, "seg");
	int fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		return fd < 0 ? -errno : (close(fd), -errno);
	const uint8_t *img = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (img == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	struct spool_scan scan;
	spool_segment_scan(img, (size_t)st.st_size, &scan);
	if (scan.last_qid_us > sp->qid_floor_us)
		sp->qid_floor_us = scan.last_qid_us;
	if (scan.recovery == SPOOL_RECOVERY_CORRUPT) {
		munmap((void *)img, (size_t)st.st_size);
		close(fd);
		if (scan.good_end == 0 && scan.first_bad == SPOOL_END) {
			unlinkat(sp->dir_fd, name, 0); /* created, never written: held nothing */
			return 0;
		}
		quarantine(sp, segno, &scan);
		return 0;
	}
	if (scan.recovery == SPOOL_RECOVERY_TORN_TAIL)
		keep_cut_bytes(sp, name, img, (uint64_t)st.st_size, &scan);
	sp->entry_count = 0;
	sp->entry_cap = 0;
	free(sp->entries);
	sp->entries = NULL;
	int e = index_records(img, scan.good_end, &sp->entries, &sp->entry_count, &sp->entry_cap);
	spool_table_clear(&sp->table);
	for (uint32_t i = 0; e == 0 && i < sp->entry_count; i++)
		if (!spool_table_add(&sp->table, sp->entries, i))
			e = -ENOMEM;
	munmap((void *)img, (size_t)st.st_size);
	/* zeros from good_end on: cut, then preallocate again */
	if (e == 0 && (ftruncate(fd, (off_t)scan.good_end) != 0 || fdatasync(fd) != 0))
		e = -errno;
	if (e == 0 && last && (uint64_t)st.st_size > scan.good_end)
		(void)(fallocate(fd, 0, 0, (off_t)sp->seg_size) == 0 || ftruncate(fd, (off_t)sp->seg_size) == 0);
	sp->segno = segno;
	sp->seg_fd = fd;
	sp->seg_created_us = segment_created_us(fd);
	sp->write_off = sp->durable_off = scan.good_end;
	if (e == 0 && !last) {
		spool_files_seal(sp);
		spool_files_seal_done(sp);
	}
	return e;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment numbers present (".seg" and ".seg.corrupt"), ascending. */
static int list_segments(struct spool *sp, uint64_t **out, size_t *count)
{
	int dfd = dup(sp->dir_fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t cap = 0;
	*out = NULL;
	*count = 0;
	if (d == NULL)
		return -errno;
	rewinddir(d);
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		unsigned long long n = strtoull(de->d_name, &end, 10);
		if (end != de->d_name && strcmp(end, ".idx.tmp") == 0) {
			unlinkat(sp->dir_fd, de->d_name, 0); /* a seal that never finished */
			continue;
		}
		if (end == de->d_name || strncmp(end, ".seg", 4) != 0)
			continue;
		if (!grow_array((void **)out, &cap, *count + 1, sizeof **out, 64))
			break;
		(*out)[(*count)++] = n;
		if (strcmp(end, ".seg") != 0)
			(*out)[*count - 1] |= 1ull << 63; /* quarantined: number only */
	}
	closedir(d);
	if (*count > 0)
		qsort(*out, *count, sizeof **out, cmp_u64);
	return 0;
}

/* A sealed segment: only its size and its newest queue ID matter here. */
static void note_sealed(struct spool *sp, uint64_t segno)
{
	char name[NAME_BYTES];
	struct stat st;
	seg_name(name, segno, "seg");
	int fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	add_sealed(sp, segno, (uint64_t)st.st_size, segment_created_us(fd));
	close(fd);
	seg_name(name, segno, "idx");
	fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	uint8_t *img = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (img = malloc((size_t)st.st_size)) != NULL &&
	    read(fd, img, (size_t)st.st_size) == st.st_size) {
		uint64_t idx_segno;
		const uint8_t *entries;
		uint32_t count;
		struct spool_index_entry e;
		uint64_t us;
		uint32_t node, shard;
		if (spool_index_decode(img, (size_t)st.st_size, &idx_segno, &entries, &count) && count > 0) {
			spool_index_entry_get(entries, count - 1, &e); /* sorted: the newest ID */
			if (!queue_id_parse(e.qid, strnlen(e.qid, sizeof e.qid), &us, &node, &shard))
				us = e.received_us;
			if (us > sp->qid_floor_us)
				sp->qid_floor_us = us;
		}
	}
	free(img);
	close(fd);
}

int spool_files_recover(struct spool *sp)
{
	uint64_t *segs;
	size_t n;
	int e = list_segments(sp, &segs, &n);
	for (size_t i = 0; e == 0 && i < n; i++) {
		uint64_t segno = segs[i] & ~(1ull << 63);
		char name[NAME_BYTES];
		if (segno > sp->segno)
			sp->segno = segno;
		if (segs[i] >> 63)
			continue;
		seg_name(name, segno, "idx");
		if (faccessat(sp->dir_fd, name, F_OK, 0) == 0)
			note_sealed(sp, segno);
		else
			e = recover_segment(sp, segno, i + 1 == n);
	}
	free(segs);
	return e;
}

int spool_open(struct spool *sp, const struct server_config *cfg, unsigned shard, uint64_t now_us)
{
	char name[NAME_BYTES];
	memset(sp, 0, sizeof *sp);
	sp->dir_fd = sp->seg_fd = -1;
	sp->shard = shard;
	sp->node = cfg->node_id;
	sp->sync = (enum spool_sync)cfg->sync;
	sp->seg_size = cfg->segment_size;
	unsigned shards = cfg->shards ? cfg->shards : 1;
	sp->max_bytes = cfg->spool_max_bytes / shards;
	sp->max_age_s = cfg->spool_max_age_s;
	if (mkdir(cfg->spool_dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	int top = open(cfg->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return -errno;
	snprintf(name, sizeof name, "shard-%02u", shard);
	if (mkdirat(top, name, 0755) != 0 && errno != EEXIST) {
		close(top);
		return -errno;
	}
	sp->dir_fd = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(top);
	if (sp->dir_fd < 0)
		return -errno;
	int e = spool_files_recover(sp);
	if (e == 0 && sp->seg_fd < 0)
		e = spool_files_new_segment(sp, now_us);
	if (io_classify(IO_VERB_WRITE, e) == IO_DISK_FULL) {
		/* a full disk is not a reason not to start: MAIL gets 452 4.3.1
		 * and a new segment is tried every second */
		fprintf(stderr, "smtpsink: shard %u: spool disk full: answering 452 until there is room\n", shard);
		e = 0;
	}
	return e;
}

void spool_close(struct spool *sp)
{
	char name[NAME_BYTES];
	if (sp->seg_fd >= 0 && sp->entry_count == 0 && sp->write_off == SPOOL_SEGMENT_HEADER_BYTES) {
		close(sp->seg_fd); /* never used: leave no empty segment behind */
		sp->seg_fd = -1;
		seg_name(name, sp->segno, "seg");
		unlinkat(sp->dir_fd, name, 0);
	}
	spool_files_seal(sp); /* a clean stop seals the open segment */
	spool_files_seal_done(sp);
	free(sp->entries);
	free(sp->sealed);
	spool_table_free(&sp->table);
	if (sp->dir_fd >= 0)
		close(sp->dir_fd);
	sp->dir_fd = -1;
}
