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

struct cli;
struct cmd_ctx;

/* The commands that take one queue ID (show, cat): parse argv with c's
 * options and one positional ID, open the spool, find the message, run
 * act on it, close everything.  Returns the exit status. */
int spool_with_msg(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv,
		   int (*act)(void *arg, struct msg *m), void *arg);

#define SPOOL_WITH_MSG_ARGS_MAX 2u /* positionals after the ID (part ID N) */

/* The same with nrest more positionals after the ID, all required, put in
 * rest[0..nrest) before act runs (c's args names them: "ID N"). */
int spool_with_msg_args(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv, const char **rest,
			size_t nrest, int (*act)(void *arg, struct msg *m), void *arg);

#endif
