/*
 * mime/mime_part.h - one leaf of the MIME tree read out: its decoded bytes,
 * its size, and the facts mime_msg.h lists for it.
 *
 * Owns: transfer decoding (GMime's data wrappers: base64, quoted-printable,
 * uuencode; bad input is skipped, never fatal) and the serialisation of an
 * attached message (message/rfc822 is handed out as GMime writes it back).
 * Does not convert charsets (mime_text.c does, for the bodies): a part is
 * given out as the sender attached it.
 */
#ifndef SMTPSINK_MIME_PART_H
#define SMTPSINK_MIME_PART_H

#include <stddef.h>
#include <stdint.h>

#include <gmime/gmime.h>

#include "mime_msg.h"
#include "mime_tree.h"

/* o's decoded bytes (g_byte_array_free when done; never NULL). */
GByteArray *mime_part_bytes(GMimeObject *o);

/* The length of mime_part_bytes(o), without keeping the bytes. */
uint64_t mime_part_size(GMimeObject *o);

/* l's facts into *p (strings malloc'd; free with mime_part_free()).
 * 0 or -ENOMEM (then *p holds nothing to free). */
int mime_part_facts(const struct mime_leaf *l, struct mime_part *p);

#endif
