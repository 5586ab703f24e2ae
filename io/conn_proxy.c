/*
 * io/conn_proxy.c - the PROXY header (--proxy-protocol) of a connection.
 *
 * Owns: reading the HAProxy PROXY v1/v2 header (core/proxy_proto.c parses
 * it, resumably) from the received buffers before anything else, putting
 * the source it names in place of the socket's peer, and beginning the
 * session once it is read.  A malformed header drops the connection
 * without a reply: it did not come from the proxy.  The parse state is
 * allocated only while the header is awaited (state PROXY).
 */
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "proxy_proto.h"

struct proxy_wait {
	struct proxy_proto_state st;
};

bool conn_proxy_start(struct conn *c)
{
	c->proxy = calloc(1, sizeof *c->proxy);
	return c->proxy != NULL;
}

void conn_proxy_free(struct conn *c)
{
	free(c->proxy);
	c->proxy = NULL;
}

/* The header named a client: it replaces the socket's peer. */
static void take_source(struct conn *c, const struct proxy_proto_result *r)
{
	if (r->local || (r->family != AF_INET && r->family != AF_INET6))
		return; /* a health check, or an address family we do not keep */
	c->peer.family = (uint16_t)r->family;
	c->peer.port = r->src_port;
	memcpy(c->peer.addr, r->src_addr, sizeof c->peer.addr);
}

bool conn_proxy_read(struct conn *c, struct smtp_out *out)
{
	const uint8_t *p;
	size_t n;
	while (conn_input_peek(c, &p, &n)) {
		struct proxy_proto_result r;
		size_t used = 0;
		enum proxy_proto_status st = proxy_proto_parse(&c->proxy->st, p, n, &used, &r);
		conn_input_consume(c, used);
		if (st == PROXY_PROTO_ERROR) {
			conn_drain(c); /* not a proxied connection: no reply */
			return false;
		}
		if (st == PROXY_PROTO_DONE) {
			take_source(c, &r);
			conn_proxy_free(c);
			c->cmd_start_s = 0; /* the header's deadline is met */
			return conn_open_session(c, out);
		}
	}
	return false;
}
