/*
 * tests/core/test_text.h - a growable byte string for building test inputs
 * and expected transcripts.
 *
 * Owns: appending bytes, strings, repeats, formatted text and harness-style
 * escapes to one heap buffer that always stays NUL-terminated.  Test-only:
 * an allocation failure aborts the test binary.
 */
#ifndef SMTPSINK_TESTS_TEST_TEXT_H
#define SMTPSINK_TESTS_TEST_TEXT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"

struct test_text {
	char *p;
	size_t len;
	size_t cap;
};

static inline void text_add(struct test_text *t, const void *bytes, size_t len)
{
	if (t->len + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + len + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (p == NULL)
			abort();
		t->p = p;
		t->cap = cap;
	}
	if (len != 0)
		memcpy(t->p + t->len, bytes, len);
	t->len += len;
	t->p[t->len] = '\0';
}

static inline void text_str(struct test_text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* s, times times over. */
static inline void text_rep(struct test_text *t, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		text_str(t, s);
}

/* n copies of the byte c. */
static inline void text_fill(struct test_text *t, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		text_add(t, &c, 1);
}

static inline void text_printf(struct test_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void text_printf(struct test_text *t, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		abort();
	text_add(t, tmp, (size_t)n);
}

/* bytes escaped the way the harness prints views and bodies. */
static inline void text_escaped(struct test_text *t, const void *bytes, size_t len)
{
	char *e = harness_escape(bytes, len);
	text_str(t, e);
	free(e);
}

/* Never NULL, even when nothing was added. */
static inline const char *text_cstr(struct test_text *t)
{
	if (t->p == NULL)
		text_add(t, "", 0);
	return t->p;
}

static inline void text_free(struct test_text *t)
{
	free(t->p);
	memset(t, 0, sizeof *t);
}

#endif
