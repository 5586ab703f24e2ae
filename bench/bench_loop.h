/*
 * bench/bench_loop.h - one worker's event loop: connection slots, the
 * message schedule, timeouts and progress, over either backend.
 *
 * Owns: the connection slots (a fixed array: slot i is also the io_uring
 * fixed-file index), bridging socket bytes to each slot's client_proto
 * session and its output to sends (one in flight per connection; a short
 * send is continued), when a slot (re)connects, idle sessions waiting for
 * an open-loop message, per-connection timeouts (a scan once a second:
 * 50,000 slots cost microseconds), recording every event into the worker's
 * bench_stats, and the --qid-log lines.
 *
 * Slots: in connect mode a slot opens a connection for one message that it
 * has already taken from the schedule (so a message's latency includes its
 * connection); in the other modes every slot connects at start and its
 * session takes messages until none are left.  A session that ends early
 * (the server closed, a timeout) is replaced only if it had delivered a
 * message, so a server that refuses everything ends the run instead of
 * spinning.  The schedule's clock starts once every first connection is
 * up or failed (warm-up), so connection set-up does not count as message
 * latency outside connect mode.
 *
 * TLS (--starttls, --tls) sits between the socket bytes and the session
 * (bench_tls.h): received bytes go to it instead of the session once a
 * handshake has begun, and the session's output leaves through it.
 *
 * Memory: sizeof(struct bench_conn) plus client_proto_out_bytes() per slot,
 * and with TLS a ciphertext buffer per slot, allocated at start-up.
 */
#ifndef SMTPSINK_BENCH_LOOP_H
#define SMTPSINK_BENCH_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench_backend.h"
#include "bench_config.h"
#include "bench_qidlog.h"
#include "bench_sched.h"
#include "bench_stats.h"
#include "bench_tls.h"
#include "client_proto.h"

#define BENCH_CONN_IOV_MAX 3u

enum bench_conn_state {
	BENCH_CONN_FREE, /* no socket; may (re)connect */
	BENCH_CONN_CONNECTING,
	BENCH_CONN_OPEN,
	BENCH_CONN_CLOSING, /* close asked; waiting for bench_loop_on_closed() */
	BENCH_CONN_RETIRED, /* free for good */
};

struct bench_conn {
	struct bench_loop *loop;
	uint32_t index; /* slot; the io_uring fixed-file index */
	int fd; /* epoll: the socket; io_uring: the fixed-file index */
	uint8_t state; /* enum bench_conn_state */
	uint8_t ops; /* backend operations that still refer to c */
	uint8_t chain_left; /* io_uring: SQEs of the connect chain to complete */
	uint8_t poll_mask; /* epoll: events registered */
	bool sending; /* a send is in flight */
	bool recv_armed, peer_eof, close_done, idle_listed, has_msg;
	int chain_err; /* io_uring: the connect chain's first error */
	uint32_t out_off; /* bytes of the current output already sent (TLS: sealed) */
	uint32_t session_msgs; /* messages this session delivered */
	uint64_t connect_ns; /* the connection was asked for */
	uint64_t last_ns; /* last progress: connect, send or receive */
	struct client_msg msg; /* connect mode: the message this connection is for */
	struct client_out out;
	struct iovec iov[BENCH_CONN_IOV_MAX]; /* the send in flight: the kernel's */
	unsigned iov_count;
	struct msghdr mh;
	struct bench_op connect_op, recv_op, send_op, cancel_op, close_op;
	struct client_proto proto;
	struct bench_tls_conn tls;
};

/* The worker's stats so far, once a second, with c.open_conns set (for the
 * progress line and --prometheus, or a worker's report to its parent). */
typedef void (*bench_progress_fn)(void *ctx, const struct bench_stats *s);

struct bench_loop {
	const struct bench_config *cfg;
	const struct bench_backend *ops;
	void *backend; /* the backend's own state */
	struct client_cfg ccfg;
	struct client_msg_spec spec;
	struct bench_conn *conns;
	uint32_t conn_count;
	uint8_t *out_mem;
	uint32_t *idle; /* ring of sessions waiting for a message (open loop) */
	uint32_t idle_head, idle_count;
	uint32_t *free_slots; /* slots that may connect */
	uint32_t free_count;
	uint32_t connecting, live; /* connections being made; not FREE/RETIRED */
	bool warm; /* every slot has tried its first connection */
	uint32_t source_next; /* --source-addrs round-robin */
	struct bench_sched sched;
	struct bench_stats *stats;
	struct bench_qidlog *qlog;
	struct bench_tls *tls; /* --starttls, --tls; NULL: clear text */
	bench_progress_fn progress;
	void *progress_ctx;
	volatile sig_atomic_t *stop; /* set by SIGINT: no new messages */
	uint64_t now_ns;
	uint64_t next_tick_ns; /* timeouts and progress, once a second */
	uint32_t worker, workers;
};

struct bench_loop_params {
	const struct bench_config *cfg;
	const struct bench_backend *ops;
	const struct client_msg_spec *spec;
	const char *auth_b64;
	uint32_t worker, workers, conn_count;
	struct bench_stats *stats;
	struct bench_qidlog *qlog; /* NULL: no --qid-log */
	bench_progress_fn progress; /* NULL: none */
	void *progress_ctx;
	volatile sig_atomic_t *stop;
};

/* Run one worker's share to the end.  0, or a negative errno if the
 * backend could not be set up or failed (said on stderr). */
int bench_loop_run(const struct bench_loop_params *p);

uint64_t bench_clock_ns(void);

/* c->iov: what is left of the session's output after c->out_off bytes
 * (for a send, or for TLS to seal). */
void bench_loop_out_iov(struct bench_conn *c);

/* Backend -> loop, from inside run_once(). */
void bench_loop_on_connected(struct bench_conn *c, int res);
void bench_loop_on_recv(struct bench_conn *c, const uint8_t *p, size_t n);
void bench_loop_on_recv_end(struct bench_conn *c, int res); /* 0: EOF */
void bench_loop_on_sent(struct bench_conn *c, int res);
void bench_loop_on_closed(struct bench_conn *c);

#endif
