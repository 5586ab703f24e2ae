/*
 * http/http_server.h - the HTTP API of the server: Mailpit's REST API, a
 * long poll, live events, served by libmicrohttpd in its own thread.
 *
 * Owns: the daemon (one internal polling thread, epoll, suspend/resume,
 * upgrade), basic auth, the routes and every endpoint, the events thread
 * (long-poll timeouts, server-sent events, websockets).  Reads the index
 * through its own struct mail_index (one SQLite connection, used only by
 * the daemon's thread).  Does not open its listening socket (io/ does,
 * with the SMTP listeners' checks) and never touches the shards: new
 * messages arrive through http_server_on_new, called by the indexer.
 * Life: http_server_new (main thread, before the indexer starts, so the
 * indexer can be given http_server_on_new), http_server_start (after the
 * SMTP listeners are up), http_server_stop, http_server_free.
 */
#ifndef SMTPSINK_HTTP_SERVER_H
#define SMTPSINK_HTTP_SERVER_H

#include <stddef.h>

#include "http_chaos.h"
#include "http_metrics.h"
#include "mail_index.h"

struct indexer;
struct http_server;

struct http_server_config {
	int listen_fd; /* a listening socket (TCP or unix), owned by the server from http_server_new */
	const char *addr_text; /* for messages */
	const char *spool_path; /* NULL: no index (--discard): empty lists */
	const char *auth_file; /* NULL: no auth */
	const char *cors_origin; /* NULL: no CORS grant */
	const char *version;
	struct http_chaos_ops chaos; /* get NULL: chaos is not enabled (400, as Mailpit) */
	struct http_metrics_ops metrics; /* expose NULL: no /metrics (404), RuntimeStats' SMTP counters 0 */
};

/* Allocate the server and read the auth file; nothing runs yet.  0 or
 * -errno, with a one-line reason in err. */
int http_server_new(struct http_server **out, const struct http_server_config *cfg, char *err, size_t err_len);
/* Open the index (when there is a spool) and start serving; ix (may be
 * NULL) gives the indexer's lag for /api/v1/info and /readyz.  0 or -errno. */
int http_server_start(struct http_server *srv, struct indexer *ix, char *err, size_t err_len);
/* The indexer's on_new (indexer_new_fn): wakes long polls, feeds event
 * streams.  Called on the indexer thread; safe before start and after stop. */
void http_server_on_new(void *arg, const struct mail_summary *s);
/* Stop serving: wake and end every suspended request, stop the threads. */
void http_server_stop(struct http_server *srv);
void http_server_free(struct http_server *srv);

#endif
