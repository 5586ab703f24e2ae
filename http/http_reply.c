/*
 * http/http_reply.c - the replies every endpoint sends, and the query
 * arguments they share.
 *
 * Owns: the headers on every response (X-Content-Type-Options: nosniff,
 * Referrer-Policy, a CORS grant only for --http-cors), JSON bodies, the
 * error shape ({"Error":"..."} under /api/, plain text elsewhere), paging
 * and query arguments.  Runs on the daemon's thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_int.h"

#define HTTP_ERROR_TEXT_MAX 512u

int64_t http_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void http_reply_headers(const struct http_server *srv, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (srv->cfg.cors_origin != NULL) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", srv->cfg.cors_origin);
		MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, PUT, DELETE, OPTIONS");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
		MHD_add_response_header(resp, "Vary", "Origin");
	}
}

/* Queue resp with the common headers; the response is released here. */
enum MHD_Result http_reply_queue(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	if (resp == NULL)
		return MHD_NO;
	http_reply_headers(r->srv, resp);
	enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* data is malloc'd and becomes the response's (freed with it). */
enum MHD_Result http_reply_bytes(struct http_req *r, unsigned status, const char *type, void *data, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	if (type != NULL)
		MHD_add_response_header(resp, "Content-Type", type);
	return http_reply_queue(r, status, resp);
}

enum MHD_Result http_reply_json(struct http_req *r, unsigned status, struct json_buf *b)
{
	size_t len;
	json_buf_raw(b, "\n", 1);
	char *p = json_buf_take(b, &len);
	if (p == NULL)
		return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return http_reply_bytes(r, status, "application/json", p, len);
}

/* An error response ({"Error":text} under /api/, else the text), not queued. */
struct MHD_Response *http_error_response(struct http_req *r, const char *text)
{
	struct json_buf b = { 0 };
	if (r->route.api) {
		json_buf_lit(&b, "{\"Error\":");
		json_buf_str(&b, text);
		json_buf_lit(&b, "}\n");
	} else {
		json_buf_lit(&b, text);
		json_buf_lit(&b, "\n");
	}
	size_t len;
	char *p = json_buf_take(&b, &len);
	struct MHD_Response *resp = p != NULL ? MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE) : NULL;
	if (resp == NULL) {
		free(p);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", r->route.api ? "application/json" : "text/plain; charset=utf-8");
	return resp;
}

enum MHD_Result http_reply_error(struct http_req *r, unsigned status, const char *fmt, ...)
{
	char text[HTTP_ERROR_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return http_reply_queue(r, status, http_error_response(r, text));
}

enum MHD_Result http_reply_errno(struct http_req *r, int e, const char *what)
{
	if (e == -ENOENT)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, "%s not found", what);
	return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s: %s", what, strerror(-e));
}

/* Mailpit answers its write endpoints with a plain "ok". */
enum MHD_Result http_reply_ok(struct http_req *r)
{
	char *p = strdup("ok");
	return p != NULL ? http_reply_bytes(r, MHD_HTTP_OK, "text/plain", p, 2) : MHD_NO;
}

const char *http_arg(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A decimal number, all of s; false otherwise. */
static bool arg_u64(const char *s, uint64_t *v)
{
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return false;
	*v = n;
	return true;
}

void http_arg_page(struct http_req *r, uint64_t *start, uint64_t *limit)
{
	*start = 0;
	*limit = http_wants_ndjson(r) ? UINT64_MAX : HTTP_PAGE_DEFAULT;
	arg_u64(http_arg(r, "start"), start);
	if (arg_u64(http_arg(r, "limit"), limit) && *limit > HTTP_PAGE_MAX && !http_wants_ndjson(r))
		*limit = HTTP_PAGE_MAX;
}

bool http_arg_query(struct http_req *r, const char *text, struct search_query *q, enum MHD_Result *queued)
{
	size_t err_at = 0;
	enum search_status st = search_query_parse(text, strlen(text), q, &err_at);
	if (st == SEARCH_OK)
		return true;
	*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "search: %s (at byte %zu)", search_status_text(st), err_at);
	return false;
}

bool http_wants_ndjson(struct http_req *r)
{
	const char *f = http_arg(r, "format");
	if (f != NULL)
		return strcmp(f, "ndjson") == 0;
	const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	return accept != NULL && strstr(accept, "application/x-ndjson") != NULL;
}
