/*
 * bench/floor/floor_uring.c - floor-uring: the loopback floor with io_uring.
 * What an io_uring server cannot do with less per SMTP round trip: a
 * multishot accept straight into the ring's file table, one multishot recv
 * per session taking buffers from a provided-buffer ring (ring/ring_bufs.h,
 * as smtpsink's shards do), and for each received buffer ONE send carrying
 * the fixed reply of every complete command line in it (floor_proto.h).
 * The ring has smtpsink's set-up flags (ring/ring.c), so the two differ
 * only in what smtpsink does per round trip beyond this.
 *
 * Usage: floor-uring HOST:PORT (IPv4).  Runs until killed (SIGTERM).
 *
 * Omitted, on purpose: a spool, fault rules, timeouts and timers, session
 * state beyond floor_proto.h's, TLS, limits, statistics, logging, threads
 * (one ring, one CPU), registered send buffers, SQPOLL, a clean exit, and
 * waiting for buffers: a recv that finds the buffer ring dry is re-armed
 * at once (buffers are given back as soon as their replies are built, so
 * with tens of sessions it never runs dry).
 *
 * Ownership: a session's out[] belongs to the kernel from its send's
 * submission to that send's completion; replies to a later read are
 * appended behind it and go in the next send.  A client whose unsent
 * replies outgrow out[] is disconnected (smtpsink-bench and smtp-source
 * wait for replies; at most a pipelined group's are in flight).
 *
 * Invariants: user_data is always a struct floor_op inside its session (or
 * the accept op); a session is freed only once its close has completed
 * and none of its operations is outstanding (refs == 0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "floor_net.h"
#include "floor_proto.h"
#include "ring.h"
#include "ring_bufs.h"

#define FLOOR_FILES_MAX 4096u /* direct descriptors (at most RLIMIT_NOFILE) */
#define FLOOR_BUFS 1024u /* provided receive buffers (a power of two) */
#define FLOOR_BUF_BYTES 16384u /* each: smtpsink's receive buffer size */
#define FLOOR_OUT_BYTES 2048u /* unsent replies per session: 68 of 30 bytes */
#define FLOOR_WAIT_NS 1000000000ull

enum floor_op_kind {
	OP_ACCEPT,
	OP_RECV,
	OP_SEND,
	OP_CANCEL,
	OP_CLOSE
};

struct floor_conn;
struct floor_op {
	enum floor_op_kind kind;
	struct floor_conn *conn; /* NULL for the accept */
};

struct floor_conn {
	unsigned slot; /* the direct descriptor */
	unsigned refs; /* operations outstanding */
	unsigned inflight; /* bytes of out[] the kernel owns (a send) */
	bool closing;
	struct floor_op recv_op, send_op, cancel_op, close_op;
	struct floor_sess sess;
	struct floor_out out;
	uint8_t out_buf[FLOOR_OUT_BYTES];
};

struct floor_ring {
	struct io_uring ring;
	struct ring_bufs bufs;
	struct floor_op accept_op;
	int lfd;
};

static void arm_accept(struct floor_ring *u)
{
	struct io_uring_sqe *sqe = ring_get_sqe(&u->ring);
	io_uring_prep_multishot_accept_direct(sqe, u->lfd, NULL, NULL, 0);
	io_uring_sqe_set_data(sqe, &u->accept_op);
}

/* Send what out[] holds, unless a send is already in flight. */
static void conn_send(struct floor_ring *u, struct floor_conn *c)
{
	if (c->inflight > 0 || c->out.len == 0)
		return;
	struct io_uring_sqe *sqe = ring_get_sqe(&u->ring);
	io_uring_prep_send(sqe, (int)c->slot, c->out.buf, c->out.len, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, &c->send_op);
	c->inflight = (unsigned)c->out.len;
	c->refs++;
}

/* Cancel the recv and close the slot (once); freed when all are back. */
static void conn_close(struct floor_ring *u, struct floor_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	ring_prep_close_fixed(&u->ring, c->slot, &c->cancel_op, &c->close_op);
	c->refs += 2;
}

static void conn_put(struct floor_conn *c)
{
	if (--c->refs == 0 && c->closing)
		free(c);
}

static void on_accept(struct floor_ring *u, struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_accept(u); /* the kernel ended the multishot: again */
	if (cqe->res < 0)
		return; /* a full file table, or out of memory: the next one may do */
	struct floor_conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		ring_prep_close_fixed(&u->ring, (unsigned)cqe->res, NULL, NULL);
		return;
	}
	c->slot = (unsigned)cqe->res;
	c->recv_op = (struct floor_op){ OP_RECV, c };
	c->send_op = (struct floor_op){ OP_SEND, c };
	c->cancel_op = (struct floor_op){ OP_CANCEL, c };
	c->close_op = (struct floor_op){ OP_CLOSE, c };
	c->out = (struct floor_out){ c->out_buf, 0, sizeof c->out_buf };
	floor_proto_start(&c->sess, &c->out);
	conn_send(u, c);
	ring_bufs_arm_recv(&u->bufs, &u->ring, (int)c->slot, &c->recv_op);
	c->refs++;
}

/* A received buffer: its replies appended to out[] and sent (one send). */
static void on_recv(struct floor_ring *u, struct floor_conn *c, struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		size_t n = cqe->res > 0 ? (size_t)cqe->res : 0;
		if (!c->closing && floor_proto_feed(&c->sess, ring_bufs_at(&u->bufs, bid), n, &c->out) < n)
			conn_close(u, c); /* replies outgrew out[]: not a client that reads them */
		ring_bufs_release(&u->bufs, bid);
	}
	if (!c->closing && (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)))
		conn_close(u, c); /* end of stream, or the connection failed */
	if (!c->closing)
		conn_send(u, c);
	if (!more && !c->closing)
		ring_bufs_arm_recv(&u->bufs, &u->ring, (int)c->slot, &c->recv_op); /* re-armed: same ref */
	else if (!more)
		conn_put(c);
}

static void on_sent(struct floor_ring *u, struct floor_conn *c, int res)
{
	size_t sent = res > 0 ? (size_t)res : 0;
	memmove(c->out.buf, c->out.buf + sent, c->out.len - sent); /* the kernel is done with out[] */
	c->out.len -= sent;
	c->inflight = 0;
	if (res < 0 || (c->sess.quit && c->out.len == 0))
		conn_close(u, c); /* failed, or the 221 is out */
	else if (!c->closing)
		conn_send(u, c);
	conn_put(c);
}

static void on_cqe(void *ctx, struct io_uring_cqe *cqe)
{
	struct floor_ring *u = ctx;
	struct floor_op *op = io_uring_cqe_get_data(cqe);
	if (op == NULL)
		return; /* the close of a slot no session got */
	switch (op->kind) {
	case OP_ACCEPT:
		on_accept(u, cqe);
		break;
	case OP_RECV:
		on_recv(u, op->conn, cqe);
		break;
	case OP_SEND:
		on_sent(u, op->conn, cqe->res);
		break;
	default: /* OP_CANCEL, OP_CLOSE */
		conn_put(op->conn);
		break;
	}
}

/* The file table: FLOOR_FILES_MAX slots, or what RLIMIT_NOFILE allows. */
static int setup_files(struct io_uring *ring)
{
	struct rlimit rl;
	unsigned n = FLOOR_FILES_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	return io_uring_register_files_sparse(ring, n);
}

static int setup(struct floor_ring *u)
{
	int e = ring_open(&u->ring, NULL);
	if (e < 0)
		return e;
	if ((e = setup_files(&u->ring)) < 0)
		return e;
	uint8_t *mem = malloc((size_t)FLOOR_BUFS * FLOOR_BUF_BYTES);
	if (mem == NULL)
		return -ENOMEM;
	if ((e = ring_bufs_setup(&u->bufs, &u->ring, mem, FLOOR_BUFS, FLOOR_BUF_BYTES)) < 0)
		return e;
	u->accept_op = (struct floor_op){ OP_ACCEPT, NULL };
	arm_accept(u);
	return 0;
}

int main(int argc, char **argv)
{
	struct floor_ring u;
	memset(&u, 0, sizeof u);
	u.lfd = floor_net_start(argc, argv, "floor-uring");
	int e = setup(&u);
	if (e < 0) {
		fprintf(stderr, "floor-uring: io_uring set-up: %s\n", strerror(-e));
		return 1;
	}
	for (;;) {
		ring_bufs_flush(&u.bufs); /* buffers given back last turn */
		if ((e = ring_wait(&u.ring, FLOOR_WAIT_NS)) < 0) {
			fprintf(stderr, "floor-uring: wait: %s\n", strerror(-e));
			return 1;
		}
		ring_deliver(&u.ring, on_cqe, &u);
	}
}
