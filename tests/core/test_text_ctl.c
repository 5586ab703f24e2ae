/*
 * tests/core/test_text_ctl.c - display units and control characters
 * (core/text_ctl.h) and utf8_next (core/utf8.h).
 *
 * Owns: table rows for every kind of unit (ASCII, C0, DEL, raw C1, UTF-8
 * encoded C1, UTF-8 around the C1 range, raw Latin-1 bytes, cut and
 * malformed sequences, the CSI of issue 12's "=9B31mRED" subject), each
 * decoded against a PROT_NONE page; and a comparison with a naive
 * reference (decode the code point by hand, RFC 3629 table 4) over random
 * bytes: the units cover the input exactly and agree with the reference.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "session_harness.h"
#include "text_ctl.h"
#include "utf8.h"

#define RANDOM_ROUNDS 20000u
#define RANDOM_MAX_BYTES 12u

struct row {
	const char *in;
	size_t len;
	enum text_unit_kind kind;
	uint32_t unit_len, code;
};

#define ROW(s, k, l, c)                   \
	{                                 \
		s, sizeof(s) - 1, k, l, c \
	}

static const struct row rows[] = {
	ROW("A", TEXT_UNIT_ASCII, 1, 0),
	ROW(" ", TEXT_UNIT_ASCII, 1, 0),
	ROW("~", TEXT_UNIT_ASCII, 1, 0),
	ROW("\x00", TEXT_UNIT_CONTROL, 1, 0x00),
	ROW("\x1b[31m", TEXT_UNIT_CONTROL, 1, 0x1b),
	ROW("\x1f", TEXT_UNIT_CONTROL, 1, 0x1f),
	ROW("\x7f", TEXT_UNIT_CONTROL, 1, 0x7f),
	ROW("\x80", TEXT_UNIT_CONTROL, 1, 0x80), /* raw C1 */
	ROW("\x9b"
	    "31m",
	    TEXT_UNIT_CONTROL, 1, 0x9b), /* raw CSI */
	ROW("\x9f", TEXT_UNIT_CONTROL, 1, 0x9f),
	ROW("\xc2\x80", TEXT_UNIT_CONTROL, 2, 0x80), /* UTF-8 encoded C1 */
	ROW("\xc2\x9b"
	    "31m",
	    TEXT_UNIT_CONTROL, 2, 0x9b),
	ROW("\xc2\x9f", TEXT_UNIT_CONTROL, 2, 0x9f),
	ROW("\xc2\xa0", TEXT_UNIT_UTF8, 2, 0), /* NBSP: first after C1 */
	ROW("\xc3\xa9", TEXT_UNIT_UTF8, 2, 0), /* e acute */
	ROW("\xe2\x80\xa8", TEXT_UNIT_UTF8, 3, 0), /* U+2028: JSON escapes it, not a control */
	ROW("\xe2\x80\x9b", TEXT_UNIT_UTF8, 3, 0), /* U+201B: a 9B continuation is not C1 */
	ROW("\xf0\x9f\x98\x80", TEXT_UNIT_UTF8, 4, 0),
	ROW("\xa0", TEXT_UNIT_BYTE, 1, 0xa0), /* raw Latin-1 NBSP */
	ROW("\xe9t\xe9", TEXT_UNIT_BYTE, 1, 0xe9), /* Latin-1 text */
	ROW("\xc2", TEXT_UNIT_BYTE, 1, 0xc2), /* a lead cut by the end */
	ROW("\xc2\x1b", TEXT_UNIT_BYTE, 1, 0xc2), /* a lead that would swallow ESC */
	ROW("\xe2\x9b", TEXT_UNIT_BYTE, 1, 0xe2), /* cut 3-byte lead before a raw 9B */
	ROW("\xc0\x9b", TEXT_UNIT_BYTE, 1, 0xc0), /* overlong */
	ROW("\xed\xa0\x80", TEXT_UNIT_BYTE, 1, 0xed), /* surrogate */
	ROW("\xf5\x80\x80\x80", TEXT_UNIT_BYTE, 1, 0xf5), /* above U+10FFFF */
	ROW("\xbf", TEXT_UNIT_BYTE, 1, 0xbf), /* stray continuation, not C1 */
};

/* The unit at in[0..len), placed right before an unreadable page. */
static void next_guarded(const void *in, size_t len, struct text_unit *u)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) != 0)
		abort();
	memcpy(map + page - len, in, len);
	text_unit_next(map + page - len, len, u);
	munmap(map, 2 * page);
}

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct text_unit u;
		next_guarded(r->in, r->len, &u);
		bool ok = u.kind == r->kind && u.len == r->unit_len && u.code == r->code;
		if (!ok)
			fprintf(stderr, "  row %zu: kind %d len %u code %#x\n", i, u.kind, u.len, u.code);
		char *what = harness_escape(r->in, r->len);
		harness_check(ok, __FILE__, __LINE__, what);
		free(what);
	}
}

/* ---- naive reference ------------------------------------------------------ */

/* The code point of a well-formed sequence at p (RFC 3629 table 4),
 * decoded bit by bit; false if p does not start one. */
static bool ref_decode(const uint8_t *p, size_t len, uint32_t *cp, size_t *n)
{
	static const struct {
		uint8_t lead_lo, lead_hi, second_lo, second_hi, n;
	} t[] = { { 0xC2, 0xDF, 0x80, 0xBF, 2 }, { 0xE0, 0xE0, 0xA0, 0xBF, 3 }, { 0xE1, 0xEC, 0x80, 0xBF, 3 },
		  { 0xED, 0xED, 0x80, 0x9F, 3 }, { 0xEE, 0xEF, 0x80, 0xBF, 3 }, { 0xF0, 0xF0, 0x90, 0xBF, 4 },
		  { 0xF1, 0xF3, 0x80, 0xBF, 4 }, { 0xF4, 0xF4, 0x80, 0x8F, 4 } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (p[0] < t[i].lead_lo || p[0] > t[i].lead_hi)
			continue;
		if (len < t[i].n || p[1] < t[i].second_lo || p[1] > t[i].second_hi)
			return false;
		uint32_t v = p[0] & (0x7Fu >> t[i].n);
		for (size_t k = 1; k < t[i].n; k++) {
			if ((p[k] & 0xC0) != 0x80)
				return false;
			v = v << 6 | (p[k] & 0x3Fu);
		}
		*cp = v;
		*n = t[i].n;
		return true;
	}
	return false;
}

static void ref_unit(const uint8_t *p, size_t len, struct text_unit *u)
{
	uint32_t cp;
	size_t n;
	u->len = 1;
	u->code = 0;
	if (p[0] < 0x80) {
		bool ctl = p[0] < 0x20 || p[0] == 0x7F;
		u->kind = ctl ? TEXT_UNIT_CONTROL : TEXT_UNIT_ASCII;
		u->code = ctl ? p[0] : 0;
	} else if (ref_decode(p, len, &cp, &n)) {
		u->len = (uint32_t)n;
		u->kind = cp <= 0x9F ? TEXT_UNIT_CONTROL : TEXT_UNIT_UTF8;
		u->code = cp <= 0x9F ? cp : 0;
	} else {
		u->kind = p[0] <= 0x9F ? TEXT_UNIT_CONTROL : TEXT_UNIT_BYTE;
		u->code = p[0];
	}
}

static void test_against_reference(void)
{
	struct harness_rng g;
	unsigned bad = 0;
	uint8_t buf[RANDOM_MAX_BYTES];
	harness_rng_seed(&g, 12);
	for (unsigned round = 0; round < RANDOM_ROUNDS; round++) {
		size_t len = 1 + (size_t)harness_rng_below(&g, RANDOM_MAX_BYTES);
		for (size_t i = 0; i < len; i++) /* bias towards lead bytes, C1 and continuations */
			buf[i] = (uint8_t)(harness_rng_below(&g, 4) ? 0x80 + harness_rng_below(&g, 0x80) :
								      harness_rng_below(&g, 0x100));
		size_t covered = 0;
		bool all_utf8 = true;
		for (size_t i = 0; i < len;) {
			struct text_unit u, r;
			text_unit_next(buf + i, len - i, &u);
			ref_unit(buf + i, len - i, &r);
			bad += u.kind != r.kind || u.len != r.len || u.code != r.code || u.len == 0;
			size_t n = utf8_next(buf + i, len - i);
			bad += n != 0 && n != u.len; /* a well-formed sequence is one unit */
			all_utf8 = all_utf8 && n != 0;
			i += u.len ? u.len : 1;
			covered = i;
		}
		bad += covered != len || utf8_valid(buf, len) != all_utf8;
	}
	CHECK_U64(bad, 0);
}

static void test_utf8_next(void)
{
	CHECK_U64(utf8_next((const uint8_t *)"", 0), 0);
	CHECK_U64(utf8_next((const uint8_t *)"a", 1), 1);
	CHECK_U64(utf8_next((const uint8_t *)"\xc3\xa9", 2), 2);
	CHECK_U64(utf8_next((const uint8_t *)"\xc3\xa9", 1), 0);
	CHECK_U64(utf8_next((const uint8_t *)"\xf4\x8f\xbf\xbf", 4), 4);
	CHECK_U64(utf8_next((const uint8_t *)"\xf4\x90\x80\x80", 4), 0);
	CHECK(utf8_valid((const uint8_t *)"a\xc3\xa9z", 4) && !utf8_valid((const uint8_t *)"a\xc3", 2));
}

int main(void)
{
	test_rows();
	test_utf8_next();
	test_against_reference();
	return harness_finish("text_ctl");
}
