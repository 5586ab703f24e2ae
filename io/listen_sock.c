/*
 * io/listen_sock.c - opening a listening socket (listen_sock.h).
 *
 * Owns: the checks that an address is ours alone (a TCP port nobody else
 * binds, a unix path nobody serves) and the socket options of a listener.
 * Used by the shards (SMTP) and by main.c for the HTTP listener, so both
 * refuse a live address the same way.
 */
#include "listen_sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A TCP address another process listens on?  Our shards share their
 * port through SO_REUSEPORT, which would let a second server of the same
 * user join it silently (the kernel would split the clients): a first
 * bind without it must succeed, so the address is ours alone. */
static int probe_tcp(const struct listen_addr *la)
{
	int fd = socket(la->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, e = 0;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* TIME_WAIT is no owner */
	if (la->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&la->sa, la->sa_len) != 0)
		e = -errno;
	close(fd);
	return e;
}

#define CLAIM_TRIES 10 /* x CLAIM_WAIT_US: how long a dying server may hold its socket */
#define CLAIM_WAIT_US 100000

/* Does anyone accept connections on this unix socket? */
static bool path_served(const struct listen_addr *la)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool live = connect(fd, (const struct sockaddr *)&la->sa, la->sa_len) == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

/* A unix path: a socket someone still serves is refused; a stale one (a
 * server that died) is removed.  A server killed a moment ago may still
 * accept for a while (its ring's pending accepts hold the socket until the
 * kernel tears the ring down): it must stop within a second to count as
 * stale. */
static int claim_path(const struct listen_addr *la)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&la->sa;
	struct stat st;
	if (lstat(un->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0; /* nothing there, or not a socket: bind() says */
	for (int i = 0; path_served(la); i++) {
		if (i == CLAIM_TRIES)
			return -EADDRINUSE;
		usleep(CLAIM_WAIT_US);
	}
	unlink(un->sun_path);
	return 0;
}

int listen_sock_open(const struct listen_addr *la, bool reuseport)
{
	int family = la->sa.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -errno;
	if (family != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
			goto fail;
		/* accepted sockets inherit it: replies leave at once */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&la->sa, la->sa_len) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	return fd;
fail:;
	int e = -errno;
	close(fd);
	return e;
}

int listen_sock_claim(const struct listen_addr *la)
{
	return la->sa.ss_family == AF_UNIX ? claim_path(la) : probe_tcp(la);
}
