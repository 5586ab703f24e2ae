/*
 * io/capture.h - one message being captured: its envelope and its body,
 * gathered from session events until end of data, then handed to the spool.
 *
 * Owns: copies of what the session's events only lend (views valid during
 * the callback): MAIL FROM and its parameters, each RCPT and its
 * parameters, and the body bytes.  Allocated at MAIL, handed to the spool
 * at end of data (the spool frees it after the write that keeps it),
 * dropped on RSET/abort.  Bounded: the body by --max-size (the session stops
 * reporting content past it), the envelope by --max-rcpts command lines.
 */
#ifndef SMTPSINK_CAPTURE_H
#define SMTPSINK_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_id.h"
#include "smtp_view.h"
#include "spool_format.h"

struct conn;

struct capture_str {
	uint32_t off, len; /* into the capture's text arena */
};

struct capture {
	struct capture *next; /* in a spool batch */
	struct conn *conn; /* to answer; NULL once the connection is gone */
	uint8_t *body;
	size_t body_len, body_cap;
	char *text; /* arena: envelope strings back to back */
	size_t text_len, text_cap;
	struct capture_str mail_from, mail_params;
	struct capture_str *rcpts; /* rcpt_count pairs: address, params */
	uint32_t rcpt_count, rcpt_cap;
	uint32_t flags; /* enum smtp_msg_flag */
	bool failed; /* out of memory while gathering: refuse the message */
	/* set when the message is complete */
	char qid[QUEUE_ID_LEN + 1];
	uint64_t received_us;
	uint8_t *head; /* record header + meta */
	size_t head_len;
	uint8_t tail[SPOOL_RECORD_ALIGN + SPOOL_RECORD_TRAILER_BYTES];
	size_t tail_len;
	uint64_t segno, offset, record_len; /* where it goes */
	int seg_fd;
};

struct capture *capture_begin(struct smtp_view from, struct smtp_view params);
void capture_add_rcpt(struct capture *cap, struct smtp_view addr, struct smtp_view params);
void capture_add_body(struct capture *cap, struct smtp_view bytes);
void capture_free(struct capture *cap);

/* A view of a string kept in the capture. */
static inline struct smtp_view capture_view(const struct capture *cap, struct capture_str s)
{
	return smtp_view_make(cap->text + s.off, s.len);
}

#endif
