/*
 * io/conn_trace.c - what a connection's transcript says (see conn_trace.h).
 */
#include "conn_trace.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_fault.h"
#include "fault_rules.h"
#include "session_report.h"
#include "shard.h"

static struct trace_buf *buf(const struct conn *c)
{
	return &c->shard->trace;
}

static const struct trace_sink *sink(const struct conn *c)
{
	return &c->shard->shared->trace;
}

/* The session's start on the lines' clock. */
static uint64_t start(const struct conn *c)
{
	return c->trace != NULL ? c->trace->start_us : 0;
}

void conn_trace_start(struct conn *c)
{
	struct shard *sh = c->shard;
	uint8_t fam = conn_client_family(c);
	if (!trace_wanted(sink(c), fam, c->peer.addr))
		return;
	c->trace = calloc(1, sizeof *c->trace);
	if (c->trace == NULL)
		return;
	c->trace->start_us = trace_clock(sink(c));
	char addr[INET6_ADDRSTRLEN] = "unix";
	if (fam != 0)
		inet_ntop(c->peer.family, c->peer.addr, addr, sizeof addr);
	conn_trace_note(c, "connect from %s port %u to shard %u", addr, c->peer.port, sh->index);
}

void conn_trace_note(const struct conn *c, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n > 0)
		trace_line(buf(c), sink(c), start(c), c->sid, "--", text,
			   (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

/* Announce the group that just ended before its first command, stamped
 * with that command's time so the transcript's clock never goes back. */
static void close_group(struct conn_trace *t, const struct conn *c)
{
	if (t->group_n == 0)
		return;
	struct trace_buf *b = buf(c);
	if (t->group_n > 1 && t->group_mark <= b->len) {
		size_t tail = b->len - t->group_mark;
		char text[64];
		int n = snprintf(text, sizeof text, "pipelined: the next %u commands came in one read", t->group_n);
		trace_line_at(b, sink(c), t->group_us, t->start_us, c->sid, "--", text,
			      (size_t)n); /* the first command's time */
		size_t line = b->len - t->group_mark - tail; /* the note just written */
		char *note = malloc(line);
		if (note != NULL) { /* move it in front of the group */
			memcpy(note, b->buf + b->len - line, line);
			memmove(b->buf + t->group_mark + line, b->buf + t->group_mark, tail);
			memcpy(b->buf + t->group_mark, note, line);
			free(note);
		}
	}
	t->group_n = 0;
}

/* "AUTH PLAIN dGVzdA==" -> "AUTH PLAIN ****" (the mechanism stays). */
static void command_line(const struct conn *c, const struct smtp_event *ev)
{
	struct smtp_view v = ev->arg;
	if (ev->verb == SMTP_VERB_AUTH_RESPONSE) {
		trace_line(buf(c), sink(c), start(c), c->sid, "C:", "****", 4);
		return;
	}
	if (ev->flags & SMTP_EVF_SECRET) {
		size_t keep = 0, words = 0;
		while (keep < v.len && words < 2) { /* "AUTH MECH" */
			while (keep < v.len && v.ptr[keep] == ' ')
				keep++;
			while (keep < v.len && v.ptr[keep] != ' ')
				keep++;
			words++;
		}
		char masked[128];
		size_t n = keep < sizeof masked - 6 ? keep : sizeof masked - 6;
		memcpy(masked, v.ptr, n);
		memcpy(masked + n, keep < v.len ? " ****" : "", keep < v.len ? 5 : 0);
		trace_line(buf(c), sink(c), start(c), c->sid, "C:", masked, n + (keep < v.len ? 5 : 0));
		return;
	}
	trace_line(buf(c), sink(c), start(c), c->sid, "C:", v.ptr, v.len);
}

static const char *reason_text(enum smtp_reason r)
{
	static const char *const text[] = {
		[SMTP_REASON_NONE] = "",
		[SMTP_REASON_RSET] = "RSET",
		[SMTP_REASON_HELO] = "a new HELO/EHLO",
		[SMTP_REASON_QUIT] = "QUIT",
		[SMTP_REASON_EOF] = "the client's disconnect",
		[SMTP_REASON_TIMEOUT] = "a timeout",
		[SMTP_REASON_SHUTDOWN] = "the server's shutdown",
		[SMTP_REASON_TOO_BIG] = "its size",
		[SMTP_REASON_BARE_LF] = "a bare LF",
		[SMTP_REASON_BDAT_ERROR] = "a refused BDAT chunk",
		[SMTP_REASON_TOO_MANY_ERRORS] = "too many errors",
		[SMTP_REASON_SYNTAX] = "a syntax error",
		[SMTP_REASON_SYNC] = "a synchronization error",
		[SMTP_REASON_FAULT] = "a fault rule",
		[SMTP_REASON_VERDICT] = "the server's refusal",
	};
	return (unsigned)r < sizeof text / sizeof text[0] && text[r] != NULL ? text[r] : "?";
}

/* What fired, after the line that made it fire. */
void conn_trace_decided(void *state, const struct conn *c, const struct conn_decision *d)
{
	(void)state;
	if (d->rule >= 0) {
		const char *rule = fault_rules_text(c->shard->faults->rules, (uint32_t)d->rule);
		const char *stage = fault_stage_name((enum fault_stage)d->stage);
		if (d->hold_ms > 0)
			conn_trace_note(c, "fault at %s: rule '%s', holding %u.%03u s", stage, rule, d->hold_ms / 1000,
					d->hold_ms % 1000);
		else
			conn_trace_note(c, "fault at %s: rule '%s'", stage, rule);
	}
	if (d->throttled != NULL)
		conn_trace_note(c, "throttled: %s", d->throttled);
	if (d->outcome != 0)
		conn_trace_note(c, "recipient outcome: %u chosen by the address", d->outcome);
}

void conn_trace_observe(void *state, const struct conn *c, const struct smtp_event *ev, const struct conn_decision *d)
{
	struct conn_trace *t = state;
	switch (ev->type) {
	case SMTP_EV_COMMAND:
		if (t->group_n == 0 && (ev->flags & SMTP_EVF_PIPELINED)) {
			t->group_mark = buf(c)->len;
			t->group_us = trace_clock(sink(c));
		}
		command_line(c, ev);
		if (t->group_n > 0 || (ev->flags & SMTP_EVF_PIPELINED))
			t->group_n++;
		if (!(ev->flags & SMTP_EVF_PIPELINED))
			close_group(t, c);
		break;
	case SMTP_EV_DATA_BEGIN:
		close_group(t, c);
		t->body_bytes = t->body_lines = 0;
		break;
	case SMTP_EV_BODY:
		t->body_bytes += ev->arg.len;
		for (const uint8_t *p = ev->arg.ptr, *end = p + ev->arg.len; (p = memchr(p, '\n', (size_t)(end - p)));
		     p++)
			t->body_lines++;
		break;
	case SMTP_EV_MSG_END:
		conn_trace_note(c, "message content: %llu bytes, %llu lines%s", (unsigned long long)ev->size_bytes,
				(unsigned long long)t->body_lines, (ev->flags & SMTP_MSG_BDAT) ? " (BDAT)" : "");
		break;
	case SMTP_EV_MSG_ABORT:
		conn_trace_note(c, "message dropped after %llu bytes, ended by %s", (unsigned long long)t->body_bytes,
				reason_text(ev->reason));
		break;
	case SMTP_EV_RESET:
		if (ev->reason == SMTP_REASON_HELO)
			conn_trace_note(c, "transaction reset by a new HELO/EHLO");
		break;
	case SMTP_EV_CLOSE:
		conn_trace_note(c, "session over: %s", reason_text(ev->reason));
		t->closed = true;
		t->close_reason = (uint8_t)ev->reason;
		break;
	default:
		break;
	}
	conn_trace_decided(t, c, d);
}

void conn_trace_feed_done(struct conn *c)
{
	close_group(c->trace, c);
}

void conn_trace_output(struct conn *c, const uint8_t *bytes, size_t len)
{
	while (len > 0) {
		const uint8_t *lf = memchr(bytes, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - bytes) + 1 : len;
		size_t text = n;
		if (text > 0 && bytes[text - 1] == '\n')
			text--;
		if (text > 0 && bytes[text - 1] == '\r')
			text--;
		trace_line(buf(c), sink(c), start(c), c->sid, "S:", bytes, text);
		bytes += n;
		len -= n;
	}
}

void conn_trace_end(struct conn *c, enum smtp_reason why)
{
	struct conn_trace *t = c->trace;
	if (t == NULL)
		return;
	struct session_end end = session_report_end(t->closed, (enum smtp_reason)t->close_reason, why);
	const char *name = session_reason_name(end.reason);
	conn_trace_note(c, "closed by the %s: %s%s", end.by_client ? "client" : "server", name != NULL ? name : "?",
			c->broken ? " (the connection failed)" : "");
	free(c->trace);
	c->trace = NULL;
}
