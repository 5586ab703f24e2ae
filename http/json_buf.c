/*
 * http/json_buf.c - JSON written into a growable buffer (json_buf.h).
 */
#include "json_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"

#define JSON_BUF_FIRST_CAP 1024u
#define HEX_DIGITS "0123456789abcdef"

void json_buf_raw(struct json_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (!grow_array((void **)&b->p, &b->cap, b->len + n + 1, 1, JSON_BUF_FIRST_CAP)) {
		b->failed = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void json_buf_lit(struct json_buf *b, const char *s)
{
	json_buf_raw(b, s, strlen(s));
}

/* The escape for byte c, or NULL when it stands for itself. */
static const char *escape_of(unsigned char c, char u00[7])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		break;
	}
	if (c >= 0x20 && c != 0x7f)
		return NULL;
	memcpy(u00, "\\u00", 4);
	u00[4] = HEX_DIGITS[c >> 4];
	u00[5] = HEX_DIGITS[c & 15];
	u00[6] = '\0';
	return u00;
}

void json_buf_strn(struct json_buf *b, const char *s, size_t n)
{
	char u00[7];
	size_t run = 0; /* bytes before i that need no escape, not yet copied */
	json_buf_raw(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		const char *e = escape_of((unsigned char)s[i], u00);
		if (e == NULL) {
			run++;
			continue;
		}
		json_buf_raw(b, s + i - run, run);
		json_buf_lit(b, e);
		run = 0;
	}
	json_buf_raw(b, s + n - run, run);
	json_buf_raw(b, "\"", 1);
}

void json_buf_str(struct json_buf *b, const char *s)
{
	json_buf_strn(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void json_buf_key(struct json_buf *b, const char *key, bool first)
{
	if (!first)
		json_buf_raw(b, ",", 1);
	json_buf_str(b, key);
	json_buf_raw(b, ":", 1);
}

void json_buf_u64(struct json_buf *b, uint64_t v)
{
	char t[24];
	json_buf_raw(b, t, (size_t)snprintf(t, sizeof t, "%" PRIu64, v));
}

void json_buf_i64(struct json_buf *b, int64_t v)
{
	char t[24];
	json_buf_raw(b, t, (size_t)snprintf(t, sizeof t, "%" PRId64, v));
}

void json_buf_bool(struct json_buf *b, bool v)
{
	json_buf_lit(b, v ? "true" : "false");
}

void json_buf_time(struct json_buf *b, int64_t us)
{
	time_t s = (time_t)(us / 1000000);
	int64_t ms = (us % 1000000) / 1000;
	if (ms < 0) {
		s--;
		ms += 1000;
	}
	struct tm tm;
	char t[48];
	gmtime_r(&s, &tm);
	size_t n = strftime(t, sizeof t, "\"%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(t + n, sizeof t - n, ".%03dZ\"", (int)ms);
	json_buf_raw(b, t, n);
}

char *json_buf_take(struct json_buf *b, size_t *len)
{
	if (b->p == NULL)
		json_buf_raw(b, "", 0); /* an empty buffer still gives a string */
	char *p = b->failed ? NULL : b->p;
	if (p == NULL)
		free(b->p);
	*len = p != NULL ? b->len : 0;
	memset(b, 0, sizeof *b);
	return p;
}

void json_buf_free(struct json_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
