/*
 * io/backend.h - the one completion-based interface both I/O backends
 * implement (io_uring in uring.c, epoll in epoll.c).
 *
 * Owns: the contract between the backend-agnostic connection logic
 * (conn.c) and the code that touches the kernel.  Nothing above this
 * interface knows which backend runs: conn.c asks for a send, a pause or
 * resume of receiving, a close; the backend reports back through the
 * conn_on_*() functions of conn.h, in the shard's thread only.
 *
 * Ownership: a receive buffer (identified by its id in the shard's pool)
 * belongs to the kernel while it is in the provided-buffer ring; it belongs
 * to the connection from its recv completion until conn.c releases it.  An
 * output buffer belongs to the kernel from a send submission until its
 * completion: conn.c only appends after the in-flight bytes meanwhile.
 */
#ifndef SMTPSINK_BACKEND_H
#define SMTPSINK_BACKEND_H

#include <stdint.h>

struct shard;
struct conn;
struct spool_batch;

/* Per-operation completion record: the SQE's user_data points to it
 * (io_uring), so a completion finds its owner without any lookup. */
enum io_op_kind {
	IO_OP_ACCEPT,
	IO_OP_RECV,
	IO_OP_SEND,
	IO_OP_CANCEL,
	IO_OP_CLOSE,
	IO_OP_SPOOL_WRITE, /* owner: struct spool_batch */
	IO_OP_SPOOL_FSYNC,
	IO_OP_SPILL_WRITE, /* owner: struct capture (io/capture.h) */
	IO_OP_POLL_ERROR, /* epoll: the connection's events could not be set */
};

struct io_op {
	uint8_t kind; /* enum io_op_kind */
	void *owner; /* struct conn, or the accept slot */
};

struct backend_ops {
	const char *name;
	/* Set up in the shard's own thread (rings are single-issuer); a
	 * negative errno on failure. */
	int (*init)(struct shard *sh);
	void (*fini)(struct shard *sh);
	/* Submit what is queued, wait up to timeout_ms for completions, and
	 * deliver them.  Negative errno only for a fatal loop error. */
	int (*run_once)(struct shard *sh, unsigned timeout_ms);
	/* Stop accepting: close this shard's listeners. */
	void (*stop_accepting)(struct shard *sh);
	/* Send conn_send_data(c)[0..out_inflight); conn_on_sent() reports progress.
	 * Called only when no send is in flight. */
	void (*send)(struct conn *c);
	void (*recv_pause)(struct conn *c);
	void (*recv_resume)(struct conn *c);
	/* Cancel what is in flight and close the descriptor; report the
	 * close with conn_on_close_done().  Every operation that refers to c
	 * is counted with conn_op_start() and ended with conn_op_end(): c is
	 * freed when the last one ends after the close. */
	void (*close)(struct conn *c);
	/* Hand a receive buffer back to the pool (or the kernel's ring). */
	void (*release_buf)(struct shard *sh, uint16_t bid);
	/* Write b->iov at b->offset of b->seg_fd, then (b->fsync) fdatasync it
	 * only if the write succeeded; spool_on_write()/spool_on_fsync()
	 * report each.  The iovecs belong to the kernel until then. */
	void (*spool_write)(struct shard *sh, struct spool_batch *b);
	/* Write buf[0..len) at off of fd (a message's spill file); the
	 * completion goes to capture_on_spilled(op->owner, bytes or -errno).
	 * buf belongs to the kernel until then. */
	void (*file_write)(struct shard *sh, struct io_op *op, int fd, const void *buf, size_t len, uint64_t off);
};

extern const struct backend_ops backend_uring;
extern const struct backend_ops backend_epoll;

struct server_config;

/* Can io_uring be set up here with the features the engine needs (with
 * --sqpoll, shard 0's polled ring)?  0, or the negative errno that says
 * why not (ENOSYS, EPERM: seccomp or kernel.io_uring_disabled, EINVAL: too
 * old, or a --sqpoll-cpu the kernel will not run a poller on). */
int backend_uring_probe(const struct server_config *cfg);

#endif
