/*
 * index/index_doc.h - one captured message made into the row the index
 * stores (struct index_doc, mail_index_int.h), at either depth:
 *  - the head (phase 1, at capture speed): the record's envelope (queue
 *    ID, time, size, position, envelope recipients) and the first header
 *    block read by tools/spool's header reader (mail_header.h): Subject
 *    and display names RFC 2047-decoded (rfc2047.h), address lists split
 *    by core/mail_addr_list.h, Message-ID without its <>; no snippet,
 *    attachments or free text.  The record's checksum is not computed.
 *  - the body (phase 2): the same from mime/mime_msg.h (GMime), plus the
 *    snippet, the attachment count, the decoded header values ("Name:
 *    value" lines) and the body text (text/plain, then the HTML with its
 *    tags dropped) for free text, each cut at INDEX_DOC_TEXT_MAX_BYTES.
 * Both: the address arrays in Mailpit's JSON shape; Bcc is the Bcc
 * header's addresses plus the envelope recipients named in no To, Cc or
 * Bcc (as Mailpit reports them); the address texts searched by
 * to:/from:/cc:/bcc: ("Name <address>, ...").
 * Memory: a store is made once per indexer and reused: its strings live
 * in one memory stream rewound per message (the head path allocates
 * nothing per message once the stream has grown).  A doc's strings are
 * valid until the next build on the same store.
 * Does not touch the database.  Workload: once per indexed message.
 */
#ifndef SMTPSINK_INDEX_DOC_H
#define SMTPSINK_INDEX_DOC_H

#include <stdio.h>

#include "mail_addr_list.h"
#include "mail_header.h"
#include "mail_index_int.h"
#include "mime_msg.h"
#include "msg.h"

#define INDEX_DOC_TEXT_MAX_BYTES (256u * 1024u) /* body text indexed per message */
#define INDEX_DOC_HEAD_ADDRS_MAX \
	128u /* mailboxes read from one message's headers at phase 1, From included (GMime reads all at phase 2) */
#define INDEX_DOC_FIELD_MAX_BYTES 1024u /* Subject, Message-ID, a display name at phase 1 */

/* The memory a doc's strings live in (reused from message to message). */
struct index_doc_store {
	FILE *f; /* a memory stream over buf, rewound per message */
	char *buf;
	size_t size;
	struct mime_msg mm; /* phase 2: GMime's parse, freed at the next build */
	bool parsed;
	/* phase 1: the header fields and mailboxes, decoded */
	struct mime_addr from;
	struct mime_addr_list lists[4]; /* to, cc, bcc, reply-to */
	struct mime_addr addrs[INDEX_DOC_HEAD_ADDRS_MAX];
	struct mail_addr raw[INDEX_DOC_HEAD_ADDRS_MAX];
	char names[INDEX_DOC_HEAD_ADDRS_MAX][INDEX_DOC_FIELD_MAX_BYTES];
	char subject[INDEX_DOC_FIELD_MAX_BYTES], message_id[INDEX_DOC_FIELD_MAX_BYTES];
	char value[MAIL_HEADER_UNFOLD_MAX_BYTES];
};

/* A store (malloc'd): NULL when out of memory.  Free with
 * index_doc_store_free. */
struct index_doc_store *index_doc_store_new(void);
void index_doc_store_free(struct index_doc_store *st);

/* Phase 1: fill d from m's envelope and first header block (m decoded,
 * its body unverified): 0 or -ENOMEM.  d->phase is 1. */
int index_doc_build_head(struct index_doc *d, struct index_doc_store *st, const struct msg *m);
/* Phase 2: fill d from m (decoded with its body, verified) through GMime:
 * 0, -ENOMEM, or mime_msg_parse's error.  d->phase is 2. */
int index_doc_build(struct index_doc *d, struct index_doc_store *st, const struct msg *m);

#endif
