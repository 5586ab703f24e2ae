/*
 * io/conn.h - one client connection, backend-agnostic.
 *
 * Owns: the connection's lifecycle (enum conn_state below, with the legal
 * transitions in one table, conn.c), the bridge between a socket's bytes
 * and its struct smtp_session, and the interface the backends and the
 * spool call (conn_on_*()).  The same code runs over io_uring and epoll.
 * The pieces live in files of their own, each with one job (conn_int.h):
 * conn.c (lifecycle, input loop, output, close), conn_accept.c (a new
 * connection, the start of its session), conn_input.c (received
 * buffers), conn_events.c (session events: observers and the one hook that
 * may change a session's course), conn_hold.c (fault delays), conn_timer.c
 * (timeouts), conn_capture.c (the message and its verdict, the report),
 * conn_proxy.c (the PROXY header), conn_fault.c (the hook: fault rules,
 * rate limits) and conn_trace.c (transcripts).
 *
 * Lifecycle (what each state has already done, and what it waits for):
 *
 *   FREE --accept--> PROXY --header--> SESSION <--verdict-- VERDICT
 *     |                |                 |  \----end of data---^  |
 *     |                |                 +--fault delay--> HELD <-+
 *     |                |                 |   (resume: SESSION, VERDICT, HANDSHAKE, DRAINING)
 *     |                |                 +--STARTTLS--> HANDSHAKE --done--> SESSION
 *     +--(implicit TLS)+--(implicit TLS)------------------^   |
 *     +----------------+-----------------+--> DRAINING <-------+ (failed)
 *                                              --output out--> CLOSING --> CLOSED --> FREE
 *
 *   PROXY     reading the PROXY header: no banner yet, no session event
 *   SESSION   the session takes input (commands, content); replies leave
 *   VERDICT   a message is complete; the spool's answer is awaited, and
 *             the input behind it waits (the connection may still receive)
 *   HANDSHAKE the TLS handshake runs (after STARTTLS's 220, or at accept
 *             on a --listen-tls address); the session takes no input
 *   HELD      a fault delay: the input waits, and the output from
 *             hold.from on (all but a content stall's); hold.resume is
 *             the state that follows (a banner still unwritten is written
 *             then)
 *   DRAINING  no more input is taken; the output still leaves, then close
 *   CLOSING   the backend's close is under way
 *   CLOSED    the backend's close is done; freed once no backend operation
 *             and no spool verdict refers to the connection (ops == 0)
 *
 * Facts that are not lifecycle stay flags, each about one byte stream:
 * recv_armed (the backend receives), recv_paused (backpressure: we asked
 * it to stop), peer_eof (the client closed its side), broken (output can
 * never go out).
 *
 * Memory: an idle connection holds no receive or output buffer and no
 * command-line carry (lent from the shard's pool only while half a line
 * waits: conn.c feed_once()); its size is sizeof(struct conn) (its session
 * plus bookkeeping), from the shard's slab.
 */
#ifndef SMTPSINK_CONN_H
#define SMTPSINK_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "backend.h"
#include "queue_id.h"
#include "smtp_session.h"
#include "timer_wheel.h"

#define CONN_NO_BUF 0xFFFFu
#define CONN_OUT_BYTES 4096u

enum conn_state {
	CONN_FREE,
	CONN_PROXY,
	CONN_SESSION,
	CONN_VERDICT,
	CONN_HELD,
	CONN_HANDSHAKE,
	CONN_DRAINING,
	CONN_CLOSING,
	CONN_CLOSED,
	CONN_STATE_COUNT,
};

struct proxy_wait; /* PROXY header parse state, only while it is awaited */
struct session_log; /* session_log.h */
struct conn_trace; /* conn_trace.h */
struct conn_capture; /* conn_int.h: HELO, AUTH user, the message */
struct conn_tls; /* conn_tls.c: TLS on this connection, or NULL */

/* The client's address, compactly (an idle connection stays small). */
struct conn_peer {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX */
	uint16_t port;
	uint8_t addr[16];
};

/* A fault delay (conn_hold.c): asked for while the session runs (req),
 * started once feed() returns, ended by the hold wheel. */
struct conn_hold {
	uint32_t req_ms; /* delay asked for during this feed() */
	uint32_t from; /* output from here on waits for the hold's end */
	uint8_t resume; /* enum conn_state once the hold ends */
	bool req; /* a delay was asked for: hold once feed() returns */
	bool req_input_only; /* ... of the input only (a content stall) */
	bool input_only; /* the running hold keeps only the input */
	bool abort; /* a content rule's abort, once the stall is over */
	uint16_t abort_code; /* 0: disconnect without a reply */
	const char *abort_text; /* the rule set's, or the shard's texts */
};

/* The received bytes not yet consumed (conn_input.c): first what was
 * copied out of the shard's receive buffers (own), then a queue of
 * receive buffers chained through the shard's pool, head first. */
struct conn_own; /* conn_input.c */
struct conn_input {
	uint16_t head, tail; /* buffer ids, CONN_NO_BUF when empty */
	uint32_t off; /* consumed bytes of head */
	uint16_t bufs; /* receive buffers queued */
	struct conn_own *own; /* bytes copied out of receive buffers, or NULL */
};

struct conn {
	struct shard *shard;
	struct conn *prev, *next; /* the shard's list of live connections */
	int fd; /* socket, or io_uring fixed-file slot */
	uint8_t state; /* enum conn_state; changed only by conn_set_state() */
	uint8_t ops; /* backend operations, and a pending verdict, that refer to c */
	uint8_t poll_mask; /* epoll backend: events registered */
	bool recv_armed; /* the backend receives: a multishot recv or EPOLLIN */
	bool recv_paused; /* backpressure: we asked the backend to stop receiving */
	bool peer_eof; /* the client closed its side */
	bool broken; /* the socket failed: output can never go out */
	bool counted; /* holds a place under --max-conns */
	bool tls_listener; /* accepted on a --listen-tls address: implicit TLS */
	bool tls_fail; /* a tls:fail rule fired: the handshake gets an alert */
	uint16_t client_slot; /* its place under --client-max-conns (throttle.h) */
	struct conn_input in;
	uint8_t *out; /* NULL while nothing is to be sent */
	uint32_t out_len; /* bytes in out */
	uint32_t out_inflight; /* bytes of out the kernel is sending */
	struct smtp_out *feeding; /* the output feed() writes to, while it runs */
	struct proxy_wait *proxy; /* state PROXY only */
	struct conn_capture *cap; /* capture mode: what the message record needs */
	struct session_log *log; /* the session report being gathered */
	struct conn_trace *trace; /* non-NULL while traced */
	struct conn_tls *tls; /* STARTTLS or implicit TLS; NULL: clear text */
	char *ov_text; /* an override text made for this connection */
	struct smtp_override ov; /* the override being returned to the session */
	struct conn_hold hold;
	uint64_t rng; /* fault rule choices */
	uint64_t connect_us; /* wall clock */
	uint64_t silent_us; /* monotonic: last input, or end of our output */
	char sid[QUEUE_ID_LEN + 1]; /* session ID */
	struct conn_peer peer;
	struct timer_node timer; /* idle wheel, or the hold wheel while HELD */
	uint64_t last_active_s; /* last input */
	uint32_t start_s; /* monotonic seconds: the session began (--session-max) */
	uint32_t cmd_start_s; /* a command line's first byte came; 0: none pending */
	uint64_t data_start_s; /* DATA/BDAT content began; 0 otherwise */
	uint64_t data_bytes; /* content bytes received since data_start_s */
	struct io_op recv_op, send_op, cancel_op, close_op;
	struct smtp_session session;
};

/* The client's family as the spool and the rules name it: 4, 6, 0 (unix). */
static inline uint8_t conn_client_family(const struct conn *c)
{
	return c->peer.family == AF_INET ? 4 : c->peer.family == AF_INET6 ? 6 : 0;
}

/* The state that counts for input and closing: while HELD, the state the
 * hold resumes to (a connection that drains after a hold already takes no
 * input). */
static inline enum conn_state conn_effective_state(const struct conn *c)
{
	return c->state == CONN_HELD ? (enum conn_state)c->hold.resume : (enum conn_state)c->state;
}

/* Does the connection still take input?  (The backends ask before they
 * receive: a draining or closed connection wants none.) */
static inline bool conn_wants_input(const struct conn *c)
{
	return conn_effective_state(c) < CONN_DRAINING && !c->peer_eof;
}

/* Has the backend been asked to close it? */
static inline bool conn_closing(const struct conn *c)
{
	return c->state >= CONN_CLOSING;
}

/* Backend -> conn, in the shard's thread. */
/* A new connection; false if it could not be taken (out of memory): the
 * backend then closes fd itself. */
bool conn_on_accept(struct shard *sh, int fd, const struct sockaddr *sa, socklen_t sa_len, bool tls);
void conn_on_recv(struct conn *c, uint16_t bid, uint32_t len);
void conn_on_eof(struct conn *c); /* 0-byte read: the client closed */
void conn_on_error(struct conn *c, int err); /* recv failed: -errno */
void conn_on_send_error(struct conn *c, int err); /* the send op is over */
void conn_on_sent(struct conn *c, uint32_t bytes);
void conn_on_recv_stopped(struct conn *c); /* multishot ended (no F_MORE) */
/* Buffers are back for a connection whose receive ran out (parked): it
 * receives again, unless it already does (it may have re-armed since) or
 * backpressure holds it. */
void conn_on_buffers_back(struct conn *c);

/* A backend operation that refers to c starts, or is over.  The last one
 * over after the close frees c, so nothing may touch c after
 * conn_op_end() unless it holds another reference. */
static inline void conn_op_start(struct conn *c)
{
	c->ops++;
}
void conn_op_end(struct conn *c);
/* The bytes a send takes: c->out, or the TLS records made of it
 * (conn_tls.c).  Owned by the kernel from the send until its completion. */
const uint8_t *conn_send_data(const struct conn *c);
/* The backend's close completed (the op it started is over with it). */
void conn_on_close_done(struct conn *c);

/* Spool -> conn: the answer for the message the session waits on. */
struct spool_answer;
void conn_on_verdict(struct conn *c, const struct spool_answer *ans);

/* Shard -> conn: the receive buffers ran out (ENOBUFS): every connection
 * that holds some copies its input out and gives them back. */
void conn_input_reclaim(struct shard *sh);
bool conn_input_pool_short(const struct shard *sh);

/* Shard -> conn. */
void conn_on_timer(struct conn *c);
void conn_on_stress(struct conn *c); /* stress mode began: deadlines shrink */
void conn_on_hold_done(struct conn *c); /* a fault delay is over */
void conn_shutdown(struct conn *c, bool force); /* SIGTERM: 421 when idle */

#endif
