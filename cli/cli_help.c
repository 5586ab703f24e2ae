/*
 * cli/cli_help.c - the --help text, generated from the rows (cli.h).
 *
 * Owns: the synopsis line, one line per row ("--name ARG", the help text,
 * the default), and the lines for --help and --version.  Nothing here is
 * written by hand per program, so the help cannot drift from the parser.
 */
#include "cli.h"

#include <string.h>

#define CLI_LEFT_MAX 128u /* "--name ARG" of one row */
#define CLI_DEFAULT_MAX 64u /* a default's text */

/* "--name ARG", the words of an enum standing for ARG. */
static void left_column(const struct cli_opt *o, char *out, size_t len)
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
static bool default_text(const struct cli_opt *o, char *out, size_t len)
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
		break;
	}
	return false;
}

/* How sizes and durations may be written, when the table has any. */
static void units_note(const struct cli *c, FILE *f)
{
	bool size = false, duration = false;
	for (size_t i = 0; i < c->opt_count; i++) {
		const struct cli_opt *o = &c->opts[i];
		size |= o->kind == CLI_SIZE || (o->kind == CLI_CUSTOM && o->reads == CLI_SIZE);
		duration |= o->kind == CLI_DURATION || (o->kind == CLI_CUSTOM && o->reads == CLI_DURATION);
	}
	if (size || duration)
		fputc('\n', f);
	if (size)
		fprintf(f, "BYTES: a number of bytes, or with K, M, G, T (or KiB, MiB, GiB, TiB: powers of 1024): "
			   "512K, 10M, 1G.\n");
	if (duration)
		fprintf(f, "SECS, MS: a number of seconds (milliseconds), or with ms, s, m, h, d: 500ms, 30s, 5m, 2h, "
			   "1d.\n");
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
		left_column(o, left, sizeof left);
		if (default_text(o, def, sizeof def))
			fprintf(f, "  %-*s %s (default %s)\n", col, left, o->help, def);
		else
			fprintf(f, "  %-*s %s\n", col, left, o->help);
	}
	fprintf(f, "  %-*s %s\n", col, "--help", "this text");
	if (c->version != NULL)
		fprintf(f, "  %-*s %s\n", col, "--version", "print the version");
	units_note(c, f);
}
