/*
 * tests/http/test_http_auth.c - the --http-auth file and the credential
 * check (http/http_auth.c).
 *
 * Owns: what a line may be (blank, comment, CRLF, a password holding
 * ':'), what is refused with its line number (no ':', empty user, no
 * entry at all, a line at the length limit +1, one entry past the entry
 * limit), and the check: right pair accepted, a wrong user, a wrong or
 * prefix/extended password, and another entry's password refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_auth.h"
#include "session_harness.h"

static int parse(struct http_auth *a, const char *text, char *err, size_t err_len)
{
	return http_auth_parse(a, text, strlen(text), err, err_len);
}

static void test_accepts(void)
{
	struct http_auth a;
	char err[128] = "";
	const char *text = "# users\n\nalice:s3cret\r\nbob:pa:ss:word\n  \n";
	/* "  " has no ':' and is not blank: refused */
	CHECK(parse(&a, text, err, sizeof err) < 0);
	CHECK(strstr(err, "line 5") != NULL);
	text = "# users\n\nalice:s3cret\r\nbob:pa:ss:word\ncarol:";
	if (!CHECK(parse(&a, text, err, sizeof err) == 0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_U64(a.n, 3);
	CHECK(http_auth_check(&a, "alice", "s3cret"));
	CHECK(http_auth_check(&a, "bob", "pa:ss:word"));
	CHECK(http_auth_check(&a, "carol", ""));
	CHECK(!http_auth_check(&a, "alice", "s3cre"));
	CHECK(!http_auth_check(&a, "alice", "s3crets"));
	CHECK(!http_auth_check(&a, "alice", "pa:ss:word"));
	CHECK(!http_auth_check(&a, "Alice", "s3cret"));
	CHECK(!http_auth_check(&a, "", ""));
	CHECK(!http_auth_check(&a, "bob", "pa"));
	http_auth_free(&a);
}

static void test_refuses(void)
{
	static const struct {
		const char *text, *err;
	} rows[] = {
		{ "", "no user:password line" },
		{ "# only a comment\n", "no user:password line" },
		{ "alice\n", "line 1: expected user:password" },
		{ "alice:x\n:nouser\n", "line 2: expected user:password" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct http_auth a;
		char err[128] = "";
		if (!CHECK(parse(&a, rows[i].text, err, sizeof err) < 0) || !CHECK(strstr(err, rows[i].err) != NULL))
			fprintf(stderr, "  row %zu: %s\n", i, err);
	}
}

/* A line of HTTP_AUTH_MAX_LINE bytes is read, one more is refused. */
static void test_line_limit(void)
{
	for (size_t n = HTTP_AUTH_MAX_LINE - 1; n <= HTTP_AUTH_MAX_LINE + 1; n++) {
		char *line = malloc(n + 1);
		memset(line, 'p', n);
		memcpy(line, "u:", 2);
		line[n] = '\0';
		struct http_auth a;
		char err[128];
		int r = parse(&a, line, err, sizeof err);
		CHECK((r == 0) == (n <= HTTP_AUTH_MAX_LINE));
		if (r == 0)
			http_auth_free(&a);
		free(line);
	}
}

/* HTTP_AUTH_MAX_ENTRIES entries are read, one more is refused. */
static void test_entry_limit(void)
{
	for (size_t n = HTTP_AUTH_MAX_ENTRIES - 1; n <= HTTP_AUTH_MAX_ENTRIES + 1; n++) {
		size_t cap = n * 16 + 1, len = 0;
		char *text = malloc(cap);
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, cap - len, "u%zu:p%zu\n", i, i);
		struct http_auth a;
		char err[128];
		int r = http_auth_parse(&a, text, len, err, sizeof err);
		CHECK((r == 0) == (n <= HTTP_AUTH_MAX_ENTRIES));
		if (r == 0) {
			CHECK(http_auth_check(&a, "u0", "p0"));
			CHECK(http_auth_check(&a, "u1000", "p1000"));
			CHECK(!http_auth_check(&a, "u1000", "p999"));
			http_auth_free(&a);
		}
		free(text);
	}
}

int main(void)
{
	test_accepts();
	test_refuses();
	test_line_limit();
	test_entry_limit();
	return harness_finish("http_auth");
}
