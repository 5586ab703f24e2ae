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
#include "remote_list.h"
#include "report.h"
#include "spool_cli.h"
#include "spool_set.h"
#include "spool_walk.h"
#include "text_out.h"

struct ls_run {
	struct filter filter;
	uint64_t limit, shown; /* limit 0: all */
	bool json, no_subject;
	const struct spool_set *set;
	struct remote_rows rows; /* the nodes' rows, newest first */
	size_t next_row;
};

/* Whether the listing is full. */
static bool ls_full(const struct ls_run *run)
{
	return run->limit != 0 && run->shown >= run->limit;
}

/* Print the nodes' rows newer than (received_us, qid) (all of them:
 * received_us 0 and qid ""), as far as the limit allows. */
static void ls_rows_before(struct ls_run *run, uint64_t received_us, const char *qid)
{
	while (!ls_full(run) && run->next_row < run->rows.n) {
		const struct remote_row *row = &run->rows.v[run->next_row];
		if (!remote_row_newer(row, received_us, qid))
			return;
		run->next_row++;
		if (!filter_select_remote(&run->filter, row))
			continue;
		remote_row_print(stdout, row, run->json, spool_set_name(run->set, run->set->count + row->src));
		run->shown++;
	}
}

static int ls_one(void *arg, size_t src, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct ls_run *run = arg;
	struct msg m;
	if (filter_select(&run->filter, r, e, !run->no_subject, &m) != FILTER_YES)
		return 0;
	ls_rows_before(run, e->received_us, e->qid);
	if (ls_full(run))
		return 1;
	text_out_row(stdout, &m, run->json, spool_set_merged(run->set) ? spool_set_name(run->set, src) : NULL);
	run->shown++;
	return ls_full(run) ? 1 : 0;
}

/* Every node's list into run->rows, sorted; SPOOL_EXIT_OK or the code. */
static int ls_fetch(struct ls_run *run, struct spool_set *set, const struct filter_args *fa)
{
	if (set->remote_count == 0)
		return SPOOL_EXIT_OK;
	if (fa->from != NULL || fa->to != NULL) {
		report_error(
			"ls: --from and --to match the envelope, which --remote nodes do not send (docs/SCALE-OUT.md)");
		return SPOOL_EXIT_USAGE;
	}
	/* a time window or a Subject pattern is applied here: then ask for all */
	bool all = fa->since != NULL || fa->until != NULL || fa->subject != NULL;
	for (size_t i = 0; i < set->remote_count; i++)
		if (remote_list(&set->remotes[i], i, all ? 0 : run->limit, &run->rows) != 0)
			return SPOOL_EXIT_IO;
	remote_rows_sort(&run->rows);
	return SPOOL_EXIT_OK;
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
	struct spool_set set;
	rc = spool_set_open(&set, ctx);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	run.set = &set;
	rc = ls_fetch(&run, &set, &fa);
	if (rc == SPOOL_EXIT_OK && !run.json && isatty(STDOUT_FILENO))
		text_out_ls_header(stdout);
	int e = rc == SPOOL_EXIT_OK ? spool_walk(set.dirs, set.count, &run.filter.range, ls_one, &run) : 0;
	if (e >= 0 && rc == SPOOL_EXIT_OK)
		ls_rows_before(&run, 0, "");
	remote_rows_free(&run.rows);
	spool_set_close(&set);
	if (e < 0) {
		report_error("ls: %s", strerror(-e));
		return SPOOL_EXIT_IO;
	}
	if (rc != SPOOL_EXIT_OK)
		return rc;
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}
