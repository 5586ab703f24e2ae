/*
 * tests/hostile/faultfs.c - a FUSE passthrough filesystem that fails a chosen
 * fraction of write(), fsync()/fdatasync(), create and fallocate calls, for
 * the disk-fault tests of the hostile suite.
 *
 * Usage: faultfs [--seed N] [--set 'KEY=VALUE ...'] SOURCE MOUNTPOINT [FUSE options]
 *   e.g. faultfs --seed 7 --set 'fsync_eio=0.2 write_eio=0.02' under mnt -f
 * The settings are those of faultfs_ctl.c.  While mounted, the virtual file
 * MOUNTPOINT/.faultfs (not listed, not in SOURCE) reads back the settings
 * and the counters (calls and injected failures per operation) and takes
 * new settings: one write() of "KEY=VALUE ..." applies them all or none
 * (a bad one fails the write with EINVAL).
 *
 * Owns: mirroring SOURCE exactly (every call becomes the same *at() call on
 * a descriptor of SOURCE, open files are real descriptors kept in fi->fh, the
 * daemon's umask is 0 so modes pass through, files get the caller's owner)
 * and asking the fault plan before each write, fsync, create and fallocate.
 * Does not: cache, reorder or delay anything; a failed call changes nothing
 * on disk (the real syscall is not made), as a device error before the
 * write would.
 *
 * Invariants: paths never leave SOURCE (the kernel resolves symlinks and
 * "..", and every call is relative to SOURCE's descriptor).  Expected
 * workload: one test's spool, a few hundred MB, FUSE's worker threads.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "faultfs_ctl.h"

#define CONTROL_PATH "/.faultfs"
#define CONTROL_FH UINT64_MAX
#define STATUS_BYTES 4096u
#define ERR_BYTES 256u

struct faultfs {
	int src_fd; /* SOURCE, opened as a directory: every path is relative to it */
	struct faultfs_ctl ctl;
};

static struct faultfs *faultfs_self(void)
{
	return fuse_get_context()->private_data;
}

/* A FUSE path ("/a/b") as a path relative to SOURCE ("a/b", or "."). */
static const char *faultfs_rel(const char *path)
{
	return path[1] == '\0' ? "." : path + 1;
}

static bool faultfs_is_control(const char *path)
{
	return strcmp(path, CONTROL_PATH) == 0;
}

/* Give a new file or directory the caller's owner (the daemon runs as root). */
static void faultfs_own(int dirfd, const char *rel, int flags)
{
	struct fuse_context *cx = fuse_get_context();
	if (geteuid() == 0)
		(void)fchownat(dirfd, rel, cx->uid, cx->gid, flags);
}

static int faultfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct faultfs *fs = faultfs_self();
	if (faultfs_is_control(path)) {
		memset(st, 0, sizeof *st);
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = STATUS_BYTES;
		return 0;
	}
	int r = fi != NULL ? fstat((int)fi->fh, st) : fstatat(fs->src_fd, faultfs_rel(path), st, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

static int faultfs_readlink(const char *path, char *buf, size_t len)
{
	ssize_t n = readlinkat(faultfs_self()->src_fd, faultfs_rel(path), buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int faultfs_mkdir(const char *path, mode_t mode)
{
	int fd = faultfs_self()->src_fd;
	if (mkdirat(fd, faultfs_rel(path), mode) != 0)
		return -errno;
	faultfs_own(fd, faultfs_rel(path), AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int faultfs_unlink(const char *path)
{
	return unlinkat(faultfs_self()->src_fd, faultfs_rel(path), 0) == 0 ? 0 : -errno;
}

static int faultfs_rmdir(const char *path)
{
	return unlinkat(faultfs_self()->src_fd, faultfs_rel(path), AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int faultfs_symlink(const char *target, const char *path)
{
	int fd = faultfs_self()->src_fd;
	if (symlinkat(target, fd, faultfs_rel(path)) != 0)
		return -errno;
	faultfs_own(fd, faultfs_rel(path), AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int faultfs_rename(const char *from, const char *to, unsigned int flags)
{
	int fd = faultfs_self()->src_fd;
	return renameat2(fd, faultfs_rel(from), fd, faultfs_rel(to), flags) == 0 ? 0 : -errno;
}

static int faultfs_link(const char *from, const char *to)
{
	int fd = faultfs_self()->src_fd;
	return linkat(fd, faultfs_rel(from), fd, faultfs_rel(to), 0) == 0 ? 0 : -errno;
}

static int faultfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int r = fi != NULL ? fchmod((int)fi->fh, mode) : fchmodat(faultfs_self()->src_fd, faultfs_rel(path), mode, 0);
	return r == 0 ? 0 : -errno;
}

static int faultfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int r = fi != NULL ? fchown((int)fi->fh, uid, gid) :
			     fchownat(faultfs_self()->src_fd, faultfs_rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

static int faultfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (faultfs_is_control(path))
		return 0; /* open(O_TRUNC) of the control file before a write */
	if (fi != NULL)
		return ftruncate((int)fi->fh, size) == 0 ? 0 : -errno;
	int fd = openat(faultfs_self()->src_fd, faultfs_rel(path), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	int r = ftruncate(fd, size) == 0 ? 0 : -errno;
	close(fd);
	return r;
}

static int faultfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int r = fi != NULL ? futimens((int)fi->fh, tv) :
			     utimensat(faultfs_self()->src_fd, faultfs_rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 0 : -errno;
}

static int faultfs_open(const char *path, struct fuse_file_info *fi)
{
	if (faultfs_is_control(path)) {
		fi->fh = CONTROL_FH;
		fi->direct_io = 1; /* reads reach faultfs_read whatever the size */
		return 0;
	}
	int fd = openat(faultfs_self()->src_fd, faultfs_rel(path), fi->flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int faultfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct faultfs *fs = faultfs_self();
	int e = faultfs_ctl_decide(&fs->ctl, FAULTFS_OP_CREATE, path);
	if (e != 0)
		return e;
	int fd = openat(fs->src_fd, faultfs_rel(path), fi->flags | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	faultfs_own(fs->src_fd, faultfs_rel(path), AT_SYMLINK_NOFOLLOW);
	fi->fh = (uint64_t)fd;
	return 0;
}

/* The control file reads back the plan and the counters. */
static int faultfs_read_control(struct faultfs *fs, char *buf, size_t len, off_t off)
{
	char text[STATUS_BYTES];
	size_t n = faultfs_ctl_format(&fs->ctl, text, sizeof text);
	if ((size_t)off >= n)
		return 0;
	size_t k = n - (size_t)off < len ? n - (size_t)off : len;
	memcpy(buf, text + off, k);
	return (int)k;
}

static int faultfs_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	if (fi->fh == CONTROL_FH)
		return faultfs_read_control(faultfs_self(), buf, len, off);
	ssize_t n = pread((int)fi->fh, buf, len, off);
	return n >= 0 ? (int)n : -errno;
}

static int faultfs_write(const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	struct faultfs *fs = faultfs_self();
	if (fi->fh == CONTROL_FH) {
		char err[ERR_BYTES];
		if (faultfs_ctl_apply(&fs->ctl, buf, len, err, sizeof err) != 0) {
			fprintf(stderr, "%s\n", err);
			return -EINVAL;
		}
		return (int)len;
	}
	int e = faultfs_ctl_decide(&fs->ctl, FAULTFS_OP_WRITE, path);
	if (e != 0)
		return e;
	ssize_t n = pwrite((int)fi->fh, buf, len, off);
	return n >= 0 ? (int)n : -errno;
}

static int faultfs_statfs(const char *path, struct statvfs *st)
{
	return fstatvfs(faultfs_self()->src_fd, st) == 0 ? 0 : -errno;
}

/* close() reports write-back errors of some filesystems: pass them on. */
static int faultfs_flush(const char *path, struct fuse_file_info *fi)
{
	if (fi->fh == CONTROL_FH)
		return 0;
	int fd = dup((int)fi->fh);
	if (fd < 0)
		return -errno;
	return close(fd) == 0 ? 0 : -errno;
}

static int faultfs_release(const char *path, struct fuse_file_info *fi)
{
	if (fi->fh != CONTROL_FH)
		close((int)fi->fh);
	return 0;
}

static int faultfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	if (fi->fh == CONTROL_FH)
		return 0;
	int e = faultfs_ctl_decide(&faultfs_self()->ctl, FAULTFS_OP_FSYNC, path);
	if (e != 0)
		return e;
	int r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	return r == 0 ? 0 : -errno;
}

static int faultfs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	int e = faultfs_ctl_decide(&faultfs_self()->ctl, FAULTFS_OP_FALLOCATE, path);
	if (e != 0)
		return e;
	return fallocate((int)fi->fh, mode, off, len) == 0 ? 0 : -errno;
}

static int faultfs_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(faultfs_self()->src_fd, faultfs_rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int e = -errno;
		close(fd);
		return e;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int faultfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
			   enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	rewinddir(d);
	/* offset 0 for every entry: libfuse gathers the whole listing */
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL)
			return -errno;
		struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t)DTTOIF(de->d_type) };
		if (fill(buf, de->d_name, &st, 0, 0) != 0)
			return -ENOMEM;
	}
}

static int faultfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int faultfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	int e = faultfs_ctl_decide(&faultfs_self()->ctl, FAULTFS_OP_FSYNC, path);
	if (e != 0)
		return e;
	int fd = dirfd((DIR *)(uintptr_t)fi->fh);
	return (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : -errno;
}

static void *faultfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->hard_remove = 1; /* unlink for real: descriptors, not paths, serve open files */
	cfg->use_ino = 1;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations faultfs_ops = {
	.init = faultfs_init,
	.getattr = faultfs_getattr,
	.readlink = faultfs_readlink,
	.mkdir = faultfs_mkdir,
	.unlink = faultfs_unlink,
	.rmdir = faultfs_rmdir,
	.symlink = faultfs_symlink,
	.rename = faultfs_rename,
	.link = faultfs_link,
	.chmod = faultfs_chmod,
	.chown = faultfs_chown,
	.truncate = faultfs_truncate,
	.utimens = faultfs_utimens,
	.open = faultfs_open,
	.create = faultfs_create,
	.read = faultfs_read,
	.write = faultfs_write,
	.statfs = faultfs_statfs,
	.flush = faultfs_flush,
	.release = faultfs_release,
	.fsync = faultfs_fsync,
	.fallocate = faultfs_fallocate,
	.opendir = faultfs_opendir,
	.readdir = faultfs_readdir,
	.releasedir = faultfs_releasedir,
	.fsyncdir = faultfs_fsyncdir,
};

static int faultfs_usage(void)
{
	fprintf(stderr, "usage: faultfs [--seed N] [--set 'KEY=VALUE ...'] SOURCE MOUNTPOINT [FUSE options]\n"
			"  KEY: OP_eio, OP_enospc (rates 0..1), fail_OP (next N calls), fail_errno, match, seed\n"
			"  OP: create, write, fsync, fallocate\n");
	return 2;
}

/* Our options come first; SOURCE is taken out and the rest goes to FUSE. */
int main(int argc, char **argv)
{
	static struct faultfs fs;
	char err[ERR_BYTES];
	int i = 1;
	uint64_t seed = 0;
	const char *set = NULL;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0'; i += 2) {
		if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--set") == 0)
			set = argv[i + 1];
		else
			return faultfs_usage();
	}
	if (argc - i < 2)
		return faultfs_usage();
	faultfs_ctl_init(&fs.ctl, seed);
	if (set != NULL && faultfs_ctl_apply(&fs.ctl, set, strlen(set), err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	fs.src_fd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs.src_fd < 0) {
		perror(argv[i]);
		return 1;
	}
	umask(0); /* the modes callers ask for reach SOURCE unchanged */
	argv[i] = argv[0];
	int rc = fuse_main(argc - i, argv + i, &faultfs_ops, &fs);
	close(fs.src_fd);
	faultfs_ctl_fini(&fs.ctl);
	return rc;
}
