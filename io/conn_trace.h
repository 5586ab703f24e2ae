/*
 * io/conn_trace.h - one connection's transcript (--trace).
 *
 * Owns: what of a session goes into the transcript and how it reads:
 * commands as sent (AUTH secrets masked), replies as sent, a pipelined
 * group announced with its size before its commands, message content
 * summarised (bytes, lines) instead of dumped, silences, fault firings,
 * and how the session ended: who ended it and why, in the words and by
 * the rule of the session report (core/session_report.h).  Lines go to the shard's trace buffer
 * (trace.h).  A connection that is not traced has c->trace == NULL and
 * costs nothing here.
 */
#ifndef SMTPSINK_CONN_TRACE_H
#define SMTPSINK_CONN_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "smtp_session.h"

struct conn_trace {
	size_t group_mark; /* where the open pipelined group began in the buffer */
	uint64_t group_us; /* when its first command came (trace_clock()) */
	uint32_t group_n; /* commands in it so far */
	uint64_t body_bytes, body_lines; /* the message in progress */
	uint64_t start_us; /* trace_clock() at connect (--trace-time session) */
	uint8_t close_reason; /* enum smtp_reason of SMTP_EV_CLOSE, once closed */
	bool closed;
};

/* At accept: start tracing c if --trace wants its client. */
void conn_trace_start(struct conn *c);
struct conn_decision;
/* Observer of session events (conn_events.c): the event, then what the
 * fault hook decided for it. */
void conn_trace_observe(void *state, const struct conn *c, const struct smtp_event *ev, const struct conn_decision *d);
/* A decision outside an event (connect, end of data): what fired. */
void conn_trace_decided(void *state, const struct conn *c, const struct conn_decision *d);
/* The session returned from feed(): a pipelined group cannot go on. */
void conn_trace_feed_done(struct conn *c);
/* Bytes leaving for the client (whole reply lines). */
void conn_trace_output(struct conn *c, const uint8_t *bytes, size_t len);
void conn_trace_note(const struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The connection is gone: the last line ("closed by the client: quit",
 * who and why as the session report says it: session_report_end(), with
 * why for a session that never closed), and the state freed. */
void conn_trace_end(struct conn *c, enum smtp_reason why);

#endif
