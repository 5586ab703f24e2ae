/*
 * io/uring.c - the io_uring backend (see backend.h).
 *
 * Owns: one ring per shard, created in the shard's thread, and every SQE
 * the engine submits.  Set-up flags, each for a reason:
 *  - SINGLE_ISSUER | DEFER_TASKRUN: only this thread submits; completions
 *    are run when it waits, in one batch, not by interrupting it (6.1+).
 *  - SUBMIT_ALL: one bad SQE does not stall the rest of the batch.
 *  - CQSIZE 16x the SQ: multishot recv can post many CQEs per SQE, and an
 *    overflowing CQ slows everything down.
 *  - A registered ring fd: io_uring_enter skips the fd lookup.
 * Descriptors: accepted sockets go straight into the ring's fixed file
 * table (accept_direct with IORING_FILE_INDEX_ALLOC), so 50,000 sessions
 * fit under a 20,000 RLIMIT_NOFILE, and every later SQE skips fget/fput.
 * Accepts are single-shot (several armed per listener) because a
 * single-shot accept reports the peer address, which a direct descriptor
 * cannot be asked for afterwards.
 * Receive: one multishot recv per connection from the shard's provided
 * buffer ring (registered by hand: liburing 2.3 lacks
 * io_uring_setup_buf_ring).  -ENOBUFS parks the connection until buffers
 * come back; it is counted, never fatal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "capture.h"
#include "conn.h"
#include "shard.h"
#include "spool.h"

#define SQ_ENTRIES 4096u
#define CQ_ENTRIES (16u * SQ_ENTRIES)
#define ACCEPTS_PER_LISTENER 16u
#define BUF_GROUP 0
#define SETUP_FLAGS \
	(IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE)

struct accept_slot {
	struct io_op op;
	struct shard *sh;
	int listen_fd;
	bool armed;
	socklen_t addr_len;
	struct sockaddr_storage addr;
};

struct uring_state {
	struct io_uring ring;
	struct shard *sh;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned br_mask;
	unsigned br_pending; /* buffers added since the last advance */
	struct accept_slot *accepts;
	unsigned accept_count;
	struct conn **parked; /* recv ended with -ENOBUFS: re-arm later */
	unsigned parked_count, parked_cap;
	struct io_op ignore_op; /* completions nobody waits for */
};

static struct uring_state *state(struct shard *sh)
{
	return sh->backend;
}

static struct io_uring_sqe *get_sqe(struct uring_state *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	for (int tries = 0; sqe == NULL && tries < 64; tries++) {
		io_uring_submit(&u->ring); /* the SQ is full: flush it */
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe == NULL) {
		fprintf(stderr, "smtpsink: io_uring submission queue stuck\n");
		abort();
	}
	return sqe;
}

static int setup_ring(struct io_uring *ring, unsigned entries, unsigned cq_entries)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = SETUP_FLAGS;
	p.cq_entries = cq_entries;
	return io_uring_queue_init_params(entries, ring, &p);
}

int backend_uring_probe(void)
{
	struct io_uring ring;
	int e = setup_ring(&ring, 8, 64);
	if (e < 0)
		return e;
	io_uring_queue_exit(&ring);
	return 0;
}

/* The provided-buffer ring, registered by hand (liburing 2.3). */
static int setup_buf_ring(struct shard *sh, struct uring_state *u)
{
	unsigned count = sh->rbufs.count;
	u->br_bytes = (size_t)count * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, u->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	u->br = mem;
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = count;
	reg.bgid = BUF_GROUP;
	int e = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (e < 0)
		return e;
	io_uring_buf_ring_init(u->br);
	u->br_mask = (unsigned)io_uring_buf_ring_mask(count);
	for (unsigned bid = 0; bid < count; bid++)
		io_uring_buf_ring_add(u->br, shard_rbuf(sh, (uint16_t)bid), sh->rbufs.buf_bytes, (unsigned short)bid,
				      (int)u->br_mask, (int)bid);
	io_uring_buf_ring_advance(u->br, (int)count);
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
	int e = setup_ring(&u->ring, SQ_ENTRIES, CQ_ENTRIES);
	if (e < 0)
		return e;
	io_uring_register_ring_fd(&u->ring); /* an optimisation: failure is fine */
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
static void deliver(struct uring_state *u);

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
	if (u->br != NULL)
		munmap(u->br, u->br_bytes);
	free(u->accepts);
	free(u->parked);
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
	io_uring_submit(&u->ring);
	for (unsigned i = 0; i < sh->listen_count; i++) {
		close(sh->listen_fd[i]);
		sh->listen_fd[i] = -1;
	}
}

static void uring_send(struct conn *c)
{
	struct uring_state *u = state(c->shard);
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_send(sqe, c->fd, c->out, c->out_inflight, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, &c->send_op);
	conn_op_start(c);
}

static void arm_recv(struct uring_state *u, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	/* the socket is usually empty when this is armed (the server speaks
	 * first): skip the first, useless receive attempt */
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	io_uring_sqe_set_data(sqe, &c->recv_op);
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
	struct io_uring_sqe *sqe = get_sqe(u);
	/* cancel whatever still refers to the socket, then close it */
	io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_uring_sqe_set_data(sqe, &c->cancel_op);
	conn_op_start(c);
	sqe = get_sqe(u);
	io_uring_prep_close_direct(sqe, (unsigned)c->fd);
	io_uring_sqe_set_data(sqe, &c->close_op);
	conn_op_start(c);
}

/* One vectored write hard-wired to its fdatasync: the sync runs only after
 * the whole write succeeded (a failed or short write cancels it), and one
 * sync covers every record of the batch: group commit. */
static void uring_spool_write(struct shard *sh, struct spool_batch *b)
{
	struct uring_state *u = state(sh);
	if (io_uring_sq_space_left(&u->ring) < 2)
		io_uring_submit(&u->ring); /* a chain must not be split across submits */
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
	struct uring_state *u = state(sh);
	io_uring_buf_ring_add(u->br, shard_rbuf(sh, bid), sh->rbufs.buf_bytes, bid, (int)u->br_mask,
			      (int)u->br_pending);
	u->br_pending++;
}

static void park(struct uring_state *u, struct conn *c)
{
	if (u->parked_count == u->parked_cap) {
		unsigned cap = u->parked_cap ? 2 * u->parked_cap : 64;
		struct conn **p = realloc(u->parked, cap * sizeof *p);
		if (p == NULL) { /* cannot even remember it: drop the session */
			conn_on_error(c, -ENOMEM);
			return;
		}
		u->parked = p;
		u->parked_cap = cap;
	}
	u->parked[u->parked_count++] = c;
	conn_op_start(c); /* the parked list refers to c: it must not be freed */
}

/* Buffers came back: re-arm the connections that ran out. */
static void unpark(struct uring_state *u)
{
	unsigned n = u->parked_count;
	u->parked_count = 0;
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = u->parked[i];
		conn_on_recv_stopped(c);
		conn_op_end(c);
	}
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
	a->armed = false;
	if (res >= 0 && (!sh->accepting || !conn_on_accept(sh, res, (struct sockaddr *)&a->addr, a->addr_len))) {
		struct io_uring_sqe *sqe = get_sqe(u);
		io_uring_prep_close_direct(sqe, (unsigned)res);
		io_uring_sqe_set_data(sqe, &u->ignore_op);
	}
	if (res == -ECANCELED || !sh->accepting)
		return;
	if (res == -ENFILE || res == -EMFILE || res == -ENOMEM) {
		sh->stats.accept_full++; /* retried next loop turn */
		return;
	}
	if (res < 0 && res != -EAGAIN && res != -ECONNABORTED && res != -EINTR)
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
	if (res == 0) {
		conn_on_eof(c);
	} else if (res == -ENOBUFS) {
		c->shard->stats.enobufs++;
		c->shard->rbufs_short = true; /* the loop reclaims buffers */
		park(u, c);
	} else if (res < 0 && res != -ECANCELED) {
		conn_on_error(c, res);
	} else {
		conn_on_recv_stopped(c);
	}
	conn_op_end(c); /* the recv is over: the last reference may free c */
}

static void dispatch(struct uring_state *u, struct io_uring_cqe *cqe)
{
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
		break;
	}
}

static int uring_run_once(struct shard *sh, unsigned timeout_ms)
{
	struct uring_state *u = state(sh);
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
					.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
	if (u->br_pending) {
		io_uring_buf_ring_advance(u->br, (int)u->br_pending);
		u->br_pending = 0;
		unpark(u);
	}
	rearm_accepts(sh, u);
	int e = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	if (e < 0 && e != -ETIME && e != -EINTR && e != -EBUSY)
		return e;
	shard_refresh_clocks(sh);
	deliver(u);
	return 0;
}

/* Hand every completion that is ready to its owner. */
static void deliver(struct uring_state *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		dispatch(u, cqe);
		seen++;
	}
	io_uring_cq_advance(&u->ring, seen);
}

/* Submit, wait up to timeout_ms for one completion, deliver what came. */
static void reap(struct uring_state *u, unsigned timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = (long long)timeout_ms * 1000000 };
	io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	deliver(u);
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
