/*
 * http/http_server.c - the daemon: its options, the request life cycle
 * (headers, body, dispatch, completion), auth and framing checks.
 *
 * Invariants: every response carries the common headers (http_reply.c);
 * /livez and /readyz are the only paths served without credentials when
 * --http-auth is given; a request with both Content-Length and
 * Transfer-Encoding is answered 400 and the connection closed (RFC 9112
 * 6.1) before its body is read; bodies past HTTP_BODY_MAX are dropped and
 * answered 413; a request target over HTTP_TARGET_MAX or header fields
 * over HTTP_HEADERS_MAX get a JSON 414 / 431 and a close (only far past
 * them, at HTTP_CONN_MEMORY, does the daemon answer with its own page).
 * Workload: thousands of keep-alive connections (load tests), each held
 * to HTTP_CONN_MEMORY bytes by the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"
#include "indexer.h"

#define HTTP_CONN_LIMIT 4096u /* concurrent connections (load tests keep thousands alive) */
#define HTTP_CONN_TIMEOUT_S 60u /* an idle keep-alive connection is closed after this */
/* Per connection: request line, headers and buffers.  Well above our own
 * limits below, so that the daemon itself (whose 414/431 carry its own
 * HTML page) refuses only what is far past them; it then closes the
 * connection, so memory stays bounded either way. */
#define HTTP_CONN_MEMORY (256u << 10)
#define HTTP_TARGET_MAX (32u << 10) /* request target (path and query), decoded: longer gets a JSON 414 */
#define HTTP_HEADERS_MAX (64u << 10) /* header fields (name: value CRLF each): more gets a JSON 431 */
#define HTTP_REALM "Basic realm=\"smtpsink\""

static const http_handler_fn http_handlers[EP_COUNT] = {
	[EP_LIVEZ] = api_livez,
	[EP_READYZ] = api_readyz,
	[EP_INFO] = api_info,
	[EP_MESSAGES_LIST] = api_messages_list,
	[EP_MESSAGES_READ] = api_messages_read,
	[EP_MESSAGES_DELETE] = api_messages_delete,
	[EP_SEARCH] = api_search,
	[EP_SEARCH_DELETE] = api_search_delete,
	[EP_MESSAGE] = api_message,
	[EP_MESSAGE_HEADERS] = api_message_headers,
	[EP_MESSAGE_RAW] = api_message_raw,
	[EP_MESSAGE_PART] = api_message_part,
	[EP_TAGS] = api_tags,
	[EP_TAGS_SET] = api_tags_set,
	[EP_WEBUI] = api_webui,
	[EP_WAIT] = api_wait,
	[EP_EVENTS] = api_events,
	[EP_CHAOS_GET] = api_chaos_get,
	[EP_CHAOS_SET] = api_chaos_set,
	[EP_VIEW_HTML] = api_view_html,
	[EP_VIEW_TEXT] = api_view_text,
	[EP_SESSION] = api_session,
	[EP_METRICS] = api_metrics,
};

static bool authorized(struct http_req *r)
{
	if (r->srv->auth.n == 0 || r->route.open)
		return true;
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(r->conn, &pass);
	bool ok = user != NULL && pass != NULL && http_auth_check(&r->srv->auth, user, pass);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result reply_unauthorized(struct http_req *r)
{
	struct MHD_Response *resp = http_error_response(r, "authentication required");
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, HTTP_REALM);
	return http_reply_queue(r, MHD_HTTP_UNAUTHORIZED, resp);
}

/* Both Content-Length and Transfer-Encoding: the body's end is ambiguous
 * (request smuggling), so RFC 9112 6.1 says reject and close. */
static enum MHD_Result reply_conflict(struct http_req *r)
{
	struct MHD_Response *resp = http_error_response(r, "both Content-Length and Transfer-Encoding");
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return http_reply_queue(r, MHD_HTTP_BAD_REQUEST, resp);
}

/* Adds the bytes of one key and value to the sum in cls, with sep more. */
static enum MHD_Result sum_value(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				 const char *value, size_t value_size)
{
	size_t *sum = cls;
	*sum += key_size + value_size + (kind == MHD_HEADER_KIND ? 4 : 2); /* ": " CRLF, or "=" and "&" */
	return MHD_YES;
}

/* Our own limits on the request target and the header fields (the
 * daemon's are HTTP_CONN_MEMORY): 0, or the status to refuse with. */
static unsigned oversized(struct MHD_Connection *conn, const char *url)
{
	size_t target = strlen(url), headers = 0;
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, sum_value, &target);
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, sum_value, &headers);
	if (target > HTTP_TARGET_MAX)
		return MHD_HTTP_URI_TOO_LONG;
	return headers > HTTP_HEADERS_MAX ? MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE : 0;
}

/* Over our limits: a JSON error on /api/ (as every error there), and a
 * close (the client may not have meant to send that much). */
static enum MHD_Result reply_oversized(struct http_req *r, unsigned status)
{
	char text[64];
	if (status == MHD_HTTP_URI_TOO_LONG)
		snprintf(text, sizeof text, "request target over %u bytes", HTTP_TARGET_MAX);
	else
		snprintf(text, sizeof text, "header fields over %u bytes", HTTP_HEADERS_MAX);
	struct MHD_Response *resp = http_error_response(r, text);
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return http_reply_queue(r, status, resp);
}

static bool framing_conflict(struct MHD_Connection *conn)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) != NULL &&
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* A CORS preflight: answered only when --http-cors grants an origin. */
static enum MHD_Result reply_options(struct http_req *r)
{
	if (r->srv->cfg.cors_origin == NULL)
		return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	return http_reply_queue(r, MHD_HTTP_NO_CONTENT, resp);
}

static enum MHD_Result dispatch(struct http_req *r, const char *method, const char *url)
{
	if (atomic_load(&r->srv->stopping))
		return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
	if (strcmp(method, "OPTIONS") == 0 && r->route_st != HTTP_ROUTE_NOT_FOUND)
		return reply_options(r);
	if (!authorized(r)) /* before 404: without credentials no path is told apart */
		return reply_unauthorized(r);
	switch (r->route_st) {
	case HTTP_ROUTE_NOT_FOUND: {
		const void *web = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? api_web_find(url) : NULL;
		return web != NULL ? api_web(r, web) : http_reply_error(r, MHD_HTTP_NOT_FOUND, "not found");
	}
	case HTTP_ROUTE_BAD_METHOD:
		return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	case HTTP_ROUTE_BAD_ID:
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid ID in the path");
	case HTTP_ROUTE_OK:
		break;
	}
	if (r->body_too_big)
		return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %u bytes", HTTP_BODY_MAX);
	return http_handlers[r->route.ep](r);
}

static void body_append(struct http_req *r, const char *data, size_t n)
{
	if (r->body_too_big || r->body_len + n > HTTP_BODY_MAX) {
		r->body_too_big = true;
		return;
	}
	char *p = realloc(r->body, r->body_len + n + 1);
	if (p == NULL) {
		r->body_too_big = true;
		return;
	}
	memcpy(p + r->body_len, data, n);
	r->body = p;
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof *r);
		if (r == NULL)
			return MHD_NO;
		r->srv = cls;
		r->conn = conn;
		r->route_st = http_route_match(method, url, &r->route);
		*con_cls = r;
		unsigned too_big = oversized(conn, url);
		if (too_big != 0)
			return reply_oversized(r, too_big);
		if (framing_conflict(conn))
			return reply_conflict(r);
		return MHD_YES; /* the body (if any) comes next */
	}
	if (*upload_size > 0) {
		body_append(r, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(r, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req *r = *con_cls;
	if (r == NULL)
		return;
	http_hub_unlink(&srv->hub, &r->w);
	free(r->w.q.p);
	free(r->q);
	free(r->body);
	free(r->tags);
	free(r);
	*con_cls = NULL;
}

int http_server_new(struct http_server **out, const struct http_server_config *cfg, char *err, size_t err_len)
{
	struct http_server *srv = calloc(1, sizeof *srv);
	if (srv == NULL || http_hub_init(&srv->hub) != 0) {
		snprintf(err, err_len, "out of memory");
		free(srv);
		close(cfg->listen_fd);
		return -ENOMEM;
	}
	srv->cfg = *cfg;
	if (cfg->auth_file != NULL) {
		int e = http_auth_load(&srv->auth, cfg->auth_file, err, err_len);
		if (e != 0) {
			http_server_free(srv);
			return e;
		}
	}
	*out = srv;
	return 0;
}

int http_server_start(struct http_server *srv, struct indexer *ix, char *err, size_t err_len)
{
	srv->indexer = ix;
	srv->started_us = http_now_us();
	const char *why = NULL;
	int e = srv->cfg.spool_path != NULL ? mail_index_open(&srv->ix, srv->cfg.spool_path, &why) : 0;
	if (e != 0) {
		snprintf(err, err_len, "the index of %s: %s", srv->cfg.spool_path, why ? why : strerror(-e));
		return e;
	}
	e = http_hub_start(&srv->hub, srv);
	if (e != 0) {
		snprintf(err, err_len, "events thread: %s", strerror(-e));
		return e;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE;
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, srv->cfg.listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
		MHD_OPTION_CONNECTION_TIMEOUT, HTTP_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)HTTP_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		snprintf(err, err_len, "libmicrohttpd did not start on %s", srv->cfg.addr_text);
		return -EINVAL;
	}
	srv->cfg.listen_fd = -1; /* the daemon's now */
	return 0;
}

void http_server_on_new(void *arg, const struct mail_summary *s)
{
	struct http_server *srv = arg;
	http_hub_publish(&srv->hub, s);
}

void http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	atomic_store(&srv->stopping, true);
	http_hub_stop(&srv->hub); /* every suspended connection resumed: the daemon may stop */
	if (srv->daemon != NULL)
		MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
}

void http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	http_server_stop(srv);
	http_hub_fini(&srv->hub);
	if (srv->ix != NULL)
		mail_index_close(srv->ix);
	if (srv->cfg.listen_fd >= 0)
		close(srv->cfg.listen_fd);
	http_auth_free(&srv->auth);
	free(srv);
}
