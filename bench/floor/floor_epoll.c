/*
 * bench/floor/floor_epoll.c - floor-epoll: the loopback floor with epoll.
 * The least a server can do per SMTP round trip: one read, then ONE send
 * carrying the fixed reply of every complete command line in that read
 * (floor_proto.h), so bench/compare --floor can price a round trip.
 *
 * Usage: floor-epoll HOST:PORT (IPv4).  Runs until killed (SIGTERM).
 *
 * Omitted, on purpose (each would cost CPU the floor must not pay): a
 * spool (content is scanned for the end of data and dropped), fault rules,
 * timeouts and timers, session state beyond floor_proto.h's, TLS, limits
 * on sessions, lines or sizes, statistics, logging, threads (one CPU), a
 * clean exit.  One read per readiness event (level-triggered): a session
 * that sent more than a read takes is read again on the next turn.
 *
 * Invariants: a descriptor is in the epoll set from accept to close, and
 * its struct floor_conn (epoll's data.ptr) lives exactly as long.  Output
 * is never queued: a client that does not read its replies, so that a
 * send would block or be short, is disconnected (smtpsink-bench and
 * smtp-source wait for replies; at most a pipelined group's are in flight).
 *
 * Workload: tens of connections on loopback, driven by smtpsink-bench or
 * smtp-source; one thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor_net.h"
#include "floor_proto.h"

#define FLOOR_EVENTS_MAX 256 /* readiness events taken per epoll_wait */
#define FLOOR_READ_BYTES 16384u /* one read; smtpsink's receive buffers are 16 KiB too */
#define FLOOR_SEND_BYTES 16384u /* replies to one read (more: a second send) */

struct floor_conn {
	int fd;
	struct floor_sess sess;
};

struct floor_loop {
	int epfd, lfd;
	uint8_t in[FLOOR_READ_BYTES];
	uint8_t out[FLOOR_SEND_BYTES];
};

static void conn_close(struct floor_conn *c)
{
	close(c->fd); /* leaves the epoll set: the descriptor was never duplicated */
	free(c);
}

/* Send o whole in one send; false when the client is gone or not reading. */
static bool send_all(struct floor_conn *c, struct floor_out *o)
{
	ssize_t n = o->len > 0 ? send(c->fd, o->buf, o->len, MSG_NOSIGNAL) : 0;
	bool ok = n == (ssize_t)o->len;
	o->len = 0;
	return ok;
}

static void accept_all(struct floor_loop *l)
{
	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN: all taken; anything else: next readiness */
		struct floor_conn *c = malloc(sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		struct floor_out o = { l->out, 0, sizeof l->out };
		floor_proto_start(&c->sess, &o);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (!send_all(c, &o) || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
			conn_close(c);
	}
}

/* One read, its replies in one send (more only if they outgrow out[]). */
static void on_readable(struct floor_loop *l, struct floor_conn *c)
{
	ssize_t n = recv(c->fd, l->in, sizeof l->in, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	struct floor_out o = { l->out, 0, sizeof l->out };
	size_t done = 0;
	while (done < (size_t)n) {
		done += floor_proto_feed(&c->sess, l->in + done, (size_t)n - done, &o);
		if (!send_all(c, &o)) {
			conn_close(c);
			return;
		}
	}
	if (c->sess.quit)
		conn_close(c);
}

int main(int argc, char **argv)
{
	static struct floor_loop l; /* 32 KiB of buffers: not on the stack */
	l.lfd = floor_net_start(argc, argv, "floor-epoll");
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	if (l.epfd < 0 || epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.lfd, &lev) != 0) {
		perror("floor-epoll: epoll");
		return 1;
	}
	struct epoll_event evs[FLOOR_EVENTS_MAX];
	for (;;) {
		int k = epoll_wait(l.epfd, evs, FLOOR_EVENTS_MAX, -1);
		if (k < 0 && errno != EINTR) {
			perror("floor-epoll: epoll_wait");
			return 1;
		}
		for (int i = 0; i < k; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(&l);
			else
				on_readable(&l, evs[i].data.ptr);
		}
	}
}
