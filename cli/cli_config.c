/*
 * cli/cli_config.c - the config file of a CLI_CONFIG row (--config FILE).
 *
 * Owns: reading the file (at most CLI_CONFIG_FILE_MAX bytes), cutting it
 * into keys and values in place, applying each key through its row as if
 * it were "--key value" on the command line, and the error lines, which
 * name the file and the line ("smtpsink: /etc/x.conf:12: unknown key
 * \"lisen\"").
 *
 * Syntax, one line at a time: blank lines and lines whose first non-blank
 * byte is '#' are skipped; "key = value" (spaces around both trimmed; a
 * value in double quotes loses them); a key alone, or "key = true", sets a
 * flag, "key = false" leaves it unset.  A '#' after a value is part of it
 * (fault rules' reply texts may hold one).
 *
 * Precedence: the file is read first; a key that the command line gives
 * is not applied from the file at all (each of its lines is still checked
 * to be a known key), so a repeatable option on the command line replaces
 * the file's list instead of adding to it, and any other option simply
 * wins.  Does not: watch the file (the program re-parses on SIGHUP).
 * Workload: once per start or reload; a few hundred lines.
 */
#include "cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The CLI_CONFIG row of the table, or NULL. */
static const struct cli_opt *config_row(const struct cli *c)
{
	for (size_t i = 0; i < c->opt_count; i++)
		if (c->opts[i].kind == CLI_CONFIG)
			return &c->opts[i];
	return NULL;
}

/* The path given to the row on the command line (the last one), or NULL. */
static const char *config_path(const struct cli *c, const struct cli_opt *row, int argc, char **argv)
{
	const char *path = NULL;
	size_t len = strlen(row->name);
	for (int i = 0; cli_argv_next(c, argc, argv, &i);) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, row->name, len) != 0)
			continue;
		if (a[2 + len] == '=')
			path = a + 3 + len;
		else if (a[2 + len] == '\0' && i + 1 < argc)
			path = argv[i + 1];
	}
	return path;
}

/* The whole file into *text (NUL-terminated): 0, or why not in err. */
static int slurp(const char *path, char **text, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_len, "%s", strerror(errno));
		return -1;
	}
	char *buf = malloc(CLI_CONFIG_FILE_MAX + 1);
	size_t n = buf != NULL ? fread(buf, 1, CLI_CONFIG_FILE_MAX + 1, f) : 0;
	int bad = buf == NULL ? ENOMEM : ferror(f) ? EIO : 0;
	fclose(f);
	if (bad != 0 || n > CLI_CONFIG_FILE_MAX) {
		if (bad != 0)
			snprintf(err, err_len, "%s", strerror(bad));
		else
			snprintf(err, err_len, "larger than %u bytes", CLI_CONFIG_FILE_MAX);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* s[0..*n) without blanks at either end. */
static char *trim(char *s, size_t *n)
{
	while (*n > 0 && blank(*s))
		s++, --*n;
	while (*n > 0 && blank(s[*n - 1]))
		--*n;
	return s;
}

/* Cut one line (line[0..len), NUL-terminated by the caller) into key and
 * value; false: nothing on it.  The value loses one pair of quotes. */
static bool split_line(char *line, size_t len, struct cli_file_entry *e)
{
	line = trim(line, &len);
	if (len == 0 || line[0] == '#')
		return false;
	line[len] = '\0';
	char *eq = strchr(line, '=');
	size_t klen = eq ? (size_t)(eq - line) : len;
	char *key = trim(line, &klen);
	key[klen] = '\0';
	e->key = key;
	e->value = NULL;
	if (eq != NULL) {
		size_t vlen = strlen(eq + 1);
		char *v = trim(eq + 1, &vlen);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
			v++, vlen -= 2;
		v[vlen] = '\0';
		e->value = v;
	}
	return true;
}

/* Report "path:line: why", or "path:line: key \"KEY\": why"; -1. */
static int bad_line(const struct cli *c, const struct cli_file *f, unsigned line, const char *key, const char *why)
{
	if (key != NULL)
		cli_error(c, "%s:%u: key \"%s\": %s", f->path, line, key, why);
	else
		cli_error(c, "%s:%u: %s", f->path, line, why);
	return -1;
}

/* Cut f->text into entries: 0, or -1 (reported). */
static int split_file(const struct cli *c, struct cli_file *f, size_t len)
{
	f->v = malloc(CLI_CONFIG_KEYS_MAX * sizeof *f->v);
	if (f->v == NULL)
		return bad_line(c, f, 0, NULL, "out of memory");
	char *p = f->text, *end = f->text + len;
	for (unsigned line = 1; p < end; line++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > CLI_CONFIG_LINE_MAX) {
			cli_error(c, "%s:%u: line too long (at most %u bytes)", f->path, line, CLI_CONFIG_LINE_MAX);
			return -1;
		}
		if (memchr(p, '\0', n) != NULL)
			return bad_line(c, f, line, NULL, "a NUL byte");
		struct cli_file_entry e = { .line = line };
		p[n] = '\0';
		if (split_line(p, n, &e)) {
			if (f->n == CLI_CONFIG_KEYS_MAX) {
				cli_error(c, "%s:%u: too many keys (at most %u)", f->path, line, CLI_CONFIG_KEYS_MAX);
				return -1;
			}
			f->v[f->n++] = e;
		}
		p += n + 1;
	}
	return 0;
}

/* Is a flag's value "true" (set), "false" (not set) or neither (-1)? */
static int flag_value(const char *v)
{
	if (v == NULL || strcmp(v, "true") == 0)
		return 1;
	return strcmp(v, "false") == 0 ? 0 : -1;
}

/* Check one entry against its row, and apply it unless the command line
 * gives the key: 0 or -1 (reported). */
static int apply_entry(const struct cli *c, struct cli_file *f, struct cli_file_entry *e, int argc, char **argv)
{
	const struct cli_opt *o = cli_find(c, e->key, strlen(e->key));
	if (o == NULL) {
		cli_error(c, "%s:%u: unknown key \"%s\"", f->path, e->line, e->key);
		return -1;
	}
	if (o->kind == CLI_CONFIG)
		return bad_line(c, f, e->line, e->key, "not allowed in a config file");
	bool takes = cli_takes_value(o) || o->optional;
	int set = 1;
	if (takes && e->value == NULL && !o->optional)
		return bad_line(c, f, e->line, e->key, "needs a value (key = value)");
	if (!takes && (set = flag_value(e->value)) < 0)
		return bad_line(c, f, e->line, e->key, "a flag: true, false, or the key alone");
	e->overridden = cli_argv_has(c, argc, argv, o->name);
	if (e->overridden || set == 0)
		return 0;
	const char *why = cli_apply(o, takes ? e->value : NULL);
	if (why == NULL)
		return 0;
	cli_error(c, "%s:%u: %s = %s: %s", f->path, e->line, e->key, e->value ? e->value : "", why);
	return -1;
}

int cli_config_apply(const struct cli *c, int argc, char **argv)
{
	const struct cli_opt *row = config_row(c);
	const char *path = row != NULL ? config_path(c, row, argc, argv) : NULL;
	if (path == NULL)
		return 0;
	struct cli_file *f = row->dest;
	char err[256];
	size_t len;
	cli_file_free(f);
	f->path = path;
	if (slurp(path, &f->text, &len, err, sizeof err) != 0) {
		cli_error(c, "--%s %s: %s", row->name, path, err);
		return -1;
	}
	if (split_file(c, f, len) != 0)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (apply_entry(c, f, &f->v[i], argc, argv) != 0)
			return -1;
	return 0;
}

void cli_file_free(struct cli_file *f)
{
	free(f->text);
	free(f->v);
	*f = (struct cli_file){ NULL, NULL, NULL, 0 };
}

/* The next applied entry of key in f after index *i (start at -1). */
static const struct cli_file_entry *next_of(const struct cli_file *f, const char *key, long *i)
{
	while (f != NULL && ++*i < (long)f->n)
		if (!f->v[*i].overridden && strcmp(f->v[*i].key, key) == 0)
			return &f->v[*i];
	return NULL;
}

bool cli_file_same(const struct cli_file *a, const struct cli_file *b, const char *key)
{
	long i = -1, j = -1;
	for (;;) {
		const struct cli_file_entry *x = next_of(a, key, &i), *y = next_of(b, key, &j);
		if (x == NULL || y == NULL)
			return x == y;
		if ((x->value == NULL) != (y->value == NULL) || (x->value && strcmp(x->value, y->value) != 0))
			return false;
	}
}
