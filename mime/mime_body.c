/*
 * mime/mime_body.c - bodies and part lists (mime_body.h).
 *
 * Owns: the selection rules' second half (mime_tree.c assigns roles, this
 * file picks among them).  Invariants: text and html are never NULL after
 * success; list order is breadth-first (leaves sorted by depth, document
 * order kept within a depth: the order a level-order walk visits them).
 * Sizes: a text body is at most the joined candidates (each bounded by
 * the message), lists at most MIME_PARTS_MAX entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mime_body.h"
#include "mime_part.h"
#include "mime_text.h"

static const char text_joiner[] = "\n--\n"; /* enmime's, between text/plain parts */

/* l's bytes as UTF-8 text, from its declared charset; appended to out. */
static void append_text(GByteArray *out, const struct mime_leaf *l)
{
	GByteArray *raw = mime_part_bytes(l->obj);
	const char *charset = g_mime_object_get_content_type_parameter(l->obj, "charset");
	size_t n;
	char *s = mime_text_convert(raw->data, raw->len, charset, &n);
	g_byte_array_free(raw, TRUE);
	if (s)
		g_byte_array_append(out, (const guint8 *)s, (guint)n);
	free(s);
}

/* The first leaf with body role b: in document order, or breadth-first. */
static const struct mime_leaf *first_body(const struct mime_tree *t, enum mime_body b, bool breadth)
{
	for (unsigned d = 0; d <= t->max_depth; d++) {
		for (size_t i = 0; i < t->n; i++) {
			if (t->leaf[i].body == b && (!breadth || t->leaf[i].depth == d))
				return &t->leaf[i];
		}
		if (!breadth)
			break;
	}
	return NULL;
}

/* The text body: one part (alternative), else every candidate joined. */
static char *text_body(const struct mime_tree *t)
{
	GByteArray *out = g_byte_array_new();
	if (t->alternative) {
		const struct mime_leaf *l = first_body(t, MIME_BODY_TEXT, true);
		if (l)
			append_text(out, l);
	} else {
		bool first = true;
		for (size_t i = 0; i < t->n; i++) {
			if (t->leaf[i].body != MIME_BODY_TEXT)
				continue;
			if (!first)
				g_byte_array_append(out, (const guint8 *)text_joiner, sizeof text_joiner - 1);
			append_text(out, &t->leaf[i]);
			first = false;
		}
	}
	char *s = mime_text_utf8(out->data, out->len, NULL);
	g_byte_array_free(out, TRUE);
	return s;
}

static char *html_body(const struct mime_tree *t)
{
	const struct mime_leaf *l = first_body(t, MIME_BODY_HTML, false);
	GByteArray *out = g_byte_array_new();
	if (l)
		append_text(out, l);
	char *s = mime_text_utf8(out->data, out->len, NULL);
	g_byte_array_free(out, TRUE);
	return s;
}

/* Append the listed leaves of kind k, breadth-first, to v[*n]. */
static int list_kind(const struct mime_tree *t, enum mime_list k, struct mime_part *v, size_t *n)
{
	for (unsigned d = 0; d <= t->max_depth; d++) {
		for (size_t i = 0; i < t->n; i++) {
			const struct mime_leaf *l = &t->leaf[i];
			if (l->list != k || l->depth != d)
				continue;
			if (mime_part_facts(l, &v[*n]) != 0)
				return -ENOMEM;
			if (v[*n].file_name[0] || v[*n].content_id[0])
				(*n)++;
			else
				mime_part_free(&v[*n]);
		}
	}
	return 0;
}

int mime_body_fill(struct mime_msg *m, const struct mime_tree *t)
{
	m->text = text_body(t);
	m->html = html_body(t);
	m->attachments = calloc(t->n ? t->n : 1, sizeof *m->attachments);
	m->inlines = calloc(t->n ? t->n : 1, sizeof *m->inlines);
	if (!m->text || !m->html || !m->attachments || !m->inlines)
		return -ENOMEM;
	int rc = list_kind(t, MIME_LIST_ATTACHMENT, m->attachments, &m->attachment_count);
	if (rc == 0)
		rc = list_kind(t, MIME_LIST_INLINE, m->inlines, &m->inline_count);
	if (rc == 0)
		rc = list_kind(t, MIME_LIST_OTHER, m->inlines, &m->inline_count);
	return rc;
}
