/*
 * io/conn_accept.c - a new connection: from the accept to its session.
 *
 * Owns: taking a connection into the shard (the struct from the slab,
 * linked into the live list, its session, session ID and fault choices),
 * the --max-conns refusal, the start (at once, or after the PROXY header),
 * and the beginning of the session once the client is known: its report
 * and transcript, the connect rules (through the fault hook, conn_fault.h),
 * then the banner, a held banner, or a refusal.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "conn_fault.h"
#include "conn_int.h"
#include "conn_trace.h"
#include "session_log.h"
#include "shard.h"

static void set_peer(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	memset(&c->peer, 0, sizeof c->peer);
	c->peer.family = sa != NULL && len >= sizeof(sa_family_t) ? sa->sa_family : AF_UNIX;
	if (c->peer.family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memcpy(c->peer.addr, &s4->sin_addr, 4);
		c->peer.port = ntohs(s4->sin_port);
	} else if (c->peer.family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(c->peer.addr, &s6->sin6_addr, 16);
		c->peer.port = ntohs(s6->sin6_port);
	} else {
		c->peer.family = AF_UNIX;
	}
}

/* Refuse a connection over --max-conns: one line, then close. */
static void refuse(struct conn *c)
{
	static const char busy[] = "421 4.7.0 Too many connections\r\n";
	shard_stats_add(&c->shard->stats.conns_refused, 1);
	if (conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		smtp_reply_raw(&out, busy, sizeof busy - 1);
		conn_out_done(c, &out);
	}
	conn_drain(c);
}

/* A connection that cannot even start (no memory): dropped, no reply. */
static void drop(struct conn *c)
{
	c->broken = true;
	conn_drain(c);
}

/* The struct, linked into the shard and with its session ready. */
static void init_conn(struct conn *c, struct shard *sh, int fd, const struct sockaddr *sa, socklen_t sa_len)
{
	memset(c, 0, offsetof(struct conn, session));
	c->shard = sh;
	c->fd = fd;
	c->recv_op = (struct io_op){ IO_OP_RECV, c };
	c->send_op = (struct io_op){ IO_OP_SEND, c };
	c->cancel_op = (struct io_op){ IO_OP_CANCEL, c };
	c->close_op = (struct io_op){ IO_OP_CLOSE, c };
	c->in.head = c->in.tail = CONN_NO_BUF;
	set_peer(c, sa, sa_len);
	c->next = sh->live;
	if (sh->live != NULL)
		sh->live->prev = c;
	sh->live = c;
	sh->live_count++;
	shard_stats_add(&sh->stats.conns_accepted, 1);
	smtp_session_init(&c->session, &sh->cfg->smtp, conn_events_on_session, c);
	c->last_active_s = sh->now_s;
	c->start_s = (uint32_t)sh->now_s;
	c->client_slot = THROTTLE_NO_SLOT;
	c->connect_us = sh->wall_us;
	c->silent_us = sh->mono_us;
	queue_id_next(&sh->qids, sh->wall_us, c->sid);
	c->rng = fault_rng_seed(sh->seed, sh->index, sh->sessions++);
}

/* --proxy-from: is the peer one of the trusted proxies? */
static bool trusted_proxy(const struct conn *c)
{
	const struct cidr_list *l = &c->shard->cfg->proxy_from;
	if (l->count == 0)
		return true; /* --proxy-protocol alone: any peer (a warning at start) */
	for (unsigned i = 0; i < l->count; i++)
		if (cidr_match(&l->v[i], conn_client_family(c), c->peer.addr))
			return true;
	return false;
}

/* Begin at once, or after the PROXY header. */
static void start(struct conn *c)
{
	struct shard *sh = c->shard;
	if (sh->cfg->proxy_protocol && !trusted_proxy(c)) {
		shard_stats_add(&sh->stats.proxy_refused, 1); /* no banner, no reply: closed */
		drop(c);
	} else if (!sh->cfg->discard && !conn_capture_start(c)) {
		drop(c);
	} else if (sh->cfg->proxy_protocol) {
		if (conn_proxy_start(c)) {
			conn_set_state(c, CONN_PROXY); /* the banner waits for the header */
			c->cmd_start_s = (uint32_t)sh->now_s; /* ... for --timeout at most, however it trickles */
		} else
			drop(c);
	} else if (conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		conn_open_session(c, &out);
		conn_out_done(c, &out);
	} else {
		drop(c);
	}
}

bool conn_on_accept(struct shard *sh, int fd, const struct sockaddr *sa, socklen_t sa_len, bool tls)
{
	struct conn *c = shard_conn_alloc(sh);
	if (c == NULL)
		return false;
	init_conn(c, sh, fd, sa, sa_len);
	c->tls_listener = tls;
	conn_timer_arm_idle(c);
	c->counted = true;
	if (atomic_fetch_add(&sh->shared->conns, 1) >= sh->cfg->max_conns)
		refuse(c);
	else
		start(c);
	sh->ops->recv_resume(c);
	conn_flush(c);
	return true;
}

/* The session's report and transcript begin (once). */
static void start_records(struct conn *c)
{
	struct shard *sh = c->shard;
	if (c->log == NULL && !sh->cfg->discard && !sh->cfg->no_session_reports)
		c->log = session_log_new(c->connect_us, sh->mono_us, sh->cfg->idle_gap_ms);
	if (c->trace == NULL)
		conn_trace_start(c);
}

bool conn_open_session(struct conn *c, struct smtp_out *out)
{
	if (!c->tls_listener) {
		conn_set_state(c, CONN_SESSION);
		return conn_begin_session(c, out);
	}
	start_records(c);
	struct conn_decision d = CONN_DECISION_NONE;
	enum conn_fault_start fs = conn_fault_handshake(c, &d);
	conn_events_decided(c, &d);
	c->tls_fail = d.tls_fail;
	if (fs == CONN_FAULT_REFUSED || !conn_tls_begin(c, true, 0)) {
		if (fs != CONN_FAULT_REFUSED)
			shard_stats_add(&c->shard->stats.tls_handshakes[SHARD_STATS_TLS_FAILED],
					1); /* no memory for it */
		smtp_session_fail(&c->session, 0, NULL, out); /* no reply: none could be read */
		conn_drain(c);
		return false;
	}
	if (fs == CONN_FAULT_HOLD) { /* the ClientHello waits */
		conn_hold_request(c, d.hold_ms, true);
		conn_hold_start(c);
	}
	return false; /* the banner follows the handshake */
}

bool conn_begin_session(struct conn *c, struct smtp_out *out)
{
	start_records(c);
	struct conn_decision d = CONN_DECISION_NONE;
	enum conn_fault_start fs = conn_fault_connect(c, out, &d);
	conn_events_decided(c, &d);
	if (d.hold)
		conn_hold_request(c, d.hold_ms, false);
	switch (fs) {
	case CONN_FAULT_GREET:
		smtp_session_greet(&c->session, out);
		return true;
	case CONN_FAULT_HOLD:
		conn_hold_start(c); /* conn_on_hold_done() greets */
		return false;
	case CONN_FAULT_REFUSED:
		break;
	}
	if (c->hold.req)
		conn_hold_start(c); /* a delay, then the refusal */
	smtp_session_fail(&c->session, 0, NULL, out);
	conn_drain(c);
	return false;
}
