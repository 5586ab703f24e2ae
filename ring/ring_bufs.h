/*
 * ring/ring_bufs.h - a provided-buffer ring: receive buffers the kernel
 * picks from for multishot recv.
 *
 * Owns: registering the ring by hand (liburing 2.3 lacks
 * io_uring_setup_buf_ring: mmap, io_uring_register_buf_ring, init, add,
 * advance), preparing a multishot recv that takes its buffers from it, and
 * giving buffers back in batches.
 *
 * Does not: own the buffer memory (the caller's: buffer bid is at
 * base + bid * buf_bytes), or know who holds a buffer.
 *
 * Ownership: every buffer belongs to the kernel once set up.  A buffer
 * named by a recv completion (IORING_CQE_F_BUFFER) belongs to the caller
 * until it calls ring_bufs_release(); the kernel sees released buffers
 * only at the next ring_bufs_flush() (one store per loop turn, not one
 * per buffer).
 */
#ifndef SMTPSINK_RING_BUFS_H
#define SMTPSINK_RING_BUFS_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_BUF_GROUP 0 /* the one buffer group of a ring */
#define RING_BUFS_MAX 32768u /* the kernel's limit on ring entries */

struct ring_bufs {
	struct io_uring_buf_ring *br; /* shared with the kernel (mmap) */
	size_t br_bytes;
	uint8_t *base; /* buffer bid at base + bid * buf_bytes */
	uint32_t buf_bytes;
	unsigned count, mask;
	unsigned pending; /* released since the last flush */
	uint16_t group; /* the buffer group recvs name */
};

/* Register count buffers (a power of two, at most RING_BUFS_MAX) of
 * buf_bytes at base with ring and hand them all to the kernel.  0 or
 * -errno; ring_bufs_free() afterwards either way. */
int ring_bufs_setup(struct ring_bufs *b, struct io_uring *ring, uint8_t *base, unsigned count, uint32_t buf_bytes);

/* Unmap the ring (the kernel drops its registration with the ring). */
void ring_bufs_free(struct ring_bufs *b);

/* Queue a multishot recv on fixed file fd taking buffers from b; its
 * completions carry data.  POLL_FIRST: when it is armed the socket is
 * usually empty (the server waits for the client after its banner, the
 * client for a reply), so the first receive attempt would be wasted. */
void ring_bufs_arm_recv(const struct ring_bufs *b, struct io_uring *ring, int fd, void *data);

/* Make the released buffers visible to the kernel; true if there were
 * any (connections parked for lack of buffers may try again). */
bool ring_bufs_flush(struct ring_bufs *b);

static inline uint8_t *ring_bufs_at(const struct ring_bufs *b, uint16_t bid)
{
	return b->base + (size_t)bid * b->buf_bytes;
}

/* Give buffer bid back (seen by the kernel at the next flush).  Inline:
 * it runs once per received buffer. */
static inline void ring_bufs_release(struct ring_bufs *b, uint16_t bid)
{
	io_uring_buf_ring_add(b->br, ring_bufs_at(b, bid), b->buf_bytes, bid, (int)b->mask, (int)b->pending);
	b->pending++;
}

#endif
