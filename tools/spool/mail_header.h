/*
 * tools/spool/mail_header.h - the first header block of a message body
 * (RFC 5322 section 2.2), read without copying.
 *
 * Owns: walking header fields from the start of the body to the first
 * empty line, with folded continuation lines (RFC 5322 2.2.3), finding a
 * field by name (case-insensitive), and unfolding a value for display.
 * Never reads past the header block nor past MAIL_HEADER_SCAN_MAX_BYTES,
 * so a listing costs the same for a 1 KiB and a 50 MiB message.  Lines end
 * with CRLF or a bare LF.  A line that is neither a field nor a
 * continuation ends the block (a body without headers).
 */
#ifndef SMTPSINK_SPOOL_MAIL_HEADER_H
#define SMTPSINK_SPOOL_MAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_view.h"

#define MAIL_HEADER_SCAN_MAX_BYTES (256u * 1024u)
/* Unfolding looks at this much of a value (display only). */
#define MAIL_HEADER_UNFOLD_MAX_BYTES 8192u

/* The next field at *pos (0 to start): name without the colon, raw value
 * from after the colon to the end of its last continuation line (line
 * ends inside, none at the end).  false at the end of the block. */
bool mail_header_next(const uint8_t *body, uint64_t len, size_t *pos, struct smtp_view *name, struct smtp_view *value);

/* The raw value of the first field called name. */
bool mail_header_find(const uint8_t *body, uint64_t len, const char *name, struct smtp_view *value);

/* value unfolded (line ends removed), leading and trailing blanks
 * trimmed, with decode: RFC 2047 encoded words in UTF-8, US-ASCII or
 * ISO-8859-1 decoded to UTF-8 (rfc2047.h); cut to cap - 1 bytes and
 * NUL-terminated.  Returns its length. */
size_t mail_header_unfold(struct smtp_view value, bool decode, char *out, size_t cap);

#endif
