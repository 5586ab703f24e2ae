/*
 * io/conn.c - a connection's lifecycle: bytes in, session, replies out,
 * close (see conn.h for the states and the diagram).
 *
 * Owns the rules that make one session code path serve both backends:
 *  - State: every change goes through conn_set_state(), which checks it
 *    against the one table of legal transitions (assert, also in release
 *    builds).
 *  - Input: received buffers queue up (conn_input.c) and are fed to the
 *    session in order, only in state SESSION.  While the session cannot
 *    consume (output full, the client does not read), the connection stops
 *    receiving, so no client can make it hold more than the buffers that
 *    were already in flight.
 *  - Output: replies of one loop turn accumulate in one buffer and leave in
 *    one send; at most one send is in flight; bytes appended meanwhile go
 *    out with the next send.  A short send is continued, never an error.
 *  - Close: DRAINING takes no input; the output still goes out (after any
 *    hold), then the backend closes (CLOSING, CLOSED); the struct is freed
 *    only when no backend operation and no pending verdict refers to it.
 * Expected workload: many small pipelined commands or long DATA streams;
 * per received buffer the cost is one feed() and at most one send.
 */
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "conn_trace.h"
#include "session_log.h"
#include "shard.h"

#define BIT(x) (1u << (x))

/* The legal transitions: legal[from] has bit `to` set. */
static const uint16_t legal[CONN_STATE_COUNT] = {
	[CONN_FREE] = BIT(CONN_PROXY) | BIT(CONN_SESSION) | BIT(CONN_HANDSHAKE) | BIT(CONN_DRAINING),
	[CONN_PROXY] = BIT(CONN_SESSION) | BIT(CONN_HANDSHAKE) | BIT(CONN_DRAINING),
	[CONN_SESSION] = BIT(CONN_VERDICT) | BIT(CONN_HELD) | BIT(CONN_HANDSHAKE) | BIT(CONN_DRAINING),
	[CONN_VERDICT] = BIT(CONN_SESSION) | BIT(CONN_HELD) | BIT(CONN_DRAINING),
	[CONN_HELD] = BIT(CONN_SESSION) | BIT(CONN_VERDICT) | BIT(CONN_HANDSHAKE) | BIT(CONN_DRAINING),
	[CONN_HANDSHAKE] = BIT(CONN_SESSION) | BIT(CONN_HELD) | BIT(CONN_DRAINING),
	[CONN_DRAINING] = BIT(CONN_HELD) | BIT(CONN_CLOSING),
	[CONN_CLOSING] = BIT(CONN_CLOSED),
	[CONN_CLOSED] = BIT(CONN_FREE),
};

void conn_set_state(struct conn *c, enum conn_state to)
{
	assert(c->state < CONN_STATE_COUNT && (legal[c->state] & BIT(to)) != 0);
	c->state = (uint8_t)to;
}

void conn_out_done(struct conn *c, const struct smtp_out *out)
{
	if (out->len > c->out_len)
		shard_stats_count_replies(&c->shard->stats, c->out + c->out_len, out->len - c->out_len);
	c->out_len = (uint32_t)out->len;
}

bool conn_want_out(struct conn *c)
{
	if (c->out == NULL)
		c->out = free_list_get(&c->shard->outs);
	return c->out != NULL;
}

void conn_drain(struct conn *c)
{
	conn_input_release(c);
	if (c->state == CONN_HELD)
		c->hold.resume = CONN_DRAINING; /* once the hold is over */
	else if (c->state < CONN_DRAINING)
		conn_set_state(c, CONN_DRAINING);
}

/* Close once drained and the output is out (or can never go out). */
static void maybe_close(struct conn *c)
{
	if (conn_effective_state(c) != CONN_DRAINING)
		return;
	if (!c->broken && (c->out_inflight != 0 || c->out_len != 0 || c->state == CONN_HELD ||
			   (c->tls != NULL && conn_tls_output_pending(c))))
		return;
	conn_hold_cancel(c);
	conn_timer_disarm(c);
	conn_input_release(c);
	conn_set_state(c, CONN_CLOSING);
	c->shard->ops->close(c);
}

/* Send what may leave of c->out as it is (no TLS, or STARTTLS's 220). */
static void send_clear(struct conn *c)
{
	uint32_t n = conn_hold_sendable(c);
	if (c->tls != NULL)
		n = conn_tls_clear_limit(c, n);
	if (n == 0)
		return;
	c->out_inflight = n;
	if (c->trace != NULL)
		conn_trace_output(c, c->out, n);
	c->shard->ops->send(c);
}

const uint8_t *conn_send_data(const struct conn *c)
{
	return c->tls != NULL ? conn_tls_send_data(c) : c->out;
}

void conn_flush(struct conn *c)
{
	if (c->out_inflight == 0 && c->state < CONN_CLOSING) {
		if (c->tls != NULL && conn_tls_sealing(c))
			conn_tls_send(c);
		else
			send_clear(c);
	}
	if (c->out != NULL && c->out_len == 0 && c->out_inflight == 0) {
		free_list_put(&c->shard->outs, c->out);
		c->out = NULL;
	}
	maybe_close(c);
}

/* A carry the session no longer needs goes back to the shard's pool. */
static void carry_back(struct conn *c, uint8_t *carry)
{
	if (carry != NULL)
		free_list_put(&c->shard->carries, carry);
}

/* One feed() of the oldest input, and what its stop means.  The session
 * holds a command-line carry only while a line is pending: one is lent
 * when this input ends inside a line, never for complete lines. */
static enum smtp_stop feed_once(struct conn *c, struct smtp_out *out)
{
	const uint8_t *p = NULL;
	size_t n = 0, used = 0;
	conn_input_peek(c, &p, &n);
	if (smtp_session_carry_wanted(&c->session, p, n)) {
		uint8_t *carry = free_list_get(&c->shard->carries);
		if (carry == NULL) { /* out of memory: as if the socket failed */
			c->broken = true;
			return SMTP_STOP_CLOSE;
		}
		smtp_session_carry_lend(&c->session, carry);
	}
	enum smtp_stop st = smtp_session_feed(&c->session, p, n, &used, out);
	carry_back(c, smtp_session_carry_idle(&c->session));
	conn_input_consume(c, used);
	if (st == SMTP_STOP_STARTTLS)
		conn_tls_starttls(c, out); /* the rest of the input is dropped */
	if (st == SMTP_STOP_VERDICT) {
		st = conn_capture_verdict(c, out);
		if (st == SMTP_STOP_VERDICT)
			conn_set_state(c, CONN_VERDICT); /* the spool answers */
	}
	if (c->hold.req)
		conn_hold_start(c); /* a fault delay: replies (or input) wait */
	return st;
}

/* Feed queued input to the session until it is consumed or the session
 * cannot go on.  Returns false when the session is blocked. */
static bool feed_input_loop(struct conn *c, struct smtp_out *out)
{
	for (;;) {
		if (c->state != CONN_SESSION || smtp_out_room(out) < SMTP_OUT_RESERVE_BYTES || conn_capture_blocked(c))
			return false;
		if (c->tls != NULL && conn_input_empty(c))
			conn_tls_pump(c); /* decrypt the next records */
		if (conn_input_empty(c) && c->session.state != SMTP_STATE_LMTP_REPLIES)
			return true;
		enum smtp_stop st = feed_once(c, out);
		if (st == SMTP_STOP_CLOSE) {
			conn_drain(c);
			return true;
		}
		if (st == SMTP_STOP_VERDICT || st == SMTP_STOP_OUT_FULL || st == SMTP_STOP_STARTTLS ||
		    c->state == CONN_HELD)
			return false;
		if (st == SMTP_STOP_INPUT && conn_input_empty(c) && c->session.state != SMTP_STATE_LMTP_REPLIES)
			return true;
	}
}

/* The same, with c->feeding set for the hold's mark. */
static bool feed_input(struct conn *c, struct smtp_out *out)
{
	c->feeding = out; /* a fault delay asked for meanwhile marks its reply */
	bool ok = feed_input_loop(c, out);
	c->feeding = NULL;
	return ok;
}

/* After input is consumed: the peer's EOF, shutdown, backpressure. */
static void after_input(struct conn *c, bool blocked, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	if (conn_effective_state(c) >= CONN_DRAINING)
		return;
	bool drained = !blocked && conn_input_empty(c);
	if (drained && c->peer_eof && c->session.state != SMTP_STATE_VERDICT) {
		smtp_session_eof(&c->session);
		conn_drain(c);
		return;
	}
	if (drained && atomic_load_explicit(&sh->shared->stopping, memory_order_relaxed) &&
	    smtp_session_is_idle(&c->session) && smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES) {
		smtp_session_abort(&c->session, SMTP_REASON_SHUTDOWN, out);
		conn_drain(c);
		return;
	}
	/* stop receiving only while input piles up unconsumed (a message
	 * waiting for its verdict alone is no reason: the client waits too) */
	bool piled = !conn_input_empty(c) || conn_tls_input_full(c);
	if (blocked && piled && !c->recv_paused) {
		c->recv_paused = true;
		sh->ops->recv_pause(c);
	} else if (!blocked && c->recv_paused) {
		c->recv_paused = false;
		sh->ops->recv_resume(c);
	}
}

/* Is there anything for the session to do? */
static bool has_work(const struct conn *c)
{
	return !conn_input_empty(c) || c->peer_eof || c->recv_paused || c->session.state == SMTP_STATE_LMTP_REPLIES ||
	       c->shard->shared->stopping;
}

void conn_process(struct conn *c)
{
	if (c->state >= CONN_CLOSING)
		return;
	if (c->tls != NULL && conn_effective_state(c) < CONN_DRAINING)
		conn_tls_pump(c); /* the handshake, then the records that fit */
	if (conn_effective_state(c) < CONN_DRAINING && has_work(c)) {
		if (!conn_want_out(c)) {
			c->broken = true; /* no memory: drop the connection */
			conn_drain(c);
		} else {
			struct smtp_out out = conn_out(c);
			if (c->state != CONN_PROXY || conn_proxy_read(c, &out)) {
				bool blocked = !feed_input(c, &out);
				conn_timer_after_feed(c);
				if (c->trace != NULL)
					conn_trace_feed_done(c);
				if (blocked)
					conn_input_blocked(c); /* never pin shared buffers */
				after_input(c, blocked, &out);
			} else if (c->peer_eof) {
				conn_drain(c);
			}
			conn_out_done(c, &out);
		}
	}
	if (c->tls != NULL && c->state == CONN_HANDSHAKE)
		conn_tls_pump(c); /* it began just now: the bytes that came with a PROXY header */
	conn_flush(c);
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
	shard_stats_add(&sh->stats.bytes_in, len);
	if (!conn_wants_input(c)) {
		sh->ops->release_buf(sh, bid);
		return;
	}
	if (c->tls == NULL) {
		conn_input_push(c, bid, len);
	} else if (!conn_tls_put(c, bid, len)) {
		conn_on_error(c, -ENOMEM); /* no memory for its records */
		return;
	}
	note_input(c, len);
	if (conn_timer_input(c, len))
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
	if (conn_effective_state(c) < CONN_DRAINING && c->session.state != SMTP_STATE_VERDICT)
		smtp_session_eof(&c->session);
	conn_drain(c);
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
	assert(bytes <= c->out_inflight);
	if (!conn_tls_sent(c, bytes)) { /* clear bytes of c->out (not TLS records) */
		assert(c->out_inflight <= c->out_len);
		memmove(c->out, c->out + bytes, c->out_len - bytes);
		c->out_len -= bytes;
		c->hold.from = c->hold.from > bytes ? c->hold.from - bytes : 0;
		if (c->log != NULL)
			session_log_output(c->log, bytes);
	}
	c->out_inflight = 0;
	if (conn_effective_state(c) < CONN_DRAINING) /* our last reply (a 421 at a timeout) starts no turn */
		c->silent_us = c->shard->mono_us; /* the client's turn starts now */
	conn_process(c);
}

void conn_on_buffers_back(struct conn *c)
{
	if (conn_wants_input(c) && !c->recv_paused)
		c->shard->ops->recv_resume(c); /* a no-op while a receive is armed */
}

void conn_on_recv_stopped(struct conn *c)
{
	c->recv_armed = false;
	conn_on_buffers_back(c);
}

/* Nothing refers to c any more: give everything back. */
static void conn_free(struct conn *c)
{
	struct shard *sh = c->shard;
	conn_capture_end(c);
	conn_timer_disarm(c);
	conn_input_release(c);
	if (c->out != NULL)
		free_list_put(&sh->outs, c->out);
	c->out = NULL;
	carry_back(c, smtp_session_carry_drop(&c->session));
	conn_proxy_free(c);
	conn_tls_free(c);
	free(c->ov_text);
	c->ov_text = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sh->live = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sh->live_count--;
	shard_stats_add(&sh->stats.conns_closed, 1);
	if (c->counted)
		atomic_fetch_sub(&sh->shared->conns, 1);
	throttle_conns_leave(&sh->shared->client_conns, c->client_slot);
	conn_set_state(c, CONN_FREE);
	shard_conn_free(sh, c);
}

void conn_op_end(struct conn *c)
{
	assert(c->ops > 0);
	c->ops--;
	if (c->state == CONN_CLOSED && c->ops == 0)
		conn_free(c);
}

void conn_on_close_done(struct conn *c)
{
	conn_set_state(c, CONN_CLOSED);
	conn_op_end(c);
}

void conn_shutdown(struct conn *c, bool force)
{
	if (conn_effective_state(c) >= CONN_DRAINING)
		return;
	if (force) {
		conn_timer_end_session(c, SMTP_REASON_SHUTDOWN);
		return;
	}
	conn_process(c); /* closes it with 421 if it is idle */
}
