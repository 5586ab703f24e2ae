/*
 * tools/spool/marks_deleted.h - which messages the marks log deleted
 * (SPOOL/marks/marks.log, docs/SPOOL-FORMAT.md "Marks log"), for prune
 * --deleted.
 *
 * Owns: replaying the log read-only (index/mail_marks.h: nothing created,
 * a torn tail ignored) into a sorted set of deleted queue IDs and the
 * time of the latest "delete everything received up to T" mark.  A
 * deletion is never undone (no mark type undeletes), so the set only
 * grows in log order.  Does not know segments (prune_deleted.c does).
 * Workload: one replay per prune; 16 bytes per deleted message.
 */
#ifndef SMTPSINK_MARKS_DELETED_H
#define SMTPSINK_MARKS_DELETED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct marks_deleted {
	char (*qids)[16]; /* NUL-padded, sorted after marks_deleted_load */
	size_t count, cap;
	uint64_t all_through_us; /* every message received at or before it is deleted; 0: none */
	bool any_all; /* a delete-everything mark was seen */
};

/* Replay SPOOL/marks/marks.log of the spool at spool_path into *d: 0 (no
 * log is no deletion) or -errno. */
int marks_deleted_load(struct marks_deleted *d, const char *spool_path);
void marks_deleted_free(struct marks_deleted *d);

/* Is the message with queue ID qid (an index entry's: NUL-padded 16 bytes)
 * received at received_us deleted? */
bool marks_deleted_has(const struct marks_deleted *d, const char qid[16], uint64_t received_us);

#endif
