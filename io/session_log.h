/*
 * io/session_log.h - gathering one session's report from its events.
 *
 * Owns: the running account of a session (commands by verb, the open
 * transaction and how it ends, the queue IDs of its messages, silences of
 * the client longer than --idle-gap) and turning it into a struct
 * session_report (core/session_report.h) when the connection closes.  The
 * connection feeds it session events, the verdicts of its messages and the
 * times of its input and output; it never touches a socket or the spool.
 * Memory: one allocation per session at connect, lists grown only for
 * sessions that have aborted transactions, gaps, messages or fault rules
 * that fired (a copy of each rule's text), and capped at the report's list
 * limits.
 */
#ifndef SMTPSINK_SESSION_LOG_H
#define SMTPSINK_SESSION_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "queue_id.h"
#include "session_report.h"
#include "smtp_session.h"

/* A fault rule that fired, by its own copy of the rule's text (a reload
 * may free the rule set before the session ends). */
struct session_log_fault {
	char *text;
	uint32_t count;
};

struct session_log {
	struct session_report r; /* counts so far; lists set at finish */
	struct session_log_fault *faults; /* r.fault_rule_count named so far */
	struct session_fault *fault_views; /* built at finish */
	struct session_abort *aborts;
	struct session_gap *gaps;
	char (*qids)[QUEUE_ID_LEN + 1];
	struct smtp_view *qid_views; /* built at finish */
	uint32_t abort_cap, gap_cap, qid_cap, qid_count;
	uint64_t connect_mono_us; /* for offsets */
	uint64_t idle_gap_us; /* --idle-gap goes up to a day: 64 bits */
	uint32_t txn_rcpt_cmds; /* RCPT commands in the open transaction */
	uint32_t txn_rcpts; /* ... accepted */
	uint8_t last_verb; /* SMTP_VERB_COUNT: none yet */
	bool txn_open, txn_data;
	bool end_in_txn; /* a transaction was open when the session ended */
	bool closed; /* CLOSE seen: end_reason is set */
	char *tls, *tls_sni; /* TLS facts (session_log_tls), or NULL */
};

/* At connect.  NULL: out of memory (the session runs without a report). */
struct session_log *session_log_new(uint64_t connect_wall_us, uint64_t mono_us, uint32_t idle_gap_ms);
void session_log_free(struct session_log *log);

void session_log_event(struct session_log *log, const struct smtp_event *ev, uint64_t mono_us);
/* The answer to a completed message (qid when code is 250). */
void session_log_verdict(struct session_log *log, unsigned code, const char *qid);
/* A fault rule fired: rule is its canonical text (NULL: counted only). */
void session_log_fault(struct session_log *log, const char *rule);
/* TLS: "TLSv1.3 TLS_AES_256_GCM_SHA384" or "failed: why", and the SNI
 * (NULL: none). */
void session_log_tls(struct session_log *log, const char *text, const char *sni);
/* Input arrived; the client had been silent since silent_us (its last
 * input, or the end of the server's last output or hold). */
void session_log_input(struct session_log *log, uint64_t mono_us, uint64_t silent_us, uint64_t bytes);
static inline void session_log_output(struct session_log *log, uint64_t bytes)
{
	log->r.bytes_out += bytes;
}

/* The connection is gone: close the accounts (the end reason and who
 * ended it by session_report_end(): a session that never closed ends, and
 * its open transaction with it, for why; a silence before the end is a
 * gap) and fill the report's
 * lists and the session's own facts.  The report's views point into log
 * and s's config; valid until session_log_free(). */
const struct session_report *session_log_finish(struct session_log *log, const struct smtp_session *s,
						enum smtp_reason why, uint64_t end_wall_us, uint64_t mono_us,
						uint64_t silent_us);

#endif
