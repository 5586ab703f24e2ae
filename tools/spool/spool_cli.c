/*
 * tools/spool/spool_cli.c - the commands' option tables (spool_cli.h).
 */
#include "spool_cli.h"

#include "report.h"

#define SPOOL_CLI_HELP_COL 24 /* width of the options column in --help */

static void report_line(const char *line)
{
	report_error("%s", line);
}

void spool_cli_init(struct cli *c, const char *command, const char *args, const char *about)
{
	*c = (struct cli){ .prog = REPORT_PROG, .global = "[--spool DIR]", .help_col = SPOOL_CLI_HELP_COL };
	c->report = report_line;
	c->command = command;
	c->args = args;
	c->about = about;
}
