/*
 * http/api_wait.c - GET /api/v1/wait?query=&timeout=S[&since=RFC3339|ID]:
 * the long poll.
 *
 * Answers 200 with the summary of the oldest message matching query that
 * is stored already (after `since` when given: a time, or a message ID,
 * meaning "indexed after that one") or arrives within the timeout; 408
 * with a JSON error when the timeout passes.  While nothing matches the
 * connection is suspended in the hub and resumed by the next publish or
 * by the events thread at the deadline; each resumption queries the index
 * again.  A publish between the query and the suspension is caught by the
 * hub's generation count, so no message is missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define WAIT_DEFAULT_S 30u
#define WAIT_MAX_S 300u /* longer timeouts are capped */
#define SINCE_MAX_BYTES 64u

/* "timeout": seconds (0..., capped), default WAIT_DEFAULT_S; false: bad. */
static bool parse_timeout(const char *s, uint64_t *secs)
{
	*secs = WAIT_DEFAULT_S;
	if (s == NULL)
		return true;
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0')
		return false;
	*secs = v > WAIT_MAX_S ? WAIT_MAX_S : v;
	return true;
}

static int seq_of(void *arg, const struct mail_summary *s)
{
	*(uint64_t *)arg = s->seq;
	return 1;
}

/* "since": an RFC 3339 time or date (read by the search language's
 * after: rule), or a message ID.  0, or a reply was queued. */
static int parse_since(struct http_req *r, const char *s, enum MHD_Result *queued)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	if (http_route_valid_id(s, strlen(s), false)) {
		int e = mail_index_get(r->srv->ix, s, seq_of, &r->after_seq);
		if (e != 0)
			*queued = http_reply_errno(r, e, "since: message");
		return e;
	}
	char text[SINCE_MAX_BYTES + 8];
	struct search_query *q = malloc(sizeof *q);
	size_t at;
	int n = snprintf(text, sizeof text, "after:%s", s);
	bool ok = q != NULL && (size_t)n < sizeof text && search_query_parse(text, (size_t)n, q, &at) == SEARCH_OK &&
		  q->count == 1 && q->terms[0].field == SEARCH_AFTER;
	if (ok)
		r->since_us = (int64_t)q->terms[0].value;
	free(q);
	if (!ok)
		*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "since: expected an RFC 3339 time or a message ID");
	return ok ? 0 : -EINVAL;
}

/* First call: read the arguments. 0, or a reply was queued. */
static int wait_setup(struct http_req *r, enum MHD_Result *queued)
{
	uint64_t secs;
	if (!parse_timeout(http_arg(r, "timeout"), &secs)) {
		*queued = http_reply_error(r, MHD_HTTP_BAD_REQUEST, "timeout: expected seconds");
		return -EINVAL;
	}
	r->q = malloc(sizeof *r->q);
	if (r->q == NULL) {
		*queued = MHD_NO;
		return -ENOMEM;
	}
	const char *text = http_arg(r, "query");
	if (!http_arg_query(r, text != NULL ? text : "", r->q, queued))
		return -EINVAL;
	int e = parse_since(r, http_arg(r, "since"), queued);
	if (e != 0)
		return e;
	r->deadline_us = http_now_us() + (int64_t)secs * 1000000;
	r->w.conn = r->conn;
	r->w.kind = HUB_POLL;
	r->w.deadline_us = r->deadline_us;
	return 0;
}

static int found(void *arg, const struct mail_summary *s)
{
	api_summary_json(arg, s);
	return 1;
}

enum MHD_Result api_wait(struct http_req *r)
{
	enum MHD_Result queued = MHD_NO;
	if (r->srv->ix == NULL)
		return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no spool: messages are not kept (--discard)");
	if (r->q == NULL && wait_setup(r, &queued) != 0)
		return queued;
	for (;;) {
		uint64_t gen = http_hub_gen(&r->srv->hub);
		struct json_buf b = { 0 };
		int e = mail_index_first_since(r->srv->ix, r->q, r->after_seq, r->since_us, found, &b);
		if (e == 0)
			return http_reply_json(r, MHD_HTTP_OK, &b);
		json_buf_free(&b);
		if (e != -ENOENT)
			return http_reply_errno(r, e, "index");
		if (http_now_us() >= r->deadline_us)
			return http_reply_error(r, MHD_HTTP_REQUEST_TIMEOUT, "no matching message within the timeout");
		if (atomic_load(&r->srv->stopping))
			return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
		if (http_hub_suspend(&r->srv->hub, &r->w, gen))
			return MHD_YES; /* resumed by a publish or the deadline: called again */
	}
}
