/*
 * tools/spool/cmd_sessions.c - `sessions [--client CIDR] [--quirk NAME]
 * [--fault[=RULE]] [--refused] [--aborted] [--since TIME] [--until TIME]
 * [--limit N] [--summary] [--json]`: the session reports, newest first
 * like ls, one row each, or their totals (session_summary.h); and
 * `session ID`: one whole report.
 *
 * Owns: the session options and the listing loop.  Index entries say
 * which records are sessions (SPOOL_FLAG_SESSION) and when each connected,
 * so messages are skipped without reading them; each candidate session is
 * decoded (and verified: reports are small) through seg_reader_session.
 * Filters: --client is a core/cidr.h range (an IPv4 range also matches
 * IPv4-mapped IPv6 clients), --quirk one quirk name (session_report.h);
 * an unknown name is a usage error listing the valid ones; --fault alone
 * any fault firing, --fault=RULE a named rule whose text equals RULE or
 * matches it as a glob (fnmatch, case-insensitive, like ls's patterns);
 * --refused session_had_refusal(); --aborted an aborted transaction.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "cmd.h"
#include "filter.h"
#include "grow.h"
#include "report.h"
#include "session_find.h"
#include "session_out.h"
#include "session_summary.h"
#include "spool_cli.h"
#include "spool_find.h"
#include "spool_set.h"
#include "spool_walk.h"

struct sessions_run {
	struct filter filter; /* only its time range */
	struct cidr client;
	bool by_client, json;
	bool by_fault, refused, aborted, summary;
	const char *fault_rule; /* with by_fault: a rule's text or glob; NULL: any firing */
	uint32_t quirk; /* 0: any */
	struct session_summary *sum; /* --summary */
	uint64_t limit;
	struct session_view *view; /* ~20 KiB: on the heap */
	struct session_row *rows; /* the listing, sorted once the walk is over */
	size_t count, cap;
	bool failed; /* out of memory */
};

/* One line of output, kept until all are known: the walk's order is only
 * approximate for sessions (spool_walk.c). */
struct session_row {
	uint64_t connect_us;
	char qid[16];
	char *text;
	size_t len;
};

static int row_newer_first(const void *a, const void *b)
{
	const struct session_row *x = a, *y = b;
	if (x->connect_us != y->connect_us)
		return x->connect_us > y->connect_us ? -1 : 1;
	return -memcmp(x->qid, y->qid, sizeof x->qid);
}

/* Sort the rows newest first and keep the newest keep of them. */
static void sort_rows(struct sessions_run *run, size_t keep)
{
	qsort(run->rows, run->count, sizeof *run->rows, row_newer_first);
	for (size_t i = keep; i < run->count; i++)
		free(run->rows[i].text);
	if (keep < run->count)
		run->count = keep;
}

static bool keep_row(struct sessions_run *run, const struct spool_index_entry *e)
{
	if (run->limit != 0 && run->count >= 2 * run->limit)
		sort_rows(run, run->limit); /* --limit N holds at most 2N rows */
	if (!grow_array((void **)&run->rows, &run->cap, run->count + 1, sizeof *run->rows, 256))
		return false;
	struct session_row *row = &run->rows[run->count];
	FILE *f = open_memstream(&row->text, &row->len);
	if (f == NULL)
		return false;
	session_out_row(f, run->view, run->json);
	if (fclose(f) != 0)
		return false;
	row->connect_us = e->received_us;
	memcpy(row->qid, e->qid, sizeof row->qid);
	run->count++;
	return true;
}

static void print_rows(struct sessions_run *run)
{
	sort_rows(run, run->limit != 0 && run->limit < run->count ? run->limit : run->count);
	for (size_t i = 0; i < run->count; i++) {
		fwrite(run->rows[i].text, 1, run->rows[i].len, stdout);
		free(run->rows[i].text);
	}
	free(run->rows);
}

/* Did a rule named like run->fault_rule fire (any firing without one)? */
static bool fault_matches(const struct sessions_run *run, const struct session_report *rep)
{
	if (run->fault_rule == NULL)
		return rep->faults > 0;
	for (uint32_t i = 0; i < rep->fault_rule_count; i++) {
		char text[SESSION_REPORT_FAULT_TEXT_MAX + 1];
		struct smtp_view v = rep->fault_rules[i].rule;
		memcpy(text, v.ptr, v.len); /* decoding checked len <= the maximum */
		text[v.len] = '\0';
		if (strcmp(text, run->fault_rule) == 0 || fnmatch(run->fault_rule, text, FNM_CASEFOLD) == 0)
			return true;
	}
	return false;
}

/* The filters other than time (the walk's range). */
static bool selected(const struct sessions_run *run, const struct session_report *rep)
{
	if (run->by_client && !cidr_match(&run->client, rep->client_family, rep->client_addr))
		return false;
	if (run->quirk && !(rep->quirks & run->quirk))
		return false;
	if (run->by_fault && !fault_matches(run, rep))
		return false;
	if (run->refused && !session_had_refusal(rep))
		return false;
	return !run->aborted || rep->txn_aborted > 0;
}

static int sessions_one(void *arg, size_t src, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct sessions_run *run = arg;
	enum msg_status st = seg_reader_session(r, e, run->view);
	if (st != MSG_OK) {
		spool_walk_warn_record(r, e, msg_status_text(st));
		return 0;
	}
	const struct session_report *rep = &run->view->img.r;
	if (!selected(run, rep))
		return 0;
	if (run->summary ? !session_summary_add(run->sum, rep) : !keep_row(run, e)) {
		run->failed = true;
		return 1;
	}
	return 0;
}

static void list_quirks(void)
{
	fprintf(stderr, "valid quirks:");
	for (unsigned bit = 0; bit < 32; bit++)
		if (session_quirk_name(1u << bit))
			fprintf(stderr, " %s", session_quirk_name(1u << bit));
	fputc('\n', stderr);
}

/* --client, --quirk, --limit with --summary; 0, or -1 after saying what is wrong. */
static int compile(struct sessions_run *run, const char *client, const char *quirk)
{
	if (run->summary && run->limit != 0) {
		report_error("sessions: --summary totals every session selected: use --since/--until, not --limit");
		return -1;
	}
	if (client != NULL) {
		if (!cidr_parse(client, &run->client)) {
			report_error("sessions: --client '%s': not an address or range (10.0.0.0/8, 2001:db8::/32, "
				     "127.0.0.1)",
				     client);
			return -1;
		}
		run->by_client = true;
	}
	if (quirk != NULL && (run->quirk = session_quirk_parse(quirk)) == 0) {
		report_error("sessions: --quirk '%s': no such quirk", quirk);
		list_quirks();
		return -1;
	}
	return 0;
}

static int sessions_walk(const struct cmd_ctx *ctx, struct sessions_run *run)
{
	struct spool_set set;
	int e = spool_set_open(&set, ctx);
	if (e != SPOOL_EXIT_OK)
		return e;
	run->view = malloc(sizeof *run->view);
	if (run->view == NULL) {
		spool_set_close(&set);
		report_error("sessions: out of memory");
		return SPOOL_EXIT_IO;
	}
	if (!run->json && !run->summary && isatty(STDOUT_FILENO))
		session_out_header(stdout);
	run->filter.range.sessions = true;
	e = spool_walk(set.dirs, set.count, &run->filter.range, sessions_one, run);
	spool_set_close(&set);
	free(run->view);
	if (run->summary && e >= 0 && !run->failed)
		session_summary_print(stdout, run->sum, run->json);
	print_rows(run);
	if (e < 0 || run->failed) {
		report_error("sessions: %s", run->failed ? "out of memory" : strerror(-e));
		return SPOOL_EXIT_IO;
	}
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}

/* --fault alone or --fault=RULE. */
static const char *parse_fault(const struct cli_opt *o, const char *v)
{
	struct sessions_run *run = o->dest;
	if (v != NULL && *v == '\0')
		return "an empty rule (--fault alone: any rule)";
	run->by_fault = true;
	run->fault_rule = v;
	return NULL;
}

/* The options of `sessions`, into run (and fa, client, quirk). */
static void sessions_cli(struct cli *c, struct sessions_run *run, struct filter_args *fa, const char **client,
			 const char **quirk)
{
	spool_cli_init(c, "sessions", NULL, "List session reports, newest first, or total them (--summary).");
	cli_add(c, cli_string("client", client, "CIDR", "client address in this range (10.0.0.0/8, ::1)"));
	cli_add(c, cli_string("quirk", quirk, "NAME", "sessions with this quirk (rset-for-data, pregreet, ...)"));
	cli_add(c,
		cli_optional(cli_custom("fault", parse_fault, run, NULL, "RULE",
					"a fault rule fired (=RULE: one whose text is RULE or matches it, a glob)")));
	cli_add(c, cli_flag("refused", &run->refused, "the server refused a message, RCPT, MAIL or command"));
	cli_add(c, cli_flag("aborted", &run->aborted, "a transaction was aborted (RSET, QUIT, disconnect, ...)"));
	filter_cli_times(c, fa, "connected");
	cli_add(c, cli_u64("limit", &run->limit, 0, UINT64_MAX, "N", "at most N sessions (default: all)"));
	cli_add(c, cli_flag("summary", &run->summary, "totals by outcome, closing, quirk, fault rule, client"));
	cli_add(c, cli_flag("json", &run->json, "one JSON object per line (docs/SPOOL-TOOL.md)"));
}

int cmd_sessions(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct sessions_run run = { 0 };
	struct filter_args fa = { 0 };
	const char *client = NULL, *quirk = NULL;
	struct cli c;
	sessions_cli(&c, &run, &fa, &client, &quirk);
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (filter_compile(&run.filter, &fa, ctx->now_us) != 0 || compile(&run, client, quirk) != 0)
		return SPOOL_EXIT_USAGE;
	if (run.summary && (run.sum = session_summary_new()) == NULL) {
		report_error("sessions: out of memory");
		return SPOOL_EXIT_IO;
	}
	rc = sessions_walk(ctx, &run);
	session_summary_free(run.sum);
	return rc;
}

/* ---- session ID ---------------------------------------------------------- */

static int show_session(const struct spool_dir *d, const char *id, bool json)
{
	struct session_view *v = malloc(sizeof *v);
	const char *why = "out of memory";
	struct seg_reader r;
	int rc = v != NULL ? session_find(d, id, v, &r, &why) : SESSION_DAMAGED;
	switch (rc) {
	case SESSION_FOUND:
		if (json)
			session_out_json(stdout, v);
		else
			session_out_report(stdout, v);
		seg_reader_close(&r);
		rc = fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
		break;
	case SESSION_BAD_ID:
		report_error("session: '%s' is not a session ID (14 characters 0-9A-Za-z)", id);
		rc = SPOOL_EXIT_USAGE;
		break;
	case SESSION_NOT_FOUND:
	case SESSION_IS_MESSAGE:
		report_error("session: no session %s in %s%s", id, d->path,
			     rc == SESSION_IS_MESSAGE ? " (it is a message: smtpsink-spool show ID)" : "");
		rc = SPOOL_EXIT_NOT_FOUND;
		break;
	case SESSION_DAMAGED:
		report_error("session: %s: %s", id, why);
		rc = SPOOL_EXIT_NOT_FOUND;
		break;
	default:
		report_error("session: %s: %s", id, strerror(-rc));
		rc = SPOOL_EXIT_IO;
	}
	free(v);
	return rc;
}

int cmd_session(const struct cmd_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	const char *id[1];
	size_t npos;
	struct cli c;
	spool_cli_init(&c, "session", "ID", "Show one session report: commands, transactions, gaps, quirks.");
	cli_add(&c, cli_flag("json", &json, "one JSON object (the sessions --json object)"));
	int rc = cli_parse(&c, argc, argv, id, 1, &npos);
	if (rc != 0 || npos != 1) {
		if (rc == 0)
			report_error("session: which session? (session ID)");
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	}
	struct spool_dir d;
	int e = spool_dir_open(&d, ctx->spool);
	if (e != 0)
		return report_spool_open(ctx->spool, e);
	rc = show_session(&d, id[0], json);
	spool_dir_close(&d);
	return rc;
}
