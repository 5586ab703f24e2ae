/*
 * core/text_ctl.c - display units and controls (text_ctl.h).
 *
 * Owns: the classification only.  A well-formed UTF-8 sequence is one unit
 * (core/utf8.c judges it); any other byte is a unit of its own, so a stray
 * 0x9B between valid characters is still caught, and a lead byte whose
 * sequence is cut short cannot swallow the control after it.
 */
#include "text_ctl.h"

#include "utf8.h"

#define DEL 0x7Fu
#define C1_FIRST 0x80u
#define C1_LAST 0x9Fu
#define UTF8_C1_LEAD 0xC2u /* U+0080..U+00BF: C2 80..C2 BF */

void text_unit_next(const uint8_t *p, size_t len, struct text_unit *u)
{
	uint8_t b = p[0];
	size_t n = utf8_next(p, len);
	u->len = 1;
	u->code = 0;
	if (b < 0x20 || b == DEL) {
		u->kind = TEXT_UNIT_CONTROL;
		u->code = b;
	} else if (b < C1_FIRST) {
		u->kind = TEXT_UNIT_ASCII;
	} else if (n == 0) { /* not UTF-8: a raw byte, read as Latin-1 */
		u->kind = b <= C1_LAST ? TEXT_UNIT_CONTROL : TEXT_UNIT_BYTE;
		u->code = b;
	} else if (b == UTF8_C1_LEAD && p[1] <= C1_LAST) {
		u->kind = TEXT_UNIT_CONTROL;
		u->len = 2;
		u->code = p[1];
	} else {
		u->kind = TEXT_UNIT_UTF8;
		u->len = (uint32_t)n;
	}
}
