/*
 * http/http_auth.h - HTTP basic auth credentials from --http-auth FILE.
 *
 * Owns: parsing "user:password" lines (blank lines and lines starting
 * with '#' skipped; the password is everything after the first ':'), and
 * checking a presented pair in constant time: both sides are hashed
 * (SHA-256) and every stored entry is compared, so neither the position
 * of a match nor a common prefix shows in the time taken.
 * Workload: a few entries, one check per request.
 */
#ifndef SMTPSINK_HTTP_AUTH_H
#define SMTPSINK_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_AUTH_MAX_ENTRIES 1024u
#define HTTP_AUTH_MAX_LINE 1024u /* bytes of one user:password line */
#define HTTP_AUTH_FILE_MAX (1u << 20)
#define HTTP_AUTH_DIGEST_BYTES 32u

struct http_auth_entry {
	uint8_t user[HTTP_AUTH_DIGEST_BYTES];
	uint8_t pass[HTTP_AUTH_DIGEST_BYTES];
};

struct http_auth {
	struct http_auth_entry *v;
	size_t n;
};

/* Parse text[0, len): 0, or -EINVAL with "line N: why" in err (no entries
 * at all is an error too), -ENOMEM. */
int http_auth_parse(struct http_auth *a, const char *text, size_t len, char *err, size_t err_len);
/* Read and parse a file: 0 or -errno, err set. */
int http_auth_load(struct http_auth *a, const char *path, char *err, size_t err_len);
bool http_auth_check(const struct http_auth *a, const char *user, const char *pass);
void http_auth_free(struct http_auth *a);

#endif
