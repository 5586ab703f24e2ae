/*
 * cli/cli.c - parsing a command line against a table of rows (cli.h).
 *
 * Owns: the walk over argv, finding a row by name, taking its value, the
 * built-in kinds, and every error line.  Workload: once per run.
 */
#include "cli_int.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

#define CLI_LINE_MAX 1024u /* an error line; longer values are cut */

void cli_add(struct cli *c, struct cli_opt o)
{
	assert(c->opt_count < CLI_OPTS_MAX);
	c->opts[c->opt_count++] = o;
}

void cli_add_rows(struct cli *c, const struct cli_opt *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cli_add(c, rows[i]);
}

static void vreport(const struct cli *c, const char *fmt, va_list ap)
{
	char line[CLI_LINE_MAX];
	int n = c->command ? snprintf(line, sizeof line, "%s: ", c->command) : 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (c->report != NULL)
		c->report(line);
	else
		fprintf(stderr, "%s: %s\n", c->prog, line);
}

void cli_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, fmt, ap);
	va_end(ap);
}

int cli_bad(const struct cli *c, const char *name, const char *value, const char *why)
{
	cli_error(c, "--%s %s: %s", name, value, why);
	return -1;
}

/* Where to look for more: "--help", or "smtpsink-spool ls --help". */
static void hint(const struct cli *c, char *out, size_t len)
{
	if (c->command != NULL)
		snprintf(out, len, "%s %s --help", c->prog, c->command);
	else
		snprintf(out, len, "--help");
}

const struct cli_opt *cli_find(const struct cli *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->opt_count; i++)
		if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
			return &c->opts[i];
	return NULL;
}

static const char *set_enum(const struct cli_opt *o, const char *v)
{
	for (unsigned i = 0; o->words[i] != NULL; i++) {
		if (strcmp(v, o->words[i]) == 0) {
			*(unsigned *)o->dest = i;
			return NULL;
		}
	}
	return "unknown value";
}

const char *cli_apply(const struct cli_opt *o, const char *v)
{
	const char *why = NULL;
	uint64_t n;
	double d;
	switch (o->kind) {
	case CLI_FLAG:
		*(bool *)o->dest = true;
		return NULL;
	case CLI_FLAG_CLEAR:
		*(uint32_t *)o->dest &= ~(uint32_t)o->lo;
		return NULL;
	case CLI_STRING:
		*(const char **)o->dest = v;
		return NULL;
	case CLI_UINT:
	case CLI_SIZE:
	case CLI_DURATION:
		if (o->kind == CLI_UINT)
			why = cli_value_u64(v, o->lo, o->hi, &n);
		else if (o->kind == CLI_SIZE)
			why = cli_value_size(v, o->lo, o->hi, &n);
		else
			why = cli_value_duration(v, o->unit_ns, o->unit_ns, o->lo, o->hi, &n);
		if (why != NULL)
			return why;
		if (o->width == 4)
			*(uint32_t *)o->dest = (uint32_t)n;
		else
			*(uint64_t *)o->dest = n;
		return NULL;
	case CLI_DOUBLE:
		if ((why = cli_value_double(v, o->dlo, o->dhi, &d)) == NULL)
			*(double *)o->dest = d;
		return why;
	case CLI_ENUM:
		return set_enum(o, v);
	case CLI_CUSTOM:
		return o->parse(o, v);
	case CLI_CONFIG: /* read before the command line (cli_config_apply) */
		((struct cli_file *)o->dest)->path = v;
		return NULL;
	}
	return "unknown kind";
}

/* One "--name[=value]" at argv[*i]; consumes its value.  0 or -1. */
static int parse_option(const struct cli *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i] + 2;
	const char *eq = strchr(a, '=');
	const struct cli_opt *o = cli_find(c, a, eq ? (size_t)(eq - a) : strlen(a));
	char more[128];
	if (o == NULL) {
		hint(c, more, sizeof more);
		cli_error(c, "unknown option '%s' (see %s)", argv[*i], more);
		return -1;
	}
	const char *v = NULL;
	if (o->optional) {
		v = eq ? eq + 1 : NULL;
	} else if (!cli_takes_value(o)) {
		if (eq != NULL) {
			cli_error(c, "--%s takes no value", o->name);
			return -1;
		}
	} else {
		v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
		if (v == NULL) {
			cli_error(c, "--%s needs a value (%s)", o->name, o->arg ? o->arg : "see --help");
			return -1;
		}
	}
	const char *why = cli_apply(o, v);
	return why == NULL ? 0 : cli_bad(c, o->name, v ? v : "", why);
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

bool cli_argv_next(const struct cli *c, int argc, char **argv, int *i)
{
	if (*i > 0 && strncmp(argv[*i], "--", 2) == 0 && strchr(argv[*i], '=') == NULL) {
		const struct cli_opt *o = cli_find(c, argv[*i] + 2, strlen(argv[*i] + 2));
		if (o != NULL && cli_takes_value(o))
			++*i; /* its value, whatever it looks like */
	}
	while (++*i < argc) {
		const char *a = argv[*i];
		if (strcmp(a, "--") == 0)
			return false;
		if (strncmp(a, "--", 2) == 0 || is_help(a))
			return true;
	}
	return false;
}

bool cli_argv_has(const struct cli *c, int argc, char **argv, const char *name)
{
	size_t len = strlen(name);
	for (int i = 0; cli_argv_next(c, argc, argv, &i);)
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, len) == 0 &&
		    (argv[i][2 + len] == '\0' || argv[i][2 + len] == '='))
			return true;
	return false;
}

/* Is --help (or -h; or the hidden --help-man) asked for anywhere before
 * "--", not as an option's value?  Looked at before anything is parsed,
 * so that they show the defaults, not what the options before them set. */
static bool asked(const struct cli *c, int argc, char **argv, const char *what)
{
	for (int i = 0; cli_argv_next(c, argc, argv, &i);)
		if (what != NULL ? strcmp(argv[i], what) == 0 : is_help(argv[i]))
			return true;
	return false;
}

int cli_parse(struct cli *c, int argc, char **argv, const char **pos, size_t max_pos, size_t *npos)
{
	bool only_pos = false;
	*npos = 0;
	if (asked(c, argc, argv, NULL)) {
		cli_help_print(c, stdout);
		return 1;
	}
	if (asked(c, argc, argv, "--help-man")) {
		cli_man_print(c, stdout);
		return 1;
	}
	if (cli_config_apply(c, argc, argv) != 0)
		return -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && c->version != NULL && strcmp(a, "--version") == 0) {
			printf("%s %s\n", c->prog, c->version);
			return 1;
		} else if (!only_pos && strncmp(a, "--", 2) == 0) {
			if (parse_option(c, argc, argv, &i) != 0)
				return -1;
		} else if (*npos < max_pos) {
			pos[(*npos)++] = a;
		} else {
			char more[128];
			hint(c, more, sizeof more);
			cli_error(c, "unexpected argument '%s' (see %s)", a, more);
			return -1;
		}
	}
	return 0;
}
