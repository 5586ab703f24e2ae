/*
 * bench/floor/floor_proto.c - the floor servers' SMTP subset (floor_proto.h).
 *
 * The end-of-data detector's states, and what each has consumed:
 *   EOD_NONE   nothing of CRLF "." CRLF;
 *   EOD_CR     CR;
 *   EOD_CRLF   CRLF (a line start: DATA's own line ends here);
 *   EOD_DOT    CRLF ".";
 *   EOD_DOTCR  CRLF "." CR;
 *   EOD_DONE   all of it: the message has ended.
 * From EOD_NONE only CR moves, so content is skipped with memchr.
 */
#include "floor_proto.h"

#include <assert.h>
#include <string.h>

enum eod_state {
	EOD_NONE,
	EOD_CR,
	EOD_CRLF,
	EOD_DOT,
	EOD_DOTCR,
	EOD_DONE
};

/* Every reply but EHLO's is FLOOR_REPLY_BYTES long (checked below). */
#define TEXT_BANNER "220 floor.invalid ESMTP here\r\n"
#define TEXT_OK "250 2.0.0 Ok: queued as F001\r\n"
#define TEXT_DATA "354 Go ahead, end with CRLF.\r\n"
#define TEXT_BYE "221 2.0.0 Bye, floor closing\r\n"
#define TEXT_EHLO "250-floor.invalid\r\n250 PIPELINING\r\n"

struct reply {
	const char *text;
	size_t len;
};

static const struct reply reply_banner = { TEXT_BANNER, sizeof TEXT_BANNER - 1 };
static const struct reply reply_ok = { TEXT_OK, sizeof TEXT_OK - 1 };
static const struct reply reply_data = { TEXT_DATA, sizeof TEXT_DATA - 1 };
static const struct reply reply_bye = { TEXT_BYE, sizeof TEXT_BYE - 1 };
static const struct reply reply_ehlo = { TEXT_EHLO, sizeof TEXT_EHLO - 1 };

_Static_assert(sizeof TEXT_BANNER - 1 == FLOOR_REPLY_BYTES, "banner size");
_Static_assert(sizeof TEXT_OK - 1 == FLOOR_REPLY_BYTES, "250 size");
_Static_assert(sizeof TEXT_DATA - 1 == FLOOR_REPLY_BYTES, "354 size");
_Static_assert(sizeof TEXT_BYE - 1 == FLOOR_REPLY_BYTES, "221 size");
_Static_assert(sizeof TEXT_EHLO - 1 <= FLOOR_OUT_MIN_BYTES, "EHLO size");

static void put(struct floor_out *o, const struct reply *r)
{
	assert(o->cap - o->len >= r->len);
	memcpy(o->buf + o->len, r->text, r->len);
	o->len += r->len;
}

void floor_proto_start(struct floor_sess *s, struct floor_out *o)
{
	memset(s, 0, sizeof *s);
	put(o, &reply_banner);
}

static uint8_t eod_next(uint8_t st, uint8_t c)
{
	switch (c) {
	case '\r':
		return st == EOD_DOT ? EOD_DOTCR : EOD_CR;
	case '\n':
		return st == EOD_CR ? EOD_CRLF : st == EOD_DOTCR ? EOD_DONE : EOD_NONE;
	case '.':
		return st == EOD_CRLF ? EOD_DOT : EOD_NONE;
	default:
		return EOD_NONE;
	}
}

/* Content up to and including the end of data (then 250); bytes used. */
static size_t feed_data(struct floor_sess *s, const uint8_t *in, size_t len, struct floor_out *o)
{
	size_t i = 0;
	while (i < len) {
		if (s->eod == EOD_NONE) {
			const uint8_t *cr = memchr(in + i, '\r', len - i);
			if (cr == NULL)
				return len;
			i = (size_t)(cr - in);
		}
		s->eod = eod_next(s->eod, in[i++]);
		if (s->eod == EOD_DONE) {
			s->in_data = false;
			put(o, &reply_ok);
			return i;
		}
	}
	return len;
}

static bool verb_is(const struct floor_sess *s, const char *verb)
{
	if (s->verb_len != FLOOR_VERB_BYTES)
		return false;
	for (unsigned i = 0; i < FLOOR_VERB_BYTES; i++)
		if ((s->verb[i] & ~0x20) != verb[i])
			return false;
	return true;
}

static void on_command(struct floor_sess *s, struct floor_out *o)
{
	if (verb_is(s, "EHLO")) {
		put(o, &reply_ehlo);
	} else if (verb_is(s, "DATA")) {
		put(o, &reply_data);
		s->in_data = true;
		s->eod = EOD_CRLF; /* DATA's line end starts the content */
	} else if (verb_is(s, "QUIT")) {
		put(o, &reply_bye);
		s->quit = true;
	} else {
		put(o, &reply_ok);
	}
	s->verb_len = 0;
}

/* A command line's bytes up to and including LF (then its reply). */
static size_t feed_line(struct floor_sess *s, const uint8_t *in, size_t len, struct floor_out *o)
{
	const uint8_t *lf = memchr(in, '\n', len);
	size_t seg = lf != NULL ? (size_t)(lf - in) : len;
	for (size_t k = 0; k < seg && s->verb_len < FLOOR_VERB_BYTES; k++)
		s->verb[s->verb_len++] = (char)in[k];
	if (lf == NULL)
		return len;
	on_command(s, o);
	return seg + 1;
}

size_t floor_proto_feed(struct floor_sess *s, const uint8_t *in, size_t len, struct floor_out *o)
{
	size_t i = 0;
	while (i < len && !s->quit && o->cap - o->len >= FLOOR_OUT_MIN_BYTES)
		i += s->in_data ? feed_data(s, in + i, len - i, o) : feed_line(s, in + i, len - i, o);
	return s->quit ? len : i;
}
