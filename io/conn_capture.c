/*
 * io/conn_capture.c - a connection's messages: what the record needs,
 * the verdict at end of data, and the session's report at the end.
 *
 * Owns: the capture observer (conn_events.c calls it with each session
 * event: it keeps copies of what events only lend, the HELO name, the
 * AUTH user, and the message being captured, io/capture.h), the session's
 * facts for a record, the answer to a completed message (--discard at
 * once; a dot rule's refusal; else through the spool, which answers once
 * the message is durable: conn_on_verdict()), and at the end the session
 * report handed to the spool.  It never touches a socket.
 *
 * The spool holds a reference to the connection (c->ops) while a verdict
 * is pending, so a connection that closes meanwhile is freed only once the
 * answer has come (and is dropped).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "conn_fault.h"
#include "conn_int.h"
#include "conn_trace.h"
#include "session_log.h"
#include "shard.h"
#include "spool.h"

struct conn_capture {
	struct conn *conn; /* the connection it belongs to (content backpressure) */
	char *helo; /* last HELO/EHLO/LHLO argument */
	char *auth_user; /* AUTH user once authenticated */
	char *auth_pending; /* AUTH user named, outcome not yet known */
	struct capture *msg; /* the transaction being captured */
	char *tls, *tls_sni; /* "TLSv1.3 TLS_AES_256_GCM_SHA384", the SNI; NULL: none */
	uint64_t eod_us; /* monotonic: its end of data, while the spool answers */
};

static char *dup_view(struct smtp_view v)
{
	char *p = malloc(v.len + 1);
	if (p != NULL) {
		memcpy(p, v.ptr, v.len);
		p[v.len] = '\0';
	}
	return p;
}

static void replace(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

static void drop_msg(struct conn_capture *k)
{
	capture_free(k->msg);
	k->msg = NULL;
}

bool conn_capture_rcpt_room(const struct conn *c, const struct smtp_event *ev)
{
	const struct capture *msg = c->cap != NULL ? c->cap->msg : NULL;
	return msg == NULL || capture_rcpt_room(msg, ev->arg.len, ev->params.len);
}

void conn_capture_observe(void *state, const struct conn *c, const struct smtp_event *ev)
{
	struct conn_capture *k = state;
	switch (ev->type) {
	case SMTP_EV_HELO:
		replace(&k->helo, dup_view(ev->arg));
		break;
	case SMTP_EV_AUTH_USER:
		replace(&k->auth_pending, dup_view(ev->arg));
		break;
	case SMTP_EV_AUTH:
		if (ev->flags & SMTP_EVF_OK) {
			replace(&k->auth_user, k->auth_pending);
			k->auth_pending = NULL;
		} else {
			replace(&k->auth_pending, NULL);
		}
		break;
	case SMTP_EV_MAIL:
		capture_free(k->msg);
		k->msg = capture_begin(c->shard, k->conn, ev->arg, ev->params,
				       ev->mail != NULL ? ev->mail->size_bytes : 0);
		break;
	case SMTP_EV_RCPT:
		if (k->msg != NULL)
			capture_add_rcpt(k->msg, ev->arg, ev->params);
		break;
	case SMTP_EV_BODY:
		if (k->msg != NULL)
			capture_add_body(k->msg, ev->arg);
		break;
	case SMTP_EV_MSG_END:
		if (k->msg != NULL)
			k->msg->flags = ev->flags;
		break;
	case SMTP_EV_MSG_ABORT:
	case SMTP_EV_RESET:
		drop_msg(k);
		break;
	default:
		break;
	}
}

/* Capture mode: the observer's state, from accept to the end. */
bool conn_capture_start(struct conn *c)
{
	c->cap = calloc(1, sizeof *c->cap);
	if (c->cap == NULL)
		return false;
	c->cap->conn = c;
	return true;
}

bool conn_capture_blocked(const struct conn *c)
{
	return c->cap != NULL && c->cap->msg != NULL && capture_blocked(c->cap->msg);
}

void conn_capture_unblocked(struct conn *c)
{
	conn_process(c); /* the content waiting in the input goes on */
}

static struct smtp_view str_view(const char *s)
{
	return smtp_view_make(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void conn_capture_envelope(const struct conn *c, struct spool_envelope *env)
{
	const struct conn_capture *k = c->cap;
	memset(env, 0, sizeof *env);
	env->client_family = conn_client_family(c);
	env->client_port = c->peer.port;
	memcpy(env->client_addr, c->peer.addr, sizeof env->client_addr);
	env->helo = str_view(k != NULL ? k->helo : NULL);
	env->auth_user = str_view(k != NULL ? k->auth_user : NULL);
	/* RFC 3848: "S" for TLS */
	bool tls = c->session.tls;
	const char *proto = c->shard->cfg->smtp.lmtp		   ? (tls ? "LMTPS" : "LMTP") :
			    c->session.helo_verb == SMTP_VERB_EHLO ? (tls ? "ESMTPS" : "ESMTP") :
								     (tls ? "SMTPS" : "SMTP");
	env->protocol = str_view(proto);
	env->session_id = str_view(c->sid);
	if (k != NULL) {
		env->tls = str_view(k->tls);
		env->tls_sni = str_view(k->tls_sni);
	}
}

void conn_capture_tls(struct conn *c, const char *text, const char *sni)
{
	struct conn_capture *k = c->cap;
	if (k == NULL)
		return;
	free(k->tls);
	free(k->tls_sni);
	k->tls = strdup(text);
	k->tls_sni = sni != NULL && sni[0] != '\0' ? strdup(sni) : NULL;
}

/* Count a message's outcome: 250 or a refusal, and how long after its
 * end of data (waited_us) the answer came. */
static void count_answer(struct conn *c, uint16_t code, uint64_t waited_us)
{
	struct shard_stats *st = &c->shard->stats;
	shard_stats_observe(&st->eod, waited_us);
	if (code != 250) {
		shard_stats_add(&st->messages_refused, 1);
		return;
	}
	shard_stats_add(&st->messages, 1); /* the session still holds the message's size */
	shard_stats_add(&st->message_bytes, c->session.msg_bytes);
	shard_stats_add(&st->recipients, c->session.rcpts);
}

static enum smtp_stop answer(struct conn *c, const struct spool_answer *ans, struct smtp_out *out)
{
	struct smtp_verdict v = { ans->code, ans->qid, ans->text };
	uint64_t eod_us = c->cap != NULL && c->cap->eod_us != 0 ? c->cap->eod_us : c->shard->mono_us;
	count_answer(c, ans->code, c->shard->mono_us - eod_us);
	if (c->cap != NULL)
		c->cap->eod_us = 0;
	if (c->log != NULL)
		session_log_verdict(c->log, ans->code, ans->qid);
	return smtp_session_verdict(&c->session, &v, out);
}

/* A dot rule answers: the message is not kept. */
static enum smtp_stop refuse(struct conn *c, enum conn_fault_end fe, const struct spool_answer *ans,
			     struct smtp_out *out)
{
	if (c->cap != NULL)
		drop_msg(c->cap);
	size_t mark = out->len;
	enum smtp_stop st = answer(c, ans, out);
	if (fe == CONN_FAULT_REFUSE)
		return st;
	if (fe == CONN_FAULT_DROP)
		out->len = mark; /* the session answered; the client hears nothing */
	smtp_session_fail(&c->session, 0, NULL, out);
	return SMTP_STOP_CLOSE;
}

/* --exit-after N: take one of the N places for a message about to be
 * stored; false once every place is taken (the message is refused). */
static bool exit_take(struct shard *sh)
{
	uint64_t n = sh->cfg->exit_after;
	if (n == 0)
		return true;
	uint_fast64_t taken = atomic_load_explicit(&sh->shared->exit_taken, memory_order_relaxed);
	while (taken < n && !atomic_compare_exchange_weak_explicit(&sh->shared->exit_taken, &taken, taken + 1,
								   memory_order_relaxed, memory_order_relaxed))
		;
	return taken < n;
}

/* ... its answer: a refusal gives the place back; the Nth 250 stops the
 * server as SIGTERM does (the main thread waits for that signal). */
static void exit_settle(struct shard *sh, uint16_t code)
{
	uint64_t n = sh->cfg->exit_after;
	if (n == 0)
		return;
	if (code != 250)
		atomic_fetch_sub_explicit(&sh->shared->exit_taken, 1, memory_order_relaxed);
	else if (atomic_fetch_add_explicit(&sh->shared->exit_accepted, 1, memory_order_relaxed) + 1 == n)
		kill(getpid(), SIGTERM);
}

enum smtp_stop conn_capture_verdict(struct conn *c, struct smtp_out *out)
{
	struct shard *sh = c->shard;
	struct spool_answer ans = { 250, NULL, { 0 } };
	struct conn_decision d = CONN_DECISION_NONE;
	enum conn_fault_end fe = conn_fault_dot(c, &ans, &d);
	conn_events_decided(c, &d);
	if (d.hold) /* held from this reply on */
		conn_hold_request(c, d.hold_ms, false);
	if (fe == CONN_FAULT_STORE && !exit_take(sh)) {
		ans = (struct spool_answer){ 421, "4.3.2 Service shutting down (--exit-after)", { 0 } };
		fe = CONN_FAULT_REFUSE_CLOSE;
	}
	if (fe != CONN_FAULT_STORE)
		return refuse(c, fe, &ans, out);
	struct capture *cap = c->cap != NULL ? c->cap->msg : NULL;
	if (sh->cfg->discard) {
		queue_id_next(&sh->qids, sh->wall_us, ans.qid);
	} else if (cap == NULL) { /* no memory at MAIL time */
		ans.code = 451;
		ans.text = "4.3.0 Error: out of memory";
	} else {
		c->cap->msg = NULL;
		c->cap->eod_us = sh->mono_us; /* the answer's wait starts */
		struct spool_envelope env;
		conn_capture_envelope(c, &env);
		cap->conn = c;
		if (!spool_append(sh, cap, &env, sh->wall_us, &ans)) {
			conn_op_start(c); /* the spool will answer: c must outlive that */
			return SMTP_STOP_VERDICT;
		}
	}
	exit_settle(sh, ans.code);
	return answer(c, &ans, out);
}

void conn_on_verdict(struct conn *c, const struct spool_answer *ans)
{
	exit_settle(c->shard, ans->code); /* stored or not, whether or not the client hears it */
	if (conn_effective_state(c) == CONN_VERDICT && conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		enum smtp_stop st = answer(c, ans, &out);
		conn_out_done(c, &out);
		if (c->state == CONN_HELD)
			c->hold.resume = CONN_SESSION; /* the answer waits for the hold's end */
		else
			conn_set_state(c, CONN_SESSION);
		if (st == SMTP_STOP_CLOSE)
			conn_drain(c);
		conn_op_end(c); /* not closed: c lives on */
		conn_process(c); /* input held behind the message goes on now */
		return;
	}
	if (conn_effective_state(c) == CONN_VERDICT) { /* no memory for the answer: drop the session */
		c->broken = true;
		conn_drain(c);
	}
	conn_flush(c);
	conn_op_end(c);
}

/* The session's report goes into the spool; why: the end of a session
 * that never closed. */
static void end_report(struct conn *c, enum smtp_reason why)
{
	struct shard *sh = c->shard;
	struct session_report *r = &c->log->r; /* the connection's own facts */
	struct spool_envelope env;
	conn_capture_envelope(c, &env);
	r->id = smtp_view_make(c->sid, strlen(c->sid));
	r->shard = sh->index;
	r->node = sh->cfg->node_id;
	r->client_family = env.client_family;
	r->client_port = env.client_port;
	memcpy(r->client_addr, env.client_addr, sizeof r->client_addr);
	r->helo = env.helo;
	spool_append_session(sh, session_log_finish(c->log, &c->session, why, sh->wall_us, sh->mono_us, c->silent_us));
	session_log_free(c->log);
	c->log = NULL;
}

void conn_capture_end(struct conn *c)
{
	/* a session that never closed (the connection dropped under it) ended
	 * by a disconnect if the peer was gone; report and transcript both
	 * say so through session_report_end() */
	enum smtp_reason why = c->peer_eof || c->broken ? SMTP_REASON_EOF : SMTP_REASON_NONE;
	if (c->trace != NULL)
		conn_trace_end(c, why);
	if (c->log != NULL)
		end_report(c, why);
	struct conn_capture *k = c->cap;
	if (k == NULL)
		return;
	free(k->helo);
	free(k->auth_user);
	free(k->auth_pending);
	free(k->tls);
	free(k->tls_sni);
	capture_free(k->msg);
	free(k);
	c->cap = NULL;
}
