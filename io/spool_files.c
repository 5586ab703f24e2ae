/*
 * io/spool_files.c - a shard's spool directory: segment files, indexes and
 * retention (recovery at start-up is spool_recover.c).
 *
 * Owns the file-level rules:
 *  - The shard directory and every file are made through spool_fs.h: the
 *    spool's mode exactly (--spool-mode, default 0600 / 0700), O_EXCL and
 *    O_NOFOLLOW on every create, O_NOFOLLOW on every open.
 *  - A new segment is created with O_EXCL, preallocated to --segment-size
 *    (so appends never change the file size and fdatasync has no size to
 *    commit), given its 64-byte header, synced, and its directory entry is
 *    synced too.
 *  - A segment is sealed when full or poisoned, once its last batch is
 *    durable: cut to its used length, synced, its index written to a
 *    temporary name (a planted NAME.idx.tmp is removed, never followed),
 *    synced, renamed into place, directory synced.  A segment with an
 *    index is immutable.
 *  - Retention deletes the oldest sealed segments past --spool-max-bytes or
 *    --spool-max-age (the index, then the segment, then a .damage list);
 *    the byte limit is the whole spool's (every shard's usage, shared, and
 *    the HTTP API's index beside it: io/index_share.h).
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
#include <sys/statvfs.h>
#include <unistd.h>

#include "grow.h"
#include "io_classify.h"
#include "server_config.h"
#include "spool_files.h"
#include "spool_fs.h"

void spool_files_name(char *buf, uint64_t segno, const char *ext)
{
	snprintf(buf, SPOOL_FILES_NAME_BYTES, "%08llu.%s", (unsigned long long)segno, ext);
}

int spool_files_sync_dir(struct spool *sp)
{
	return fsync(sp->dir_fd) == 0 ? 0 : -errno;
}

uint64_t spool_files_created_us(int fd)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES];
	if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || !spool_segment_header_ok(h, sizeof h, NULL, NULL))
		return 0;
	return spool_segment_created_us(h);
}

int spool_files_new_segment(struct spool *sp, uint64_t now_us)
{
	char name[SPOOL_FILES_NAME_BYTES];
	uint8_t header[SPOOL_SEGMENT_HEADER_BYTES];
	uint64_t segno = sp->segno + 1;
	sp->seg_fd = -1;
	int fd = -EEXIST;
	/* a number taken (a file put there, a segment an error left behind)
	 * is passed over, not tried for ever */
	for (unsigned i = 0; fd == -EEXIST && i < SPOOL_SEGMENT_NAME_TRIES; i++) {
		segno = sp->segno + 1 + i;
		spool_files_name(name, segno, "seg");
		fd = spool_fs_create(sp->dir_fd, name, sp->file_mode, O_RDWR);
	}
	if (fd < 0)
		return fd;
	uint64_t first = sp->seg_size < SPOOL_SEGMENT_STEP_BYTES ? sp->seg_size : SPOOL_SEGMENT_STEP_BYTES;
	int e = fallocate(fd, 0, 0, (off_t)first) == 0 ? 0 : -errno;
	if (e == -EOPNOTSUPP)
		e = ftruncate(fd, (off_t)first) == 0 ? 0 : -errno;
	spool_segment_header(sp->shard, sp->node, segno, now_us, header);
	if (e == 0 && pwrite(fd, header, sizeof header, 0) != (ssize_t)sizeof header)
		e = errno ? -errno : -EIO;
	if (e == 0 && fdatasync(fd) != 0)
		e = -errno;
	if (e == 0)
		e = spool_files_sync_dir(sp);
	if (e != 0) {
		close(fd);
		unlinkat(sp->dir_fd, name, 0);
		fprintf(stderr, "smtpsink: shard %u: cannot create spool segment %s: %s\n", sp->shard, name,
			strerror(-e));
		return e;
	}
	sp->segno = segno;
	sp->seg_fd = fd;
	sp->seg_alloc = first;
	sp->seg_created_us = now_us;
	sp->retry_delay_ms = 0;
	sp->write_off = SPOOL_SEGMENT_HEADER_BYTES;
	sp->durable_off = SPOOL_SEGMENT_HEADER_BYTES;
	sp->entry_count = 0;
	return 0;
}

/* Preallocate [from, to) of the open segment; -EOPNOTSUPP falls back to a
 * plain size change. */
static int preallocate(struct spool *sp, uint64_t from, uint64_t to)
{
	if (fallocate(sp->seg_fd, 0, (off_t)from, (off_t)(to - from)) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	return ftruncate(sp->seg_fd, (off_t)to) == 0 ? 0 : -errno;
}

/* How far the open segment may grow ahead of need_end and still leave
 * keep_bytes free (the index's room); need_end itself always. */
static uint64_t growth_limit(const struct spool *sp, uint64_t need_end, uint64_t keep_bytes)
{
	if (keep_bytes == 0)
		return UINT64_MAX;
	uint64_t room = spool_files_room(sp);
	uint64_t spare = room > keep_bytes ? room - keep_bytes : 0;
	return sp->seg_alloc + spare > need_end ? sp->seg_alloc + spare : need_end;
}

int spool_files_reserve(struct spool *sp, uint64_t need_end, uint64_t keep_bytes)
{
	if (need_end <= sp->seg_alloc)
		return 0;
	if (need_end > sp->seg_size)
		return -EFBIG;
	/* doubling; on a disk without that much room, the next step; then
	 * only what the record needs, to the MiB */
	uint64_t tries[3] = { 2 * sp->seg_alloc, SPOOL_SEGMENT_STEP_BYTES, SPOOL_SEGMENT_MIN_GROWTH_BYTES };
	uint64_t limit = growth_limit(sp, need_end, keep_bytes);
	int e = -ENOSPC;
	uint64_t last = 0;
	for (unsigned i = 0; i < 3 && (e == -ENOSPC || e == -EDQUOT); i++) {
		uint64_t want = i == 0 ? tries[0] : (need_end + tries[i] - 1) / tries[i] * tries[i];
		if (want < need_end)
			want = need_end;
		if (want > limit)
			want = limit;
		if (want > sp->seg_size)
			want = sp->seg_size;
		if (want == last)
			continue;
		last = want;
		e = preallocate(sp, sp->seg_alloc, want);
		if (e == 0)
			sp->seg_alloc = want;
	}
	return e;
}

uint64_t spool_files_room(const struct spool *sp)
{
	struct statvfs st;
	if (fstatvfs(sp->dir_fd, &st) != 0)
		return UINT64_MAX;
	return (uint64_t)st.f_bavail * st.f_frsize;
}

void spool_files_add_sealed(struct spool *sp, uint64_t segno, uint64_t bytes, uint64_t created_us)
{
	if (!grow_array((void **)&sp->sealed, &sp->sealed_cap, (size_t)sp->sealed_count + 1, sizeof *sp->sealed, 64))
		return; /* only retention loses track of it */
	sp->sealed[sp->sealed_count++] = (struct spool_sealed){ segno, bytes, created_us };
}

/* Write the index of a segment (atomically: spool_fs_replace).  Entries
 * are sorted by queue ID first: a session's report is written when it
 * ends, after messages with later IDs than the session's own. */
static int write_index(struct spool *sp, uint64_t segno, struct spool_index_entry *e, uint32_t count)
{
	char name[SPOOL_FILES_NAME_BYTES];
	count = spool_index_sort(e, count, NULL, NULL); /* IDs are unique: keeps them all */
	size_t bytes = spool_index_bytes(count);
	uint8_t *img = malloc(bytes);
	if (img == NULL)
		return -ENOMEM;
	spool_index_encode(segno, e, count, img);
	spool_files_name(name, segno, "idx");
	int err = spool_fs_replace(sp->dir_fd, name, img, bytes, sp->file_mode);
	free(img);
	return err;
}

void spool_files_seal(struct spool *sp)
{
	if (sp->seg_fd < 0)
		return;
	struct spool_sealing *s = calloc(1, sizeof *s);
	if (s == NULL) {
		/* no memory even for this: the file stays open (records queued
		 * for it still go to it: its number must not be reused) and is
		 * left unsealed, for the next start to recover */
		sp->seg_fd = -1;
		sp->entry_count = 0;
		spool_table_clear(&sp->table);
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
		spool_files_add_sealed(sp, s->segno, s->end_off, s->created_us);
	sp->over_bytes = sp->max_bytes != 0; /* the spool grew: look at once */
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

/* Publish this shard's usage; the whole spool's bytes, and whether this
 * shard's oldest sealed segment (from index first) is the spool's oldest. */
static uint64_t publish(struct spool *sp, uint64_t mine, uint32_t first, bool *oldest)
{
	uint64_t my_oldest = first < sp->sealed_count ? sp->sealed[first].created_us : UINT64_MAX;
	*oldest = true;
	if (sp->usage == NULL)
		return mine;
	atomic_store_explicit(&sp->usage[sp->shard].bytes, mine, memory_order_relaxed);
	atomic_store_explicit(&sp->usage[sp->shard].oldest_us, my_oldest, memory_order_relaxed);
	uint64_t all = 0;
	for (unsigned i = 0; i < sp->shards; i++) {
		all += atomic_load_explicit(&sp->usage[i].bytes, memory_order_relaxed);
		if (i != sp->shard && atomic_load_explicit(&sp->usage[i].oldest_us, memory_order_relaxed) < my_oldest)
			*oldest = false; /* another shard deletes first */
	}
	return all;
}

void spool_share_usage(struct spool *sp, struct spool_usage *all, unsigned shards)
{
	sp->usage = all;
	sp->shards = shards;
	/* retention deletes whole sealed segments: with a byte limit, a
	 * segment is sealed at a quarter of a shard's share of it (never
	 * below the largest record), so that the limit can hold */
	uint64_t quarter = sp->max_bytes / (4u * (shards ? shards : 1));
	if (sp->max_bytes != 0 && quarter < sp->seg_size)
		sp->seg_size = quarter > sp->seg_min ? quarter : sp->seg_min;
	atomic_store(&all[sp->shard].bytes, 0);
	atomic_store(&all[sp->shard].oldest_us, UINT64_MAX);
}

/* What this shard's spool takes on the disk: the open segment as
 * preallocated, the segments being sealed, the sealed ones. */
static uint64_t shard_bytes(const struct spool *sp)
{
	uint64_t mine = sp->seg_fd >= 0 ? sp->seg_alloc : 0;
	for (const struct spool_sealing *s = sp->sealing; s != NULL; s = s->next)
		mine += s->end_off;
	for (uint32_t i = 0; i < sp->sealed_count; i++)
		mine += sp->sealed[i].bytes;
	return mine;
}

void spool_files_measure(const struct spool *sp, uint64_t *bytes, uint64_t *segments)
{
	uint64_t n = sp->seg_fd >= 0 ? 1 : 0;
	for (const struct spool_sealing *s = sp->sealing; s != NULL; s = s->next)
		n++;
	*segments = n + sp->sealed_count;
	*bytes = shard_bytes(sp);
}

uint32_t spool_files_retire(struct spool *sp, uint64_t now_us, uint64_t max_bytes, uint64_t max_age_s,
			    uint64_t index_bytes)
{
	uint64_t mine = shard_bytes(sp);
	uint32_t gone = 0;
	bool oldest;
	uint64_t total = publish(sp, mine, 0, &oldest) + index_bytes;
	while (gone < sp->sealed_count) {
		const struct spool_sealed *s = &sp->sealed[gone];
		/* the spool's oldest first; but past the limit by a segment
		 * (the shard holding the oldest is stalled), each its own */
		bool too_big = max_bytes != 0 && total > max_bytes && (oldest || total > max_bytes + sp->seg_size);
		bool too_old = max_age_s != 0 && s->created_us + max_age_s * 1000000u < now_us;
		if (!too_big && !too_old)
			break;
		char name[SPOOL_FILES_NAME_BYTES];
		spool_files_name(name, s->segno, "idx");
		unlinkat(sp->dir_fd, name, 0); /* the index first: no index, no reader trusts it */
		spool_files_name(name, s->segno, "seg");
		unlinkat(sp->dir_fd, name, 0);
		spool_files_name(name, s->segno, "damage"); /* a salvaged segment's list, if any */
		unlinkat(sp->dir_fd, name, 0);
		mine -= s->bytes;
		gone++;
		/* the index's share shrinks only once the indexer dropped the
		 * segment's rows: until then it counts as it is (this pass may
		 * delete a little more than needed, never let the disk grow) */
		total = publish(sp, mine, gone, &oldest) + index_bytes;
	}
	if (gone > 0) {
		memmove(sp->sealed, sp->sealed + gone, (sp->sealed_count - gone) * sizeof *sp->sealed);
		sp->sealed_count -= gone;
	}
	sp->over_bytes = max_bytes != 0 && total > max_bytes; /* again next turn: another shard's, maybe */
	return gone;
}

/* Postfix's smtpd asks for 1.5 x its message size limit free at MAIL;
 * --max-size defaults higher than Postfix's, so a small disk (a test's
 * tmpfs) is asked for an eighth of its size at most. */
static uint64_t default_min_free(const struct spool *sp, const struct server_config *cfg)
{
	uint64_t want = cfg->smtp.max_size_bytes + cfg->smtp.max_size_bytes / 2;
	struct statvfs st;
	if (fstatvfs(sp->dir_fd, &st) == 0 && (uint64_t)st.f_blocks * st.f_frsize / 8 < want)
		want = (uint64_t)st.f_blocks * st.f_frsize / 8;
	return want;
}

uint64_t spool_record_max_bytes(const struct server_config *cfg)
{
	/* the body (at most --max-size), each recipient's command line (at
	 * most 512 octets, RFC 5321 4.5.3.1.4, kept in two fields), MAIL,
	 * HELO, AUTH and framing */
	return cfg->smtp.max_size_bytes + ((uint64_t)cfg->smtp.max_rcpts + 4) * SPOOL_RECORD_LINE_FIELDS_BYTES +
	       SPOOL_RECORD_SLACK_BYTES;
}

int spool_open(struct spool *sp, const struct server_config *cfg, unsigned shard, uint64_t now_us)
{
	char name[SPOOL_FILES_NAME_BYTES];
	memset(sp, 0, sizeof *sp);
	sp->dir_fd = sp->seg_fd = -1;
	sp->shard = shard;
	sp->node = cfg->node_id;
	sp->sync = (enum spool_sync)cfg->sync;
	sp->seg_size = cfg->segment_size;
	sp->seg_min = spool_record_max_bytes(cfg);
	sp->batch_max_bytes = SPOOL_BATCH_MAX_BYTES;
	sp->max_bytes = cfg->spool_max_bytes; /* of the whole spool: spool_share_usage() */
	sp->max_age_s = cfg->spool_max_age_s;
	sp->file_mode = cfg->spool_mode ? cfg->spool_mode : SPOOL_FS_FILE_MODE_DEFAULT; /* 0: not from options */
	int e = spool_fs_mkdir(AT_FDCWD, cfg->spool_dir, sp->file_mode);
	int top = e == 0 ? open(cfg->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1; /* DIR may be a symlink */
	if (top < 0)
		return e != 0 ? e : -errno;
	snprintf(name, sizeof name, "shard-%02u", shard);
	e = spool_fs_mkdir(top, name, sp->file_mode);
	sp->dir_fd = e == 0 ? openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (e == 0 && sp->dir_fd < 0)
		e = -errno;
	close(top);
	if (e != 0)
		return e;
	sp->min_free = cfg->spool_min_free != UINT64_MAX ? cfg->spool_min_free : default_min_free(sp, cfg);
	e = spool_recover(sp);
	if (e == 0 && sp->seg_fd < 0)
		e = spool_files_new_segment(sp, now_us);
	enum io_outcome o = io_classify(IO_VERB_WRITE, e);
	if (o == IO_DISK_FULL || o == IO_FAILED) {
		/* a full or failing disk is not a reason not to start: MAIL
		 * gets 452 4.3.1 and a new segment is tried with backoff */
		fprintf(stderr, "smtpsink: shard %u: no spool segment (%s): answering 452 until one can be made\n",
			shard, strerror(-e));
		e = 0;
	}
	return e;
}

void spool_close(struct spool *sp)
{
	char name[SPOOL_FILES_NAME_BYTES];
	if (sp->seg_fd >= 0 && sp->entry_count == 0 && sp->write_off == SPOOL_SEGMENT_HEADER_BYTES) {
		close(sp->seg_fd); /* never used: leave no empty segment behind */
		sp->seg_fd = -1;
		spool_files_name(name, sp->segno, "seg");
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
