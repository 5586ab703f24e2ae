/*
 * tools/spool/cli.c - table-driven option parsing (cli.h).
 *
 * Owns: the option syntax shared by every command.  Numbers are plain
 * decimal (no sign, no suffix); a number too large for 64 bits is an
 * error, not a wrap.
 */
#include "cli.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

void cli_add(struct cli_cmd *c, const char *name, enum cli_kind kind, void *dest, const char *arg, const char *help)
{
	assert(c->opt_count < CLI_OPTS_MAX);
	c->opts[c->opt_count++] = (struct cli_opt){ name, kind, dest, arg, help };
}

void cli_usage(const struct cli_cmd *c, FILE *f)
{
	fprintf(f, "usage: %s [--spool DIR] %s [options]%s%s\n\n%s\n\n", REPORT_PROG, c->name, c->args[0] ? " " : "",
		c->args, c->about);
	for (size_t i = 0; i < c->opt_count; i++) {
		char left[64];
		const struct cli_opt *o = &c->opts[i];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-24s %s\n", left, o->help);
	}
	fprintf(f, "  %-24s %s\n", "--help", "this text");
}

static const struct cli_opt *find(const struct cli_cmd *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->opt_count; i++)
		if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
			return &c->opts[i];
	return NULL;
}

static int set_value(const struct cli_cmd *c, const struct cli_opt *o, const char *v)
{
	if (o->kind == CLI_STRING) {
		*(const char **)o->dest = v;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long n = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
	if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0') {
		report_error("%s: --%s %s: not a whole number", c->name, o->name, v);
		return -1;
	}
	*(uint64_t *)o->dest = n;
	return 0;
}

/* One "--name[=value]" at argv[*i]; consumes its value. */
static int parse_option(const struct cli_cmd *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i] + 2;
	const char *eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a) : strlen(a);
	const struct cli_opt *o = find(c, a, len);
	if (o == NULL) {
		report_error("%s: unknown option '%s' (see %s %s --help)", c->name, argv[*i], REPORT_PROG, c->name);
		return -1;
	}
	if (o->kind == CLI_FLAG) {
		if (eq != NULL) {
			report_error("%s: --%s takes no value", c->name, o->name);
			return -1;
		}
		*(bool *)o->dest = true;
		return 0;
	}
	const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
	if (v == NULL) {
		report_error("%s: --%s needs a value (%s)", c->name, o->name, o->arg);
		return -1;
	}
	return set_value(c, o, v);
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv, const char **pos, size_t max_pos, size_t *npos)
{
	bool only_pos = false;
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			cli_usage(c, stdout);
			return 1;
		} else if (!only_pos && strncmp(a, "--", 2) == 0) {
			if (parse_option(c, argc, argv, &i) != 0)
				return -1;
		} else if (*npos < max_pos) {
			pos[(*npos)++] = a;
		} else {
			report_error("%s: unexpected argument '%s' (see %s %s --help)", c->name, a, REPORT_PROG,
				     c->name);
			return -1;
		}
	}
	return 0;
}
