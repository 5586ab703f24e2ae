/*
 * ring/ring_bufs.c - the provided-buffer ring (ring_bufs.h).
 *
 * Registered by hand because liburing 2.3 has no io_uring_setup_buf_ring
 * (2.4 added it): the ring's memory is an anonymous mapping that the
 * kernel reads, page-aligned as it requires.
 */
#include "ring_bufs.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ring.h"

int ring_bufs_setup(struct ring_bufs *b, struct io_uring *ring, uint8_t *base, unsigned count, uint32_t buf_bytes)
{
	memset(b, 0, sizeof *b);
	if (count == 0 || count > RING_BUFS_MAX || (count & (count - 1)) != 0)
		return -EINVAL;
	b->base = base;
	b->buf_bytes = buf_bytes;
	b->count = count;
	b->group = RING_BUF_GROUP;
	b->br_bytes = (size_t)count * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, b->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	b->br = mem;
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = count;
	reg.bgid = b->group;
	int e = io_uring_register_buf_ring(ring, &reg, 0);
	if (e < 0)
		return e;
	io_uring_buf_ring_init(b->br);
	b->mask = (unsigned)io_uring_buf_ring_mask(count);
	for (unsigned bid = 0; bid < count; bid++)
		io_uring_buf_ring_add(b->br, ring_bufs_at(b, (uint16_t)bid), buf_bytes, (unsigned short)bid,
				      (int)b->mask, (int)bid);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void ring_bufs_free(struct ring_bufs *b)
{
	if (b->br != NULL)
		munmap(b->br, b->br_bytes);
	b->br = NULL;
}

void ring_bufs_arm_recv(const struct ring_bufs *b, struct io_uring *ring, int fd, void *data)
{
	struct io_uring_sqe *sqe = ring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	io_uring_sqe_set_data(sqe, data);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = b->group;
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

bool ring_bufs_flush(struct ring_bufs *b)
{
	if (b->pending == 0)
		return false;
	io_uring_buf_ring_advance(b->br, (int)b->pending);
	b->pending = 0;
	return true;
}
