/*
 * tests/core/test_data_decoder.c - DATA decoding and BDAT classification.
 *
 * Owns: table tests of data_decoder_dot() (dot-unstuffing, the exact
 * CRLF.CRLF terminator, every bare CR/LF smuggling variant, bare-LF
 * normalisation, flags), each fed at every split point and byte by byte;
 * a comparison with a naive whole-input reference decoder on random input;
 * data_decoder_find_crlf() against a scalar loop at every alignment; and
 * data_decoder_classify() across chunk boundaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_decoder.h"
#include "session_harness.h"

struct sink_buf {
	uint8_t bytes[1 << 15];
	size_t len;
	bool overflow;
};

static void sink(void *ctx, const uint8_t *p, size_t n)
{
	struct sink_buf *b = ctx;
	if (n == 0 || b->len + n > sizeof b->bytes) {
		b->overflow = true; /* an empty view is a contract breach too */
		return;
	}
	memcpy(b->bytes + b->len, p, n);
	b->len += n;
}

struct decode_result {
	size_t consumed;
	bool done;
	uint32_t flags;
};

/* Decode in[] fed in pieces: first `cut` bytes, then `step` at a time. */
static struct decode_result decode(const uint8_t *in, size_t len, size_t cut, size_t step,
				   enum smtp_bare_lf_policy policy, struct sink_buf *out)
{
	struct data_decoder d;
	struct decode_result r = { 0, false, 0 };
	data_decoder_begin(&d, policy);
	out->len = 0;
	out->overflow = false;
	size_t off = 0, next = cut;
	while (!r.done && off < len) {
		size_t piece = next - off;
		if (piece == 0)
			piece = len - off < step ? len - off : step;
		size_t n = data_decoder_dot(&d, in + off, piece, &r.done, sink, out);
		if (!r.done && n != piece)
			out->overflow = true; /* must consume all until the end */
		off += n;
		next = off;
	}
	r.consumed = off;
	r.flags = d.flags;
	return r;
}

/* Rows may contain NUL, so lengths come from the literals' sizes. */
#define ROW(in, content, consumed, flags, policy)                                         \
	{                                                                                 \
		in, sizeof(in) - 1, content, sizeof(content) - 1, consumed, flags, policy \
	}

static const struct row {
	const char *in;
	size_t len;
	const char *content;
	size_t content_len;
	int consumed; /* -1: all of it, not done */
	uint32_t flags;
	enum smtp_bare_lf_policy policy;
} rows[] = {
	ROW(".\r\n", "", 3, 0, SMTP_BARE_LF_PRESERVE),
	ROW(".\r\nMAIL", "", 3, 0, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.\r\n", "a\r\n", 6, 0, SMTP_BARE_LF_PRESERVE),
	ROW("..a\r\n.\r\n", ".a\r\n", 8, 0, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n..\r\n.\r\n", "a\r\n.\r\n", 10, 0, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.b\r\n.\r\n", "a\r\nb\r\n", 10, 0, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.", "a\r\n", -1, 0, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.\r", "a\r\n", -1, 0, SMTP_BARE_LF_PRESERVE),
	/* smuggling variants stay inside the message */
	ROW("a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 10, DATA_FLAG_BARE_LF | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", 10, DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", 11, DATA_FLAG_BARE_LF | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 11, DATA_FLAG_BARE_LF | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", 11, DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 11, DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\n.\rb\r\n.\r\n", "a\n.\rb\r\n", 10, DATA_FLAG_BARE_LF | DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD,
	    SMTP_BARE_LF_PRESERVE),
	ROW("a\r.\nb\r\n.\r\n", "a\r.\nb\r\n", 10, DATA_FLAG_BARE_LF | DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD,
	    SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n.\r\r\nb\r\n.\r\n", "a\r\n\r\r\nb\r\n", 13, DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD,
	    SMTP_BARE_LF_PRESERVE),
	ROW("a\r\r\n.\r\r\nb\r\n.\r\n", "a\r\r\n\r\r\nb\r\n", 14, DATA_FLAG_BARE_CR | DATA_FLAG_FALSE_EOD,
	    SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n\0.\r\n.\r\n", "a\r\n\0.\r\n", 10, DATA_FLAG_NUL | DATA_FLAG_FALSE_EOD, SMTP_BARE_LF_PRESERVE),
	ROW("a\r\n\0\0.\r\n.\r\n", "a\r\n\0\0.\r\n", 11, DATA_FLAG_NUL, SMTP_BARE_LF_PRESERVE),
	/* normalisation changes what is stored, never where the message ends */
	ROW("a\nb\n.\n\r\n.\r\n", "a\r\nb\r\n.\r\n\r\n", 11, DATA_FLAG_BARE_LF | DATA_FLAG_FALSE_EOD,
	    SMTP_BARE_LF_NORMALIZE),
	ROW("\xc3\xa9\r\n.\r\n", "\xc3\xa9\r\n", 7, DATA_FLAG_8BIT, SMTP_BARE_LF_PRESERVE),
};

static void test_rows(void)
{
	static struct sink_buf got;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		size_t want_consumed = r->consumed < 0 ? r->len : (size_t)r->consumed;
		for (size_t cut = 0; cut <= r->len; cut++) {
			for (size_t step = 1; step <= r->len; step += r->len) {
				struct decode_result d =
					decode((const uint8_t *)r->in, r->len, cut, step, r->policy, &got);
				CHECK(!got.overflow);
				harness_check_mem(got.bytes, got.len, r->content, r->content_len, __FILE__, __LINE__,
						  r->in);
				CHECK_U64(d.consumed, want_consumed);
				CHECK(d.done == (r->consumed >= 0));
				CHECK_U64(d.flags, r->flags);
			}
		}
	}
}

/* The naive reference: look at the whole input at once.  The message ends
 * at the first CRLF "." CRLF (or a leading ".\r\n"); in the text before it,
 * a '.' right after CRLF (or at the start) is dropped, and under normalise
 * a LF without CR before it is stored as CRLF. */
static size_t ref_end(const uint8_t *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 0;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 2;
	return len;
}

static uint32_t ref_flags(const uint8_t *in, size_t end)
{
	uint32_t f = 0;
	size_t line = 0;
	for (size_t i = 0; i < end; i++) {
		uint8_t c = in[i];
		/* a '.' after a bare CR or LF, or after a NUL that starts a line */
		bool nul_bol =
			i >= 1 && in[i - 1] == 0 && (i == 1 || (i >= 3 && in[i - 2] == '\n' && in[i - 3] == '\r'));
		bool lineish = i == 0 || in[i - 1] == '\r' || in[i - 1] == '\n' || nul_bol;
		if (c == 0)
			f |= DATA_FLAG_NUL;
		if (c & 0x80)
			f |= DATA_FLAG_8BIT;
		if (c == '\n' && (i == 0 || in[i - 1] != '\r'))
			f |= DATA_FLAG_BARE_LF;
		if (c == '\r' && (i + 1 >= end || in[i + 1] != '\n'))
			f |= DATA_FLAG_BARE_CR;
		if (c == '.' && lineish && i + 1 < end && (in[i + 1] == '\r' || in[i + 1] == '\n'))
			f |= DATA_FLAG_FALSE_EOD;
		line++;
		if (c == '\n') {
			if (line > SMTP_TEXT_LINE_MAX_BYTES)
				f |= DATA_FLAG_LONG_LINE;
			line = 0;
		}
	}
	return f;
}

static size_t ref_content(const uint8_t *in, size_t end, bool normalize, uint8_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < end; i++) {
		bool bol = i == 0 || (i >= 2 && in[i - 1] == '\n' && in[i - 2] == '\r');
		if (in[i] == '.' && bol)
			continue;
		if (in[i] == '\n' && normalize && (i == 0 || in[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = in[i];
	}
	return n;
}

static void test_random_against_reference(void)
{
	static const char alphabet[] = "aaaa..\r\r\n\n\x80";
	static struct sink_buf got;
	static uint8_t want[1 << 14];
	struct harness_rng g;
	harness_rng_seed(&g, 7);
	for (int round = 0; round < 20000; round++) {
		uint8_t in[2100];
		size_t body = (size_t)harness_rng_below(&g, 2000);
		harness_rng_bytes(&g, in, body, round % 3 == 0 ? NULL : alphabet);
		memcpy(in + body, "\r\n.\r\nTAIL", 9);
		size_t len = body + 9;
		bool normalize = round % 2 == 1;
		size_t end = ref_end(in, len);
		size_t want_len = ref_content(in, end, normalize, want);
		size_t cut = (size_t)harness_rng_below(&g, len + 1);
		size_t step = 1 + (size_t)harness_rng_below(&g, 64);
		struct decode_result d =
			decode(in, len, cut, step, normalize ? SMTP_BARE_LF_NORMALIZE : SMTP_BARE_LF_PRESERVE, &got);
		CHECK(!got.overflow && d.done);
		CHECK_U64(d.consumed, end + 3);
		harness_check_mem(got.bytes, got.len, want, want_len, __FILE__, __LINE__, "random content");
		/* LONG_LINE is judged on stored lines; compare the rest exactly */
		CHECK_U64(d.flags & ~(uint32_t)DATA_FLAG_LONG_LINE,
			  ref_flags(in, end) & ~(uint32_t)DATA_FLAG_LONG_LINE);
	}
}

/* find_crlf must agree with a scalar loop for every start alignment and
 * every position of the first CR/LF, and never read past the end. */
static void test_find_crlf(void)
{
	uint8_t buf[96];
	for (size_t start = 0; start < 32; start++) {
		for (size_t at = start; at <= 80; at++) {
			memset(buf, 'x', sizeof buf);
			buf[start + 3 < at ? start + 3 : start] = 0x85;
			if (at < 80)
				buf[at] = (at % 2) ? '\r' : '\n';
			uint32_t f = 0;
			const uint8_t *q = data_decoder_find_crlf(buf + start, buf + 80, &f);
			CHECK_U64((uint64_t)(q - buf), at);
			bool high_before = (start + 3 < at ? start + 3 : start) < at;
			CHECK_U64(f, high_before ? DATA_FLAG_8BIT : 0);
		}
	}
}

static void test_classify(void)
{
	static const char in[] = "a\r\nb\rc\nd\0\r";
	struct data_decoder d;
	for (size_t cut = 0; cut <= sizeof in - 1; cut++) {
		data_decoder_begin(&d, SMTP_BARE_LF_PRESERVE);
		data_decoder_classify(&d, (const uint8_t *)in, cut);
		data_decoder_classify(&d, (const uint8_t *)in + cut, sizeof in - 1 - cut);
		CHECK_U64(d.flags, DATA_FLAG_BARE_CR | DATA_FLAG_BARE_LF | DATA_FLAG_NUL);
		CHECK_U64(d.lines, 2);
	}
}

/* A 1000-octet line (with CRLF) is fine; 1001 is flagged. */
static void test_long_line_limit(void)
{
	static struct sink_buf got;
	static uint8_t in[1100];
	for (size_t n = SMTP_TEXT_LINE_MAX_BYTES - 3; n <= SMTP_TEXT_LINE_MAX_BYTES - 1; n++) {
		memset(in, 'x', n);
		memcpy(in + n, "\r\n.\r\n", 5);
		struct decode_result d = decode(in, n + 5, n / 2, 7, SMTP_BARE_LF_PRESERVE, &got);
		CHECK_U64(d.flags, n + 2 > SMTP_TEXT_LINE_MAX_BYTES ? DATA_FLAG_LONG_LINE : 0);
	}
}

int main(void)
{
	test_rows();
	test_random_against_reference();
	test_find_crlf();
	test_classify();
	test_long_line_limit();
	return harness_finish("data_decoder");
}
