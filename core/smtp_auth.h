/*
 * core/smtp_auth.h - SASL PLAIN and LOGIN decoding (RFC 4954, 4616).
 *
 * Owns: base64 decoding (RFC 4648, strict: canonical padding, no
 * whitespace) and pulling the user name out of a PLAIN response.  The
 * session owns the AUTH exchange itself (which challenge comes next).  No
 * credential is checked: smtpsink is a sink; it records who claimed to be
 * whom.  Decoded bytes go to a caller buffer; nothing is kept.
 */
#ifndef SMTPSINK_SMTP_AUTH_H
#define SMTPSINK_SMTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_view.h"

/* Decoded size of n base64 characters, at most. */
#define SMTP_AUTH_DECODED_MAX(n) (((n) / 4u) * 3u + 3u)

/* Decode in into out (cap bytes).  Returns the decoded length, or -1 for
 * bad characters, bad padding or a result that does not fit. */
long smtp_auth_b64_decode(struct smtp_view in, uint8_t *out, size_t cap);

/* PLAIN message: [authzid] NUL authcid NUL passwd.  Sets *user to authcid.
 * Returns false if the shape is wrong or authcid is empty. */
bool smtp_auth_plain_user(const uint8_t *msg, size_t len, struct smtp_view *user);

#endif
