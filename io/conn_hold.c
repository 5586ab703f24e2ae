/*
 * io/conn_hold.c - fault delays as holds: the whole hold state machine.
 *
 * Owns: a delay asked for while the session runs (conn_hold_request(),
 * from the fault hook's decision), the hold that starts once feed() has
 * returned (state HELD, the connection's timer node moved from the 1 s
 * idle wheel to the 1 ms hold wheel), what may leave meanwhile, the end
 * of the hold (resume, greet if the banner waited, run a content rule's
 * abort) and its cancellation by our own end of the session.
 *
 * Rules: a delay never blocks the loop.  The session pauses right after the
 * step that asked (SMTP_STOP_PAUSE), so each reply of a pipelined group is
 * held in turn; the reply being decided and everything written after it
 * wait (hold.from marks where), what came before may go.  A content stall
 * holds only the input.  Delays asked in one step add up, to at most an
 * hour.  Time spent holding does not count as the client's idleness.
 */
#include "conn_int.h"
#include "conn_trace.h"
#include "shard.h"

#define HOLD_MAX_MS 3600000u /* the longest delay a rule may give */

void conn_hold_request(struct conn *c, uint32_t ms, bool input_only)
{
	struct conn_hold *h = &c->hold;
	if (!h->req) {
		h->req_input_only = input_only;
		/* the reply being decided is written after this point: it and
		 * what follows wait, what came before may go */
		h->from = c->feeding != NULL ? (uint32_t)c->feeding->len : c->out_len;
	} else if (!input_only) {
		h->req_input_only = false;
	}
	h->req = true;
	h->req_ms = ms > HOLD_MAX_MS - h->req_ms ? HOLD_MAX_MS : h->req_ms + ms;
}

void conn_hold_set_abort(struct conn *c, uint16_t code, const char *text)
{
	c->hold.abort = true;
	c->hold.abort_code = code;
	c->hold.abort_text = text;
}

void conn_hold_start(struct conn *c)
{
	struct shard *sh = c->shard;
	struct conn_hold *h = &c->hold;
	bool held = c->state == CONN_HELD;
	uint64_t until = sh->now_ms + h->req_ms;
	if (held && c->timer.armed && c->timer.deadline_s > until)
		until = c->timer.deadline_s; /* a longer hold already runs */
	h->input_only = h->req_input_only && (!held || h->input_only);
	h->req = false;
	h->req_ms = 0;
	if (!held) {
		conn_timer_disarm(c);
		h->resume = c->state;
		conn_set_state(c, CONN_HELD);
	} else {
		timer_wheel_disarm(&sh->holds, &c->timer);
	}
	timer_wheel_arm(&sh->holds, &c->timer, until);
}

/* Leave HELD for the state it held. */
static void resume(struct conn *c)
{
	timer_wheel_disarm(&c->shard->holds, &c->timer);
	c->hold.input_only = false;
	conn_set_state(c, (enum conn_state)c->hold.resume);
}

void conn_hold_cancel(struct conn *c)
{
	if (c->state == CONN_HELD)
		resume(c);
}

uint32_t conn_hold_sendable(const struct conn *c)
{
	if (c->state != CONN_HELD || c->hold.input_only)
		return c->out_len;
	return c->hold.from < c->out_len ? c->hold.from : c->out_len;
}

/* content:close after a stall (smtp-sink -A): the reply, then the close.
 * The session paused right after DATA's 354 or the BDAT command, so the
 * content is still unread; if the message got further anyway, the abort
 * is dropped (a message may never be stored and then refused). */
static void run_abort(struct conn *c)
{
	struct conn_hold *h = &c->hold;
	h->abort = false;
	enum smtp_state st = (enum smtp_state)c->session.state;
	if ((st != SMTP_STATE_DATA && st != SMTP_STATE_BDAT) || !conn_want_out(c))
		return;
	struct smtp_out out = conn_out(c);
	bool room = smtp_out_room(&out) >= SMTP_REPLY_LINE_MAX_BYTES;
	smtp_session_fail(&c->session, h->abort_code, h->abort_code != 0 && room ? h->abort_text : NULL, &out);
	conn_out_done(c, &out);
	conn_drain(c);
}

void conn_on_hold_done(struct conn *c)
{
	struct shard *sh = c->shard;
	resume(c);
	c->last_active_s = sh->now_s; /* our delay is not the client's idleness */
	c->silent_us = sh->mono_us;
	conn_timer_arm_idle(c); /* draining too: a client that never reads is dropped */
	if (c->trace != NULL)
		conn_trace_note(c, "hold over");
	if (c->hold.abort && c->state < CONN_DRAINING)
		run_abort(c);
	if (c->state == CONN_SESSION && !c->session.greeted && conn_input_empty(c) && conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		smtp_session_greet(&c->session, &out); /* after a greeting delay */
		conn_out_done(c, &out);
	}
	conn_process(c); /* held input and output go on (a pregreet gets the banner first) */
}
