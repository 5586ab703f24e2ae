/*
 * core/smtp_session_auth.c - the AUTH exchange (RFC 4954): PLAIN with an
 * initial response or a 334 continuation, and LOGIN.
 *
 * Owns: the AUTH preconditions (offered, after EHLO, once, outside a
 * transaction), the challenge sequence (states AUTH_*), "*" cancellation,
 * and reporting the claimed user name (SMTP_EV_AUTH_USER) and the outcome
 * (SMTP_EV_AUTH).  Credentials are never checked nor kept: any are accepted
 * unless auth_reject is set.  Decoding uses a stack buffer bounded by the
 * command line limit.
 */
#include "smtp_auth.h"
#include "smtp_session_int.h"

/* Base64 of "Username:" and "Password:" (RFC 4954 examples, LOGIN). */
#define LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE "UGFzc3dvcmQ6"
#define DECODED_MAX SMTP_AUTH_DECODED_MAX(SMTP_COMMAND_LINE_MAX_BYTES)

static void auth_done(struct smtp_session *s, bool ok, struct smtp_out *out)
{
	struct smtp_event ev = { .type = SMTP_EV_AUTH };
	s->state = SMTP_STATE_COMMAND;
	if (ok && s->cfg->auth_reject)
		ok = false;
	if (ok) {
		ev.flags = SMTP_EVF_OK;
		s->authenticated = true;
	}
	session_emit(s, &ev);
	if (ok)
		session_reply(s, out, 235, "2.7.0 Authentication successful");
	else
		session_error(s, out, 535, "5.7.8 Error: authentication failed");
}

static void auth_user(struct smtp_session *s, struct smtp_view user)
{
	struct smtp_event ev = { .type = SMTP_EV_AUTH_USER, .arg = user };
	session_emit(s, &ev);
}

/* Decode one response; false (and the reply written) if it is bad. */
static bool decode(struct smtp_session *s, struct smtp_view in, uint8_t *buf, size_t *len, struct smtp_out *out)
{
	long n = smtp_auth_b64_decode(in, buf, DECODED_MAX);
	if (n < 0) {
		s->state = SMTP_STATE_COMMAND;
		session_emit_simple(s, SMTP_EV_AUTH, SMTP_REASON_NONE);
		session_error(s, out, 501, "5.5.2 Error: cannot decode response");
		return false;
	}
	*len = (size_t)n;
	return true;
}

static void plain_response(struct smtp_session *s, struct smtp_view resp, struct smtp_out *out)
{
	uint8_t buf[DECODED_MAX];
	size_t n;
	struct smtp_view user;
	if (!decode(s, resp, buf, &n, out))
		return;
	bool ok = smtp_auth_plain_user(buf, n, &user) && !smtp_view_has_ctl(user);
	if (ok)
		auth_user(s, user);
	auth_done(s, ok, out);
}

static void login_user(struct smtp_session *s, struct smtp_view resp, struct smtp_out *out)
{
	uint8_t buf[DECODED_MAX];
	size_t n;
	if (!decode(s, resp, buf, &n, out))
		return;
	if (smtp_view_has_ctl(smtp_view_make(buf, n))) {
		auth_done(s, false, out); /* a user name cannot hold a line break */
		return;
	}
	auth_user(s, smtp_view_make(buf, n));
	s->state = SMTP_STATE_AUTH_LOGIN_PASS;
	smtp_reply_line(out, 334, false, false, LOGIN_PASS_CHALLENGE);
}

/* Why AUTH cannot start now, or NULL. */
static const char *auth_refusal(const struct smtp_session *s, unsigned *code)
{
	*code = 503;
	if (!session_verb_offered(s, SMTP_VERB_AUTH))
		return "5.5.1 Error: authentication not enabled";
	if (s->helo_verb != SMTP_VERB_EHLO && s->helo_verb != SMTP_VERB_LHLO)
		return "5.5.1 Error: send EHLO first";
	if (s->authenticated)
		return "5.5.1 Error: already authenticated";
	if (s->txn != SMTP_TXN_NONE)
		return "5.5.1 Error: MAIL transaction in progress";
	return NULL;
}

void session_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	unsigned code;
	const char *refusal = auth_refusal(s, &code);
	if (refusal != NULL) {
		session_error(s, out, code, refusal);
		return;
	}
	struct smtp_cmd mech = smtp_cmd_parse(cmd->arg); /* "PLAIN [initial]" */
	struct smtp_view word = smtp_view_make(cmd->arg.ptr, (size_t)(mech.arg.ptr - cmd->arg.ptr));
	while (word.len > 0 && (word.ptr[word.len - 1] == ' ' || word.ptr[word.len - 1] == '\t'))
		word.len--;
	struct smtp_view initial = mech.arg;
	bool plain = smtp_view_eq_nocase(word, "PLAIN");
	if (!plain && !smtp_view_eq_nocase(word, "LOGIN")) {
		session_error(s, out, 504, "5.5.4 Error: unsupported authentication mechanism");
		return;
	}
	/* RFC 4954 4: "=" is an empty initial response */
	bool empty_initial = initial.len == 1 && initial.ptr[0] == '=';
	if (empty_initial)
		initial.len = 0;
	if (plain && (initial.len > 0 || empty_initial))
		plain_response(s, initial, out);
	else if (plain) {
		s->state = SMTP_STATE_AUTH_PLAIN;
		smtp_reply_raw(out, "334 \r\n", 6);
	} else if (initial.len > 0 || empty_initial)
		login_user(s, initial, out);
	else {
		s->state = SMTP_STATE_AUTH_LOGIN_USER;
		smtp_reply_line(out, 334, false, false, LOGIN_USER_CHALLENGE);
	}
}

void session_cmd_auth_response(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	struct smtp_view line = cmd->arg;
	if (line.len == 1 && line.ptr[0] == '*') {
		s->state = SMTP_STATE_COMMAND;
		session_emit_simple(s, SMTP_EV_AUTH, SMTP_REASON_NONE);
		session_error(s, out, 501, "5.7.0 Error: authentication aborted");
		return;
	}
	switch ((enum smtp_state)s->state) {
	case SMTP_STATE_AUTH_PLAIN:
		plain_response(s, line, out);
		break;
	case SMTP_STATE_AUTH_LOGIN_USER:
		login_user(s, line, out);
		break;
	case SMTP_STATE_AUTH_LOGIN_PASS: {
		uint8_t buf[DECODED_MAX];
		size_t n;
		if (decode(s, line, buf, &n, out))
			auth_done(s, true, out);
		break;
	}
	default:
		break;
	}
}
