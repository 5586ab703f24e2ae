/*
 * tests/core/test_line_scan.c - the command line scanner, byte by byte.
 *
 * Owns: table tests of line_scan_next() (CRLF and bare-LF lines, the 512
 * octet limit at limit-1/limit/limit+1, overlong lines skipped without
 * buffering), each fed whole, at every split point and one byte at a time,
 * and a comparison with a naive reference scanner on random input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line_scan.h"
#include "session_harness.h"

/* Append what the scanner reports to a text: L[line] for CRLF lines, B[line]
 * for bare-LF lines, T for a too-long line. */
struct trace {
	char text[1 << 16];
	size_t len;
};

static void trace_put(struct trace *t, const char *tag, const uint8_t *p, size_t n)
{
	size_t tl = strlen(tag);
	if (t->len + tl + n + 2 >= sizeof t->text)
		return;
	memcpy(t->text + t->len, tag, tl);
	t->len += tl;
	if (n > 0)
		memcpy(t->text + t->len, p, n);
	t->len += n;
	t->text[t->len++] = tl > 1 ? ']' : ' ';
	t->text[t->len] = '\0';
}

/* The carry, lent only while a line is pending, as a server does; taken
 * back and scribbled over as soon as none is. */
static uint8_t scan_carry[LINE_SCAN_CARRY_BYTES];

static void scan_carry_back(struct line_scan *ls, struct trace *t)
{
	uint8_t *carry = line_scan_idle_carry(ls);
	if (carry != NULL && carry != scan_carry)
		trace_put(t, "BAD-CARRY", NULL, 0);
	if (carry != NULL)
		memset(carry, 0x5a, sizeof scan_carry);
}

static void scan_piece(struct line_scan *ls, const uint8_t *p, size_t n, struct trace *t)
{
	while (n > 0) {
		struct line_scan_line l;
		size_t used = 0;
		if (line_scan_needs_carry(ls, p, n))
			line_scan_lend(ls, scan_carry);
		enum line_scan_status st = line_scan_next(ls, p, n, &used, &l);
		if (used == 0 || used > n) {
			trace_put(t, "BAD-CONSUMED", NULL, 0);
			return;
		}
		if (st == LINE_SCAN_LINE)
			trace_put(t, l.bare_lf ? "B[" : "L[", l.text.ptr, l.text.len);
		else if (st == LINE_SCAN_TOO_LONG)
			trace_put(t, "T", NULL, 0);
		scan_carry_back(ls, t);
		p += used;
		n -= used;
	}
}

/* Feed in[] in pieces of at most step bytes after an initial cut. */
static void scan_all(const uint8_t *in, size_t len, size_t cut, size_t step, struct trace *t)
{
	struct line_scan ls = { 0 };
	t->len = 0;
	t->text[0] = '\0';
	scan_piece(&ls, in, cut, t);
	for (size_t off = cut; off < len; off += step)
		scan_piece(&ls, in + off, len - off < step ? len - off : step, t);
}

static void expect_scan(const uint8_t *in, size_t len, const char *want)
{
	static struct trace t;
	bool ok = true;
	for (size_t cut = 0; cut <= len && ok; cut++) {
		scan_all(in, len, cut, len, &t);
		ok = harness_check_mem(t.text, t.len, want, strlen(want), __FILE__, __LINE__, "split scan");
	}
	scan_all(in, len, 0, 1, &t);
	harness_check_mem(t.text, t.len, want, strlen(want), __FILE__, __LINE__, "byte-by-byte scan");
}

static const struct {
	const char *in;
	const char *want;
} rows[] = {
	{ "NOOP\r\n", "L[NOOP]" },
	{ "NOOP\n", "B[NOOP]" },
	{ "\r\n", "L[]" },
	{ "\n", "B[]" },
	{ "A\r\nB\r\nC\n", "L[A]L[B]B[C]" },
	{ "NOOP\r", "" },
	{ "NO\rOP\r\n", "L[NO\rOP]" },
	{ "X\r\r\n", "L[X\r]" },
	{ "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", "L[MAIL FROM:<a@b>]L[RCPT TO:<c@d>]L[DATA]" },
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		expect_scan((const uint8_t *)rows[i].in, strlen(rows[i].in), rows[i].want);
}

/* A line of `content` octets plus terminator, then NOOP. */
static void limit_case(size_t content, const char *eol, bool fits)
{
	size_t el = strlen(eol);
	size_t len = content + el + 6;
	uint8_t *in = malloc(len);
	memset(in, 'x', content);
	memcpy(in + content, eol, el);
	memcpy(in + content + el, "NOOP\r\n", 6);
	char *want = malloc(content + 32);
	if (fits)
		snprintf(want, content + 32, "%s%.*s]L[NOOP]", el == 2 ? "L[" : "B[", (int)content, (const char *)in);
	else
		snprintf(want, content + 32, "T L[NOOP]");
	expect_scan(in, len, want);
	free(in);
	free(want);
}

static void test_limits(void)
{
	size_t max = SMTP_COMMAND_LINE_MAX_BYTES;
	limit_case(max - 3, "\r\n", true); /* 511 octets with CRLF */
	limit_case(max - 2, "\r\n", true); /* exactly 512 */
	limit_case(max - 1, "\r\n", false); /* 513 */
	limit_case(max - 1, "\n", true); /* 512 with a bare LF */
	limit_case(max, "\n", false); /* 513 with a bare LF */
	limit_case(5 * max, "\r\n", false);
}

/* A 64 MiB line, then NOOP: one T, then the NOOP; the scanner holds no
 * more than its fixed struct and its carry meanwhile (no heap at all). */
static void test_huge_line(void)
{
	size_t big = 64u << 20;
	uint8_t *in = malloc(big + 8);
	memset(in, 'A', big);
	memcpy(in + big, "\r\nNOOP\r\n", 8);
	static struct trace t;
	scan_all(in, big + 8, 0, 16384, &t);
	CHECK_STR(t.text, t.len, "T L[NOOP]");
	free(in);
}

/* One line_scan_next() on a string; its status, the line in *line. */
static enum line_scan_status scan_str(struct line_scan *ls, const char *in, struct line_scan_line *line)
{
	size_t used = 0;
	return line_scan_next(ls, (const uint8_t *)in, strlen(in), &used, line);
}

/* The carry is wanted only for input that ends inside a line, and stays
 * lent only while that line is pending: complete lines need none. */
static void test_carry_lending(void)
{
	struct line_scan ls = { 0 };
	struct line_scan_line l;
	CHECK(!line_scan_needs_carry(&ls, (const uint8_t *)"NOOP\r\n", 6));
	CHECK(!line_scan_needs_carry(&ls, (const uint8_t *)"", 0));
	CHECK(line_scan_needs_carry(&ls, (const uint8_t *)"NO", 2));
	CHECK(scan_str(&ls, "NOOP\r\n", &l) == LINE_SCAN_LINE && ls.carry == NULL); /* none lent: none used */
	CHECK(scan_str(&ls, "", &l) == LINE_SCAN_MORE);
	line_scan_lend(&ls, scan_carry);
	CHECK(!line_scan_needs_carry(&ls, (const uint8_t *)"NO", 2)); /* one is lent */
	CHECK(scan_str(&ls, "NO", &l) == LINE_SCAN_MORE);
	CHECK(line_scan_idle_carry(&ls) == NULL && ls.carry == scan_carry); /* "NO" is pending in it */
	CHECK(scan_str(&ls, "OP\r\n", &l) == LINE_SCAN_LINE && l.text.ptr == scan_carry);
	CHECK_STR((const char *)l.text.ptr, l.text.len, "NOOP");
	CHECK(line_scan_idle_carry(&ls) == scan_carry && ls.carry == NULL);
	CHECK(line_scan_idle_carry(&ls) == NULL); /* nothing lent */
	/* an overlong line is skipped, not carried: its rest needs no carry */
	static char longer[SMTP_COMMAND_LINE_MAX_BYTES + 2];
	memset(longer, 'x', sizeof longer - 1);
	line_scan_lend(&ls, scan_carry);
	CHECK(scan_str(&ls, longer, &l) == LINE_SCAN_MORE && ls.discarding);
	CHECK(line_scan_idle_carry(&ls) == scan_carry); /* skipping holds nothing */
	CHECK(scan_str(&ls, "xx", &l) == LINE_SCAN_MORE && ls.carry == NULL);
	CHECK(line_scan_needs_carry(&ls, (const uint8_t *)"x\nNO", 4)); /* "NO" after the LF */
	CHECK(scan_str(&ls, "x\n", &l) == LINE_SCAN_TOO_LONG && !line_scan_pending(&ls));
	/* the end: a pending line is dropped with its carry */
	line_scan_lend(&ls, scan_carry);
	CHECK(scan_str(&ls, "QU", &l) == LINE_SCAN_MORE);
	CHECK(line_scan_drop(&ls) == scan_carry && !line_scan_pending(&ls) && ls.carry == NULL);
	CHECK(line_scan_drop(&ls) == NULL);
}

/* The reference: split the whole input at LFs, judge each line's length. */
static void reference(const uint8_t *in, size_t len, struct trace *t)
{
	size_t start = 0;
	t->len = 0;
	t->text[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\n')
			continue;
		size_t n = i - start;
		bool crlf = n > 0 && in[i - 1] == '\r';
		if (n + 1 > SMTP_COMMAND_LINE_MAX_BYTES)
			trace_put(t, "T", NULL, 0);
		else
			trace_put(t, crlf ? "L[" : "B[", in + start, crlf ? n - 1 : n);
		start = i + 1;
	}
}

static void test_random_against_reference(void)
{
	struct harness_rng g;
	static struct trace want, got;
	harness_rng_seed(&g, 42);
	for (int round = 0; round < 2000; round++) {
		uint8_t in[2048];
		size_t len = (size_t)harness_rng_below(&g, sizeof in);
		/* mostly 'a', some CR/LF, so lines of every length occur */
		for (size_t i = 0; i < len; i++) {
			uint64_t r = harness_rng_below(&g, 600);
			in[i] = r == 0 ? '\n' : r == 1 ? '\r' : r < 4 ? '\n' : 'a';
		}
		reference(in, len, &want);
		size_t cut = len ? (size_t)harness_rng_below(&g, len + 1) : 0;
		size_t step = 1 + (size_t)harness_rng_below(&g, 700);
		scan_all(in, len, cut, step, &got);
		harness_check_mem(got.text, got.len, want.text, want.len, __FILE__, __LINE__, "random vs reference");
	}
}

int main(void)
{
	test_rows();
	test_limits();
	test_carry_lending();
	test_huge_line();
	test_random_against_reference();
	return harness_finish("line_scan");
}
