/*
 * tools/spool/spool_find.h - finding one message by queue ID.
 *
 * Owns: the lookup path.  A queue ID names its shard and its time
 * (core/queue_id.h), so only that shard is searched: its segments newest
 * first, skipping those created after the ID's time on a first pass
 * (a message is never older than its segment), each sealed one by binary
 * search in its index, the open one by its scan.  A second pass searches
 * the skipped segments, in case the server's clock stepped back.
 */
#ifndef SMTPSINK_SPOOL_FIND_H
#define SMTPSINK_SPOOL_FIND_H

#include "seg_reader.h"
#include "spool_dir.h"

enum spool_find_result {
	SPOOL_FIND_FOUND = 0,
	SPOOL_FIND_NOT_FOUND = 1,
	SPOOL_FIND_BAD_ID = 2, /* not a queue ID */
};

/* FOUND with *r open (close it) and *e its entry, NOT_FOUND, BAD_ID, or
 * -errno. */
int spool_find(const struct spool_dir *d, const char *qid, struct seg_reader *r, struct spool_index_entry *e);

/* Find qid and decode its record, verified; prints what went wrong and
 * returns the exit code (SPOOL_EXIT_OK with *r open on success).  A
 * session report's ID is not a message: NOT_FOUND, naming `session`. */
int spool_find_msg(const struct spool_dir *d, const char *cmd, const char *qid, struct seg_reader *r, struct msg *m);

/* Say that qid is not a queue ID; returns SPOOL_EXIT_USAGE. */
int spool_find_bad_id(const char *cmd, const char *qid);

/* The checks after a FOUND (a session report is not a message; the record
 * must verify), *r open from spool_find: SPOOL_EXIT_OK with *m decoded and
 * *r still open, or the exit code after saying why (*r closed). */
int spool_find_decode(const char *cmd, const char *qid, struct seg_reader *r, const struct spool_index_entry *e,
		      struct msg *m);

#endif
