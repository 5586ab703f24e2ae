/*
 * http/json_buf.h - a growable byte buffer that JSON is written into.
 *
 * Owns: appending raw bytes, JSON strings (escaped), numbers, booleans and
 * RFC 3339 times.  Does not validate structure: callers write keys, commas
 * and brackets.  A failed allocation sets `failed` and later appends do
 * nothing, so a caller checks once at the end.  Input strings are UTF-8
 * (the MIME and index layers guarantee it); controls are escaped.
 * Bounded by the caller (a page of a list, one message).
 */
#ifndef SMTPSINK_JSON_BUF_H
#define SMTPSINK_JSON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_buf {
	char *p; /* NUL-terminated when len > 0 and not failed */
	size_t len, cap;
	bool failed;
};

void json_buf_raw(struct json_buf *b, const char *s, size_t n);
/* A literal: bytes written as they are. */
void json_buf_lit(struct json_buf *b, const char *s);
/* s as a JSON string ("" for NULL). */
void json_buf_str(struct json_buf *b, const char *s);
void json_buf_strn(struct json_buf *b, const char *s, size_t n);
/* "key": (with a comma before it unless first). */
void json_buf_key(struct json_buf *b, const char *key, bool first);
void json_buf_u64(struct json_buf *b, uint64_t v);
void json_buf_i64(struct json_buf *b, int64_t v);
void json_buf_bool(struct json_buf *b, bool v);
/* microseconds since the epoch as "2026-12-07T21:40:48.123Z" */
void json_buf_time(struct json_buf *b, int64_t us);
/* Give up the bytes (caller frees); NULL when an append failed. */
char *json_buf_take(struct json_buf *b, size_t *len);
void json_buf_free(struct json_buf *b);

#endif
