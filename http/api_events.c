/*
 * http/api_events.c - GET /api/events: a websocket when the client asks
 * to upgrade (Mailpit's frames {"Type":"new","Data":summary}), else a
 * server-sent events stream of the same objects ("data: {...}\n\n").
 *
 * Owns: the handshake (RFC 6455 4.2: version 13, a key, the accept
 * value), refusing a foreign Origin (403, as Mailpit: a page on another
 * site must not read captured mail through the visitor's browser; the
 * --http-cors origin is allowed), and setting up the SSE stream.  The
 * streams themselves are the hub's (http_hub.c, http_ws.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "ws_frame.h"

#define SSE_BLOCK 4096u
#define ORIGIN_MAX_BYTES 512u

static const char *header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* No Origin (not a browser), the API's own origin, or the CORS one. */
static bool origin_allowed(struct http_req *r)
{
	const char *origin = header(r, "Origin"), *host = header(r, MHD_HTTP_HEADER_HOST);
	if (origin == NULL)
		return true;
	if (r->srv->cfg.cors_origin != NULL && strcmp(origin, r->srv->cfg.cors_origin) == 0)
		return true;
	char own[ORIGIN_MAX_BYTES];
	for (int tls = 0; host != NULL && tls < 2; tls++) {
		snprintf(own, sizeof own, "%s://%s", tls ? "https" : "http", host);
		if (strcmp(origin, own) == 0)
			return true;
	}
	return false;
}

static void ws_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct http_server *srv = cls;
	http_hub_ws_add(&srv->hub, sock, urh, extra_in, extra_in_size);
}

static enum MHD_Result websocket(struct http_req *r)
{
	if (!origin_allowed(r))
		return http_reply_error(r, MHD_HTTP_FORBIDDEN, "websocket from a foreign Origin refused");
	const char *key = header(r, "Sec-WebSocket-Key"), *version = header(r, "Sec-WebSocket-Version");
	if (key == NULL || version == NULL || strcmp(version, "13") != 0)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "websocket: version 13 and a key are required");
	char accept[WS_ACCEPT_BYTES + 1];
	ws_frame_accept(key, accept);
	struct MHD_Response *resp = MHD_create_response_for_upgrade(ws_upgraded, r->srv);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	return http_reply_queue(r, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_req *r = cls;
	ssize_t n = http_hub_sse_read(&r->srv->hub, &r->w, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static enum MHD_Result sse(struct http_req *r)
{
	if (!origin_allowed(r))
		return http_reply_error(r, MHD_HTTP_FORBIDDEN, "event stream from a foreign Origin refused");
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, r, NULL);
	if (resp == NULL)
		return MHD_NO;
	r->w.conn = r->conn;
	/* the stream opens with a comment, so a client sees the headers at once */
	hub_queue_add(&r->w.q, ":\n\n", 3);
	http_hub_sse_add(&r->srv->hub, &r->w);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	return http_reply_queue(r, MHD_HTTP_OK, resp);
}

enum MHD_Result api_events(struct http_req *r)
{
	const char *up = header(r, MHD_HTTP_HEADER_UPGRADE);
	if (up != NULL && strcasecmp(up, "websocket") == 0)
		return websocket(r);
	return sse(r);
}
