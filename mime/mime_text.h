/*
 * mime/mime_text.h - bytes of mail made into the strings mime_msg hands
 * out: valid UTF-8, NUL-terminated, malloc'd.
 *
 * Owns: replacing what is not well-formed UTF-8 (and NUL, which would cut
 * a C string) with U+FFFD, one per bad byte; converting a declared charset
 * to UTF-8 through GMime's iconv wrapper (its charset-name aliases), an
 * unconvertible byte becoming U+FFFD rather than vanishing (GMime's own
 * charset filter drops it).  Does not touch other controls: cleaning text
 * for a terminal is the caller's job.  Never reads past len.
 * Workload: every decoded header and text body; linear.
 */
#ifndef SMTPSINK_MIME_TEXT_H
#define SMTPSINK_MIME_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* p[0..len) as valid UTF-8 without NUL: malloc'd, NUL-terminated, its
 * length in *out_len (may be NULL); NULL only when out of memory.  p may
 * be NULL when len is 0. */
char *mime_text_utf8(const uint8_t *p, size_t len, size_t *out_len);

/* The same for a NUL-terminated string (NULL gives ""). */
char *mime_text_dup(const char *s);

/* p[0..len) in charset (NULL, "" or unknown: taken as UTF-8) converted to
 * UTF-8 as mime_text_utf8() returns it. */
char *mime_text_convert(const uint8_t *p, size_t len, const char *charset, size_t *out_len);

#endif
