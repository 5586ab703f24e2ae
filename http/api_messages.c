/*
 * http/api_messages.c - GET /api/v1/messages and /api/v1/search (pages
 * of summaries, or every match streamed as NDJSON), and GET
 * /api/v1/tags.
 *
 * Owns: the list object Mailpit's clients read (total, unread, count,
 * messages_count, messages_unread, start, tags, messages) and the NDJSON
 * stream (one summary per line, read from the index ND_BATCH rows at a
 * time by the daemon's content reader, so memory stays bounded however
 * many messages match).  Without a spool (--discard) lists are empty.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define ND_BATCH 500u /* summaries per index query while streaming */
#define ND_BLOCK (16u << 10) /* the daemon's buffer for a streamed response */

struct page {
	struct json_buf *b;
	uint64_t rows;
	bool ndjson; /* one object per line, no commas */
};

static int page_row(void *arg, const struct mail_summary *s)
{
	struct page *p = arg;
	if (p->rows++ > 0 && !p->ndjson)
		json_buf_lit(p->b, ",");
	api_summary_json(p->b, s);
	if (p->ndjson)
		json_buf_lit(p->b, "\n");
	return p->b->failed ? 1 : 0;
}

/* A streamed NDJSON list: refilled from the index as the daemon sends. */
struct nd_stream {
	struct http_server *srv;
	struct search_query *q; /* NULL: every message */
	uint64_t next, remaining;
	struct json_buf b;
	size_t off;
	bool done;
};

static ssize_t nd_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct nd_stream *st = cls;
	if (st->off == st->b.len) {
		if (st->done || st->remaining == 0 || st->srv->ix == NULL)
			return MHD_CONTENT_READER_END_OF_STREAM;
		json_buf_free(&st->b);
		st->off = 0;
		struct page p = { &st->b, 0, true };
		uint64_t want = st->remaining < ND_BATCH ? st->remaining : ND_BATCH;
		if (mail_index_search(st->srv->ix, st->q, st->next, want, page_row, &p) != 0 || st->b.failed)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		st->next += p.rows;
		st->remaining -= p.rows;
		st->done = p.rows < want;
		if (p.rows == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	size_t n = st->b.len - st->off < max ? st->b.len - st->off : max;
	memcpy(out, st->b.p + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

static void nd_free(void *cls)
{
	struct nd_stream *st = cls;
	json_buf_free(&st->b);
	free(st->q);
	free(st);
}

/* q is taken over (freed with the stream). */
static enum MHD_Result reply_ndjson(struct http_req *r, struct search_query *q, uint64_t start, uint64_t limit)
{
	struct nd_stream *st = calloc(1, sizeof *st);
	if (st == NULL) {
		free(q);
		return MHD_NO;
	}
	*st = (struct nd_stream){ .srv = r->srv, .q = q, .next = start, .remaining = limit };
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, ND_BLOCK, nd_read, st, nd_free);
	if (resp == NULL) {
		nd_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
	return http_reply_queue(r, MHD_HTTP_OK, resp);
}

/* The list object around one page of q's matches. */
static enum MHD_Result reply_page(struct http_req *r, const struct search_query *q, uint64_t start, uint64_t limit)
{
	struct mail_index *ix = r->srv->ix;
	uint64_t total = 0, unread = 0, match = 0, match_unread = 0;
	char *tags = NULL;
	struct json_buf b = { 0 };
	struct page p = { &b, 0, false };
	json_buf_lit(&b, "\"messages\":[");
	int e = 0;
	if (ix != NULL) {
		e = mail_index_count(ix, NULL, &total, &unread);
		if (e == 0)
			e = q != NULL ? mail_index_count(ix, q, &match, &match_unread) : 0;
		if (e == 0)
			e = mail_index_tags_json(ix, &tags);
		if (e == 0 && limit > 0)
			e = mail_index_search(ix, q, start, limit, page_row, &p);
	}
	if (e != 0) {
		json_buf_free(&b);
		free(tags);
		return http_reply_errno(r, e, "index");
	}
	if (q == NULL) {
		match = total;
		match_unread = unread;
	}
	json_buf_lit(&b, "]}");
	struct json_buf o = { 0 };
	json_buf_lit(&o, "{\"total\":");
	json_buf_u64(&o, total);
	json_buf_lit(&o, ",\"unread\":");
	json_buf_u64(&o, unread);
	json_buf_lit(&o, ",\"count\":");
	json_buf_u64(&o, p.rows);
	json_buf_lit(&o, ",\"messages_count\":");
	json_buf_u64(&o, match);
	json_buf_lit(&o, ",\"messages_unread\":");
	json_buf_u64(&o, match_unread);
	json_buf_lit(&o, ",\"start\":");
	json_buf_u64(&o, start);
	json_buf_lit(&o, ",\"tags\":");
	json_buf_lit(&o, tags != NULL ? tags : "[]");
	json_buf_lit(&o, ",");
	json_buf_raw(&o, b.p, b.len);
	if (b.failed)
		o.failed = true;
	json_buf_free(&b);
	free(tags);
	return http_reply_json(r, MHD_HTTP_OK, &o);
}

enum MHD_Result api_messages_list(struct http_req *r)
{
	uint64_t start, limit;
	http_arg_page(r, &start, &limit);
	if (http_wants_ndjson(r))
		return reply_ndjson(r, NULL, start, limit);
	return reply_page(r, NULL, start, limit);
}

enum MHD_Result api_search(struct http_req *r)
{
	const char *text = http_arg(r, "query");
	if (text == NULL || text[strspn(text, " \t")] == '\0')
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "no search query");
	struct search_query *q = malloc(sizeof *q);
	enum MHD_Result queued;
	if (q == NULL)
		return MHD_NO;
	if (!http_arg_query(r, text, q, &queued)) {
		free(q);
		return queued;
	}
	uint64_t start, limit;
	http_arg_page(r, &start, &limit);
	if (http_wants_ndjson(r))
		return reply_ndjson(r, q, start, limit);
	enum MHD_Result ret = reply_page(r, q, start, limit);
	free(q);
	return ret;
}

enum MHD_Result api_tags(struct http_req *r)
{
	char *tags = NULL;
	int e = r->srv->ix != NULL ? mail_index_tags_json(r->srv->ix, &tags) : 0;
	if (e != 0)
		return http_reply_errno(r, e, "index");
	struct json_buf b = { 0 };
	json_buf_lit(&b, tags != NULL ? tags : "[]");
	free(tags);
	return http_reply_json(r, MHD_HTTP_OK, &b);
}
