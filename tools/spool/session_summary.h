/*
 * tools/spool/session_summary.h - `sessions --summary`: totals over the
 * session reports a listing selected, as a table for people or one JSON
 * object (docs/SPOOL-TOOL.md, "sessions --summary").
 *
 * Owns: what is totalled (sessions; transactions by outcome, with the
 * sessions that had each; refusals; who closed and why; quirks; fault
 * rules by name with firings and sessions; clients by address with
 * sessions and messages), the table's wording and the summary object's
 * field names (stable like the session object's: fields are only added),
 * and the one definition of "a session with a refusal" that --refused
 * filters on.  Reports come decoded (session_report.h); nothing here
 * reads the spool.
 * Workload: one add per session selected, a few hash lookups each; memory
 * grows with distinct clients and rules, not with sessions.
 */
#ifndef SMTPSINK_SPOOL_SESSION_SUMMARY_H
#define SMTPSINK_SPOOL_SESSION_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "session_report.h"

struct session_summary;

/* MAIL commands the server refused: MAIL commands minus transactions
 * (every accepted MAIL opens one that ends completed, refused or
 * aborted). */
uint32_t session_mail_refused(const struct session_report *r);
/* Did the server refuse something the client asked for: a message at end
 * of data, a recipient, a MAIL, or a command it counted as a client error
 * (unknown, out of order, bad syntax)? */
bool session_had_refusal(const struct session_report *r);

/* NULL: out of memory. */
struct session_summary *session_summary_new(void);
/* Count one session; false: out of memory. */
bool session_summary_add(struct session_summary *s, const struct session_report *r);
/* The table, or with json the summary object and a newline. */
void session_summary_print(FILE *f, struct session_summary *s, bool json);
void session_summary_free(struct session_summary *s);

#endif
