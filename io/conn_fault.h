/*
 * io/conn_fault.h - fault injection and rate limits, applied to one
 * connection at each stage of its session.
 *
 * Owns: asking the rules in force (fault_set.h) at connect, at each
 * command, at MAIL/RCPT once their address is known, when message content
 * begins and at end of data; recipient outcomes (tempfail@ ...); the rate
 * limits (throttle.h); and turning each decision into what the connection
 * does: a reply override for the session, a hold of the replies (delay) or
 * of the input (content stall), an abort after a stall, or a close.  Every
 * firing is counted (rule counters, the shard's stats, the session report)
 * and shows in the transcript.
 */
#ifndef SMTPSINK_CONN_FAULT_H
#define SMTPSINK_CONN_FAULT_H

#include <stdbool.h>

#include "conn.h"
#include "smtp_session.h"

struct spool_answer;

enum conn_fault_start {
	CONN_FAULT_GREET, /* write the banner now */
	CONN_FAULT_HOLD, /* a delay: the banner waits for the hold to end */
	CONN_FAULT_REFUSED, /* a reply (in out) or none; close */
};

/* At accept (connection rate limits, connect rules). */
enum conn_fault_start conn_fault_connect(struct conn *c, struct smtp_out *out);

/* SMTP_EV_COMMAND (message rate limits at MAIL, rules of the command's
 * stage except mail/rcpt, "any" rules); SMTP_EV_MAIL/SMTP_EV_RCPT (mail and
 * rcpt rules with the address's domain, recipient outcomes).  NULL: no
 * override. */
const struct smtp_override *conn_fault_command(struct conn *c, const struct smtp_event *ev);
const struct smtp_override *conn_fault_address(struct conn *c, const struct smtp_event *ev);

/* SMTP_EV_DATA_BEGIN: content rules (stall the input, abort after it). */
void conn_fault_content(struct conn *c);

/* End of data, before the message is stored: what a dot rule says. */
enum conn_fault_end {
	CONN_FAULT_STORE, /* no answer from the rules: store it as usual */
	CONN_FAULT_REFUSE, /* *ans holds the refusal; the message is not kept */
	CONN_FAULT_REFUSE_CLOSE, /* the same, then close */
	CONN_FAULT_DROP, /* close without any reply; the message is not kept */
};
enum conn_fault_end conn_fault_dot(struct conn *c, struct spool_answer *ans);

#endif
