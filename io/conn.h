/*
 * io/conn.h - one client connection, backend-agnostic.
 *
 * Owns: the bridge between a socket's bytes and its struct smtp_session:
 * the queue of received buffers not yet consumed, the output buffer, the
 * one-send-in-flight rule, backpressure (stop receiving while the session
 * cannot take input), verdicts for completed messages, timeouts, the PROXY
 * header, and the close sequence.  The same code runs over io_uring and
 * epoll: backends call the conn_on_*() functions below.
 *
 * Memory: an idle connection holds no receive or output buffer; its size is
 * sizeof(struct conn) (a session with its one-line carry, plus bookkeeping),
 * from the shard's slab.
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

struct proxy_wait; /* PROXY header parse state, only while it is awaited */
struct session_log; /* session_log.h */
struct conn_trace; /* conn_trace.h */

/* A fault rule's abort after a content stall (smtp-sink -A): code 0 means
 * disconnect without a reply. */
struct conn_abort {
	uint16_t code;
	char text[512];
};

/* The client's address, compactly (an idle connection stays small). */
struct conn_peer {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX */
	uint16_t port;
	uint8_t addr[16];
};

struct conn {
	struct shard *shard;
	struct conn *prev, *next; /* the shard's list of live connections */
	int fd; /* socket, or io_uring fixed-file slot */
	uint16_t in_head, in_tail; /* received buffers not yet consumed */
	uint32_t in_off; /* consumed bytes of in_head */
	uint8_t *out; /* NULL while nothing is to be sent */
	uint32_t out_len; /* bytes in out */
	uint32_t out_inflight; /* bytes of out the kernel is sending */
	uint8_t ops; /* backend operations that still refer to c */
	uint8_t poll_mask; /* epoll backend: events registered */
	bool recv_armed; /* a multishot recv (or EPOLLIN interest) is on */
	bool recv_paused; /* conn asked to stop receiving */
	bool closing; /* no more input; close once output is out */
	bool close_sent; /* backend close requested */
	bool close_done; /* the backend's close completed */
	bool peer_eof; /* the client closed its side */
	bool broken; /* the socket failed: output can never go out */
	bool counted; /* holds a place under --max-conns */
	bool verdict_pending; /* the spool has the message; answer to come */
	bool holding; /* a fault delay holds the replies (and the input) */
	bool hold_in_only; /* ... only the input (a content stall) */
	bool hold_req; /* a delay was asked for during feed(): hold after it */
	bool hold_req_in_only;
	uint32_t hold_req_ms;
	uint32_t hold_from; /* output from here on waits for the hold's end */
	struct smtp_out *feeding; /* the output feed() writes to, while it runs */
	struct proxy_wait *proxy; /* non-NULL until the PROXY header is read */
	char *helo; /* last HELO/EHLO/LHLO argument (capture mode) */
	char *auth_user; /* AUTH user once authenticated */
	char *auth_pending; /* AUTH user named, outcome not yet known */
	struct capture *cap; /* the transaction being captured */
	struct session_log *log; /* the session report being gathered */
	struct conn_trace *trace; /* non-NULL while traced */
	struct conn_abort *abort; /* to do when the hold ends */
	uint64_t rng; /* fault rule choices */
	uint64_t connect_us; /* wall clock */
	uint64_t silent_us; /* monotonic: last input, or end of our output */
	char sid[QUEUE_ID_LEN + 1]; /* session ID */
	struct conn_peer peer;
	struct timer_node timer;
	uint64_t last_active_s; /* last input */
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

/* Backend -> conn, in the shard's thread. */
/* A new connection; false if it could not be taken (out of memory): the
 * backend then closes fd itself. */
bool conn_on_accept(struct shard *sh, int fd, const struct sockaddr *sa, socklen_t sa_len);
void conn_on_recv(struct conn *c, uint16_t bid, uint32_t len);
void conn_on_eof(struct conn *c); /* 0-byte read: the client closed */
void conn_on_error(struct conn *c, int err); /* recv failed: -errno */
void conn_on_send_error(struct conn *c, int err); /* the send op is over */
void conn_on_sent(struct conn *c, uint32_t bytes);
void conn_on_recv_stopped(struct conn *c); /* multishot ended (no F_MORE) */
void conn_on_closed(struct conn *c); /* nothing refers to c any more */

/* Spool -> conn: the answer for the message the session waits on. */
struct spool_answer;
void conn_on_verdict(struct conn *c, const struct spool_answer *ans);

/* Shard -> conn. */
void conn_on_timer(struct conn *c);
void conn_on_hold_done(struct conn *c); /* a fault delay is over */
void conn_shutdown(struct conn *c, bool force); /* SIGTERM: 421 when idle */

#endif
