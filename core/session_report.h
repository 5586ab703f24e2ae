/*
 * core/session_report.h - what one SMTP session did, as a spool record.
 *
 * Owns: the session report (connect and disconnect times, client, HELO
 * name, commands counted by verb, transactions completed, refused and
 * aborted, each aborted transaction's contents and what ended it, idle
 * gaps, quirks, fault rules fired (how many, and which: each rule by its
 * canonical text with its count), the queue IDs of its messages), its
 * encoding as a spool record with flag SPOOL_FLAG_SESSION and an empty body,
 * its decoding, and the stable names of quirks and end reasons that the
 * spool tool shows and filters on.  Pure: the server (io/session_log.c)
 * gathers a report from session events and hands it here to encode; the
 * spool tool decodes it through spool_record_decode() and this file.
 *
 * The record shares the message records' framing (header, checksums,
 * torn-tail recovery, index entries): its queue ID field is the session ID
 * (a queue ID from the same generator, taken at connect, so it names the
 * connect time), RECEIVED_US is the connect time.  Messages name their
 * session with SPOOL_TAG_SESSION_ID.  docs/SPOOL-FORMAT.md lists the
 * session tags; on-disk codes for verbs, end reasons and quirks are fixed
 * there and never follow enum order silently (a verb's code is in its row
 * of the verb registry, core/smtp_verbs.c).
 */
#ifndef SMTPSINK_SESSION_REPORT_H
#define SMTPSINK_SESSION_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_cmd.h"
#include "smtp_session.h"
#include "smtp_view.h"
#include "spool_format.h"

/* At most this many entries of each list are kept in a report; the totals
 * still count every one. */
#define SESSION_REPORT_ABORTS_MAX 64u
#define SESSION_REPORT_GAPS_MAX 64u
#define SESSION_REPORT_MESSAGES_MAX 1024u
#define SESSION_REPORT_FAULT_RULES_MAX 16u /* distinct rules named */
#define SESSION_REPORT_FAULT_TEXT_MAX 1024u /* a rule's text (FAULT_RULE_TEXT_MAX is 1000) */

/* A transaction that ended without its message being accepted or refused
 * at end of data. */
struct session_abort {
	uint64_t at_us; /* when it ended, microseconds after connect */
	uint32_t rcpts; /* recipients accepted in it */
	uint32_t rcpts_refused; /* recipients refused in it */
	bool had_data; /* DATA's 354 or a BDAT chunk had begun content */
	uint8_t reason; /* enum smtp_reason: RSET, QUIT, EOF, TIMEOUT, HELO,
			   FAULT, SHUTDOWN, TOO_MANY_ERRORS, SYNC, ... */
};

/* The client was silent for len_us while the server waited on it (no
 * reply owed, nothing unsent). */
struct session_gap {
	uint64_t at_us; /* start of the silence, microseconds after connect */
	uint64_t len_us;
	uint8_t after_verb; /* enum smtp_verb of the last command before it;
			       SMTP_VERB_COUNT: none yet (after the banner) */
	bool in_txn; /* a transaction was open (MAIL accepted) */
};

/* A fault rule that fired in the session: its canonical text
 * (fault_rules_text(), as the server's exit summary and the transcript
 * name it) and how many times it fired. */
struct session_fault {
	struct smtp_view rule;
	uint32_t count;
};

struct session_report {
	struct smtp_view id; /* session ID (a queue ID) */
	uint64_t connect_us, end_us; /* wall clock, microseconds */
	uint32_t shard, node;
	uint8_t client_family; /* 4, 6, 0 (unix / unknown) */
	uint16_t client_port;
	uint8_t client_addr[16];
	struct smtp_view helo; /* last HELO/EHLO/LHLO argument; may be empty */
	uint8_t helo_verb; /* enum smtp_verb; SMTP_VERB_UNKNOWN: none given */
	uint8_t end_reason; /* enum smtp_reason */
	bool ended_by_client; /* QUIT, EOF, reset; false: server closed */
	uint32_t quirks; /* enum smtp_quirk bits */
	uint32_t verbs[SMTP_VERB_COUNT]; /* commands by verb (AUTH_RESPONSE:
					    AUTH continuation lines) */
	uint32_t pipelined; /* commands that arrived with more input after them */
	uint32_t errors; /* client errors (4xx/5xx caused by the client) */
	uint32_t txn_completed; /* messages accepted (250) */
	uint32_t txn_refused; /* messages refused at end of data */
	uint32_t txn_aborted; /* == aborts_total */
	uint32_t rcpts_accepted, rcpts_refused; /* whole session */
	uint32_t faults; /* fault rule firings (delays included), all rules */
	uint64_t bytes_in, bytes_out;
	const struct session_abort *aborts; /* abort_count (<= MAX) kept */
	uint32_t abort_count;
	const struct session_gap *gaps; /* gap_count (<= MAX) kept */
	uint32_t gap_count, gaps_total;
	const struct smtp_view *messages; /* queue IDs, message_count kept */
	uint32_t message_count;
	struct smtp_view tls; /* "TLSv1.3 TLS_AES_256_GCM_SHA384", "failed: why"; empty: no TLS */
	struct smtp_view tls_sni; /* the server name the client asked for; may be empty */
	/* the first SESSION_REPORT_FAULT_RULES_MAX distinct rules that fired,
	 * in the order they first fired; firings of other rules (and of a
	 * report written before rules were named) only count in faults */
	const struct session_fault *fault_rules;
	uint32_t fault_rule_count;
};

/* Encoding: like a message record with an empty body.
 *   head = malloc(session_report_meta_bytes(r));
 *   session_report_head(r, synced_before, head);
 *   then spool_checksum over head and spool_record_tail() as for a message
 *   with body_len 0, record_len = session_report_record_len(r).
 * Lists longer than their MAX are cut to it (the totals stay). */
size_t session_report_meta_bytes(const struct session_report *r);
uint64_t session_report_record_len(const struct session_report *r);
void session_report_head(const struct session_report *r, uint64_t synced_before, uint8_t *head);

/* Decoding a record that spool_record_decode() found OK and whose flags
 * have SPOOL_FLAG_SESSION.  Views point into the record.  Unknown tags are
 * skipped; false if the meta is malformed or a known field has a bad size. */
struct session_report_image {
	struct session_report r;
	struct session_abort aborts[SESSION_REPORT_ABORTS_MAX];
	struct session_gap gaps[SESSION_REPORT_GAPS_MAX];
	struct smtp_view messages[SESSION_REPORT_MESSAGES_MAX];
	struct session_fault fault_rules[SESSION_REPORT_FAULT_RULES_MAX];
};
bool session_report_decode(const struct spool_record *rec, struct session_report_image *out);

/* Firings that fault_rules does not name: faults minus their counts (the
 * rules past the maximum, or every firing of a report from before rules
 * were named). */
uint32_t session_report_faults_unnamed(const struct session_report *r);

/* Who ended a session and why, as its report and its transcript both say
 * it: the reason its session closed with (closed: the SMTP_EV_CLOSE it
 * emitted), else unclosed_why (the engine's: a connection dropped under a
 * session that never closed).  QUIT and disconnect are the client's,
 * every other reason the server's. */
struct session_end {
	uint8_t reason; /* enum smtp_reason */
	bool by_client;
};
struct session_end session_report_end(bool closed, enum smtp_reason close_reason, enum smtp_reason unclosed_why);

/* Stable names, for display and filters ("helo-no-name", "rset-for-data",
 * ...; "rset", "quit", "disconnect", "timeout", ...).  NULL for an unknown
 * bit or reason.  quirk_parse returns the bit (1u << n), 0 if unknown. */
const char *session_quirk_name(uint32_t bit);
uint32_t session_quirk_parse(const char *name);
const char *session_reason_name(uint8_t reason);
/* A verb's registry name (smtp_verbs.h): "UNKNOWN", "HELO", ...,
 * "AUTH-RESPONSE"; NULL out of range. */
const char *session_verb_name(uint8_t verb);

#endif
