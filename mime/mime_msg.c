/*
 * mime/mime_msg.c - the mime_msg.h contract: a message's header fields,
 * addresses, bodies, snippet and parts, and one part by ID.
 *
 * Owns: the top level (header list, From/To/Cc/Bcc/Reply-To, Subject,
 * Message-ID, Date) and the order of the steps; GMime parses
 * (mime_doc.c), mime_tree.c lays the parts out, mime_body.c picks bodies
 * and lists, mime_snippet.c makes the preview.  Bounds: MIME_HEADERS_MAX
 * header fields, MIME_ADDRS_MAX addresses per field (group members
 * counted, groups flattened one level deep as RFC 5322 allows),
 * MIME_PARTS_MAX parts.  Invariant: after mime_msg_parse() returns 0
 * every string in *m is non-NULL, valid UTF-8 and free of NUL.
 * Workload: the indexer (every message once), the HTTP API and
 * smtpsink-spool (one message per request).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mime_body.h"
#include "mime_doc.h"
#include "mime_msg.h"
#include "mime_part.h"
#include "mime_snippet.h"
#include "mime_text.h"
#include "mime_tree.h"

#define MIME_HEADERS_MAX 1000u /* header fields listed; more are dropped */
#define GROUP_DEPTH_MAX 1u /* groups hold mailboxes (RFC 5322 3.4), not groups */

void mime_msg_init(void)
{
	g_mime_init();
}

/* Append a's mailboxes (groups flattened) to l, up to MIME_ADDRS_MAX. */
static int addr_append(struct mime_addr_list *l, InternetAddressList *a, unsigned depth)
{
	int count = a ? internet_address_list_length(a) : 0;
	for (int i = 0; i < count && l->n < MIME_ADDRS_MAX; i++) {
		InternetAddress *ia = internet_address_list_get_address(a, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
			if (depth < GROUP_DEPTH_MAX && addr_append(l, members, depth + 1) != 0)
				return -ENOMEM;
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		struct mime_addr *v = &l->v[l->n];
		v->name = mime_text_dup(internet_address_get_name(ia));
		v->address = mime_text_dup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
		l->n++; /* counted before the check: mime_msg_free() frees it either way */
		if (!v->name || !v->address)
			return -ENOMEM;
	}
	return 0;
}

static int addr_list(struct mime_addr_list *l, GMimeMessage *msg, GMimeAddressType type)
{
	l->v = calloc(MIME_ADDRS_MAX, sizeof *l->v);
	if (!l->v)
		return -ENOMEM;
	return addr_append(l, msg ? g_mime_message_get_addresses(msg, type) : NULL, 0);
}

/* From: the first mailbox; with none, Mailpit's rule: the header's text
 * as the name. */
static int from_addr(struct mime_msg *m, GMimeMessage *msg)
{
	struct mime_addr_list l = { NULL, 0 };
	int rc = addr_list(&l, msg, GMIME_ADDRESS_TYPE_FROM);
	if (rc == 0 && l.n > 0) {
		m->from = l.v[0];
		l.v[0].name = l.v[0].address = NULL;
	} else if (rc == 0) {
		const char *h = msg ? g_mime_object_get_header(GMIME_OBJECT(msg), "From") : NULL;
		m->from.name = mime_text_dup(h);
		m->from.address = mime_text_dup("");
		rc = m->from.name && m->from.address ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].name);
		free(l.v[i].address);
	}
	free(l.v);
	return rc;
}

/* The header at list position *i, or NULL past the end. */
static GMimeHeader *header_at(GMimeHeaderList *hl, int i)
{
	return hl && i < g_mime_header_list_get_count(hl) ? g_mime_header_list_get_header_at(hl, i) : NULL;
}

/* Sort key: the stream offset, headers of unknown offset last. */
static gint64 header_offset(GMimeHeader *h)
{
	gint64 off = g_mime_header_get_offset(h);
	return off < 0 ? G_MAXINT64 : off;
}

/* The top level's header fields in message order: GMime keeps the
 * Content-* fields on the top-level part, the others on the message, so
 * the two lists (each in order) are merged by stream offset. */
static int header_list(struct mime_msg *m, GMimeMessage *msg)
{
	GMimeObject *part = msg ? g_mime_message_get_mime_part(msg) : NULL;
	GMimeHeaderList *a = msg ? g_mime_object_get_header_list(GMIME_OBJECT(msg)) : NULL;
	GMimeHeaderList *b = part ? g_mime_object_get_header_list(part) : NULL;
	m->headers = calloc(MIME_HEADERS_MAX, sizeof *m->headers);
	if (!m->headers)
		return -ENOMEM;
	int i = 0, j = 0;
	while (m->header_count < MIME_HEADERS_MAX) {
		GMimeHeader *ha = header_at(a, i), *hb = header_at(b, j), *h;
		if (!ha && !hb)
			break;
		bool take_a = ha && (!hb || header_offset(ha) <= header_offset(hb));
		h = take_a ? ha : hb;
		i += take_a;
		j += !take_a;
		struct mime_header *v = &m->headers[m->header_count++];
		v->name = mime_text_dup(g_mime_header_get_name(h));
		v->value = mime_text_dup(g_mime_header_get_value(h));
		if (!v->name || !v->value)
			return -ENOMEM;
	}
	return 0;
}

/* Message-ID as Mailpit keeps it: the header with its <> trimmed. */
static char *message_id(GMimeMessage *msg)
{
	const char *h = msg ? g_mime_object_get_header(GMIME_OBJECT(msg), "Message-ID") : NULL;
	if (!h)
		return mime_text_dup("");
	while (*h == '<' || *h == ' ' || *h == '\t')
		h++;
	size_t n = strlen(h);
	while (n > 0 && (h[n - 1] == '>' || h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return mime_text_utf8((const uint8_t *)h, n, NULL);
}

static int64_t date_s(GMimeMessage *msg)
{
	GDateTime *dt = msg ? g_mime_message_get_date(msg) : NULL;
	return dt ? (int64_t)g_date_time_to_unix(dt) : 0;
}

/* Every step of mime_msg_parse() on an open document. */
static int parse_doc(struct mime_msg *m, GMimeMessage *msg)
{
	m->message_id = message_id(msg);
	m->subject = mime_text_dup(msg ? g_mime_message_get_subject(msg) : NULL);
	m->date_s = date_s(msg);
	if (!m->message_id || !m->subject)
		return -ENOMEM;
	int rc = from_addr(m, msg);
	const struct {
		struct mime_addr_list *l;
		GMimeAddressType type;
	} lists[] = { { &m->to, GMIME_ADDRESS_TYPE_TO },
		      { &m->cc, GMIME_ADDRESS_TYPE_CC },
		      { &m->bcc, GMIME_ADDRESS_TYPE_BCC },
		      { &m->reply_to, GMIME_ADDRESS_TYPE_REPLY_TO } };
	for (size_t i = 0; rc == 0 && i < sizeof lists / sizeof lists[0]; i++)
		rc = addr_list(lists[i].l, msg, lists[i].type);
	if (rc == 0)
		rc = header_list(m, msg);
	if (rc != 0)
		return rc;
	struct mime_tree *t = malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	mime_tree_build(t, msg ? g_mime_message_get_mime_part(msg) : NULL);
	rc = mime_body_fill(m, t);
	free(t);
	if (rc == 0)
		mime_snippet_make(m->text, m->html, m->snippet, sizeof m->snippet);
	return rc;
}

int mime_msg_parse(const uint8_t *raw, size_t len, struct mime_msg *m)
{
	memset(m, 0, sizeof *m);
	struct mime_doc d;
	mime_doc_open(&d, raw, len);
	int rc = parse_doc(m, d.msg);
	mime_doc_close(&d);
	if (rc != 0)
		mime_msg_free(m);
	return rc;
}

static void addr_list_free(struct mime_addr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].address);
	}
	free(l->v);
}

void mime_msg_free(struct mime_msg *m)
{
	free(m->message_id);
	free(m->subject);
	free(m->from.name);
	free(m->from.address);
	addr_list_free(&m->to);
	addr_list_free(&m->cc);
	addr_list_free(&m->bcc);
	addr_list_free(&m->reply_to);
	free(m->text);
	free(m->html);
	for (size_t i = 0; i < m->attachment_count; i++)
		mime_part_free(&m->attachments[i]);
	free(m->attachments);
	for (size_t i = 0; i < m->inline_count; i++)
		mime_part_free(&m->inlines[i]);
	free(m->inlines);
	for (size_t i = 0; i < m->header_count; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	memset(m, 0, sizeof *m);
}

/* The leaf part_id names in an open document: its bytes and facts. */
static int part_doc(GMimeMessage *msg, const char *part_id, uint8_t **data, size_t *data_len, struct mime_part *info)
{
	struct mime_tree *t = malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	mime_tree_build(t, msg ? g_mime_message_get_mime_part(msg) : NULL);
	const struct mime_leaf *l = mime_tree_find(t, part_id);
	int rc = l ? mime_part_facts(l, info) : -ENOENT;
	if (rc == 0) {
		GByteArray *b = mime_part_bytes(l->obj);
		*data_len = b->len;
		*data = malloc(b->len ? b->len : 1);
		if (*data && b->len)
			memcpy(*data, b->data, b->len);
		else if (!*data)
			rc = -ENOMEM;
		g_byte_array_free(b, TRUE);
		if (rc != 0)
			mime_part_free(info);
	}
	free(t);
	return rc;
}

int mime_msg_part(const uint8_t *raw, size_t len, const char *part_id, uint8_t **data, size_t *data_len,
		  struct mime_part *info)
{
	struct mime_doc d;
	*data = NULL;
	*data_len = 0;
	mime_doc_open(&d, raw, len);
	int rc = part_doc(d.msg, part_id, data, data_len, info);
	mime_doc_close(&d);
	return rc;
}
