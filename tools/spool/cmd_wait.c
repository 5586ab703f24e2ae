/*
 * tools/spool/cmd_wait.c - `wait [--to PAT] [--from PAT] [--subject PAT]
 * [--count N] [--timeout SECS] [--existing]`: the one-line assertion of a
 * CI script.  Exit 0 as soon as N matching messages have arrived, 1 on
 * timeout or interruption.
 *
 * What counts: messages that arrive after wait started (so a script can
 * start it, then send, without earlier runs' mail satisfying it); with
 * --existing, matching messages already in the spool count too.  Each
 * matching message is printed as an ls row (or JSON with --json) unless
 * --quiet, so the script can take its queue ID.
 *
 * Owns: the deadline (CLOCK_MONOTONIC) and the count.  Polls every
 * POLL_WAIT_MS through spool_tail.c; a spool directory that does not exist
 * yet (the server is still starting) is waited for too.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "filter.h"
#include "poll_sleep.h"
#include "report.h"
#include "spool_cli.h"
#include "spool_tail.h"
#include "text_out.h"

#define WAIT_DEFAULT_TIMEOUT_S 30u
#define MS_PER_S 1000u

struct wait_run {
	struct filter filter;
	uint64_t want, got;
	bool json, quiet;
};

static int wait_one(void *arg, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct wait_run *run = arg;
	struct msg m;
	if (filter_select(&run->filter, r, e, !run->quiet, &m) != FILTER_YES)
		return 0;
	if (!run->quiet)
		text_out_row(stdout, &m, run->json, NULL);
	return ++run->got >= run->want ? 1 : 0;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_loop(const struct cmd_ctx *ctx, struct wait_run *run, uint64_t timeout_s, bool existing)
{
	struct spool_tail t;
	spool_tail_init(&t, ctx->spool, existing);
	uint64_t deadline = monotonic_ms() + timeout_s * MS_PER_S;
	int rc = SPOOL_EXIT_NOT_FOUND;
	for (;;) {
		int e = spool_tail_poll(&t, wait_one, run);
		fflush(stdout);
		if (e < 0) {
			report_error("wait: %s", strerror(-e));
			rc = SPOOL_EXIT_IO;
			break;
		}
		if (run->got >= run->want) {
			rc = SPOOL_EXIT_OK;
			break;
		}
		uint64_t now = monotonic_ms();
		if (*ctx->stop || (timeout_s != 0 && now >= deadline)) {
			report_error("wait: %s after %.1f s: %llu of %llu matching message(s) arrived%s",
				     *ctx->stop ? "interrupted" : "timed out",
				     (double)(now + timeout_s * MS_PER_S - deadline) / MS_PER_S,
				     (unsigned long long)run->got, (unsigned long long)run->want,
				     spool_tail_found(&t) ? "" : " (the spool directory does not exist)");
			break;
		}
		uint64_t left = timeout_s != 0 ? deadline - now : POLL_WAIT_MS;
		poll_sleep(left < POLL_WAIT_MS ? left : POLL_WAIT_MS, ctx->stop);
	}
	spool_tail_close(&t);
	return rc;
}

int cmd_wait(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct wait_run run = { 0 };
	struct filter_args fa = { 0 };
	uint64_t timeout_s = WAIT_DEFAULT_TIMEOUT_S;
	bool existing = false;
	run.want = 1;
	struct cli c;
	spool_cli_init(&c, "wait", NULL, "Wait until matching mail arrives: exit 0, or 1 on timeout.");
	filter_cli_patterns(&c, &fa);
	cli_add(&c, cli_u64("count", &run.want, 0, UINT64_MAX, "N", "wait for N matching messages"));
	cli_add(&c, cli_duration64("timeout", &timeout_s, CLI_SECONDS, 0, UINT64_MAX / CLI_SECONDS, "SECS",
				   "give up after SECS, exit 1; 0: never"));
	cli_add(&c, cli_flag("existing", &existing, "count matching messages already in the spool too"));
	cli_add(&c, cli_flag("json", &run.json, "print each matching message as a JSON line"));
	cli_add(&c, cli_flag("quiet", &run.quiet, "print nothing; the exit status says it"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (run.want == 0) {
		report_error("wait: --count must be at least 1");
		return SPOOL_EXIT_USAGE;
	}
	if (filter_compile(&run.filter, &fa, ctx->now_us) != 0)
		return SPOOL_EXIT_USAGE;
	return wait_loop(ctx, &run, timeout_s, existing);
}
