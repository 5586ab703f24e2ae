/*
 * tools/spool/cmd_follow.c - `follow [filters] [--json]`: print messages as
 * they arrive, like `tail -f`, until SIGINT or SIGTERM (exit 0).
 *
 * Owns: the follow loop: a spool_tail poll every POLL_FOLLOW_MS, the
 * filters, one row per message, stdout flushed after each poll so a pipe
 * reader sees rows at once.  Rotation, sealing and a spool directory that
 * does not exist yet are the tail's business (spool_tail.c).  With
 * --existing it first prints what is already there, oldest first.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "filter.h"
#include "poll_sleep.h"
#include "report.h"
#include "spool_cli.h"
#include "spool_tail.h"
#include "text_out.h"

struct follow_run {
	struct filter filter;
	bool json, no_subject;
};

static int follow_one(void *arg, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct follow_run *run = arg;
	struct msg m;
	if (filter_select(&run->filter, r, e, !run->no_subject, &m) == FILTER_YES)
		text_out_row(stdout, &m, run->json, NULL);
	return 0;
}

static int follow_loop(const struct cmd_ctx *ctx, struct follow_run *run, bool existing)
{
	struct spool_tail t;
	spool_tail_init(&t, ctx->spool, existing);
	int rc = SPOOL_EXIT_OK;
	bool said_missing = false;
	while (!*ctx->stop) {
		int e = spool_tail_poll(&t, follow_one, run);
		if (e < 0) {
			report_error("follow: %s", strerror(-e));
			rc = SPOOL_EXIT_IO;
			break;
		}
		if (!spool_tail_found(&t) && !said_missing) {
			report_warning("spool directory '%s' does not exist yet: waiting for it", ctx->spool);
			said_missing = true;
		}
		if (fflush(stdout) != 0) {
			rc = errno == EPIPE ? SPOOL_EXIT_OK : SPOOL_EXIT_IO; /* the reader went away */
			break;
		}
		poll_sleep(POLL_FOLLOW_MS, ctx->stop);
	}
	spool_tail_close(&t);
	return rc;
}

int cmd_follow(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct follow_run run = { 0 };
	struct filter_args fa = { 0 };
	bool existing = false;
	struct cli c;
	spool_cli_init(&c, "follow", NULL, "Print messages as they arrive, until interrupted.");
	filter_cli(&c, &fa);
	cli_add(&c, cli_flag("json", &run.json, "one JSON object per line"));
	cli_add(&c, cli_flag("no-subject", &run.no_subject, "do not read Subjects"));
	cli_add(&c, cli_flag("existing", &existing, "first print the messages already there, oldest first"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (filter_compile(&run.filter, &fa, ctx->now_us) != 0)
		return SPOOL_EXIT_USAGE;
	return follow_loop(ctx, &run, existing);
}
