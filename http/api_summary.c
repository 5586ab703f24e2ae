/*
 * http/api_summary.c - a message summary in Mailpit's JSON shape, and
 * loading one message (index row + raw bytes) for the endpoints that read
 * a whole message.
 *
 * Owns: the summary object's fields and their order (ID, MessageID, Read,
 * From, To, Cc, Bcc, ReplyTo, Subject, Created, Username, Tags, Size,
 * Attachments, Snippet), shared by lists, search, wait and events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* An address list the index keeps as ready JSON ("[]" when none). */
static void json_list(struct json_buf *b, const char *key, const char *json)
{
	json_buf_key(b, key, false);
	json_buf_lit(b, json != NULL && json[0] != '\0' ? json : "[]");
}

void api_summary_json(struct json_buf *b, const struct mail_summary *s)
{
	json_buf_lit(b, "{");
	json_buf_key(b, "ID", true);
	json_buf_str(b, s->qid);
	json_buf_key(b, "MessageID", false);
	json_buf_str(b, s->message_id);
	json_buf_key(b, "Read", false);
	json_buf_bool(b, s->read);
	json_buf_key(b, "From", false);
	if ((s->from_name == NULL || s->from_name[0] == '\0') &&
	    (s->from_address == NULL || s->from_address[0] == '\0')) {
		json_buf_lit(b, "null");
	} else {
		json_buf_lit(b, "{\"Name\":");
		json_buf_str(b, s->from_name);
		json_buf_lit(b, ",\"Address\":");
		json_buf_str(b, s->from_address);
		json_buf_lit(b, "}");
	}
	json_list(b, "To", s->to_json);
	json_list(b, "Cc", s->cc_json);
	json_list(b, "Bcc", s->bcc_json);
	json_list(b, "ReplyTo", s->reply_to_json);
	json_buf_key(b, "Subject", false);
	json_buf_str(b, s->subject);
	json_buf_key(b, "Created", false);
	json_buf_time(b, s->received_us);
	json_buf_key(b, "Username", false);
	json_buf_lit(b, "\"\"");
	json_list(b, "Tags", s->tags_json);
	json_buf_key(b, "Size", false);
	json_buf_u64(b, s->size);
	json_buf_key(b, "Attachments", false);
	json_buf_u64(b, s->attachments);
	json_buf_key(b, "Snippet", false);
	json_buf_str(b, s->snippet);
	json_buf_lit(b, "}");
}

/* What mail_index_get hands over, kept past its callback. */
struct found {
	struct mail_summary s;
	char *tags; /* a copy of tags_json */
	bool found;
};

static int keep(void *arg, const struct mail_summary *s)
{
	struct found *f = arg;
	f->s = *s;
	f->found = true;
	/* the strings die with the callback: only the fixed fields are used */
	f->s.message_id = f->s.subject = f->s.snippet = f->s.from_name = f->s.from_address = NULL;
	f->s.to_json = f->s.cc_json = f->s.bcc_json = f->s.reply_to_json = f->s.tags_json = NULL;
	f->tags = s->tags_json != NULL ? strdup(s->tags_json) : NULL;
	return 1;
}

int api_message_load(struct http_req *r, struct mail_summary *out, uint8_t **raw, size_t *len, enum MHD_Result *queued)
{
	struct found f = { .found = false };
	if (r->srv->ix == NULL) {
		*queued = http_reply_error(r, MHD_HTTP_NOT_FOUND, "message not found");
		return -ENOENT;
	}
	int e = mail_index_get(r->srv->ix, r->route.id, keep, &f);
	if (e == 0 && !f.found)
		e = -ENOENT;
	if (e == 0)
		e = mail_index_raw_session(r->srv->ix, &f.s, raw, len, r->session_id, sizeof r->session_id);
	if (e != 0) {
		free(f.tags);
		*queued = http_reply_errno(r, e, "message");
		return e;
	}
	*out = f.s;
	free(r->tags);
	r->tags = f.tags; /* freed with the request */
	out->tags_json = r->tags;
	return 0;
}
