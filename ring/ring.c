/*
 * ring/ring.c - io_uring set-up and submission (ring.h).
 *
 * Set-up flags, each for a reason:
 *  - SINGLE_ISSUER | DEFER_TASKRUN (6.1+): only the loop's thread submits,
 *    and completions are run when it waits, in one batch, instead of
 *    interrupting it whenever the kernel has work for it.
 *  - SUBMIT_ALL: one bad SQE does not stall the rest of the batch.
 *  - CQSIZE at 16x the SQ: a multishot recv posts many CQEs for one SQE,
 *    and an overflowing CQ slows everything down.
 * And after set-up, a registered ring fd: io_uring_enter then skips the
 * fd lookup on every call.
 *
 * With a poller (struct ring_sqpoll): SQPOLL instead of DEFER_TASKRUN.  A
 * kernel thread ("iou-sqp-TID", a thread of this process, so its CPU time
 * is the process's in /proc/PID/stat and getrusage) takes SQEs as soon as
 * the tail moves, so io_uring_submit() makes no syscall unless the poller
 * slept (IORING_SQ_NEED_WAKEUP, which liburing checks), and the loop
 * enters the kernel only to wait when no completion is ready.  The kernel
 * refuses SQPOLL together with DEFER_TASKRUN, COOP_TASKRUN or
 * TASKRUN_FLAG (EINVAL, checked on 6.18): the poller issues every request
 * and runs their task work itself, so there is no issuer to defer work to
 * or spare interrupts.  SINGLE_ISSUER stays: the kernel takes the poller as
 * the single issuer, and the loop's thread remains the only one touching
 * the SQ and CQ and registering files and buffers.  Registered ring fd,
 * fixed files and provided-buffer rings work as without a poller.  A full
 * SQ no longer empties on submit: the poller drains it in its own time,
 * so ring_make_room() waits for it (IORING_ENTER_SQ_WAIT when full).
 *
 * Workload: one ring per loop (a server shard, a generator worker); every
 * SQE of the loop goes through ring_get_sqe().
 */
#include "ring.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_classify.h"

#define RING_SETUP_FLAGS (IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_CQSIZE)
#define RING_FLUSH_TRIES 64 /* submits tried on a full SQ (no poller) before giving up */

int ring_setup(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries, const struct ring_sqpoll *sqpoll)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = RING_SETUP_FLAGS | (sqpoll != NULL ? IORING_SETUP_SQPOLL : IORING_SETUP_DEFER_TASKRUN);
	p.cq_entries = cq_entries;
	if (sqpoll != NULL) {
		p.sq_thread_idle = sqpoll->idle_ms;
		if (sqpoll->cpu != RING_SQPOLL_CPU_ANY) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = (uint32_t)sqpoll->cpu;
		}
	}
	return io_uring_queue_init_params(sq_entries, ring, &p);
}

int ring_open(struct io_uring *ring, const struct ring_sqpoll *sqpoll)
{
	int e = ring_setup(ring, RING_SQ_ENTRIES, RING_CQ_ENTRIES, sqpoll);
	if (e < 0)
		return e;
	io_uring_register_ring_fd(ring); /* an optimisation: failure is fine */
	return 0;
}

int ring_probe(const struct ring_sqpoll *sqpoll)
{
	struct io_uring ring;
	int e = ring_setup(&ring, RING_PROBE_SQ_ENTRIES, RING_PROBE_CQ_ENTRIES, sqpoll);
	if (e < 0)
		return e;
	io_uring_queue_exit(&ring);
	return 0;
}

static uint64_t ring_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* With a poller: wait until at most queued SQEs are left for it to take
 * (it moves the head past what it issued); 0, or -ETIME after
 * RING_ISSUE_WAIT_MS.  Sleeps while the SQ is full, yields otherwise. */
static int ring_await_poller(struct io_uring *ring, unsigned queued)
{
	uint64_t deadline = 0;
	while (io_uring_sq_ready(ring) > queued) {
		if (deadline == 0)
			deadline = ring_now_ms() + RING_ISSUE_WAIT_MS;
		else if (ring_now_ms() > deadline)
			return -ETIME;
		io_uring_submit(ring); /* wakes a poller that went to sleep */
		if (io_uring_sq_space_left(ring) == 0)
			io_uring_sqring_wait(ring);
		else
			sched_yield();
	}
	return 0;
}

/* Flush the SQ until n more SQEs fit; false if they still do not.  Without
 * a poller a submit empties it; with one, the poller takes the SQEs in its
 * own time. */
static bool ring_make_room(struct io_uring *ring, unsigned n)
{
	if (ring_polled(ring))
		return ring_await_poller(ring, ring->sq.ring_entries - n) == 0;
	for (int tries = 0; tries < RING_FLUSH_TRIES && io_uring_sq_space_left(ring) < n; tries++)
		io_uring_submit(ring);
	return io_uring_sq_space_left(ring) >= n;
}

struct io_uring_sqe *ring_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (sqe == NULL && ring_make_room(ring, 1)) /* the SQ is full: flush it */
		sqe = io_uring_get_sqe(ring);
	if (sqe == NULL) { /* the kernel takes no SQEs at all: nothing sane to do */
		fprintf(stderr, "io_uring submission queue stuck\n");
		abort();
	}
	return sqe;
}

void ring_reserve(struct io_uring *ring, unsigned n)
{
	ring_make_room(ring, n);
}

int ring_submit_issued(struct io_uring *ring)
{
	io_uring_submit(ring);
	return ring_polled(ring) ? ring_await_poller(ring, 0) : 0; /* else io_uring_enter issued them */
}

void ring_prep_close_fixed(struct io_uring *ring, unsigned fd, void *cancel_data, void *close_data)
{
	ring_reserve(ring, 2);
	struct io_uring_sqe *sqe = ring_get_sqe(ring);
	io_uring_prep_cancel_fd(sqe, (int)fd, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_uring_sqe_set_data(sqe, cancel_data);
	sqe = ring_get_sqe(ring);
	io_uring_prep_close_direct(sqe, fd);
	io_uring_sqe_set_data(sqe, close_data);
}

int ring_wait(struct io_uring *ring, uint64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = (long long)(timeout_ns / 1000000000ull),
					.tv_nsec = (long long)(timeout_ns % 1000000000ull) };
	int e = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	return e < 0 && io_classify(IO_VERB_WAIT, e) != IO_RETRY ? e : 0;
}
