/*
 * mime/mime_tree.h - a parsed message's MIME tree laid flat, with part IDs
 * and roles assigned the way Mailpit (through enmime) assigns them.
 *
 * Owns: walking GMime's object tree (bounded: MIME_DEPTH_MAX levels of
 * recursion, MIME_PARTS_MAX leaves), naming each leaf (enmime's PartID: a
 * single-part message's body is "0"; the children of a top-level
 * multipart are "1", "2", ...; deeper ones append ".N" to their
 * multipart's path) and deciding each leaf's role:
 *  - text body: text/plain, not Content-Disposition: attachment (the first
 *    in breadth-first order when the top level is multipart/alternative,
 *    else all of them in order, joined by "\n--\n");
 *  - HTML body: the first text/html that is not an attachment;
 *  - attachment: disposition attachment, or application/octet-stream
 *    (breadth-first order);
 *  - inline: disposition inline (not multipart), then parts with no
 *    disposition that are neither text/plain nor text/html (breadth-first);
 *  - in a single-part message, a body that is not text/plain or text/html
 *    or is marked attachment is an inline part (disposition inline) or an
 *    attachment.
 * message/rfc822 and other message/ parts are leaves: listed, never
 * descended.  Does not decode anything; the leaves point into the
 * GMimeMessage, which must outlive the tree.
 */
#ifndef SMTPSINK_MIME_TREE_H
#define SMTPSINK_MIME_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include <gmime/gmime.h>

#include "mime_msg.h"

/* Deeper multiparts are not walked (GMime itself stops nesting at 1024;
 * real mail uses fewer than ten levels, and IDs stop fitting at ~15). */
#define MIME_DEPTH_MAX 32u
#define MIME_PART_ID_BYTES sizeof(((struct mime_part *)0)->part_id)

/* What a leaf is to the body. */
enum mime_body {
	MIME_BODY_NONE,
	MIME_BODY_TEXT, /* a text/plain candidate */
	MIME_BODY_HTML, /* a text/html candidate; the first one is the body */
};

/* Which list a leaf goes to (mime_msg keeps those with a file name or a
 * Content-ID, as Mailpit's message view does). */
enum mime_list {
	MIME_LIST_NONE,
	MIME_LIST_ATTACHMENT,
	MIME_LIST_INLINE, /* disposition inline */
	MIME_LIST_OTHER, /* no disposition, not a text body type: listed after the inline ones */
};

struct mime_leaf {
	GMimeObject *obj; /* a GMimePart or GMimeMessagePart, owned by the message */
	char id[MIME_PART_ID_BYTES];
	unsigned depth;
	enum mime_body body;
	enum mime_list list;
};

struct mime_tree {
	struct mime_leaf leaf[MIME_PARTS_MAX]; /* in document (depth-first) order */
	size_t n;
	bool alternative; /* the top level is multipart/alternative */
	unsigned max_depth;
};

/* Lay out root (the message's top-level MIME part; NULL: no leaves).
 * The tree is large (MIME_PARTS_MAX leaves): allocate it, never put it on
 * a stack. */
void mime_tree_build(struct mime_tree *t, GMimeObject *root);

/* The leaf with ID id, or NULL. */
const struct mime_leaf *mime_tree_find(const struct mime_tree *t, const char *id);

/* Lower-case "type/subtype" of o (malloc'd, never NULL unless out of memory). */
char *mime_tree_content_type(GMimeObject *o);

#endif
