/*
 * tests/ring/test_ring.c - the shared io_uring layer against a real kernel
 * (ring/ring.c, ring/ring_bufs.c).
 *
 * Owns: more SQEs than the submission queue holds are all submitted and
 * all complete (ring_get_sqe flushes a full queue); ring_reserve() leaves
 * room for a whole chain; ring_submit_issued() has a cancel by descriptor
 * issued before the caller closes it; the cancel-then-close chain of a fixed slot
 * completes both halves, in order; a provided-buffer ring hands out its
 * buffers, runs dry with -ENOBUFS (IO_NO_BUFFERS) and serves again once a
 * buffer is released and flushed; buffer counts that are not a power of
 * two are refused.  Each of these runs twice: on a ring the thread submits
 * to itself, and on one a kernel poller drains (struct ring_sqpoll), where
 * a full queue empties only as fast as the poller takes it.  The poller is
 * a thread of this process named iou-sqp-TID, on the CPU asked for, and a
 * CPU the kernel cannot run it on is refused with EINVAL.  Skipped (77)
 * where io_uring cannot be set up; the polled half is skipped (said so)
 * where SQPOLL cannot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_classify.h"
#include "ring.h"
#include "ring_bufs.h"
#include "session_harness.h"

#define NOPS (RING_SQ_ENTRIES + 904u) /* more than one full queue */
#define POLLER_IDLE_MS 50u
#define CPU_NEVER 8000 /* beyond any kernel's CPU ids: SQ_AFF refused */

/* The ring of each test: NULL (the thread submits), or a poller. */
static const struct ring_sqpoll *mode;

struct count {
	unsigned n;
	uint64_t sum;
};

static void count_cqe(void *ctx, struct io_uring_cqe *cqe)
{
	struct count *c = ctx;
	c->n++;
	c->sum += (uint64_t)io_uring_cqe_get_data(cqe);
}

static void test_get_sqe_flushes(void)
{
	struct io_uring ring;
	CHECK_U64((uint64_t)-ring_open(&ring, mode), 0);
	uint64_t want = 0;
	for (uintptr_t i = 1; i <= NOPS; i++) {
		struct io_uring_sqe *sqe = ring_get_sqe(&ring);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, (void *)i);
		want += i;
	}
	struct count c = { 0, 0 };
	for (int turns = 0; c.n < NOPS && turns < 100; turns++) {
		CHECK_U64((uint64_t)-ring_wait(&ring, 100000000u), 0);
		ring_deliver(&ring, count_cqe, &c);
	}
	CHECK_U64(c.n, NOPS);
	CHECK_U64(c.sum, want);
	io_uring_queue_exit(&ring);
}

static void test_reserve(void)
{
	struct io_uring ring;
	CHECK_U64((uint64_t)-ring_open(&ring, mode), 0);
	for (unsigned i = 0; i < RING_SQ_ENTRIES - 2; i++)
		io_uring_prep_nop(ring_get_sqe(&ring));
	ring_reserve(&ring, 2); /* exactly 2 left: nothing to do */
	CHECK_U64(io_uring_sq_space_left(&ring), 2);
	ring_reserve(&ring, 3); /* one short: the queue goes to the kernel */
	if (mode == NULL)
		CHECK_U64(io_uring_sq_space_left(&ring), RING_SQ_ENTRIES);
	else /* the poller may still be taking the rest */
		CHECK(io_uring_sq_space_left(&ring) >= 3);
	io_uring_queue_exit(&ring);
}

/* A cancel by descriptor number, then the descriptor closed at once (as
 * uring_stop_accepting does): ring_submit_issued() has had the cancel
 * issued before the close, so it finds the pending recv (1), never -EBADF. */
static void test_submit_issued(void)
{
	struct io_uring ring;
	CHECK_U64((uint64_t)-ring_open(&ring, mode), 0);
	int sv[2];
	char buf[8];
	int recv_tag, cancel_tag;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct io_uring_sqe *sqe = ring_get_sqe(&ring);
	io_uring_prep_recv(sqe, sv[0], buf, sizeof buf, 0);
	io_uring_sqe_set_data(sqe, &recv_tag);
	CHECK_U64((uint64_t)-ring_submit_issued(&ring), 0);
	sqe = ring_get_sqe(&ring);
	io_uring_prep_cancel_fd(sqe, sv[0], IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data(sqe, &cancel_tag);
	CHECK_U64((uint64_t)-ring_submit_issued(&ring), 0);
	close(sv[0]);
	int cancel_res = 0, recv_res = 0;
	for (int turns = 0, n = 0; n < 2 && turns < 20; turns++) {
		ring_wait(&ring, 50000000u);
		struct io_uring_cqe *cqe;
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			*(io_uring_cqe_get_data(cqe) == &cancel_tag ? &cancel_res : &recv_res) = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			n++;
		}
	}
	CHECK_U64((uint64_t)cancel_res, 1);
	CHECK_U64((uint64_t)-recv_res, ECANCELED);
	close(sv[1]);
	io_uring_queue_exit(&ring);
}

static void test_close_fixed(void)
{
	struct io_uring ring;
	CHECK_U64((uint64_t)-ring_open(&ring, mode), 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(io_uring_register_files(&ring, &sv[0], 1) == 0);
	close(sv[0]); /* the fixed slot keeps it open */
	int cancel_tag, close_tag;
	ring_prep_close_fixed(&ring, 0, &cancel_tag, &close_tag);
	void *order[2] = { NULL, NULL };
	int res[2] = { 1, 1 };
	unsigned n = 0;
	for (int turns = 0; n < 2 && turns < 10; turns++) {
		ring_wait(&ring, 100000000u);
		struct io_uring_cqe *cqe;
		while (n < 2 && io_uring_peek_cqe(&ring, &cqe) == 0) {
			order[n] = io_uring_cqe_get_data(cqe);
			res[n++] = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	CHECK_U64(n, 2);
	CHECK(order[0] == &cancel_tag && order[1] == &close_tag);
	CHECK(res[0] == -ENOENT || res[0] == 0); /* nothing to cancel */
	CHECK_U64((uint64_t)-res[1], 0); /* the slot was closed: the peer sees EOF */
	char b;
	CHECK(read(sv[1], &b, 1) == 0);
	close(sv[1]);
	io_uring_queue_exit(&ring);
}

/* Receive on fixed slot 0 until one completion ends the multishot or a
 * buffer arrives; returns the CQE's res, *bid the buffer (or -1). */
static int next_recv(struct io_uring *ring, int *bid, unsigned *flags)
{
	struct io_uring_cqe *cqe;
	*bid = -1;
	for (int turns = 0; turns < 20; turns++) {
		ring_wait(ring, 50000000u);
		if (io_uring_peek_cqe(ring, &cqe) == 0) {
			int res = cqe->res;
			*flags = cqe->flags;
			if (cqe->flags & IORING_CQE_F_BUFFER)
				*bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
			io_uring_cqe_seen(ring, cqe);
			return res;
		}
	}
	return -ETIME;
}

static void test_bufs_dry_and_back(void)
{
	struct io_uring ring;
	struct ring_bufs b;
	static uint8_t mem[2 * 64];
	CHECK_U64((uint64_t)-ring_open(&ring, mode), 0);
	CHECK_U64((uint64_t)-ring_bufs_setup(&b, &ring, mem, 3, 64), EINVAL);
	ring_bufs_free(&b);
	CHECK_U64((uint64_t)-ring_bufs_setup(&b, &ring, mem, 1, 64), 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(io_uring_register_files(&ring, &sv[0], 1) == 0);
	ring_bufs_arm_recv(&b, &ring, 0, NULL);
	CHECK(write(sv[1], "hello", 5) == 5);
	int bid;
	unsigned flags = 0;
	CHECK_U64((uint64_t)next_recv(&ring, &bid, &flags), 5);
	CHECK_U64((uint64_t)bid, 0);
	CHECK(memcmp(ring_bufs_at(&b, 0), "hello", 5) == 0);
	/* the only buffer is ours: the next bytes end the multishot */
	CHECK(write(sv[1], "again", 5) == 5);
	int res = next_recv(&ring, &bid, &flags);
	CHECK_U64((uint64_t)io_classify(IO_VERB_RECV, res), IO_NO_BUFFERS);
	CHECK(!(flags & IORING_CQE_F_MORE));
	CHECK(!ring_bufs_flush(&b)); /* nothing released yet */
	ring_bufs_release(&b, 0);
	CHECK(ring_bufs_flush(&b));
	CHECK(!ring_bufs_flush(&b));
	ring_bufs_arm_recv(&b, &ring, 0, NULL); /* re-armed: the bytes that waited arrive */
	CHECK_U64((uint64_t)next_recv(&ring, &bid, &flags), 5);
	CHECK(bid == 0 && memcmp(ring_bufs_at(&b, 0), "again", 5) == 0);
	close(sv[0]);
	close(sv[1]);
	io_uring_queue_exit(&ring);
	ring_bufs_free(&b);
}

/* The value of "Key:\t..." in a /proc file, or "". */
static void proc_value(const char *path, const char *key, char *out, size_t len)
{
	char line[256];
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	size_t klen = strlen(key);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(out, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	fclose(f);
}

/* A ring polled from CPU 0 has its poller (the ring's fdinfo names it) as
 * a thread of this process, iou-sqp-TID, allowed on CPU 0 only, and it
 * issues what is queued; a CPU the kernel cannot use is refused. */
static void test_poller_thread(void)
{
	struct io_uring ring;
	struct ring_sqpoll on_cpu0 = { POLLER_IDLE_MS, 0 };
	CHECK_U64((uint64_t)-ring_open(&ring, &on_cpu0), 0);
	CHECK(ring_polled(&ring));
	io_uring_prep_nop(ring_get_sqe(&ring));
	io_uring_submit(&ring);
	struct io_uring_cqe *cqe;
	CHECK_U64((uint64_t)-io_uring_wait_cqe(&ring, &cqe), 0); /* the poller ran: it has named and placed itself */
	io_uring_cqe_seen(&ring, cqe);
	char path[96], tid[32], name[64], cpus[64];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ring.ring_fd);
	proc_value(path, "SqThread", tid, sizeof tid);
	CHECK(tid[0] != '\0' && strcmp(tid, "-1") != 0);
	snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
	proc_value(path, "Name", name, sizeof name);
	proc_value(path, "Cpus_allowed_list", cpus, sizeof cpus);
	CHECK(strncmp(name, "iou-sqp-", 8) == 0);
	CHECK(strcmp(cpus, "0") == 0);
	io_uring_queue_exit(&ring);
	struct ring_sqpoll nowhere = { POLLER_IDLE_MS, CPU_NEVER };
	CHECK_U64((uint64_t)-ring_probe(&nowhere), EINVAL);
}

static void run_all(const struct ring_sqpoll *m)
{
	mode = m;
	test_get_sqe_flushes();
	test_reserve();
	test_submit_issued();
	test_close_fixed();
	test_bufs_dry_and_back();
}

int main(void)
{
	int e = ring_probe(NULL);
	if (e < 0) {
		printf("test_ring: skipped: io_uring unavailable (%s: %s)\n",
		       io_classify_name(io_classify(IO_VERB_SETUP, e)), strerror(-e));
		return 77;
	}
	run_all(NULL);
	struct ring_sqpoll polled = { POLLER_IDLE_MS, RING_SQPOLL_CPU_ANY };
	e = ring_probe(&polled);
	if (e < 0) {
		printf("test_ring: polled rings skipped: SQPOLL refused (%s)\n", strerror(-e));
	} else {
		run_all(&polled);
		test_poller_thread();
	}
	return harness_finish("ring");
}
