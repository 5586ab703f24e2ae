/*
 * bench/floor/floor_proto.h - the SMTP subset the floor servers speak: just
 * enough for smtpsink-bench (connect, reuse, pipeline modes) and Postfix
 * smtp-source to drive them, and nothing a real server would need.
 *
 * Owns: the fixed replies (every one FLOOR_REPLY_BYTES long but the EHLO
 * reply, which names PIPELINING), turning the bytes of one read into the
 * replies for every complete command line in it, appended to one output
 * buffer so the caller sends them in ONE send, and the end-of-data detector
 * (CRLF "." CRLF, as a transition table that survives any split).
 *
 * Does not: parse arguments (any line is accepted: "250" to all but EHLO,
 * DATA and QUIT), check sequence (MAIL before RCPT ...), dot-unstuff, keep
 * content, limit line lengths or message sizes, offer CHUNKING, STARTTLS
 * or AUTH.  It never refuses anything.
 *
 * Session state: in DATA or not, where the detector stands, and the first
 * FLOOR_VERB_BYTES of a command line split across reads (its verb).
 * Pure code: no syscalls; the caller owns input and output.
 */
#ifndef SMTPSINK_FLOOR_PROTO_H
#define SMTPSINK_FLOOR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOOR_REPLY_BYTES 30u /* the floor: one 30-byte reply per command */
#define FLOOR_VERB_BYTES 4u /* EHLO, DATA, QUIT: all the verbs told apart */
#define FLOOR_OUT_MIN_BYTES 64u /* room feed() needs for one more reply (the EHLO one is the longest) */

struct floor_sess {
	bool in_data; /* after DATA's 354, before the end of data */
	bool quit; /* QUIT answered: send the output, then close */
	uint8_t eod; /* the end-of-data detector's state (floor_proto.c) */
	uint8_t verb_len; /* bytes of the current line's verb seen so far */
	char verb[FLOOR_VERB_BYTES];
};

struct floor_out {
	uint8_t *buf;
	size_t len, cap;
};

/* A new session: its banner appended to o. */
void floor_proto_start(struct floor_sess *s, struct floor_out *o);

/* Append the replies to the complete command lines in in[0..len) to o.
 * Stops early when o has less than FLOOR_OUT_MIN_BYTES left: the bytes
 * consumed (all of them after QUIT: the rest is ignored). */
size_t floor_proto_feed(struct floor_sess *s, const uint8_t *in, size_t len, struct floor_out *o);

#endif
