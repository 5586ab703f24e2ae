/*
 * bench/bench_backend.h - the one completion-based interface both client
 * I/O backends implement (io_uring in bench_uring.c, epoll in
 * bench_epoll.c), as io/backend.h is for the server.
 *
 * Owns: the contract between the backend-agnostic driver (bench_loop.c)
 * and the code that touches the kernel.  The loop asks for a connection, a
 * send, a close; the backend reports back through the bench_loop_on_*()
 * functions of bench_loop.h, from inside run_once() only, never from inside
 * the call that started an operation, so the loop is never re-entered.
 * Once a connection is made the backend keeps receiving on it until it is
 * closed; received bytes are lent to the loop for the duration of the
 * bench_loop_on_recv() call only.
 *
 * Ownership: c->iov[0..iov_count) and what it points to (the connection's
 * output buffer, the shared message content) belong to the kernel from
 * send() until bench_loop_on_sent(): the loop does not touch them meanwhile
 * (at most one send is in flight per connection).
 */
#ifndef SMTPSINK_BENCH_BACKEND_H
#define SMTPSINK_BENCH_BACKEND_H

#include <stdint.h>

struct bench_loop;
struct bench_conn;
struct bench_addr;

/* Per-operation completion record: an SQE's user_data points to it. */
enum bench_op_kind {
	BENCH_OP_CONNECT, /* every SQE of the socket/bind/connect chain */
	BENCH_OP_RECV,
	BENCH_OP_SEND,
	BENCH_OP_CANCEL,
	BENCH_OP_CLOSE,
};

struct bench_op {
	uint8_t kind; /* enum bench_op_kind */
	struct bench_conn *conn;
};

struct bench_backend {
	const char *name;
	/* Set up for l->conn_count connections, in the process that runs the
	 * loop; a negative errno on failure (-EOPNOTSUPP: this kernel lacks a
	 * feature the backend needs). */
	int (*init)(struct bench_loop *l);
	void (*fini)(struct bench_loop *l);
	/* Submit what is queued, wait up to timeout_ns, set l->now_ns, deliver
	 * completions.  Negative errno only for a fatal loop error. */
	int (*run_once)(struct bench_loop *l, uint64_t timeout_ns);
	/* Create a socket for c (bound to src unless NULL), connect it to the
	 * target, then receive: bench_loop_on_connected() reports the result. */
	void (*connect)(struct bench_conn *c, const struct bench_addr *src);
	/* Send c->iov[0..iov_count); bench_loop_on_sent() reports the bytes. */
	void (*send)(struct bench_conn *c);
	/* Cancel what is in flight and close; bench_loop_on_closed() follows
	 * once nothing refers to c any more. */
	void (*close)(struct bench_conn *c);
};

extern const struct bench_backend bench_backend_uring;
extern const struct bench_backend bench_backend_epoll;

struct bench_config;
/* Can the io_uring backend run this configuration here?  0, or the
 * negative errno that says why not: ENOSYS, EPERM (seccomp,
 * kernel.io_uring_disabled), EINVAL (too old), EOPNOTSUPP (no direct
 * sockets with setsockopt/bind: before 6.7/6.11). */
int bench_uring_probe(const struct bench_config *cfg);

#endif
