/*
 * mime/mime_doc.h - one message's raw bytes handed to GMime's parser.
 *
 * Owns: the parser options every parse uses (lenient RFC 2047, address
 * and parameter parsing, as mail readers are; raw 8-bit header bytes read
 * as UTF-8, else Windows-1252) and the lifetime of what GMime builds:
 * the options must outlive the message (its headers decode through them),
 * so both are released together by mime_doc_close().
 * Does not walk or decode parts (mime_tree.c, mime_part.c).
 */
#ifndef SMTPSINK_MIME_DOC_H
#define SMTPSINK_MIME_DOC_H

#include <stddef.h>
#include <stdint.h>

#include <gmime/gmime.h>

struct mime_doc {
	GMimeParserOptions *options;
	GMimeMessage *msg; /* NULL when GMime found no message at all */
};

/* Parse raw[0..len) (copied: the caller's buffer is not kept). */
void mime_doc_open(struct mime_doc *d, const uint8_t *raw, size_t len);
void mime_doc_close(struct mime_doc *d);

#endif
