/*
 * index/mail_marks.c - the marks log file (mail_marks.h).
 *
 * Owns: opening or creating SPOOL/marks/marks.log under the spool's mode
 * rules, durable appends, and the replay with its torn-tail cut (not when
 * opened read-only, as prune does).
 * Workload: appends of a few records (a bulk deletion: one record per
 * message, one write and one fdatasync for all of them); the replay reads
 * the log whole into memory (a million marks are ~48 MB).
 */
#define _GNU_SOURCE
#include "mail_marks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_fs.h"

#define MARKS_OWNER_RW 0600u

uint32_t mail_marks_file_mode(int spool_fd)
{
	struct stat st;
	if (fstat(spool_fd, &st) != 0)
		return SPOOL_FS_FILE_MODE_DEFAULT;
	return ((uint32_t)st.st_mode & 0666u) | MARKS_OWNER_RW;
}

static int marks_open_file(struct mail_marks *mk, uint32_t mode)
{
	mk->fd = openat(mk->dir_fd, MAIL_MARKS_FILE, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (mk->fd >= 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	mk->fd = spool_fs_create(mk->dir_fd, MAIL_MARKS_FILE, mode, O_RDWR | O_APPEND);
	if (mk->fd == -EEXIST) /* another connection created it first */
		return marks_open_file(mk, mode);
	if (mk->fd < 0)
		return mk->fd;
	return fsync(mk->dir_fd) == 0 ? 0 : -errno; /* the new name is durable */
}

int mail_marks_open(struct mail_marks *mk, const char *spool_path)
{
	mk->dir_fd = mk->fd = -1;
	mk->read_only = false;
	int spool_fd = open(spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spool_fd < 0)
		return -errno;
	uint32_t mode = mail_marks_file_mode(spool_fd);
	int err = spool_fs_mkdir(spool_fd, MAIL_MARKS_DIR, mode);
	if (err == 0) {
		mk->dir_fd = openat(spool_fd, MAIL_MARKS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = mk->dir_fd < 0 ? -errno : marks_open_file(mk, mode);
	}
	close(spool_fd);
	if (err != 0)
		mail_marks_close(mk);
	return err;
}

int mail_marks_open_read(struct mail_marks *mk, const char *spool_path)
{
	mk->fd = -1;
	mk->read_only = true;
	int spool_fd = open(spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spool_fd < 0)
		return -errno;
	mk->dir_fd = openat(spool_fd, MAIL_MARKS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = mk->dir_fd < 0 ? -errno : 0;
	if (err == 0) {
		mk->fd = openat(mk->dir_fd, MAIL_MARKS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		err = mk->fd < 0 ? -errno : 0;
	}
	close(spool_fd);
	if (err != 0)
		mail_marks_close(mk);
	return err;
}

void mail_marks_close(struct mail_marks *mk)
{
	if (mk->fd >= 0)
		close(mk->fd);
	if (mk->dir_fd >= 0)
		close(mk->dir_fd);
	mk->fd = mk->dir_fd = -1;
}

/* One write of the whole batch at the end of the log; a short write (a
 * full disk) is cut off again, so the log never ends in half a batch that
 * a later append would bury. */
static int marks_write_batch(int fd, const uint8_t *p, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	ssize_t n = write(fd, p, len);
	if (n == (ssize_t)len)
		return fdatasync(fd) == 0 ? 0 : -errno;
	int err = n < 0 ? -errno : -ENOSPC;
	if (ftruncate(fd, st.st_size) != 0)
		return -errno;
	return err;
}

int mail_marks_append(struct mail_marks *mk, const struct mail_mark *marks, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = mail_marks_record_len(&marks[i]);
		if (len == 0)
			return -EINVAL;
		total += len;
	}
	uint8_t *buf = malloc(total ? total : 1);
	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0, off = 0; i < n; i++)
		off += mail_marks_encode(&marks[i], buf + off);
	int err = flock(mk->fd, LOCK_EX) == 0 ? 0 : -errno;
	if (err == 0) {
		err = marks_write_batch(mk->fd, buf, total);
		flock(mk->fd, LOCK_UN);
	}
	free(buf);
	return err;
}

/* The log from offset `from` into *buf (malloc'd). */
static int marks_read_from(int fd, uint64_t from, uint8_t **buf, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if ((uint64_t)st.st_size < from)
		return -ERANGE;
	*len = (size_t)((uint64_t)st.st_size - from);
	*buf = malloc(*len ? *len : 1);
	if (*buf == NULL)
		return -ENOMEM;
	for (size_t off = 0; off < *len;) {
		ssize_t n = pread(fd, *buf + off, *len - off, (off_t)(from + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*len = off; /* shrank under us: what was read */
			return n < 0 ? -errno : 0;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Walk the records; the first one that does not decode ends the log. */
static int marks_walk(const uint8_t *buf, size_t len, uint64_t from, size_t *good_end, mail_marks_fn fn, void *arg)
{
	size_t off = 0;
	int rc = 0;
	while (rc == 0 && off < len) {
		struct mail_mark m;
		size_t rlen;
		if (mail_marks_decode(buf + off, len - off, &m, &rlen) != MAIL_MARKS_OK)
			break;
		rc = fn(arg, &m, from + off, rlen);
		off += rlen;
	}
	*good_end = off;
	return rc;
}

int mail_marks_replay(struct mail_marks *mk, uint64_t from, mail_marks_fn fn, void *arg)
{
	uint8_t *buf = NULL;
	size_t len = 0, good_end = 0;
	if (flock(mk->fd, LOCK_EX) != 0)
		return -errno;
	int err = marks_read_from(mk->fd, from, &buf, &len);
	if (err == 0)
		err = marks_walk(buf, len, from, &good_end, fn, arg);
	if (err == 0 && good_end < len && !mk->read_only &&
	    (ftruncate(mk->fd, (off_t)(from + good_end)) != 0 || fdatasync(mk->fd) != 0))
		err = -errno;
	flock(mk->fd, LOCK_UN);
	free(buf);
	return err;
}
