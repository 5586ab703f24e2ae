/*
 * core/utf8.h - UTF-8 well-formedness check for command lines (RFC 6531).
 *
 * Owns: one predicate.  Follows RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF.  Used on command lines only (content is never
 * judged), so a scalar loop is fast enough.
 */
#ifndef SMTPSINK_UTF8_H
#define SMTPSINK_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool utf8_valid(const uint8_t *p, size_t len);

/* True if any byte is >= 0x80. */
bool utf8_has_8bit(const uint8_t *p, size_t len);

#endif
