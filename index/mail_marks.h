/*
 * index/mail_marks.h - the marks log, SPOOL/marks/marks.log: read flags,
 * tags and deletions, the source of truth the index mirrors (records:
 * core/mail_marks_format.h; docs/SPOOL-FORMAT.md, "Marks log").
 *
 * Owns: the file.  It is created with the spool's file mode (that of the
 * spool directory with the execute bits dropped: io/spool_fs.h's rules),
 * O_EXCL | O_NOFOLLOW, its directory with the directory mode; it is only
 * ever appended to, and every append is fdatasync'ed before it returns,
 * so a mark the API acknowledged survives a crash.  Replay reads the whole
 * log in order; a torn tail (a record cut short or failing its checksum at
 * the end: the append that a crash interrupted) is ignored and cut off, so
 * the next append starts at a record boundary.  Appends and the replay's
 * cut hold an exclusive flock on the log, so a replay never cuts a record
 * being appended by another connection.
 * Does not know what a mark does to the index (mail_index.c).
 * Workload: an append per API call that changes marks; a replay per index
 * open (tens of bytes per mark).
 */
#ifndef SMTPSINK_MAIL_MARKS_H
#define SMTPSINK_MAIL_MARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail_marks_format.h"

#define MAIL_MARKS_DIR "marks"
#define MAIL_MARKS_FILE "marks.log"

struct mail_marks {
	int dir_fd; /* SPOOL/marks */
	int fd; /* marks.log, O_APPEND (read-only: O_RDONLY) */
	bool read_only; /* mail_marks_open_read: replay never cuts */
};

/* The spool's file mode (io/spool_fs.h): its directory's read and write
 * bits, execute bits dropped, at least 0600.  For the files the index
 * makes beside the spool (the marks log, the index directory). */
uint32_t mail_marks_file_mode(int spool_fd);

/* Open (creating when missing) the marks log of the spool at spool_path:
 * 0 or -errno. */
int mail_marks_open(struct mail_marks *mk, const char *spool_path);
/* Open an existing marks log only to replay it (smtpsink-spool prune):
 * nothing is created, and a torn tail is ignored, not cut.  0, -ENOENT
 * (no log: no marks) or -errno. */
int mail_marks_open_read(struct mail_marks *mk, const char *spool_path);
void mail_marks_close(struct mail_marks *mk);

/* Append marks[0, n) with one write and one fdatasync: 0, -EINVAL (an
 * invalid mark: nothing written) or -errno. */
int mail_marks_append(struct mail_marks *mk, const struct mail_mark *marks, size_t n);

/* Call fn for every record from offset `from` (a record boundary: 0, or
 * the end of a record replayed before) in order, pos being its offset and
 * len its length; a torn tail is cut off.  Returns 0, fn's non-zero value,
 * -ERANGE if the log is now shorter than `from` (it was cut or replaced:
 * replay from 0), or -errno. */
typedef int (*mail_marks_fn)(void *arg, const struct mail_mark *m, uint64_t pos, size_t len);
int mail_marks_replay(struct mail_marks *mk, uint64_t from, mail_marks_fn fn, void *arg);

#endif
