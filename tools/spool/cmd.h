/*
 * tools/spool/cmd.h - the commands of smtpsink-spool and what main.c hands
 * them.
 *
 * Owns: the command signature.  Each command (cmd_NAME.c) parses its own
 * options (cli.h), does its work through the reader modules and returns an
 * exit code (report.h).  main.c only picks the command.
 */
#ifndef SMTPSINK_SPOOL_CMD_H
#define SMTPSINK_SPOOL_CMD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_SOURCES_MAX 64u /* --spool and --remote options, each */

struct cmd_ctx {
	const char *spool; /* the first --spool DIR (default $SMTPSINK_SPOOL, else ./spool); NULL: --remote only */
	/* Every --spool, in order (spool_set.h), and every --remote URL
	 * (remote.h); only the commands that merge several sources see more
	 * than one spool or any remote (main.c refuses the others). */
	const char *const *spools;
	size_t spool_count;
	const char *const *remotes;
	size_t remote_count;
	volatile sig_atomic_t *stop; /* non-zero once SIGINT/SIGTERM arrived (follow, wait) */
	uint64_t now_us; /* when the command started */
};

/* argv[0] is the command name. */
typedef int (*cmd_fn)(const struct cmd_ctx *ctx, int argc, char **argv);

int cmd_ls(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_show(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_cat(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_export(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_verify(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_stats(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_follow(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_wait(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_prune(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_sessions(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_session(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_text(const struct cmd_ctx *ctx, int argc, char **argv); /* text and html */
int cmd_parts(const struct cmd_ctx *ctx, int argc, char **argv);
int cmd_part(const struct cmd_ctx *ctx, int argc, char **argv);

#endif
