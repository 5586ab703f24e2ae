/*
 * bench/floor/floor_net.c - the floor servers' listener (floor_net.h).
 */
#include "floor_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOR_HOST_MAX_BYTES 64u /* "255.255.255.255" with room to spare */

static int parse(const char *host_port, struct sockaddr_in *sin)
{
	const char *colon = strrchr(host_port, ':');
	char host[FLOOR_HOST_MAX_BYTES];
	char *end;
	if (colon == NULL || (size_t)(colon - host_port) >= sizeof host)
		return -EINVAL;
	memcpy(host, host_port, (size_t)(colon - host_port));
	host[colon - host_port] = '\0';
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
		return -EINVAL;
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

int floor_net_listen(const char *host_port)
{
	struct sockaddr_in sin;
	int one = 1, e = parse(host_port, &sin);
	if (e < 0)
		return e;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, FLOOR_LISTEN_BACKLOG) != 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int floor_net_start(int argc, char **argv, const char *name)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s HOST:PORT (IPv4)\n", name);
		exit(2);
	}
	int fd = floor_net_listen(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", name, argv[1], strerror(-fd));
		exit(fd == -EINVAL ? 2 : 1);
	}
	fprintf(stderr, "%s: listening on %s\n", name, argv[1]);
	return fd;
}
