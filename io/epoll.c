/*
 * io/epoll.c - the epoll backend (see backend.h), for where io_uring is
 * unavailable (Docker's default seccomp profile, kernel.io_uring_disabled).
 *
 * Owns: level-triggered readiness for listeners and sockets, reads into the
 * shard's buffer pool, and immediate non-blocking sends.  To keep the same
 * contract as io_uring, a send or close never reports back from inside the
 * call that started it: its result is queued (ring/done_queue.h) and
 * delivered by run_once(), like a completion, so conn.c is never
 * re-entered.  Errors are classified by ring/io_classify.h.  Bounded by
 * RLIMIT_NOFILE: every session holds a real descriptor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "capture.h"
#include "conn.h"
#include "done_queue.h"
#include "epoll_loop.h"
#include "io_classify.h"
#include "shard.h"
#include "spool.h"

#define EVENTS_PER_WAIT 512
#define ACCEPTS_PER_EVENT 64
#define READS_PER_EVENT 4
#define LISTENER_TAG 1u
#define WAKE_TAG UINT64_MAX /* the shutdown eventfd, not a listener */

enum {
	POLL_REGISTERED = 1,
	POLL_IN = 2,
	POLL_OUT = 4
};

struct epoll_state {
	/* loop.done: delivered at the next run_once, newest first; owner:
	 * struct conn (IO_OP_SEND, IO_OP_CLOSE, IO_OP_POLL_ERROR) or struct spool_batch
	 * (IO_OP_SPOOL_*) */
	struct epoll_loop loop;
	uint64_t accept_paused_s; /* listeners off (descriptors ran out) */
	struct epoll_event events[EVENTS_PER_WAIT];
};

static struct epoll_state *state(struct shard *sh)
{
	return sh->backend;
}

static void complete_later(struct shard *sh, void *owner, int kind, int res)
{
	if (!done_queue_push(&state(sh)->loop.done, owner, kind, res)) {
		fprintf(stderr, "smtpsink: out of memory in the epoll backend\n");
		abort();
	}
	if (kind == IO_OP_SEND || kind == IO_OP_CLOSE || kind == IO_OP_POLL_ERROR)
		conn_op_start(owner);
}

/* Make the registered events match what the connection wants. */
static void update_poll(struct conn *c)
{
	struct epoll_state *e = state(c->shard);
	uint8_t want = (uint8_t)((c->recv_armed ? POLL_IN : 0) | (c->poll_mask & POLL_OUT));
	if ((c->poll_mask & (POLL_IN | POLL_OUT)) == want && (c->poll_mask & POLL_REGISTERED))
		return;
	struct epoll_event ev = { .events = ((want & POLL_IN) ? EPOLLIN : 0u) | ((want & POLL_OUT) ? EPOLLOUT : 0u),
				  .data.ptr = c };
	int op = (c->poll_mask & POLL_REGISTERED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(e->loop.fd, op, c->fd, &ev) != 0) {
		/* not a send's result: a real one may be queued too */
		complete_later(c->shard, c, IO_OP_POLL_ERROR, -errno);
		return;
	}
	c->poll_mask = (uint8_t)(want | POLL_REGISTERED);
}

static int epoll_init(struct shard *sh)
{
	struct epoll_state *e = calloc(1, sizeof *e);
	if (e == NULL)
		return -ENOMEM;
	sh->backend = e;
	int err = epoll_loop_open(&e->loop);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < sh->listen_count; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 1) | LISTENER_TAG };
		if (epoll_ctl(e->loop.fd, EPOLL_CTL_ADD, sh->listen_fd[i], &ev) != 0)
			return -errno;
	}
	if (sh->shared->wake_fd >= 0) { /* wakes the loop at SIGTERM, once */
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = WAKE_TAG };
		if (epoll_ctl(e->loop.fd, EPOLL_CTL_ADD, sh->shared->wake_fd, &ev) != 0)
			return -errno;
	}
	return 0;
}

static void epoll_fini(struct shard *sh)
{
	struct epoll_state *e = state(sh);
	if (e == NULL)
		return;
	epoll_loop_close(&e->loop);
	free(e);
	sh->backend = NULL;
}

static void epoll_stop_accepting(struct shard *sh)
{
	for (unsigned i = 0; i < sh->listen_count; i++) {
		epoll_ctl(state(sh)->loop.fd, EPOLL_CTL_DEL, sh->listen_fd[i], NULL);
		close(sh->listen_fd[i]);
		sh->listen_fd[i] = -1;
	}
}

static void epoll_send(struct conn *c)
{
	ssize_t n = send(c->fd, conn_send_data(c), c->out_inflight, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && io_classify(IO_VERB_SEND, -errno) == IO_RETRY) {
		c->poll_mask |= POLL_OUT; /* retried on EPOLLOUT */
		update_poll(c);
		return;
	}
	complete_later(c->shard, c, IO_OP_SEND, n < 0 ? -errno : (int)n);
}

static void epoll_recv_resume(struct conn *c)
{
	if (c->recv_armed || !conn_wants_input(c))
		return;
	c->recv_armed = true;
	update_poll(c);
}

static void epoll_recv_pause(struct conn *c)
{
	if (!c->recv_armed)
		return;
	c->recv_armed = false;
	update_poll(c);
}

static void epoll_close(struct conn *c)
{
	if (c->poll_mask & POLL_OUT) /* a send waits for EPOLLOUT: it is over */
		complete_later(c->shard, c, IO_OP_SEND, -ECANCELED);
	/* close() also drops the descriptor from the epoll set */
	close(c->fd);
	c->poll_mask = 0;
	c->recv_armed = false;
	complete_later(c->shard, c, IO_OP_CLOSE, 0);
}

/* The write and the sync run right here, blocking the loop for one
 * fdatasync per batch (still group commit: a batch is every message
 * finished while the previous one was written); the results are delivered
 * from the loop like completions, in order: write first. */
static void epoll_spool_write(struct shard *sh, struct spool_batch *b)
{
	uint64_t done = 0;
	int res = 0;
	struct iovec iov[SPOOL_BATCH_IOV_MAX];
	unsigned n = b->iov_count, first = 0;
	memcpy(iov, b->iov, n * sizeof *iov);
	while (done < b->bytes && first < n) {
		ssize_t w = pwritev(b->seg_fd, iov + first, (int)(n - first), (off_t)(b->offset + done));
		if (w < 0 && io_classify(IO_VERB_WRITE, -errno) == IO_RETRY)
			continue;
		if (w <= 0) {
			res = w < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)w;
		for (size_t left = (size_t)w; left > 0 && first < n;) { /* skip what was written */
			size_t take = left < iov[first].iov_len ? left : iov[first].iov_len;
			iov[first].iov_base = (char *)iov[first].iov_base + take;
			iov[first].iov_len -= take;
			left -= take;
			if (iov[first].iov_len == 0)
				first++;
		}
	}
	/* deliver() pops from the end: queue the sync's result first */
	if (b->fsync)
		complete_later(sh, b, IO_OP_SPOOL_FSYNC,
			       res != 0 ? -ECANCELED : (fdatasync(b->seg_fd) == 0 ? 0 : -errno));
	complete_later(sh, b, IO_OP_SPOOL_WRITE, res != 0 ? res : (int)done);
}

/* A spill write, done at once (into the page cache); its result comes
 * back from the loop like a completion. */
static void epoll_file_write(struct shard *sh, struct io_op *op, int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	do
		n = pwrite(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	complete_later(sh, op->owner, IO_OP_SPILL_WRITE, n < 0 ? -errno : (int)n);
}

static void epoll_release_buf(struct shard *sh, uint16_t bid)
{
	sh->rbufs.free_stack[sh->rbufs.free_count++] = bid;
}

static void set_listeners(struct shard *sh, int op)
{
	for (unsigned i = 0; i < sh->listen_count; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 1) | LISTENER_TAG };
		if (sh->listen_fd[i] >= 0)
			epoll_ctl(state(sh)->loop.fd, op, sh->listen_fd[i], &ev);
	}
}

static void on_listener(struct shard *sh, unsigned idx)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT && sh->accepting; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof addr;
		int fd = accept4(sh->listen_fd[idx], (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (io_classify(IO_VERB_ACCEPT, -errno) == IO_NO_RESOURCES) {
				/* out of descriptors: stop listening for a second */
				shard_stats_add(&sh->stats.accept_full, 1);
				set_listeners(sh, EPOLL_CTL_DEL);
				state(sh)->accept_paused_s = sh->now_s;
			}
			return;
		}
		if (!conn_on_accept(sh, fd, (struct sockaddr *)&addr, len, sh->listen_tls[idx]))
			close(fd);
	}
}

static void on_writable(struct conn *c)
{
	ssize_t n = send(c->fd, conn_send_data(c), c->out_inflight, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && io_classify(IO_VERB_SEND, -errno) == IO_RETRY)
		return;
	c->poll_mask &= (uint8_t)~POLL_OUT;
	update_poll(c);
	complete_later(c->shard, c, IO_OP_SEND, n < 0 ? -errno : (int)n);
}

static void on_readable(struct shard *sh, struct conn *c)
{
	for (int i = 0; i < READS_PER_EVENT && c->recv_armed && conn_wants_input(c); i++) {
		if (sh->rbufs.free_count == 0) {
			shard_stats_add(&sh->stats.enobufs, 1); /* level-triggered: retried next turn */
			sh->rbufs_short = true; /* the loop reclaims buffers */
			return;
		}
		uint16_t bid = sh->rbufs.free_stack[--sh->rbufs.free_count];
		ssize_t n = recv(c->fd, shard_rbuf(sh, bid), sh->rbufs.buf_bytes, MSG_DONTWAIT);
		if (n > 0) {
			conn_on_recv(c, bid, (uint32_t)n);
			if ((size_t)n < sh->rbufs.buf_bytes)
				return; /* drained */
			continue;
		}
		epoll_release_buf(sh, bid);
		if (n < 0 && io_classify(IO_VERB_RECV, -errno) == IO_RETRY)
			return;
		c->recv_armed = false;
		update_poll(c);
		if (n == 0)
			conn_on_eof(c);
		else
			conn_on_error(c, -errno);
		return;
	}
}

/* Newest first: epoll_spool_write() queues a batch's sync before its
 * write, so the write is delivered first. */
static void deliver(struct shard *sh, struct epoll_state *e)
{
	struct done d;
	while (done_queue_pop_newest(&e->loop.done, &d)) {
		if (d.kind == IO_OP_SPOOL_WRITE || d.kind == IO_OP_SPOOL_FSYNC) {
			(d.kind == IO_OP_SPOOL_WRITE ? spool_on_write : spool_on_fsync)(sh, d.owner, d.res);
			continue;
		}
		if (d.kind == IO_OP_SPILL_WRITE) {
			capture_on_spilled(d.owner, d.res);
			continue;
		}
		struct conn *c = d.owner;
		if (d.kind == IO_OP_CLOSE) {
			conn_on_close_done(c);
			continue;
		}
		if (d.kind == IO_OP_POLL_ERROR) {
			if (!conn_closing(c))
				conn_on_error(c, d.res);
			conn_op_end(c);
			continue;
		}
		if (d.res >= 0)
			conn_on_sent(c, (uint32_t)d.res);
		else
			conn_on_send_error(c, d.res);
		conn_op_end(c);
	}
}

static int epoll_run_once(struct shard *sh, unsigned timeout_ms)
{
	struct epoll_state *e = state(sh);
	if (e->accept_paused_s != 0 && sh->now_s > e->accept_paused_s && sh->accepting) {
		e->accept_paused_s = 0;
		set_listeners(sh, EPOLL_CTL_ADD);
	}
	deliver(sh, e);
	int n = epoll_wait(e->loop.fd, e->events, EVENTS_PER_WAIT, (int)timeout_ms);
	if (n < 0)
		return io_classify(IO_VERB_WAIT, -errno) == IO_RETRY ? 0 : -errno;
	shard_refresh_clocks(sh);
	for (int i = 0; i < n; i++) {
		struct epoll_event *ev = &e->events[i];
		if (ev->data.u64 == WAKE_TAG)
			continue;
		if (ev->data.u64 & LISTENER_TAG) {
			on_listener(sh, (unsigned)(ev->data.u64 >> 1));
			continue;
		}
		struct conn *c = ev->data.ptr;
		if (conn_closing(c))
			continue; /* closed earlier in this batch */
		if ((ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (c->poll_mask & POLL_OUT))
			on_writable(c);
		if ((ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->recv_armed)
			on_readable(sh, c);
	}
	deliver(sh, e);
	return 0;
}

const struct backend_ops backend_epoll = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.run_once = epoll_run_once,
	.stop_accepting = epoll_stop_accepting,
	.send = epoll_send,
	.recv_pause = epoll_recv_pause,
	.recv_resume = epoll_recv_resume,
	.close = epoll_close,
	.release_buf = epoll_release_buf,
	.spool_write = epoll_spool_write,
	.file_write = epoll_file_write,
};
