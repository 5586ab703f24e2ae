/*
 * tests/fuzz/fuzz_data_decoder.c - libFuzzer harness: data_decoder against
 * a naive reference, whole, cut and byte by byte.
 *
 * Owns: the reference decoder (the spec of core/data_decoder.h written over
 * the whole input with look-ahead, no states) and the comparisons:
 *  - data_decoder_dot: content, done, bytes consumed and flags must equal
 *    the reference; the input whole, cut at a fuzz-chosen offset, cut into
 *    random pieces and (when short) byte by byte must also agree on lines,
 *    line_bytes and the final state;
 *  - data_decoder_classify (BDAT): every cutting gives the same flags,
 *    lines and state; NUL/8BIT/BARE_LF/BARE_CR equal the reference's;
 *  - data_decoder_find_crlf: the first CR/LF, and NUL/8BIT of the bytes
 *    before it, walked over the whole input.
 * Every piece lives in an allocation of its exact size (ASan sees an
 * over-read); sink views must be non-empty and inside the piece, or be one
 * of the two constants ("\r", "\r\n").
 *
 * Reference rules (data_decoder.h): content starts at a line start.  End of
 * data is the first CRLF "." CRLF whose first CRLF ends a line, or ".\r\n"
 * at the very start; its CRLF.CRLF is consumed, the first CRLF is content.
 * A line starts only after CRLF (or at the start); its leading '.' is
 * dropped.  Under NORMALIZE a bare LF is stored as CRLF.  Flags: BARE_LF an
 * LF with no CR before it; BARE_CR a CR followed by a byte other than LF;
 * NUL; 8BIT; LONG_LINE, judged when a line ends (CRLF or bare LF), a line
 * of more than 1000 octets counting its terminator as sent (2 or 1) and not
 * counting a dropped leading dot; FALSE_EOD a '.' that starts a line,
 * follows a bare CR/LF, or follows a NUL that starts a line ("\r\n\0.\r\n":
 * a NUL-stripping relay would end the data there), and is itself followed
 * by CR or LF, when that is not the end of data.  What the input has not yet decided (a final CR, a final
 * line-start ".\r") gives no flag, and a withheld ".\r" is not yet content.
 *
 * Input layout: byte 0 the bare-LF policy (mod 3); bytes 1-2 (big endian)
 * the cut offset and the piece-size seed; the rest is the content stream.
 *
 * Workload: inputs up to a few KB; byte by byte only up to 4 KB.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_decoder.h"
#include "smtp_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BYTEWISE_MAX 4096u

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

struct outcome {
	struct buf content;
	bool done;
	size_t consumed;
	uint32_t flags;
	uint64_t lines;
	uint64_t line_bytes;
	uint8_t state;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_data_decoder: %s\n", what);
		abort();
	}
}

static void buf_add(struct buf *b, const void *bytes, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		check(b->p != NULL, "realloc");
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, bytes, n);
	b->len += n;
}

/* ---- the reference ------------------------------------------------------- */

/* Position just past the end-of-data line, or 0 if there is none yet.
 * *content_end is where content stops (its last CRLF included). */
static size_t reference_end(const uint8_t *in, size_t len, size_t *content_end)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0) {
		*content_end = 0;
		return 3;
	}
	for (size_t i = 0; i + 5 <= len; i++) {
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0) {
			*content_end = i + 2;
			return i + 5;
		}
	}
	*content_end = len;
	return 0;
}

static bool is_crlf_at(const uint8_t *in, size_t len, size_t i)
{
	return i + 1 < len && in[i] == '\r' && in[i + 1] == '\n';
}

/* Does a line start at i (the start of content, or after CRLF)? */
static bool at_bol(const uint8_t *in, size_t i)
{
	return i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
}

/* Flags of content in[0..n); n_known bytes of input are known (n_known > n
 * when the end of data follows, so a final CR is decided). */
static uint32_t reference_flags(const uint8_t *in, size_t n, size_t n_known)
{
	uint32_t flags = 0;
	size_t line_len = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		bool bol = at_bol(in, i);
		bool lfish = i > 0 && (in[i - 1] == '\n' || in[i - 1] == '\r' || (in[i - 1] == 0 && at_bol(in, i - 1)));
		if (c == 0)
			flags |= DATA_FLAG_NUL;
		if (c >= 0x80)
			flags |= DATA_FLAG_8BIT;
		if (c == '\n' && (i == 0 || in[i - 1] != '\r'))
			flags |= DATA_FLAG_BARE_LF;
		if (c == '\r' && i + 1 < n_known && in[i + 1] != '\n')
			flags |= DATA_FLAG_BARE_CR;
		if (c == '.' && (bol || lfish) && i + 1 < n_known && (in[i + 1] == '\r' || in[i + 1] == '\n')) {
			/* ".\r" at a line start waits for the byte after the CR. */
			bool undecided = bol && in[i + 1] == '\r' && i + 2 >= n_known;
			if (!undecided)
				flags |= DATA_FLAG_FALSE_EOD;
		}
		if (c == '\n') {
			size_t terminator = i > 0 && in[i - 1] == '\r' ? 2 : 1;
			if (line_len + terminator > SMTP_TEXT_LINE_MAX_BYTES)
				flags |= DATA_FLAG_LONG_LINE;
			line_len = 0;
			continue;
		}
		if (c == '.' && bol)
			continue; /* the dropped dot does not count */
		if (c == '\r' && i + 1 < n_known && in[i + 1] == '\n')
			continue; /* counted with its LF */
		line_len++;
	}
	return flags;
}

static void reference_dot(const uint8_t *in, size_t len, enum smtp_bare_lf_policy policy, struct outcome *o)
{
	size_t n;
	size_t end = reference_end(in, len, &n);
	o->done = end != 0;
	o->consumed = o->done ? end : len;
	o->flags = reference_flags(in, n, o->done ? end : len);
	for (size_t i = 0; i < n; i++) {
		bool bol = i == 0 || (i >= 2 && is_crlf_at(in, n, i - 2));
		if (bol && in[i] == '.') {
			/* ".\r" at the very end of input is withheld. */
			if (!o->done && i + 2 == n && in[i + 1] == '\r')
				break;
			continue;
		}
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r') && policy == SMTP_BARE_LF_NORMALIZE)
			buf_add(&o->content, "\r\n", 2);
		else
			buf_add(&o->content, in + i, 1);
	}
}

/* ---- running the real decoder ------------------------------------------- */

struct sink_ctx {
	struct buf *content;
	const uint8_t *piece; /* the input piece being decoded */
	size_t piece_len;
};

static void sink(void *ctx, const uint8_t *bytes, size_t len)
{
	struct sink_ctx *sc = ctx;
	check(len > 0 && bytes != NULL, "empty sink call");
	bool inside = bytes >= sc->piece && bytes + len <= sc->piece + sc->piece_len;
	bool constant = (len == 1 && bytes[0] == '\r') || (len == 2 && bytes[0] == '\r' && bytes[1] == '\n');
	check(inside || constant, "sink view outside the input (and not a constant)");
	buf_add(sc->content, bytes, len);
}

/* data_decoder_dot over in[0..len) cut at cuts[0..ncuts). */
static void run_dot(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, enum smtp_bare_lf_policy policy,
		    struct outcome *o)
{
	struct data_decoder d;
	memset(o, 0, sizeof(*o));
	data_decoder_begin(&d, policy);
	struct sink_ctx sc = { &o->content, NULL, 0 };
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len, n = at - prev;
		uint8_t *piece = malloc(n ? n : 1);
		check(piece != NULL, "malloc");
		memcpy(piece, in + prev, n);
		sc.piece = piece;
		sc.piece_len = n;
		bool done = o->done;
		size_t before = o->content.len;
		size_t used = data_decoder_dot(&d, piece, n, &done, sink, &sc);
		check(used <= n, "consumed more than the input");
		if (o->done)
			check(used == 0 && done && o->content.len == before, "input taken after the end of data");
		else if (!done)
			check(used == n, "not done, yet input left unconsumed");
		o->done = done;
		o->consumed += used;
		free(piece);
		prev = at;
	}
	o->flags = d.flags;
	o->lines = d.lines;
	o->line_bytes = d.line_bytes;
	o->state = d.state;
	check(o->done == (d.state == DATA_END), "done disagrees with DATA_END");
}

static void compare_dot(const struct outcome *want, const struct outcome *got, bool full)
{
	if (got->done != want->done || got->consumed != want->consumed || got->flags != want->flags ||
	    got->content.len != want->content.len)
		fprintf(stderr,
			"fuzz_data_decoder: want done=%d consumed=%zu flags=0x%x content=%zu, "
			"got done=%d consumed=%zu flags=0x%x content=%zu\n",
			want->done, want->consumed, (unsigned)want->flags, want->content.len, got->done, got->consumed,
			(unsigned)got->flags, got->content.len);
	check(got->done == want->done, "dot: done differs");
	check(got->consumed == want->consumed, "dot: bytes consumed differ");
	check(got->content.len == want->content.len &&
		      (want->content.len == 0 || memcmp(got->content.p, want->content.p, want->content.len) == 0),
	      "dot: content differs");
	check(got->flags == want->flags, "dot: flags differ");
	if (full) {
		check(got->lines == want->lines, "dot: line count depends on the cuts");
		check(got->line_bytes == want->line_bytes, "dot: line_bytes depends on the cuts");
		check(got->state == want->state, "dot: final state depends on the cuts");
	}
}

/* data_decoder_classify over the same cuts: flags, lines, state. */
static void run_classify(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, struct data_decoder *d)
{
	data_decoder_begin(d, SMTP_BARE_LF_PRESERVE);
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len, n = at - prev;
		uint8_t *piece = malloc(n ? n : 1);
		check(piece != NULL, "malloc");
		memcpy(piece, in + prev, n);
		data_decoder_classify(d, piece, n);
		free(piece);
		prev = at;
	}
}

static void check_classify(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
			   const struct data_decoder *whole)
{
	struct data_decoder d;
	run_classify(in, len, cuts, ncuts, &d);
	check(d.flags == whole->flags, "classify: flags depend on the cuts");
	check(d.lines == whole->lines, "classify: lines depend on the cuts");
	check(d.line_bytes == whole->line_bytes, "classify: line_bytes depend on the cuts");
	check(d.state == whole->state, "classify: state depends on the cuts");
}

static void check_classify_reference(const uint8_t *in, size_t len, const struct data_decoder *whole)
{
	const uint32_t simple = DATA_FLAG_NUL | DATA_FLAG_8BIT | DATA_FLAG_BARE_LF | DATA_FLAG_BARE_CR;
	uint32_t want = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == 0)
			want |= DATA_FLAG_NUL;
		if (in[i] >= 0x80)
			want |= DATA_FLAG_8BIT;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			want |= DATA_FLAG_BARE_LF;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] != '\n')
			want |= DATA_FLAG_BARE_CR;
	}
	check((whole->flags & simple) == want, "classify: NUL/8BIT/BARE_LF/BARE_CR differ from the reference");
}

/* find_crlf walked over the input, each stretch in an exact allocation. */
static void check_find_crlf(const uint8_t *in, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	check(copy != NULL, "malloc");
	memcpy(copy, in, len);
	const uint8_t *p = copy, *end = copy + len;
	for (;;) {
		uint32_t flags = 0, want = 0;
		const uint8_t *r = data_decoder_find_crlf(p, end, &flags);
		const uint8_t *q = p;
		while (q < end && *q != '\r' && *q != '\n') {
			want |= *q == 0 ? DATA_FLAG_NUL : 0;
			want |= *q >= 0x80 ? DATA_FLAG_8BIT : 0;
			q++;
		}
		check(r == q, "find_crlf: wrong position");
		check(flags == want, "find_crlf: wrong flags");
		if (r == end)
			break;
		p = r + 1;
	}
	free(copy);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void outcome_free(struct outcome *o)
{
	free(o->content.p);
	o->content.p = NULL;
}

/* The input whole, at one cut, in random pieces and byte by byte. */
static void check_cuttings(const uint8_t *in, size_t len, size_t one, uint64_t seed, enum smtp_bare_lf_policy policy,
			   const struct outcome *whole, const struct data_decoder *whole_bdat)
{
	struct outcome got;
	run_dot(in, len, &one, 1, policy, &got);
	compare_dot(whole, &got, true);
	outcome_free(&got);
	check_classify(in, len, &one, 1, whole_bdat);

	size_t *cuts = calloc(len + 1, sizeof(*cuts));
	check(cuts != NULL, "malloc");
	size_t n = 0;
	for (size_t at = 0; at < len; n++) {
		at += 1 + (size_t)(xorshift(&seed) % 40);
		cuts[n] = at < len ? at : len;
	}
	run_dot(in, len, cuts, n, policy, &got);
	compare_dot(whole, &got, true);
	outcome_free(&got);
	check_classify(in, len, cuts, n, whole_bdat);
	if (len <= FUZZ_BYTEWISE_MAX) {
		for (size_t i = 0; i < len; i++)
			cuts[i] = i + 1;
		run_dot(in, len, cuts, len, policy, &got);
		compare_dot(whole, &got, true);
		outcome_free(&got);
		check_classify(in, len, cuts, len, whole_bdat);
	}
	free(cuts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	enum smtp_bare_lf_policy policy = (enum smtp_bare_lf_policy)(data[0] % 3);
	uint16_t pick = (uint16_t)(data[1] << 8 | data[2]);
	const uint8_t *in = data + 3;
	size_t len = size - 3;

	struct outcome want, whole;
	memset(&want, 0, sizeof(want));
	reference_dot(in, len, policy, &want);
	run_dot(in, len, NULL, 0, policy, &whole);
	compare_dot(&want, &whole, false);

	struct data_decoder whole_bdat;
	run_classify(in, len, NULL, 0, &whole_bdat);
	check_classify_reference(in, len, &whole_bdat);
	check_cuttings(in, len, pick % (len + 1), (uint64_t)pick * 0x9e3779b97f4a7c15ull + len + 1, policy, &whole,
		       &whole_bdat);
	check_find_crlf(in, len);
	outcome_free(&want);
	outcome_free(&whole);
	return 0;
}
