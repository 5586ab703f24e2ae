/*
 * io/conn_timer.c - a connection's deadlines.
 *
 * Owns: deadlines rather than idle timers, as Postfix's
 * smtpd_per_request_deadline: no input for --timeout; a command line must
 * be complete --timeout after its first byte came, however it trickles in
 * (so a byte every few seconds cannot hold a session); content must come
 * at --data-min-rate after the first timeout interval (slowloris); a whole
 * session ends at --session-max.  Under stress (most of --max-conns in use,
 * shard.c) --timeout shrinks to STRESS_TIMEOUT_S, as Postfix's stress mode
 * does.  When one is exceeded the session ends from our side (421 4.4.2,
 * then the drain; a client that does not even take that reply is dropped
 * at the next expiry).
 *
 * One timer node per connection, on the shard's 1 s wheel (the 1 ms hold
 * wheel holds it while HELD, conn_hold.c).  Receiving only stores the
 * time; the wheel re-files a node lazily when it fires, so an active
 * session costs no timer work per read.
 */
#include "conn_int.h"
#include "shard.h"

#define STRESS_TIMEOUT_S 10u /* --timeout under stress (Postfix: 10 s) */

/* --timeout, shrunk under stress. */
static uint64_t timeout_s(const struct conn *c)
{
	uint32_t t = c->shard->cfg->timeout_s;
	return c->shard->stress && t > STRESS_TIMEOUT_S ? STRESS_TIMEOUT_S : t;
}

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

/* The first deadline to come; 1 s ticks: "now > start + limit" waits at
 * least the full limit. */
static uint64_t next_deadline(const struct conn *c)
{
	uint64_t t = timeout_s(c), max = c->shard->cfg->session_max_s;
	uint64_t d = c->last_active_s + t + 1;
	if (c->cmd_start_s != 0 && c->cmd_start_s + t + 1 < d)
		d = c->cmd_start_s + t + 1;
	if (max != 0 && c->start_s + max + 1 < d)
		d = c->start_s + max + 1;
	return d;
}

void conn_timer_arm_idle(struct conn *c)
{
	arm(c, next_deadline(c));
}

void conn_timer_after_feed(struct conn *c)
{
	if (c->state == CONN_HANDSHAKE)
		return; /* the handshake's deadline stands (conn_tls.c) */
	if (!smtp_session_in_command(&c->session))
		c->cmd_start_s = 0;
	else if (c->cmd_start_s == 0)
		c->cmd_start_s = (uint32_t)c->shard->now_s; /* its first byte came in this read */
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
	return elapsed > timeout_s(c) && c->data_bytes < (uint64_t)cfg->data_min_rate * elapsed;
}

/* Is a deadline past? */
static bool expired(const struct conn *c)
{
	uint64_t now = c->shard->now_s, t = timeout_s(c), max = c->shard->cfg->session_max_s;
	return now > c->last_active_s + t || (c->cmd_start_s != 0 && now > c->cmd_start_s + t) ||
	       (max != 0 && now > c->start_s + max) || too_slow(c);
}

bool conn_timer_input(struct conn *c, uint32_t len)
{
	c->last_active_s = c->shard->now_s;
	if (c->data_start_s != 0)
		c->data_bytes += len;
	if (!too_slow(c))
		return true;
	shard_stats_add(&c->shard->stats.timeouts, 1);
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
	if (c->state == CONN_HANDSHAKE) { /* mid-handshake no reply can be read: none is sent */
		uint8_t scratch[SMTP_REPLY_LINE_MAX_BYTES];
		struct smtp_out none = { scratch, 0, sizeof scratch };
		shard_stats_add(&c->shard->stats.tls_handshakes[SHARD_STATS_TLS_FAILED], 1);
		smtp_session_abort(&c->session, why, &none);
		c->broken = true;
	} else if (c->session.state != SMTP_STATE_VERDICT && conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		if (smtp_out_room(&out) >= SMTP_REPLY_LINE_MAX_BYTES)
			smtp_session_abort(&c->session, why, &out);
		conn_out_done(c, &out);
	}
	conn_drain(c);
	arm(c, c->shard->now_s + timeout_s(c));
	conn_flush(c);
}

void conn_on_timer(struct conn *c)
{
	struct shard *sh = c->shard;
	if (c->state >= CONN_DRAINING || expired(c)) {
		shard_stats_add(&sh->stats.timeouts, 1);
		conn_timer_end_session(c, SMTP_REASON_TIMEOUT);
	} else {
		arm(c, next_deadline(c));
	}
}

void conn_on_stress(struct conn *c)
{
	if (c->state < CONN_DRAINING)
		conn_timer_arm_idle(c); /* re-filed at the nearer deadline */
}
