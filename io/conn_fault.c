/*
 * io/conn_fault.c - fault rules and rate limits at each stage of one
 * connection (see conn_fault.h).
 *
 * Decisions are made where the facts exist: rules for mail and rcpt wait
 * for the session's MAIL/RCPT events (the address is parsed and valid, so
 * domain= can match and a refusal comes in the right order after syntax
 * errors; "any" rules reach MAIL and RCPT only there, so a line that is
 * not a valid MAIL or RCPT is not delayed by them); every other command is
 * decided when its line arrives.  Delays never block the loop: they become
 * holds that the connection starts once the session has returned.
 */
#include "conn_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_trace.h"
#include "fault_set.h"
#include "session_log.h"
#include "shard.h"
#include "spool.h"

static struct fault_subject subject(const struct conn *c, struct smtp_view domain)
{
	struct fault_subject who = { conn_client_family(c), c->peer.addr, domain };
	return who;
}

#define HOLD_MAX_MS 3600000u /* the longest delay a rule may give */

/* A delay asked for while the session runs; the hold starts after it. */
static void request_hold(struct conn *c, uint32_t ms, bool input_only)
{
	if (!c->hold_req) {
		c->hold_req_in_only = input_only;
		/* the reply being decided is written after this point: it and
		 * what follows wait, what came before may go */
		c->hold_from = c->feeding != NULL ? (uint32_t)c->feeding->len : c->out_len;
	} else if (!input_only) {
		c->hold_req_in_only = false;
	}
	c->hold_req = true;
	/* the session pauses after the step that asked, so only one
	 * decision's delays add up here; a hold is at most an hour */
	c->hold_req_ms = ms > HOLD_MAX_MS - c->hold_req_ms ? HOLD_MAX_MS : c->hold_req_ms + ms;
}

/* Count a firing and say so in the transcript. */
static void noted(struct conn *c, enum fault_stage st, const struct fault_action *a)
{
	struct shard *sh = c->shard;
	sh->stats.faults++;
	fault_set_hit(sh->faults, a->rule);
	if (c->log != NULL)
		session_log_fault(c->log);
	if (c->trace != NULL)
		conn_trace_fault(c, fault_stage_name(st), fault_rules_text(sh->faults->rules, (uint32_t)a->rule),
				 a->delay_ms);
}

/* "4.7.0 <host> Service not available, closing transmission channel" */
static const char *close_text(struct shard *sh, const char *why)
{
	snprintf(sh->fault_text, sizeof sh->fault_text, "4.7.0 %s %s", sh->cfg->smtp.hostname, why);
	return sh->fault_text;
}

static const char *closing_text(struct shard *sh)
{
	return close_text(sh, "Service not available, closing transmission channel");
}

/* The session override for an answer (NULL: none). */
static const struct smtp_override *override_for(struct conn *c, const struct fault_action *a)
{
	struct shard *sh = c->shard;
	struct smtp_override *ov = &sh->fault_ov;
	switch (a->answer) {
	case FAULT_ANSWER_NONE:
		return NULL;
	case FAULT_ANSWER_REPLY:
		*ov = (struct smtp_override){ a->code, false, a->text };
		return ov;
	case FAULT_ANSWER_CLOSE:
		*ov = (struct smtp_override){ a->code, true, a->text };
		if (a->text == NULL)
			ov->text = closing_text(sh);
		return ov;
	case FAULT_ANSWER_DISCONNECT:
		*ov = (struct smtp_override){ 421, true, "" };
		return ov;
	}
	return NULL;
}

/* Decide stage st (fault_decide() falls back to the "any" rules for a
 * command stage where none of its own fired) and start what it says. */
static bool decide(struct conn *c, enum fault_stage st, bool stall, struct smtp_view domain, struct fault_action *act)
{
	const struct fault_rules *rules = c->shard->faults->rules;
	struct fault_subject who = subject(c, domain);
	if (!fault_decide(rules, st, &who, &c->rng, act))
		return false;
	noted(c, st, act);
	if (act->delay_ms > 0)
		request_hold(c, act->delay_ms, stall);
	return true;
}

static const struct smtp_override *throttled(struct conn *c, const char *what)
{
	struct shard *sh = c->shard;
	sh->stats.throttled++;
	if (c->trace != NULL)
		conn_trace_note(c, "throttled: %s", what);
	sh->fault_ov = (struct smtp_override){ 421, true, close_text(sh, what) };
	return &sh->fault_ov;
}

enum conn_fault_start conn_fault_connect(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	struct server_shared *g = sh->shared;
	uint8_t fam = conn_client_family(c);
	const struct smtp_override *ov = NULL;
	if (!throttle_admit(&g->conn_rate, sh->now_s, fam, c->peer.addr) ||
	    !throttle_admit(&g->client_conn_rate, sh->now_s, fam, c->peer.addr)) {
		ov = throttled(c, "Error: too many connections per second, try again later");
	} else {
		struct fault_action act;
		if (!decide(c, FAULT_STAGE_CONNECT, false, smtp_view_make("", 0), &act))
			return CONN_FAULT_GREET;
		ov = override_for(c, &act);
		if (ov == NULL)
			return CONN_FAULT_HOLD; /* the banner waits */
	}
	if (ov->text != NULL && ov->text[0] != '\0')
		smtp_reply_line(out, ov->code, false, (sh->cfg->smtp.ext & SMTP_EXT_ENHANCEDSTATUSCODES) != 0,
				ov->text);
	return CONN_FAULT_REFUSED;
}

const struct smtp_override *conn_fault_command(struct conn *c, const struct smtp_event *ev)
{
	struct shard *sh = c->shard;
	struct server_shared *g = sh->shared;
	if (ev->flags & SMTP_EVF_REFUSED)
		return NULL; /* the session refuses the line itself: no rule, no count */
	if (ev->verb == SMTP_VERB_MAIL) {
		uint8_t fam = conn_client_family(c);
		if (!throttle_admit(&g->msg_rate, sh->now_s, fam, c->peer.addr) ||
		    !throttle_admit(&g->client_msg_rate, sh->now_s, fam, c->peer.addr))
			return throttled(c, "Error: too many messages per second, try again later");
	}
	enum fault_stage st = fault_stage_of_verb(ev->verb);
	if (st == FAULT_STAGE_MAIL || st == FAULT_STAGE_RCPT)
		return NULL; /* decided with the address, at the event ("any" too) */
	struct fault_action act;
	if (!decide(c, st, false, smtp_view_make("", 0), &act))
		return NULL;
	return override_for(c, &act);
}

const struct smtp_override *conn_fault_address(struct conn *c, const struct smtp_event *ev)
{
	struct shard *sh = c->shard;
	enum fault_stage st = ev->type == SMTP_EV_MAIL ? FAULT_STAGE_MAIL : FAULT_STAGE_RCPT;
	struct fault_action act;
	if (decide(c, st, false, fault_addr_domain(ev->arg), &act) && act.answer != FAULT_ANSWER_NONE)
		return override_for(c, &act);
	if (st != FAULT_STAGE_RCPT || sh->cfg->no_recipient_outcomes)
		return NULL;
	unsigned code = fault_rcpt_outcome(ev->arg, sh->fault_text, sizeof sh->fault_text);
	if (code == 0)
		return NULL;
	sh->stats.outcomes++;
	if (c->trace != NULL)
		conn_trace_note(c, "recipient outcome: %u chosen by the address", code);
	sh->fault_ov = (struct smtp_override){ (uint16_t)code, false, sh->fault_text };
	return &sh->fault_ov;
}

void conn_fault_content(struct conn *c)
{
	struct fault_action act;
	if (!decide(c, FAULT_STAGE_CONTENT, true, smtp_view_make("", 0), &act) || act.answer == FAULT_ANSWER_NONE)
		return; /* nothing, or a stall that decide() asked for */
	/* abort once the stall is over (at once without a delay) */
	struct conn_abort *ab = calloc(1, sizeof *ab);
	if (ab == NULL)
		return;
	ab->code = act.answer == FAULT_ANSWER_CLOSE ? (act.code ? act.code : 421) : 0;
	if (ab->code != 0)
		snprintf(ab->text, sizeof ab->text, "%s", act.text != NULL ? act.text : closing_text(c->shard));
	free(c->abort);
	c->abort = ab;
	request_hold(c, 0, true);
}

enum conn_fault_end conn_fault_dot(struct conn *c, struct spool_answer *ans)
{
	struct fault_action act;
	if (!decide(c, FAULT_STAGE_DOT, false, smtp_view_make("", 0), &act))
		return CONN_FAULT_STORE;
	/* a refusal's text may outlive this turn (LMTP repeats it): the rule
	 * set's (kept until exit); a close's is used at once (the shard's) */
	ans->code = act.code;
	ans->text = act.text;
	switch (act.answer) {
	case FAULT_ANSWER_NONE:
		return CONN_FAULT_STORE; /* a delay: the answer waits for the hold */
	case FAULT_ANSWER_REPLY:
		return CONN_FAULT_REFUSE;
	case FAULT_ANSWER_CLOSE: /* the session closes after this very reply */
		if (ans->code == 0)
			ans->code = 421;
		if (ans->text == NULL)
			ans->text = closing_text(c->shard);
		return CONN_FAULT_REFUSE_CLOSE;
	case FAULT_ANSWER_DISCONNECT: /* a reply the session writes, never sent */
		ans->code = 421;
		ans->text = "4.7.0 Service not available, closing transmission channel";
		return CONN_FAULT_DROP;
	}
	return CONN_FAULT_STORE;
}
