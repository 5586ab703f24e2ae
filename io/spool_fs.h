/*
 * io/spool_fs.h - how files and directories inside a spool are made, and
 * who owns the spool: shared by the server (io/spool_files.c) and the spool
 * tool (prune, verify --salvage --rewrite-index).
 *
 * Owns:
 *  - modes: files get the spool's file mode (--spool-mode, default 0600),
 *    directories the same plus x wherever r is set (0600 -> 0700, 0640 ->
 *    0750), exactly: fchmod after creation, so the umask cannot widen nor
 *    narrow them.  Existing directories are left as they are.
 *  - no symlinks: every file is created with O_CREAT | O_EXCL | O_NOFOLLOW
 *    (a planted symlink is never followed, an existing file never reused);
 *    a file replaced whole is written under NAME.tmp and renamed, and a
 *    stale NAME.tmp (a crash, or something planted) is unlinked first,
 *    never opened.
 *  - the lock: DIR/lock, flock(LOCK_EX | LOCK_NB) held for the owner's
 *    lifetime, the owner's PID written in it.  A second server (or a
 *    prune) sees the lock held and is told the owner's PID; readers never
 *    take it.  The lock file is never removed (removing a flock'ed file
 *    races with the next owner).
 * Every function returns 0 / a descriptor, or -errno.  Blocking calls, at
 * start-up, seal or salvage time only.
 */
#ifndef SMTPSINK_SPOOL_FS_H
#define SMTPSINK_SPOOL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_FS_FILE_MODE_DEFAULT 0600u
#define SPOOL_FS_LOCK_NAME "lock"
#define SPOOL_FS_TMP_SUFFIX ".tmp"

/* "0640" (octal) -> 0640; "0750" (a directory's mode) -> 0640 too.
 * Allowed: owner read and write (0600) plus any read/write bits for group
 * and others; execute bits only where read is (dropped: files get none);
 * no special bits.
 * -EINVAL otherwise. */
int spool_fs_parse_mode(const char *text, uint32_t *file_mode);

/* The directory mode for a file mode: x added wherever r is. */
uint32_t spool_fs_dir_mode(uint32_t file_mode);

/* mkdirat(at, name) with the directory mode for file_mode; 0 if it was
 * made or already exists as a directory (its mode then left alone). */
int spool_fs_mkdir(int at, const char *name, uint32_t file_mode);

/* A new file at/name, O_EXCL | O_NOFOLLOW, exactly file_mode; flags adds
 * O_RDWR or O_WRONLY.  The descriptor or -errno (-EEXIST if anything is
 * there, a symlink included). */
int spool_fs_create(int at, const char *name, uint32_t file_mode, int flags);

/* Write bytes[0..len) whole (EINTR and short writes retried): 0 or
 * -errno (-EIO: the file system took nothing). */
int spool_fs_write_all(int fd, const void *bytes, size_t len);
/* Replace at/name by bytes[0..len): written and fdatasync'ed under
 * name.tmp, renamed, the directory synced. */
int spool_fs_replace(int at, const char *name, const void *bytes, size_t len, uint32_t file_mode);

/* Take dir's lock (creating dir with the directory mode when create, and
 * dir/lock with file_mode when missing) for as long as the returned
 * descriptor stays open.  -EWOULDBLOCK when another process holds it:
 * *owner is then its PID (0 if it has not written it yet). */
int spool_fs_lock(const char *dir, uint32_t file_mode, bool create, long *owner);

#endif
