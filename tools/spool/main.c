/*
 * tools/spool/main.c - smtpsink-spool: find, read, export and verify the
 * mail an smtpsink server captured (docs/SPOOL-TOOL.md).
 *
 * Owns: the global option --spool (accepted before or after the command),
 * the command table, and the SIGINT/SIGTERM flag for the commands that run
 * until interrupted.  Wiring only: each command lives in cmd_NAME.c.
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

static const struct command {
	const char *name;
	cmd_fn fn;
	bool interruptible; /* runs until SIGINT/SIGTERM: gets ctx->stop */
	const char *about;
} commands[] = {
	{ "ls", cmd_ls, false, "list messages, newest first" },
	{ "show", cmd_show, false, "envelope, session facts and headers of one message" },
	{ "cat", cmd_cat, false, "one message, byte-exact (--envelope: with smtp-sink headers)" },
	{ "text", cmd_text, false, "the text/plain body of one message, decoded to UTF-8" },
	{ "html", cmd_text, false, "the text/html body of one message, decoded to UTF-8" },
	{ "parts", cmd_parts, false, "attachments and inline parts of one message" },
	{ "part", cmd_part, false, "the decoded bytes of one part (part ID N)" },
	{ "export", cmd_export, false, "write messages as .eml files, an mbox or a Maildir" },
	{ "verify", cmd_verify, false, "check every record checksum and every index" },
	{ "stats", cmd_stats, false, "messages, bytes, segments and time range, per shard" },
	{ "follow", cmd_follow, true, "print messages as they arrive, until interrupted" },
	{ "wait", cmd_wait, true, "wait until matching mail has arrived (exit 0) or time out (exit 1)" },
	{ "prune", cmd_prune, false, "delete sealed segments older than a time" },
	{ "sessions", cmd_sessions, false, "list session reports, newest first" },
	{ "session", cmd_session, false, "one session report: commands, transactions, gaps, quirks" },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

#define SPOOL_HELP "the spool directory (default $SMTPSINK_SPOOL, else ./spool)"

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--spool DIR] COMMAND [options]\n\nCommands:\n", REPORT_PROG);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].about);
	fprintf(f,
		"\n--spool DIR   %s\n"
		"--version     print the version\n"
		"--help        this text\n"
		"%s COMMAND --help   that command's options\n"
		"Exit status: 0 ok, 1 not found / timed out / problems found, 2 usage, 3 spool or output error.\n",
		SPOOL_HELP, REPORT_PROG);
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
	cli_add(&g, cli_string("spool", &shown, "DIR", SPOOL_HELP));
	cli_man_print(&g, stdout);
	printf(".SH COMMANDS\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		char *argv[] = { (char *)commands[i].name, (char *)"--help-man", NULL };
		if (commands[i].fn(ctx, 2, argv) != SPOOL_EXIT_OK)
			return SPOOL_EXIT_USAGE;
	}
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}

/* Take every "--spool DIR" / "--spool=DIR" out of argv; false if one
 * lacks its value. */
static bool take_spool_option(int *argc, char **argv, const char **spool)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strncmp(argv[i], "--spool=", 8) == 0) {
			*spool = argv[i] + 8;
		} else if (strcmp(argv[i], "--spool") == 0) {
			if (i + 1 >= *argc)
				return false;
			*spool = argv[++i];
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
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
	struct cmd_ctx ctx = { getenv("SMTPSINK_SPOOL"), &stop_signal, when_now_us() };
	if (ctx.spool == NULL || ctx.spool[0] == '\0')
		ctx.spool = "spool";
	argc--, argv++;
	if (!take_spool_option(&argc, argv, &ctx.spool)) {
		report_error("--spool needs a directory");
		return SPOOL_EXIT_USAGE;
	}
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
		if (commands[i].interruptible)
			catch_stop_signals();
		return commands[i].fn(&ctx, argc, argv);
	}
	report_error("unknown command '%s' (see %s --help)", argv[0], REPORT_PROG);
	return SPOOL_EXIT_USAGE;
}
