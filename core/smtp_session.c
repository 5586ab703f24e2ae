/*
 * core/smtp_session.c - the session driver: input loop, command dispatch,
 * replies, error counting, verdicts and the end of a session.
 *
 * Owns: the order in which input is processed (enum smtp_state), the rule
 * that a command starts only with SMTP_OUT_RESERVE_BYTES of output room,
 * dispatch through the verb registry (smtp_verbs.c: the handler of each
 * verb, and which verbs must end a pipelined group, RFC 2920 3.1), the
 * pipelining checks, fault overrides, and the simple commands (RSET, NOOP,
 * QUIT, VRFY, EXPN, HELP, STARTTLS).  Transaction commands live in
 * smtp_session_txn.c, HELO/EHLO in smtp_session_helo.c, AUTH in
 * smtp_session_auth.c.
 *
 * Invariants: no allocation; at most one command line of carry; after
 * SMTP_STOP_CLOSE nothing more is consumed; replies are written in the order
 * the commands arrived.  Expected workload: Postfix-style connection reuse
 * (RSET, MAIL, RCPT, DATA, content) many times per session, often
 * pipelined, so the per-command path is a table lookup and a few stores.
 */
#include "smtp_session.h"

#include <assert.h>
#include <string.h>

#include "smtp_session_int.h"
#include "utf8.h"

/* HELP's text: one reply line less its code, space and CRLF. */
#define HELP_TEXT_MAX_BYTES (SMTP_REPLY_LINE_MAX_BYTES - 6u)

const struct smtp_override *session_emit(struct smtp_session *s, const struct smtp_event *ev)
{
	return s->on_event != NULL ? s->on_event(s->ctx, ev) : NULL;
}

void session_emit_simple(struct smtp_session *s, enum smtp_event_type type, enum smtp_reason reason)
{
	struct smtp_event ev = { .type = type, .reason = reason };
	session_emit(s, &ev);
}

void session_reply(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text)
{
	smtp_reply_line(out, code, false, session_enhanced(s), text);
}

void session_close(struct smtp_session *s, enum smtp_reason why)
{
	if (s->state == SMTP_STATE_CLOSED)
		return;
	s->state = SMTP_STATE_CLOSED;
	session_emit_simple(s, SMTP_EV_CLOSE, why);
}

/* Count one client error; past the limit, 421 and close. */
static void count_error(struct smtp_session *s, struct smtp_out *out)
{
	s->errors++;
	if (s->cfg->max_errors != 0 && s->errors >= s->cfg->max_errors) {
		smtp_reply_host(out, 421, session_enhanced(s), "4.7.0", s->cfg->hostname, " Error: too many errors");
		session_end_txn(s, SMTP_REASON_TOO_MANY_ERRORS);
		session_close(s, SMTP_REASON_TOO_MANY_ERRORS);
	}
}

void session_error(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text)
{
	session_reply(s, out, code, text);
	count_error(s, out);
}

bool session_refused_above(const struct smtp_session *s)
{
	if (s->txn == SMTP_TXN_NONE)
		return s->mail_refused_above;
	return s->rcpts == 0 && s->rcpts_refused > 0 && s->rcpts_refused == s->rcpts_refused_above;
}

void session_error_unless_above(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text)
{
	if (session_refused_above(s))
		session_reply(s, out, code, text);
	else
		session_error(s, out, code, text);
}

void session_error_spec(struct smtp_session *s, struct smtp_out *out, const struct smtp_reply_spec *spec)
{
	smtp_reply_spec_write(out, session_enhanced(s), spec);
	count_error(s, out);
}

void session_end_txn(struct smtp_session *s, enum smtp_reason why)
{
	if (s->msg_open) {
		s->msg_open = false;
		session_emit_simple(s, SMTP_EV_MSG_ABORT, why);
	}
	s->txn = SMTP_TXN_NONE;
	s->rcpts = 0;
	s->rcpts_refused = 0;
	s->rcpts_refused_above = 0;
	s->rcpts_over = 0;
	s->msg_flags = 0;
	s->msg_bytes = 0;
	s->oversize = false;
	s->body_binary = false;
}

void smtp_session_init(struct smtp_session *s, const struct smtp_config *cfg, smtp_event_fn on_event, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->on_event = on_event;
	s->ctx = ctx;
	s->state = SMTP_STATE_COMMAND;
	line_scan_reset(&s->lines);
}

void smtp_session_greet(struct smtp_session *s, struct smtp_out *out)
{
	assert(!s->greeted && smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES);
	s->greeted = true;
	const char *banner = s->cfg->lmtp		    ? " LMTP smtpsink" :
			     (s->cfg->ext & SMTP_EXT_ESMTP) ? " ESMTP smtpsink" :
							      " SMTP smtpsink";
	smtp_reply_host(out, 220, false, "", s->cfg->hostname, banner);
	session_emit_simple(s, SMTP_EV_GREETING, SMTP_REASON_NONE);
}

void session_cmd_rset(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	if (cmd->arg.len != 0) {
		session_error(s, out, 501, "5.5.4 Syntax: RSET");
		return;
	}
	if (s->txn == SMTP_TXN_MAIL && s->rcpts > 0)
		s->quirks |= SMTP_QUIRK_RSET_FOR_DATA;
	session_end_txn(s, SMTP_REASON_RSET);
	s->mail_refused_above = false;
	session_emit_simple(s, SMTP_EV_RESET, SMTP_REASON_RSET);
	session_reply(s, out, 250, "2.0.0 Ok");
}

void session_cmd_noop(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	session_reply(s, out, 250, "2.0.0 Ok");
}

void session_cmd_quit(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	if (cmd->arg.len != 0) {
		session_error(s, out, 501, "5.5.4 Syntax: QUIT");
		return;
	}
	session_end_txn(s, SMTP_REASON_QUIT);
	session_emit_simple(s, SMTP_EV_QUIT, SMTP_REASON_QUIT);
	session_reply(s, out, 221, "2.0.0 Bye");
	session_close(s, SMTP_REASON_QUIT);
}

void session_cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	if (cmd->arg.len == 0)
		session_error(s, out, 501, "5.5.4 Syntax: VRFY address");
	else
		session_reply(s, out, 252, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

void session_cmd_not_implemented(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	session_reply(s, out, 502, "5.5.1 Error: command not implemented");
}

/* "214 2.0.0 Commands: HELO EHLO ...": the verbs whose rows say HELP, in
 * enum order, whatever is switched off. */
void session_cmd_help(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	static const char head[] = "2.0.0 Commands:";
	char text[HELP_TEXT_MAX_BYTES];
	size_t len = sizeof head - 1;
	memcpy(text, head, len);
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const struct smtp_verb_info *info = smtp_verbs_info(v);
		size_t n = strlen(info->name);
		if (!(info->flags & SMTP_VERBF_HELP))
			continue;
		assert(len + 1 + n < sizeof text);
		text[len++] = ' ';
		memcpy(text + len, info->name, n);
		len += n;
	}
	text[len] = '\0';
	session_reply(s, out, 214, text);
}

void session_cmd_unknown(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	session_error(s, out, 500, "5.5.1 Error: command not recognized");
}

static bool override_has_text(const struct smtp_override *ov)
{
	return ov->text != NULL && ov->text[0] != '\0';
}

static void override_close(struct smtp_session *s, const struct smtp_override *ov)
{
	if (ov->close) {
		session_end_txn(s, SMTP_REASON_FAULT);
		session_close(s, SMTP_REASON_FAULT);
	}
}

enum session_event_answer session_event_override(struct smtp_session *s, const struct smtp_override *ov,
						 struct smtp_out *out)
{
	if (ov == NULL || (!smtp_override_refuses(ov) && !override_has_text(ov)))
		return SESSION_EVENT_NORMAL;
	if (override_has_text(ov))
		smtp_reply_line(out, ov->code, false, session_enhanced(s), ov->text);
	override_close(s, ov);
	return smtp_override_refuses(ov) ? SESSION_EVENT_REFUSED : SESSION_EVENT_REPLIED;
}

/* A 4xx/5xx override refuses the command; a 2xx/3xx one runs it and
 * replaces its success reply (a refusal by the command itself stands). */
static void apply_override(struct smtp_session *s, const struct smtp_override *ov, const struct smtp_cmd *cmd,
			   smtp_verbs_handler handle, struct smtp_out *out)
{
	bool has_text = override_has_text(ov);
	if (smtp_override_refuses(ov) && cmd->verb == SMTP_VERB_BDAT && !ov->close &&
	    session_bdat_refuse(s, cmd, ov, out))
		return; /* answered once its chunk is read */
	if (smtp_override_refuses(ov)) {
		if (cmd->verb == SMTP_VERB_AUTH_RESPONSE) { /* the exchange ends, failed */
			s->state = SMTP_STATE_COMMAND;
			session_emit_simple(s, SMTP_EV_AUTH, SMTP_REASON_NONE);
		}
		if (has_text)
			smtp_reply_line(out, ov->code, false, session_enhanced(s), ov->text);
		if (cmd->verb == SMTP_VERB_RCPT) {
			s->rcpts_refused++;
			s->rcpts_refused_above++;
		}
		if (cmd->verb == SMTP_VERB_MAIL && s->txn == SMTP_TXN_NONE)
			s->mail_refused_above = true;
	} else {
		size_t mark = out->len;
		handle(s, cmd, out);
		bool ok = out->len > mark && (out->buf[mark] == '2' || out->buf[mark] == '3');
		if (ok && has_text) {
			out->len = mark;
			smtp_reply_line(out, ov->code, false, session_enhanced(s), ov->text);
		}
	}
	override_close(s, ov);
}

/* RFC 2920: a command followed by more input in the same read.  Lenient:
 * noted as a quirk.  strict_sync: 554 and close when the command must end a
 * group, or when PIPELINING was never offered. */
static bool pipelining_unadvertised(const struct smtp_session *s)
{
	return !(s->cfg->ext & SMTP_EXT_PIPELINING) || s->helo_verb == SMTP_VERB_HELO ||
	       s->helo_verb == SMTP_VERB_UNKNOWN;
}

/* RFC 2920 3.1: must this verb be the last of a group (its row says)? */
static bool ends_group(enum smtp_verb verb)
{
	return (smtp_verbs_info(verb)->flags & SMTP_VERBF_ENDS_GROUP) != 0;
}

/* Would strict_sync refuse this pipelined command? */
static bool sync_refuses(const struct smtp_session *s, enum smtp_verb verb)
{
	return s->cfg->strict_sync && (ends_group(verb) || pipelining_unadvertised(s));
}

static bool sync_violation(struct smtp_session *s, enum smtp_verb verb, struct smtp_out *out)
{
	/* a pipelined EHLO/LHLO itself is not "without EHLO": the client
	 * just did not wait for the list that would offer PIPELINING */
	bool greeting = verb == SMTP_VERB_EHLO || verb == SMTP_VERB_LHLO;
	bool no_ehlo = s->helo_verb == SMTP_VERB_HELO || (s->helo_verb == SMTP_VERB_UNKNOWN && !greeting);
	bool unadvertised = pipelining_unadvertised(s);
	if (no_ehlo)
		s->quirks |= SMTP_QUIRK_PIPELINING_NO_EHLO;
	else if (unadvertised)
		s->quirks |= SMTP_QUIRK_PIPELINING_UNADVERTISED;
	if (ends_group(verb))
		s->quirks |= SMTP_QUIRK_ILL_PIPELINING;
	if (!sync_refuses(s, verb))
		return false;
	session_reply(s, out, 554, "5.5.0 Error: SMTP protocol synchronization");
	session_end_txn(s, SMTP_REASON_SYNC);
	session_close(s, SMTP_REASON_SYNC);
	return true;
}

/* Line-level checks before any verb is looked at.  Returns false if the
 * line was refused. */
static const char *line_problem(const struct smtp_session *s, const struct line_scan_line *l, unsigned *code)
{
	struct smtp_view t = l->text;
	*code = 500;
	if (l->bare_lf && s->cfg->bare_lf == SMTP_BARE_LF_REJECT) {
		*code = 550;
		return "5.5.2 Error: bare <LF> received";
	}
	if (t.len == 0)
		return "5.5.2 Error: bad syntax";
	if (memchr(t.ptr, 0, t.len) != NULL)
		return "5.5.2 Error: NUL character in command";
	if ((s->cfg->ext & SMTP_EXT_SMTPUTF8) && utf8_has_8bit(t.ptr, t.len) && !utf8_valid(t.ptr, t.len))
		return "5.5.2 Error: bad UTF-8 syntax";
	return NULL;
}

static bool line_acceptable(struct smtp_session *s, const struct line_scan_line *l, struct smtp_out *out)
{
	unsigned code;
	const char *why = line_problem(s, l, &code);
	if (why != NULL) {
		session_error(s, out, code, why);
		return false;
	}
	if (l->bare_lf)
		s->quirks |= SMTP_QUIRK_BARE_LF_COMMAND;
	return true;
}

/* Run the command through its row's handler, or the layer above's override. */
static void dispatch(struct smtp_session *s, const struct smtp_override *ov, const struct smtp_cmd *cmd,
		     struct smtp_out *out)
{
	smtp_verbs_handler handle = smtp_verbs_info(cmd->verb)->handle;
	if (ov != NULL)
		apply_override(s, ov, cmd, handle, out);
	else
		handle(s, cmd, out);
}

static void handle_command(struct smtp_session *s, const struct line_scan_line *l, bool pipelined, struct smtp_out *out)
{
	struct smtp_cmd cmd = smtp_cmd_parse(l->text);
	struct smtp_event ev = { .type = SMTP_EV_COMMAND, .verb = cmd.verb, .arg = l->text };
	if (pipelined)
		ev.flags |= SMTP_EVF_PIPELINED;
	if (l->bare_lf)
		ev.flags |= SMTP_EVF_BARE_LF_LINE;
	if (cmd.verb == SMTP_VERB_AUTH && cmd.arg.len != 0)
		ev.flags |= SMTP_EVF_SECRET;
	unsigned code;
	if (line_problem(s, l, &code) != NULL || (pipelined && sync_refuses(s, cmd.verb)))
		ev.flags |= SMTP_EVF_REFUSED; /* its override, if any, is not used */
	const struct smtp_override *ov = session_emit(s, &ev);
	if (!line_acceptable(s, l, out))
		return;
	if (cmd.lowercase)
		s->quirks |= SMTP_QUIRK_LOWERCASE_VERB;
	if (cmd.odd_spacing)
		s->quirks |= SMTP_QUIRK_ODD_SPACING;
	if (pipelined && sync_violation(s, cmd.verb, out))
		return;
	s->cmd_pipelined = pipelined;
	dispatch(s, ov, &cmd, out);
}

/* A line answering a 334: a COMMAND event of its own, so an override can
 * refuse it too (which ends the exchange, failed). */
static void handle_auth_line(struct smtp_session *s, const struct line_scan_line *l, bool pipelined,
			     struct smtp_out *out)
{
	struct smtp_event ev = { .type = SMTP_EV_COMMAND, .verb = SMTP_VERB_AUTH_RESPONSE, .arg = l->text };
	ev.flags = SMTP_EVF_SECRET | (pipelined ? SMTP_EVF_PIPELINED : 0u);
	const struct smtp_override *ov = session_emit(s, &ev);
	struct smtp_cmd cmd = { .verb = SMTP_VERB_AUTH_RESPONSE, .arg = l->text };
	dispatch(s, ov, &cmd, out);
}

static size_t feed_lines(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out)
{
	struct line_scan_line l;
	size_t used = 0;
	enum line_scan_status st = line_scan_next(&s->lines, in, len, &used, &l);
	bool pipelined = used < len;
	if (st == LINE_SCAN_MORE)
		return used;
	if (st == LINE_SCAN_TOO_LONG) {
		if (s->state != SMTP_STATE_COMMAND) {
			s->state = SMTP_STATE_COMMAND;
			session_emit_simple(s, SMTP_EV_AUTH, SMTP_REASON_NONE);
			session_error(s, out, 500, "5.5.6 Authentication exchange line is too long");
		} else {
			session_error(s, out, 500, "5.5.2 Line too long");
		}
		return used;
	}
	if (s->state == SMTP_STATE_COMMAND)
		handle_command(s, &l, pipelined, out);
	else
		handle_auth_line(s, &l, pipelined, out);
	return used;
}

static size_t step_input(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out)
{
	switch ((enum smtp_state)s->state) {
	case SMTP_STATE_COMMAND:
	case SMTP_STATE_AUTH_PLAIN:
	case SMTP_STATE_AUTH_LOGIN_USER:
	case SMTP_STATE_AUTH_LOGIN_PASS:
		return feed_lines(s, in, len, out);
	case SMTP_STATE_DATA:
		return session_feed_data(s, in, len, out);
	case SMTP_STATE_BDAT:
		return session_feed_bdat(s, in, len, out);
	case SMTP_STATE_VERDICT:
	case SMTP_STATE_LMTP_REPLIES:
	case SMTP_STATE_STARTTLS:
	case SMTP_STATE_CLOSED:
		break;
	}
	assert(0 && "step_input in a state that takes no input");
	return 0;
}

/* Write queued LMTP replies while there is room; true when all are out. */
static bool lmtp_flush(struct smtp_session *s, struct smtp_out *out)
{
	while (s->lmtp_left > 0 && smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES) {
		if (s->verdict_code == 250)
			smtp_reply_line2(out, 250, session_enhanced(s), "2.0.0 Ok: queued as ", s->qid, strlen(s->qid));
		else
			session_reply(s, out, s->verdict_code, s->verdict_text);
		s->lmtp_left--;
	}
	if (s->lmtp_left > 0)
		return false;
	s->state = SMTP_STATE_COMMAND;
	return true;
}

/* After the verdict: a strict_sync violation noted at end of data. */
static enum smtp_stop after_verdict(struct smtp_session *s, struct smtp_out *out)
{
	if (!s->sync_error)
		return SMTP_STOP_INPUT;
	session_reply(s, out, 554, "5.5.0 Error: SMTP protocol synchronization");
	session_close(s, SMTP_REASON_SYNC);
	return SMTP_STOP_CLOSE;
}

enum smtp_stop smtp_session_feed(struct smtp_session *s, const uint8_t *in, size_t len, size_t *consumed,
				 struct smtp_out *out)
{
	size_t off = 0;
	*consumed = 0;
	if (s->state == SMTP_STATE_CLOSED)
		return SMTP_STOP_CLOSE;
	if (!s->greeted && len > 0) {
		/* the client talked before the banner (a pre-greeting quirk):
		 * strict_sync refuses it; otherwise the banner goes first now */
		s->quirks |= SMTP_QUIRK_PREGREET;
		if (s->cfg->strict_sync) {
			session_reply(s, out, 554, "5.5.0 Error: SMTP protocol synchronization");
			session_close(s, SMTP_REASON_SYNC);
			return SMTP_STOP_CLOSE;
		}
		if (smtp_out_room(out) < SMTP_OUT_RESERVE_BYTES)
			return SMTP_STOP_OUT_FULL;
		smtp_session_greet(s, out);
	}
	for (;;) {
		*consumed = off;
		if (s->state == SMTP_STATE_CLOSED || s->state == SMTP_STATE_VERDICT) {
			s->pause = false; /* the caller has control anyway */
			return s->state == SMTP_STATE_CLOSED ? SMTP_STOP_CLOSE : SMTP_STOP_VERDICT;
		}
		if (s->state == SMTP_STATE_STARTTLS) {
			s->pause = false; /* the handshake holds the input anyway */
			return SMTP_STOP_STARTTLS;
		}
		if (s->pause) {
			s->pause = false;
			return SMTP_STOP_PAUSE;
		}
		if (s->state == SMTP_STATE_LMTP_REPLIES) {
			if (!lmtp_flush(s, out))
				return SMTP_STOP_OUT_FULL;
			if (after_verdict(s, out) == SMTP_STOP_CLOSE)
				continue;
		}
		if (off == len)
			return SMTP_STOP_INPUT;
		if (smtp_out_room(out) < SMTP_OUT_RESERVE_BYTES)
			return SMTP_STOP_OUT_FULL;
		off += step_input(s, in + off, len - off, out);
	}
}

enum smtp_stop smtp_session_verdict(struct smtp_session *s, const struct smtp_verdict *v, struct smtp_out *out)
{
	assert(s->state == SMTP_STATE_VERDICT);
	assert(smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES);
	const char *text = v->text != NULL ? v->text : "4.3.0 Error: message not stored";
	if (s->cfg->lmtp) {
		s->lmtp_left = s->rcpts;
		s->verdict_code = v->code;
		s->verdict_text = text;
		s->qid[0] = '\0';
		if (v->code == 250)
			strncat(s->qid, v->qid, SMTP_QID_MAX_BYTES);
		session_end_txn(s, SMTP_REASON_NONE);
		s->state = SMTP_STATE_LMTP_REPLIES;
		if (!lmtp_flush(s, out))
			return SMTP_STOP_OUT_FULL;
		return after_verdict(s, out);
	}
	if (v->code == 250)
		smtp_reply_line2(out, 250, session_enhanced(s), "2.0.0 Ok: queued as ", v->qid, strlen(v->qid));
	else
		session_reply(s, out, v->code, text);
	session_end_txn(s, SMTP_REASON_NONE);
	s->state = SMTP_STATE_COMMAND;
	return after_verdict(s, out);
}

void smtp_session_eof(struct smtp_session *s)
{
	assert(s->state != SMTP_STATE_VERDICT);
	if (s->state == SMTP_STATE_CLOSED)
		return;
	session_end_txn(s, SMTP_REASON_EOF);
	session_close(s, SMTP_REASON_EOF);
}

void smtp_session_abort(struct smtp_session *s, enum smtp_reason why, struct smtp_out *out)
{
	assert(s->state != SMTP_STATE_VERDICT);
	if (s->state == SMTP_STATE_CLOSED)
		return;
	assert(smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES);
	if (why == SMTP_REASON_TIMEOUT)
		smtp_reply_host(out, 421, session_enhanced(s), "4.4.2", s->cfg->hostname, " Error: timeout exceeded");
	else
		smtp_reply_host(out, 421, session_enhanced(s), "4.3.2", s->cfg->hostname, " Service shutting down");
	session_end_txn(s, why);
	session_close(s, why);
}

void smtp_session_pause(struct smtp_session *s)
{
	s->pause = true;
}

void smtp_session_fail(struct smtp_session *s, unsigned code, const char *text, struct smtp_out *out)
{
	assert(s->state != SMTP_STATE_VERDICT);
	if (s->state == SMTP_STATE_CLOSED)
		return;
	if (text != NULL) {
		assert(smtp_out_room(out) >= SMTP_REPLY_LINE_MAX_BYTES);
		smtp_reply_line(out, code, false, session_enhanced(s), text);
	}
	session_end_txn(s, SMTP_REASON_FAULT);
	session_close(s, SMTP_REASON_FAULT);
}

bool smtp_session_is_idle(const struct smtp_session *s)
{
	return s->state == SMTP_STATE_COMMAND && s->txn == SMTP_TXN_NONE && !line_scan_pending(&s->lines);
}

bool smtp_session_in_command(const struct smtp_session *s)
{
	return s->state <= SMTP_STATE_AUTH_LOGIN_PASS && line_scan_pending(&s->lines);
}
