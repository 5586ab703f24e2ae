/*
 * io/conn_timer.c - a connection's timeouts.
 *
 * Owns: the idle timeout (--timeout: no input for that long), the content
 * rate (--data-min-rate: DATA/BDAT content slower than this after the first
 * timeout interval, slowloris), and ending a session from our side when
 * one is exceeded (421 4.4.2, then the drain; a client that does not even
 * take that reply is dropped at the next expiry).
 *
 * One timer node per connection, on the shard's 1 s wheel (the 1 ms hold
 * wheel holds it while HELD, conn_hold.c).  Receiving only stores the
 * time; the wheel re-files a node lazily when it fires, so an active
 * session costs no timer work per read.
 */
#include "conn_int.h"
#include "shard.h"

/* The wheel the node is on: the hold wheel while HELD. */
static struct timer_wheel *wheel(struct conn *c)
{
	return c->state == CONN_HELD ? &c->shard->holds : &c->shard->timers;
}

static void arm(struct conn *c, uint64_t deadline_s)
{
	if (c->state != CONN_HELD) /* the end of the hold arms it */
		timer_wheel_arm(&c->shard->timers, &c->timer, deadline_s);
}

void conn_timer_arm_idle(struct conn *c)
{
	/* 1 s ticks: "now > last + timeout" waits at least the full timeout */
	arm(c, c->shard->now_s + c->shard->cfg->timeout_s + 1);
}

void conn_timer_disarm(struct conn *c)
{
	timer_wheel_disarm(wheel(c), &c->timer);
}

/* --data-min-rate: content slower than this, after the first timeout
 * interval, cannot hold a session forever. */
static bool too_slow(const struct conn *c)
{
	const struct server_config *cfg = c->shard->cfg;
	if (c->data_start_s == 0 || cfg->data_min_rate == 0)
		return false;
	uint64_t elapsed = c->shard->now_s - c->data_start_s;
	return elapsed > cfg->timeout_s && c->data_bytes < (uint64_t)cfg->data_min_rate * elapsed;
}

bool conn_timer_input(struct conn *c, uint32_t len)
{
	c->last_active_s = c->shard->now_s;
	if (c->data_start_s != 0)
		c->data_bytes += len;
	if (!too_slow(c))
		return true;
	c->shard->stats.timeouts++;
	conn_timer_end_session(c, SMTP_REASON_TIMEOUT);
	return false;
}

void conn_timer_event(struct conn *c, const struct smtp_event *ev)
{
	switch (ev->type) {
	case SMTP_EV_DATA_BEGIN:
		c->data_start_s = c->shard->now_s;
		c->data_bytes = 0;
		break;
	case SMTP_EV_MSG_END:
	case SMTP_EV_MSG_ABORT:
		c->data_start_s = 0;
		break;
	default:
		break;
	}
}

void conn_timer_end_session(struct conn *c, enum smtp_reason why)
{
	conn_hold_cancel(c);
	if (c->state >= CONN_DRAINING) { /* the client does not even take our last reply */
		c->broken = true;
		conn_flush(c);
		return;
	}
	if (c->session.state != SMTP_STATE_VERDICT && conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		if (smtp_out_room(&out) >= SMTP_REPLY_LINE_MAX_BYTES)
			smtp_session_abort(&c->session, why, &out);
		c->out_len = (uint32_t)out.len;
	}
	conn_drain(c);
	arm(c, c->shard->now_s + c->shard->cfg->timeout_s);
	conn_flush(c);
}

void conn_on_timer(struct conn *c)
{
	struct shard *sh = c->shard;
	if (c->state >= CONN_DRAINING || sh->now_s > c->last_active_s + sh->cfg->timeout_s || too_slow(c)) {
		sh->stats.timeouts++;
		conn_timer_end_session(c, SMTP_REASON_TIMEOUT);
	} else {
		arm(c, c->last_active_s + sh->cfg->timeout_s + 1);
	}
}
