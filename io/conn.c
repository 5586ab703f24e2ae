/*
 * io/conn.c - a connection: bytes in, session, replies out (see conn.h).
 *
 * Owns the rules that make one session code path serve both backends:
 *  - Input: received buffers queue up (in_head..in_tail) and are fed to the
 *    session in order; a buffer goes back to the pool as soon as its last
 *    byte is consumed.  While the session cannot consume (output full), the
 *    connection stops receiving, so no client can make it hold more than
 *    the buffers that were already in flight.
 *  - Output: replies of one loop turn accumulate in one buffer and leave in
 *    one send; at most one send is in flight; bytes appended meanwhile go
 *    out with the next send.  A short send is continued, never an error.
 *  - Close: once closing, input is dropped, the output still goes out, then
 *    the backend closes; the struct is freed only in conn_on_closed(), when
 *    no kernel operation refers to it.
 * Expected workload: many small pipelined commands or long DATA streams;
 * per received buffer the cost is one feed() and at most one send.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "capture.h"
#include "conn_fault.h"
#include "conn_trace.h"
#include "proxy_proto.h"
#include "session_log.h"
#include "shard.h"
#include "spool.h"

struct proxy_wait {
	struct proxy_proto_state st;
};

static void conn_process(struct conn *c);

static char *dup_view(struct smtp_view v)
{
	char *p = malloc(v.len + 1);
	if (p != NULL) {
		memcpy(p, v.ptr, v.len);
		p[v.len] = '\0';
	}
	return p;
}

static void replace(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

/* Capture mode: keep what the events lend, for the spool record. */
static void capture_event(struct conn *c, const struct smtp_event *ev)
{
	switch (ev->type) {
	case SMTP_EV_HELO:
		replace(&c->helo, dup_view(ev->arg));
		break;
	case SMTP_EV_AUTH_USER:
		replace(&c->auth_pending, dup_view(ev->arg));
		break;
	case SMTP_EV_AUTH:
		if (ev->flags & SMTP_EVF_OK) {
			replace(&c->auth_user, c->auth_pending);
			c->auth_pending = NULL;
		} else {
			replace(&c->auth_pending, NULL);
		}
		break;
	case SMTP_EV_MAIL:
		capture_free(c->cap);
		c->cap = capture_begin(ev->arg, ev->params);
		break;
	case SMTP_EV_RCPT:
		if (c->cap != NULL)
			capture_add_rcpt(c->cap, ev->arg, ev->params);
		break;
	case SMTP_EV_BODY:
		if (c->cap != NULL)
			capture_add_body(c->cap, ev->arg);
		break;
	case SMTP_EV_MSG_END:
		if (c->cap != NULL)
			c->cap->flags = ev->flags;
		break;
	case SMTP_EV_MSG_ABORT:
	case SMTP_EV_RESET:
		capture_free(c->cap);
		c->cap = NULL;
		break;
	default:
		break;
	}
}

static const struct smtp_override *on_event(void *ctx, const struct smtp_event *ev)
{
	static const struct smtp_override no_room = { 452, false, "4.3.1 Insufficient system storage" };
	struct conn *c = ctx;
	const struct server_config *cfg = c->shard->cfg;
	const struct smtp_override *ov = NULL;
	if (c->trace != NULL)
		conn_trace_event(c, ev);
	switch (ev->type) {
	case SMTP_EV_COMMAND:
		if (!cfg->discard && ev->verb == SMTP_VERB_MAIL && !(ev->flags & SMTP_EVF_REFUSED) &&
		    !spool_ready(&c->shard->spool))
			ov = &no_room; /* the disk is full or failing: say so at MAIL */
		else
			ov = conn_fault_command(c, ev);
		break;
	case SMTP_EV_MAIL:
	case SMTP_EV_RCPT:
		ov = conn_fault_address(c, ev);
		if (ov != NULL && smtp_override_refuses(ov)) { /* the session undoes it: nothing to keep */
			if (c->hold_req)
				smtp_session_pause(&c->session);
			return ov;
		}
		break;
	case SMTP_EV_DATA_BEGIN:
		c->data_start_s = c->shard->now_s;
		c->data_bytes = 0;
		conn_fault_content(c);
		break;
	case SMTP_EV_MSG_END:
		c->data_start_s = 0;
		break;
	case SMTP_EV_MSG_ABORT:
		c->data_start_s = 0;
		break;
	default:
		break;
	}
	if (c->log != NULL)
		session_log_event(c->log, ev, c->shard->mono_us);
	if (!cfg->discard)
		capture_event(c, ev);
	if (c->hold_req) /* a fault delay: nothing more is read until it ends */
		smtp_session_pause(&c->session);
	return ov;
}

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

/* The output buffer, allocated on first use; NULL if memory ran out. */
static bool want_out(struct conn *c)
{
	if (c->out == NULL)
		c->out = shard_out_alloc(c->shard);
	return c->out != NULL;
}

static void release_input(struct conn *c)
{
	struct shard *sh = c->shard;
	while (c->in_head != CONN_NO_BUF) {
		uint16_t bid = c->in_head;
		c->in_head = sh->rbufs.next[bid];
		sh->ops->release_buf(sh, bid);
	}
	c->in_tail = CONN_NO_BUF;
	c->in_off = 0;
}

static void start_closing(struct conn *c)
{
	c->closing = true;
	release_input(c);
}

/* Close once the output is out (or can never go out). */
/* The connection's one timer node is in the idle wheel, or in the hold
 * wheel while a fault delay runs. */
static void disarm_timer(struct conn *c)
{
	timer_wheel_disarm(c->holding ? &c->shard->holds : &c->shard->timers, &c->timer);
}

static void arm_timer(struct conn *c, uint64_t deadline_s)
{
	if (!c->holding) /* the end of the hold arms it */
		timer_wheel_arm(&c->shard->timers, &c->timer, deadline_s);
}

/* Start the hold asked for while the session ran (or lengthen one). */
static void start_hold(struct conn *c)
{
	struct shard *sh = c->shard;
	bool in_only = c->hold_req_in_only && (!c->holding || c->hold_in_only);
	uint64_t until = sh->now_ms + c->hold_req_ms;
	if (c->holding && c->timer.armed && c->timer.deadline_s > until)
		until = c->timer.deadline_s;
	c->hold_req = false;
	c->hold_req_ms = 0;
	disarm_timer(c);
	c->holding = true;
	c->hold_in_only = in_only;
	timer_wheel_arm(&sh->holds, &c->timer, until);
}

static void cancel_hold(struct conn *c)
{
	if (!c->holding)
		return;
	disarm_timer(c);
	c->holding = false;
	c->hold_in_only = false;
}

/* Output that may leave now: all of it, or while a delay holds the
 * replies, what was written before the delayed one. */
static uint32_t sendable(const struct conn *c)
{
	if (!c->holding || c->hold_in_only)
		return c->out_len;
	return c->hold_from < c->out_len ? c->hold_from : c->out_len;
}

static void maybe_close(struct conn *c)
{
	if (!c->closing || c->close_sent)
		return;
	if (!c->broken && (c->out_inflight != 0 || c->out_len != 0 || c->holding))
		return;
	c->close_sent = true;
	release_input(c);
	disarm_timer(c);
	c->holding = false;
	c->shard->ops->close(c);
}

static void flush(struct conn *c)
{
	uint32_t n = sendable(c);
	if (c->out_inflight == 0 && n > 0 && !c->close_sent) {
		c->out_inflight = n;
		if (c->trace != NULL)
			conn_trace_output(c, c->out, n);
		c->shard->ops->send(c);
	}
	if (c->out != NULL && c->out_len == 0 && c->out_inflight == 0) {
		shard_out_free(c->shard, c->out);
		c->out = NULL;
	}
	maybe_close(c);
}

static struct smtp_view str_view(const char *s)
{
	return smtp_view_make(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* The session's facts for the record: client, HELO, protocol, AUTH. */
static void fill_envelope(const struct conn *c, struct spool_envelope *env)
{
	memset(env, 0, sizeof *env);
	env->client_family = conn_client_family(c);
	env->client_port = c->peer.port;
	memcpy(env->client_addr, c->peer.addr, sizeof env->client_addr);
	env->helo = str_view(c->helo);
	env->auth_user = str_view(c->auth_user);
	const char *proto = c->shard->cfg->smtp.lmtp		   ? "LMTP" :
			    c->session.helo_verb == SMTP_VERB_EHLO ? "ESMTP" :
								     "SMTP";
	env->protocol = str_view(proto);
	env->session_id = str_view(c->sid);
}

static enum smtp_stop answer(struct conn *c, const struct spool_answer *ans, struct smtp_out *out)
{
	struct smtp_verdict v = { ans->code, ans->qid, ans->text };
	if (ans->code == 250) { /* the session still holds the message's size */
		c->shard->stats.messages++;
		c->shard->stats.message_bytes += c->session.msg_bytes;
	}
	if (c->log != NULL)
		session_log_verdict(c->log, ans->code, ans->qid);
	return smtp_session_verdict(&c->session, &v, out);
}

/* Answer a completed message: --discard at once; capture mode through the
 * spool, which may answer only once the message is durable (SMTP_STOP_VERDICT
 * stays: the session waits, and its input with it). */
static enum smtp_stop give_verdict(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	struct spool_answer ans = { 250, NULL, { 0 } };
	enum conn_fault_end fe = conn_fault_dot(c, &ans);
	if (fe != CONN_FAULT_STORE) { /* a rule answers: nothing is kept */
		capture_free(c->cap);
		c->cap = NULL;
		size_t mark = out->len;
		enum smtp_stop st = answer(c, &ans, out);
		if (fe == CONN_FAULT_REFUSE)
			return st;
		if (fe == CONN_FAULT_DROP)
			out->len = mark; /* the session answered; the client hears nothing */
		smtp_session_fail(&c->session, 0, NULL, out);
		return SMTP_STOP_CLOSE;
	}
	if (sh->cfg->discard) {
		queue_id_next(&sh->qids, sh->wall_us, ans.qid);
		return answer(c, &ans, out);
	}
	struct capture *cap = c->cap;
	c->cap = NULL;
	if (cap == NULL) { /* no memory at MAIL time */
		ans.code = 451;
		ans.text = "4.3.0 Error: out of memory";
		return answer(c, &ans, out);
	}
	struct spool_envelope env;
	fill_envelope(c, &env);
	cap->conn = c;
	if (!spool_append(sh, cap, &env, sh->wall_us, &ans)) {
		c->ops++; /* the spool will answer: c must outlive that */
		c->verdict_pending = true;
		return SMTP_STOP_VERDICT;
	}
	return answer(c, &ans, out);
}

void conn_on_verdict(struct conn *c, const struct spool_answer *ans)
{
	c->ops--;
	c->verdict_pending = false;
	if (!c->closing && c->session.state == SMTP_STATE_VERDICT && want_out(c)) {
		struct smtp_out out = { c->out, c->out_len, CONN_OUT_BYTES };
		if (answer(c, ans, &out) == SMTP_STOP_CLOSE)
			start_closing(c);
		c->out_len = (uint32_t)out.len;
		conn_process(c); /* input held behind the message goes on now */
		return;
	}
	if (c->close_done && c->ops == 0)
		conn_on_closed(c);
	else
		flush(c);
}

/* Feed queued input to the session until it is consumed or the session
 * cannot go on.  Returns false when the session is blocked on output. */
static bool feed_input_loop(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	for (;;) {
		if (c->verdict_pending || c->holding || smtp_out_room(out) < SMTP_OUT_RESERVE_BYTES)
			return false;
		const uint8_t *p = NULL;
		size_t n = 0;
		if (c->in_head != CONN_NO_BUF) {
			p = shard_rbuf(sh, c->in_head) + c->in_off;
			n = sh->rbufs.len[c->in_head] - c->in_off;
		} else if (c->session.state != SMTP_STATE_LMTP_REPLIES) {
			return true;
		}
		size_t used = 0;
		enum smtp_stop st = smtp_session_feed(&c->session, p, n, &used, out);
		c->in_off += (uint32_t)used;
		if (c->in_head != CONN_NO_BUF && c->in_off == sh->rbufs.len[c->in_head]) {
			uint16_t bid = c->in_head;
			c->in_head = sh->rbufs.next[bid];
			if (c->in_head == CONN_NO_BUF)
				c->in_tail = CONN_NO_BUF;
			c->in_off = 0;
			sh->ops->release_buf(sh, bid);
		}
		if (st == SMTP_STOP_VERDICT)
			st = give_verdict(c, out);
		if (c->hold_req)
			start_hold(c); /* a fault delay: replies (or input) wait */
		if (st == SMTP_STOP_VERDICT)
			return false; /* waits for the spool */
		if (st == SMTP_STOP_CLOSE) {
			start_closing(c);
			return true;
		}
		if (c->holding)
			return false;
		if (st == SMTP_STOP_OUT_FULL)
			return false;
		if (st == SMTP_STOP_INPUT && c->in_head == CONN_NO_BUF && c->session.state != SMTP_STATE_LMTP_REPLIES)
			return true;
	}
}

/* The same, with c->feeding set for the fault code. */
static bool feed_input(struct conn *c, struct smtp_out *out)
{
	c->feeding = out; /* a fault delay asked for meanwhile marks its reply */
	bool ok = feed_input_loop(c, out);
	c->feeding = NULL;
	return ok;
}

/* The client is known (accepted, or named by its PROXY header): start its
 * report and transcript, then apply connection rate limits and connect
 * rules; greet unless they delay or refuse.  False when the session will
 * not go on now (held or refused). */
static bool begin_session(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	if (!sh->cfg->discard && !sh->cfg->no_session_reports)
		c->log = session_log_new(c->connect_us, sh->mono_us, sh->cfg->idle_gap_ms);
	conn_trace_start(c);
	switch (conn_fault_connect(c, out)) {
	case CONN_FAULT_GREET:
		smtp_session_greet(&c->session, out);
		return true;
	case CONN_FAULT_HOLD:
		start_hold(c); /* conn_on_hold_done() greets */
		return false;
	case CONN_FAULT_REFUSED:
		break;
	}
	if (c->hold_req)
		start_hold(c); /* a delay, then the refusal */
	smtp_session_fail(&c->session, 0, NULL, out);
	start_closing(c);
	return false;
}

/* --proxy-protocol: the header comes before anything else.  Returns true
 * once it has been read (and the banner written), false while waiting or
 * when the connection is being dropped for a bad header. */
static bool read_proxy_header(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	struct proxy_proto_result r;
	while (c->in_head != CONN_NO_BUF) {
		size_t used = 0;
		uint32_t n = sh->rbufs.len[c->in_head] - c->in_off;
		enum proxy_proto_status st =
			proxy_proto_parse(&c->proxy->st, shard_rbuf(sh, c->in_head) + c->in_off, n, &used, &r);
		c->in_off += (uint32_t)used;
		if (c->in_off == sh->rbufs.len[c->in_head]) {
			uint16_t bid = c->in_head;
			c->in_head = sh->rbufs.next[bid];
			if (c->in_head == CONN_NO_BUF)
				c->in_tail = CONN_NO_BUF;
			c->in_off = 0;
			sh->ops->release_buf(sh, bid);
		}
		if (st == PROXY_PROTO_ERROR) {
			start_closing(c); /* not a proxied connection: no reply */
			return false;
		}
		if (st == PROXY_PROTO_DONE) {
			if (!r.local && (r.family == AF_INET || r.family == AF_INET6)) {
				c->peer.family = (uint16_t)r.family;
				c->peer.port = r.src_port;
				memcpy(c->peer.addr, r.src_addr, sizeof c->peer.addr);
			}
			free(c->proxy);
			c->proxy = NULL;
			return begin_session(c, out);
		}
	}
	return false;
}

/* After input is consumed: the peer's EOF, shutdown, backpressure. */
static void after_input(struct conn *c, bool blocked, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	if (c->closing)
		return;
	bool drained = !blocked && c->in_head == CONN_NO_BUF;
	if (drained && c->peer_eof && c->session.state != SMTP_STATE_VERDICT) {
		smtp_session_eof(&c->session);
		start_closing(c);
		return;
	}
	if (drained && atomic_load_explicit(&sh->shared->stopping, memory_order_relaxed) &&
	    smtp_session_is_idle(&c->session) && smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES) {
		smtp_session_abort(&c->session, SMTP_REASON_SHUTDOWN, out);
		start_closing(c);
		return;
	}
	/* stop receiving only while input piles up unconsumed (a message
	 * waiting for its verdict alone is no reason: the client waits too) */
	if (blocked && c->in_head != CONN_NO_BUF && !c->recv_paused) {
		c->recv_paused = true;
		sh->ops->recv_pause(c);
	} else if (!blocked && c->recv_paused) {
		c->recv_paused = false;
		sh->ops->recv_resume(c);
	}
}

static void conn_process(struct conn *c)
{
	if (c->close_sent)
		return;
	if (!c->closing && (c->in_head != CONN_NO_BUF || c->peer_eof || c->recv_paused ||
			    c->session.state == SMTP_STATE_LMTP_REPLIES || c->shard->shared->stopping)) {
		if (!want_out(c)) {
			c->broken = true; /* no memory: drop the connection */
			start_closing(c);
		} else {
			struct smtp_out out = { c->out, c->out_len, CONN_OUT_BYTES };
			if (c->proxy == NULL || read_proxy_header(c, &out)) {
				bool blocked = !feed_input(c, &out);
				if (c->trace != NULL)
					conn_trace_feed_done(c);
				after_input(c, blocked, &out);
			} else if (c->peer_eof && !c->closing) {
				start_closing(c);
			}
			c->out_len = (uint32_t)out.len;
		}
	}
	flush(c);
}

/* Refuse a connection over --max-conns: one line, then close. */
static void refuse(struct conn *c)
{
	static const char busy[] = "421 4.7.0 Too many connections\r\n";
	c->shard->stats.conns_refused++;
	if (want_out(c)) {
		memcpy(c->out, busy, sizeof busy - 1);
		c->out_len = sizeof busy - 1;
	}
	start_closing(c);
	flush(c);
}

bool conn_on_accept(struct shard *sh, int fd, const struct sockaddr *sa, socklen_t sa_len)
{
	struct conn *c = shard_conn_alloc(sh);
	if (c == NULL)
		return false;
	memset(c, 0, offsetof(struct conn, session));
	c->shard = sh;
	c->fd = fd;
	c->recv_op = (struct io_op){ IO_OP_RECV, c };
	c->send_op = (struct io_op){ IO_OP_SEND, c };
	c->cancel_op = (struct io_op){ IO_OP_CANCEL, c };
	c->close_op = (struct io_op){ IO_OP_CLOSE, c };
	c->in_head = c->in_tail = CONN_NO_BUF;
	set_peer(c, sa, sa_len);
	c->next = sh->live;
	if (sh->live != NULL)
		sh->live->prev = c;
	sh->live = c;
	sh->live_count++;
	sh->stats.conns_accepted++;
	smtp_session_init(&c->session, &sh->cfg->smtp, on_event, c);
	c->last_active_s = sh->now_s;
	c->connect_us = sh->wall_us;
	c->silent_us = sh->mono_us;
	queue_id_next(&sh->qids, sh->wall_us, c->sid);
	c->rng = fault_rng_seed(sh->seed, sh->index, sh->sessions++);
	arm_timer(c, sh->now_s + sh->cfg->timeout_s + 1);
	c->counted = true;
	if (atomic_fetch_add(&sh->shared->conns, 1) >= sh->cfg->max_conns) {
		refuse(c);
		return true;
	}
	if (sh->cfg->proxy_protocol) {
		c->proxy = calloc(1, sizeof *c->proxy); /* the banner waits for it */
		if (c->proxy == NULL) {
			c->broken = true;
			start_closing(c);
		}
	} else if (want_out(c)) {
		struct smtp_out out = { c->out, 0, CONN_OUT_BYTES };
		begin_session(c, &out);
		c->out_len = (uint32_t)out.len;
	} else {
		c->broken = true;
		start_closing(c);
	}
	sh->ops->recv_resume(c);
	flush(c);
	return true;
}

/* --data-min-rate: content slower than this, after the first timeout
 * interval, cannot hold a session forever (slowloris). */
static bool too_slow(const struct conn *c)
{
	const struct server_config *cfg = c->shard->cfg;
	if (c->data_start_s == 0 || cfg->data_min_rate == 0)
		return false;
	uint64_t elapsed = c->shard->now_s - c->data_start_s;
	return elapsed > cfg->timeout_s && c->data_bytes < (uint64_t)cfg->data_min_rate * elapsed;
}

/* End the session from our side (timeout, shutdown): 421 if there is room,
 * then close; a second call (the client does not read) drops it. */
static void end_session(struct conn *c, enum smtp_reason why)
{
	struct smtp_out out;
	cancel_hold(c);
	if (c->closing) { /* the client does not even take our last reply */
		c->broken = true;
		maybe_close(c);
		return;
	}
	if (want_out(c) && c->session.state != SMTP_STATE_VERDICT) {
		out = (struct smtp_out){ c->out, c->out_len, CONN_OUT_BYTES };
		if (smtp_out_room(&out) >= SMTP_REPLY_LINE_MAX_BYTES)
			smtp_session_abort(&c->session, why, &out);
		c->out_len = (uint32_t)out.len;
	}
	start_closing(c);
	arm_timer(c, c->shard->now_s + c->shard->cfg->timeout_s);
	flush(c);
}

/* The client spoke: a silence before it goes into the report (and the
 * transcript) if it was long. */
static void note_input(struct conn *c, uint32_t len)
{
	struct shard *sh = c->shard;
	uint64_t silent = sh->mono_us > c->silent_us ? sh->mono_us - c->silent_us : 0;
	if (c->trace != NULL && silent > (uint64_t)sh->cfg->idle_gap_ms * 1000u)
		conn_trace_note(c, "the client was silent for %llu.%03llu s", (unsigned long long)(silent / 1000000u),
				(unsigned long long)(silent / 1000u % 1000u));
	if (c->log != NULL)
		session_log_input(c->log, sh->mono_us, c->silent_us, len);
	c->silent_us = sh->mono_us;
}

void conn_on_recv(struct conn *c, uint16_t bid, uint32_t len)
{
	struct shard *sh = c->shard;
	sh->stats.bytes_in += len;
	if (c->closing) {
		sh->ops->release_buf(sh, bid);
		return;
	}
	sh->rbufs.len[bid] = len;
	sh->rbufs.next[bid] = CONN_NO_BUF;
	if (c->in_tail == CONN_NO_BUF)
		c->in_head = bid;
	else
		sh->rbufs.next[c->in_tail] = bid;
	c->in_tail = bid;
	c->last_active_s = sh->now_s;
	if (c->data_start_s != 0)
		c->data_bytes += len;
	note_input(c, len);
	if (too_slow(c)) {
		sh->stats.timeouts++;
		end_session(c, SMTP_REASON_TIMEOUT);
		return;
	}
	conn_process(c);
}

void conn_on_eof(struct conn *c)
{
	c->peer_eof = true;
	c->recv_armed = false;
	conn_process(c);
}

void conn_on_error(struct conn *c, int err)
{
	(void)err; /* ECONNRESET and friends: RFC 5321 4.1.1.5, treat as QUIT */
	c->peer_eof = true;
	c->broken = true;
	c->recv_armed = false;
	if (!c->closing && c->session.state != SMTP_STATE_VERDICT)
		smtp_session_eof(&c->session);
	start_closing(c);
	maybe_close(c);
}

void conn_on_send_error(struct conn *c, int err)
{
	c->out_inflight = 0;
	c->out_len = 0;
	conn_on_error(c, err);
}

void conn_on_sent(struct conn *c, uint32_t bytes)
{
	assert(bytes <= c->out_inflight && c->out_inflight <= c->out_len);
	memmove(c->out, c->out + bytes, c->out_len - bytes);
	c->out_len -= bytes;
	c->out_inflight = 0;
	c->hold_from = c->hold_from > bytes ? c->hold_from - bytes : 0;
	if (!c->closing) /* our last reply (a 421 at a timeout) starts no turn */
		c->silent_us = c->shard->mono_us; /* the client's turn starts now */
	if (c->log != NULL)
		session_log_output(c->log, bytes);
	conn_process(c);
}

void conn_on_recv_stopped(struct conn *c)
{
	c->recv_armed = false;
	if (!c->closing && !c->recv_paused && !c->peer_eof)
		c->shard->ops->recv_resume(c);
}

/* The session's report goes into the spool; the transcript ends. */
static void end_report(struct conn *c)
{
	struct shard *sh = c->shard;
	enum smtp_reason why = c->peer_eof || c->broken ? SMTP_REASON_EOF : SMTP_REASON_NONE;
	if (c->trace != NULL)
		conn_trace_end(c, c->broken   ? "the connection failed (reset)" :
				  c->peer_eof ? "the client closed the connection" :
						"the server closed the connection");
	if (c->log == NULL)
		return;
	struct session_report *r = &c->log->r; /* the connection's own facts */
	struct spool_envelope env;
	fill_envelope(c, &env);
	r->id = str_view(c->sid);
	r->shard = sh->index;
	r->node = sh->cfg->node_id;
	r->client_family = env.client_family;
	r->client_port = env.client_port;
	memcpy(r->client_addr, env.client_addr, sizeof r->client_addr);
	r->helo = env.helo;
	spool_append_session(sh, session_log_finish(c->log, &c->session, why, sh->wall_us, sh->mono_us, c->silent_us));
	session_log_free(c->log);
	c->log = NULL;
}

void conn_on_closed(struct conn *c)
{
	struct shard *sh = c->shard;
	end_report(c);
	free(c->abort);
	c->abort = NULL;
	release_input(c);
	disarm_timer(c);
	c->holding = false;
	if (c->out != NULL)
		shard_out_free(sh, c->out);
	c->out = NULL;
	free(c->proxy);
	c->proxy = NULL;
	replace(&c->helo, NULL);
	replace(&c->auth_user, NULL);
	replace(&c->auth_pending, NULL);
	capture_free(c->cap);
	c->cap = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sh->live = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sh->live_count--;
	if (c->counted)
		atomic_fetch_sub(&sh->shared->conns, 1);
	shard_conn_free(sh, c);
}

void conn_on_timer(struct conn *c)
{
	/* 1 s ticks: "now > last + timeout" waits at least the full timeout */
	uint64_t now = c->shard->now_s, timeout = c->shard->cfg->timeout_s;
	if (c->closing || now > c->last_active_s + timeout || too_slow(c)) {
		c->shard->stats.timeouts++;
		end_session(c, SMTP_REASON_TIMEOUT);
	} else {
		arm_timer(c, c->last_active_s + timeout + 1);
	}
}

/* content:close after a stall (smtp-sink -A): the reply, then the close.
 * The session paused right after DATA's 354 or the BDAT command, so the
 * content is still unread; if the message got further anyway, the abort
 * is dropped (a message may never be stored and then refused). */
static void run_abort(struct conn *c)
{
	struct conn_abort *ab = c->abort;
	c->abort = NULL;
	enum smtp_state st = (enum smtp_state)c->session.state;
	if ((st == SMTP_STATE_DATA || st == SMTP_STATE_BDAT) && want_out(c)) {
		struct smtp_out out = { c->out, c->out_len, CONN_OUT_BYTES };
		bool room = smtp_out_room(&out) >= SMTP_REPLY_LINE_MAX_BYTES;
		smtp_session_fail(&c->session, ab->code, ab->code != 0 && room ? ab->text : NULL, &out);
		c->out_len = (uint32_t)out.len;
		start_closing(c);
	}
	free(ab);
}

void conn_on_hold_done(struct conn *c)
{
	struct shard *sh = c->shard;
	c->holding = false;
	c->hold_in_only = false;
	c->last_active_s = sh->now_s; /* our delay is not the client's idleness */
	c->silent_us = sh->mono_us;
	arm_timer(c, sh->now_s + sh->cfg->timeout_s + 1);
	if (c->trace != NULL)
		conn_trace_note(c, "hold over");
	if (c->abort != NULL && !c->closing)
		run_abort(c);
	if (!c->closing && !c->session.greeted && c->proxy == NULL && c->in_head == CONN_NO_BUF && want_out(c)) {
		struct smtp_out out = { c->out, c->out_len, CONN_OUT_BYTES };
		smtp_session_greet(&c->session, &out); /* after a greeting delay */
		c->out_len = (uint32_t)out.len;
	}
	conn_process(c); /* held input and output go on (a pregreet gets the banner first) */
}

void conn_shutdown(struct conn *c, bool force)
{
	if (c->closing)
		return;
	if (force) {
		end_session(c, SMTP_REASON_SHUTDOWN);
		return;
	}
	conn_process(c); /* closes it with 421 if it is idle */
}
