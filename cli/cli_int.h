/*
 * cli/cli_int.h - what cli/'s files share and no program uses: finding a
 * row, storing a value through it, walking the options of an argv, and
 * the pieces of a row's line that --help and the man page both show.
 *
 * Invariants: the walk and the parser agree on which argument is an
 * option and which is an option's value (both ask cli_takes_value()).
 */
#ifndef SMTPSINK_CLI_INT_H
#define SMTPSINK_CLI_INT_H

#include "cli.h"

#define CLI_LEFT_MAX 128u /* "--name ARG" of one row */
#define CLI_DEFAULT_MAX 64u /* a default's text */

/* The row called name (len bytes, not NUL-terminated), or NULL. */
const struct cli_opt *cli_find(const struct cli *c, const char *name, size_t len);
/* Store v (NULL for a flag) through o: NULL, or why not. */
const char *cli_apply(const struct cli_opt *o, const char *v);
/* The next option of argv after *i, before "--" ("-h" counts; a value
 * taken by its option is skipped): true with *i at it, false at the end.
 * Start with *i = 0. */
bool cli_argv_next(const struct cli *c, int argc, char **argv, int *i);
/* Is "--name" (or "--name=...") on the command line? */
bool cli_argv_has(const struct cli *c, int argc, char **argv, const char *name);

/* Read the CLI_CONFIG row's file (argv's --config FILE, if any) and apply
 * its keys that the command line does not give: 0 or -1 (reported). */
int cli_config_apply(const struct cli *c, int argc, char **argv);

/* "--name ARG" (enum words for ARG); the default shown (false: none). */
void cli_help_left(const struct cli_opt *o, char *out, size_t len);
bool cli_help_default(const struct cli_opt *o, char *out, size_t len);
/* Does the table have size (CLI_SIZE) or duration rows? */
bool cli_help_has(const struct cli *c, enum cli_kind kind);

/* How sizes and durations may be written (the note under the options). */
#define CLI_NOTE_BYTES                                                                                      \
	"BYTES: a number of bytes, or with K, M, G, T (or KiB, MiB, GiB, TiB: powers of 1024): 512K, 10M, " \
	"1G."
#define CLI_NOTE_SECS "SECS, MS: a number of seconds (milliseconds), or with ms, s, m, h, d: 500ms, 30s, 5m, 2h, 1d."

#endif
