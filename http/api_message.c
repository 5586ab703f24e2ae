/*
 * http/api_message.c - one message: GET /api/v1/message/{ID|latest}
 * (Mailpit's message object; reading it marks it read), /headers, /raw,
 * /part/{PartID}, and /view/{ID}.html|.txt.
 *
 * Owns: the message and headers objects' JSON, and the headers that keep
 * captured content from running on the API's origin: parts are served as
 * attachments, the HTML view carries a CSP without scripts and with
 * sandbox, and everything carries nosniff (http_reply.c).  Parsing is
 * mime/mime_msg.h's; the bytes come from the spool through the index.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "mime_msg.h"

#define VIEW_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid: 'self'; sandbox"
#define FILENAME_MAX_BYTES 200u

static void json_addr(struct json_buf *b, const struct mime_addr *a)
{
	json_buf_lit(b, "{\"Name\":");
	json_buf_str(b, a->name);
	json_buf_lit(b, ",\"Address\":");
	json_buf_str(b, a->address);
	json_buf_lit(b, "}");
}

static void json_addrs(struct json_buf *b, const char *key, const struct mime_addr_list *l)
{
	json_buf_key(b, key, false);
	json_buf_lit(b, "[");
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			json_buf_lit(b, ",");
		json_addr(b, &l->v[i]);
	}
	json_buf_lit(b, "]");
}

static void json_parts(struct json_buf *b, const char *key, const struct mime_part *v, size_t n)
{
	json_buf_key(b, key, false);
	json_buf_lit(b, "[");
	for (size_t i = 0; i < n; i++) {
		json_buf_lit(b, i > 0 ? ",{" : "{");
		json_buf_key(b, "PartID", true);
		json_buf_str(b, v[i].part_id);
		json_buf_key(b, "FileName", false);
		json_buf_str(b, v[i].file_name);
		json_buf_key(b, "ContentType", false);
		json_buf_str(b, v[i].content_type);
		json_buf_key(b, "ContentID", false);
		json_buf_str(b, v[i].content_id);
		json_buf_key(b, "Size", false);
		json_buf_u64(b, v[i].size);
		json_buf_lit(b, "}");
	}
	json_buf_lit(b, "]");
}

/* The first value of a header, "" if absent. */
static const char *header_value(const struct mime_msg *m, const char *name)
{
	for (size_t i = 0; i < m->header_count; i++)
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	return "";
}

/* Mailpit's message object, and SessionID (ours: the SMTP session that
 * sent it, for /api/v1/session/ID; "" when the record names none). */
static void message_json(struct json_buf *b, const struct mail_summary *s, const struct mime_msg *m,
			 const char *session_id)
{
	json_buf_lit(b, "{");
	json_buf_key(b, "ID", true);
	json_buf_str(b, s->qid);
	json_buf_key(b, "MessageID", false);
	json_buf_str(b, m->message_id);
	json_buf_key(b, "From", false);
	if (m->from.address[0] == '\0' && m->from.name[0] == '\0')
		json_buf_lit(b, "null");
	else
		json_addr(b, &m->from);
	json_addrs(b, "To", &m->to);
	json_addrs(b, "Cc", &m->cc);
	json_addrs(b, "Bcc", &m->bcc);
	json_addrs(b, "ReplyTo", &m->reply_to);
	json_buf_key(b, "ReturnPath", false);
	json_buf_str(b, header_value(m, "Return-Path"));
	json_buf_key(b, "Subject", false);
	json_buf_str(b, m->subject);
	json_buf_key(b, "ListUnsubscribe", false);
	json_buf_lit(b, "{\"Header\":");
	json_buf_str(b, header_value(m, "List-Unsubscribe"));
	json_buf_lit(b, ",\"Links\":[],\"Errors\":\"\",\"HeaderPost\":");
	json_buf_str(b, header_value(m, "List-Unsubscribe-Post"));
	json_buf_lit(b, "}");
	json_buf_key(b, "Date", false);
	json_buf_time(b, m->date_s != 0 ? m->date_s * 1000000 : s->received_us);
	json_buf_key(b, "Tags", false);
	json_buf_lit(b, s->tags_json != NULL ? s->tags_json : "[]");
	json_buf_key(b, "Username", false);
	json_buf_lit(b, "\"\"");
	json_buf_key(b, "SessionID", false);
	json_buf_str(b, session_id);
	json_buf_key(b, "Text", false);
	json_buf_str(b, m->text);
	json_buf_key(b, "HTML", false);
	json_buf_str(b, m->html);
	json_buf_key(b, "Size", false);
	json_buf_u64(b, s->size);
	json_parts(b, "Inline", m->inlines, m->inline_count);
	json_parts(b, "Attachments", m->attachments, m->attachment_count);
	json_buf_lit(b, "}");
}

/* Load and parse the path's message: 0, or a reply was queued. */
static int load_parsed(struct http_req *r, struct mail_summary *s, struct mime_msg *m, enum MHD_Result *queued)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	int e = api_message_load(r, s, &raw, &len, queued);
	if (e != 0)
		return e;
	e = mime_msg_parse(raw, len, m);
	free(raw);
	if (e != 0)
		*queued = http_reply_errno(r, e, "parsing the message");
	return e;
}

enum MHD_Result api_message(struct http_req *r)
{
	struct mail_summary s;
	struct mime_msg m;
	enum MHD_Result queued;
	if (load_parsed(r, &s, &m, &queued) != 0)
		return queued;
	const char *id = s.qid;
	int e = mail_index_set_read(r->srv->ix, &id, 1, true); /* reading marks read, as in Mailpit */
	struct json_buf b = { 0 };
	message_json(&b, &s, &m, r->session_id);
	mime_msg_free(&m);
	if (e != 0) {
		json_buf_free(&b);
		return http_reply_errno(r, e, "marks");
	}
	return http_reply_json(r, MHD_HTTP_OK, &b);
}

/* Go's canonical header key (net/textproto): "content-type" -> "Content-Type". */
static void canonical_key(const char *name, char *out, size_t size)
{
	size_t n = 0;
	bool upper = true;
	for (; name[n] != '\0' && n + 1 < size; n++) {
		unsigned char c = (unsigned char)name[n];
		out[n] = (char)(upper ? toupper(c) : tolower(c));
		upper = c == '-';
	}
	out[n] = '\0';
}

/* {"Name":["value", ...], ...}: each name once, values in order. */
static void headers_json(struct json_buf *b, const struct mime_msg *m)
{
	char key[256], other[256];
	bool first = true;
	json_buf_lit(b, "{");
	for (size_t i = 0; i < m->header_count; i++) {
		canonical_key(m->headers[i].name, key, sizeof key);
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++) {
			canonical_key(m->headers[k].name, other, sizeof other);
			seen = strcmp(key, other) == 0;
		}
		if (seen)
			continue;
		json_buf_key(b, key, first);
		first = false;
		json_buf_lit(b, "[");
		for (size_t k = i; k < m->header_count; k++) {
			canonical_key(m->headers[k].name, other, sizeof other);
			if (strcmp(key, other) != 0)
				continue;
			if (k > i)
				json_buf_lit(b, ",");
			json_buf_str(b, m->headers[k].value);
		}
		json_buf_lit(b, "]");
	}
	json_buf_lit(b, "}");
}

enum MHD_Result api_message_headers(struct http_req *r)
{
	struct mail_summary s;
	struct mime_msg m;
	enum MHD_Result queued;
	if (load_parsed(r, &s, &m, &queued) != 0)
		return queued;
	struct json_buf b = { 0 };
	headers_json(&b, &m);
	mime_msg_free(&m);
	return http_reply_json(r, MHD_HTTP_OK, &b);
}

/* Content-Disposition: attachment; filename="..." with only safe bytes. */
static void disposition(struct MHD_Response *resp, const char *file_name, const char *fallback)
{
	char v[FILENAME_MAX_BYTES + 40];
	size_t n = (size_t)snprintf(v, sizeof v, "attachment; filename=\"");
	const char *f = file_name != NULL && file_name[0] != '\0' ? file_name : fallback;
	for (size_t i = 0; f[i] != '\0' && n < FILENAME_MAX_BYTES; i++) {
		unsigned char c = (unsigned char)f[i];
		v[n++] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/' ? '_' : (char)c;
	}
	snprintf(v + n, sizeof v - n, "\"");
	MHD_add_response_header(resp, "Content-Disposition", v);
}

enum MHD_Result api_message_raw(struct http_req *r)
{
	struct mail_summary s;
	uint8_t *raw = NULL;
	size_t len = 0;
	enum MHD_Result queued;
	if (api_message_load(r, &s, &raw, &len, &queued) != 0)
		return queued;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, raw, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(raw);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	const char *dl = http_arg(r, "dl");
	if (dl != NULL && strcmp(dl, "1") == 0) {
		char name[HTTP_ROUTE_ID_MAX + 8];
		snprintf(name, sizeof name, "%s.eml", s.qid);
		disposition(resp, name, name);
	}
	return http_reply_queue(r, MHD_HTTP_OK, resp);
}

enum MHD_Result api_message_part(struct http_req *r)
{
	struct mail_summary s;
	uint8_t *raw = NULL, *data = NULL;
	size_t len = 0, data_len = 0;
	enum MHD_Result queued;
	if (api_message_load(r, &s, &raw, &len, &queued) != 0)
		return queued;
	struct mime_part info;
	int e = mime_msg_part(raw, len, r->route.part, &data, &data_len, &info);
	free(raw);
	if (e != 0)
		return http_reply_errno(r, e, "part");
	struct MHD_Response *resp = MHD_create_response_from_buffer(data_len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		mime_part_free(&info);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				info.content_type[0] != '\0' ? info.content_type : "application/octet-stream");
	disposition(resp, info.file_name, info.content_id[0] != '\0' ? info.content_id : "part");
	mime_part_free(&info);
	return http_reply_queue(r, MHD_HTTP_OK, resp);
}

/* /view/ID.html or .txt: the body alone, HTML under a CSP sandbox. */
static enum MHD_Result view(struct http_req *r, bool html)
{
	struct mail_summary s;
	struct mime_msg m;
	enum MHD_Result queued;
	if (load_parsed(r, &s, &m, &queued) != 0)
		return queued;
	const char *body = html ? m.html : m.text;
	size_t n = strlen(body);
	char *copy = malloc(n + 1);
	struct MHD_Response *resp =
		copy != NULL ? MHD_create_response_from_buffer(n, memcpy(copy, body, n + 1), MHD_RESPMEM_MUST_FREE) :
			       NULL;
	mime_msg_free(&m);
	if (resp == NULL) {
		free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Content-Security-Policy", VIEW_CSP);
	return http_reply_queue(r, MHD_HTTP_OK, resp);
}

enum MHD_Result api_view_html(struct http_req *r)
{
	return view(r, true);
}

enum MHD_Result api_view_text(struct http_req *r)
{
	return view(r, false);
}
