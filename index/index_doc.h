/*
 * index/index_doc.h - one captured message made into the row the index
 * stores (struct index_doc, mail_index_int.h).
 *
 * Owns: what each column holds, from the record's envelope (queue ID,
 * time, size, position, envelope recipients) and from mime/mime_msg.h
 * (headers decoded, address lists, text and HTML bodies):
 *  - the address arrays in Mailpit's JSON shape; Bcc is the Bcc header's
 *    addresses plus the envelope recipients named in no To, Cc or Bcc
 *    (as Mailpit reports them);
 *  - the address texts searched by to:/from:/cc:/bcc: ("Name <address>,
 *    ..."), the decoded header values ("Name: value" lines) and the body
 *    text (text/plain, then the HTML with its tags dropped) for free text,
 *    each cut at INDEX_DOC_TEXT_MAX_BYTES.
 * Does not touch the database.  Workload: once per indexed message.
 */
#ifndef SMTPSINK_INDEX_DOC_H
#define SMTPSINK_INDEX_DOC_H

#include "mail_index_int.h"
#include "mime_msg.h"
#include "msg.h"

#define INDEX_DOC_TEXT_MAX_BYTES (256u * 1024u) /* body text indexed per message */

/* The memory a doc's strings live in. */
struct index_doc_store {
	struct mime_msg mm;
	bool parsed;
	char *json[4]; /* to, cc, bcc, reply-to */
	char *text[4]; /* from, to, cc, bcc */
	char *headers, *body;
};

/* Fill d from m (decoded with its body, verified): 0 or -ENOMEM.  Free
 * st with index_doc_free whatever the result. */
int index_doc_build(struct index_doc *d, struct index_doc_store *st, const struct msg *m);
void index_doc_free(struct index_doc_store *st);

#endif
