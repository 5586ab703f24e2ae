/*
 * mime/mime_tree.c - the flat part list of a GMime tree (mime_tree.h).
 *
 * Owns: the walk (recursion bounded by MIME_DEPTH_MAX, leaves by
 * MIME_PARTS_MAX), enmime's part numbering and the role rules.
 * Invariants: leaves are in document order; every ID fits its buffer
 * (a part whose ID would not is left out with its subtree); nothing here
 * allocates beyond the type strings it frees again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_tree.h"

char *mime_tree_content_type(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *g = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	char *s = strdup(g ? g : "text/plain");
	g_free(g);
	for (char *c = s; c && *c; c++)
		*c = (char)g_ascii_tolower(*c);
	return s;
}

/* Lower-case Content-Disposition value of o, "" without one. */
static void disposition(GMimeObject *o, char *buf, size_t cap)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
	const char *v = d ? g_mime_content_disposition_get_disposition(d) : NULL;
	snprintf(buf, cap, "%s", v ? v : "");
	for (char *c = buf; *c; c++)
		*c = (char)g_ascii_tolower(*c);
}

#define DISPOSITION_BYTES 32u

/* enmime's rules (mime_tree.h); single: the message is not multipart. */
static void leaf_roles(struct mime_leaf *l, bool single)
{
	char disp[DISPOSITION_BYTES];
	disposition(l->obj, disp, sizeof disp);
	char *ct = mime_tree_content_type(l->obj);
	bool plain = ct && strcmp(ct, "text/plain") == 0, html = ct && strcmp(ct, "text/html") == 0;
	bool attachment = strcmp(disp, "attachment") == 0, in_line = strcmp(disp, "inline") == 0;
	l->body = MIME_BODY_NONE;
	l->list = MIME_LIST_NONE;
	if ((plain || html) && !attachment)
		l->body = plain ? MIME_BODY_TEXT : MIME_BODY_HTML;
	if (single) {
		if (l->body == MIME_BODY_NONE)
			l->list = in_line ? MIME_LIST_INLINE : MIME_LIST_ATTACHMENT;
	} else if (attachment || (ct && strcmp(ct, "application/octet-stream") == 0)) {
		l->list = MIME_LIST_ATTACHMENT;
	} else if (in_line) {
		l->list = MIME_LIST_INLINE;
	} else if (disp[0] == '\0' && !plain && !html) {
		l->list = MIME_LIST_OTHER;
	}
	free(ct);
}

/* Add o (ID id, at depth) and, for a multipart, its children. */
static void walk(struct mime_tree *t, GMimeObject *o, const char *id, unsigned depth)
{
	if (t->n == MIME_PARTS_MAX)
		return;
	if (!GMIME_IS_MULTIPART(o)) {
		struct mime_leaf *l = &t->leaf[t->n++];
		l->obj = o;
		snprintf(l->id, sizeof l->id, "%s", id);
		l->depth = depth;
		if (depth > t->max_depth)
			t->max_depth = depth;
		return;
	}
	if (depth >= MIME_DEPTH_MAX)
		return;
	GMimeMultipart *mp = GMIME_MULTIPART(o);
	int count = g_mime_multipart_get_count(mp);
	for (int i = 0; i < count && t->n < MIME_PARTS_MAX; i++) {
		char child[MIME_PART_ID_BYTES];
		int w = depth == 0 ? snprintf(child, sizeof child, "%d", i + 1) :
				     snprintf(child, sizeof child, "%s.%d", id, i + 1);
		if (w < 0 || (size_t)w >= sizeof child)
			continue; /* no ID fits: not addressable, not listed */
		walk(t, g_mime_multipart_get_part(mp, i), child, depth + 1);
	}
}

void mime_tree_build(struct mime_tree *t, GMimeObject *root)
{
	t->n = 0;
	t->max_depth = 0;
	t->alternative = false;
	if (!root)
		return;
	if (GMIME_IS_MULTIPART(root)) {
		char *ct = mime_tree_content_type(root);
		t->alternative = ct && strcmp(ct, "multipart/alternative") == 0;
		free(ct);
	}
	walk(t, root, "0", 0);
	for (size_t i = 0; i < t->n; i++)
		leaf_roles(&t->leaf[i], !GMIME_IS_MULTIPART(root));
}

const struct mime_leaf *mime_tree_find(const struct mime_tree *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->leaf[i].id, id) == 0)
			return &t->leaf[i];
	}
	return NULL;
}
