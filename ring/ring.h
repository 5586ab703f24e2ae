/*
 * ring/ring.h - the io_uring set-up and submission that the server's loop
 * (io/uring.c) and the load generator's loop (bench/bench_uring.c) share.
 *
 * Owns: the ring's set-up flags and sizes (each flag justified once, in
 * ring.c), the registered ring fd, taking an SQE when the submission queue
 * is full, room for a linked chain, the cancel-then-close chain of a
 * direct descriptor, the bounded wait, and handing out completions.
 *
 * Does not: own descriptors, buffers or operations, or decide what a
 * completion means: each loop dispatches its own (user_data points to a
 * caller-owned operation record).  The provided-buffer ring is in
 * ring_bufs.h, the list of connections waiting for buffers in ring_park.h.
 *
 * Invariants: one thread per ring (IORING_SETUP_SINGLE_ISSUER), the one
 * that created it; with a kernel poller (struct ring_sqpoll) that thread
 * queues SQEs and the poller issues them.  An SQE is never lost: when the
 * queue is full it is flushed (and, with a poller, waited for); a kernel
 * that takes no SQEs at all is fatal (abort).
 */
#ifndef SMTPSINK_RING_H
#define SMTPSINK_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#define RING_SQ_ENTRIES 4096u
#define RING_CQ_ENTRIES (16u * RING_SQ_ENTRIES) /* multishot recv posts many CQEs per SQE */
#define RING_PROBE_SQ_ENTRIES 8u /* a ring made only to see whether io_uring works */
#define RING_PROBE_CQ_ENTRIES 64u
#define RING_ISSUE_WAIT_MS 5000u /* the longest wait for a poller to take SQEs */

#define RING_SQPOLL_CPU_ANY (-1)

/* A kernel thread that polls the ring's submission queue
 * (IORING_SETUP_SQPOLL), so submitting needs no syscall while it is awake.
 * NULL where a ring takes one means no poller. */
struct ring_sqpoll {
	uint32_t idle_ms; /* sq_thread_idle: spin this long after the last SQE; 0: the kernel's 1 s */
	int cpu; /* sq_thread_cpu (IORING_SETUP_SQ_AFF); RING_SQPOLL_CPU_ANY: wherever it runs */
};

/* A ring with the set-up flags of ring.c, polled by the kernel when sqpoll
 * is not NULL; 0 or -errno. */
int ring_setup(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries, const struct ring_sqpoll *sqpoll);

/* A full-size ring (RING_SQ_ENTRIES, RING_CQ_ENTRIES) with its fd
 * registered; 0 or -errno. */
int ring_open(struct io_uring *ring, const struct ring_sqpoll *sqpoll);

/* Can a ring with these flags be set up here?  0, or the -errno that says
 * why not (io_classify(IO_VERB_SETUP, ...) tells "unsupported" apart). */
int ring_probe(const struct ring_sqpoll *sqpoll);

/* Is the ring's submission queue polled by a kernel thread? */
static inline bool ring_polled(const struct io_uring *ring)
{
	return (ring->flags & IORING_SETUP_SQPOLL) != 0;
}

/* The next free SQE; flushes the queue to the kernel when it is full. */
struct io_uring_sqe *ring_get_sqe(struct io_uring *ring);

/* Make room for a chain of n linked SQEs: a chain must not be split
 * across two submits (the kernel would end it at the first one). */
void ring_reserve(struct io_uring *ring, unsigned n);

/* Submit what is queued and return once the kernel has issued it: at once
 * without a poller; with one, once the poller has taken every SQE (it
 * issues them as it takes them; bounded, RING_ISSUE_WAIT_MS).  Then the
 * caller may close a descriptor those SQEs name by number (a cancel by fd
 * looks its file up when issued).  0, or -ETIME if the poller did not. */
int ring_submit_issued(struct io_uring *ring);

/* Cancel everything that refers to fixed file slot fd, then (hard-linked:
 * whatever the cancel found) close the slot.  Two completions: cancel_data
 * and close_data. */
void ring_prep_close_fixed(struct io_uring *ring, unsigned fd, void *cancel_data, void *close_data);

/* Submit what is queued and wait up to timeout_ns for one completion.
 * 0 (also on timeout, a signal or a full CQ), or a fatal -errno. */
int ring_wait(struct io_uring *ring, uint64_t timeout_ns);

/* Hand every completion that is ready to fn, in order, then mark them seen.
 * Inline so that fn is called directly, not through a pointer. */
static inline unsigned ring_deliver(struct io_uring *ring, void (*fn)(void *ctx, struct io_uring_cqe *cqe), void *ctx)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(ring, head, cqe)
	{
		fn(ctx, cqe);
		seen++;
	}
	io_uring_cq_advance(ring, seen);
	return seen;
}

#endif
