/*
 * tools/spool/remote.h - one smtpsink node read through its HTTP API
 * (--remote http://[USER:PASS@]HOST:PORT; docs/SCALE-OUT.md).
 *
 * Owns: the node's URL (its credentials taken out of what is printed, and
 * sent as HTTP basic auth), one libcurl handle per node (kept alive across
 * requests), and GET with the whole body in memory, at most
 * REMOTE_BODY_MAX_BYTES.  Does not parse bodies (remote_list.c does).
 *
 * libcurl, not a socket of our own: it brings keep-alive, chunked bodies,
 * redirects refused, timeouts, IPv6, https:// and proxies, all of them
 * tested elsewhere; the tool links it (the server does not).
 */
#ifndef SMTPSINK_SPOOL_REMOTE_H
#define SMTPSINK_SPOOL_REMOTE_H

#include <stddef.h>

#define REMOTE_LABEL_BYTES 256u /* scheme://host:port as printed */
#define REMOTE_BODY_MAX_BYTES (1ull << 31) /* one response (a listing of every message, or one message) */
#define REMOTE_CONNECT_TIMEOUT_S 10L
#define REMOTE_WHY_BYTES 256u

struct remote {
	char label[REMOTE_LABEL_BYTES]; /* the URL without credentials or trailing '/' */
	char *base; /* the URL to build requests on (credentials out) */
	char *user, *password; /* NULL: no basic auth */
	void *curl; /* CURL * */
	char why[REMOTE_WHY_BYTES]; /* why the last call failed */
};

struct remote_body {
	char *p; /* len bytes and a NUL; malloc'ed */
	size_t len;
};

/* Check and parse url (http:// or https://, no path but "/"): 0, or -1
 * with r->why set (r needs no remote_close then). */
int remote_open(struct remote *r, const char *url);
void remote_close(struct remote *r);

/* GET label + path (path starts with '/', already escaped): the HTTP
 * status with the body in *out (free out->p), or -1 with r->why set
 * (connection refused, timeout, body too large, ...). */
long remote_get(struct remote *r, const char *path, struct remote_body *out);

#endif
