/*
 * io/conn_fault.h - the one hook that may change a session's course:
 * fault rules, rate limits, recipient outcomes and the storage check,
 * decided at each stage of a connection.
 *
 * Owns: asking the rules in force (fault_set.h) at connect, at each
 * command, at MAIL/RCPT once their address is known, when message content
 * begins and at end of data; recipient outcomes (tempfail@ ...); the rate
 * limits (throttle.h); MAIL refused while the spool cannot store; and
 * counting each firing (rule counters, the shard's stats).  It does NOT act
 * on what it decides: it fills a struct conn_decision, and the caller
 * applies it (conn_events.c for session events, conn.c at connect,
 * conn_capture.c at end of data) and shows it to the observers (the
 * transcript notes it, the session report counts it).
 *
 * Texts: an override's text is owned by the rule set (kept until exit),
 * by the shard's fixed texts (built once at start), or by the connection
 * (c->ov_text, a recipient outcome naming the address); never by scratch
 * that a later decision overwrites.
 */
#ifndef SMTPSINK_CONN_FAULT_H
#define SMTPSINK_CONN_FAULT_H

#include <stdbool.h>

#include "conn.h"
#include "smtp_session.h"

struct spool_answer;

/* What the hook decided for one step. */
struct conn_decision {
	const struct smtp_override *ov; /* a reply instead of the session's own (c->ov); NULL: none */
	bool undone; /* MAIL/RCPT: refused by ov, so the session undoes the command */
	bool hold; /* a delay: the session pauses after this step, then holds */
	bool hold_input_only; /* ... only its input (a content stall) */
	uint32_t hold_ms;
	bool abort; /* content: abort once the stall is over */
	uint16_t abort_code; /* 0: disconnect without a reply */
	const char *abort_text;
	/* what fired, for the observers */
	int rule; /* the rule that fired, -1: none */
	uint8_t stage; /* enum fault_stage of that rule */
	const char *throttled; /* a rate limit refused: which one */
	uint16_t outcome; /* a recipient outcome chose this code */
	bool tls_fail; /* tls:fail: the handshake that follows gets an alert */
};

#define CONN_DECISION_NONE ((struct conn_decision){ .rule = -1 })

enum conn_fault_start {
	CONN_FAULT_GREET, /* write the banner now */
	CONN_FAULT_HOLD, /* a delay: the banner waits for the hold to end */
	CONN_FAULT_REFUSED, /* a reply (in out) or none; close */
};

/* At accept (the client's concurrent sessions, connection rate limits,
 * connect rules). */
enum conn_fault_start conn_fault_connect(struct conn *c, struct smtp_out *out, struct conn_decision *d);

/* An implicit-TLS handshake is about to start (tls rules): GREET: start
 * it (d->tls_fail: to fail it); HOLD: after d's delay; REFUSED: close,
 * no reply (none could be read before TLS). */
enum conn_fault_start conn_fault_handshake(struct conn *c, struct conn_decision *d);

/* A session event: COMMAND (storage at MAIL, message rate limits at MAIL,
 * the rules of the command's stage except mail/rcpt, "any" rules), MAIL
 * and RCPT (mail and rcpt rules with the address's domain, recipient
 * outcomes), DATA_BEGIN (content rules: stall the input, abort after it).
 * Other events decide nothing. */
void conn_fault_event(struct conn *c, const struct smtp_event *ev, struct conn_decision *d);

/* End of data, before the message is stored: what a dot rule says. */
enum conn_fault_end {
	CONN_FAULT_STORE, /* no answer from the rules: store it as usual */
	CONN_FAULT_REFUSE, /* *ans holds the refusal; the message is not kept */
	CONN_FAULT_REFUSE_CLOSE, /* the same, then close */
	CONN_FAULT_DROP, /* close without any reply; the message is not kept */
};
enum conn_fault_end conn_fault_dot(struct conn *c, struct spool_answer *ans, struct conn_decision *d);

/* The shard's fixed texts ("4.7.0 <host> ..."), built once at start. */
struct conn_fault_texts {
	char closing[SMTP_REPLY_LINE_MAX_BYTES];
	char conn_rate[SMTP_REPLY_LINE_MAX_BYTES];
	char msg_rate[SMTP_REPLY_LINE_MAX_BYTES];
	char client_conns[SMTP_REPLY_LINE_MAX_BYTES];
};
void conn_fault_texts_init(struct conn_fault_texts *t, const char *hostname);

#endif
