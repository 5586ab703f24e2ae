/*
 * cli/cli_help.c - the --help text, generated from the rows (cli.h).
 *
 * Owns: the synopsis line, one line per row ("--name ARG", the help text,
 * the default), and the lines for --help and --version.  Nothing here is
 * written by hand per program, so the help cannot drift from the parser.
 */
#include "cli_int.h"

#include <string.h>

/* "--name ARG", the words of an enum standing for ARG. */
void cli_help_left(const struct cli_opt *o, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "--%s", o->name);
	if (o->kind == CLI_ENUM) {
		for (size_t i = 0; o->words[i] != NULL && n < len; i++)
			n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "|" : " ", o->words[i]);
	} else if (o->arg != NULL && n < len) {
		snprintf(out + n, len - n, o->optional ? "[=%s]" : " %s", o->arg);
	}
}

/* The default to show: the row's text, else what dest holds before
 * parsing (nothing for zero, NULL or a flag).  false: none. */
bool cli_help_default(const struct cli_opt *o, char *out, size_t len)
{
	if (o->def != NULL) {
		snprintf(out, len, "%s", o->def);
		return true;
	}
	uint64_t n = 0;
	if (o->kind == CLI_UINT || o->kind == CLI_SIZE || o->kind == CLI_DURATION)
		n = o->width == 4 ? *(const uint32_t *)o->dest : *(const uint64_t *)o->dest;
	switch (o->kind) {
	case CLI_UINT:
		snprintf(out, len, "%llu", (unsigned long long)n);
		return n != 0;
	case CLI_SIZE:
		cli_value_format_size(n, out, len);
		return n != 0;
	case CLI_DURATION:
		cli_value_format_duration(n, o->unit_ns, out, len);
		return n != 0;
	case CLI_DOUBLE:
		snprintf(out, len, "%g", *(const double *)o->dest);
		return *(const double *)o->dest != 0;
	case CLI_STRING:
		if (*(const char *const *)o->dest == NULL || **(const char *const *)o->dest == '\0')
			return false;
		snprintf(out, len, "%s", *(const char *const *)o->dest);
		return true;
	case CLI_ENUM:
		for (unsigned i = 0; o->words[i] != NULL; i++) {
			if (i == *(const unsigned *)o->dest) {
				snprintf(out, len, "%s", o->words[i]);
				return true;
			}
		}
		return false;
	case CLI_FLAG:
	case CLI_FLAG_CLEAR:
	case CLI_CUSTOM:
	case CLI_CONFIG:
		break;
	}
	return false;
}

bool cli_help_has(const struct cli *c, enum cli_kind kind)
{
	for (size_t i = 0; i < c->opt_count; i++)
		if (c->opts[i].kind == kind || (c->opts[i].kind == CLI_CUSTOM && c->opts[i].reads == kind))
			return true;
	return false;
}

/* How sizes and durations may be written, when the table has any. */
static void units_note(const struct cli *c, FILE *f)
{
	bool size = cli_help_has(c, CLI_SIZE), duration = cli_help_has(c, CLI_DURATION);
	if (size || duration)
		fputc('\n', f);
	if (size)
		fprintf(f, "%s\n", CLI_NOTE_BYTES);
	if (duration)
		fprintf(f, "%s\n", CLI_NOTE_SECS);
}

void cli_help_print(const struct cli *c, FILE *f)
{
	fprintf(f, "usage: %s%s%s%s%s [options]%s%s\n\n%s\n\n", c->prog, c->global ? " " : "",
		c->global ? c->global : "", c->command ? " " : "", c->command ? c->command : "", c->args ? " " : "",
		c->args ? c->args : "", c->about);
	int col = (int)c->help_col;
	for (size_t i = 0; i < c->opt_count; i++) {
		const struct cli_opt *o = &c->opts[i];
		char left[CLI_LEFT_MAX], def[CLI_DEFAULT_MAX];
		cli_help_left(o, left, sizeof left);
		if (cli_help_default(o, def, sizeof def))
			fprintf(f, "  %-*s %s (default %s)\n", col, left, o->help, def);
		else
			fprintf(f, "  %-*s %s\n", col, left, o->help);
	}
	fprintf(f, "  %-*s %s\n", col, "--help", "this text");
	if (c->version != NULL)
		fprintf(f, "  %-*s %s\n", col, "--version", "print the version");
	units_note(c, f);
}
