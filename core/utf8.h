/*
 * core/utf8.h - UTF-8 well-formedness check for command lines (RFC 6531).
 *
 * Owns: the predicate, and the length of one sequence (the spool tool's
 * display and JSON escaping walk text with it, core/text_ctl.c).  Follows
 * RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Used on command lines and displayed text only (content is never judged),
 * so a scalar loop is fast enough.
 */
#ifndef SMTPSINK_UTF8_H
#define SMTPSINK_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool utf8_valid(const uint8_t *p, size_t len);

/* Length of the well-formed sequence at p[0..len): 1 for ASCII, 2..4, or 0
 * if p does not start one (a stray continuation byte, an overlong form, a
 * surrogate, a sequence cut by len). */
size_t utf8_next(const uint8_t *p, size_t len);

/* True if any byte is >= 0x80. */
bool utf8_has_8bit(const uint8_t *p, size_t len);

#endif
