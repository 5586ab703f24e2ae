/*
 * io/spool_fs.c - modes, symlink-proof creation, atomic replacement and
 * the owner lock of a spool (spool_fs.h).
 *
 * Owns the rules in spool_fs.h and nothing else: which files exist and
 * what they hold is io/spool_files.c's (server) and tools/spool's business.
 * The lock is a flock on DIR/lock: held while its descriptor is open (it
 * dies with the process, so a crash never leaves a stale lock), shared by
 * no child (O_CLOEXEC), and independent of the PID text, which only names
 * the owner for the message of whoever is refused.
 */
#define _GNU_SOURCE
#include "spool_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MODE_RW_ALL 0666u
#define MODE_OWNER_RW 0600u
#define MODE_READ_BITS 0444u
#define PID_TEXT_BYTES 24u
#define OWNER_READ_TRIES 20u /* the owner writes its PID right after taking the lock */
#define OWNER_READ_PAUSE_NS 5000000L
#define TMP_NAME_BYTES 256u

int spool_fs_parse_mode(const char *text, uint32_t *file_mode)
{
	char *end;
	if (text == NULL || text[0] < '0' || text[0] > '7')
		return -EINVAL;
	errno = 0;
	unsigned long m = strtoul(text, &end, 8);
	/* a directory's mode (0750) names the same spool as its files' (0640):
	 * execute bits are dropped, and must stand where read is */
	unsigned long x = m & (MODE_READ_BITS >> 2);
	if (errno != 0 || *end != '\0' || (m & ~(unsigned long)(MODE_RW_ALL | x)) != 0 ||
	    (x & ~((m & MODE_READ_BITS) >> 2)) != 0 || (m & MODE_OWNER_RW) != MODE_OWNER_RW)
		return -EINVAL;
	*file_mode = (uint32_t)(m & MODE_RW_ALL);
	return 0;
}

uint32_t spool_fs_dir_mode(uint32_t file_mode)
{
	return file_mode | (file_mode & MODE_READ_BITS) >> 2;
}

int spool_fs_mkdir(int at, const char *name, uint32_t file_mode)
{
	uint32_t mode = spool_fs_dir_mode(file_mode);
	if (mkdirat(at, name, mode) != 0)
		return errno == EEXIST ? 0 : -errno;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int e = fchmod(fd, mode) == 0 ? 0 : -errno; /* the umask took bits away */
	close(fd);
	return e;
}

int spool_fs_create(int at, const char *name, uint32_t file_mode, int flags)
{
	int fd = openat(at, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file_mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, file_mode) != 0) {
		int e = -errno;
		close(fd);
		unlinkat(at, name, 0);
		return e;
	}
	return fd;
}

int spool_fs_write_all(int fd, const void *bytes, size_t len)
{
	const uint8_t *p = bytes;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int spool_fs_replace(int at, const char *name, const void *bytes, size_t len, uint32_t file_mode)
{
	char tmp[TMP_NAME_BYTES];
	if (snprintf(tmp, sizeof tmp, "%s%s", name, SPOOL_FS_TMP_SUFFIX) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = spool_fs_create(at, tmp, file_mode, O_WRONLY);
	if (fd == -EEXIST && unlinkat(at, tmp, 0) == 0) /* stale or planted: removed, never followed */
		fd = spool_fs_create(at, tmp, file_mode, O_WRONLY);
	if (fd < 0)
		return fd;
	int e = spool_fs_write_all(fd, bytes, len);
	if (e == 0 && fdatasync(fd) != 0)
		e = -errno;
	close(fd);
	if (e == 0 && renameat(at, tmp, at, name) != 0)
		e = -errno;
	if (e != 0) {
		unlinkat(at, tmp, 0);
		return e;
	}
	return fsync(at) == 0 ? 0 : -errno;
}

/* The PID the owner wrote, waiting a little for it (it writes it right
 * after taking the lock); 0 if there is none. */
static long read_owner(int fd)
{
	for (unsigned i = 0; i < OWNER_READ_TRIES; i++) {
		char buf[PID_TEXT_BYTES] = { 0 };
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
		if (pid > 0)
			return pid;
		struct timespec ts = { 0, OWNER_READ_PAUSE_NS };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int open_existing(int dfd)
{
	int fd = openat(dfd, SPOOL_FS_LOCK_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

/* Open dir/lock, creating it when missing; never through a symlink. */
static int open_lock_file(int dfd, uint32_t file_mode)
{
	int fd = open_existing(dfd);
	if (fd == -ENOENT)
		fd = spool_fs_create(dfd, SPOOL_FS_LOCK_NAME, file_mode, O_RDWR);
	if (fd == -EEXIST) /* made by someone else meanwhile */
		fd = open_existing(dfd);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int spool_fs_lock(const char *dir, uint32_t file_mode, bool create, long *owner)
{
	*owner = 0;
	if (create) {
		int e = spool_fs_mkdir(AT_FDCWD, dir, file_mode);
		if (e != 0)
			return e;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int fd = open_lock_file(dfd, file_mode);
	close(dfd);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
		if (e == -EWOULDBLOCK)
			*owner = read_owner(fd);
		close(fd);
		return e;
	}
	char pid[PID_TEXT_BYTES];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno ? -errno : -EIO;
		close(fd);
		return e;
	}
	return fd;
}
