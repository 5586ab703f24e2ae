/*
 * io/uring.c - the io_uring backend (see backend.h).
 *
 * Owns: one ring per shard, created in the shard's thread, and every SQE
 * the engine submits.  The ring itself (set-up flags and why, SQE
 * acquisition), the provided-buffer ring and the list of connections
 * parked for buffers are ring/'s, shared with the load generator.
 * Descriptors: accepted sockets go straight into the ring's fixed file
 * table (accept_direct with IORING_FILE_INDEX_ALLOC), so a server holds
 * shards x RLIMIT_NOFILE sessions (100,000 with --shards 8 under a 20,000
 * limit), and every later SQE skips fget/fput.
 * Accepts are single-shot (several armed per listener) because a
 * single-shot accept reports the peer address, which a direct descriptor
 * cannot be asked for afterwards.
 * Receive: one multishot recv per connection from the shard's provided
 * buffer ring (ring/ring_bufs.h).  -ENOBUFS parks the connection until
 * buffers come back; it is counted, never fatal.  Errors are classified by
 * ring/io_classify.h.
 * --sqpoll: the ring is polled by a kernel thread (ring/ring.c says what
 * changes); shard N's poller goes on CPU --sqpoll-cpu + N when given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "capture.h"
#include "conn.h"
#include "io_classify.h"
#include "ring.h"
#include "ring_bufs.h"
#include "ring_park.h"
#include "shard.h"
#include "spool.h"

#define ACCEPTS_PER_LISTENER 16u

struct accept_slot {
	struct io_op op;
	struct shard *sh;
	int listen_fd;
	bool armed;
	bool tls; /* a --listen-tls address: implicit TLS */
	socklen_t addr_len;
	struct sockaddr_storage addr;
};

struct uring_state {
	struct io_uring ring;
	struct shard *sh;
	struct ring_bufs bufs; /* the shard's receive buffers, as the kernel sees them */
	struct accept_slot *accepts;
	unsigned accept_count;
	struct ring_park parked; /* struct conn: recv ended with -ENOBUFS, re-arm later */
	struct io_op ignore_op; /* completions nobody waits for */
};

static struct uring_state *state(struct shard *sh)
{
	return sh->backend;
}

static struct io_uring_sqe *get_sqe(struct uring_state *u)
{
	return ring_get_sqe(&u->ring);
}

/* Shard index's poller, or NULL for none (no --sqpoll).  --sqpoll-cpu C
 * puts shard N's on CPU C + N: consecutive CPUs, as shards take them; the
 * kernel refuses a CPU that is not online or outside the cpuset. */
static const struct ring_sqpoll *sqpoll_of(const struct server_config *cfg, unsigned index, struct ring_sqpoll *sp)
{
	if (!cfg->sqpoll)
		return NULL;
	sp->idle_ms = cfg->sqpoll_idle_ms;
	sp->cpu = cfg->sqpoll_cpu == SERVER_SQPOLL_CPU_ANY ? RING_SQPOLL_CPU_ANY : (int)(cfg->sqpoll_cpu + index);
	return sp;
}

int backend_uring_probe(const struct server_config *cfg)
{
	struct ring_sqpoll sp;
	return ring_probe(sqpoll_of(cfg, 0, &sp));
}

/* The shard's receive buffers, all handed to the kernel. */
static int setup_buf_ring(struct shard *sh, struct uring_state *u)
{
	int e = ring_bufs_setup(&u->bufs, &u->ring, sh->rbufs.base, sh->rbufs.count, sh->rbufs.buf_bytes);
	if (e < 0)
		return e;
	sh->rbufs.free_count = 0; /* all of them are the kernel's now */
	return 0;
}

static void arm_accept(struct uring_state *u, struct accept_slot *a)
{
	struct io_uring_sqe *sqe = get_sqe(u);
	a->addr_len = sizeof a->addr;
	/* liburing 2.3 stores file_index + 1, so ALLOC must be passed as
	 * ALLOC - 1 (as its own multishot_accept_direct does); 2.4 fixed it */
	io_uring_prep_accept_direct(sqe, a->listen_fd, (struct sockaddr *)&a->addr, &a->addr_len, 0,
				    IORING_FILE_INDEX_ALLOC - 1);
	io_uring_sqe_set_data(sqe, &a->op);
	a->armed = true;
}

/* The fixed file table: as large as RLIMIT_NOFILE allows (per ring). */
static int setup_files(struct uring_state *u)
{
	struct rlimit rl;
	unsigned n = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	int e = -EINVAL;
	while (n >= 64 && (e = io_uring_register_files_sparse(&u->ring, n)) < 0)
		n /= 2;
	return e;
}

static int setup_accepts(struct shard *sh, struct uring_state *u)
{
	u->accept_count = sh->listen_count * ACCEPTS_PER_LISTENER;
	u->accepts = calloc(u->accept_count ? u->accept_count : 1, sizeof *u->accepts);
	if (u->accepts == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < u->accept_count; i++) {
		struct accept_slot *a = &u->accepts[i];
		a->op.kind = IO_OP_ACCEPT;
		a->op.owner = a;
		a->sh = sh;
		a->listen_fd = sh->listen_fd[i / ACCEPTS_PER_LISTENER];
		a->tls = sh->listen_tls[i / ACCEPTS_PER_LISTENER];
		arm_accept(u, a);
	}
	return 0;
}

static int uring_init(struct shard *sh)
{
	struct uring_state *u = calloc(1, sizeof *u);
	if (u == NULL)
		return -ENOMEM;
	sh->backend = u;
	u->sh = sh;
	u->ignore_op.kind = IO_OP_CANCEL;
	struct ring_sqpoll sp;
	int e = ring_open(&u->ring, sqpoll_of(sh->cfg, sh->index, &sp));
	if (e < 0 && sh->cfg->sqpoll && sp.cpu != RING_SQPOLL_CPU_ANY)
		fprintf(stderr, "smtpsink: shard %u: --sqpoll: the kernel refused a poller on CPU %d: %s\n", sh->index,
			sp.cpu, strerror(-e));
	else if (e < 0 && sh->cfg->sqpoll)
		fprintf(stderr, "smtpsink: shard %u: --sqpoll: the kernel refused a polled ring: %s\n", sh->index,
			strerror(-e));
	if (e < 0)
		return e;
	if ((e = setup_files(u)) < 0 || (e = setup_buf_ring(sh, u)) < 0 || (e = setup_accepts(sh, u)) < 0)
		return e;
	if (sh->shared->wake_fd >= 0) { /* one poll: its completion wakes the loop at SIGTERM */
		struct io_uring_sqe *sqe = get_sqe(u);
		io_uring_prep_poll_add(sqe, sh->shared->wake_fd, POLLIN);
		io_uring_sqe_set_data(sqe, &u->ignore_op);
	}
	return 0;
}

static void reap(struct uring_state *u, unsigned timeout_ms);

/* Wait (bounded, 2 s) for the cancelled accepts to come back: until they
 * do, they hold the listening socket open, and the kernel would tear them
 * down only after the process is gone, accepting connections meanwhile. */
static void drain_accepts(struct uring_state *u)
{
	for (int tries = 0; tries < 200; tries++) {
		bool armed = false;
		for (unsigned i = 0; i < u->accept_count; i++)
			armed |= u->accepts[i].armed;
		if (!armed)
			return;
		reap(u, 10);
	}
}

static void uring_fini(struct shard *sh)
{
	struct uring_state *u = state(sh);
	if (u == NULL)
		return;
	if (u->accepts != NULL)
		drain_accepts(u);
	io_uring_queue_exit(&u->ring);
	ring_bufs_free(&u->bufs);
	free(u->accepts);
	ring_park_free(&u->parked);
	free(u);
	sh->backend = NULL;
}

/* Cancel the armed accepts and close the listeners, so that new
 * connections are refused at once: the socket really closes when the
 * cancelled accepts drop their references, right after this submit. */
static void uring_stop_accepting(struct shard *sh)
{
	struct uring_state *u = state(sh);
	for (unsigned i = 0; i < sh->listen_count; i++) {
		struct io_uring_sqe *sqe = get_sqe(u);
		io_uring_prep_cancel_fd(sqe, sh->listen_fd[i], IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, &u->ignore_op);
	}
	if (ring_submit_issued(&u->ring) < 0) /* the cancels look the listeners up by number: issue them first */
		fprintf(stderr, "smtpsink: shard %u: the SQ poller did not take the accept cancels in %u ms\n",
			sh->index, RING_ISSUE_WAIT_MS);
	for (unsigned i = 0; i < sh->listen_count; i++) {
		close(sh->listen_fd[i]);
		sh->listen_fd[i] = -1;
	}
}

static void uring_send(struct conn *c)
{
	struct uring_state *u = state(c->shard);
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_send(sqe, c->fd, conn_send_data(c), c->out_inflight, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, &c->send_op);
	conn_op_start(c);
}

static void arm_recv(struct uring_state *u, struct conn *c)
{
	ring_bufs_arm_recv(&u->bufs, &u->ring, c->fd, &c->recv_op);
	c->recv_armed = true;
	conn_op_start(c);
}

static void uring_recv_resume(struct conn *c)
{
	if (c->recv_armed || !conn_wants_input(c))
		return;
	arm_recv(state(c->shard), c);
}

static void uring_recv_pause(struct conn *c)
{
	if (!c->recv_armed)
		return;
	struct uring_state *u = state(c->shard);
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->recv_op, 0);
	io_uring_sqe_set_data(sqe, &c->cancel_op);
	conn_op_start(c);
}

static void uring_close(struct conn *c)
{
	struct uring_state *u = state(c->shard);
	/* cancel whatever still refers to the socket, then close it */
	ring_prep_close_fixed(&u->ring, (unsigned)c->fd, &c->cancel_op, &c->close_op);
	conn_op_start(c); /* the cancel */
	conn_op_start(c); /* the close */
}

/* One vectored write hard-wired to its fdatasync: the sync runs only after
 * the whole write succeeded (a failed or short write cancels it), and one
 * sync covers every record of the batch: group commit. */
static void uring_spool_write(struct shard *sh, struct spool_batch *b)
{
	struct uring_state *u = state(sh);
	ring_reserve(&u->ring, 2);
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_writev(sqe, b->seg_fd, b->iov, b->iov_count, b->offset);
	io_uring_sqe_set_data(sqe, &b->write_op);
	if (!b->fsync)
		return;
	sqe->flags |= IOSQE_IO_LINK;
	sqe = get_sqe(u);
	io_uring_prep_fsync(sqe, b->seg_fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &b->fsync_op);
}

static void uring_file_write(struct shard *sh, struct io_op *op, int fd, const void *buf, size_t len, uint64_t off)
{
	struct io_uring_sqe *sqe = get_sqe(state(sh));
	io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
	io_uring_sqe_set_data(sqe, op);
}

static void uring_release_buf(struct shard *sh, uint16_t bid)
{
	ring_bufs_release(&state(sh)->bufs, bid);
}

static void park(struct uring_state *u, struct conn *c)
{
	if (!ring_park_add(&u->parked, c)) { /* cannot even remember it: drop the session */
		conn_on_error(c, -ENOMEM);
		return;
	}
	conn_op_start(c); /* the parked list refers to c: it must not be freed */
}

/* Buffers came back: re-arm a connection that ran out. */
static void unpark(void *ctx, void *item)
{
	struct conn *c = item;
	(void)ctx;
	conn_on_buffers_back(c); /* not stopped again: it may have re-armed while parked */
	conn_op_end(c);
}

/* Accepts that failed for lack of room (fixed table full): try again. */
static void rearm_accepts(struct shard *sh, struct uring_state *u)
{
	for (unsigned i = 0; i < u->accept_count && sh->accepting; i++)
		if (!u->accepts[i].armed)
			arm_accept(u, &u->accepts[i]);
}

static void on_accept(struct uring_state *u, struct accept_slot *a, int res)
{
	struct shard *sh = a->sh;
	enum io_outcome o = io_classify(IO_VERB_ACCEPT, res);
	a->armed = false;
	if (o == IO_OK &&
	    (!sh->accepting || !conn_on_accept(sh, res, (struct sockaddr *)&a->addr, a->addr_len, a->tls))) {
		struct io_uring_sqe *sqe = get_sqe(u);
		io_uring_prep_close_direct(sqe, (unsigned)res);
		io_uring_sqe_set_data(sqe, &u->ignore_op);
	}
	if (o == IO_CANCELED || !sh->accepting)
		return;
	if (o == IO_NO_RESOURCES) {
		shard_stats_add(&sh->stats.accept_full, 1); /* retried next loop turn */
		return;
	}
	if (o != IO_OK && o != IO_RETRY)
		fprintf(stderr, "smtpsink: shard %u: accept: %s\n", sh->index, strerror(-res));
	arm_accept(u, a);
}

static void on_recv(struct uring_state *u, struct conn *c, int res, unsigned flags)
{
	if (res > 0 && (flags & IORING_CQE_F_BUFFER))
		conn_on_recv(c, (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT), (uint32_t)res);
	if (flags & IORING_CQE_F_MORE)
		return;
	c->recv_armed = false;
	enum io_outcome o = io_classify(IO_VERB_RECV, res);
	if (res == 0) {
		conn_on_eof(c);
	} else if (o == IO_NO_BUFFERS) {
		shard_stats_add(&c->shard->stats.enobufs, 1);
		c->shard->rbufs_short = true; /* the loop reclaims buffers */
		park(u, c);
	} else if (o != IO_OK && o != IO_CANCELED) {
		conn_on_error(c, res);
	} else {
		conn_on_recv_stopped(c);
	}
	conn_op_end(c); /* the recv is over: the last reference may free c */
}

static void dispatch(void *ctx, struct io_uring_cqe *cqe)
{
	struct uring_state *u = ctx;
	struct io_op *op = io_uring_cqe_get_data(cqe);
	if (op == NULL || op == &u->ignore_op)
		return;
	if (op->kind == IO_OP_ACCEPT) {
		on_accept(u, op->owner, cqe->res);
		return;
	}
	if (op->kind == IO_OP_SPOOL_WRITE) {
		spool_on_write(u->sh, op->owner, cqe->res);
		return;
	}
	if (op->kind == IO_OP_SPOOL_FSYNC) {
		spool_on_fsync(u->sh, op->owner, cqe->res);
		return;
	}
	if (op->kind == IO_OP_SPILL_WRITE) {
		capture_on_spilled(op->owner, cqe->res);
		return;
	}
	struct conn *c = op->owner;
	switch ((enum io_op_kind)op->kind) {
	case IO_OP_RECV:
		on_recv(u, c, cqe->res, cqe->flags);
		break;
	case IO_OP_SEND:
		if (cqe->res >= 0)
			conn_on_sent(c, (uint32_t)cqe->res);
		else
			conn_on_send_error(c, cqe->res);
		conn_op_end(c);
		break;
	case IO_OP_CLOSE:
		conn_on_close_done(c);
		break;
	case IO_OP_CANCEL:
		conn_op_end(c);
		break;
	case IO_OP_ACCEPT:
	case IO_OP_SPOOL_WRITE:
	case IO_OP_SPOOL_FSYNC:
	case IO_OP_SPILL_WRITE:
	case IO_OP_POLL_ERROR: /* epoll's own */
		break;
	}
}

static int uring_run_once(struct shard *sh, unsigned timeout_ms)
{
	struct uring_state *u = state(sh);
	if (ring_bufs_flush(&u->bufs))
		ring_park_drain(&u->parked, unpark, u);
	rearm_accepts(sh, u);
	int e = ring_wait(&u->ring, (uint64_t)timeout_ms * 1000000u);
	if (e < 0)
		return e;
	shard_refresh_clocks(sh);
	ring_deliver(&u->ring, dispatch, u);
	return 0;
}

/* Submit, wait up to timeout_ms for one completion, deliver what came. */
static void reap(struct uring_state *u, unsigned timeout_ms)
{
	ring_wait(&u->ring, (uint64_t)timeout_ms * 1000000u);
	ring_deliver(&u->ring, dispatch, u);
}

const struct backend_ops backend_uring = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.run_once = uring_run_once,
	.stop_accepting = uring_stop_accepting,
	.send = uring_send,
	.recv_pause = uring_recv_pause,
	.recv_resume = uring_recv_resume,
	.close = uring_close,
	.release_buf = uring_release_buf,
	.spool_write = uring_spool_write,
	.file_write = uring_file_write,
};
