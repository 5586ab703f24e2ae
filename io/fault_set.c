/*
 * io/fault_set.c - loading the fault rules in force (see fault_set.h).
 */
#include "fault_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define FAULT_FILE_MAX_BYTES (64u << 20) /* a rules file larger than this is refused */

/* The whole of a rules file, NUL-terminated; NULL with err set. */
static char *read_file(const char *path, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 0, n = 0;
	char *buf = NULL;
	bool failed = false;
	for (;;) {
		/* room for more than was read so far, and the NUL */
		if (cap >= FAULT_FILE_MAX_BYTES || !grow_array((void **)&buf, &cap, n + 2, 1, 4096)) {
			failed = true;
			break;
		}
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
	}
	failed = failed || ferror(f);
	fclose(f);
	if (failed) {
		snprintf(err, err_len, "%s: cannot read (or larger than 64 MiB)", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct fault_set *fault_set_load(const struct server_config *cfg, uint64_t gen, char *err, size_t err_len)
{
	return fault_set_load_extra(cfg, NULL, 0, gen, err, err_len);
}

struct fault_set *fault_set_load_extra(const struct server_config *cfg, const char *const *extra, unsigned n_extra,
				       uint64_t gen, char *err, size_t err_len)
{
	struct fault_set *fs = calloc(1, sizeof *fs);
	if (fs == NULL || (fs->rules = fault_rules_new()) == NULL) {
		snprintf(err, err_len, "out of memory");
		free(fs);
		return NULL;
	}
	fs->gen = gen;
	bool ok = true;
	for (unsigned i = 0; ok && i < cfg->fault_count; i++)
		ok = fault_rules_add(fs->rules, cfg->fault_text[i], err, err_len);
	if (ok && cfg->fault_file != NULL) {
		size_t len = 0;
		char *text = read_file(cfg->fault_file, &len, err, err_len);
		ok = text != NULL && fault_rules_add_file(fs->rules, cfg->fault_file, text, len, err, err_len);
		free(text);
	}
	for (unsigned i = 0; ok && i < n_extra; i++)
		ok = fault_rules_add(fs->rules, extra[i], err, err_len);
	uint32_t n = fault_rules_count(fs->rules);
	if (ok && (fs->hits = calloc(n ? n : 1, sizeof *fs->hits)) == NULL) {
		snprintf(err, err_len, "out of memory");
		ok = false;
	}
	if (!ok) {
		fault_set_free(fs);
		return NULL;
	}
	return fs;
}

void fault_set_free(struct fault_set *fs)
{
	if (fs == NULL)
		return;
	fault_rules_free(fs->rules);
	free(fs->hits);
	free(fs);
}

bool fault_set_same(const struct fault_set *a, const struct fault_set *b)
{
	uint32_t n = fault_rules_count(a->rules);
	if (n != fault_rules_count(b->rules))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(fault_rules_text(a->rules, i), fault_rules_text(b->rules, i)) != 0)
			return false;
	return true;
}

void fault_set_report(const struct fault_set *fs, FILE *f)
{
	for (uint32_t i = 0; i < fault_rules_count(fs->rules); i++)
		fprintf(f, "smtpsink: fault rule '%s' fired %llu times\n", fault_rules_text(fs->rules, i),
			(unsigned long long)atomic_load(&fs->hits[i]));
}
