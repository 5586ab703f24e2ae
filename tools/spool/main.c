/*
 * tools/spool/main.c - smtpsink-spool: find, read, export and verify the
 * mail an smtpsink server captured (docs/SPOOL-TOOL.md).
 *
 * Owns: the global options --spool DIR and --remote URL (repeatable,
 * accepted before or after the command), which commands read several
 * sources at once (docs/SCALE-OUT.md), the command table, and the
 * SIGINT/SIGTERM flag for the commands that run until interrupted.
 * Wiring only: each command lives in cmd_NAME.c.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "report.h"
#include "when.h"

#ifndef SMTPSINK_VERSION
#define SMTPSINK_VERSION "0"
#endif

/* What a command reads: one spool, or several merged (ls, show, ...). */
enum sources {
	SOURCES_ONE, /* one --spool, no --remote */
	SOURCES_SPOOLS, /* any number of --spool, no --remote */
	SOURCES_ANY, /* any number of --spool and --remote */
};

static const struct command {
	const char *name;
	cmd_fn fn;
	bool interruptible; /* runs until SIGINT/SIGTERM: gets ctx->stop */
	enum sources sources;
	const char *about;
} commands[] = {
	{ "ls", cmd_ls, false, SOURCES_ANY, "list messages, newest first" },
	{ "show", cmd_show, false, SOURCES_ANY, "envelope, session facts and headers of one message" },
	{ "cat", cmd_cat, false, SOURCES_ANY, "one message, byte-exact (--envelope: with smtp-sink headers)" },
	{ "text", cmd_text, false, SOURCES_SPOOLS, "the text/plain body of one message, decoded to UTF-8" },
	{ "html", cmd_text, false, SOURCES_SPOOLS, "the text/html body of one message, decoded to UTF-8" },
	{ "parts", cmd_parts, false, SOURCES_SPOOLS, "attachments and inline parts of one message" },
	{ "part", cmd_part, false, SOURCES_SPOOLS, "the decoded bytes of one part (part ID N)" },
	{ "export", cmd_export, false, SOURCES_SPOOLS, "write messages as .eml files, an mbox or a Maildir" },
	{ "verify", cmd_verify, false, SOURCES_ONE, "check every record checksum and every index" },
	{ "stats", cmd_stats, false, SOURCES_SPOOLS, "messages, bytes, segments and time range, per shard" },
	{ "follow", cmd_follow, true, SOURCES_ONE, "print messages as they arrive, until interrupted" },
	{ "wait", cmd_wait, true, SOURCES_ONE, "wait until matching mail has arrived (exit 0) or time out (exit 1)" },
	{ "prune", cmd_prune, false, SOURCES_ONE, "delete sealed segments older than a time" },
	{ "sessions", cmd_sessions, false, SOURCES_SPOOLS, "list session reports, newest first" },
	{ "session", cmd_session, false, SOURCES_ONE, "one session report: commands, transactions, gaps, quirks" },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

#define SPOOL_HELP "the spool directory (default $SMTPSINK_SPOOL, else ./spool)"
#define REMOTE_HELP "also read a node through its HTTP API, http://[USER:PASS@]HOST:PORT (repeatable; ls, show, cat)"

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--spool DIR]... [--remote URL]... COMMAND [options]\n\nCommands:\n", REPORT_PROG);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].about);
	fprintf(f,
		"\n--spool DIR   %s; repeat it to read\n"
		"              several nodes' spools as one (ls, show, cat, text, html, parts, part, export,\n"
		"              stats, sessions)\n"
		"--remote URL  %s\n"
		"--version     print the version\n"
		"--help        this text\n"
		"%s COMMAND --help   that command's options\n"
		"Exit status: 0 ok, 1 not found / timed out / problems found, 2 usage, 3 spool or output error.\n",
		SPOOL_HELP, REMOTE_HELP, REPORT_PROG);
}

/* --help-man: the man page's generated part (cli_man.c): the global
 * options, then each command's own (its table answers --help-man). */
static int man_page(struct cmd_ctx *ctx)
{
	struct cli g = { .prog = REPORT_PROG,
			 .args = "COMMAND [command options]",
			 .about = "find, read, export and verify the mail an smtpsink server captured",
			 .version = SMTPSINK_VERSION };
	const char *shown = NULL; /* no default after SPOOL_HELP's own words */
	cli_add(&g,
		cli_string("spool", &shown, "DIR",
			   SPOOL_HELP "; repeat it to read several nodes' spools as one (ls, show, cat, text, html, "
				      "parts, part, export, stats, sessions)"));
	cli_add(&g, cli_string("remote", &shown, "URL", REMOTE_HELP));
	cli_man_print(&g, stdout);
	printf(".SH COMMANDS\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		char *argv[] = { (char *)commands[i].name, (char *)"--help-man", NULL };
		if (commands[i].fn(ctx, 2, argv) != SPOOL_EXIT_OK)
			return SPOOL_EXIT_USAGE;
	}
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}

struct sources_opt {
	const char *spools[CMD_SOURCES_MAX], *remotes[CMD_SOURCES_MAX];
	size_t spool_count, remote_count;
};

/* Keep one --spool or --remote value; false (said why) if there are too
 * many. */
static bool keep_source(struct sources_opt *o, bool remote, const char *value)
{
	size_t *n = remote ? &o->remote_count : &o->spool_count;
	if (*n == CMD_SOURCES_MAX) {
		report_error("at most %u --%s options", CMD_SOURCES_MAX, remote ? "remote" : "spool");
		return false;
	}
	(remote ? o->remotes : o->spools)[(*n)++] = value;
	return true;
}

/* Take every "--spool DIR", "--spool=DIR", "--remote URL" and
 * "--remote=URL" out of argv; false (said why) if one lacks its value. */
static bool take_source_options(int *argc, char **argv, struct sources_opt *o)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		bool remote = strncmp(argv[i], "--remote", 8) == 0;
		const char *rest = argv[i] + (remote ? 8 : 7);
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!remote && strncmp(argv[i], "--spool", 7) != 0) {
			argv[out++] = argv[i];
		} else if (*rest == '=') {
			if (!keep_source(o, remote, rest + 1))
				return false;
		} else if (*rest != '\0') {
			argv[out++] = argv[i]; /* --spoolX: not ours */
		} else if (i + 1 >= *argc) {
			report_error("--%s needs a %s", remote ? "remote" : "spool", remote ? "URL" : "directory");
			return false;
		} else if (!keep_source(o, remote, argv[++i])) {
			return false;
		}
	}
	*argc = out;
	return true;
}

/* Whether command cmd reads what ctx names; false after saying why. */
static bool sources_fit(const struct command *cmd, const struct cmd_ctx *ctx)
{
	if (cmd->sources != SOURCES_ANY && ctx->remote_count > 0) {
		report_error("%s: reads spools only, not --remote nodes (ls, show and cat read them)", cmd->name);
		return false;
	}
	if (cmd->sources == SOURCES_ONE && ctx->spool_count > 1) {
		report_error("%s: reads one spool at a time (give --spool once)", cmd->name);
		return false;
	}
	return true;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: sleeps end at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	static struct sources_opt src;
	struct cmd_ctx ctx = { .stop = &stop_signal, .now_us = when_now_us() };
	argc--, argv++;
	if (!take_source_options(&argc, argv, &src))
		return SPOOL_EXIT_USAGE;
	if (src.spool_count == 0 && src.remote_count == 0) {
		const char *env = getenv("SMTPSINK_SPOOL");
		src.spools[src.spool_count++] = env != NULL && env[0] != '\0' ? env : "spool";
	}
	ctx.spool = src.spool_count ? src.spools[0] : NULL;
	ctx.spools = src.spools;
	ctx.spool_count = src.spool_count;
	ctx.remotes = src.remotes;
	ctx.remote_count = src.remote_count;
	if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0) {
		usage(argc == 0 ? stderr : stdout);
		return argc == 0 ? SPOOL_EXIT_USAGE : SPOOL_EXIT_OK;
	}
	if (strcmp(argv[0], "--help-man") == 0)
		return man_page(&ctx);
	if (strcmp(argv[0], "--version") == 0) {
		printf("%s %s\n", REPORT_PROG, SMTPSINK_VERSION);
		return SPOOL_EXIT_OK;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (!sources_fit(&commands[i], &ctx))
			return SPOOL_EXIT_USAGE;
		if (commands[i].interruptible)
			catch_stop_signals();
		return commands[i].fn(&ctx, argc, argv);
	}
	report_error("unknown command '%s' (see %s --help)", argv[0], REPORT_PROG);
	return SPOOL_EXIT_USAGE;
}
