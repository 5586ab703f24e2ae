/*
 * core/smtp_session_helo.c - HELO, EHLO and LHLO, and the EHLO keywords.
 *
 * Owns: which greeting verb is valid (LHLO only in LMTP mode, RFC 2033;
 * EHLO only while ESMTP is on), the hostname rule (lenient: an empty name
 * is accepted and noted; strict_helo_name: 501), the reset of a transaction
 * in progress (RFC 5321 4.1.4), and the EHLO reply built from the enabled
 * extensions' rows in the registry (smtp_verbs.c: keywords and order).
 */
#include <string.h>

#include "smtp_session_int.h"

/* The EHLO line of extension e in this session, if it is offered: STARTTLS
 * is not, once TLS is on (RFC 3207 4.2). */
static bool ehlo_line(const struct smtp_session *s, const struct smtp_ext_info *e, char *line)
{
	return !(s->tls && e->bit == SMTP_EXT_STARTTLS) && smtp_verbs_ehlo_line(e, s->cfg, line);
}

/* Append the multi-line EHLO/LHLO reply: the hostname, then one line per
 * offered extension, in the registry's order (smtp_verbs.c). */
static void ehlo_reply(struct smtp_session *s, struct smtp_out *out)
{
	char line[SMTP_VERBS_EHLO_LINE_MAX_BYTES];
	const struct smtp_ext_info *e;
	size_t n = 0, done = 0;
	for (size_t i = 0; (e = smtp_verbs_ext(i)) != NULL; i++)
		n += ehlo_line(s, e, line);
	smtp_reply_line(out, 250, n > 0, false, s->cfg->hostname);
	for (size_t i = 0; (e = smtp_verbs_ext(i)) != NULL; i++)
		if (ehlo_line(s, e, line))
			smtp_reply_line(out, 250, ++done < n, false, line);
}

/* Is this greeting verb valid in this configuration? */
static bool verb_allowed(const struct smtp_session *s, enum smtp_verb verb, unsigned *code, const char **text)
{
	*code = 500;
	*text = "5.5.1 Error: command not recognized";
	if (s->cfg->lmtp)
		return verb == SMTP_VERB_LHLO;
	if (verb == SMTP_VERB_LHLO)
		return false;
	if (!session_verb_offered(s, verb)) { /* EHLO without ESMTP */
		*code = 502;
		*text = "5.5.1 Error: command not implemented";
		return false;
	}
	return true;
}

static const char *syntax_text(enum smtp_verb verb)
{
	if (verb == SMTP_VERB_EHLO)
		return "5.5.4 Syntax: EHLO hostname";
	if (verb == SMTP_VERB_LHLO)
		return "5.5.4 Syntax: LHLO hostname";
	return "5.5.4 Syntax: HELO hostname";
}

void session_cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	unsigned code;
	const char *text;
	if (!verb_allowed(s, cmd->verb, &code, &text)) {
		session_error(s, out, code, text);
		return;
	}
	bool no_name = cmd->arg.len == 0;
	if (no_name) /* a quirk whether or not strict_helo_name refuses it */
		s->quirks |= SMTP_QUIRK_HELO_NO_NAME;
	if ((no_name && s->cfg->strict_helo_name) || smtp_view_has_ctl(cmd->arg)) {
		session_error(s, out, 501, syntax_text(cmd->verb));
		return;
	}
	if (s->txn != SMTP_TXN_NONE) {
		session_end_txn(s, SMTP_REASON_HELO);
		session_emit_simple(s, SMTP_EV_RESET, SMTP_REASON_HELO);
	}
	s->helo_verb = (uint8_t)cmd->verb;
	struct smtp_event ev = { .type = SMTP_EV_HELO, .verb = cmd->verb, .arg = cmd->arg };
	if (no_name)
		ev.flags |= SMTP_EVF_NO_NAME;
	session_emit(s, &ev);
	if (cmd->verb == SMTP_VERB_HELO)
		smtp_reply_line(out, 250, false, false, s->cfg->hostname);
	else
		ehlo_reply(s, out);
}
