/*
 * tests/bench/test_client_msg.c - bench/client_msg.c: templates, message
 * content and AUTH PLAIN.
 *
 * Checks: template expansion and refusal as a table; generated content has
 * exactly client_msg_content_len() bytes and the requested size for every
 * size from 0 to 2,000 and random ones up to 1 MiB (header-sized ones at
 * header-1, header, header+1, header+2), ends in CRLF, has no line
 * starting with "." and no bare CR or LF, and never needs more room than
 * client_msg_put_room(); --body normalisation (bare LF, dots, missing
 * final CRLF, empty file); base64 and AUTH PLAIN against core/'s decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "client_msg.h"
#include "smtp_auth.h"

#define MAX_SIZE (1u << 20)

static void test_templates(void)
{
	static const struct {
		const char *tmpl;
		uint64_t seq;
		uint32_t rcpt;
		const char *want; /* NULL: refused */
	} rows[] = {
		{ "a@b", 7, 1, "a@b" },
		{ "u%n@x", 42, 1, "u42@x" },
		{ "r%r-%n@x", 18446744073709551615ull, 3, "r3-18446744073709551615@x" },
		{ "%%n%%@x", 5, 1, "%n%@x" },
		{ "", 1, 1, "" },
		{ "a b@x", 1, 1, NULL },
		{ "<a@x>", 1, 1, NULL },
		{ "a%x@y", 1, 1, NULL },
		{ "a%", 1, 1, NULL },
		{ "\x7f@x", 1, 1, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *why = client_msg_template_check(rows[i].tmpl);
		CHECK((why == NULL) == (rows[i].want != NULL), "check(%s): %s", rows[i].tmpl, why ? why : "ok");
		if (rows[i].want == NULL)
			continue;
		char out[CLIENT_MSG_ADDR_MAX_BYTES + 1];
		size_t n = client_msg_expand(rows[i].tmpl, rows[i].seq, rows[i].rcpt, out);
		CHECK(n == strlen(rows[i].want) && memcmp(out, rows[i].want, n) == 0, "expand(%s) = %.*s", rows[i].tmpl,
		      (int)n, out);
		CHECK(n <= client_msg_template_max(rows[i].tmpl), "max(%s)", rows[i].tmpl);
	}
	/* the address limit at limit-1, limit and limit+1 once expanded */
	char t[CLIENT_MSG_ADDR_MAX_BYTES + 8];
	for (int d = -1; d <= 1; d++) {
		size_t len = CLIENT_MSG_ADDR_MAX_BYTES + (size_t)d - CLIENT_MSG_SEQ_DIGITS_MAX;
		memset(t, 'a', len);
		memcpy(t + len, "%n", 3);
		CHECK((client_msg_template_check(t) == NULL) == (d <= 0), "limit%+d", d);
	}
}

/* Lines: CRLF only, none starting with ".", none longer than 998 + CRLF. */
static bool well_formed(const uint8_t *p, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (col == 0 && p[i] == '.')
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			return false;
		col = p[i] == '\n' ? 0 : col + 1;
		if (col > 1000)
			return false;
	}
	return n == 0 || (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n');
}

static size_t flatten(const struct client_out *o, uint8_t *dst)
{
	size_t n = o->body_len ? o->body_at : o->len;
	memcpy(dst, o->buf, n);
	if (o->body_len) {
		memcpy(dst + n, o->body, o->body_len);
		memcpy(dst + n + o->body_len, o->buf + o->body_at, o->len - o->body_at);
		n += o->body_len + o->len - o->body_at;
	}
	return n;
}

static void check_size(const struct client_msg_spec *sp, uint64_t seq, uint32_t size, uint8_t *flat, size_t hlen)
{
	static uint8_t buf[4096];
	struct client_msg m = { seq, 0, size };
	for (int bdat = 0; bdat <= 1; bdat++) {
		struct client_out o = { buf, sizeof buf, 0, 0, NULL, 0 };
		uint64_t want = client_msg_content_len(sp, &m, bdat);
		client_msg_put_content(sp, &m, bdat, &o);
		size_t n = flatten(&o, flat);
		CHECK(n == want, "size %u: %zu bytes, content_len %llu", size, n, (unsigned long long)want);
		CHECK(o.len <= client_msg_put_room(sp), "size %u: room %u > %zu", size, o.len, client_msg_put_room(sp));
		uint64_t expect = size > hlen + 1 ? size : size == hlen + 1 ? hlen + 2 : hlen;
		CHECK(n == expect, "size %u: %zu bytes, want %llu (header %zu)", size, n, (unsigned long long)expect,
		      hlen);
		CHECK(well_formed(flat, n), "size %u: malformed content", size);
	}
}

static void test_content(void)
{
	struct client_msg_spec sp = { "from%n@example.com", "to%r.%n@example.com", false, NULL, 0, NULL, 0, NULL, 0 };
	sp.lines_len = MAX_SIZE + CLIENT_MSG_LINE_BYTES;
	uint8_t *lines = malloc(sp.lines_len), *flat = malloc(2 * MAX_SIZE);
	client_msg_fill_lines(lines, sp.lines_len);
	sp.lines = lines;
	uint64_t seqs[] = { 1, 99, 18446744073709551615ull };
	for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
		struct client_msg m0 = { seqs[k], 0, 0 };
		size_t hlen = (size_t)client_msg_content_len(&sp, &m0, false); /* size 0: the header alone */
		for (uint32_t size = 0; size <= 2000; size++)
			check_size(&sp, seqs[k], size, flat, hlen);
		for (int d = -1; d <= 2; d++)
			check_size(&sp, seqs[k], (uint32_t)((int)hlen + d), flat, hlen);
		for (int i = 0; i < 200; i++)
			check_size(&sp, seqs[k], (uint32_t)(rand() % MAX_SIZE), flat, hlen);
		check_size(&sp, seqs[k], MAX_SIZE, flat, hlen);
	}
	struct client_msg m = { 12345, 0, 500 };
	static uint8_t buf[1024];
	struct client_out o = { buf, sizeof buf, 0, 0, NULL, 0 };
	client_msg_put_content(&sp, &m, false, &o);
	size_t n = flatten(&o, flat);
	flat[n] = '\0';
	CHECK(strstr((char *)flat, "Message-ID: <12345@smtpsink-bench>\r\n") != NULL &&
		      strstr((char *)flat, "From: <from12345@example.com>\r\nTo: <to1.12345@example.com>\r\n") ==
			      (char *)flat,
	      "header: %s", flat);
	free(lines);
	free(flat);
}

static void body_row(const char *file, const char *want_raw, const char *want_stuffed)
{
	struct client_msg_spec sp;
	memset(&sp, 0, sizeof sp);
	CHECK(client_msg_load_body((const uint8_t *)file, strlen(file), &sp) == 0, "load");
	CHECK(sp.file && sp.raw_len == strlen(want_raw) && memcmp(sp.raw, want_raw, sp.raw_len) == 0,
	      "raw of \"%s\": \"%.*s\"", file, (int)sp.raw_len, sp.raw);
	CHECK(sp.stuffed_len == strlen(want_stuffed) && memcmp(sp.stuffed, want_stuffed, sp.stuffed_len) == 0,
	      "stuffed of \"%s\": \"%.*s\"", file, (int)sp.stuffed_len, sp.stuffed);
	struct client_msg m = { 1, 0, 0 };
	CHECK(client_msg_content_len(&sp, &m, true) == sp.raw_len &&
		      client_msg_content_len(&sp, &m, false) == sp.stuffed_len,
	      "content_len of a file");
	free((void *)sp.raw);
	free((void *)sp.stuffed);
}

static void test_body(void)
{
	body_row("", "", "");
	body_row("a\r\nb\r\n", "a\r\nb\r\n", "a\r\nb\r\n");
	body_row("a\nb\n", "a\r\nb\r\n", "a\r\nb\r\n");
	body_row("a\nb", "a\r\nb\r\n", "a\r\nb\r\n");
	body_row(".\n..x\nok.\n", ".\r\n..x\r\nok.\r\n", "..\r\n...x\r\nok.\r\n");
	body_row(".", ".\r\n", "..\r\n");
	body_row("x\r", "x\r\r\n", "x\r\r\n");
}

static void test_auth(void)
{
	uint8_t in[64], dec[64];
	char enc[128];
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(rand() % 60);
		for (size_t k = 0; k < n; k++)
			in[k] = (uint8_t)rand();
		size_t e = client_msg_b64_encode(in, n, enc);
		long d = smtp_auth_b64_decode(smtp_view_make(enc, e), dec, sizeof dec);
		CHECK(e == (n + 2) / 3 * 4 && d == (long)n && memcmp(in, dec, n) == 0, "b64 of %zu bytes", n);
	}
	char out[64];
	size_t n = client_msg_auth_plain("user:pa:ss", out, sizeof out);
	long d = smtp_auth_b64_decode(smtp_view_make(out, n), dec, sizeof dec);
	struct smtp_view user;
	CHECK(d == 11 && memcmp(dec, "\0user\0pa:ss", 11) == 0 && smtp_auth_plain_user(dec, (size_t)d, &user) &&
		      user.len == 4 && memcmp(user.ptr, "user", 4) == 0,
	      "auth plain: %s", out);
	CHECK(strcmp(out, "AHVzZXIAcGE6c3M=") == 0, "auth plain: %s", out);
	CHECK(client_msg_auth_plain("nocolon", out, sizeof out) == 0, "no colon");
	CHECK(client_msg_auth_plain("u:p", out, 8) == 0 && client_msg_auth_plain("u:p", out, 9) == 8, "room");
}

int main(void)
{
	test_templates();
	test_content();
	test_body();
	test_auth();
	return bench_check_finish("test_client_msg");
}
