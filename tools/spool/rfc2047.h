/*
 * tools/spool/rfc2047.h - decoding MIME encoded words in header text
 * (RFC 2047: "=?charset?B|Q?text?=").
 *
 * Owns: B and Q decoding for the charsets UTF-8, US-ASCII and ISO-8859-1
 * (Latin-1 is converted to UTF-8); a word in any other charset, or one
 * that does not parse, is left as it is.  Blanks between two adjacent
 * encoded words are dropped (RFC 2047 section 6.2).  Display only: the
 * tool never re-encodes.
 */
#ifndef SMTPSINK_SPOOL_RFC2047_H
#define SMTPSINK_SPOOL_RFC2047_H

#include <stddef.h>

/* Decode in[0..len) into out (cut to cap - 1 bytes, NUL-terminated);
 * returns the length written. */
size_t rfc2047_decode(const char *in, size_t len, char *out, size_t cap);

#endif
