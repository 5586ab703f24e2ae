/*
 * core/smtp_session_tls.c - STARTTLS (RFC 3207) as the session sees it.
 *
 * Owns: when STARTTLS is refused (not offered: 502; with an argument: 501;
 * TLS already on, or a transaction open: 503), its 220, the state that
 * takes no input until the layer above has run the handshake
 * (SMTP_STATE_STARTTLS, feed() returns SMTP_STOP_STARTTLS), and the fresh
 * start after it (RFC 3207 4.2: the client's earlier HELO/EHLO, AUTH and
 * transaction are forgotten).  The handshake itself, the bytes that
 * followed the command (discarded, never answered: CVE-2011-0411) and the
 * certificate are the layer above's: core has no TLS.
 */
#include "smtp_session_int.h"

void session_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	if (!session_verb_offered(s, SMTP_VERB_STARTTLS)) {
		session_error(s, out, 502, "5.5.1 Error: command not implemented");
		return;
	}
	if (cmd->arg.len != 0) {
		session_error(s, out, 501, "5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		session_error(s, out, 503, "5.5.1 Error: TLS already active");
		return;
	}
	if (s->txn != SMTP_TXN_NONE) {
		session_error(s, out, 503, "5.5.1 Error: MAIL transaction in progress");
		return;
	}
	session_reply(s, out, 220, "2.0.0 Ready to start TLS");
	s->state = SMTP_STATE_STARTTLS;
}

void smtp_session_tls_started(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_STARTTLS)
		s->state = SMTP_STATE_COMMAND;
	s->tls = true;
	s->helo_verb = SMTP_VERB_UNKNOWN;
	s->authenticated = false;
}
