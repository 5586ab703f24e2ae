/*
 * io/prom_text.c - Prometheus text exposition (see prom_text.h).
 */
#include "prom_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define PROM_TEXT_FIRST_BYTES 4096u

static void put(struct prom_text *t, const char *s, size_t n)
{
	if (t->failed || !grow_array((void **)&t->p, &t->cap, t->len + n + 1, 1, PROM_TEXT_FIRST_BYTES)) {
		t->failed = true;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void put_str(struct prom_text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void put_u64(struct prom_text *t, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%" PRIu64, v);
	put(t, buf, (size_t)n);
}

/* A HELP text or a label value, escaped as the format asks: backslash
 * and newline always, the double quote in label values. */
static void put_escaped(struct prom_text *t, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			put(t, "\\\\", 2);
		else if (*s == '\n')
			put(t, "\\n", 2);
		else if (*s == '"' && quote)
			put(t, "\\\"", 2);
		else
			put(t, s, 1);
	}
}

void prom_text_family(struct prom_text *t, const char *name, const char *type, const char *help)
{
	put_str(t, "# HELP ");
	put_str(t, name);
	put(t, " ", 1);
	put_escaped(t, help, false);
	put_str(t, "\n# TYPE ");
	put_str(t, name);
	put(t, " ", 1);
	put_str(t, type);
	put(t, "\n", 1);
}

void prom_text_sample(struct prom_text *t, const char *name, const char *label, const char *value, uint64_t v)
{
	put_str(t, name);
	if (label != NULL) {
		put(t, "{", 1);
		put_str(t, label);
		put(t, "=\"", 2);
		put_escaped(t, value, true);
		put(t, "\"}", 2);
	}
	put(t, " ", 1);
	put_u64(t, v);
	put(t, "\n", 1);
}

void prom_text_sample_n(struct prom_text *t, const char *name, const char *label, uint64_t value, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, value);
	prom_text_sample(t, name, label, buf, v);
}

void prom_text_seconds(char *buf, uint64_t us)
{
	int n = snprintf(buf, PROM_TEXT_US_BYTES, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/* name + suffix, for the histogram's series. */
static void put_series(struct prom_text *t, const char *name, const char *suffix)
{
	put_str(t, name);
	put_str(t, suffix);
}

void prom_text_histogram(struct prom_text *t, const char *name, const uint32_t *bounds_us, unsigned n,
			 const uint64_t *bucket, uint64_t sum_us)
{
	char le[PROM_TEXT_US_BYTES];
	uint64_t cum = 0;
	for (unsigned i = 0; i <= n; i++) {
		cum += bucket[i];
		if (i < n)
			prom_text_seconds(le, bounds_us[i]);
		put_series(t, name, "_bucket{le=\"");
		put_str(t, i < n ? le : "+Inf");
		put(t, "\"} ", 3);
		put_u64(t, cum);
		put(t, "\n", 1);
	}
	prom_text_seconds(le, sum_us);
	put_series(t, name, "_sum ");
	put_str(t, le);
	put(t, "\n", 1);
	put_series(t, name, "_count ");
	put_u64(t, cum);
	put(t, "\n", 1);
}

char *prom_text_take(struct prom_text *t, size_t *len)
{
	char *p = t->failed ? NULL : t->p;
	*len = t->failed ? 0 : t->len;
	if (t->failed)
		free(t->p);
	if (p == NULL && !t->failed) /* nothing written: an empty text */
		p = calloc(1, 1);
	*t = (struct prom_text){ 0 };
	return p;
}
