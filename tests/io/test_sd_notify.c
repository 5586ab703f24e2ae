/*
 * tests/io/test_sd_notify.c - systemd's notification protocol
 * (io/sd_notify.c) against real AF_UNIX datagram sockets.
 *
 * Owns: NOTIFY_SOCKET values (a path, "@abstract", empty, vsock, relative)
 * and their length limits at limit-1, limit and limit+1; a state arriving
 * byte for byte as one datagram on a path socket and on an abstract one;
 * no NOTIFY_SOCKET sends nothing and says so (0); a state longer than
 * SD_NOTIFY_MSG_MAX is refused, one of exactly that length is sent; a
 * socket nobody listens on is an error, not a crash.
 *
 * Workload: a few datagrams.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sd_notify.h"
#include "session_harness.h"

#define SUN_PATH_BYTES (sizeof(((struct sockaddr_un *)0)->sun_path))

/* A string of n copies of c after prefix (caller frees). */
static char *make_name(char prefix, size_t n, char c)
{
	char *s = malloc(n + 2);
	s[0] = prefix;
	memset(s + 1, c, n);
	s[n + 1] = '\0';
	return s;
}

static void test_addr(void)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	CHECK_U64((uint64_t)sd_notify_addr("/run/systemd/notify", &sun, &len), 0);
	CHECK(strcmp(sun.sun_path, "/run/systemd/notify") == 0);
	CHECK_U64(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
	CHECK_U64((uint64_t)sd_notify_addr("@sd-test", &sun, &len), 0);
	CHECK(sun.sun_path[0] == '\0' && memcmp(sun.sun_path + 1, "sd-test", 7) == 0);
	CHECK_U64(len, offsetof(struct sockaddr_un, sun_path) + 8); /* no NUL counted */
	CHECK_U64((uint64_t)sd_notify_addr("", &sun, &len), (uint64_t)-EINVAL);
	CHECK_U64((uint64_t)sd_notify_addr("vsock:2:1234", &sun, &len), (uint64_t)-EAFNOSUPPORT);
	CHECK_U64((uint64_t)sd_notify_addr("run/notify", &sun, &len), (uint64_t)-EAFNOSUPPORT);
	/* a path keeps its NUL: 107 bytes fit in 108, 108 do not */
	for (size_t total = SUN_PATH_BYTES - 2; total <= SUN_PATH_BYTES; total++) {
		char *p = make_name('/', total - 1, 'p');
		int want = total <= SUN_PATH_BYTES - 1 ? 0 : -ENAMETOOLONG;
		if (!CHECK_U64((uint64_t)sd_notify_addr(p, &sun, &len), (uint64_t)want))
			fprintf(stderr, "  ^ path of %zu bytes\n", total);
		free(p);
	}
	/* an abstract name has no NUL: 108 bytes fit, 109 do not */
	for (size_t total = SUN_PATH_BYTES - 1; total <= SUN_PATH_BYTES + 1; total++) {
		char *p = make_name('@', total - 1, 'a');
		int want = total <= SUN_PATH_BYTES ? 0 : -ENAMETOOLONG;
		if (!CHECK_U64((uint64_t)sd_notify_addr(p, &sun, &len), (uint64_t)want))
			fprintf(stderr, "  ^ abstract name of %zu bytes\n", total);
		if (want == 0)
			CHECK_U64(len, offsetof(struct sockaddr_un, sun_path) + total);
		free(p);
	}
}

/* A datagram socket bound to value (a NOTIFY_SOCKET string); its fd. */
static int listen_at(const char *value)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sd_notify_addr(value, &sun, &len) != 0 || bind(fd, (struct sockaddr *)&sun, len) != 0) {
		perror("test_sd_notify: bind");
		exit(1);
	}
	return fd;
}

/* Send state through $NOTIFY_SOCKET=value; check one datagram, byte for byte. */
static void check_roundtrip(const char *value, int fd, const char *state)
{
	static char got[SD_NOTIFY_MSG_MAX + 16];
	setenv("NOTIFY_SOCKET", value, 1);
	CHECK_U64((uint64_t)sd_notify_send(state), 1);
	ssize_t n = recv(fd, got, sizeof got, MSG_DONTWAIT);
	CHECK_U64((uint64_t)n, strlen(state));
	CHECK(n >= 0 && memcmp(got, state, (size_t)n) == 0);
}

static void test_send(void)
{
	char path[] = "/tmp/test_sd_notify.XXXXXX";
	CHECK(mkdtemp(path) != NULL);
	char sock[sizeof path + 16];
	snprintf(sock, sizeof sock, "%s/notify", path);
	int fd = listen_at(sock);
	check_roundtrip(sock, fd, "READY=1\nSTATUS=listening on 127.0.0.1:2525");
	char abstract[64];
	snprintf(abstract, sizeof abstract, "@test_sd_notify.%d", (int)getpid());
	int afd = listen_at(abstract);
	check_roundtrip(abstract, afd, "STOPPING=1\nSTATUS=draining");

	/* SD_NOTIFY_MSG_MAX bytes are sent, one more is refused */
	char *big = make_name('S', SD_NOTIFY_MSG_MAX - 1, 'x');
	check_roundtrip(abstract, afd, big);
	free(big);
	big = make_name('S', SD_NOTIFY_MSG_MAX, 'x');
	CHECK_U64((uint64_t)sd_notify_send(big), (uint64_t)-EMSGSIZE);
	CHECK(recv(afd, path, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN); /* nothing arrived */
	free(big);

	/* nobody listening: an error, reported */
	close(fd);
	unlink(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	CHECK_U64((uint64_t)sd_notify_send("READY=1"), (uint64_t)-ENOENT);
	rmdir(path);
	/* not run by a service manager: nothing to do */
	unsetenv("NOTIFY_SOCKET");
	CHECK_U64((uint64_t)sd_notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_U64((uint64_t)sd_notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "vsock:2:99", 1);
	CHECK_U64((uint64_t)sd_notify_send("READY=1"), (uint64_t)-EAFNOSUPPORT);
	close(afd);
}

int main(void)
{
	test_addr();
	test_send();
	return harness_finish("sd_notify");
}
