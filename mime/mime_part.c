/*
 * mime/mime_part.c - a leaf's bytes and facts (mime_part.h), and
 * mime_part_free() of the public contract.
 *
 * Owns: writing a leaf through GMime into a memory or a counting stream.
 * Invariants: sizes are the decoded byte counts; every string in a
 * struct mime_part is valid UTF-8 (mime_text.c), never NULL after a
 * successful mime_part_facts().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_part.h"
#include "mime_text.h"

/* o decoded into s. */
static void write_decoded(GMimeObject *o, GMimeStream *s)
{
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (m)
			g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, s);
	} else if (GMIME_IS_PART(o)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
		if (w)
			g_mime_data_wrapper_write_to_stream(w, s);
	}
	g_mime_stream_flush(s);
}

GByteArray *mime_part_bytes(GMimeObject *o)
{
	GMimeStream *s = g_mime_stream_mem_new();
	write_decoded(o, s);
	GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	g_object_unref(s);
	return b;
}

uint64_t mime_part_size(GMimeObject *o)
{
	GMimeStream *s = g_mime_stream_null_new();
	write_decoded(o, s);
	uint64_t n = GMIME_STREAM_NULL(s)->written;
	g_object_unref(s);
	return n;
}

/* The file name: the disposition's filename, else the type's name
 * (RFC 2231 and RFC 2047 decoded by GMime). */
static const char *file_name(GMimeObject *o)
{
	const char *f = g_mime_object_get_content_disposition_parameter(o, "filename");
	return f ? f : g_mime_object_get_content_type_parameter(o, "name");
}

int mime_part_facts(const struct mime_leaf *l, struct mime_part *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->part_id, sizeof p->part_id, "%s", l->id);
	p->file_name = mime_text_dup(file_name(l->obj));
	char *type = mime_tree_content_type(l->obj);
	p->content_type = type ? mime_text_dup(type) : NULL;
	free(type);
	p->content_id = mime_text_dup(g_mime_object_get_content_id(l->obj));
	p->size = mime_part_size(l->obj);
	p->is_inline = l->list == MIME_LIST_INLINE || l->list == MIME_LIST_OTHER;
	if (!p->file_name || !p->content_type || !p->content_id) {
		mime_part_free(p);
		return -ENOMEM;
	}
	return 0;
}

void mime_part_free(struct mime_part *p)
{
	free(p->file_name);
	free(p->content_type);
	free(p->content_id);
	p->file_name = p->content_type = p->content_id = NULL;
}
