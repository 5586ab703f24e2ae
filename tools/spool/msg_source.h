/*
 * tools/spool/msg_source.h - the commands that take one queue ID (show,
 * cat, text, html, parts, part): parse their command line, find the
 * message among every --spool and --remote node, run the command on it.
 *
 * Owns: the search over sources (each spool by spool_find.h, then each
 * node through its API) and what happens when the ID is in two of them:
 * an error naming both (IDs are unique per node, --node-id, so two copies
 * mean two nodes share an ID or a spool was copied; which one was meant
 * is not guessed).  A message on a node reaches raw_act as its bytes only:
 * the API carries no envelope (remote_list.h).
 */
#ifndef SMTPSINK_SPOOL_MSG_SOURCE_H
#define SMTPSINK_SPOOL_MSG_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct cli;
struct cmd_ctx;

#define MSG_SOURCE_ARGS_MAX 2u /* positionals after the ID (part ID N) */

/* What to do with the message found: act with a spool's message; raw_act
 * with a node's bytes (qid, the bytes, the node's URL), or NULL when the
 * command cannot read nodes.  Each returns the exit status. */
struct msg_source_acts {
	int (*act)(void *arg, struct msg *m);
	int (*raw_act)(void *arg, const char *qid, const uint8_t *raw, size_t len, const char *node);
	void *arg;
};

/* Parse argv with c's options, one positional ID and nrest more (all
 * required, put in rest[0..nrest) first; c's args names them: "ID N"),
 * find the message, run the act.  Returns the exit status. */
int msg_source_with_args(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv, const char **rest,
			 size_t nrest, const struct msg_source_acts *acts);
/* The same with the ID alone. */
int msg_source_with(const struct cmd_ctx *ctx, struct cli *c, int argc, char **argv,
		    const struct msg_source_acts *acts);

#endif
