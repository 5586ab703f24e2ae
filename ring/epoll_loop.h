/*
 * ring/epoll_loop.h - what every epoll backend (server: io/epoll.c,
 * generator: bench/bench_epoll.c) starts from: its epoll instance and its
 * queue of results delivered later (done_queue.h).
 *
 * Owns: creating and closing the epoll descriptor (close-on-exec) and
 * freeing the queue.  Does not: register descriptors, wait, or deliver:
 * each backend has its own readiness rules and delivery order.
 */
#ifndef SMTPSINK_EPOLL_LOOP_H
#define SMTPSINK_EPOLL_LOOP_H

#include "done_queue.h"

struct epoll_loop {
	int fd; /* the epoll instance; -1 when closed */
	struct done_queue done; /* results delivered by the next loop turn */
};

/* Create the epoll instance, with an empty queue.  0 or -errno. */
int epoll_loop_open(struct epoll_loop *el);

/* Close it (descriptors still registered drop out) and free the queue. */
void epoll_loop_close(struct epoll_loop *el);

#endif
