/*
 * tests/mime/test_mime_text.c - the pure halves of mime/: valid UTF-8 out
 * of any bytes and charset conversion (mime_text.h), and the snippet rule
 * (mime_snippet.h).
 *
 * Owns: table rows for replacement (stray continuation, overlong, cut
 * sequence, surrogate, NUL), conversions (ISO-8859-1, Windows-1252,
 * Shift_JIS with a bad byte, a cut UTF-16 unit, an unknown charset), a
 * random-bytes run checking that output is always well-formed and that
 * valid input passes unchanged, and snippet rows (tags, skipped elements,
 * block blanks, references, blanks collapsed, the 200-byte cut at a
 * sequence boundary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmime/gmime.h>

#include "mime_snippet.h"
#include "mime_text.h"
#include "session_harness.h"
#include "utf8.h"

#define RANDOM_ROUNDS 5000u
#define RANDOM_MAX_BYTES 24u
#define SNIPPET_CAP (MIME_SNIPPET_LIMIT_BYTES + 4u)
#define SNIPPET_LINEAR_MAX_S 5 /* generous on a loaded machine; quadratic takes minutes */
#define CHECK_S(got, want) CHECK_STR((got), strlen(got), (want))

struct conv_row {
	const char *in;
	size_t len;
	const char *charset;
	const char *want;
};

#define CONV(s, cs, w)                  \
	{                               \
		s, sizeof(s) - 1, cs, w \
	}

static const struct conv_row conv_rows[] = {
	CONV("plain", NULL, "plain"),
	CONV("caf\xc3\xa9", "utf-8", "caf\xc3\xa9"),
	CONV("a\x80"
	     "b",
	     NULL,
	     "a\xef\xbf\xbd"
	     "b"), /* stray continuation byte */
	CONV("\xc0\xaf", "UTF-8", "\xef\xbf\xbd\xef\xbf\xbd"), /* overlong: one per byte */
	CONV("cut \xe2\x82", NULL, "cut \xef\xbf\xbd\xef\xbf\xbd"),
	CONV("\xed\xa0\x80", NULL, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), /* surrogate */
	CONV("nul\0here", NULL, "nul\xef\xbf\xbdhere"),
	CONV("caf\xe9", "iso-8859-1", "caf\xc3\xa9"),
	CONV("caf\xe9", "latin1", "caf\xc3\xa9"), /* an alias GMime knows */
	CONV("\x93q\x94 \x80", "windows-1252", "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x82\xac"),
	CONV("\x82\xa0\xff!", "shift_jis", "\xe3\x81\x82\xef\xbf\xbd!"), /* 0xFF is no Shift_JIS byte */
	CONV("a\0b", "utf-16le", "a\xef\xbf\xbd"), /* the odd byte cannot complete a unit */
	CONV("caf\xe9", "x-no-such-charset", "caf\xef\xbf\xbd"),
	CONV("caf\xe9", "", "caf\xef\xbf\xbd"),
};

static void test_conversions(void)
{
	for (size_t i = 0; i < sizeof conv_rows / sizeof conv_rows[0]; i++) {
		const struct conv_row *r = &conv_rows[i];
		size_t n = 0;
		char *s = mime_text_convert((const uint8_t *)r->in, r->len, r->charset, &n);
		if (!CHECK(s != NULL))
			continue;
		CHECK_STR(s, n, r->want);
		CHECK_U64(strlen(s), n);
		free(s);
	}
	char *e = mime_text_dup(NULL);
	CHECK(e && e[0] == '\0');
	free(e);
}

/* Random bytes: always well-formed with no NUL; valid input unchanged. */
static void test_random(void)
{
	struct harness_rng g;
	harness_rng_seed(&g, 13);
	unsigned bad = 0, changed = 0;
	for (unsigned round = 0; round < RANDOM_ROUNDS; round++) {
		uint8_t in[RANDOM_MAX_BYTES];
		size_t len = harness_rng_next(&g) % (RANDOM_MAX_BYTES + 1);
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)(round % 2 ? harness_rng_next(&g) % 0x100 :
						      0x20 + harness_rng_next(&g) % 0x60);
		size_t n;
		char *s = mime_text_utf8(in, len, &n);
		if (!s || !utf8_valid((const uint8_t *)s, n) || strlen(s) != n)
			bad++;
		if (s && utf8_valid(in, len) && !memchr(in, 0, len) && (n != len || memcmp(s, in, len) != 0))
			changed++;
		free(s);
	}
	CHECK_U64(bad, 0);
	CHECK_U64(changed, 0);
}

struct snip_row {
	const char *text, *html, *want;
};

static const struct snip_row snip_rows[] = {
	{ "two  blanks\r\n\tand\fmore ", NULL, "two blanks and more" },
	{ "\xef\xbb\xbfwith BOM", "", "with BOM" },
	{ "ignored", "<h1>Title</h1><p>Para</p>", "Title Para" },
	{ NULL, "<b>Hel</b>lo <i>you</i>", "Hello you" },
	{ NULL, "<head><title>T</title><style>p{}</style></head><body>Body<script>x<y</script> end", "Body end" },
	{ NULL, "a<br>b<BR/>c<img src=x>d", "a b c d" },
	{ NULL, "<div>one</div>two<div>three</div><div>four</div>", "onetwothree four" },
	{ NULL, "&lt;tag&gt; &amp; &quot;q&quot; &#233;&#x20AC;&nbsp;x &bogus; &#0; a&b",
	  "<tag> & \"q\" \xc3\xa9\xe2\x82\xac x &bogus; &#0; a&b" },
	{ NULL, "<!-- hidden --> shown <a href=\"x>y\">link</a>", "shown link" },
	{ NULL, "ctl\x01\x1b[31m here", "ctl [31m here" },
	{ NULL, "1 < 2 and <3", "1 < 2 and <3" },
	{ "text used", "<p> </p>", "text used" },
	{ NULL, "<script>never closed", "" },
	{ "", "", "" },
};

static void test_snippets(void)
{
	for (size_t i = 0; i < sizeof snip_rows / sizeof snip_rows[0]; i++) {
		char out[SNIPPET_CAP];
		mime_snippet_make(snip_rows[i].text, snip_rows[i].html, out, sizeof out);
		CHECK_STR(out, strlen(out), snip_rows[i].want);
	}
}

/* The cut: limit - 1, limit and limit + 1 bytes, and a 2-byte character
 * across the limit (backed off whole). */
static void test_snippet_cut(void)
{
	char in[MIME_SNIPPET_LIMIT_BYTES + 8], out[SNIPPET_CAP], want[SNIPPET_CAP];
	for (size_t len = MIME_SNIPPET_LIMIT_BYTES - 1; len <= MIME_SNIPPET_LIMIT_BYTES + 1; len++) {
		memset(in, 'x', len);
		in[len] = '\0';
		mime_snippet_make(in, NULL, out, sizeof out);
		memset(want, 'x', MIME_SNIPPET_LIMIT_BYTES);
		want[len <= MIME_SNIPPET_LIMIT_BYTES ? len : MIME_SNIPPET_LIMIT_BYTES] = '\0';
		if (len > MIME_SNIPPET_LIMIT_BYTES)
			strcat(want, "...");
		CHECK_STR(out, strlen(out), want);
	}
	memset(in, 'y', MIME_SNIPPET_LIMIT_BYTES - 1);
	memcpy(in + MIME_SNIPPET_LIMIT_BYTES - 1, "\xc3\xa9zz", 5); /* é spans bytes 199..200 */
	mime_snippet_make(in, NULL, out, sizeof out);
	memset(want, 'y', MIME_SNIPPET_LIMIT_BYTES - 1);
	strcpy(want + MIME_SNIPPET_LIMIT_BYTES - 1, "...");
	CHECK_STR(out, strlen(out), want);
	CHECK(utf8_valid((const uint8_t *)out, strlen(out)));
}

/* 300,000 unclosed <head> tags and no text: linear, so well under a
 * second (searching for each one's closer again took minutes). */
static void test_snippet_linear(void)
{
	static const char tag[] = "<head>";
	const size_t count = 300000;
	char *html = malloc(count * (sizeof tag - 1) + 1);
	if (!CHECK(html != NULL))
		return;
	for (size_t i = 0; i < count; i++)
		memcpy(html + i * (sizeof tag - 1), tag, sizeof tag - 1);
	html[count * (sizeof tag - 1)] = '\0';
	struct timespec t0, t1;
	char out[SNIPPET_CAP];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mime_snippet_make("fallback", html, out, sizeof out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_S(out, "fallback");
	CHECK((t1.tv_sec - t0.tv_sec) < SNIPPET_LINEAR_MAX_S);
	free(html);
}

int main(void)
{
	g_mime_init();
	test_conversions();
	test_random();
	test_snippets();
	test_snippet_cut();
	test_snippet_linear();
	g_mime_shutdown();
	return harness_finish("mime_text");
}
