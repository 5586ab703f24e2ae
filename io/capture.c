/*
 * io/capture.c - gather one message's envelope and body (see capture.h).
 *
 * Owns: growth of the body buffer and the text arena (doubling, so a
 * message of n bytes costs O(log n) reallocations and one copy of each byte
 * from the receive buffers, which must go back to the kernel quickly).  An
 * allocation failure marks the capture failed instead of crashing; the
 * message is then refused with a 4xx.
 */
#include "capture.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define CAPTURE_FIRST_CAP 64u /* elements of a fresh body, arena or recipient list */

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	return grow_array(buf, cap, need, elem, CAPTURE_FIRST_CAP);
}

static struct capture_str keep(struct capture *cap, struct smtp_view v)
{
	struct capture_str s = { (uint32_t)cap->text_len, (uint32_t)v.len };
	if (!grow((void **)&cap->text, &cap->text_cap, cap->text_len + v.len + 1, 1)) {
		cap->failed = true;
		s.len = 0;
		return s;
	}
	if (v.len > 0)
		memcpy(cap->text + cap->text_len, v.ptr, v.len);
	cap->text_len += v.len;
	return s;
}

struct capture *capture_begin(struct smtp_view from, struct smtp_view params)
{
	struct capture *cap = calloc(1, sizeof *cap);
	if (cap == NULL)
		return NULL;
	cap->mail_from = keep(cap, from);
	cap->mail_params = keep(cap, params);
	return cap;
}

void capture_add_rcpt(struct capture *cap, struct smtp_view addr, struct smtp_view params)
{
	size_t cap_n = cap->rcpt_cap;
	if (!grow((void **)&cap->rcpts, &cap_n, 2 * ((size_t)cap->rcpt_count + 1), sizeof *cap->rcpts)) {
		cap->failed = true;
		return;
	}
	cap->rcpt_cap = (uint32_t)cap_n;
	cap->rcpts[2 * cap->rcpt_count] = keep(cap, addr);
	cap->rcpts[2 * cap->rcpt_count + 1] = keep(cap, params);
	cap->rcpt_count++;
}

void capture_add_body(struct capture *cap, struct smtp_view bytes)
{
	if (cap->failed || !grow((void **)&cap->body, &cap->body_cap, cap->body_len + bytes.len, 1)) {
		cap->failed = true;
		return;
	}
	memcpy(cap->body + cap->body_len, bytes.ptr, bytes.len);
	cap->body_len += bytes.len;
}

void capture_free(struct capture *cap)
{
	if (cap == NULL)
		return;
	free(cap->body);
	free(cap->text);
	free(cap->rcpts);
	free(cap->head);
	free(cap);
}
