/*
 * bench/bench_uring.c - the io_uring client backend (see bench_backend.h).
 *
 * Owns: one ring per worker and every SQE the client submits.  The ring
 * itself (set-up flags and why, SQE acquisition), the provided-buffer ring
 * and the list of connections parked for buffers are ring/'s, shared with
 * the server.
 * Descriptors: every socket is a direct descriptor made by IORING_OP_SOCKET
 * straight into fixed-file slot = connection slot, so a worker needs no
 * process descriptor per connection and every later SQE skips fget/fput.
 * A direct descriptor cannot be handed to setsockopt(2) or bind(2), so the
 * whole set-up is one linked chain of SQEs, submitted together:
 *   SOCKET(slot) -> [SETSOCKOPT TCP_NODELAY] -> [SETSOCKOPT
 *   IP_BIND_ADDRESS_NO_PORT -> BIND(source)] -> CONNECT
 * (setsockopt as IORING_OP_URING_CMD SOCKET_URING_OP_SETSOCKOPT, kernel
 * 6.7; IORING_OP_BIND, 6.11; liburing 2.3 has neither helper, so those SQEs
 * are filled by hand).  IP_BIND_ADDRESS_NO_PORT defers the port choice to
 * connect(), so source port numbers are shared between destinations and
 * each source address carries a full ephemeral range.
 * The fixed-file table is bounded by RLIMIT_NOFILE at registration (per
 * ring); past it, bench_main.c runs several workers.
 * Receive: one multishot recv per connection from the worker's provided
 * buffer ring (ring/ring_bufs.h); each buffer goes back as soon as its
 * bytes were fed to the session.  -ENOBUFS parks the connection until
 * buffers return.  Errors are classified by ring/io_classify.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "bench_backend.h"
#include "bench_loop.h"
#include "io_classify.h"
#include "ring.h"
#include "ring_bufs.h"
#include "ring_park.h"

#define RECV_BUF_BYTES 2048u /* replies are short; a long one spans buffers */
#define RECV_BUFS_MIN 64u
#define RECV_BUFS_MAX 4096u /* a power of two, at most RING_BUFS_MAX */
#define CHAIN_MAX_SQES 5u

/* Kernel interfaces newer than liburing 2.3's headers. */
#define BENCH_IORING_OP_BIND 56u /* 6.11 */
#define BENCH_SOCKET_URING_OP_SETSOCKOPT 3u /* 6.7 */
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* 4.2; older libc headers */
#endif

struct uring_state {
	struct io_uring ring;
	struct ring_bufs bufs; /* over buf_mem */
	uint8_t *buf_mem;
	struct ring_park parked; /* struct bench_conn: recv ended with -ENOBUFS, re-arm later */
	struct bench_op ignore_op;
};

static const int one = 1; /* setsockopt's value; read by the kernel at issue */

static struct uring_state *state(struct bench_loop *l)
{
	return l->backend;
}

static struct io_uring_sqe *get_sqe(struct uring_state *u)
{
	return ring_get_sqe(&u->ring);
}

/* SOCKET_URING_OP_SETSOCKOPT (6.7): level and optname share the 64-bit
 * addr field, optlen sits where file_index is, optval in addr3. */
static void prep_setsockopt(struct io_uring_sqe *sqe, int slot, int level, int name, const int *val)
{
	uint32_t pair[2] = { (uint32_t)level, (uint32_t)name };
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, slot, NULL, 0, 0);
	sqe->cmd_op = BENCH_SOCKET_URING_OP_SETSOCKOPT;
	memcpy(&sqe->addr, pair, sizeof pair);
	sqe->file_index = sizeof *val;
	sqe->addr3 = (uint64_t)(uintptr_t)val;
	sqe->flags |= IOSQE_FIXED_FILE;
}

static void prep_bind(struct io_uring_sqe *sqe, int slot, const struct bench_addr *a)
{
	io_uring_prep_rw((int)BENCH_IORING_OP_BIND, sqe, slot, &a->sa, 0, a->len);
	sqe->flags |= IOSQE_FIXED_FILE;
}

static bool is_tcp(const struct bench_config *cfg)
{
	return cfg->target.sa.ss_family != AF_UNIX;
}

/* Opcodes first, then a live SOCKET -> SETSOCKOPT chain: URING_CMD exists
 * long before sockets answer SETSOCKOPT through it. */
static int probe_features(const struct bench_config *cfg, struct uring_state *u)
{
	static const unsigned needed[] = { IORING_OP_SOCKET,	   IORING_OP_URING_CMD, IORING_OP_CONNECT,
					   IORING_OP_SEND,	   IORING_OP_SENDMSG,	IORING_OP_RECV,
					   IORING_OP_ASYNC_CANCEL, IORING_OP_CLOSE };
	struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
	if (probe == NULL)
		return -EOPNOTSUPP;
	bool ok = cfg->source_count == 0 || io_uring_opcode_supported(probe, (int)BENCH_IORING_OP_BIND);
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		ok = ok && io_uring_opcode_supported(probe, (int)needed[i]);
	io_uring_free_probe(probe);
	if (!ok || !is_tcp(cfg))
		return ok ? 0 : -EOPNOTSUPP;
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_socket_direct(sqe, cfg->target.sa.ss_family, SOCK_STREAM, 0, 0, 0);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data(sqe, NULL);
	sqe = get_sqe(u);
	prep_setsockopt(sqe, 0, IPPROTO_TCP, TCP_NODELAY, &one);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_uring_sqe_set_data(sqe, NULL);
	sqe = get_sqe(u);
	io_uring_prep_close_direct(sqe, 0);
	io_uring_sqe_set_data(sqe, NULL);
	int e = io_uring_submit_and_wait(&u->ring, 3);
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		if (seen++ < 2 && cqe->res < 0)
			e = cqe->res;
	}
	io_uring_cq_advance(&u->ring, seen);
	return e < 0 ? -EOPNOTSUPP : 0;
}

/* The receive buffers (one per connection, within bounds), all handed to
 * the kernel. */
static int setup_buf_ring(struct bench_loop *l, struct uring_state *u)
{
	unsigned count = RECV_BUFS_MIN;
	while (count < l->conn_count && count < RECV_BUFS_MAX)
		count *= 2;
	u->buf_mem = malloc((size_t)count * RECV_BUF_BYTES);
	if (u->buf_mem == NULL)
		return -ENOMEM;
	return ring_bufs_setup(&u->bufs, &u->ring, u->buf_mem, count, RECV_BUF_BYTES);
}

int bench_uring_probe(const struct bench_config *cfg)
{
	struct uring_state u;
	memset(&u, 0, sizeof u);
	int e = ring_setup(&u.ring, RING_PROBE_SQ_ENTRIES, RING_PROBE_CQ_ENTRIES, NULL);
	if (e < 0)
		return e;
	e = io_uring_register_files_sparse(&u.ring, 1);
	if (e == 0)
		e = probe_features(cfg, &u);
	io_uring_queue_exit(&u.ring);
	return e;
}

static int uring_init(struct bench_loop *l)
{
	struct uring_state *u = calloc(1, sizeof *u);
	if (u == NULL)
		return -ENOMEM;
	l->backend = u;
	int e = ring_open(&u->ring, NULL);
	if (e < 0) {
		free(u);
		l->backend = NULL;
		return e;
	}
	/* at most one entry per connection: parking never allocates */
	if (!ring_park_reserve(&u->parked, l->conn_count))
		return -ENOMEM;
	/* the table is also the limit of this worker's connections (RLIMIT_NOFILE) */
	if ((e = io_uring_register_files_sparse(&u->ring, l->conn_count)) < 0 || (e = probe_features(l->cfg, u)) < 0)
		return e;
	return setup_buf_ring(l, u);
}

static void uring_fini(struct bench_loop *l)
{
	struct uring_state *u = state(l);
	if (u == NULL)
		return;
	io_uring_queue_exit(&u->ring);
	ring_bufs_free(&u->bufs);
	free(u->buf_mem);
	ring_park_free(&u->parked);
	free(u);
	l->backend = NULL;
}

static void uring_connect(struct bench_conn *c, const struct bench_addr *src)
{
	struct bench_loop *l = c->loop;
	struct uring_state *u = state(l);
	int slot = (int)c->index;
	unsigned n = 2 + (is_tcp(l->cfg) ? 1 : 0) + (src ? 2 : 0);
	ring_reserve(&u->ring, n);
	c->fd = slot;
	c->chain_left = (uint8_t)n;
	c->chain_err = 0;
	c->ops += (uint8_t)n;
	struct io_uring_sqe *sqe[CHAIN_MAX_SQES];
	for (unsigned i = 0; i < n; i++)
		sqe[i] = get_sqe(u);
	unsigned k = 0;
	io_uring_prep_socket_direct(sqe[k++], l->cfg->target.sa.ss_family, SOCK_STREAM, 0, (unsigned)slot, 0);
	if (is_tcp(l->cfg)) /* every write is a whole protocol step: Nagle only adds delay */
		prep_setsockopt(sqe[k++], slot, IPPROTO_TCP, TCP_NODELAY, &one);
	if (src != NULL) {
		prep_setsockopt(sqe[k++], slot, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one);
		prep_bind(sqe[k++], slot, src);
	}
	io_uring_prep_connect(sqe[k], slot, (const struct sockaddr *)&l->cfg->target.sa, l->cfg->target.len);
	sqe[k]->flags |= IOSQE_FIXED_FILE;
	for (unsigned i = 0; i < k; i++)
		sqe[i]->flags |= IOSQE_IO_LINK;
	for (unsigned i = 0; i < n; i++)
		io_uring_sqe_set_data(sqe[i], &c->connect_op);
}

static void arm_recv(struct uring_state *u, struct bench_conn *c)
{
	ring_bufs_arm_recv(&u->bufs, &u->ring, c->fd, &c->recv_op);
	c->recv_armed = true;
	c->ops++;
}

static void uring_send(struct bench_conn *c)
{
	struct uring_state *u = state(c->loop);
	struct io_uring_sqe *sqe = get_sqe(u);
	if (c->iov_count == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->mh, 0, sizeof c->mh);
		c->mh.msg_iov = c->iov;
		c->mh.msg_iovlen = c->iov_count;
		io_uring_prep_sendmsg(sqe, c->fd, &c->mh, MSG_NOSIGNAL);
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, &c->send_op);
	c->ops++;
}

static void uring_close(struct bench_conn *c)
{
	struct uring_state *u = state(c->loop);
	/* cancel whatever still refers to the socket, then close it */
	ring_prep_close_fixed(&u->ring, c->index, &c->cancel_op, &c->close_op);
	c->ops += 2;
}

static void maybe_closed(struct bench_conn *c)
{
	if (c->close_done && c->ops == 0)
		bench_loop_on_closed(c);
}

/* Buffers came back: re-arm a connection that ran out. */
static void unpark(void *ctx, void *item)
{
	struct uring_state *u = ctx;
	struct bench_conn *c = item;
	c->ops--;
	if (c->state == BENCH_CONN_OPEN && !c->peer_eof)
		arm_recv(u, c);
	maybe_closed(c);
}

static void on_recv(struct bench_loop *l, struct uring_state *u, struct bench_conn *c, int res, unsigned flags)
{
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		bench_loop_on_recv(c, ring_bufs_at(&u->bufs, bid), (size_t)res);
		ring_bufs_release(&u->bufs, bid);
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	c->ops--;
	c->recv_armed = false;
	enum io_outcome o = io_classify(IO_VERB_RECV, res);
	if (res == 0) {
		bench_loop_on_recv_end(c, 0);
	} else if (o == IO_NO_BUFFERS) {
		l->stats->c.enobufs++;
		if (ring_park_add(&u->parked, c)) /* reserved for every connection */
			c->ops++;
		else
			bench_loop_on_recv_end(c, -ENOMEM);
	} else if (o != IO_OK && o != IO_CANCELED) {
		bench_loop_on_recv_end(c, res);
	} else if (c->state == BENCH_CONN_OPEN && !c->peer_eof) {
		arm_recv(u, c); /* the multishot ended on its own: re-arm */
	}
}

static void on_chain(struct uring_state *u, struct bench_conn *c, int res)
{
	c->ops--;
	if (res < 0 && (c->chain_err == 0 || (io_classify(IO_VERB_CONNECT, c->chain_err) == IO_CANCELED &&
					      io_classify(IO_VERB_CONNECT, res) != IO_CANCELED)))
		c->chain_err = res; /* the first real error, not the cancellations it caused */
	if (--c->chain_left > 0)
		return;
	if (c->chain_err == 0 && c->state == BENCH_CONN_CONNECTING)
		arm_recv(u, c);
	bench_loop_on_connected(c, c->chain_err);
}

static void dispatch(void *ctx, struct io_uring_cqe *cqe)
{
	struct bench_loop *l = ctx;
	struct uring_state *u = state(l);
	struct bench_op *op = io_uring_cqe_get_data(cqe);
	if (op == NULL || op == &u->ignore_op)
		return;
	struct bench_conn *c = op->conn;
	switch ((enum bench_op_kind)op->kind) {
	case BENCH_OP_CONNECT:
		on_chain(u, c, cqe->res);
		break;
	case BENCH_OP_RECV:
		on_recv(l, u, c, cqe->res, cqe->flags);
		break;
	case BENCH_OP_SEND:
		c->ops--;
		bench_loop_on_sent(c, cqe->res);
		break;
	case BENCH_OP_CLOSE:
		c->close_done = true;
		/* fall through */
	case BENCH_OP_CANCEL:
		c->ops--;
		break;
	}
	maybe_closed(c);
}

static int uring_run_once(struct bench_loop *l, uint64_t timeout_ns)
{
	struct uring_state *u = state(l);
	if (ring_bufs_flush(&u->bufs))
		ring_park_drain(&u->parked, unpark, u);
	int e = ring_wait(&u->ring, timeout_ns);
	l->now_ns = bench_clock_ns();
	l->stats->c.loop_turns++;
	if (e < 0)
		return e;
	ring_deliver(&u->ring, dispatch, l);
	return 0;
}

const struct bench_backend bench_backend_uring = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.run_once = uring_run_once,
	.connect = uring_connect,
	.send = uring_send,
	.close = uring_close,
};
