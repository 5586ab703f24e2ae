/*
 * core/smtp_session.h - the SMTP/LMTP server session state machine.
 *
 * Owns: everything one server-side session knows about the protocol: which
 * commands are legal now, replies and their enhanced status codes, the
 * transaction (MAIL, RCPT count, DATA or BDAT in progress), limits and the
 * error count.  It does NOT own sockets, clocks, message storage, queue IDs
 * or the addresses of the transaction: those belong to the layer above,
 * which learns them from events.
 *
 * Contract (zero copy, like picohttpparser):
 *  - The caller owns the input bytes and the output buffer.  feed() consumes
 *    a prefix of the input, appends replies to the output and reports events
 *    through the callback.  Views in events point into the caller's input (or
 *    into static constants) and are valid until feed() returns.
 *  - feed() stops early for three reasons, and the caller keeps the
 *    unconsumed input for the next call:
 *      SMTP_STOP_OUT_FULL  output has less than SMTP_OUT_RESERVE_BYTES free;
 *                          send it, then feed the rest again.
 *      SMTP_STOP_VERDICT   end of data: a message was completed
 *                          (SMTP_EV_MSG_END); call smtp_session_verdict()
 *                          with the outcome (queue ID or error) before
 *                          feeding more.  Until then the session accepts no
 *                          input (pipelined commands wait in the caller).
 *      SMTP_STOP_CLOSE     the session is over (QUIT, fatal error): send the
 *                          output, then close.  It consumes no more input.
 *      SMTP_STOP_PAUSE     an event callback called smtp_session_pause():
 *                          the step that raised the event is done (its
 *                          reply written), nothing after it was consumed;
 *                          feed the rest when the layer above is ready
 *                          (a fault delay holds the next command, or a
 *                          message's content, until it ends).
 *  - The session never allocates.  Its size is fixed (a few hundred bytes),
 *    whatever the input.  The one command line of carry it may need is the
 *    caller's, lent only while a line is pending (smtp_session_carry_*
 *    below, core/line_scan.h): an idle session holds none.
 *
 * Every reply carries an enhanced status code (RFC 2034) while
 * ENHANCEDSTATUSCODES is advertised.  Wording follows Postfix where clients
 * and scripts parse it ("250 2.0.0 Ok: queued as ID").
 */
#ifndef SMTPSINK_SMTP_SESSION_H
#define SMTPSINK_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_decoder.h"
#include "line_scan.h"
#include "smtp_cmd.h"
#include "smtp_config.h"
#include "smtp_limits.h"
#include "smtp_msg_flags.h"
#include "smtp_params.h"
#include "smtp_reply.h"
#include "smtp_view.h"

enum smtp_stop {
	SMTP_STOP_INPUT, /* all input consumed; feed more when it arrives */
	SMTP_STOP_OUT_FULL,
	SMTP_STOP_VERDICT,
	SMTP_STOP_CLOSE,
	SMTP_STOP_PAUSE, /* the layer above asked to stop (smtp_session_pause) */
	SMTP_STOP_STARTTLS, /* "220 Ready to start TLS" was written: send it,
			       discard the input after the STARTTLS line
			       (never answer nor decrypt it: CVE-2011-0411),
			       run the handshake, then call
			       smtp_session_tls_started() */
};

enum smtp_event_type {
	SMTP_EV_GREETING, /* the 220 banner was written */
	SMTP_EV_COMMAND, /* a complete command line, before it is acted on */
	SMTP_EV_HELO, /* HELO/EHLO/LHLO accepted; arg = name (may be empty) */
	SMTP_EV_AUTH_USER, /* AUTH named a user; arg = decoded user name */
	SMTP_EV_AUTH, /* AUTH finished; flags & SMTP_EVF_OK on success */
	SMTP_EV_MAIL, /* MAIL accepted; arg = reverse-path, params, mail */
	SMTP_EV_RCPT, /* RCPT accepted; arg = forward-path, params */
	SMTP_EV_DATA_BEGIN, /* 354 sent, or the first BDAT chunk began */
	SMTP_EV_BODY, /* message bytes after dot-unstuffing; arg = bytes */
	SMTP_EV_MSG_END, /* message complete: size, flags; verdict needed */
	SMTP_EV_MSG_ABORT, /* message in progress dropped; reason says why */
	SMTP_EV_RESET, /* transaction cleared (RSET, HELO/EHLO, ...) */
	SMTP_EV_QUIT,
	SMTP_EV_CLOSE, /* the session ends after this output; reason */
};

/* Why a message was dropped or the session is closing. */
enum smtp_reason {
	SMTP_REASON_NONE,
	SMTP_REASON_RSET,
	SMTP_REASON_HELO, /* HELO/EHLO in mid-transaction */
	SMTP_REASON_QUIT,
	SMTP_REASON_EOF, /* peer closed */
	SMTP_REASON_TIMEOUT,
	SMTP_REASON_SHUTDOWN,
	SMTP_REASON_TOO_BIG,
	SMTP_REASON_BARE_LF, /* rejected by --bare-lf=reject */
	SMTP_REASON_BDAT_ERROR, /* chunk refused; transaction poisoned */
	SMTP_REASON_TOO_MANY_ERRORS,
	SMTP_REASON_SYNTAX, /* unrecoverable (malformed BDAT) */
	SMTP_REASON_SYNC, /* strict_sync: input before the reply */
	SMTP_REASON_FAULT, /* an override asked for the close */
	SMTP_REASON_VERDICT, /* the layer above refused the message */
};

/* Event flags. */
enum smtp_event_flag {
	SMTP_EVF_PIPELINED = 1u << 0, /* COMMAND: more input followed it */
	SMTP_EVF_SECRET = 1u << 1, /* COMMAND: carries credentials */
	SMTP_EVF_OK = 1u << 2, /* AUTH: succeeded */
	SMTP_EVF_NO_NAME = 1u << 3, /* HELO: no hostname given */
	SMTP_EVF_BDAT = 1u << 4, /* DATA_BEGIN, MSG_END: via BDAT */
	SMTP_EVF_BARE_LF_LINE = 1u << 5, /* COMMAND: ended by a bare LF */
	SMTP_EVF_NO_BRACKETS = 1u << 6, /* MAIL/RCPT: path without <> */
	SMTP_EVF_REFUSED = 1u << 7, /* COMMAND: the line will be refused before
				       its verb is acted on (malformed, or a
				       strict_sync violation): no override is used */
};

/* Session quirks: things a client did that are legal-ish but telling. */
enum smtp_quirk {
	SMTP_QUIRK_HELO_NO_NAME = 1u << 0,
	SMTP_QUIRK_NO_HELO = 1u << 1, /* MAIL without HELO/EHLO */
	SMTP_QUIRK_BARE_LF_COMMAND = 1u << 2,
	SMTP_QUIRK_PREGREET = 1u << 3, /* talked before the banner */
	SMTP_QUIRK_PIPELINING_UNADVERTISED = 1u << 4,
	SMTP_QUIRK_ILL_PIPELINING = 1u << 5, /* input after a group end */
	SMTP_QUIRK_LOWERCASE_VERB = 1u << 6,
	SMTP_QUIRK_ODD_SPACING = 1u << 7, /* "MAIL FROM: <x>", double space */
	SMTP_QUIRK_NO_BRACKETS = 1u << 8,
	SMTP_QUIRK_RSET_FOR_DATA = 1u << 9, /* RSET after RCPT, no DATA */
	SMTP_QUIRK_PIPELINING_NO_EHLO = 1u << 10, /* pipelined after HELO or none */
	SMTP_QUIRK_BARE_LF_CONTENT = 1u << 11, /* a bare LF in message content */
	SMTP_QUIRK_BARE_CR_CONTENT = 1u << 12, /* a bare CR in message content */
	SMTP_QUIRK_CONTENT_BEFORE_354 = 1u << 13, /* DATA pipelined with content */
	SMTP_QUIRK_COUNT = 14,
};

struct smtp_event {
	enum smtp_event_type type;
	enum smtp_verb verb; /* COMMAND, HELO, AUTH */
	uint32_t flags; /* enum smtp_event_flag; MSG_END: smtp_msg_flag */
	enum smtp_reason reason; /* MSG_ABORT, CLOSE */
	struct smtp_view arg; /* see enum smtp_event_type */
	struct smtp_view params; /* MAIL/RCPT: raw parameter text */
	const struct smtp_mail_params *mail; /* MAIL */
	const struct smtp_rcpt_params *rcpt; /* RCPT */
	uint64_t size_bytes; /* MSG_END: message size as stored */
	uint32_t rcpts; /* MSG_END: accepted recipients */
};

/* The layer above may replace the session's reply to a command.  It
 * returns NULL for the normal behaviour, or a reply to send instead, from
 * the callback for SMTP_EV_COMMAND.  A 2xx/3xx override still runs the
 * command; a 4xx/5xx one refuses it (and does not count as a client error).
 * A refusal of BDAT still reads its chunk (RFC 3030: the stream stays in
 * sync) and answers once it is read, so its text must live that long (a
 * literal, or a rule set's); with close it closes at once.
 * The callbacks for SMTP_EV_MAIL and SMTP_EV_RCPT may answer too, once the
 * command was found valid (recipient outcomes chosen by address): a 4xx/5xx
 * override there undoes the MAIL or RCPT and is the reply; a 2xx one with a
 * text keeps it and replaces the "250 Ok"; one without a text changes
 * nothing, its close included (at the events, close goes with a refusal or
 * a text).
 * close = true closes the session after the reply; close with an empty
 * text closes without any reply (smtp-sink -q). */
struct smtp_override {
	uint16_t code;
	bool close;
	const char *text; /* "4.7.0 Busy"-style, no code, no CRLF; NULL: none */
};

/* Does the override refuse (4xx/5xx, or an out-of-range code)? */
static inline bool smtp_override_refuses(const struct smtp_override *ov)
{
	return ov->code >= 400 || ov->code < 200;
}

typedef const struct smtp_override *(*smtp_event_fn)(void *ctx, const struct smtp_event *ev);

/* The layer above's answer to SMTP_EV_MSG_END. */
struct smtp_verdict {
	uint16_t code; /* 250: accepted; 4xx/5xx: refused */
	const char *qid; /* 250: the queue ID (<= SMTP_QID_MAX_BYTES) */
	const char *text; /* refused: "4.3.0 Error: write error" style; must
			     outlive the LMTP replies (use a literal) */
};

enum smtp_state {
	SMTP_STATE_COMMAND, /* reading command lines */
	SMTP_STATE_AUTH_PLAIN, /* waiting for the PLAIN response line */
	SMTP_STATE_AUTH_LOGIN_USER, /* waiting for the LOGIN user name */
	SMTP_STATE_AUTH_LOGIN_PASS, /* waiting for the LOGIN password */
	SMTP_STATE_DATA, /* inside DATA content, until CRLF.CRLF */
	SMTP_STATE_BDAT, /* inside a BDAT chunk, bdat_left octets to go */
	SMTP_STATE_VERDICT, /* message complete, verdict awaited */
	SMTP_STATE_LMTP_REPLIES, /* writing per-recipient LMTP replies */
	SMTP_STATE_STARTTLS, /* STARTTLS answered 220; the handshake is the
				layer above's, no input is taken meanwhile */
	SMTP_STATE_CLOSED,
};

/* Transaction phase (RFC 5321 3.3). */
enum smtp_txn {
	SMTP_TXN_NONE, /* no MAIL yet */
	SMTP_TXN_MAIL, /* MAIL accepted, recipients may follow */
	SMTP_TXN_BDAT, /* BDAT chunks (not LAST) received */
	SMTP_TXN_BDAT_FAILED, /* a chunk was refused: 551 until LAST/RSET */
};

/* Why a BDAT chunk being read will be refused once it has been consumed
 * (RFC 3030: the payload is always read, so the stream stays in sync). */
enum smtp_bdat_error {
	SMTP_BDAT_OK,
	SMTP_BDAT_NOT_OFFERED, /* CHUNKING is switched off */
	SMTP_BDAT_NEED_MAIL,
	SMTP_BDAT_NEED_RCPT,
	SMTP_BDAT_NO_VALID_RCPT,
	SMTP_BDAT_TOO_BIG,
	SMTP_BDAT_DISCARDED, /* after an earlier chunk error */
	SMTP_BDAT_REFUSED_ABOVE, /* an override refused it: its reply, once read */
};

struct smtp_session {
	const struct smtp_config *cfg;
	smtp_event_fn on_event;
	void *ctx;
	uint8_t state; /* enum smtp_state */
	uint8_t txn; /* enum smtp_txn */
	uint8_t helo_verb; /* enum smtp_verb of the last accepted HELO/EHLO/LHLO */
	uint8_t bdat_error; /* enum smtp_bdat_error for the chunk being read */
	bool greeted; /* the banner was written */
	bool authenticated;
	bool bdat_last; /* the chunk being read is the LAST one */
	bool oversize; /* the message passed max_size: no longer stored */
	bool bare_lf_first; /* a bare LF was seen before max_size was passed */
	bool sunk_bare_lf; /* a bare LF was in the content handed up so far */
	bool sunk_cr; /* the last content byte handed up was CR */
	bool sync_error; /* strict_sync: input followed end of data */
	bool body_binary; /* MAIL BODY=BINARYMIME: DATA is not allowed */
	bool msg_open; /* DATA_BEGIN raised, no MSG_END/MSG_ABORT yet */
	bool cmd_pipelined; /* the command being handled had input after it */
	bool pause; /* smtp_session_pause() was called: stop after this step */
	bool mail_refused_above; /* the last MAIL was refused by the layer above */
	bool tls; /* the session runs over TLS (STARTTLS done, or implicit TLS) */
	uint16_t verdict_code; /* LMTP: the verdict being repeated */
	uint16_t bdat_ov_code; /* SMTP_BDAT_REFUSED_ABOVE: the override's reply */
	uint32_t rcpts; /* accepted recipients in this transaction */
	uint32_t rcpts_refused; /* refused RCPTs in this transaction */
	uint32_t rcpts_refused_above; /* ... of them by the layer above (fault rules, outcomes) */
	uint32_t rcpts_over; /* RCPTs refused 452 over the cap, this transaction */
	uint32_t errors; /* client errors so far */
	uint32_t quirks; /* enum smtp_quirk bits, whole session */
	uint32_t msg_flags; /* enum smtp_msg_flag bits, this transaction */
	uint32_t lmtp_left; /* LMTP replies still to write */
	uint64_t msg_bytes; /* size of the message in progress */
	uint64_t bdat_left; /* octets of the current chunk still to read */
	uint64_t bdat_chunk_bytes; /* size of the current chunk */
	const char *verdict_text; /* LMTP: refusal text (a literal) */
	const char *bdat_ov_text; /* ... its text (must outlive the chunk) */
	char qid[SMTP_QID_MAX_BYTES + 1]; /* LMTP: the verdict's queue ID */
	struct data_decoder data;
	struct line_scan lines;
};

void smtp_session_init(struct smtp_session *s, const struct smtp_config *cfg, smtp_event_fn on_event, void *ctx);

/* Write the 220 banner.  Input fed before this is a pre-greeting quirk:
 * under strict_sync it is answered 554 and the session closes; otherwise
 * feed() writes the banner itself first and then serves the input. */
void smtp_session_greet(struct smtp_session *s, struct smtp_out *out);

/* Consume input; see the contract above.  *consumed is set even on stop. */
enum smtp_stop smtp_session_feed(struct smtp_session *s, const uint8_t *in, size_t len, size_t *consumed,
				 struct smtp_out *out);

/* Give the outcome of the message reported by SMTP_EV_MSG_END.  feed()
 * returned SMTP_STOP_VERDICT with at least SMTP_OUT_RESERVE_BYTES of output
 * room, which this needs (SMTP_REPLY_LINE_MAX_BYTES).  Returns
 * SMTP_STOP_INPUT when the session is ready for more input,
 * SMTP_STOP_OUT_FULL when LMTP replies are still to be written (call
 * smtp_session_feed with no input after the output was sent), or
 * SMTP_STOP_CLOSE when strict_sync found input after the end of data. */
enum smtp_stop smtp_session_verdict(struct smtp_session *s, const struct smtp_verdict *v, struct smtp_out *out);

/* The peer closed its side: any transaction in progress is aborted
 * (SMTP_EV_MSG_ABORT with SMTP_REASON_EOF).  Not while a verdict is
 * awaited: the message is complete then, so give the verdict first. */
void smtp_session_eof(struct smtp_session *s);

/* End the session from above: write 421 with the reason's text (timeout:
 * "4.4.2 <host> Error: timeout exceeded", shutdown: "4.3.2 <host> Service
 * shutting down"), abort any transaction, and enter the closed state.
 * Needs SMTP_REPLY_LINE_MAX_BYTES of output room; not while a verdict is
 * awaited. */
void smtp_session_abort(struct smtp_session *s, enum smtp_reason why, struct smtp_out *out);

/* True while no transaction is open and no message is in flight: a point
 * where a shutdown may close the session without losing anything.  False
 * once the session is closed (after QUIT, eof or abort). */
bool smtp_session_is_idle(const struct smtp_session *s);

/* True while a command line (or an AUTH exchange line) has begun but not
 * ended: its first bytes wait in the session's carry.  The layer above
 * gives a command a deadline from its first byte (--timeout), so a line
 * trickled a byte at a time cannot hold the session. */
bool smtp_session_in_command(const struct smtp_session *s);

/* The command-line carry (core/line_scan.h), lent by the caller.  Before
 * each feed(): lend one (LINE_SCAN_CARRY_BYTES) when
 * smtp_session_carry_wanted() says so; after it, smtp_session_carry_idle()
 * gives it back unless a line is still pending in it.  A caller with few
 * sessions may instead lend one for good right after init. */
static inline bool smtp_session_carry_wanted(const struct smtp_session *s, const uint8_t *in, size_t len)
{
	return line_scan_needs_carry(&s->lines, in, len);
}
static inline void smtp_session_carry_lend(struct smtp_session *s, uint8_t *carry)
{
	line_scan_lend(&s->lines, carry);
}
static inline uint8_t *smtp_session_carry_idle(struct smtp_session *s)
{
	return line_scan_idle_carry(&s->lines);
}
/* The session is over: its carry back, any pending line dropped. */
static inline uint8_t *smtp_session_carry_drop(struct smtp_session *s)
{
	return line_scan_drop(&s->lines);
}

/* The TLS handshake after STARTTLS is done (state SMTP_STATE_STARTTLS):
 * the session starts over as RFC 3207 4.2 says (no HELO/EHLO, no AUTH, no
 * transaction), on TLS; the client's EHLO comes next.  Also for implicit
 * TLS, before the banner: the session is on TLS from its start. */
void smtp_session_tls_started(struct smtp_session *s);
/* From an event callback: make feed() return SMTP_STOP_PAUSE once the
 * step that raised the event is over (a command handled, with its reply;
 * DATA's 354 or a BDAT command read, before any content), so that no more
 * input is consumed until the caller feeds again.  A close or a verdict
 * still takes precedence. */
void smtp_session_pause(struct smtp_session *s);

/* End the session from above with a reply of the caller's choosing (a
 * fault rule: "550 5.3.0 aborted" in the middle of DATA), or none when
 * text is NULL: abort any transaction (SMTP_REASON_FAULT) and close.  Same
 * preconditions as smtp_session_abort(). */
void smtp_session_fail(struct smtp_session *s, unsigned code, const char *text, struct smtp_out *out);

#endif
