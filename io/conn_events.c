/*
 * io/conn_events.c - what a connection does with its session's events.
 *
 * Owns: the session's event callback, and the rule of who may change a
 * session's course from inside feed().  Exactly one hook may: the fault
 * layer (conn_fault_event(), conn_fault.h), whose decision this file
 * applies: its override goes back to the session, its delay pauses the
 * session and becomes a hold once feed() returns.  Everything else is an
 * observer, registered in the table below: it sees each event and the
 * decision taken for it, with the connection read-only, and cannot
 * answer, pause or close.  The connection's own timers see the content
 * events too (--data-min-rate).
 *
 * Order, for each event: the hook decides; the observers see the event
 * (the transcript logs the command, then what fired); the decision is
 * applied.  A MAIL or RCPT that the hook refuses is undone by the session,
 * so only the transcript and the fault count see it.
 * Every command line is counted by verb here (shard_stats.h), refused or not.
 * Expected workload: a handful of events per message; the observers of a
 * connection that is not traced or not captured cost a NULL test each.
 */
#include <stddef.h>

#include "conn_fault.h"
#include "conn_int.h"
#include "conn_trace.h"
#include "fault_rules.h"
#include "session_log.h"
#include "shard.h"

struct conn_observer {
	/* the observer's state for this connection; NULL: not observed */
	void *(*state)(const struct conn *c);
	void (*event)(void *state, const struct conn *c, const struct smtp_event *ev, const struct conn_decision *d);
	/* a decision taken outside an event (connect, end of data) */
	void (*decided)(void *state, const struct conn *c, const struct conn_decision *d);
};

static void *trace_state(const struct conn *c)
{
	return c->trace;
}

static void *log_state(const struct conn *c)
{
	return c->log;
}

static void *capture_state(const struct conn *c)
{
	return c->cap;
}

static void log_decided(void *state, const struct conn *c, const struct conn_decision *d)
{
	if (d->rule >= 0)
		session_log_fault(state, fault_rules_text(c->shard->faults->rules, (uint32_t)d->rule));
}

static void log_event(void *state, const struct conn *c, const struct smtp_event *ev, const struct conn_decision *d)
{
	if (!d->undone)
		session_log_event(state, ev, c->shard->mono_us);
	log_decided(state, c, d);
}

static void capture_event(void *state, const struct conn *c, const struct smtp_event *ev, const struct conn_decision *d)
{
	if (!d->undone)
		conn_capture_observe(state, c, ev);
}

/* The observers, in the order they see each event. */
static const struct conn_observer observers[] = {
	{ trace_state, conn_trace_observe, conn_trace_decided },
	{ log_state, log_event, log_decided },
	{ capture_state, capture_event, NULL },
};

#define OBSERVER_COUNT (sizeof observers / sizeof observers[0])

void conn_events_decided(struct conn *c, const struct conn_decision *d)
{
	for (size_t i = 0; i < OBSERVER_COUNT; i++) {
		void *st = observers[i].state(c);
		if (st != NULL && observers[i].decided != NULL)
			observers[i].decided(st, c, d);
	}
}

/* Apply the hook's decision: a content abort and a delay are remembered
 * for the hold that starts once feed() returns; the session pauses. */
static void apply(struct conn *c, const struct conn_decision *d)
{
	if (d->abort)
		conn_hold_set_abort(c, d->abort_code, d->abort_text);
	if (d->tls_fail)
		c->tls_fail = true;
	if (d->hold) {
		conn_hold_request(c, d->hold_ms, d->hold_input_only);
		smtp_session_pause(&c->session); /* nothing more is read until it ends */
	}
}

const struct smtp_override *conn_events_on_session(void *ctx, const struct smtp_event *ev)
{
	struct conn *c = ctx;
	struct conn_decision d = CONN_DECISION_NONE;
	if (ev->type == SMTP_EV_COMMAND && ev->verb < SMTP_VERB_COUNT)
		shard_stats_add(&c->shard->stats.commands[ev->verb], 1);
	conn_fault_event(c, ev, &d);
	for (size_t i = 0; i < OBSERVER_COUNT; i++) {
		void *st = observers[i].state(c);
		if (st != NULL)
			observers[i].event(st, c, ev, &d);
	}
	if (!d.undone)
		conn_timer_event(c, ev);
	apply(c, &d);
	return d.ov;
}
