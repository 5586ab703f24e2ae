/*
 * core/text_ctl.h - control characters in text that is about to be shown:
 * the one definition every display of client-supplied text uses (the spool
 * tool's terminal output and JSON, the test harness's escaped dumps).
 *
 * Owns: cutting arbitrary bytes into display units and saying which units
 * are controls.  A control is C0 (0x00..0x1F), DEL (0x7F) or C1
 * (U+0080..U+009F), the last either UTF-8 encoded (C2 80..C2 9F) or a raw
 * byte 0x80..0x9F that is not part of a well-formed UTF-8 sequence (an
 * 8-bit terminal reads 0x9B as CSI, like ESC [).  Does not decide what to
 * print instead: each caller replaces or escapes controls its own way.
 * Pure; never reads past len.  Workload: every displayed byte, scalar.
 */
#ifndef SMTPSINK_TEXT_CTL_H
#define SMTPSINK_TEXT_CTL_H

#include <stddef.h>
#include <stdint.h>

enum text_unit_kind {
	TEXT_UNIT_ASCII, /* one printable ASCII byte, 0x20..0x7E */
	TEXT_UNIT_UTF8, /* a well-formed 2..4-byte sequence that is not a C1 control */
	TEXT_UNIT_CONTROL, /* C0, DEL, or C1 (raw or UTF-8 encoded) */
	TEXT_UNIT_BYTE, /* one byte 0xA0..0xFF that starts no well-formed sequence */
};

struct text_unit {
	enum text_unit_kind kind;
	uint32_t len; /* bytes, >= 1 */
	uint32_t code; /* CONTROL: its code point (0x00..0x9F); BYTE: the byte; else 0 */
};

/* The unit at p[0..len), len >= 1. */
void text_unit_next(const uint8_t *p, size_t len, struct text_unit *u);

#endif
