/*
 * http/http_int.h - what the HTTP server's files share: the server, one
 * request's state, the replies every endpoint uses, and the hub (the
 * long polls and event streams waiting for new mail).
 *
 * Threads: the daemon's thread runs every request handler and content
 * reader and is the only user of srv->ix; the indexer thread calls
 * http_hub_publish; the events thread (http_hub.c) times out long polls,
 * keeps event streams alive and serves websockets.  The hub's lock guards
 * its lists and every waiter's `suspended` flag and queue; no lock is
 * held while the index is read.
 */
#ifndef SMTPSINK_HTTP_INT_H
#define SMTPSINK_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http_auth.h"
#include "http_route.h"
#include "http_server.h"
#include "hub_queue.h"
#include "json_buf.h"
#include "mail_index.h"

#define HTTP_BODY_MAX (1u << 20) /* request bodies: IDs lists, chaos settings */
#define HTTP_PAGE_DEFAULT 50u /* Mailpit's default limit */
#define HTTP_SESSION_ID_BYTES 64u /* a session ID (queue-ID-like; longer ones are not linked) */
#define HTTP_PAGE_MAX 10000u /* one JSON page; NDJSON streams have no limit */
#define HUB_TICK_MS 250u /* long-poll deadlines are met within this */
#define HUB_KEEPALIVE_US (15 * 1000000ll) /* SSE comment / websocket ping interval */
#define HUB_WS_MAX 1024u /* websocket clients */

enum hub_kind {
	HUB_POLL,
	HUB_SSE
};

/* A request waiting for mail (a long poll) or streaming events (SSE). */
struct hub_waiter {
	struct hub_waiter *prev, *next;
	struct MHD_Connection *conn;
	enum hub_kind kind;
	bool linked;
	bool suspended; /* the hub resumes it once (under the lock) */
	int64_t deadline_us; /* HUB_POLL: answer 408 after; HUB_SSE: next keep-alive */
	struct hub_queue q; /* HUB_SSE */
	bool overflow; /* HUB_SSE: queue went past HUB_QUEUE_MAX: end the stream */
};

struct ws_client;

struct http_hub {
	pthread_mutex_t lock;
	struct hub_waiter *head;
	struct ws_client *ws_head;
	unsigned ws_count;
	unsigned sse_count; /* HUB_SSE waiters linked */
	struct indexer *indexer; /* told whether events stream (indexer_complete_events); NULL: none */
	uint64_t gen; /* bumped by every publish */
	bool stopping;
	int wake_fd; /* eventfd: publish and stop poke the events thread */
	int ep_fd; /* epoll over wake_fd and the websocket sockets */
	pthread_t thread;
	bool running;
};

struct http_server {
	struct http_server_config cfg;
	struct http_auth auth;
	struct MHD_Daemon *daemon;
	struct mail_index *ix; /* NULL: no spool */
	struct indexer *indexer; /* NULL: none */
	struct http_hub hub;
	int64_t started_us;
	uint64_t deleted; /* messages deleted through the API (the daemon's thread only) */
	atomic_bool stopping;
};

/* One request, from its headers to its completion. */
struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct http_route route;
	enum http_route_status route_st;
	char *body;
	size_t body_len;
	char *tags; /* the loaded message's tags JSON */
	char session_id[HTTP_SESSION_ID_BYTES]; /* ... and its SMTP session's ID, "" if none */
	bool body_too_big;
	struct hub_waiter w; /* long polls and SSE */
	struct search_query *q; /* wait: the parsed query */
	uint64_t after_seq;
	int64_t since_us;
	int64_t deadline_us;
};

typedef enum MHD_Result (*http_handler_fn)(struct http_req *r);

/* http_reply.c */
enum MHD_Result http_reply_queue(struct http_req *r, unsigned status, struct MHD_Response *resp);
enum MHD_Result http_reply_bytes(struct http_req *r, unsigned status, const char *type, void *data, size_t len);
enum MHD_Result http_reply_json(struct http_req *r, unsigned status, struct json_buf *b);
struct MHD_Response *http_error_response(struct http_req *r, const char *text);
enum MHD_Result http_reply_error(struct http_req *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A 5xx for a failed index call (-errno), a 404 for -ENOENT. */
enum MHD_Result http_reply_errno(struct http_req *r, int e, const char *what);
enum MHD_Result http_reply_ok(struct http_req *r);
void http_reply_headers(const struct http_server *srv, struct MHD_Response *resp);
const char *http_arg(struct http_req *r, const char *name);
/* ?start= and ?limit= (Mailpit's: bad values fall back to defaults). */
void http_arg_page(struct http_req *r, uint64_t *start, uint64_t *limit);
/* ?query= parsed into *q: 0, or a 400 was queued (*queued). */
bool http_arg_query(struct http_req *r, const char *text, struct search_query *q, enum MHD_Result *queued);
bool http_wants_ndjson(struct http_req *r);
int64_t http_now_us(void);

/* api_summary.c */
void api_summary_json(struct json_buf *b, const struct mail_summary *s);
/* One message (summary found) with its raw bytes: 0, or a reply queued. */
int api_message_load(struct http_req *r, struct mail_summary *out, uint8_t **raw, size_t *len, enum MHD_Result *queued);

/* http_hub.c */
int http_hub_init(struct http_hub *h);
int http_hub_start(struct http_hub *h, struct http_server *srv);
void http_hub_stop(struct http_hub *h);
void http_hub_fini(struct http_hub *h);
void http_hub_publish(struct http_hub *h, const struct mail_summary *s);
uint64_t http_hub_gen(struct http_hub *h);
/* Suspend r's connection until the next publish or its deadline; false
 * (nothing done) when a publish came after gen was read. */
bool http_hub_suspend(struct http_hub *h, struct hub_waiter *w, uint64_t gen);
void http_hub_unlink(struct http_hub *h, struct hub_waiter *w);
/* SSE: the content reader's bytes (0: suspended, -1: end of stream). */
ssize_t http_hub_sse_read(struct http_hub *h, struct hub_waiter *w, char *buf, size_t max);
void http_hub_sse_add(struct http_hub *h, struct hub_waiter *w);
/* Under the lock, after a stream came or went: the indexer completes
 * event summaries while any stream (SSE or websocket) is open. */
void http_hub_streams_changed(struct http_hub *h);
/* websocket: take over an upgraded socket. */
void http_hub_ws_add(struct http_hub *h, int fd, struct MHD_UpgradeResponseHandle *urh, const char *extra,
		     size_t extra_len);

/* endpoints */
enum MHD_Result api_livez(struct http_req *r);
enum MHD_Result api_readyz(struct http_req *r);
enum MHD_Result api_info(struct http_req *r);
enum MHD_Result api_messages_list(struct http_req *r);
enum MHD_Result api_messages_read(struct http_req *r);
enum MHD_Result api_messages_delete(struct http_req *r);
enum MHD_Result api_search(struct http_req *r);
enum MHD_Result api_search_delete(struct http_req *r);
enum MHD_Result api_tags(struct http_req *r);
enum MHD_Result api_tags_set(struct http_req *r);
enum MHD_Result api_webui(struct http_req *r);
enum MHD_Result api_message(struct http_req *r);
enum MHD_Result api_message_headers(struct http_req *r);
enum MHD_Result api_message_raw(struct http_req *r);
enum MHD_Result api_message_part(struct http_req *r);
enum MHD_Result api_view_html(struct http_req *r);
enum MHD_Result api_view_text(struct http_req *r);
enum MHD_Result api_wait(struct http_req *r);
enum MHD_Result api_events(struct http_req *r);
enum MHD_Result api_chaos_get(struct http_req *r);
enum MHD_Result api_chaos_set(struct http_req *r);
enum MHD_Result api_session(struct http_req *r);
enum MHD_Result api_metrics(struct http_req *r);
/* api_info.c: count the messages a deletion hid (visible before it, from
 * mail_index_info, minus visible after it). */
uint64_t api_info_visible(struct http_req *r);
void api_info_deleted(struct http_req *r, uint64_t visible_before);
/* api_web.c: the embedded web page */
const void *api_web_find(const char *path);
enum MHD_Result api_web(struct http_req *r, const void *found);

#endif
