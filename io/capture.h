/*
 * io/capture.h - one message being captured: its envelope and its body,
 * gathered from session events until end of data, then handed to the spool.
 *
 * Owns: copies of what the session's events only lend (views valid during
 * the callback): MAIL FROM and its parameters, each RCPT and its
 * parameters, and the body.  Allocated at MAIL, handed to the spool at end
 * of data (the spool frees it after the write that keeps it), dropped on
 * RSET/abort.
 *
 * Bounded memory whatever the message size: the body is held in memory
 * only up to a chunk (CAPTURE_CHUNK_MAX_BYTES, smaller while the memory
 * budget is tight, mem_budget.h); past it, the content goes to a spill
 * file as it arrives (an unlinked temporary file in the shard's spool
 * directory, written in the background through the backend), one write in
 * flight at a time.  While that write is in flight and the chunk after it
 * is full, capture_blocked() says so and the connection stops feeding
 * content (and, when its input piles up, receiving) until the write is
 * done.  At end of data the record's body is the spill file (mapped) and
 * the chunks still in memory; an aborted transaction closes its spill
 * file, which leaves nothing behind.  Small messages never touch a file.
 */
#ifndef SMTPSINK_CAPTURE_H
#define SMTPSINK_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"
#include "queue_id.h"
#include "smtp_view.h"
#include "spool_format.h"

#define CAPTURE_CHUNK_MAX_BYTES (256u * 1024u) /* content held before spilling */
#define CAPTURE_CHUNK_TIGHT_BYTES (16u * 1024u) /* ... while the budget is tight */
#define CAPTURE_BODY_IOV_MAX 3u /* spill file, chunk being written, chunk in memory */

struct conn;
struct shard;

struct capture_str {
	uint32_t off, len; /* into the capture's text arena */
};

/* The part of the content that went to the spill file. */
struct capture_spill {
	int fd; /* -1 until the first spill */
	uint64_t written; /* bytes the file holds (writes completed) */
	uint8_t *wbuf; /* the chunk being written: the kernel's until done */
	size_t wlen, wcap; /* its bytes, and its capacity (in the budget) */
	struct io_op op; /* IO_OP_SPILL_WRITE, owner: the capture */
	void *map; /* the file, mapped for the record's write */
	size_t map_len;
};

struct capture {
	struct capture *next; /* in a spool batch */
	struct conn *conn; /* to answer and resume; NULL once the connection let go */
	struct shard *sh;
	uint8_t *body; /* the newest content, not spilled */
	size_t body_len, body_cap;
	uint64_t content_bytes; /* all of the body so far */
	uint64_t size_hint; /* MAIL SIZE=, 0: none */
	struct capture_spill spill;
	bool spilling; /* a spill write is in flight */
	bool dead; /* freed by its owner while a spill write was in flight */
	char *text; /* arena: envelope strings back to back */
	size_t text_len, text_cap;
	struct capture_str mail_from, mail_params;
	struct capture_str *rcpts; /* rcpt_count pairs: address, params */
	uint32_t rcpt_count, rcpt_cap;
	size_t held; /* text, rcpts and head as allocated: counted in the memory budget */
	uint32_t flags; /* enum smtp_msg_flag */
	bool failed; /* out of memory or a spill error: refuse the message */
	int error; /* why: -ENOMEM, or the spill file's -errno */
	/* set when the message is complete */
	char qid[QUEUE_ID_LEN + 1];
	uint64_t received_us;
	uint8_t *head; /* record header + meta */
	size_t head_len;
	uint8_t tail[SPOOL_RECORD_ALIGN + SPOOL_RECORD_TRAILER_BYTES];
	size_t tail_len;
	struct iovec body_iov[CAPTURE_BODY_IOV_MAX]; /* the body, in order */
	uint32_t body_iov_count;
	uint64_t segno, offset, record_len; /* where it goes */
	int seg_fd;
};

/* At MAIL: size_hint is MAIL's SIZE= (0: none), to size the first chunk. */
struct capture *capture_begin(struct shard *sh, struct conn *c, struct smtp_view from, struct smtp_view params,
			      uint64_t size_hint);
void capture_add_rcpt(struct capture *cap, struct smtp_view addr, struct smtp_view params);
/* May the envelope take one more recipient of these lengths within the
 * memory budget (or the session's floor)?  false: RCPT gets 452 4.3.1. */
bool capture_rcpt_room(const struct capture *cap, size_t addr_len, size_t params_len);
/* The record head (head_len bytes), counted in the budget; false: no memory. */
bool capture_alloc_head(struct capture *cap);
void capture_add_body(struct capture *cap, struct smtp_view bytes);
/* The content cannot be taken now: a spill write is in flight and the
 * chunk after it is full.  The connection feeds no content until
 * capture_on_spilled() resumes it. */
bool capture_blocked(const struct capture *cap);
/* Backend completion of a spill write (res: bytes or -errno). */
void capture_on_spilled(struct capture *cap, int res);
/* End of data: lay the body out as iovecs (mapping the spill file). */
bool capture_body_ready(struct capture *cap);
void capture_free(struct capture *cap);

/* A view of a string kept in the capture. */
static inline struct smtp_view capture_view(const struct capture *cap, struct capture_str s)
{
	return smtp_view_make(cap->text + s.off, s.len);
}

#endif
