/*
 * tools/spool/json_out.h - JSON output: strings from arbitrary bytes, and
 * the message object every command prints (docs/SPOOL-TOOL.md, "JSON").
 *
 * Owns: the escaping rule and the field names and order of the message
 * object, which are a stable interface: fields are only ever added.
 *
 * Escaping: valid UTF-8 is written as it is, except '"', '\', control
 * characters (U+0000..U+001F, U+007F, and the C1 controls U+0080..U+009F
 * as \u0080..\u009f) and U+2028/U+2029, which are escaped.  A byte that
 * is not part of a valid UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates) is written as the \u00XX escape of that byte, i.e. read as
 * Latin-1: the output is always valid JSON and valid UTF-8, has no raw
 * control character, and an ASCII or UTF-8 value without C1 controls
 * round-trips exactly.  The price: an
 * invalid byte 0xE9 and a valid "é" (U+00E9) look the same in JSON; use
 * `cat` for the exact bytes.
 */
#ifndef SMTPSINK_SPOOL_JSON_OUT_H
#define SMTPSINK_SPOOL_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "msg.h"

/* A JSON string (with its quotes) from n arbitrary bytes. */
void json_out_str(FILE *f, const uint8_t *p, size_t n);

/* The message object's fields, without braces: "qid":...,"offset":N.
 * The Subject is null when it was not read (m->subject_state UNREAD) or
 * the message has none. */
void json_out_msg_fields(FILE *f, const struct msg *m);

/* {fields}\n; with a source (the spool or node a merged listing read it
 * from, docs/SCALE-OUT.md), ,"source":"..." ends the fields. */
void json_out_msg(FILE *f, const struct msg *m, const char *source);

/* ,"client":{"family":"ipv4"|"ipv6"|"unix","addr":"...","port":N} */
void json_out_client(FILE *f, uint8_t family, const uint8_t addr[16], uint16_t port);

#endif
