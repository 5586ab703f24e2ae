/*
 * tests/core/session_harness.c - drives a session over scripted input and
 * renders replies and events as split-independent text; the check counters.
 *
 * Owns: the guard-page buffers (input pieces end at a PROT_NONE page, so
 * do the output buffer and the command-line carry, which is lent and taken
 * back around each feed() as the server does), the engine-like feed loop,
 * the event text, the
 * expect_* comparisons and their diagnostics.  It does not own scenarios.
 *
 * Invariants: one run owns one session, one input mapping, one output
 * mapping and one carry mapping, all released before harness_run_opts() returns; the event text
 * never depends on where the input was cut (see the header).  The only
 * mutable globals are the check counters.
 *
 * Workload: test inputs of a few KB, run a few thousand times per binary.
 */
#define _GNU_SOURCE
#include "session_harness.h"

#include "text_ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned harness_passed;
unsigned harness_failures;

/* ---- growable text ------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static void sbuf_add(struct sbuf *b, const void *bytes, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, bytes, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	sbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Byte-exact dumps for golden transcripts: printable ASCII as itself (the
 * display rule of core/text_ctl.h), the usual C escapes, every other byte
 * (controls, and UTF-8 too: the bytes must be visible) as \xNN. */
static void sbuf_escaped(struct sbuf *b, const void *bytes, size_t len)
{
	static const char from[] = "\r\n\t\\\"", to[] = "rnt\\\"";
	const uint8_t *p = bytes;
	struct text_unit u;
	for (size_t i = 0; i < len; i += u.len) {
		text_unit_next(p + i, len - i, &u);
		for (uint32_t k = 0; k < u.len; k++) {
			uint8_t c = p[i + k];
			const char *hit = c ? memchr(from, c, sizeof(from) - 1) : NULL;
			if (c == 0)
				sbuf_str(b, "\\0");
			else if (hit)
				sbuf_printf(b, "\\%c", to[hit - from]);
			else if (u.kind == TEXT_UNIT_ASCII)
				sbuf_add(b, &c, 1);
			else
				sbuf_printf(b, "\\x%02x", c);
		}
	}
}

char *harness_escape(const void *bytes, size_t len)
{
	struct sbuf b = { 0 };
	sbuf_add(&b, "", 0);
	sbuf_escaped(&b, bytes, len);
	return b.p;
}

/* ---- guard-page mappings ------------------------------------------------ */

struct guarded {
	uint8_t *base;
	size_t map_len;
	uint8_t *end; /* first byte of the PROT_NONE page */
};

/* Map room for at least usable bytes followed by one inaccessible page. */
static void guarded_map(struct guarded *g, size_t usable)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (usable + page - 1) / page * page;
	if (n == 0)
		n = page;
	g->map_len = n + page;
	void *m = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("session_harness: mmap");
		abort();
	}
	g->base = m;
	g->end = g->base + n;
	if (mprotect(g->end, page, PROT_NONE) != 0) {
		perror("session_harness: mprotect");
		abort();
	}
}

static void guarded_unmap(struct guarded *g)
{
	munmap(g->base, g->map_len);
}

/* ---- one run ------------------------------------------------------------- */

struct run {
	const struct harness_opts *o;
	struct harness_result *r;
	struct smtp_config cfg;
	struct smtp_session s;
	struct smtp_out out;
	struct guarded in_map;
	struct guarded out_map;
	struct guarded carry_map; /* the command-line carry, lent only on demand */
	uint8_t *carry;
	struct sbuf replies;
	struct sbuf events;
	struct sbuf body; /* BODY bytes of the message in progress */
	unsigned cmd_index;
	unsigned msg_index;
	bool verdict_due; /* MSG_END seen, SMTP_STOP_VERDICT not yet */
	bool closed; /* SMTP_STOP_CLOSE seen: feed no more */
	bool close_checked; /* input after the close was offered once */
	bool dead; /* a contract breach made going on pointless */
};

static void run_error(struct run *rn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void run_error(struct run *rn, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sbuf_printf(&rn->events, "HARNESS %s\n", tmp);
	rn->r->harness_errors++;
}

const char *harness_reason_name(enum smtp_reason why)
{
	static const char *const names[] = {
		[SMTP_REASON_NONE] = "none",
		[SMTP_REASON_RSET] = "rset",
		[SMTP_REASON_HELO] = "helo",
		[SMTP_REASON_QUIT] = "quit",
		[SMTP_REASON_EOF] = "eof",
		[SMTP_REASON_TIMEOUT] = "timeout",
		[SMTP_REASON_SHUTDOWN] = "shutdown",
		[SMTP_REASON_TOO_BIG] = "too_big",
		[SMTP_REASON_BARE_LF] = "bare_lf",
		[SMTP_REASON_BDAT_ERROR] = "bdat_error",
		[SMTP_REASON_TOO_MANY_ERRORS] = "too_many_errors",
		[SMTP_REASON_SYNTAX] = "syntax",
		[SMTP_REASON_SYNC] = "sync",
		[SMTP_REASON_FAULT] = "fault",
		[SMTP_REASON_VERDICT] = "verdict",
	};
	if ((size_t)why < sizeof(names) / sizeof(names[0]) && names[why])
		return names[why];
	return "?";
}

/* Flag names (core's, smtp_msg_flags.c) in bit order, "," between them;
 * bits without a name in hex; "-" for none. */
static void add_msg_flags(struct sbuf *b, uint32_t flags, bool show_sync)
{
	if (!show_sync)
		flags &= ~(uint32_t)SMTP_MSG_ILL_PIPELINING;
	bool any = false;
	for (unsigned i = 0; i < 32; i++) {
		const char *name = smtp_msg_flags_name(1u << i);
		if (!(flags & (1u << i)) || name == NULL)
			continue;
		sbuf_printf(b, "%s%s", any ? "," : "", name);
		flags &= ~(1u << i);
		any = true;
	}
	if (flags)
		sbuf_printf(b, "%s0x%x", any ? "," : "", (unsigned)flags);
	else if (!any)
		sbuf_str(b, "-");
}

/* " key=<escaped view>" */
static void add_view(struct sbuf *b, const char *key, struct smtp_view v)
{
	sbuf_printf(b, " %s=<", key);
	sbuf_escaped(b, v.ptr, v.len);
	sbuf_str(b, ">");
}

static void add_mail(struct sbuf *b, const struct smtp_event *ev)
{
	static const char *const body[] = { "", "7bit", "8bitmime", "binarymime" };
	static const char *const ret[] = { "", "full", "hdrs" };
	sbuf_str(b, "MAIL");
	add_view(b, "from", ev->arg);
	add_view(b, "params", ev->params);
	if (ev->flags & SMTP_EVF_NO_BRACKETS)
		sbuf_str(b, " no_brackets");
	const struct smtp_mail_params *m = ev->mail;
	if (m) {
		if (m->size_bytes)
			sbuf_printf(b, " size=%llu", (unsigned long long)m->size_bytes);
		if (m->body > SMTP_BODY_UNSPECIFIED && m->body <= SMTP_BODY_BINARYMIME)
			sbuf_printf(b, " body=%s", body[m->body]);
		if (m->ret > SMTP_RET_UNSPECIFIED && m->ret <= SMTP_RET_HDRS)
			sbuf_printf(b, " ret=%s", ret[m->ret]);
		if (m->smtputf8)
			sbuf_str(b, " smtputf8");
		if (m->auth.len)
			add_view(b, "auth", m->auth);
		if (m->envid.len)
			add_view(b, "envid", m->envid);
	}
	sbuf_str(b, "\n");
}

static void add_rcpt(struct sbuf *b, const struct smtp_event *ev)
{
	static const char *const notify[] = { "never", "success", "failure", "delay" };
	sbuf_str(b, "RCPT");
	add_view(b, "to", ev->arg);
	add_view(b, "params", ev->params);
	if (ev->flags & SMTP_EVF_NO_BRACKETS)
		sbuf_str(b, " no_brackets");
	const struct smtp_rcpt_params *p = ev->rcpt;
	if (p && p->notify) {
		sbuf_str(b, " notify=");
		bool any = false;
		for (unsigned i = 0; i < 4; i++) {
			if (p->notify & (1u << i)) {
				sbuf_printf(b, "%s%s", any ? "," : "", notify[i]);
				any = true;
			}
		}
	}
	if (p && p->orcpt.len)
		add_view(b, "orcpt", p->orcpt);
	sbuf_str(b, "\n");
}

/* MSG_END / MSG_ABORT: the joined BODY bytes end here. */
static void add_msg_done(struct run *rn, const struct smtp_event *ev)
{
	struct sbuf *b = &rn->events;
	if (ev->type == SMTP_EV_MSG_END) {
		sbuf_printf(b, "MSG_END size=%llu rcpts=%u flags=", (unsigned long long)ev->size_bytes,
			    (unsigned)ev->rcpts);
		add_msg_flags(b, ev->flags, rn->o->show_sync_flags);
		if (rn->verdict_due)
			run_error(rn, "MSG_END while a verdict is due");
		rn->verdict_due = true;
	} else {
		sbuf_printf(b, "MSG_ABORT reason=%s", harness_reason_name(ev->reason));
	}
	sbuf_str(b, " body=\"");
	sbuf_escaped(b, rn->body.p, rn->body.len);
	sbuf_str(b, "\"\n");
	rn->body.len = 0;
}

static void add_event(struct run *rn, const struct smtp_event *ev)
{
	struct sbuf *b = &rn->events;
	switch (ev->type) {
	case SMTP_EV_GREETING:
		sbuf_str(b, "GREETING\n");
		break;
	case SMTP_EV_COMMAND:
		sbuf_printf(b, "CMD %s\n", smtp_cmd_name(ev->verb));
		break;
	case SMTP_EV_HELO:
		sbuf_printf(b, "HELO %s", smtp_cmd_name(ev->verb));
		add_view(b, "name", ev->arg);
		sbuf_str(b, ev->flags & SMTP_EVF_NO_NAME ? " no_name\n" : "\n");
		break;
	case SMTP_EV_AUTH_USER:
		sbuf_str(b, "AUTH_USER");
		add_view(b, "user", ev->arg);
		sbuf_str(b, "\n");
		break;
	case SMTP_EV_AUTH:
		sbuf_str(b, ev->flags & SMTP_EVF_OK ? "AUTH ok\n" : "AUTH fail\n");
		break;
	case SMTP_EV_MAIL:
		add_mail(b, ev);
		break;
	case SMTP_EV_RCPT:
		add_rcpt(b, ev);
		break;
	case SMTP_EV_DATA_BEGIN:
		sbuf_str(b, ev->flags & SMTP_EVF_BDAT ? "DATA_BEGIN bdat\n" : "DATA_BEGIN\n");
		break;
	case SMTP_EV_BODY:
		if (ev->arg.len == 0 || ev->arg.ptr == NULL)
			run_error(rn, "BODY event with %zu bytes at %p", ev->arg.len, (const void *)ev->arg.ptr);
		else
			sbuf_add(&rn->body, ev->arg.ptr, ev->arg.len);
		break;
	case SMTP_EV_MSG_END:
	case SMTP_EV_MSG_ABORT:
		add_msg_done(rn, ev);
		break;
	case SMTP_EV_RESET:
		sbuf_str(b, "RESET\n");
		break;
	case SMTP_EV_QUIT:
		sbuf_str(b, "QUIT\n");
		break;
	case SMTP_EV_CLOSE:
		sbuf_printf(b, "CLOSE reason=%s\n", harness_reason_name(ev->reason));
		break;
	default:
		run_error(rn, "unknown event type %d", (int)ev->type);
	}
}

static const struct smtp_override *run_on_event(void *ctx, const struct smtp_event *ev)
{
	struct run *rn = ctx;
	if (rn->closed)
		run_error(rn, "event %d after SMTP_STOP_CLOSE", (int)ev->type);
	add_event(rn, ev);
	if (ev->type != SMTP_EV_COMMAND || rn->o->override == NULL)
		return NULL;
	return rn->o->override(rn->o->override_ctx, ev, rn->cmd_index++);
}

/* Send the output: append it to the replies and poison the buffer. */
static void run_drain(struct run *rn)
{
	if (rn->out.len > rn->out.cap) {
		run_error(rn, "output length %zu exceeds capacity %zu", rn->out.len, rn->out.cap);
		rn->out.len = rn->out.cap;
		rn->dead = true;
	}
	sbuf_add(&rn->replies, rn->out.buf, rn->out.len);
	memset(rn->out.buf, 0xa5, rn->out.cap);
	rn->out.len = 0;
}

/* As a server does: take the carry back once no line is pending in it, and
 * scribble over it, so that a line still pending in a carry taken back
 * shows as garbage when it completes. */
static void run_carry_back(struct run *rn)
{
	uint8_t *carry = smtp_session_carry_idle(&rn->s);
	if (carry == NULL)
		return;
	if (carry != rn->carry)
		run_error(rn, "the session gave back a carry it was never lent");
	memset(rn->carry, 0x5a, LINE_SCAN_CARRY_BYTES);
}

/* One feed() call with the contract checks; returns the stop reason. */
static enum smtp_stop run_feed(struct run *rn, const uint8_t *p, size_t n, size_t *used)
{
	size_t before = rn->out.len;
	*used = (size_t)-1;
	if (smtp_session_carry_wanted(&rn->s, p, n))
		smtp_session_carry_lend(&rn->s, rn->carry);
	enum smtp_stop stop = smtp_session_feed(&rn->s, p, n, used, &rn->out);
	run_carry_back(rn);
	if (*used > n) {
		run_error(rn, "feed consumed %zu of %zu bytes", *used, n);
		*used = n;
		rn->dead = true;
	}
	if (rn->out.len > rn->out.cap) {
		run_error(rn, "output length %zu exceeds capacity %zu", rn->out.len, rn->out.cap);
		rn->dead = true;
	}
	if (stop == SMTP_STOP_INPUT && *used != n)
		run_error(rn, "SMTP_STOP_INPUT with %zu bytes unconsumed", n - *used);
	if (stop == SMTP_STOP_OUT_FULL && *used == 0 && before == 0 && rn->out.len == 0) {
		run_error(rn, "SMTP_STOP_OUT_FULL with an empty output and no progress");
		rn->dead = true;
	}
	if (stop == SMTP_STOP_VERDICT && !rn->verdict_due) {
		run_error(rn, "SMTP_STOP_VERDICT without MSG_END");
		rn->dead = true;
	}
	if (stop != SMTP_STOP_VERDICT && rn->verdict_due) {
		run_error(rn, "stop %d while a verdict is due", (int)stop);
		rn->dead = true;
	}
	if (stop > SMTP_STOP_STARTTLS || stop == SMTP_STOP_PAUSE) {
		run_error(rn, "unknown stop %d", (int)stop);
		rn->dead = true;
	}
	return stop;
}

/* After CLOSE: the session must take no more input and write nothing.
 * Checked once, with the first input that arrives after the close. */
static void run_after_close(struct run *rn, const uint8_t *p, size_t n)
{
	size_t used;
	rn->closed = true;
	rn->r->closed = true;
	if (n == 0 || rn->close_checked)
		return;
	rn->close_checked = true;
	size_t before = rn->out.len;
	enum smtp_stop stop = smtp_session_feed(&rn->s, p, n, &used, &rn->out);
	if (used != 0)
		run_error(rn, "consumed %zu bytes after SMTP_STOP_CLOSE", used);
	if (stop != SMTP_STOP_CLOSE)
		run_error(rn, "feed after SMTP_STOP_CLOSE returned %d", (int)stop);
	if (rn->out.len != before)
		run_error(rn, "wrote %zu bytes after SMTP_STOP_CLOSE", rn->out.len - before);
}

/* LMTP: the verdict left replies to write; feed no input until done. */
static void run_flush_verdict(struct run *rn, const uint8_t *p)
{
	for (unsigned i = 0; i < 100000 && !rn->dead; i++) {
		size_t used;
		run_drain(rn);
		enum smtp_stop stop = run_feed(rn, p, 0, &used);
		if (stop == SMTP_STOP_INPUT)
			return;
		if (stop == SMTP_STOP_CLOSE) {
			run_after_close(rn, p, 0);
			return;
		}
		if (stop != SMTP_STOP_OUT_FULL) {
			run_error(rn, "feed with no input after a verdict returned %d", (int)stop);
			rn->dead = true;
		}
	}
	if (!rn->dead)
		run_error(rn, "verdict replies never finished");
	rn->dead = true;
}

static void run_verdict(struct run *rn, const uint8_t *p)
{
	char qid[16];
	unsigned idx = rn->msg_index++;
	snprintf(qid, sizeof(qid), "Q%u", idx + 1);
	struct smtp_verdict v = {
		.code = rn->o->verdict_code ? rn->o->verdict_code : 250,
		.qid = qid,
		.text = rn->o->verdict_text ? rn->o->verdict_text : "4.3.0 Error: write error",
	};
	if (rn->o->verdict)
		rn->o->verdict(rn->o->verdict_ctx, idx, &v);
	rn->verdict_due = false;
	enum smtp_stop stop = smtp_session_verdict(&rn->s, &v, &rn->out);
	if (rn->out.len > rn->out.cap) {
		run_error(rn, "verdict: output length %zu exceeds capacity %zu", rn->out.len, rn->out.cap);
		rn->dead = true;
		return;
	}
	if (stop == SMTP_STOP_OUT_FULL)
		run_flush_verdict(rn, p);
	else if (stop == SMTP_STOP_CLOSE) /* strict_sync: input came too early */
		run_after_close(rn, p, 0);
	else if (stop != SMTP_STOP_INPUT)
		run_error(rn, "smtp_session_verdict returned %d", (int)stop);
}

/* Feed one piece (already placed against the guard page) to the end. */
static void run_piece(struct run *rn, const uint8_t *p, size_t n)
{
	if (rn->closed) {
		run_after_close(rn, p, n);
		return;
	}
	for (unsigned spins = 0; !rn->dead && !rn->closed; spins++) {
		size_t used;
		if (spins > 10u * 1000u * 1000u) {
			run_error(rn, "no end to feeding a %zu-byte piece", n);
			rn->dead = true;
			return;
		}
		enum smtp_stop stop = run_feed(rn, p, n, &used);
		p += used;
		n -= used;
		switch (stop) {
		case SMTP_STOP_INPUT:
			return;
		case SMTP_STOP_OUT_FULL:
			run_drain(rn);
			break;
		case SMTP_STOP_VERDICT:
			run_verdict(rn, p);
			if (rn->closed)
				run_after_close(rn, p, n);
			break;
		case SMTP_STOP_CLOSE:
			run_after_close(rn, p, n);
			return;
		case SMTP_STOP_STARTTLS: /* a handshake that succeeds at once; the
					    rest stands for what TLS decrypts */
			smtp_session_tls_started(&rn->s);
			break;
		default:
			return;
		}
	}
}

static void run_setup(struct run *rn, const struct harness_opts *o, size_t max_piece)
{
	if (o->cfg)
		rn->cfg = *o->cfg;
	else
		smtp_config_defaults(&rn->cfg);
	size_t cap = o->out_cap ? o->out_cap : HARNESS_OUT_CAP_DEFAULT;
	guarded_map(&rn->in_map, max_piece);
	guarded_map(&rn->out_map, cap);
	guarded_map(&rn->carry_map, LINE_SCAN_CARRY_BYTES);
	rn->carry = rn->carry_map.end - LINE_SCAN_CARRY_BYTES;
	rn->out.buf = rn->out_map.end - cap;
	rn->out.cap = cap;
	rn->out.len = 0;
	smtp_session_init(&rn->s, &rn->cfg, run_on_event, rn);
}

static size_t max_piece_len(size_t len, const size_t *cuts, size_t ncuts)
{
	size_t prev = 0, max = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len;
		if (at < prev || at > len) {
			fprintf(stderr, "session_harness: cut %zu (%zu) out of order or past %zu\n", i, at, len);
			abort();
		}
		if (at - prev > max)
			max = at - prev;
		prev = at;
	}
	return max;
}

void harness_run_opts(const struct harness_opts *o, const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
		      struct harness_result *r)
{
	static const struct harness_opts no_opts;
	struct run *rn = calloc(1, sizeof(*rn));
	if (!rn)
		abort();
	memset(r, 0, sizeof(*r));
	rn->o = o ? o : &no_opts;
	rn->r = r;
	run_setup(rn, rn->o, max_piece_len(len, cuts, ncuts));
	sbuf_add(&rn->events, "", 0);
	sbuf_add(&rn->replies, "", 0);
	if (!rn->o->no_greet)
		smtp_session_greet(&rn->s, &rn->out);
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts && !rn->dead; i++) {
		size_t at = i < ncuts ? cuts[i] : len;
		uint8_t *p = rn->in_map.end - (at - prev);
		memcpy(p, in + prev, at - prev);
		run_piece(rn, p, at - prev);
		prev = at;
	}
	if (rn->o->eof_at_end && !rn->closed && !rn->dead)
		smtp_session_eof(&rn->s);
	run_drain(rn);
	if (rn->body.len && !rn->dead)
		run_error(rn, "%zu BODY bytes never ended by MSG_END/MSG_ABORT", rn->body.len);
	r->replies = rn->replies.p;
	r->replies_len = rn->replies.len;
	r->events = rn->events.p;
	r->events_len = rn->events.len;
	free(rn->body.p);
	guarded_unmap(&rn->in_map);
	guarded_unmap(&rn->out_map);
	guarded_unmap(&rn->carry_map);
	free(rn);
}

void harness_run(const struct smtp_config *cfg, const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
		 struct harness_result *r)
{
	struct harness_opts o = { .cfg = cfg };
	harness_run_opts(&o, in, len, cuts, ncuts, r);
}

void harness_result_free(struct harness_result *r)
{
	free(r->replies);
	free(r->events);
	memset(r, 0, sizeof(*r));
}

/* ---- expectations -------------------------------------------------------- */

static size_t first_difference(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;
	while (i < alen && i < blen && a[i] == b[i])
		i++;
	return i;
}

/* Print a multi-line text with a prefix per line (events are one a line). */
static void print_lines(const char *prefix, const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(stderr, "%s%.*s\n", prefix, (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

static void print_mismatch(const char *label, const char *input, size_t len, const struct harness_result *r,
			   const char *want_replies, const char *want_events)
{
	char *in = harness_escape(input, len > 600 ? 600 : len);
	fprintf(stderr, "FAIL session scenario, run: %s\n  input (%zu bytes): \"%s\"%s\n", label, len, in,
		len > 600 ? "..." : "");
	free(in);
	if (strlen(want_replies) != r->replies_len || memcmp(want_replies, r->replies, r->replies_len) != 0) {
		char *w = harness_escape(want_replies, strlen(want_replies));
		char *g = harness_escape(r->replies, r->replies_len);
		size_t at = first_difference(want_replies, strlen(want_replies), r->replies, r->replies_len);
		fprintf(stderr, "  replies differ at byte %zu\n  want: \"%s\"\n  got:  \"%s\"\n", at, w, g);
		free(w);
		free(g);
	}
	if (want_events && strcmp(want_events, r->events) != 0) {
		fprintf(stderr, "  events differ at byte %zu\n  want:\n",
			first_difference(want_events, strlen(want_events), r->events, r->events_len));
		print_lines("    | ", want_events);
		fprintf(stderr, "  got:\n");
		print_lines("    | ", r->events);
	} else if (r->harness_errors) {
		fprintf(stderr, "  harness errors:\n");
		print_lines("    | ", r->events);
	}
}

/* One run compared with the expectation; prints the first mismatch only. */
static bool expect_one(const struct harness_opts *o, const char *input, size_t len, const size_t *cuts, size_t ncuts,
		       const char *label, const char *want_replies, const char *want_events, bool *reported)
{
	struct harness_result r;
	harness_run_opts(o, (const uint8_t *)input, len, cuts, ncuts, &r);
	bool ok = r.harness_errors == 0 && strlen(want_replies) == r.replies_len &&
		  memcmp(want_replies, r.replies, r.replies_len) == 0 &&
		  (want_events == NULL || strcmp(want_events, r.events) == 0);
	if (!ok && !*reported) {
		print_mismatch(label, input, len, &r, want_replies, want_events);
		*reported = true;
	}
	harness_result_free(&r);
	return ok;
}

static int expect_count(bool ok, unsigned bad_runs, unsigned runs)
{
	if (ok) {
		harness_passed++;
		return 0;
	}
	if (runs > 1)
		fprintf(stderr, "  %u of %u runs of this scenario failed\n", bad_runs, runs);
	harness_failures++;
	return 1;
}

int harness_expect_all_splits(const struct harness_opts *o, const char *input, size_t len, const char *expected_replies,
			      const char *expected_events)
{
	bool reported = false;
	unsigned runs = 0, bad = 0;
	char label[64];
	bad += !expect_one(o, input, len, NULL, 0, "whole", expected_replies, expected_events, &reported);
	runs++;
	for (size_t at = 1; at < len; at++) {
		snprintf(label, sizeof(label), "cut at %zu", at);
		bad += !expect_one(o, input, len, &at, 1, label, expected_replies, expected_events, &reported);
		runs++;
	}
	if (len > 2) {
		size_t *cuts = malloc((len - 1) * sizeof(*cuts));
		if (!cuts)
			abort();
		for (size_t i = 0; i < len - 1; i++)
			cuts[i] = i + 1;
		bad += !expect_one(o, input, len, cuts, len - 1, "byte by byte", expected_replies, expected_events,
				   &reported);
		runs++;
		free(cuts);
	}
	return expect_count(bad == 0, bad, runs);
}

int harness_expect_whole(const struct harness_opts *o, const char *input, size_t len, const char *expected_replies,
			 const char *expected_events)
{
	bool reported = false;
	bool ok = expect_one(o, input, len, NULL, 0, "whole", expected_replies, expected_events, &reported);
	return expect_count(ok, !ok, 1);
}

int harness_expect_cuts(const struct harness_opts *o, const char *input, size_t len, const size_t *cuts, size_t ncuts,
			const char *expected_replies, const char *expected_events)
{
	bool reported = false;
	char label[64];
	snprintf(label, sizeof(label), "%zu cuts, first at %zu", ncuts, ncuts ? cuts[0] : (size_t)0);
	bool ok = expect_one(o, input, len, cuts, ncuts, label, expected_replies, expected_events, &reported);
	return expect_count(ok, !ok, 1);
}

/* ---- checks -------------------------------------------------------------- */

bool harness_check(bool ok, const char *file, int line, const char *what)
{
	if (ok) {
		harness_passed++;
		return true;
	}
	harness_failures++;
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
	return false;
}

bool harness_check_mem(const void *got, size_t got_len, const void *want, size_t want_len, const char *file, int line,
		       const char *what)
{
	bool ok = got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0);
	if (!harness_check(ok, file, line, what)) {
		char *g = harness_escape(got, got_len);
		char *w = harness_escape(want, want_len);
		fprintf(stderr, "  want: \"%s\"\n  got:  \"%s\"\n", w, g);
		free(g);
		free(w);
	}
	return ok;
}

bool harness_check_u64(uint64_t got, uint64_t want, const char *file, int line, const char *what)
{
	if (!harness_check(got == want, file, line, what)) {
		fprintf(stderr, "  want: %llu\n  got:  %llu\n", (unsigned long long)want, (unsigned long long)got);
		return false;
	}
	return true;
}

int harness_finish(const char *suite_name)
{
	printf("%s: %u passed, %u failed\n", suite_name, harness_passed, harness_failures);
	return harness_failures ? 1 : 0;
}

/* ---- random input -------------------------------------------------------- */

void harness_rng_bytes(struct harness_rng *g, uint8_t *buf, size_t len, const char *alphabet)
{
	size_t n = alphabet ? strlen(alphabet) : 0;
	for (size_t i = 0; i < len; i++) {
		if (n)
			buf[i] = (uint8_t)alphabet[harness_rng_below(g, n)];
		else
			buf[i] = (uint8_t)harness_rng_next(g);
	}
}

void harness_rng_cuts(struct harness_rng *g, size_t len, size_t *cuts, size_t ncuts)
{
	for (size_t i = 0; i < ncuts; i++)
		cuts[i] = (size_t)harness_rng_below(g, (uint64_t)len + 1);
	/* Insertion sort: ncuts is small in every test. */
	for (size_t i = 1; i < ncuts; i++) {
		size_t v = cuts[i], j = i;
		while (j > 0 && cuts[j - 1] > v) {
			cuts[j] = cuts[j - 1];
			j--;
		}
		cuts[j] = v;
	}
}
