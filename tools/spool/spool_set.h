/*
 * tools/spool/spool_set.h - every source a command reads, open at once:
 * each --spool directory and each --remote node, for the commands that
 * merge several nodes (docs/SCALE-OUT.md).
 *
 * Owns: opening the directories and nodes in the order given, refusing a
 * directory given twice (the same one under two names: every message
 * would be listed twice), the sources' names in messages and in "source"
 * fields, and closing them.  Does not merge anything: spool_walk.h does,
 * over dirs[0..count); cmd_ls.c adds the nodes' rows.
 */
#ifndef SMTPSINK_SPOOL_SET_H
#define SMTPSINK_SPOOL_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "remote.h"
#include "spool_dir.h"

struct cmd_ctx;

struct spool_set {
	struct spool_dir *dirs; /* count of them, malloc'ed */
	size_t count;
	struct remote *remotes; /* remote_count of them, malloc'ed */
	size_t remote_count;
};

/* Open ctx's spools and nodes: SPOOL_EXIT_OK, or the exit code after
 * saying what is wrong (nothing is left open then). */
int spool_set_open(struct spool_set *s, const struct cmd_ctx *ctx);
void spool_set_close(struct spool_set *s);

/* More than one source: listings name each row's ("source"). */
static inline bool spool_set_merged(const struct spool_set *s)
{
	return s->count + s->remote_count > 1;
}

/* Source src's name: a spool's path (src < count), else a node's URL
 * without credentials. */
const char *spool_set_name(const struct spool_set *s, size_t src);

#endif
