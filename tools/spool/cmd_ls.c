/*
 * tools/spool/cmd_ls.c - `ls`: messages newest first, filtered.
 *
 * Owns: the ls options and the listing loop.  Reads the index of sealed
 * segments and the metadata of each candidate; the body only for the
 * Subject (its first header block), and not at all with --no-subject.
 * Stops as soon as --limit rows are printed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "filter.h"
#include "report.h"
#include "spool_cli.h"
#include "spool_walk.h"
#include "text_out.h"

struct ls_run {
	struct filter filter;
	uint64_t limit, shown; /* limit 0: all */
	bool json, no_subject;
};

static int ls_one(void *arg, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct ls_run *run = arg;
	struct msg m;
	if (filter_select(&run->filter, r, e, !run->no_subject, &m) != FILTER_YES)
		return 0;
	text_out_row(stdout, &m, run->json);
	run->shown++;
	return run->limit != 0 && run->shown >= run->limit ? 1 : 0;
}

int cmd_ls(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct ls_run run = { 0 };
	struct filter_args fa = { 0 };
	struct cli c;
	spool_cli_init(&c, "ls", NULL, "List messages, newest first.");
	filter_cli(&c, &fa);
	cli_add(&c, cli_u64("limit", &run.limit, 0, UINT64_MAX, "N", "at most N messages (default: all)"));
	cli_add(&c, cli_flag("json", &run.json, "one JSON object per line (docs/SPOOL-TOOL.md)"));
	cli_add(&c, cli_flag("no-subject", &run.no_subject, "do not read Subjects (faster; JSON subject null)"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (filter_compile(&run.filter, &fa, ctx->now_us) != 0)
		return SPOOL_EXIT_USAGE;
	struct spool_dir d;
	int e = spool_dir_open(&d, ctx->spool);
	if (e != 0)
		return report_spool_open(ctx->spool, e);
	if (!run.json && isatty(STDOUT_FILENO))
		text_out_ls_header(stdout);
	e = spool_walk(&d, &run.filter.range, ls_one, &run);
	spool_dir_close(&d);
	if (e < 0) {
		report_error("ls: %s", strerror(-e));
		return SPOOL_EXIT_IO;
	}
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}
