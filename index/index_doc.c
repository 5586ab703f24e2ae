/*
 * index/index_doc.c - a message's index row from its record: its head
 * (phase 1) or its MIME parse (phase 2) (index_doc.h).
 *
 * Owns: writing the row's strings (the JSON of address lists, the
 * searchable texts) into the store's memory stream, NUL-separated, their
 * offsets turned into pointers once the stream is flushed (it may move
 * while it grows); the one pass over the header block of phase 1; the HTML
 * tag stripping of the body text (tags and the content of <script> and
 * <style> dropped, a blank where a tag was; entities kept as written: the
 * words around them still match).
 */
#define _GNU_SOURCE
#include "index_doc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_out.h"
#include "rfc2047.h"

enum {
	DOC_TO,
	DOC_CC,
	DOC_BCC,
	DOC_REPLY_TO,
	DOC_LISTS
};

/* The strings of a row, in the order they are written. */
enum doc_str {
	S_TO_JSON,
	S_CC_JSON,
	S_BCC_JSON,
	S_RT_JSON,
	S_FROM_TEXT,
	S_TO_TEXT,
	S_CC_TEXT,
	S_BCC_TEXT,
	S_HEADERS,
	S_BODY,
	S_COUNT
};

/* What both depths write from: the From mailbox and the four lists. */
struct doc_src {
	const struct mime_addr *from;
	const struct mime_addr_list *lists[DOC_LISTS];
};

struct index_doc_store *index_doc_store_new(void)
{
	struct index_doc_store *st = calloc(1, sizeof *st);
	if (st != NULL && (st->f = open_memstream(&st->buf, &st->size)) == NULL) {
		free(st);
		st = NULL;
	}
	return st;
}

static void doc_release_mime(struct index_doc_store *st)
{
	if (st->parsed)
		mime_msg_free(&st->mm);
	st->parsed = false;
}

void index_doc_store_free(struct index_doc_store *st)
{
	if (st == NULL)
		return;
	doc_release_mime(st);
	fclose(st->f);
	free(st->buf);
	free(st);
}

static void doc_addr(FILE *f, bool json, const char *name, const char *address, size_t i)
{
	if (!json) {
		fprintf(f, "%s%s%s<%s>", i ? ", " : "", name, name[0] ? " " : "", address);
		return;
	}
	fputs(i ? ",{\"Name\":" : "{\"Name\":", f);
	json_out_str(f, (const uint8_t *)name, strlen(name));
	fputs(",\"Address\":", f);
	json_out_str(f, (const uint8_t *)address, strlen(address));
	fputc('}', f);
}

static bool doc_listed(const struct mime_addr_list *l, const char *address, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].address) == len && strncasecmp(l->v[i].address, address, len) == 0)
			return true;
	return false;
}

/* List k as JSON or text; for Bcc also the envelope recipients no header
 * named. */
static void doc_list(FILE *f, bool json, const struct doc_src *src, int k, const struct msg *m)
{
	const struct mime_addr_list *l = src->lists[k];
	size_t n = 0, pos = 0;
	struct smtp_view addr, params;
	if (json)
		fputc('[', f);
	for (; n < l->n; n++)
		doc_addr(f, json, l->v[n].name, l->v[n].address, n);
	while (k == DOC_BCC && msg_rcpt_next(m, &pos, &addr, &params)) {
		char a[SPOOL_FIELD_MAX_BYTES + 1];
		snprintf(a, sizeof a, "%.*s", (int)addr.len, (const char *)addr.ptr);
		if (doc_listed(src->lists[DOC_TO], a, strlen(a)) || doc_listed(src->lists[DOC_CC], a, strlen(a)) ||
		    doc_listed(l, a, strlen(a)))
			continue;
		doc_addr(f, json, "", a, n++);
	}
	if (json)
		fputc(']', f);
}

/* html without tags (and without the content of script and style) onto
 * f, at most max bytes of text. */
static void doc_strip_html(FILE *f, const char *html, size_t max)
{
	const char *closing = NULL; /* inside <script> or <style>: the tag that ends it */
	const char *p = html;
	while (*p && max > 0) {
		if (*p != '<') {
			if (closing == NULL) {
				fputc(*p, f);
				max--;
			}
			p++;
			continue;
		}
		if (closing != NULL && strncasecmp(p, closing, strlen(closing)) == 0)
			closing = NULL;
		else if (closing == NULL && strncasecmp(p, "<script", 7) == 0)
			closing = "</script";
		else if (closing == NULL && strncasecmp(p, "<style", 6) == 0)
			closing = "</style";
		const char *end = strchr(p, '>');
		p = end != NULL ? end + 1 : p + strlen(p);
		fputc(' ', f);
	}
}

/* Header lines and body text for free text (phase 2). */
static void doc_texts(FILE *f, const struct mime_msg *mm, long off[S_COUNT])
{
	off[S_HEADERS] = ftell(f);
	long start = off[S_HEADERS];
	for (size_t i = 0; i < mm->header_count && (size_t)(ftell(f) - start) < INDEX_DOC_TEXT_MAX_BYTES; i++)
		fprintf(f, "%s: %s\n", mm->headers[i].name, mm->headers[i].value);
	fputc('\0', f);
	off[S_BODY] = ftell(f);
	size_t text_len = strnlen(mm->text, INDEX_DOC_TEXT_MAX_BYTES);
	fwrite(mm->text, 1, text_len, f);
	fputc('\n', f);
	doc_strip_html(f, mm->html, INDEX_DOC_TEXT_MAX_BYTES - text_len);
	fputc('\0', f);
}

/* The address strings of src into the stream (offsets into off). */
static void doc_addresses(FILE *f, const struct doc_src *src, const struct msg *m, long off[S_COUNT])
{
	for (int k = DOC_TO; k < DOC_LISTS; k++) {
		off[S_TO_JSON + k] = ftell(f);
		doc_list(f, true, src, k, m);
		fputc('\0', f);
	}
	off[S_FROM_TEXT] = ftell(f);
	if (src->from->address[0] != '\0')
		doc_addr(f, false, src->from->name, src->from->address, 0);
	fputc('\0', f);
	for (int k = DOC_TO; k <= DOC_BCC; k++) {
		off[S_TO_TEXT + k] = ftell(f);
		doc_list(f, false, src, k, m);
		fputc('\0', f);
	}
}

/* The envelope columns of d from m. */
static void doc_envelope(struct index_doc *d, const struct msg *m, int phase)
{
	memset(d, 0, sizeof *d);
	snprintf(d->qid, sizeof d->qid, "%.*s", (int)m->qid.len, (const char *)m->qid.ptr);
	d->received_us = (int64_t)m->received_us;
	d->size = m->rec.body_len;
	d->shard = m->shard;
	d->segno = m->segno;
	d->offset = m->offset;
	d->phase = phase;
}

/* Flush the stream and point d's strings into it: 0 or -ENOMEM. */
static int doc_finish(struct index_doc *d, struct index_doc_store *st, const long off[S_COUNT], bool texts)
{
	if (fflush(st->f) != 0 || ferror(st->f))
		return -ENOMEM;
	const char *b = st->buf;
	d->to_json = b + off[S_TO_JSON];
	d->cc_json = b + off[S_CC_JSON];
	d->bcc_json = b + off[S_BCC_JSON];
	d->reply_to_json = b + off[S_RT_JSON];
	d->from_text = b + off[S_FROM_TEXT];
	d->to_text = b + off[S_TO_TEXT];
	d->cc_text = b + off[S_CC_TEXT];
	d->bcc_text = b + off[S_BCC_TEXT];
	d->headers_text = texts ? b + off[S_HEADERS] : NULL;
	d->body_text = texts ? b + off[S_BODY] : NULL;
	return 0;
}

int index_doc_build(struct index_doc *d, struct index_doc_store *st, const struct msg *m)
{
	long off[S_COUNT];
	doc_release_mime(st);
	int err = mime_msg_parse(m->rec.body, (size_t)m->rec.body_len, &st->mm);
	if (err != 0)
		return err;
	st->parsed = true;
	struct doc_src src = { &st->mm.from, { &st->mm.to, &st->mm.cc, &st->mm.bcc, &st->mm.reply_to } };
	rewind(st->f);
	doc_addresses(st->f, &src, m, off);
	doc_texts(st->f, &st->mm, off);
	doc_envelope(d, m, 2);
	d->message_id = st->mm.message_id;
	d->subject = st->mm.subject;
	d->snippet = st->mm.snippet;
	d->from_name = st->mm.from.name;
	d->from_address = st->mm.from.address;
	d->attachments = (uint32_t)st->mm.attachment_count;
	return doc_finish(d, st, off, true);
}

/* The header fields phase 1 reads. */
enum head_field {
	H_FROM,
	H_TO,
	H_CC,
	H_BCC,
	H_REPLY_TO,
	H_SUBJECT,
	H_MESSAGE_ID,
	H_COUNT
};

static const char *const head_names[H_COUNT] = { "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Message-ID" };

/* The mailboxes of one address header into the store's pool from *used. */
static void head_list(struct index_doc_store *st, struct smtp_view v, struct mime_addr_list *l, size_t *used)
{
	size_t len = mail_header_unfold(v, false, st->value, sizeof st->value), pos = 0;
	l->v = &st->addrs[*used];
	l->n = 0;
	while (*used < INDEX_DOC_HEAD_ADDRS_MAX && mail_addr_list_next(st->value, len, &pos, &st->raw[*used])) {
		struct mail_addr *a = &st->raw[*used];
		rfc2047_decode(a->name, strlen(a->name), st->names[*used], sizeof st->names[*used]);
		st->addrs[*used] = (struct mime_addr){ st->names[*used], a->address };
		(*used)++;
		l->n++;
	}
}

/* "<id@host>" -> "id@host" (as GMime gives it); a value without <> kept
 * trimmed. */
static void head_message_id(struct index_doc_store *st, struct smtp_view v)
{
	mail_header_unfold(v, false, st->value, sizeof st->value);
	const char *lt = strchr(st->value, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
	const char *from = gt != NULL ? lt + 1 : st->value;
	size_t len = gt != NULL ? (size_t)(gt - from) : strlen(from);
	len = len < sizeof st->message_id - 1 ? len : sizeof st->message_id - 1;
	memcpy(st->message_id, from, len);
	st->message_id[len] = '\0';
}

/* One pass over the header block: the first of each field. */
static void head_read(struct index_doc_store *st, const struct msg *m)
{
	static const struct mime_addr none = { "", "" };
	struct mime_addr_list from_list = { NULL, 0 };
	struct smtp_view name, value;
	size_t pos = 0, used = 0;
	bool seen[H_COUNT] = { false };
	st->from = none;
	st->subject[0] = st->message_id[0] = '\0';
	for (int k = 0; k < DOC_LISTS; k++)
		st->lists[k] = (struct mime_addr_list){ st->addrs, 0 };
	while (mail_header_next(m->rec.body, m->rec.body_len, &pos, &name, &value)) {
		int h = 0;
		while (h < H_COUNT && !smtp_view_eq_nocase(name, head_names[h]))
			h++;
		if (h == H_COUNT || seen[h])
			continue;
		seen[h] = true;
		if (h == H_SUBJECT)
			mail_header_unfold(value, true, st->subject, sizeof st->subject);
		else if (h == H_MESSAGE_ID)
			head_message_id(st, value);
		else
			head_list(st, value, h == H_FROM ? &from_list : &st->lists[h - H_TO], &used);
	}
	if (from_list.n > 0)
		st->from = from_list.v[0];
}

int index_doc_build_head(struct index_doc *d, struct index_doc_store *st, const struct msg *m)
{
	long off[S_COUNT];
	doc_release_mime(st);
	head_read(st, m);
	struct doc_src src = { &st->from, { &st->lists[0], &st->lists[1], &st->lists[2], &st->lists[3] } };
	rewind(st->f);
	doc_addresses(st->f, &src, m, off);
	doc_envelope(d, m, 1);
	d->message_id = st->message_id;
	d->subject = st->subject;
	d->snippet = "";
	d->from_name = st->from.name;
	d->from_address = st->from.address;
	return doc_finish(d, st, off, false);
}
