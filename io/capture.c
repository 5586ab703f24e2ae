/*
 * io/capture.c - gather one message's envelope and body (see capture.h).
 *
 * Owns: the text arena of the envelope, the body's chunk in memory (grown
 * by doubling within the memory budget, from MAIL's SIZE= hint when there
 * is one), spilling it to the message's temporary file when it is full,
 * and the body laid out for the record at end of data.  Every byte of the
 * body is copied once from the receive buffers (which must go back to the
 * kernel quickly) and, for a big message, written once more to its spill
 * file.  An allocation or spill failure marks the capture failed instead
 * of crashing; the message is then refused with a 4xx and its content is
 * dropped as it comes.
 *
 * Memory: everything counted against the budget (mem_budget.h) is given
 * back when freed: the chunk's capacity, the spilling chunk's until its
 * write is done.  A capture freed while a spill write is in flight stays
 * (dead) until the completion, because the kernel reads its chunk.
 */
#define _GNU_SOURCE
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn_int.h"
#include "grow.h"
#include "io_classify.h"
#include "shard.h"

#define FIRST_CHUNK_BYTES 4096u

#define CAPTURE_FIRST_CAP 64u /* elements of a fresh body, arena or recipient list */

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	return grow_array(buf, cap, need, elem, CAPTURE_FIRST_CAP);
}

/* Content that cannot be kept: the message will be refused. */
static void fail(struct capture *cap, int err)
{
	cap->failed = true;
	if (cap->error == 0)
		cap->error = err;
	if (cap->body != NULL)
		mem_local_give(&cap->sh->mem, cap->body_cap);
	free(cap->body);
	cap->body = NULL;
	cap->body_len = cap->body_cap = 0;
}

/* What the capture holds for its client: content chunks and envelope. */
static size_t holding(const struct capture *cap)
{
	return cap->body_cap + cap->spill.wcap + cap->held;
}

/* The envelope's arrays grew: count the growth.  The command was already
 * accepted, so it is forced (RCPT asked capture_rcpt_room() first). */
static void count_envelope(struct capture *cap)
{
	size_t now = cap->text_cap + (size_t)cap->rcpt_cap * sizeof *cap->rcpts + (cap->head ? cap->head_len : 0);
	if (now > cap->held)
		mem_local_force(&cap->sh->mem, now - cap->held);
	cap->held = now;
}

static void keep_view(struct capture *cap, struct smtp_view v, struct capture_str *s)
{
	s->off = (uint32_t)cap->text_len;
	s->len = 0;
	if (!grow((void **)&cap->text, &cap->text_cap, cap->text_len + v.len + 1, 1)) {
		fail(cap, -ENOMEM);
		return;
	}
	if (v.len > 0)
		memcpy(cap->text + cap->text_len, v.ptr, v.len);
	cap->text_len += v.len;
	s->len = (uint32_t)v.len;
	count_envelope(cap);
}

struct capture *capture_begin(struct shard *sh, struct conn *c, struct smtp_view from, struct smtp_view params,
			      uint64_t size_hint)
{
	struct capture *cap = calloc(1, sizeof *cap);
	if (cap == NULL)
		return NULL;
	cap->sh = sh;
	cap->conn = c;
	cap->spill.fd = -1;
	cap->spill.op = (struct io_op){ IO_OP_SPILL_WRITE, cap };
	keep_view(cap, from, &cap->mail_from);
	keep_view(cap, params, &cap->mail_params);
	cap->size_hint = size_hint;
	return cap;
}

void capture_add_rcpt(struct capture *cap, struct smtp_view addr, struct smtp_view params)
{
	size_t cap_n = cap->rcpt_cap;
	if (!grow((void **)&cap->rcpts, &cap_n, 2 * ((size_t)cap->rcpt_count + 1), sizeof *cap->rcpts)) {
		fail(cap, -ENOMEM);
		return;
	}
	cap->rcpt_cap = (uint32_t)cap_n;
	count_envelope(cap);
	keep_view(cap, addr, &cap->rcpts[2 * cap->rcpt_count]);
	keep_view(cap, params, &cap->rcpts[2 * cap->rcpt_count + 1]);
	cap->rcpt_count++;
}

bool capture_rcpt_room(const struct capture *cap, size_t addr_len, size_t params_len)
{
	size_t elem = sizeof *cap->rcpts;
	size_t rcpts = grow_capacity(cap->rcpt_cap, 2 * ((size_t)cap->rcpt_count + 1), elem, CAPTURE_FIRST_CAP);
	size_t text = grow_capacity(cap->text_cap, cap->text_len + addr_len + params_len + 2, 1, CAPTURE_FIRST_CAP);
	if (rcpts == 0 || text == 0)
		return false;
	size_t add = (rcpts - cap->rcpt_cap) * elem + (text - cap->text_cap);
	return add == 0 || mem_local_room(&cap->sh->mem, add, holding(cap));
}

bool capture_alloc_head(struct capture *cap)
{
	cap->head = malloc(cap->head_len);
	if (cap->head == NULL)
		return false;
	count_envelope(cap);
	return true;
}

/* The chunk's allocation, its capacity counted in the budget. */
static bool chunk_alloc(struct capture *cap, size_t new_cap, bool force)
{
	struct mem_local *m = &cap->sh->mem;
	size_t add = new_cap - cap->body_cap;
	size_t mine = holding(cap);
	if (!mem_local_take(m, add, mine)) {
		if (!force)
			return false;
		mem_local_force(m, add); /* content already read: it must be kept */
	}
	uint8_t *p = realloc(cap->body, new_cap);
	if (p == NULL) {
		mem_local_give(m, add);
		fail(cap, -ENOMEM);
		return false;
	}
	cap->body = p;
	cap->body_cap = new_cap;
	return true;
}

static size_t chunk_limit(const struct capture *cap)
{
	return mem_local_tight(&cap->sh->mem) ? CAPTURE_CHUNK_TIGHT_BYTES : CAPTURE_CHUNK_MAX_BYTES;
}

/* The message's spill file: unlinked from the start, so a crash or an
 * abort leaves nothing; a named one (removed at once) where the file
 * system has no O_TMPFILE. */
static int open_spill(struct capture *cap)
{
	int dir = cap->sh->spool.dir_fd;
	int fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	char name[64];
	static unsigned seq;
	snprintf(name, sizeof name, ".spill-%d-%u", getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlinkat(dir, name, 0);
	return fd;
}

/* Hand the full chunk to the kernel for the spill file. */
static void start_spill(struct capture *cap)
{
	struct capture_spill *sp = &cap->spill;
	if (sp->fd < 0 && (sp->fd = open_spill(cap)) < 0) {
		fail(cap, sp->fd);
		sp->fd = -1;
		return;
	}
	sp->wbuf = cap->body;
	sp->wlen = cap->body_len;
	sp->wcap = cap->body_cap;
	cap->body = NULL;
	cap->body_len = cap->body_cap = 0;
	cap->spilling = true;
	cap->sh->ops->file_write(cap->sh, &sp->op, sp->fd, sp->wbuf, sp->wlen, sp->written);
}

/* Room for at least one more byte: grow within the limit and the budget,
 * else spill the chunk and start a new one.  False when the chunk can
 * neither grow nor be spilled now (a spill write is in flight). */
static bool make_room(struct capture *cap, size_t need)
{
	size_t limit = chunk_limit(cap);
	if (cap->body_cap < limit) {
		/* SIZE= says how much is coming: one allocation for a small message */
		size_t n = cap->body_cap		      ? 2 * cap->body_cap :
			   cap->size_hint > FIRST_CHUNK_BYTES ? cap->size_hint + 2 :
								FIRST_CHUNK_BYTES;
		while (n < cap->body_len + need && n < limit)
			n *= 2;
		if (chunk_alloc(cap, n < limit ? n : limit, false))
			return true;
		if (cap->failed)
			return false;
	}
	if (cap->spilling)
		return false;
	start_spill(cap); /* its capacity stays counted until the write is done */
	return !cap->failed && chunk_alloc(cap, FIRST_CHUNK_BYTES, true);
}

void capture_add_body(struct capture *cap, struct smtp_view bytes)
{
	const uint8_t *p = bytes.ptr;
	size_t n = bytes.len;
	cap->content_bytes += n;
	while (n > 0 && !cap->failed) {
		if (cap->body_len == cap->body_cap && !make_room(cap, n)) {
			/* a spill write is in flight and the chunk is full: the
			 * content was read already, so it is kept (one feed's
			 * worth at most), and the connection stops feeding */
			if (cap->failed || !chunk_alloc(cap, cap->body_len + n, true))
				break;
		}
		size_t take = cap->body_cap - cap->body_len < n ? cap->body_cap - cap->body_len : n;
		memcpy(cap->body + cap->body_len, p, take);
		cap->body_len += take;
		p += take;
		n -= take;
	}
}

bool capture_blocked(const struct capture *cap)
{
	return cap->spilling && !cap->failed && cap->body_len >= chunk_limit(cap);
}

static void free_now(struct capture *cap)
{
	struct mem_local *m = &cap->sh->mem;
	if (cap->body != NULL)
		mem_local_give(m, cap->body_cap);
	if (cap->spill.wbuf != NULL)
		mem_local_give(m, cap->spill.wcap);
	free(cap->body);
	free(cap->spill.wbuf);
	if (cap->spill.map != NULL)
		munmap(cap->spill.map, cap->spill.map_len);
	if (cap->spill.fd >= 0)
		close(cap->spill.fd);
	if (cap->held != 0)
		mem_local_give(m, cap->held);
	free(cap->text);
	free(cap->rcpts);
	free(cap->head);
	free(cap);
}

void capture_on_spilled(struct capture *cap, int res)
{
	struct capture_spill *sp = &cap->spill;
	cap->spilling = false;
	if (cap->dead) {
		free_now(cap);
		return;
	}
	if (cap->body_iov_count != 0)
		return; /* the record reads the chunk from memory: freed with cap */
	if (res < 0 || (size_t)res != sp->wlen) {
		/* a regular file's write comes back short when the disk (or the
		 * quota) ran out in the middle of it: the rest would get ENOSPC */
		int err = res < 0 ? res : -ENOSPC;
		fprintf(stderr, "smtpsink: spill file write failed: %s%s\n", strerror(-err),
			res < 0 ? "" : " (short write)");
		fail(cap, err);
		if (io_classify(IO_VERB_WRITE, err) == IO_DISK_FULL)
			spool_out_of_room(cap->sh);
	} else {
		sp->written += sp->wlen;
	}
	mem_local_give(&cap->sh->mem, sp->wcap);
	free(sp->wbuf);
	sp->wbuf = NULL;
	sp->wlen = sp->wcap = 0;
	if (!cap->failed && cap->body_len >= chunk_limit(cap))
		start_spill(cap); /* the chunk that filled meanwhile */
	if (cap->conn != NULL)
		conn_capture_unblocked(cap->conn);
}

bool capture_body_ready(struct capture *cap)
{
	struct capture_spill *sp = &cap->spill;
	uint32_t n = 0;
	if (sp->written > 0) {
		sp->map = mmap(NULL, sp->written, PROT_READ, MAP_SHARED, sp->fd, 0);
		if (sp->map == MAP_FAILED) {
			sp->map = NULL;
			return false;
		}
		sp->map_len = sp->written;
		cap->body_iov[n++] = (struct iovec){ sp->map, sp->map_len };
	}
	if (cap->spilling && sp->wlen > 0)
		cap->body_iov[n++] = (struct iovec){ sp->wbuf, sp->wlen };
	if (cap->body_len > 0)
		cap->body_iov[n++] = (struct iovec){ cap->body, cap->body_len };
	cap->body_iov_count = n;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += cap->body_iov[i].iov_len;
	return total == cap->content_bytes;
}

void capture_free(struct capture *cap)
{
	if (cap == NULL)
		return;
	cap->conn = NULL;
	if (cap->spilling) {
		cap->dead = true; /* the kernel still reads its chunk */
		return;
	}
	free_now(cap);
}
