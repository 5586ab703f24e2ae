/*
 * ring/epoll_loop.c - an epoll backend's instance and queue (epoll_loop.h).
 */
#include "epoll_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int epoll_loop_open(struct epoll_loop *el)
{
	memset(el, 0, sizeof *el);
	el->fd = epoll_create1(EPOLL_CLOEXEC);
	return el->fd < 0 ? -errno : 0;
}

void epoll_loop_close(struct epoll_loop *el)
{
	if (el->fd >= 0)
		close(el->fd);
	el->fd = -1;
	done_queue_free(&el->done);
}
