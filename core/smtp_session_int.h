/*
 * core/smtp_session_int.h - internals shared by the smtp_session_*.c files.
 *
 * Owns: the helpers each command handler uses to reply, count client
 * errors, raise events and end transactions, so that every handler applies
 * the same rules.  Not part of the public API (smtp_session.h).
 */
#ifndef SMTPSINK_SMTP_SESSION_INT_H
#define SMTPSINK_SMTP_SESSION_INT_H

#include "smtp_session.h"
#include "smtp_verbs.h"

static inline bool session_enhanced(const struct smtp_session *s)
{
	return (s->cfg->ext & SMTP_EXT_ENHANCEDSTATUSCODES) != 0;
}

/* Is the extension this verb needs (its registry row) switched on? */
static inline bool session_verb_offered(const struct smtp_session *s, enum smtp_verb verb)
{
	uint32_t need = smtp_verbs_info(verb)->ext;
	return (s->cfg->ext & need) == need;
}

/* Raise an event; returns the layer above's override (COMMAND only). */
const struct smtp_override *session_emit(struct smtp_session *s, const struct smtp_event *ev);
void session_emit_simple(struct smtp_session *s, enum smtp_event_type type, enum smtp_reason reason);

/* A success or neutral reply. */
void session_reply(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text);

/* A refusal caused by the client: written, counted, and after max_errors
 * followed by 421 and the close. */
void session_error(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text);
void session_error_spec(struct smtp_session *s, struct smtp_out *out, const struct smtp_reply_spec *spec);

/* The layer above answered a valid MAIL or RCPT from its event callback:
 * a 4xx/5xx override refuses it, a 2xx one with a text replaces its
 * success reply; either is written (and closes after it if asked). */
enum session_event_answer {
	SESSION_EVENT_NORMAL, /* no override: the command's own reply */
	SESSION_EVENT_REFUSED,
	SESSION_EVENT_REPLIED, /* accepted, with the override's reply */
};
enum session_event_answer session_event_override(struct smtp_session *s, const struct smtp_override *ov,
						 struct smtp_out *out);

/* DATA, BDAT or RCPT finds no transaction to act on only because the layer
 * above refused its MAIL or every RCPT (fault rules, recipient outcomes):
 * the refusal that follows is not the client's error, so it is not
 * counted toward max_errors (a pipelining client may send them all). */
bool session_refused_above(const struct smtp_session *s);
/* A refusal of the session's own that is the client's error unless
 * session_refused_above(). */
void session_error_unless_above(struct smtp_session *s, struct smtp_out *out, unsigned code, const char *text);

/* Enter the closed state, raising SMTP_EV_CLOSE. */
void session_close(struct smtp_session *s, enum smtp_reason why);

/* Drop the transaction (MSG_ABORT first if a message was under way). */
void session_end_txn(struct smtp_session *s, enum smtp_reason why);

/* Command handlers (one per verb family), named by the rows of
 * smtp_verbs.c. */
void session_cmd_unknown(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_not_implemented(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_rset(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_noop(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_quit(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_help(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);
void session_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);

/* AUTH continuation lines (states AUTH_*): cmd->arg is the whole line. */
void session_cmd_auth_response(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);

/* Message content: DATA and BDAT states.  Return bytes consumed. */
size_t session_feed_data(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out);
size_t session_feed_bdat(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out);

/* BDAT refused by an override (without close): read its chunk, then
 * answer with the override.  False if the command is malformed (the
 * normal handler must answer it: the chunk size is unknown). */
bool session_bdat_refuse(struct smtp_session *s, const struct smtp_cmd *cmd, const struct smtp_override *ov,
			 struct smtp_out *out);

/* Complete a chunk of zero octets (BDAT 0 LAST), as if its payload ended. */
void session_bdat_chunk_done(struct smtp_session *s, struct smtp_out *out);

#endif
