/*
 * core/smtp_reply.h - the caller-owned output buffer and reply formatting.
 *
 * Owns: appending SMTP reply lines ("250 2.1.0 Ok\r\n", multi-line "250-")
 * to a struct smtp_out, with or without the enhanced status code (RFC 2034)
 * depending on whether ENHANCEDSTATUSCODES is advertised.  It never grows
 * the buffer: callers reserve SMTP_OUT_RESERVE_BYTES before each command, so
 * a reply that does not fit is a bug, caught by an assertion.
 */
#ifndef SMTPSINK_SMTP_REPLY_H
#define SMTPSINK_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_view.h"

/* Reply bytes for the engine to send.  The session appends at len; the
 * caller drains it (sends and resets len) between feed() calls. */
struct smtp_out {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

static inline size_t smtp_out_room(const struct smtp_out *out)
{
	return out->cap - out->len;
}

/* A reply chosen by one module and written by another: code, static text
 * ("x.y.z words") and an optional tail appended verbatim (a parameter
 * name, the hostname). */
struct smtp_reply_spec {
	uint16_t code;
	const char *text;
	struct smtp_view tail;
};

/* Append raw bytes (must fit). */
void smtp_reply_raw(struct smtp_out *out, const char *bytes, size_t len);

/* Append one reply line.  text is "x.y.z rest" (enhanced code first); the
 * enhanced code is dropped when enhanced is false.  more=true writes the
 * "250-" continuation form. */
void smtp_reply_line(struct smtp_out *out, unsigned code, bool more, bool enhanced, const char *text);

/* Same, with text given as "x.y.z prefix" plus a view of bytes appended
 * verbatim (used for "Ok: queued as ID" and texts naming the hostname). */
void smtp_reply_line2(struct smtp_out *out, unsigned code, bool enhanced, const char *text, const char *tail,
		      size_t tail_len);

/* "CODE x.y.z host rest" (enhanced code dropped when off): greetings and
 * 421s name the server. */
void smtp_reply_host(struct smtp_out *out, unsigned code, bool enhanced, const char *enh, const char *host,
		     const char *rest);

/* Decimal digits of n into buf (>= 21 bytes); returns the length. */
size_t smtp_reply_u64(char *buf, uint64_t n);

void smtp_reply_spec_write(struct smtp_out *out, bool enhanced, const struct smtp_reply_spec *spec);

#endif
