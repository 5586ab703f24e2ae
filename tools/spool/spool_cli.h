/*
 * tools/spool/spool_cli.h - a command's option table for the one parser
 * (cli/cli.h).
 *
 * Owns: what every smtpsink-spool command's table shares: the program's
 * name and global option in the synopsis, the help layout, and errors
 * printed through report.h ("smtpsink-spool: ls: --limit x: ...").  Each
 * command adds its own rows (cmd_NAME.c, filter.c) and exits
 * SPOOL_EXIT_USAGE when cli_parse() refuses.
 */
#ifndef SMTPSINK_SPOOL_CLI_H
#define SMTPSINK_SPOOL_CLI_H

#include "cli.h"

/* An empty table for command (args: its positionals in the synopsis, or
 * NULL; about: one line). */
void spool_cli_init(struct cli *c, const char *command, const char *args, const char *about);

#endif
