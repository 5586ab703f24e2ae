/*
 * mime/mime_body.h - a message's text and HTML bodies and its part lists,
 * from its laid-out tree (mime_tree.h).
 *
 * Owns: joining the text candidates, converting both bodies to UTF-8
 * from their declared charsets, and the attachment and inline lists in
 * Mailpit's order (breadth-first; inline parts before other parts),
 * keeping only parts with a file name or a Content-ID (Mailpit's message
 * view does the same).  Does not make the snippet (mime_snippet.c).
 */
#ifndef SMTPSINK_MIME_BODY_H
#define SMTPSINK_MIME_BODY_H

#include "mime_msg.h"
#include "mime_tree.h"

/* m->text, m->html, m->attachments and m->inlines from t.  0 or -ENOMEM
 * (what was filled is left for mime_msg_free()). */
int mime_body_fill(struct mime_msg *m, const struct mime_tree *t);

#endif
