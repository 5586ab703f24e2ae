/*
 * core/data_decoder.c - DATA dot-unstuffing and end-of-data detection, BDAT
 * content classification (see data_decoder.h for the contract).
 *
 * Owns: the CRLF.CRLF transition machine (enum data_state) and the vector
 * scan for CR/LF.  Invariants: content is emitted in order and exactly once;
 * a '.' at the start of a line is never emitted; a withheld ".\r" is either
 * the terminator or becomes the static "\r"; nothing past the terminator's
 * LF is consumed.  Expected workload: long runs of 60-1000 byte text lines,
 * so the time goes into data_decoder_find_crlf(); each line end costs a few
 * state steps.
 */
#include "data_decoder.h"

#include "smtp_limits.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const uint8_t static_cr[1] = { '\r' };
static const uint8_t static_crlf[2] = { '\r', '\n' };

void data_decoder_begin(struct data_decoder *d, enum smtp_bare_lf_policy policy)
{
	d->state = DATA_BOL;
	d->policy = (uint8_t)policy;
	d->flags = 0;
	d->line_bytes = 0;
	d->lines = 0;
}

static const uint8_t *find_crlf_scalar(const uint8_t *p, const uint8_t *end, uint32_t *flags)
{
	uint32_t f = 0;
	for (; p < end; p++) {
		uint8_t c = *p;
		if (c == '\r' || c == '\n')
			break;
		if (c == 0)
			f |= DATA_FLAG_NUL;
		else if (c & 0x80)
			f |= DATA_FLAG_8BIT;
	}
	*flags |= f;
	return p;
}

#ifdef __SSE2__
/* NUL and 8-bit bytes are rare: one test per block finds either, and only
 * then are they told apart, counting only bytes before the CR/LF. */
static void classify_rare(__m128i v, unsigned keep, uint32_t *flags)
{
	unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) & keep;
	unsigned h = (unsigned)_mm_movemask_epi8(v) & keep;
	if (z)
		*flags |= DATA_FLAG_NUL;
	if (h)
		*flags |= DATA_FLAG_8BIT;
}

const uint8_t *data_decoder_find_crlf(const uint8_t *p, const uint8_t *end, uint32_t *flags)
{
	const __m128i cr = _mm_set1_epi8('\r');
	const __m128i lf = _mm_set1_epi8('\n');
	const __m128i zero = _mm_setzero_si128();
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i eol = _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
		__m128i rare = _mm_or_si128(v, _mm_cmpeq_epi8(v, zero));
		unsigned m = (unsigned)_mm_movemask_epi8(eol);
		unsigned r = (unsigned)_mm_movemask_epi8(rare);
		if (m != 0) {
			unsigned at = (unsigned)__builtin_ctz(m);
			if (r & ((1u << at) - 1))
				classify_rare(v, (1u << at) - 1, flags);
			return p + at;
		}
		if (r != 0)
			classify_rare(v, 0xFFFFu, flags);
		p += 16;
	}
	return find_crlf_scalar(p, end, flags);
}
#else
const uint8_t *data_decoder_find_crlf(const uint8_t *p, const uint8_t *end, uint32_t *flags)
{
	return find_crlf_scalar(p, end, flags);
}
#endif

/* A line ended (CRLF, or a bare LF): count it, judge its length. */
static void line_end(struct data_decoder *d, uint64_t terminator_bytes)
{
	if (d->line_bytes + terminator_bytes > SMTP_TEXT_LINE_MAX_BYTES)
		d->flags |= DATA_FLAG_LONG_LINE;
	d->line_bytes = 0;
	d->lines++;
}

struct emitter {
	const uint8_t *run; /* start of input not yet handed to the sink */
	data_sink_fn sink;
	void *ctx;
};

static void flush_to(struct emitter *e, const uint8_t *p)
{
	if (p > e->run)
		e->sink(e->ctx, e->run, (size_t)(p - e->run));
	e->run = p;
}

/* p points at a bare LF: flag it, normalise it if asked. */
static const uint8_t *bare_lf(struct data_decoder *d, const uint8_t *p, struct emitter *e)
{
	d->flags |= DATA_FLAG_BARE_LF;
	line_end(d, 1);
	d->state = DATA_LFISH;
	if (d->policy == SMTP_BARE_LF_NORMALIZE) {
		flush_to(e, p);
		e->sink(e->ctx, static_crlf, sizeof static_crlf);
		e->run = p + 1;
	}
	return p + 1;
}

/* The byte after a CR (emitted, or the static one) is not LF: that CR was
 * bare.  Returns the new position; p itself is consumed only if it is a
 * byte that starts another state. */
static const uint8_t *after_bare_cr(struct data_decoder *d, const uint8_t *p)
{
	d->flags |= DATA_FLAG_BARE_CR;
	d->line_bytes++;
	if (*p == '.') {
		d->line_bytes++;
		d->state = DATA_LFISH_DOT;
		return p + 1;
	}
	if (*p == '\r') {
		d->state = DATA_CR;
		return p + 1;
	}
	d->state = DATA_TEXT;
	return p;
}

static const uint8_t *step_text(struct data_decoder *d, const uint8_t *p, const uint8_t *end, struct emitter *e)
{
	const uint8_t *q = data_decoder_find_crlf(p, end, &d->flags);
	d->line_bytes += (uint64_t)(q - p);
	if (q == end)
		return q;
	if (*q == '\r') {
		d->state = DATA_CR;
		return q + 1;
	}
	return bare_lf(d, q, e);
}

/* One step from a state other than TEXT; returns the new position.
 * Sets *done at the terminator. */
static const uint8_t *step(struct data_decoder *d, const uint8_t *p, struct emitter *e, bool *done)
{
	switch ((enum data_state)d->state) {
	case DATA_CR:
		if (*p == '\n') {
			line_end(d, 2);
			d->state = DATA_BOL;
			return p + 1;
		}
		return after_bare_cr(d, p);
	case DATA_BOL:
		if (*p == '.') {
			flush_to(e, p);
			e->run = p + 1; /* the dot is never content */
			d->state = DATA_DOT;
			return p + 1;
		}
		if (*p == '\0') { /* "\r\n\0.\r\n": a NUL-stripping relay ends here */
			d->flags |= DATA_FLAG_NUL;
			d->line_bytes++;
			d->state = DATA_LFISH;
			return p + 1;
		}
		d->state = DATA_TEXT;
		return p;
	case DATA_LFISH:
		if (*p == '.') {
			d->line_bytes++;
			d->state = DATA_LFISH_DOT;
			return p + 1;
		}
		d->state = DATA_TEXT;
		return p;
	case DATA_LFISH_DOT:
		if (*p == '\r' || *p == '\n')
			d->flags |= DATA_FLAG_FALSE_EOD;
		d->state = DATA_TEXT;
		return p;
	case DATA_DOT:
		if (*p == '\r') {
			e->run = p + 1; /* withhold the CR too */
			d->state = DATA_DOT_CR;
			return p + 1;
		}
		if (*p == '\n')
			d->flags |= DATA_FLAG_FALSE_EOD;
		d->state = DATA_TEXT; /* stuffed dot dropped */
		return p;
	case DATA_DOT_CR:
		if (*p == '\n') {
			line_end(d, 2);
			d->state = DATA_END;
			*done = true;
			return p + 1;
		}
		d->flags |= DATA_FLAG_FALSE_EOD;
		e->sink(e->ctx, static_cr, sizeof static_cr);
		return after_bare_cr(d, p);
	case DATA_TEXT:
	case DATA_END:
		break;
	}
	return p;
}

size_t data_decoder_dot(struct data_decoder *d, const uint8_t *in, size_t len, bool *done, data_sink_fn sink, void *ctx)
{
	const uint8_t *p = in, *end = in + len;
	struct emitter e = { in, sink, ctx };
	*done = d->state == DATA_END;
	while (p < end && !*done) {
		if (d->state == DATA_TEXT)
			p = step_text(d, p, end, &e);
		else
			p = step(d, p, &e, done);
	}
	if (!*done)
		flush_to(&e, p); /* at the terminator, ".\r\n" is all withheld */
	return (size_t)(p - in);
}

void data_decoder_classify(struct data_decoder *d, const uint8_t *in, size_t len)
{
	const uint8_t *p = in, *end = in + len;
	while (p < end) {
		if (d->state == DATA_CR) {
			d->state = DATA_TEXT;
			if (*p == '\n') {
				line_end(d, 2);
				p++;
				continue;
			}
			d->flags |= DATA_FLAG_BARE_CR;
			d->line_bytes++;
		}
		const uint8_t *q = data_decoder_find_crlf(p, end, &d->flags);
		d->line_bytes += (uint64_t)(q - p);
		if (q == end)
			break;
		if (*q == '\r') {
			d->state = DATA_CR;
		} else {
			d->flags |= DATA_FLAG_BARE_LF;
			line_end(d, 1);
		}
		p = q + 1;
	}
}
