/*
 * tools/spool/spool_dir.c - listing a spool directory (spool_dir.h).
 *
 * Owns: reading DIR and DIR/shard-NN with readdir and classifying names.
 * The server creates shard directories at start-up and segment files as it
 * rotates, so listings are taken again whenever a command needs fresh ones
 * (follow, wait); nothing here caches file names.
 *
 * Workload: one readdir of DIR per listing (a few shard entries) and one
 * per shard (two files per 256 MiB segment: hundreds at most).
 */
#define _GNU_SOURCE
#include "spool_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "report.h"
#include "spool_fs.h"

#define SHARD_PREFIX "shard-"
#define SEGNO_DIGITS 8u

void spool_dir_seg_name(char *buf, size_t size, uint64_t segno, const char *ext)
{
	snprintf(buf, size, "%08llu.%s", (unsigned long long)segno, ext);
}

int spool_dir_lock(const char *path, const char *cmd)
{
	long owner;
	int fd = spool_fs_lock(path, SPOOL_FS_FILE_MODE_DEFAULT, false, &owner);
	if (fd == -EWOULDBLOCK)
		report_error("%s: the spool %s is owned by a running server (PID %ld): stop it first", cmd, path,
			     owner);
	else if (fd < 0 && fd != -ENOENT)
		report_error("%s: cannot lock %s/%s: %s", cmd, path, SPOOL_FS_LOCK_NAME, strerror(-fd));
	return fd;
}

bool spool_dir_has_index(int shard_fd, uint64_t segno)
{
	char name[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(name, sizeof name, segno, "idx");
	return faccessat(shard_fd, name, F_OK, 0) == 0;
}

/* "shard-NN" (decimal, any width the server may use) -> NN. */
static bool parse_shard_name(const char *name, uint32_t *shard)
{
	size_t plen = strlen(SHARD_PREFIX);
	if (strncmp(name, SHARD_PREFIX, plen) != 0 || name[plen] < '0' || name[plen] > '9')
		return false;
	char *end;
	unsigned long n = strtoul(name + plen, &end, 10);
	if (*end != '\0' || n >= SPOOL_DIR_SHARDS_MAX)
		return false;
	*shard = (uint32_t)n;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void close_shards(struct spool_dir *d)
{
	for (uint32_t i = 0; i < d->shard_count; i++)
		if (d->shard_fd[i] >= 0)
			close(d->shard_fd[i]);
	d->shard_count = 0;
}

int spool_dir_rescan(struct spool_dir *d)
{
	int dfd = dup(d->fd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (dir == NULL) {
		int e = -errno;
		if (dfd >= 0)
			close(dfd);
		return e;
	}
	close_shards(d);
	rewinddir(dir);
	for (struct dirent *de; (de = readdir(dir)) != NULL && d->shard_count < SPOOL_DIR_SHARDS_MAX;) {
		uint32_t shard;
		if (parse_shard_name(de->d_name, &shard))
			d->shards[d->shard_count++] = shard;
	}
	closedir(dir);
	qsort(d->shards, d->shard_count, sizeof d->shards[0], cmp_u32);
	for (uint32_t i = 0; i < d->shard_count; i++) {
		char name[SPOOL_DIR_NAME_BYTES];
		snprintf(name, sizeof name, SHARD_PREFIX "%02u", d->shards[i]);
		d->shard_fd[i] = openat(d->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return 0;
}

int spool_dir_open(struct spool_dir *d, const char *path)
{
	memset(d, 0, sizeof *d);
	d->path = path;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	int e = spool_dir_rescan(d);
	if (e != 0) {
		close(d->fd);
		d->fd = -1;
	}
	return e;
}

void spool_dir_close(struct spool_dir *d)
{
	close_shards(d);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int spool_dir_shard_index(const struct spool_dir *d, uint32_t shard)
{
	for (uint32_t i = 0; i < d->shard_count; i++)
		if (d->shards[i] == shard)
			return (int)i;
	return -1;
}

/* Classify one name; false for "." and "..". */
static bool classify(const char *name, struct spool_file *f)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	memset(f, 0, sizeof *f);
	memcpy(f->name, name, strnlen(name, sizeof f->name - 1)); /* longer names are never spool files */
	f->kind = SPOOL_FILE_OTHER;
	size_t digits = strspn(name, "0123456789");
	if (digits != SEGNO_DIGITS)
		return true;
	const char *ext = name + digits;
	uint64_t segno = strtoull(name, NULL, 10);
	char *end;
	if (strcmp(ext, ".seg") == 0)
		f->kind = SPOOL_FILE_SEG;
	else if (strcmp(ext, ".idx") == 0)
		f->kind = SPOOL_FILE_IDX;
	else if (strcmp(ext, ".idx.tmp") == 0 || strcmp(ext, ".damage.tmp") == 0 || strcmp(ext, ".seg.tmp") == 0)
		f->kind = SPOOL_FILE_TMP;
	else if (strcmp(ext, ".seg.corrupt") == 0)
		f->kind = SPOOL_FILE_CORRUPT;
	else if (strcmp(ext, ".damage") == 0)
		f->kind = SPOOL_FILE_DAMAGE;
	else if (strncmp(ext, ".seg.cut-", 9) == 0 && ext[9] >= '0' && ext[9] <= '9' &&
		 (f->cut_off = strtoull(ext + 9, &end, 10), *end == '\0'))
		f->kind = SPOOL_FILE_CUT;
	if (f->kind != SPOOL_FILE_OTHER)
		f->segno = segno;
	return true;
}

static int cmp_file(const void *a, const void *b)
{
	const struct spool_file *x = a, *y = b;
	if (x->segno != y->segno)
		return x->segno < y->segno ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

int spool_dir_files(int shard_fd, struct spool_file **out, size_t *count)
{
	int dfd = dup(shard_fd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t cap = 0;
	*out = NULL;
	*count = 0;
	if (dir == NULL) {
		int e = -errno;
		if (dfd >= 0)
			close(dfd);
		return e;
	}
	rewinddir(dir);
	int e = 0;
	for (struct dirent *de; (de = readdir(dir)) != NULL;) {
		struct spool_file f;
		if (!classify(de->d_name, &f))
			continue;
		if (!grow_array((void **)out, &cap, *count + 1, sizeof **out, 64)) {
			e = -ENOMEM;
			break;
		}
		(*out)[(*count)++] = f;
	}
	closedir(dir);
	if (*count > 1)
		qsort(*out, *count, sizeof **out, cmp_file);
	return e;
}

int spool_dir_segments(int shard_fd, bool with_quarantined, struct spool_seg **out, size_t *count)
{
	struct spool_file *files;
	size_t n;
	*out = NULL;
	*count = 0;
	int e = spool_dir_files(shard_fd, &files, &n);
	if (e != 0) {
		free(files);
		return e;
	}
	struct spool_seg *segs = malloc((n ? n : 1) * sizeof *segs);
	if (segs == NULL) {
		free(files);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) /* sorted by number, then kind: SEG before CORRUPT */
		if (files[i].kind == SPOOL_FILE_SEG || (with_quarantined && files[i].kind == SPOOL_FILE_CORRUPT))
			segs[(*count)++] = (struct spool_seg){ files[i].segno, files[i].kind == SPOOL_FILE_CORRUPT };
	free(files);
	*out = segs;
	return 0;
}
