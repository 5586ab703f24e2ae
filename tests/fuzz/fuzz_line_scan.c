/*
 * tests/fuzz/fuzz_line_scan.c - libFuzzer harness: line_scan against a naive
 * reference, whole and cut.
 *
 * Owns: the reference scanner (the spec of core/line_scan.h written as the
 * simplest loop over the whole input) and the comparison.  The input is
 * scanned whole, cut at one fuzz-chosen offset, cut into random small
 * pieces, and (when short) byte by byte; every run must report exactly the
 * reference's lines and TOO_LONG events.  Each piece lives in an allocation
 * of its exact size, so ASan sees any over-read.
 *
 * Input layout: bytes 0-1 (big endian) pick the cut offset (modulo the rest
 * length + 1) and seed the piece sizes; the rest is the stream.
 *
 * Also asserted: consumed <= len; LINE/TOO_LONG consume through an LF; MORE
 * consumes everything; a line that lies wholly inside one piece is a view
 * into that piece at the right offset (zero copy), any other into the
 * carry; line_scan_pending() says whether an unterminated line is held.
 *
 * Workload: inputs of a few KB; the byte-by-byte run is limited to 4 KB.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BYTEWISE_MAX 4096u

/* A record of results: per result a tag byte, then for lines the bare-LF
 * byte, a 2-byte length and the text. */
struct log {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_line_scan: %s\n", what);
		abort();
	}
}

static void log_add(struct log *lg, const void *bytes, size_t n)
{
	if (lg->len + n > lg->cap) {
		size_t cap = lg->cap ? lg->cap * 2 : 1024;
		while (cap < lg->len + n)
			cap *= 2;
		lg->p = realloc(lg->p, cap);
		check(lg->p != NULL, "realloc");
		lg->cap = cap;
	}
	memcpy(lg->p + lg->len, bytes, n);
	lg->len += n;
}

static void log_line(struct log *lg, const uint8_t *text, size_t len, bool bare_lf)
{
	uint8_t head[4] = { LINE_SCAN_LINE, bare_lf, (uint8_t)(len >> 8), (uint8_t)len };
	check(len < SMTP_COMMAND_LINE_MAX_BYTES, "line longer than the limit");
	log_add(lg, head, sizeof(head));
	log_add(lg, text, len);
}

static void log_too_long(struct log *lg)
{
	uint8_t tag = LINE_SCAN_TOO_LONG;
	log_add(lg, &tag, 1);
}

/* The spec, naively: a line is the bytes up to and including an LF; if that
 * is more than SMTP_COMMAND_LINE_MAX_BYTES it is TOO_LONG.  CRLF: the CR is
 * not part of the text; LF alone: bare.  Returns the unterminated tail. */
static size_t reference_scan(const uint8_t *in, size_t len, struct log *lg)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\n')
			continue;
		if (i + 1 - start > SMTP_COMMAND_LINE_MAX_BYTES) {
			log_too_long(lg);
		} else {
			bool crlf = i > start && in[i - 1] == '\r';
			log_line(lg, in + start, i - start - crlf, !crlf);
		}
		start = i + 1;
	}
	return len - start;
}

struct scan_run {
	struct line_scan ls;
	uint8_t carry[LINE_SCAN_CARRY_BYTES]; /* lent only on demand, as a server does */
	struct log lg;
	size_t line_start; /* stream offset where the current line began */
};

/* Take the carry back once no line is pending in it, and scribble over it:
 * a line still pending in a carry taken back would complete as garbage. */
static void scan_carry_back(struct scan_run *sr)
{
	uint8_t *carry = line_scan_idle_carry(&sr->ls);
	check(carry == NULL || carry == sr->carry, "a carry back that was never lent");
	if (carry != NULL)
		memset(carry, 0x5a, sizeof(sr->carry));
}

/* One piece at stream offset base, in its own exact-size buffer. */
static void scan_piece(struct scan_run *sr, const uint8_t *src, size_t n, size_t base)
{
	uint8_t *buf = malloc(n ? n : 1);
	check(buf != NULL, "malloc");
	memcpy(buf, src, n);
	size_t at = 0;
	do {
		struct line_scan_line line;
		size_t used = (size_t)-1;
		if (line_scan_needs_carry(&sr->ls, buf + at, n - at))
			line_scan_lend(&sr->ls, sr->carry);
		enum line_scan_status st = line_scan_next(&sr->ls, buf + at, n - at, &used, &line);
		check(used <= n - at, "consumed more than the input");
		if (st == LINE_SCAN_MORE) {
			check(used == n - at, "MORE without consuming everything");
			break;
		}
		check(used > 0 && buf[at + used - 1] == '\n', "a line result not ending at an LF");
		if (st == LINE_SCAN_LINE) {
			const uint8_t *ptr = line.text.ptr;
			if (sr->line_start >= base)
				check(ptr == buf + (sr->line_start - base),
				      "a line inside the input is not a view of it");
			else
				check(ptr >= sr->carry && ptr + line.text.len <= sr->carry + sizeof(sr->carry),
				      "a split line is not in the carry");
			log_line(&sr->lg, ptr, line.text.len, line.bare_lf);
		} else {
			check(st == LINE_SCAN_TOO_LONG, "unknown status");
			log_too_long(&sr->lg);
		}
		at += used;
		sr->line_start = base + at;
		scan_carry_back(sr);
	} while (at < n);
	scan_carry_back(sr);
	free(buf);
}

/* Scan in[0..len) cut at cuts[0..ncuts) and compare with the reference. */
static void scan_and_compare(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, const struct log *want,
			     size_t want_tail)
{
	struct scan_run *sr = calloc(1, sizeof(*sr));
	check(sr != NULL, "calloc");
	line_scan_reset(&sr->ls);
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len;
		scan_piece(sr, in + prev, at - prev, prev);
		prev = at;
	}
	check(sr->lg.len == want->len && (want->len == 0 || memcmp(sr->lg.p, want->p, want->len) == 0),
	      "results differ from the reference");
	check(line_scan_pending(&sr->ls) == (want_tail > 0), "line_scan_pending() disagrees with the reference");
	free(sr->lg.p);
	free(sr);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t len = size - 2;
	const uint8_t *in = data + 2;
	uint16_t pick = (uint16_t)(data[0] << 8 | data[1]);
	struct log want = { 0 };
	size_t tail = reference_scan(in, len, &want);

	scan_and_compare(in, len, NULL, 0, &want, tail);
	size_t one = pick % (len + 1);
	scan_and_compare(in, len, &one, 1, &want, tail);

	size_t *cuts = calloc(len + 1, sizeof(*cuts));
	check(cuts != NULL, "malloc");
	uint64_t seed = (uint64_t)pick * 0x9e3779b97f4a7c15ull + len + 1;
	size_t n = 0;
	for (size_t at = 0; at < len; n++) {
		at += 1 + (size_t)(xorshift(&seed) % 64);
		cuts[n] = at < len ? at : len;
	}
	scan_and_compare(in, len, cuts, n, &want, tail);
	if (len <= FUZZ_BYTEWISE_MAX) {
		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		scan_and_compare(in, len, cuts, len, &want, tail);
	}
	free(cuts);
	free(want.p);
	return 0;
}
