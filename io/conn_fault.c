/*
 * io/conn_fault.c - fault rules, rate limits, recipient outcomes and the
 * storage check at each stage of one connection (see conn_fault.h).
 *
 * Decisions are made where the facts exist: rules for mail and rcpt wait
 * for the session's MAIL/RCPT events (the address is parsed and valid, so
 * domain= can match and a refusal comes in the right order after syntax
 * errors; "any" rules reach MAIL and RCPT only there, so a line that is
 * not a valid MAIL or RCPT is not delayed by them); every other command is
 * decided when its line arrives.  Nothing here acts: a delay is a request
 * in the decision, which the caller turns into a hold once the session
 * has returned.
 */
#include "conn_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "fault_set.h"
#include "shard.h"
#include "spool.h"

#define CONN_RATE_WHY "Error: too many connections per second, try again later"
#define MSG_RATE_WHY "Error: too many messages per second, try again later"
#define CLIENT_CONNS_WHY "Error: too many connections from your address, try again later"

void conn_fault_texts_init(struct conn_fault_texts *t, const char *hostname)
{
	snprintf(t->closing, sizeof t->closing, "4.7.0 %s Service not available, closing transmission channel",
		 hostname);
	snprintf(t->conn_rate, sizeof t->conn_rate, "4.7.0 %s " CONN_RATE_WHY, hostname);
	snprintf(t->msg_rate, sizeof t->msg_rate, "4.7.0 %s " MSG_RATE_WHY, hostname);
	snprintf(t->client_conns, sizeof t->client_conns, "4.7.0 %s " CLIENT_CONNS_WHY, hostname);
}

static struct fault_subject subject(const struct conn *c, struct smtp_view domain)
{
	struct fault_subject who = { conn_client_family(c), c->peer.addr, domain };
	return who;
}

/* The connection's override slot, filled. */
static const struct smtp_override * override(struct conn *c, uint16_t code, bool close, const char *text)
{
	c->ov = (struct smtp_override){ code, close, text };
	return &c->ov;
}

/* The session override for a rule's answer (NULL: none). */
static const struct smtp_override *override_for(struct conn *c, const struct fault_action *a)
{
	switch (a->answer) {
	case FAULT_ANSWER_NONE:
		return NULL;
	case FAULT_ANSWER_REPLY:
		return override(c, a->code, false, a->text);
	case FAULT_ANSWER_CLOSE:
		return override(c, a->code, true, a->text != NULL ? a->text : c->shard->texts.closing);
	case FAULT_ANSWER_DISCONNECT:
		return override(c, 421, true, "");
	case FAULT_ANSWER_FAIL: /* the command runs; its handshake fails */
		return NULL;
	}
	return NULL;
}

/* Decide stage st (fault_decide() falls back to the "any" rules for a
 * command stage where none of its own fired); count what fired and put
 * its delay into the decision. */
static bool decide(struct conn *c, enum fault_stage st, bool stall, struct smtp_view domain, struct fault_action *act,
		   struct conn_decision *d)
{
	struct shard *sh = c->shard;
	struct fault_subject who = subject(c, domain);
	if (!fault_decide(sh->faults->rules, st, &who, &c->rng, act))
		return false;
	shard_stats_add(&sh->stats.faults, 1);
	fault_set_hit(sh->faults, act->rule);
	d->rule = act->rule;
	d->stage = (uint8_t)st;
	if (act->delay_ms > 0) {
		d->hold = true;
		d->hold_ms = act->delay_ms;
		d->hold_input_only = stall;
	}
	return true;
}

static const struct smtp_override *throttled(struct conn *c, const char *what, const char *text,
					     struct conn_decision *d)
{
	shard_stats_add(&c->shard->stats.throttled, 1);
	d->throttled = what;
	return override(c, 421, true, text);
}

enum conn_fault_start conn_fault_connect(struct conn *c, struct smtp_out *out, struct conn_decision *d)
{
	struct shard *sh = c->shard;
	struct server_shared *g = sh->shared;
	uint8_t fam = conn_client_family(c);
	const struct smtp_override *ov = NULL;
	int slot = throttle_conns_enter(&g->client_conns, fam, c->peer.addr);
	if (slot >= 0)
		c->client_slot = (uint16_t)slot;
	if (slot < 0) {
		ov = throttled(c, CLIENT_CONNS_WHY, sh->texts.client_conns, d);
	} else if (!throttle_admit(&g->conn_rate, sh->now_s, fam, c->peer.addr) ||
		   !throttle_admit(&g->client_conn_rate, sh->now_s, fam, c->peer.addr)) {
		ov = throttled(c, CONN_RATE_WHY, sh->texts.conn_rate, d);
	} else {
		struct fault_action act;
		if (!decide(c, FAULT_STAGE_CONNECT, false, smtp_view_make("", 0), &act, d))
			return CONN_FAULT_GREET;
		ov = override_for(c, &act);
		if (ov == NULL)
			return CONN_FAULT_HOLD; /* the banner waits */
	}
	d->ov = ov;
	if (ov->text != NULL && ov->text[0] != '\0')
		smtp_reply_line(out, ov->code, false, (sh->cfg->smtp.ext & SMTP_EXT_ENHANCEDSTATUSCODES) != 0,
				ov->text);
	return CONN_FAULT_REFUSED;
}

static const struct smtp_override no_room = { 452, false, "4.3.1 Insufficient system storage" };

/* A command line: storage and rate limits at MAIL, then its stage's rules
 * (mail and rcpt rules wait for the address, "any" with them). */
static void decide_command(struct conn *c, const struct smtp_event *ev, struct conn_decision *d)
{
	struct shard *sh = c->shard;
	struct server_shared *g = sh->shared;
	if (ev->flags & SMTP_EVF_REFUSED)
		return; /* the session refuses the line itself: no rule, no count */
	if (ev->verb == SMTP_VERB_MAIL) {
		uint8_t fam = conn_client_family(c);
		if (!sh->cfg->discard && !spool_accepting(&sh->spool)) {
			d->ov = &no_room; /* the disk is full or failing: say so at MAIL */
			return;
		}
		if (!throttle_admit(&g->msg_rate, sh->now_s, fam, c->peer.addr) ||
		    !throttle_admit(&g->client_msg_rate, sh->now_s, fam, c->peer.addr)) {
			d->ov = throttled(c, MSG_RATE_WHY, sh->texts.msg_rate, d);
			return;
		}
	}
	enum fault_stage st = fault_stage_of_verb(ev->verb);
	if (st == FAULT_STAGE_MAIL || st == FAULT_STAGE_RCPT)
		return; /* decided with the address, at the event ("any" too) */
	struct fault_action act;
	if (decide(c, st, false, smtp_view_make("", 0), &act, d)) {
		d->ov = override_for(c, &act);
		d->tls_fail = act.answer == FAULT_ANSWER_FAIL;
	}
}

enum conn_fault_start conn_fault_handshake(struct conn *c, struct conn_decision *d)
{
	struct fault_action act;
	if (!decide(c, FAULT_STAGE_TLS, false, smtp_view_make("", 0), &act, d))
		return CONN_FAULT_GREET;
	switch (act.answer) {
	case FAULT_ANSWER_NONE:
		return CONN_FAULT_HOLD; /* a delay: the handshake waits */
	case FAULT_ANSWER_FAIL:
		d->tls_fail = true;
		return act.delay_ms > 0 ? CONN_FAULT_HOLD : CONN_FAULT_GREET;
	default:
		return CONN_FAULT_REFUSED; /* no reply can be read before TLS: closed */
	}
}

/* The connection's own copy of a text that names this recipient. */
static const char *own_text(struct conn *c, const char *text)
{
	free(c->ov_text);
	c->ov_text = strdup(text);
	return c->ov_text != NULL ? c->ov_text : "4.0.0 Recipient address rejected (test)";
}

/* MAIL/RCPT with a valid address: its rules, then recipient outcomes. */
static void decide_address(struct conn *c, const struct smtp_event *ev, struct conn_decision *d)
{
	struct shard *sh = c->shard;
	enum fault_stage st = ev->type == SMTP_EV_MAIL ? FAULT_STAGE_MAIL : FAULT_STAGE_RCPT;
	struct fault_action act;
	if (st == FAULT_STAGE_RCPT && !conn_capture_rcpt_room(c, ev)) {
		d->ov = &no_room; /* the envelope too is held within --memory-limit */
		return;
	}
	if (decide(c, st, false, fault_addr_domain(ev->arg), &act, d) && act.answer != FAULT_ANSWER_NONE) {
		d->ov = override_for(c, &act);
		return;
	}
	if (st != FAULT_STAGE_RCPT || sh->cfg->no_recipient_outcomes)
		return;
	char text[FAULT_OUTCOME_TEXT_MAX + 1];
	unsigned code = fault_rcpt_outcome(ev->arg, text, sizeof text);
	if (code == 0)
		return;
	shard_stats_add(&sh->stats.outcomes, 1);
	d->outcome = (uint16_t)code;
	d->ov = override(c, (uint16_t)code, false, own_text(c, text));
}

/* Content begins: a stall (a delay of the input), and an abort after it. */
static void decide_content(struct conn *c, struct conn_decision *d)
{
	struct fault_action act;
	if (!decide(c, FAULT_STAGE_CONTENT, true, smtp_view_make("", 0), &act, d) || act.answer == FAULT_ANSWER_NONE)
		return; /* nothing, or a stall alone */
	d->abort = true; /* once the stall is over (at once without a delay) */
	d->abort_code = act.answer == FAULT_ANSWER_CLOSE ? (act.code ? act.code : 421) : 0;
	d->abort_text = act.text != NULL ? act.text : c->shard->texts.closing;
	d->hold = true;
	d->hold_input_only = true;
}

void conn_fault_event(struct conn *c, const struct smtp_event *ev, struct conn_decision *d)
{
	switch (ev->type) {
	case SMTP_EV_COMMAND:
		decide_command(c, ev, d);
		break;
	case SMTP_EV_MAIL:
	case SMTP_EV_RCPT:
		decide_address(c, ev, d);
		d->undone = d->ov != NULL && smtp_override_refuses(d->ov);
		break;
	case SMTP_EV_DATA_BEGIN:
		decide_content(c, d);
		break;
	default:
		break;
	}
}

enum conn_fault_end conn_fault_dot(struct conn *c, struct spool_answer *ans, struct conn_decision *d)
{
	struct fault_action act;
	if (!decide(c, FAULT_STAGE_DOT, false, smtp_view_make("", 0), &act, d))
		return CONN_FAULT_STORE;
	/* a refusal's text may outlive this turn (LMTP repeats it): the rule
	 * set's (kept until exit) or the shard's fixed texts */
	switch (act.answer) {
	case FAULT_ANSWER_NONE:
		return CONN_FAULT_STORE; /* a delay: the usual answer, held */
	case FAULT_ANSWER_REPLY:
		ans->code = act.code;
		ans->text = act.text;
		return CONN_FAULT_REFUSE;
	case FAULT_ANSWER_CLOSE: /* the session closes after this very reply */
		ans->code = act.code != 0 ? act.code : 421;
		ans->text = act.text != NULL ? act.text : c->shard->texts.closing;
		return CONN_FAULT_REFUSE_CLOSE;
	case FAULT_ANSWER_DISCONNECT: /* a reply the session writes, never sent */
		ans->code = 421;
		ans->text = "4.7.0 Service not available, closing transmission channel";
		return CONN_FAULT_DROP;
	case FAULT_ANSWER_FAIL: /* tls only (fault_rules.c) */
		break;
	}
	return CONN_FAULT_STORE;
}
