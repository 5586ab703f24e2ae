/*
 * tools/spool/cli.h - a command's options, from one table.
 *
 * Owns: parsing "--name value", "--name=value" and flags against a table,
 * positional arguments, "--" and the per-command --help text generated
 * from the same table, so help and parser cannot disagree.  Errors name
 * the option; the caller exits SPOOL_EXIT_USAGE.
 */
#ifndef SMTPSINK_SPOOL_CLI_H
#define SMTPSINK_SPOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_kind {
	CLI_FLAG, /* dest: bool */
	CLI_STRING, /* dest: const char * */
	CLI_U64, /* dest: uint64_t, decimal */
};

struct cli_opt {
	const char *name; /* without "--" */
	enum cli_kind kind;
	void *dest;
	const char *arg; /* argument name in the help, NULL for flags */
	const char *help;
};

#define CLI_OPTS_MAX 24u

struct cli_cmd {
	const char *name; /* "ls" */
	const char *args; /* positional part of the synopsis, "" if none */
	const char *about; /* one line */
	struct cli_opt opts[CLI_OPTS_MAX];
	size_t opt_count;
};

/* Append an option to c's table. */
void cli_add(struct cli_cmd *c, const char *name, enum cli_kind kind, void *dest, const char *arg, const char *help);

/* Parse argv[1..argc) (argv[0] is the command name).  Positionals go to
 * pos (at most max_pos; more is an error).  Returns 0, 1 after printing
 * the help (--help), or -1 after printing the error. */
int cli_parse(const struct cli_cmd *c, int argc, char **argv, const char **pos, size_t max_pos, size_t *npos);

void cli_usage(const struct cli_cmd *c, FILE *f);

#endif
