/*
 * io/spool_recover.c - a shard's spool at start-up: every segment without
 * an index is scanned (spool_segment_scan) and acted on, and the queue-ID
 * floor is found.
 *
 * Owns what the server does with each verdict (docs/SPOOL-FORMAT.md,
 * "Recovery" and "Salvage"):
 *  - CLEAN: the newest segment is reopened for appending; an older one is
 *    sealed now.
 *  - TORN_TAIL: the bytes from good_end to the last non-zero byte are
 *    first saved in NNNNNNNN.seg.cut-OFFSET (never destroyed: damage to
 *    the last durable records looks like a torn tail too), then cut;
 *    logged.  Then as CLEAN.
 *  - SALVAGE (damage a later record proves durable): every valid record
 *    before and after the damage is kept; each damaged range is logged and
 *    written to NNNNNNNN.damage (JSON lines); what follows the last valid
 *    record is saved and cut as a torn tail; the segment is sealed with an
 *    index of its intact records, so every reader lists them; appending
 *    goes on in a new segment.  The damaged bytes stay in the file.
 *  - CORRUPT (the segment header does not verify): renamed .seg.corrupt
 *    and logged (the spool tool still reads its records); a file of zeros
 *    (created, header never durable) held nothing and is removed.
 * Sealed segments (with an .idx) are not rescanned: only their size, age
 * and newest queue ID are noted.  Leftover NNNNNNNN.idx.tmp, .damage.tmp
 * and .seg.tmp files (a seal, salvage or prune --deleted that never
 * finished) are removed.
 *
 * Workload: once per shard at start-up; one pass over each unsealed
 * segment (mmapped), a second over a damaged one to list its ranges.
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
#include "queue_id.h"
#include "spool_files.h"
#include "spool_fs.h"

#define CUT_NAME_BYTES (SPOOL_FILES_NAME_BYTES + 32u)
#define CUT_NAME_TRIES 1000 /* .cut-OFFSET.2 ... when a cut at OFFSET was saved before */
#define DAMAGE_LOG_LINES 16u /* ranges logged on stderr; the .damage file has them all */
#define DAMAGE_FILE_MAX_LINES 65536u /* then one "omitted" line */
#define ENTRIES_FIRST_CAP 1024u
#define QUARANTINED (1ull << 63) /* in list_segments(): a .seg.corrupt */

/* A segment image being recovered. */
struct recovering {
	const char *name; /* NNNNNNNN.seg */
	uint64_t segno;
	const uint8_t *img;
	uint64_t size;
	struct spool_scan scan;
};

/* What a salvage did not index, as .damage lines. */
struct damage_log {
	char *text;
	size_t len, cap;
	uint64_t lines, omitted;
	const struct spool *sp;
	const struct recovering *rv;
};

static void damage_append(struct damage_log *log, const char *line, size_t n)
{
	if (!grow_array((void **)&log->text, &log->cap, log->len + n, 1, 4096)) {
		log->omitted++;
		return;
	}
	memcpy(log->text + log->len, line, n);
	log->len += n;
}

static void damage_add(struct damage_log *log, const struct spool_damage *d)
{
	char line[SPOOL_DAMAGE_LINE_MAX_BYTES];
	size_t n = spool_damage_line(d, line, sizeof line);
	if (log->lines < DAMAGE_LOG_LINES)
		fprintf(stderr, "smtpsink: shard %u: %s: damaged range at offset %llu, %llu bytes: %.*s",
			log->sp->shard, log->rv->name, (unsigned long long)d->offset, (unsigned long long)d->length,
			(int)n, line);
	if (log->lines++ >= DAMAGE_FILE_MAX_LINES || n == 0)
		log->omitted++;
	else
		damage_append(log, line, n);
}

/* How many ranges stderr did not show; the last line of the file when
 * some were left out of it: how many. */
static void damage_finish(struct damage_log *log)
{
	char line[SPOOL_DAMAGE_LINE_MAX_BYTES];
	if (log->lines > DAMAGE_LOG_LINES)
		fprintf(stderr, "smtpsink: shard %u: %s: %llu more damaged range(s) not logged here\n", log->sp->shard,
			log->rv->name, (unsigned long long)(log->lines - DAMAGE_LOG_LINES));
	if (log->omitted == 0)
		return;
	int n = snprintf(line, sizeof line, "{\"shard\":%u,\"segment\":%llu,\"omitted\":%llu}\n", log->sp->shard,
			 (unsigned long long)log->rv->segno, (unsigned long long)log->omitted);
	damage_append(log, line, (size_t)n);
}

static void damage_add_dup(void *arg, const struct spool_index_entry *e)
{
	struct damage_log *log = arg;
	struct spool_damage d = { .shard = log->sp->shard,
				  .segno = log->rv->segno,
				  .offset = e->offset,
				  .length = e->record_len,
				  .action = SPOOL_DAMAGE_DUPLICATE,
				  .durable = e->offset < log->rv->scan.durable };
	damage_add(log, &d);
}

/* Index entries for the valid records of img below end (all of them past
 * any damage); damaged ranges go to log when it is given, and a tail that
 * may be cut to *tail (its length 0 when there is none). */
static int collect(struct spool *sp, const struct recovering *rv, uint64_t end, struct damage_log *log,
		   struct spool_item *tail)
{
	struct spool_walker w;
	struct spool_item it;
	sp->entry_count = 0;
	tail->length = 0;
	spool_walker_init(&w, rv->img, (size_t)rv->size);
	while (spool_walker_next(&w, &it) && it.offset < end) {
		if (it.kind == SPOOL_ITEM_TAIL && !it.unsearched) {
			*tail = it; /* never durable: saved, cut and logged by the caller */
		} else if (it.kind != SPOOL_ITEM_RECORD && log != NULL) {
			struct spool_damage d;
			spool_damage_from_item(&it, sp->shard, rv->segno, rv->scan.durable, false, &d);
			damage_add(log, &d);
		}
		if (it.kind != SPOOL_ITEM_RECORD)
			continue;
		if (!grow_array((void **)&sp->entries, &sp->entry_cap, (size_t)sp->entry_count + 1, sizeof *sp->entries,
				ENTRIES_FIRST_CAP))
			return -ENOMEM;
		spool_index_entry_of(&it.rec, it.offset, &sp->entries[sp->entry_count++]);
	}
	return 0;
}

static void quarantine(struct spool *sp, const struct recovering *rv)
{
	char bad[SPOOL_FILES_NAME_BYTES + 8];
	snprintf(bad, sizeof bad, "%s.corrupt", rv->name);
	renameat(sp->dir_fd, rv->name, sp->dir_fd, bad);
	spool_files_sync_dir(sp);
	fprintf(stderr,
		"smtpsink: shard %u: SPOOL CORRUPTION in %s: the segment header does not verify; file kept as %s"
		" (smtpsink-spool still reads its records), a new segment is used\n",
		sp->shard, rv->name, bad);
}

/* The bytes [from, last non-zero byte] are about to be cut: save them in
 * NAME.cut-FROM first (never overwriting an earlier cut).  The file's
 * name goes to saved (empty if it could not be kept). */
static void keep_cut_bytes(struct spool *sp, const struct recovering *rv, uint64_t from, char *saved, size_t cap)
{
	uint64_t end = rv->size;
	while (end > from && rv->img[end - 1] == 0)
		end--;
	snprintf(saved, cap, "%s.cut-%llu", rv->name, (unsigned long long)from);
	int fd = spool_fs_create(sp->dir_fd, saved, sp->file_mode, O_WRONLY);
	for (int n = 2; fd == -EEXIST && n < CUT_NAME_TRIES; n++) {
		snprintf(saved, cap, "%s.cut-%llu.%d", rv->name, (unsigned long long)from, n);
		fd = spool_fs_create(sp->dir_fd, saved, sp->file_mode, O_WRONLY);
	}
	int e = fd < 0 ? fd : 0;
	if (e == 0 && write(fd, rv->img + from, end - from) != (ssize_t)(end - from))
		e = errno ? -errno : -EIO;
	if (e == 0 && fdatasync(fd) != 0)
		e = -errno;
	if (fd >= 0)
		close(fd);
	if (e == 0)
		e = spool_files_sync_dir(sp);
	fprintf(stderr,
		"smtpsink: shard %u: %s: torn tail after offset %llu cut (%llu records kept, %llu bytes cut%s%s)\n",
		sp->shard, rv->name, (unsigned long long)from,
		(unsigned long long)(rv->scan.records +
				     (rv->scan.recovery == SPOOL_RECOVERY_SALVAGE ? rv->scan.salvaged : 0)),
		(unsigned long long)(end - from),
		e == 0 ? ", saved as " : ", NOT saved: ", e == 0 ? saved : strerror(-e));
	if (e != 0)
		saved[0] = '\0';
}

/* The segment holds its records up to end, from sp->entries: the newest
 * one stays open for appending, older ones are sealed now. */
static int adopt(struct spool *sp, const struct recovering *rv, int fd, uint64_t end, bool last)
{
	spool_table_clear(&sp->table);
	sp->table_live = false; /* built from entries by the first lookup */
	/* zeros from end on: cut, then preallocate again */
	if ((ftruncate(fd, (off_t)end) != 0 || fdatasync(fd) != 0)) {
		int e = -errno; /* left as it is, for the next start to recover */
		close(fd);
		sp->entry_count = 0;
		return e;
	}
	sp->segno = rv->segno;
	sp->seg_fd = fd;
	sp->seg_alloc = end;
	if (last) /* room for the next appends, as a new segment has */
		(void)spool_files_reserve(sp, end + 1, 0);
	sp->seg_created_us = spool_files_created_us(fd);
	sp->write_off = sp->durable_off = end;
	if (!last) {
		spool_files_seal(sp);
		spool_files_seal_done(sp);
	}
	return 0;
}

/* SALVAGE: index every valid record (sorted, duplicates dropped), list
 * what was not in NNNNNNNN.damage, save a tail after the last record; the
 * caller cuts and seals at salvage_end. */
static int salvage(struct spool *sp, const struct recovering *rv)
{
	struct damage_log log = { .sp = sp, .rv = rv };
	struct spool_item tail;
	char name[SPOOL_FILES_NAME_BYTES], saved[CUT_NAME_BYTES];
	int e = collect(sp, rv, UINT64_MAX, &log, &tail);
	if (e == 0)
		sp->entry_count = spool_index_sort(sp->entries, sp->entry_count, damage_add_dup, &log);
	if (e == 0 && tail.length > 0) {
		struct spool_damage d;
		keep_cut_bytes(sp, rv, tail.offset, saved, sizeof saved);
		spool_damage_from_item(&tail, sp->shard, rv->segno, rv->scan.durable, true, &d);
		d.saved_as = saved[0] ? saved : NULL;
		damage_add(&log, &d);
	}
	damage_finish(&log);
	spool_files_name(name, rv->segno, "damage");
	int de = e == 0 ? spool_fs_replace(sp->dir_fd, name, log.text ? log.text : "", log.len, sp->file_mode) : e;
	fprintf(stderr,
		"smtpsink: shard %u: SPOOL DAMAGE in %s: %llu damaged range(s) skipped, %llu intact records kept and"
		" indexed; the segment is sealed; %s%s\n",
		sp->shard, rv->name, (unsigned long long)rv->scan.damaged_ranges, (unsigned long long)sp->entry_count,
		de == 0 ? "ranges listed in " : "the damage list was NOT written: ", de == 0 ? name : strerror(-de));
	free(log.text);
	return e;
}

/* The scan's verdict, acted on; rv->img is mapped, fd open. */
static int recover_image(struct spool *sp, struct recovering *rv, int fd, bool last)
{
	struct spool_item tail;
	char saved[CUT_NAME_BYTES];
	int e = 0;
	switch (rv->scan.recovery) {
	case SPOOL_RECOVERY_SALVAGE:
		e = salvage(sp, rv);
		return e != 0 ? (close(fd), e) : adopt(sp, rv, fd, rv->scan.salvage_end, false);
	case SPOOL_RECOVERY_TORN_TAIL:
		keep_cut_bytes(sp, rv, rv->scan.good_end, saved, sizeof saved);
		/* fall through */
	case SPOOL_RECOVERY_CLEAN:
		e = collect(sp, rv, rv->scan.good_end, NULL, &tail);
		return e != 0 ? (close(fd), e) : adopt(sp, rv, fd, rv->scan.good_end, last);
	case SPOOL_RECOVERY_CORRUPT:
		break;
	}
	close(fd);
	if (rv->scan.good_end == 0 && rv->scan.first_bad == SPOOL_END)
		unlinkat(sp->dir_fd, rv->name, 0); /* created, never written: held nothing */
	else
		quarantine(sp, rv);
	return 0;
}

/* An unsealed segment found at start-up. */
static int recover_segment(struct spool *sp, uint64_t segno, bool last)
{
	char name[SPOOL_FILES_NAME_BYTES];
	struct stat st;
	struct recovering rv = { name, segno, NULL, 0, { 0 } };
	spool_files_name(name, segno, "seg");
	int fd = openat(sp->dir_fd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	rv.size = (uint64_t)st.st_size;
	rv.img = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (rv.img == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	spool_segment_scan(rv.img, (size_t)rv.size, &rv.scan);
	if (rv.scan.last_qid_us > sp->qid_floor_us)
		sp->qid_floor_us = rv.scan.last_qid_us;
	int e = recover_image(sp, &rv, fd, last);
	if (rv.img != NULL)
		munmap((void *)rv.img, (size_t)rv.size);
	return e;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment numbers present (".seg", and ".seg.corrupt" with QUARANTINED
 * set), ascending; stale ".idx.tmp", ".damage.tmp" and ".seg.tmp" files are
 * removed. */
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
		if (end != de->d_name &&
		    (strcmp(end, ".idx.tmp") == 0 || strcmp(end, ".damage.tmp") == 0 || strcmp(end, ".seg.tmp") == 0)) {
			unlinkat(sp->dir_fd, de->d_name, 0); /* a seal, salvage or prune that never finished */
			continue;
		}
		if (end == de->d_name || strncmp(end, ".seg", 4) != 0 ||
		    (strcmp(end, ".seg") != 0 && strcmp(end, ".seg.corrupt") != 0))
			continue;
		if (!grow_array((void **)out, &cap, *count + 1, sizeof **out, 64))
			break;
		(*out)[(*count)++] = n | (strcmp(end, ".seg") != 0 ? QUARANTINED : 0);
	}
	closedir(d);
	if (*count > 0)
		qsort(*out, *count, sizeof **out, cmp_u64);
	return 0;
}

/* A sealed segment: only its size, age and newest queue ID matter here. */
static void note_sealed(struct spool *sp, uint64_t segno)
{
	char name[SPOOL_FILES_NAME_BYTES];
	struct stat st;
	spool_files_name(name, segno, "seg");
	int fd = openat(sp->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	spool_files_add_sealed(sp, segno, (uint64_t)st.st_size, spool_files_created_us(fd));
	close(fd);
	spool_files_name(name, segno, "idx");
	fd = openat(sp->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	uint8_t *img = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (img = malloc((size_t)st.st_size)) != NULL &&
	    read(fd, img, (size_t)st.st_size) == st.st_size) {
		uint64_t idx_segno, us;
		const uint8_t *entries;
		uint32_t count, node, shard;
		struct spool_index_entry e;
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

/* Every segment is looked at even when one fails (an I/O error is left
 * for the next start): the next segment number and the queue-ID floor
 * must come from all of them. */
int spool_recover(struct spool *sp)
{
	uint64_t *segs;
	size_t n;
	int e = list_segments(sp, &segs, &n);
	for (size_t i = 0; e == 0 && i < n; i++)
		if ((segs[i] & ~QUARANTINED) > sp->segno)
			sp->segno = segs[i] & ~QUARANTINED;
	uint64_t newest = sp->segno;
	for (size_t i = 0; i < n; i++) {
		uint64_t segno = segs[i] & ~QUARANTINED;
		char name[SPOOL_FILES_NAME_BYTES];
		if (segs[i] & QUARANTINED)
			continue;
		spool_files_name(name, segno, "idx");
		int r = 0;
		if (faccessat(sp->dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			note_sealed(sp, segno);
		else
			r = recover_segment(sp, segno, i + 1 == n);
		if (r != 0 && e == 0)
			e = r;
	}
	sp->segno = newest > sp->segno ? newest : sp->segno; /* adopt() set the open one's */
	free(segs);
	return e;
}
