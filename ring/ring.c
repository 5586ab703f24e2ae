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
 * Workload: one ring per loop (a server shard, a generator worker); every
 * SQE of the loop goes through ring_get_sqe().
 */
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_classify.h"

#define RING_SETUP_FLAGS \
	(IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE)
#define RING_FLUSH_TRIES 64 /* submits tried on a full SQ before giving up */

int ring_setup(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = RING_SETUP_FLAGS;
	p.cq_entries = cq_entries;
	return io_uring_queue_init_params(sq_entries, ring, &p);
}

int ring_open(struct io_uring *ring)
{
	int e = ring_setup(ring, RING_SQ_ENTRIES, RING_CQ_ENTRIES);
	if (e < 0)
		return e;
	io_uring_register_ring_fd(ring); /* an optimisation: failure is fine */
	return 0;
}

int ring_probe(void)
{
	struct io_uring ring;
	int e = ring_setup(&ring, RING_PROBE_SQ_ENTRIES, RING_PROBE_CQ_ENTRIES);
	if (e < 0)
		return e;
	io_uring_queue_exit(&ring);
	return 0;
}

struct io_uring_sqe *ring_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	for (int tries = 0; sqe == NULL && tries < RING_FLUSH_TRIES; tries++) {
		io_uring_submit(ring); /* the SQ is full: flush it */
		sqe = io_uring_get_sqe(ring);
	}
	if (sqe == NULL) { /* the kernel takes no SQEs at all: nothing sane to do */
		fprintf(stderr, "io_uring submission queue stuck\n");
		abort();
	}
	return sqe;
}

void ring_reserve(struct io_uring *ring, unsigned n)
{
	if (io_uring_sq_space_left(ring) < n)
		io_uring_submit(ring);
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
