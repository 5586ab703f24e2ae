/*
 * index/index_doc.c - a message's index row from its record and its MIME
 * parse (index_doc.h).
 *
 * Owns: the JSON of address lists, the searchable texts and the HTML
 * tag stripping of the body text (tags and the content of <script> and
 * <style> dropped, a blank where a tag was; entities kept as written:
 * the words around them still match).  Memory is open_memstream's.
 */
#define _GNU_SOURCE
#include "index_doc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_out.h"

enum {
	DOC_TO,
	DOC_CC,
	DOC_BCC,
	DOC_REPLY_TO
};

/* A growing string in memory. */
struct doc_buf {
	FILE *f;
	char *p;
	size_t len;
};

static int doc_buf_open(struct doc_buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->f = open_memstream(&b->p, &b->len);
	return b->f != NULL ? 0 : -ENOMEM;
}

/* Close b; its string (malloc'd) into *out, or NULL. */
static int doc_buf_close(struct doc_buf *b, char **out)
{
	int err = fclose(b->f) == 0 ? 0 : -ENOMEM;
	if (err != 0) {
		free(b->p);
		b->p = NULL;
	}
	*out = b->p;
	return err;
}

static void doc_json_addr(FILE *f, const char *name, const char *address, size_t i)
{
	fputs(i ? ",{\"Name\":" : "{\"Name\":", f);
	json_out_str(f, (const uint8_t *)name, strlen(name));
	fputs(",\"Address\":", f);
	json_out_str(f, (const uint8_t *)address, strlen(address));
	fputc('}', f);
}

static void doc_text_addr(FILE *f, const char *name, const char *address, size_t i)
{
	fprintf(f, "%s%s%s<%s>", i ? ", " : "", name, name[0] ? " " : "", address);
}

static bool doc_listed(const struct mime_addr_list *l, const char *address, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].address) == len && strncasecmp(l->v[i].address, address, len) == 0)
			return true;
	return false;
}

/* The JSON and text of list k; for Bcc also the envelope recipients no
 * header named. */
static int doc_list(struct index_doc_store *st, int k, const struct mime_addr_list *l, const struct msg *m)
{
	struct doc_buf j, t;
	size_t n = 0, pos = 0;
	struct smtp_view addr, params;
	if (doc_buf_open(&j) != 0)
		return -ENOMEM;
	if (doc_buf_open(&t) != 0) {
		doc_buf_close(&j, &st->json[k]);
		return -ENOMEM;
	}
	fputc('[', j.f);
	for (; n < l->n; n++) {
		doc_json_addr(j.f, l->v[n].name, l->v[n].address, n);
		doc_text_addr(t.f, l->v[n].name, l->v[n].address, n);
	}
	while (k == DOC_BCC && msg_rcpt_next(m, &pos, &addr, &params)) {
		char a[SPOOL_FIELD_MAX_BYTES + 1];
		snprintf(a, sizeof a, "%.*s", (int)addr.len, (const char *)addr.ptr);
		if (doc_listed(&st->mm.to, a, strlen(a)) || doc_listed(&st->mm.cc, a, strlen(a)) ||
		    doc_listed(l, a, strlen(a)))
			continue;
		doc_json_addr(j.f, "", a, n);
		doc_text_addr(t.f, "", a, n++);
	}
	fputc(']', j.f);
	char *reply_to_text = NULL; /* not searched */
	int e1 = doc_buf_close(&j, &st->json[k]);
	int e2 = doc_buf_close(&t, k == DOC_REPLY_TO ? &reply_to_text : &st->text[k + 1]);
	free(reply_to_text);
	return e1 != 0 ? e1 : e2;
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

/* Header lines and body text for free text. */
static int doc_texts(struct index_doc_store *st)
{
	struct doc_buf h, b;
	if (doc_buf_open(&h) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < st->mm.header_count && (size_t)ftell(h.f) < INDEX_DOC_TEXT_MAX_BYTES; i++)
		fprintf(h.f, "%s: %s\n", st->mm.headers[i].name, st->mm.headers[i].value);
	int err = doc_buf_close(&h, &st->headers);
	if (err != 0 || (err = doc_buf_open(&b)) != 0)
		return err;
	size_t text_len = strnlen(st->mm.text, INDEX_DOC_TEXT_MAX_BYTES);
	fwrite(st->mm.text, 1, text_len, b.f);
	fputc('\n', b.f);
	doc_strip_html(b.f, st->mm.html, INDEX_DOC_TEXT_MAX_BYTES - text_len);
	return doc_buf_close(&b, &st->body);
}

static void doc_fill(struct index_doc *d, const struct index_doc_store *st, const struct msg *m)
{
	memset(d, 0, sizeof *d);
	snprintf(d->qid, sizeof d->qid, "%.*s", (int)m->qid.len, (const char *)m->qid.ptr);
	d->received_us = (int64_t)m->received_us;
	d->size = m->rec.body_len;
	d->shard = m->shard;
	d->segno = m->segno;
	d->offset = m->offset;
	d->message_id = st->mm.message_id;
	d->subject = st->mm.subject;
	d->snippet = st->mm.snippet;
	d->from_name = st->mm.from.name;
	d->from_address = st->mm.from.address;
	d->to_json = st->json[DOC_TO];
	d->cc_json = st->json[DOC_CC];
	d->bcc_json = st->json[DOC_BCC];
	d->reply_to_json = st->json[DOC_REPLY_TO];
	d->from_text = st->text[0];
	d->to_text = st->text[1];
	d->cc_text = st->text[2];
	d->bcc_text = st->text[3];
	d->attachments = (uint32_t)st->mm.attachment_count;
	d->headers_text = st->headers;
	d->body_text = st->body;
}

int index_doc_build(struct index_doc *d, struct index_doc_store *st, const struct msg *m)
{
	memset(st, 0, sizeof *st);
	int err = mime_msg_parse(m->rec.body, (size_t)m->rec.body_len, &st->mm);
	if (err != 0)
		return err;
	st->parsed = true;
	const struct mime_addr_list *lists[] = { &st->mm.to, &st->mm.cc, &st->mm.bcc, &st->mm.reply_to };
	for (int k = DOC_TO; err == 0 && k <= DOC_REPLY_TO; k++)
		err = doc_list(st, k, lists[k], m);
	if (err == 0) {
		struct doc_buf f;
		err = doc_buf_open(&f);
		if (err == 0 && st->mm.from.address[0] != '\0')
			doc_text_addr(f.f, st->mm.from.name, st->mm.from.address, 0);
		err = err == 0 ? doc_buf_close(&f, &st->text[0]) : err;
	}
	err = err == 0 ? doc_texts(st) : err;
	if (err == 0)
		doc_fill(d, st, m);
	return err;
}

void index_doc_free(struct index_doc_store *st)
{
	if (st->parsed)
		mime_msg_free(&st->mm);
	for (int k = 0; k < 4; k++) {
		free(st->json[k]);
		free(st->text[k]);
	}
	free(st->headers);
	free(st->body);
	memset(st, 0, sizeof *st);
}
