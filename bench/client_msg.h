/*
 * bench/client_msg.h - what smtpsink-bench says, byte for byte: address
 * templates, message content, the AUTH PLAIN response.
 *
 * Owns: expanding --from/--to templates (%n: the message's sequence
 * number, %r: the recipient number, %%: a percent sign); the content of
 * each message (a generated header with the sequence number, then filler
 * lines, to an exact size; or the --body file); the output descriptor
 * struct client_out (a caller-owned buffer plus at most one view of shared
 * read-only content, so a large body is never copied per connection).
 *
 * Invariants: generated content is CRLF-terminated 7-bit text in which no
 * line starts with ".", so one image serves DATA (no dot-stuffing needed)
 * and BDAT; --body content is normalised once at start-up (bare LF becomes
 * CRLF, a final CRLF is added) into a dot-stuffed copy for DATA and a raw
 * copy for BDAT.  Its size is the size a server counts (before the end of
 * data mark, after un-stuffing).
 *
 * Does not: touch sockets or clocks; allocate except when loading --body.
 */
#ifndef SMTPSINK_CLIENT_MSG_H
#define SMTPSINK_CLIENT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<" ">". */
#define CLIENT_MSG_ADDR_MAX_BYTES 254u
#define CLIENT_MSG_SEQ_DIGITS_MAX 20u /* UINT64_MAX in decimal */
/* RFC 5322 2.1.1: lines of at most 78 characters; filler lines are 76 + CRLF. */
#define CLIENT_MSG_LINE_BYTES 78u
/* The largest tail after the shared filler view: one line plus one byte. */
#define CLIENT_MSG_TAIL_MAX_BYTES (CLIENT_MSG_LINE_BYTES + 1u)

/* Bytes to send: buf[0, body_at) + body[0, body_len) + buf[body_at, len).
 * The body view points into shared read-only content; buf belongs to the
 * kernel from a send's submission until its completion. */
struct client_out {
	uint8_t *buf;
	uint32_t cap, len;
	uint32_t body_at;
	const uint8_t *body; /* NULL: no view */
	uint32_t body_len;
};

static inline void client_out_reset(struct client_out *o)
{
	o->len = 0;
	o->body_at = 0;
	o->body = NULL;
	o->body_len = 0;
}

static inline uint64_t client_out_total(const struct client_out *o)
{
	return (uint64_t)o->len + o->body_len;
}

/* Where message content comes from; read-only and shared by every
 * connection of a process. */
struct client_msg_spec {
	const char *from_tmpl; /* MAIL FROM and the From: header */
	const char *to_tmpl; /* RCPT TO (%r = 1..rcpts) and the To: header */
	bool file; /* --body: content is the file, no generated header */
	const uint8_t *lines; /* generated: CRLF filler lines, >= the largest body */
	size_t lines_len;
	const uint8_t *stuffed; /* --body, dot-stuffed: for DATA */
	size_t stuffed_len;
	const uint8_t *raw; /* --body as is (CRLF-normalised): for BDAT */
	size_t raw_len;
};

/* One message to send, from the scheduler. */
struct client_msg {
	uint64_t seq; /* unique in the whole run (all workers) */
	uint64_t intended_ns; /* when it should have started (latency origin) */
	uint32_t size_bytes; /* requested content size (generated content) */
};

/* Templates.  check: NULL if usable, else why not. */
const char *client_msg_template_check(const char *tmpl);
size_t client_msg_template_max(const char *tmpl); /* longest expansion */
/* Expand into dst (room for client_msg_template_max() bytes); the length. */
size_t client_msg_expand(const char *tmpl, uint64_t seq, uint32_t rcpt, char *dst);

/* Content.  content_len is exactly what put_content produces. */
uint64_t client_msg_content_len(const struct client_msg_spec *sp, const struct client_msg *m, bool bdat);
/* Append the content to out (header and tail into buf, the bulk as the
 * body view).  out must have room: client_msg_put_room() bytes. */
void client_msg_put_content(const struct client_msg_spec *sp, const struct client_msg *m, bool bdat,
			    struct client_out *out);
size_t client_msg_put_room(const struct client_msg_spec *sp);

/* Fill buf with CRLF filler lines. */
void client_msg_fill_lines(uint8_t *buf, size_t len);

/* --body: normalise file bytes into malloc'd DATA (stuffed) and BDAT (raw)
 * images.  -ENOMEM or 0. */
int client_msg_load_body(const uint8_t *file, size_t len, struct client_msg_spec *sp);

/* AUTH PLAIN initial response for "user:pass" (RFC 4616: NUL user NUL
 * pass, base64).  Writes a NUL-terminated string; its length, or 0 if it
 * does not fit cap or there is no colon. */
size_t client_msg_auth_plain(const char *user_pass, char *out, size_t cap);
size_t client_msg_b64_encode(const uint8_t *in, size_t len, char *out);

#endif
