/*
 * http/http_auth.c - basic auth credentials (http_auth.h).
 */
#include "http_auth.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

static void digest(const char *s, size_t n, uint8_t out[HTTP_AUTH_DIGEST_BYTES])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, n, (const uint8_t *)s);
	sha256_digest(&ctx, HTTP_AUTH_DIGEST_BYTES, out);
}

/* One line (without its end): added, skipped, or an error text. */
static const char *parse_line(struct http_auth *a, size_t *cap, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n == 0 || s[0] == '#')
		return NULL;
	if (n > HTTP_AUTH_MAX_LINE)
		return "line too long";
	const char *colon = memchr(s, ':', n);
	if (colon == NULL || colon == s)
		return "expected user:password";
	if (a->n == HTTP_AUTH_MAX_ENTRIES)
		return "too many entries";
	if (!grow_array((void **)&a->v, cap, a->n + 1, sizeof *a->v, 8))
		return "out of memory";
	struct http_auth_entry *e = &a->v[a->n++];
	digest(s, (size_t)(colon - s), e->user);
	digest(colon + 1, n - (size_t)(colon - s) - 1, e->pass);
	return NULL;
}

int http_auth_parse(struct http_auth *a, const char *text, size_t len, char *err, size_t err_len)
{
	size_t cap = 0, line = 0;
	memset(a, 0, sizeof *a);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - text) - at : len - at;
		line++;
		const char *why = parse_line(a, &cap, text + at, n);
		if (why != NULL) {
			snprintf(err, err_len, "line %zu: %s", line, why);
			http_auth_free(a);
			return strcmp(why, "out of memory") == 0 ? -ENOMEM : -EINVAL;
		}
		at += n + 1;
	}
	if (a->n == 0) {
		snprintf(err, err_len, "no user:password line");
		return -EINVAL;
	}
	return 0;
}

int http_auth_load(struct http_auth *a, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-e));
		return e;
	}
	char *buf = malloc(HTTP_AUTH_FILE_MAX + 1);
	size_t n = buf != NULL ? fread(buf, 1, HTTP_AUTH_FILE_MAX + 1, f) : 0;
	bool bad = buf == NULL || ferror(f) || n > HTTP_AUTH_FILE_MAX;
	fclose(f);
	int r = -EINVAL;
	if (bad) {
		snprintf(err, err_len, "%s: cannot read it (or larger than 1 MiB)", path);
	} else {
		char why[128];
		r = http_auth_parse(a, buf, n, why, sizeof why);
		if (r != 0)
			snprintf(err, err_len, "%s: %s", path, why);
	}
	free(buf);
	return r;
}

bool http_auth_check(const struct http_auth *a, const char *user, const char *pass)
{
	uint8_t u[HTTP_AUTH_DIGEST_BYTES], p[HTTP_AUTH_DIGEST_BYTES];
	digest(user, strlen(user), u);
	digest(pass, strlen(pass), p);
	unsigned found = 0;
	for (size_t i = 0; i < a->n; i++) {
		unsigned diff = 0;
		for (size_t k = 0; k < HTTP_AUTH_DIGEST_BYTES; k++)
			diff |= (unsigned)(a->v[i].user[k] ^ u[k]) | (unsigned)(a->v[i].pass[k] ^ p[k]);
		found |= diff == 0;
	}
	return found != 0;
}

void http_auth_free(struct http_auth *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}
