/*
 * bench/bench_epoll.c - the epoll client backend (see bench_backend.h), for
 * where io_uring is unavailable or lacks what bench_uring.c needs (direct
 * sockets with setsockopt and bind: 6.11).
 *
 * Owns: non-blocking sockets (set up with plain setsockopt/bind/connect),
 * level-triggered readiness, reads into one worker-wide buffer, immediate
 * non-blocking sends.  To keep io_uring's contract, a result known inside
 * connect(), send() or close() is queued (ring/done_queue.h) and delivered
 * by run_once(), like a completion, so the loop is never re-entered;
 * results found while handling readiness inside run_once() are delivered
 * at once.  Errors are classified by ring/io_classify.h.  Bounded by
 * RLIMIT_NOFILE: every connection holds a real descriptor (bench_main.c
 * splits larger runs over workers).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_backend.h"
#include "bench_loop.h"
#include "done_queue.h"
#include "epoll_loop.h"
#include "io_classify.h"

#define EVENTS_PER_WAIT 512
#define RECV_BYTES 65536u
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* c->poll_mask bits. */
enum {
	PM_REGISTERED = 1,
	PM_CONNECTING = 2,
	PM_SEND_WAIT = 4,
	PM_EOF = 8
};

struct epoll_state {
	/* loop.done: delivered at the next run_once, oldest first; owner:
	 * struct bench_conn, kind: BENCH_OP_CONNECT, BENCH_OP_SEND,
	 * BENCH_OP_CLOSE */
	struct epoll_loop loop;
	uint8_t buf[RECV_BYTES];
	struct epoll_event events[EVENTS_PER_WAIT];
};

static struct epoll_state *state(struct bench_loop *l)
{
	return l->backend;
}

static void complete_later(struct bench_conn *c, int kind, int res)
{
	if (!done_queue_push(&state(c->loop)->loop.done, c, kind, res))
		abort(); /* cannot even report a result: nothing sane to do */
}

/* Register what c waits for: writability while connecting or while a send
 * waits for room, readability once connected. */
static int update_poll(struct bench_conn *c)
{
	struct epoll_state *e = state(c->loop);
	uint32_t ev = 0;
	if (c->poll_mask & (PM_CONNECTING | PM_SEND_WAIT))
		ev |= EPOLLOUT;
	if (!(c->poll_mask & (PM_CONNECTING | PM_EOF)))
		ev |= EPOLLIN;
	struct epoll_event ee = { .events = ev, .data.ptr = c };
	int op = (c->poll_mask & PM_REGISTERED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(e->loop.fd, op, c->fd, &ee) != 0)
		return -errno;
	c->poll_mask |= PM_REGISTERED;
	return 0;
}

static int epoll_init(struct bench_loop *l)
{
	struct epoll_state *e = calloc(1, sizeof *e);
	if (e == NULL)
		return -ENOMEM;
	l->backend = e;
	return epoll_loop_open(&e->loop);
}

static void epoll_fini(struct bench_loop *l)
{
	struct epoll_state *e = state(l);
	if (e == NULL)
		return;
	epoll_loop_close(&e->loop);
	free(e);
	l->backend = NULL;
}

/* socket, options, bind: 0 or -errno. */
static int make_socket(struct bench_conn *c, const struct bench_addr *src)
{
	const struct bench_config *cfg = c->loop->cfg;
	static const int one = 1;
	c->fd = socket(cfg->target.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (cfg->target.sa.ss_family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (src == NULL)
		return 0;
	/* the port is chosen at connect(): source ports shared across targets */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	return bind(c->fd, (const struct sockaddr *)&src->sa, src->len) == 0 ? 0 : -errno;
}

static void epoll_connect(struct bench_conn *c, const struct bench_addr *src)
{
	const struct bench_config *cfg = c->loop->cfg;
	c->poll_mask = 0;
	int e = make_socket(c, src);
	if (e == 0 && connect(c->fd, (const struct sockaddr *)&cfg->target.sa, cfg->target.len) != 0)
		e = -errno;
	if (io_classify(IO_VERB_CONNECT, e) == IO_IN_PROGRESS) {
		c->poll_mask |= PM_CONNECTING;
		e = 0;
	}
	if (e == 0)
		e = update_poll(c);
	if (e != 0 || !(c->poll_mask & PM_CONNECTING))
		complete_later(c, BENCH_OP_CONNECT, e);
}

static ssize_t send_iov(struct bench_conn *c)
{
	struct msghdr mh = { .msg_iov = c->iov, .msg_iovlen = c->iov_count };
	ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

static void epoll_send(struct bench_conn *c)
{
	ssize_t n = send_iov(c);
	if (io_classify(IO_VERB_SEND, (int)n) == IO_RETRY) {
		c->poll_mask |= PM_SEND_WAIT; /* retried when writable */
		int e = update_poll(c);
		if (e != 0)
			complete_later(c, BENCH_OP_SEND, e);
		return;
	}
	complete_later(c, BENCH_OP_SEND, (int)n);
}

static void epoll_close(struct bench_conn *c)
{
	if (c->poll_mask & PM_CONNECTING)
		complete_later(c, BENCH_OP_CONNECT, -ECANCELED);
	if (c->poll_mask & PM_SEND_WAIT)
		complete_later(c, BENCH_OP_SEND, -ECANCELED);
	if (c->fd >= 0)
		close(c->fd); /* also drops it from the epoll set */
	c->fd = -1;
	c->poll_mask = 0;
	complete_later(c, BENCH_OP_CLOSE, 0);
}

static void on_connect_ready(struct bench_conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	c->poll_mask &= (uint8_t)~PM_CONNECTING;
	int e = err != 0 ? -err : update_poll(c);
	bench_loop_on_connected(c, e);
}

static void on_writable(struct bench_conn *c)
{
	ssize_t n = send_iov(c);
	if (io_classify(IO_VERB_SEND, (int)n) == IO_RETRY)
		return;
	c->poll_mask &= (uint8_t)~PM_SEND_WAIT;
	update_poll(c);
	bench_loop_on_sent(c, (int)n);
}

static void on_readable(struct epoll_state *e, struct bench_conn *c)
{
	int fd = c->fd;
	for (;;) {
		ssize_t n = recv(fd, e->buf, sizeof e->buf, MSG_DONTWAIT);
		if (n > 0) {
			bench_loop_on_recv(c, e->buf, (size_t)n);
			if ((size_t)n < sizeof e->buf || c->fd != fd || c->state != BENCH_CONN_OPEN)
				return; /* drained, or closed meanwhile */
			continue;
		}
		if (n < 0 && io_classify(IO_VERB_RECV, -errno) == IO_RETRY)
			return;
		c->poll_mask |= PM_EOF;
		update_poll(c);
		bench_loop_on_recv_end(c, n == 0 ? 0 : -errno);
		return;
	}
}

/* Oldest first; what delivering queues is delivered in the same run. */
static void deliver(struct epoll_state *e)
{
	struct done d;
	while (done_queue_pop_oldest(&e->loop.done, &d)) {
		if (d.kind == BENCH_OP_CONNECT)
			bench_loop_on_connected(d.owner, d.res);
		else if (d.kind == BENCH_OP_SEND)
			bench_loop_on_sent(d.owner, d.res);
		else
			bench_loop_on_closed(d.owner);
	}
}

static int epoll_run_once(struct bench_loop *l, uint64_t timeout_ns)
{
	struct epoll_state *e = state(l);
	deliver(e);
	struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };
	if (!done_queue_empty(&e->loop.done))
		ts = (struct timespec){ 0, 0 };
	int n = epoll_pwait2(e->loop.fd, e->events, EVENTS_PER_WAIT, &ts, NULL);
	l->now_ns = bench_clock_ns();
	l->stats->c.loop_turns++;
	if (n < 0)
		return io_classify(IO_VERB_WAIT, -errno) == IO_RETRY ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct bench_conn *c = e->events[i].data.ptr;
		uint32_t ev = e->events[i].events;
		if (c->fd < 0 || c->state == BENCH_CONN_CLOSING)
			continue; /* closed earlier in this batch */
		if (c->poll_mask & PM_CONNECTING) {
			on_connect_ready(c);
			continue;
		}
		if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (c->poll_mask & PM_SEND_WAIT))
			on_writable(c);
		if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->fd >= 0 && c->state == BENCH_CONN_OPEN &&
		    !(c->poll_mask & PM_EOF))
			on_readable(e, c);
	}
	deliver(e);
	return 0;
}

const struct bench_backend bench_backend_epoll = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.run_once = epoll_run_once,
	.connect = epoll_connect,
	.send = epoll_send,
	.close = epoll_close,
};
