/*
 * tests/bench/test_floor_proto.c - bench/floor/floor_proto.c: the floor
 * servers' SMTP subset.
 *
 * Checks: golden sessions as table rows (input -> reply codes, one per
 * complete line, EHLO naming PIPELINING, every other reply exactly
 * FLOOR_REPLY_BYTES); every two-piece split and byte-by-byte feeding give
 * the same output as one piece; the end-of-data detector against a naive
 * reference (the first CRLF "." CRLF from DATA's line end) on random
 * content of CR, LF, "." and "x"; the output bound at FLOOR_OUT_MIN_BYTES
 * - 1, at it and + 1; input after QUIT ignored.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "floor_proto.h"

#define OUT_BYTES 65536u
#define RANDOM_RUNS 3000u
#define RANDOM_CONTENT_MAX 200u

static uint8_t out_buf[OUT_BYTES];

/* The reply codes of out (one per reply, a multi-line reply once). */
static size_t codes(const uint8_t *p, size_t n, char *dst, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i + 4 <= n && k + 4 < cap;) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - p) + 1 : n;
		if (p[i + 3] == ' ') {
			memcpy(dst + k, p + i, 3);
			dst[k + 3] = ' ';
			k += 4;
		}
		i = end;
	}
	dst[k] = '\0';
	return k;
}

/* Feed in pieces cut at cuts[0..ncuts); the output's length. */
static size_t run(const char *in, const size_t *cuts, size_t ncuts, bool *quit)
{
	struct floor_sess s;
	struct floor_out o = { out_buf, 0, sizeof out_buf };
	size_t len = strlen(in), at = 0;
	floor_proto_start(&s, &o);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		size_t got = floor_proto_feed(&s, (const uint8_t *)in + at, end - at, &o);
		CHECK(got == end - at, "consumed %zu of %zu", got, end - at);
		at = end;
	}
	*quit = s.quit;
	return o.len;
}

static const struct {
	const char *in;
	const char *want; /* reply codes after the banner's 220 */
} golden[] = {
	{ "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n..x\r\n.\r\nQUIT\r\n", "250 250 250 354 250 221 " },
	{ "ehlo x\r\nRSET\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n.\r\n", "250 250 250 250 354 250 " },
	{ "HELO x\r\nNOOP\r\nDATA\r\nx\r\n.\r\nRSET\r\nDATA\r\n\r\n.\r\n", "250 250 354 250 250 354 250 " },
	{ "DATA\r\n.x\r\n\r\n.\r\n", "354 250 " }, /* ".x" is content */
	{ "DATA\r\nx\r\n.\r\r\n.\r\n", "354 250 " }, /* "." CR CR is no end */
	{ "DATA\r\nx\n.\r\nmore\r\n.\r\n", "354 250 " }, /* bare LF before "." is no end */
	{ "QUIT\r\nNOOP\r\n", "221 " },
	{ "NOOP", "" }, /* no line end: no reply yet */
	{ "D\r\nDAT\r\nDATAX\r\n.\r\n", "250 250 354 250 " }, /* the verb is the first four bytes */
};

static void test_golden(void)
{
	char got[256], want[256];
	for (size_t r = 0; r < sizeof golden / sizeof golden[0]; r++) {
		bool quit;
		size_t n = run(golden[r].in, NULL, 0, &quit);
		codes(out_buf, n, got, sizeof got);
		snprintf(want, sizeof want, "220 %s", golden[r].want);
		CHECK(strcmp(got, want) == 0, "row %zu: %s, not %s", r, got, want);
		CHECK(quit == (strstr(golden[r].want, "221") != NULL), "row %zu: quit %d", r, quit);
		/* replies are fixed-size but EHLO's */
		if (strncmp(golden[r].in, "EHLO", 4) != 0 && strncmp(golden[r].in, "ehlo", 4) != 0)
			CHECK(n == FLOOR_REPLY_BYTES * (strlen(want) / 4), "row %zu: %zu bytes", r, n);
	}
	bool quit;
	size_t n = run("EHLO x\r\n", NULL, 0, &quit);
	CHECK(n > FLOOR_REPLY_BYTES && memmem(out_buf, n, "\r\n250 PIPELINING\r\n", 18) != NULL, "EHLO reply");
}

/* Output of in fed whole, then at every split point and byte by byte. */
static void check_splits(const char *in)
{
	static uint8_t whole[OUT_BYTES];
	bool q0, q;
	size_t n0 = run(in, NULL, 0, &q0), len = strlen(in);
	memcpy(whole, out_buf, n0);
	for (size_t cut = 0; cut <= len; cut++) {
		size_t n = run(in, &cut, 1, &q);
		CHECK(n == n0 && memcmp(out_buf, whole, n) == 0 && q == q0, "split at %zu of %s", cut, in);
	}
	size_t *cuts = malloc(len * sizeof *cuts);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	size_t n = run(in, cuts, len, &q);
	CHECK(n == n0 && memcmp(out_buf, whole, n) == 0 && q == q0, "byte by byte: %s", in);
	free(cuts);
}

static void test_splits(void)
{
	for (size_t r = 0; r < sizeof golden / sizeof golden[0]; r++)
		check_splits(golden[r].in);
}

/* DATA, random content, CRLF "." CRLF QUIT: the reply codes a naive search
 * for the first CRLF "." CRLF (from DATA's own CRLF) predicts. */
static void test_random_content(void)
{
	static const char alphabet[] = "\r\n.x";
	char in[RANDOM_CONTENT_MAX + 32], want[4 * RANDOM_CONTENT_MAX + 64], got[sizeof want];
	srand(17);
	for (unsigned run_no = 0; run_no < RANDOM_RUNS; run_no++) {
		size_t len = (size_t)rand() % RANDOM_CONTENT_MAX;
		strcpy(in, "DATA\r\n");
		for (size_t i = 0; i < len; i++)
			in[6 + i] = alphabet[rand() % 4];
		strcpy(in + 6 + len, "\r\n.\r\nQUIT\r\n");
		const char *eod = strstr(in + 4, "\r\n.\r\n"); /* from DATA's CRLF */
		const char *rest = eod + 5;
		strcpy(want, "220 354 250 ");
		for (const char *p = rest; (p = strchr(p, '\n')) != NULL; p++)
			strcat(want, "250 ");
		strcpy(want + strlen(want) - 4, "221 "); /* the last line is QUIT */
		bool quit;
		size_t n = run(in, NULL, 0, &quit);
		codes(out_buf, n, got, sizeof got);
		CHECK(strcmp(got, want) == 0 && quit, "run %u: %s, not %s", run_no, got, want);
		if (run_no % 100 == 0)
			check_splits(in);
	}
}

/* feed() stops with less than FLOOR_OUT_MIN_BYTES of room: at the limit
 * one more reply goes in, one byte short none does. */
static void test_out_bound(void)
{
	static const char in[] = "NOOP\r\nNOOP\r\n";
	uint8_t buf[FLOOR_OUT_MIN_BYTES + FLOOR_REPLY_BYTES];
	for (size_t room = FLOOR_OUT_MIN_BYTES - 1; room <= FLOOR_OUT_MIN_BYTES + 1; room++) {
		struct floor_sess s;
		struct floor_out o = { buf, 0, sizeof buf };
		floor_proto_start(&s, &o);
		o.cap = o.len + room;
		size_t got = floor_proto_feed(&s, (const uint8_t *)in, sizeof in - 1, &o);
		size_t want = room < FLOOR_OUT_MIN_BYTES ? 0 : 6;
		CHECK(got == want, "room %zu: consumed %zu, not %zu", room, got, want);
		CHECK(o.len == FLOOR_REPLY_BYTES + (want ? FLOOR_REPLY_BYTES : 0), "room %zu: %zu bytes", room, o.len);
		o.len = FLOOR_REPLY_BYTES; /* sent: the rest goes in */
		got += floor_proto_feed(&s, (const uint8_t *)in + got, sizeof in - 1 - got, &o);
		CHECK(got == sizeof in - 1 || room < FLOOR_OUT_MIN_BYTES, "room %zu: resumed to %zu", room, got);
	}
}

int main(void)
{
	test_golden();
	test_splits();
	test_random_content();
	test_out_bound();
	return bench_check_finish("test_floor_proto");
}
