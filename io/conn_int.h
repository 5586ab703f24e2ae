/*
 * io/conn_int.h - internals shared by the conn_*.c files (see conn.h).
 *
 * Owns: the calls one piece of a connection makes into another, so that
 * each file keeps one job: the lifecycle and I/O (conn.c), the start
 * (conn_accept.c), received
 * buffers (conn_input.c), session events (conn_events.c), fault delays
 * (conn_hold.c), timeouts (conn_timer.c), the message and its verdict
 * (conn_capture.c), the PROXY header (conn_proxy.c).  Not for the
 * backends, the shard or the spool: they use conn.h.
 */
#ifndef SMTPSINK_CONN_INT_H
#define SMTPSINK_CONN_INT_H

#include "conn.h"

struct spool_answer;
struct conn_decision;

/* conn.c: the lifecycle.  Every state change goes through
 * conn_set_state(), which asserts that the transition is legal. */
void conn_set_state(struct conn *c, enum conn_state to);
/* No more input: release what is queued and drain (a hold in effect
 * drains when it ends). */
void conn_drain(struct conn *c);
/* Send what may leave, free an empty output buffer, close once drained. */
void conn_flush(struct conn *c);
/* Feed queued input to the session and act on where it stopped. */
void conn_process(struct conn *c);
/* The output buffer, allocated on first use; false when memory ran out. */
bool conn_want_out(struct conn *c);
/* Our side of the output as the session writes it. */
static inline struct smtp_out conn_out(struct conn *c)
{
	struct smtp_out out = { c->out, c->out_len, CONN_OUT_BYTES };
	return out;
}
/* ... and what was written to it kept: the reply lines added since
 * conn_out() are counted by code (shard_stats.h), the one place they are. */
void conn_out_done(struct conn *c, const struct smtp_out *out);

/* conn_input.c: the queue of received buffers. */
void conn_input_push(struct conn *c, uint16_t bid, uint32_t len);
/* The unconsumed bytes of the oldest buffer; false when none. */
bool conn_input_peek(const struct conn *c, const uint8_t **p, size_t *n);
/* n bytes of the oldest buffer were consumed; a used-up buffer goes back. */
void conn_input_consume(struct conn *c, size_t n);
void conn_input_release(struct conn *c);
static inline bool conn_input_empty(const struct conn *c)
{
	return c->in.head == CONN_NO_BUF && c->in.own == NULL;
}
/* The connection cannot consume now: copy its input out of the shared
 * receive buffers when it holds more than one, or the pool runs short. */
void conn_input_blocked(struct conn *c);
/* Copy out everything it holds in receive buffers (bounded). */
void conn_input_own(struct conn *c);
/* Room for up to want bytes at the end of its own input (*room: how many
 * fit, at least 1); NULL when own input is full or memory ran out.  The
 * bytes written there count once conn_input_commit() says how many. */
uint8_t *conn_input_reserve(struct conn *c, uint32_t want, uint32_t *room);
void conn_input_commit(struct conn *c, uint32_t n);

/* conn_events.c: the session's event callback (observers see every
 * event; the fault hook alone may answer or pause), and the decisions
 * made outside events (connect, end of data) shown to the observers. */
const struct smtp_override *conn_events_on_session(void *ctx, const struct smtp_event *ev);
void conn_events_decided(struct conn *c, const struct conn_decision *d);

/* conn_hold.c: fault delays. */
/* A delay asked for while the session runs (or at connect). */
void conn_hold_request(struct conn *c, uint32_t ms, bool input_only);
/* Start the hold asked for (or lengthen the one running). */
void conn_hold_start(struct conn *c);
/* Our end of the session cancels a hold; resume where it was. */
void conn_hold_cancel(struct conn *c);
/* A content rule's abort, once its stall is over (code 0: no reply). */
void conn_hold_set_abort(struct conn *c, uint16_t code, const char *text);
/* Output that may leave now: all of it, or before a held reply. */
uint32_t conn_hold_sendable(const struct conn *c);

/* conn_timer.c: timeouts. */
void conn_timer_arm_idle(struct conn *c);
void conn_timer_disarm(struct conn *c);
/* Input arrived: the client is active; content counts toward
 * --data-min-rate.  False when it was too slow: the session was ended. */
bool conn_timer_input(struct conn *c, uint32_t len);
/* After feed(): a command line begun and not ended has a deadline from
 * its first byte. */
void conn_timer_after_feed(struct conn *c);
/* The session's events that start and end content. */
void conn_timer_event(struct conn *c, const struct smtp_event *ev);
/* End the session from our side (timeout, shutdown): 421 if there is
 * room, then drain; a second call (the client does not read) drops it. */
void conn_timer_end_session(struct conn *c, enum smtp_reason why);

/* conn_capture.c: the message being captured, and its verdict. */
/* Capture mode, at accept: the observer's state; false: no memory. */
bool conn_capture_start(struct conn *c);
/* The message's content cannot be taken now (its spill file is being
 * written and the chunk after it is full): feed no input. */
bool conn_capture_blocked(const struct conn *c);
/* ... it can again (capture.c, when the spill write is done). */
void conn_capture_unblocked(struct conn *c);
/* Can the message keep one more recipient within the memory budget?
 * (true without a message being captured.) */
bool conn_capture_rcpt_room(const struct conn *c, const struct smtp_event *ev);
/* end of data: answer at once (--discard, a dot rule, a refusal) or
 * through the spool (SMTP_STOP_VERDICT stays: the session waits). */
enum smtp_stop conn_capture_verdict(struct conn *c, struct smtp_out *out);
/* The session's facts for the record: client, HELO, protocol, AUTH. */
struct spool_envelope;
void conn_capture_envelope(const struct conn *c, struct spool_envelope *env);
/* TLS is on: its version and cipher, and the SNI, for every record. */
void conn_capture_tls(struct conn *c, const char *text, const char *sni);
/* The connection is gone: its report goes to the spool, its state is
 * freed. */
void conn_capture_end(struct conn *c);
void conn_capture_observe(void *state, const struct conn *c, const struct smtp_event *ev);

/* conn_proxy.c: the PROXY header, read before anything else.  True once
 * it has been read (the session has begun), false while waiting or when
 * the connection is being dropped for a bad header. */
bool conn_proxy_read(struct conn *c, struct smtp_out *out);
bool conn_proxy_start(struct conn *c);
void conn_proxy_free(struct conn *c);

/* conn_tls.c: TLS between the backend and the session. */
/* Start TLS: implicit (at accept) or after STARTTLS, with the first
 * clear_out bytes of c->out still to leave in clear.  False: no memory
 * (or no TLS configured). */
bool conn_tls_begin(struct conn *c, bool implicit, uint32_t clear_out);
/* SMTP_STOP_STARTTLS: drop the input after the command, start the
 * handshake (or end the session when it cannot start). */
void conn_tls_starttls(struct conn *c, struct smtp_out *out);
/* Received ciphertext; its buffer is released.  False: no memory. */
bool conn_tls_put(struct conn *c, uint16_t bid, uint32_t len);
/* Run the handshake, decrypt what fits into the input. */
void conn_tls_pump(struct conn *c);
/* Too much ciphertext waits: stop receiving. */
bool conn_tls_input_full(const struct conn *c);
/* Output goes through TLS now (the clear 220 of STARTTLS is out). */
bool conn_tls_sealing(const struct conn *c);
/* No send in flight: encrypt what may leave, send the records. */
void conn_tls_send(struct conn *c);
/* A send completed: true when it was TLS records (consumed there), false
 * when it was clear bytes of c->out (the caller consumes them). */
bool conn_tls_sent(struct conn *c, uint32_t bytes);
/* At most this much of the first n bytes of c->out may leave in clear. */
uint32_t conn_tls_clear_limit(const struct conn *c, uint32_t n);
bool conn_tls_output_pending(const struct conn *c);
const uint8_t *conn_tls_send_data(const struct conn *c);
void conn_tls_free(struct conn *c);

/* conn_accept.c: the client is known (accepted, or named by its PROXY header):
 * start its report and transcript, apply the connect rules, greet unless
 * they delay or refuse.  False when the session will not go on now. */
bool conn_begin_session(struct conn *c, struct smtp_out *out);
/* The same, or on a --listen-tls address the handshake first (its report
 * and transcript begin now; the connect rules and banner after it). */
bool conn_open_session(struct conn *c, struct smtp_out *out);

#endif
