/*
 * io/sd_notify.c - systemd's notification protocol without libsystemd.
 *
 * Owns: one datagram per state to the AF_UNIX socket named by
 * $NOTIFY_SOCKET.  The protocol is small and stable (sd_notify(3): a path
 * or an abstract name starting with '@', newline-separated KEY=VALUE
 * lines), so a few lines here cost less than a library dependency that a
 * container or a non-systemd machine would have to carry.  Does not unset
 * the variable (nothing we start inherits it: smtpsink starts no
 * children), does not retry (systemd reads its socket; a lost READY=1
 * shows as a start timeout, which is the right signal).
 * Invariant: a state is sent whole or not at all.
 */
#define _GNU_SOURCE
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sd_notify_addr(const char *value, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(value);
	if (n == 0)
		return -EINVAL;
	if (value[0] != '/' && value[0] != '@')
		return -EAFNOSUPPORT; /* vsock:..., or a relative path: not ours */
	if (n > sizeof sun->sun_path - (value[0] == '/')) /* a path keeps its NUL */
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, value, n);
	if (value[0] == '@')
		sun->sun_path[0] = '\0'; /* abstract: the name's length counts, no NUL */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
	return 0;
}

int sd_notify_send(const char *state)
{
	const char *value = getenv("NOTIFY_SOCKET");
	if (value == NULL || value[0] == '\0')
		return 0;
	size_t n = strlen(state);
	if (n > SD_NOTIFY_MSG_MAX)
		return -EMSGSIZE;
	struct sockaddr_un sun;
	socklen_t len;
	int e = sd_notify_addr(value, &sun, &len);
	if (e != 0)
		return e;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t sent = sendto(fd, state, n, MSG_NOSIGNAL, (const struct sockaddr *)&sun, len);
	e = sent < 0 ? -errno : 1;
	close(fd);
	return e;
}
