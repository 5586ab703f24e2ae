/*
 * bench/fsync_cost.c - what one group-commit batch costs the disk path,
 * outside the server: a write of BATCH bytes at the end of a preallocated
 * file, then fdatasync, COUNT times, in four ways.
 *
 * Owns: the measurement behind docs/BENCHMARKS.md's floor for --sync
 * group.  Ways: buffered writes into fallocate()d space (what the spool
 * does: unwritten extents, converted at each sync); buffered writes into
 * space zero-filled beforehand (written extents); O_DIRECT into each of
 * the two (BATCH rounded up to 4 KiB).  Prints the process CPU (utime +
 * stime) and wall time per write + fdatasync, and for the zero-filled
 * ways what zero-filling cost per MiB.  Not a test: figures only.
 *
 * usage: fsync_cost DIR [BATCH_BYTES [COUNT]]   (default 24576 3000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define ZERO_CHUNK (1u << 20)
#define ALIGN 4096u

static double cpu_s(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "fsync_cost: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Zero [0, len) with ordinary writes and one fdatasync: the extents are
 * written, not merely allocated. */
static void zero_fill(int fd, size_t len, const char *zeros)
{
	double c0 = cpu_s(), t0 = wall_s();
	for (size_t off = 0; off < len; off += ZERO_CHUNK)
		if (pwrite(fd, zeros, ZERO_CHUNK, (off_t)off) != (ssize_t)ZERO_CHUNK)
			die("zero-fill");
	if (fdatasync(fd) != 0)
		die("fdatasync");
	double mib = (double)len / ZERO_CHUNK;
	printf("  zero-filling: %.1f us CPU, %.1f us wall per MiB\n", (cpu_s() - c0) * 1e6 / mib,
	       (wall_s() - t0) * 1e6 / mib);
}

static void run(const char *dir, size_t batch, unsigned count, bool zeroed, bool direct)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/fsync_cost.%d", dir, (int)getpid());
	size_t len = (batch + ALIGN) * count + ZERO_CHUNK;
	len = (len + ZERO_CHUNK - 1) / ZERO_CHUNK * ZERO_CHUNK;
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	unlink(path);
	if (fallocate(fd, 0, 0, (off_t)len) != 0)
		die("fallocate");
	char *buf;
	if (posix_memalign((void **)&buf, ALIGN, len < ZERO_CHUNK ? len : ZERO_CHUNK) != 0)
		die("posix_memalign");
	printf("%s writes into %s space:\n", direct ? "O_DIRECT" : "buffered", zeroed ? "zero-filled" : "fallocated");
	if (zeroed) {
		memset(buf, 0, ZERO_CHUNK);
		zero_fill(fd, len, buf);
	}
	memset(buf, 'x', ZERO_CHUNK);
	if (direct && fcntl(fd, F_SETFL, O_DIRECT) != 0)
		die("O_DIRECT");
	size_t step = direct ? (batch + ALIGN - 1) / ALIGN * ALIGN : batch;
	double c0 = cpu_s(), t0 = wall_s();
	for (unsigned i = 0; i < count; i++) {
		if (pwrite(fd, buf, step, (off_t)(i * step)) != (ssize_t)step)
			die("pwrite");
		if (fdatasync(fd) != 0)
			die("fdatasync");
	}
	printf("  %zu-byte write + fdatasync: %.1f us CPU, %.1f us wall\n", step, (cpu_s() - c0) * 1e6 / count,
	       (wall_s() - t0) * 1e6 / count);
	free(buf);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fsync_cost DIR [BATCH_BYTES [COUNT]]\n");
		return 2;
	}
	size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 24576;
	unsigned count = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 3000;
	if (batch == 0 || batch > ZERO_CHUNK || count == 0) {
		fprintf(stderr, "fsync_cost: BATCH_BYTES 1..%u, COUNT > 0\n", ZERO_CHUNK);
		return 2;
	}
	for (int zeroed = 0; zeroed < 2; zeroed++)
		for (int direct = 0; direct < 2; direct++)
			run(argv[1], batch, count, zeroed, direct);
	return 0;
}
