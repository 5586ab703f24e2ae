/*
 * tools/spool/session_out.h - session reports as the tool shows them: one
 * row of `sessions`, the whole report of `session ID`, and the JSON object
 * both print with --json (docs/SPOOL-TOOL.md, "Session JSON").
 *
 * Owns: the session row layout, the report's wording ("aborted at
 * +1.234s: MAIL, 1 RCPT (0 refused), no DATA, ended by RSET", "idle 10.0s
 * at +2.1s after RSET") and the session object's field names, which are a
 * stable interface like the message object's: fields are only added.
 * Decoding is core's (session_report_decode, through seg_reader_session);
 * client text is cleaned for the terminal as everywhere (text_out.h).
 */
#ifndef SMTPSINK_SPOOL_SESSION_OUT_H
#define SMTPSINK_SPOOL_SESSION_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "session_report.h"

/* A decoded session report and where it is stored; views point into the
 * segment mapping, valid while its seg_reader is open. */
struct session_view {
	uint32_t shard;
	uint64_t segno, offset;
	struct session_report_image img;
};

void session_out_header(FILE *f);
/* One row (ID, connect time, duration, client, HELO, messages
 * completed/refused/aborted, quirks), or with json the session object. */
void session_out_row(FILE *f, const struct session_view *s, bool json);
/* The whole report, a label per line. */
void session_out_report(FILE *f, const struct session_view *s);
/* {the session object}\n */
void session_out_json(FILE *f, const struct session_view *s);

/* Quirk names of a mask, separated by sep ("-" when none; an unknown bit
 * N as "bitN"). */
void session_out_quirks(FILE *f, uint32_t quirks, const char *sep);

#endif
