/*
 * cli/cli_man.c - the man page's option list, generated from the rows
 * (cli.h), printed by the hidden --help-man option.
 *
 * Owns: roff (man(7) macros) for what --help says: the NAME line and
 * SYNOPSIS from the table, one .TP paragraph per row ("--name ARG", the
 * help text, the default), --help and --version, and the note on sizes and
 * durations.  A command's table (smtpsink-spool ls) gives a subsection
 * instead.  The prose around it (DESCRIPTION, FILES, ...) is written by
 * hand in docs/man/ and put together at build time (docs/man/man_page.py),
 * so the options in the page are the parser's own and cannot drift.
 * Invariants: every byte of a row's text is escaped (a '-' is "\-", a
 * line never starts with '.' or '\''), so a help text cannot inject
 * requests.
 */
#include "cli_int.h"

#include <string.h>

/* s as roff text: backslash and minus escaped, no request at line start. */
static void roff_text(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* ".TP", then "\fB--name\fR \fIARG\fR" from the --help column. */
static void tag_line(FILE *f, const char *left, size_t name_len)
{
	char name[CLI_LEFT_MAX];
	snprintf(name, sizeof name, "%.*s", (int)name_len, left);
	fputs(".TP\n\\fB", f);
	roff_text(f, name);
	fputs("\\fR", f);
	if (left[name_len] != '\0') {
		fputs(left[name_len] == ' ' ? " \\fI" : "\\fI", f);
		roff_text(f, left + name_len + (left[name_len] == ' '));
		fputs("\\fR", f);
	}
	fputc('\n', f);
}

static void one_row(FILE *f, const char *left, size_t name_len, const char *help, const char *def)
{
	tag_line(f, left, name_len);
	roff_text(f, help);
	if (def != NULL) {
		fputs(" (default ", f);
		roff_text(f, def);
		fputc(')', f);
	}
	fputc('\n', f);
}

static void rows(const struct cli *c, FILE *f)
{
	for (size_t i = 0; i < c->opt_count; i++) {
		const struct cli_opt *o = &c->opts[i];
		char left[CLI_LEFT_MAX], def[CLI_DEFAULT_MAX];
		cli_help_left(o, left, sizeof left);
		bool has_def = cli_help_default(o, def, sizeof def);
		one_row(f, left, strlen(o->name) + 2, o->help, has_def ? def : NULL);
	}
	one_row(f, "--help", 6, "print the options and exit", NULL);
	if (c->version != NULL)
		one_row(f, "--version", 9, "print the version and exit", NULL);
	bool size = cli_help_has(c, CLI_SIZE), duration = cli_help_has(c, CLI_DURATION);
	if (size || duration)
		fputs(".PP\n", f);
	if (size) {
		roff_text(f, CLI_NOTE_BYTES);
		fputs(duration ? "\n.br\n" : "\n", f);
	}
	if (duration) {
		roff_text(f, CLI_NOTE_SECS);
		fputc('\n', f);
	}
}

/* "prog [global] command [options] args" with the names in bold. */
static void synopsis(const struct cli *c, FILE *f)
{
	fputs("\\fB", f);
	roff_text(f, c->prog);
	fputs("\\fR", f);
	if (c->global != NULL) {
		fputc(' ', f);
		roff_text(f, c->global);
	}
	if (c->command != NULL) {
		fputs(" \\fB", f);
		roff_text(f, c->command);
		fputs("\\fR", f);
	}
	fputs(" [\\fIoptions\\fR]", f);
	if (c->args != NULL) {
		fputs(" \\fI", f);
		roff_text(f, c->args);
		fputs("\\fR", f);
	}
	fputc('\n', f);
}

void cli_man_print(const struct cli *c, FILE *f)
{
	if (c->command != NULL) {
		fputs(".SS ", f);
		roff_text(f, c->command);
		fputs("\n.PP\n", f);
		synopsis(c, f);
		fputs(".br\n", f);
		roff_text(f, c->about);
		fputc('\n', f);
		rows(c, f);
		return;
	}
	fputs(".SH NAME\n", f);
	roff_text(f, c->prog);
	fputs(" \\- ", f);
	roff_text(f, c->about);
	fputs("\n.SH SYNOPSIS\n", f);
	synopsis(c, f);
	fputs(".SH OPTIONS\n", f);
	rows(c, f);
}
