/*
 * tools/spool/text_out.h - output for people: the ls table and text from
 * the spool made safe for a terminal.
 *
 * Owns: the column layout of ls, follow and wait (queue ID, time, client,
 * sender, recipients, size, subject) and cleaning client-supplied text:
 * every control (C0, DEL, and C1: UTF-8 encoded U+0080..U+009F or a raw
 * byte 0x80..0x9F outside UTF-8; core/text_ctl.h) becomes one '?', so a
 * message cannot move the cursor or retitle the terminal of whoever lists
 * it.  Other UTF-8 passes (subjects display as such), and so do other raw
 * 8-bit bytes (0xA0..0xFF: printable in Latin-1).  Everything printed from
 * mail, clients or spool files goes through here (or json_out.c).
 * Scripts should use --json instead: this layout may change.
 */
#ifndef SMTPSINK_SPOOL_TEXT_OUT_H
#define SMTPSINK_SPOOL_TEXT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "msg.h"
#include "smtp_view.h"

/* n bytes cleaned; at most max_cols characters (0: no limit), a cut value
 * ends with "~"; padded with blanks to pad_cols.  Returns the columns
 * written. */
size_t text_out_clean(FILE *f, const uint8_t *p, size_t n, size_t max_cols, size_t pad_cols);
/* A TLS line's value: "TLSv1.3 TLS_AES_256_GCM_SHA384 (SNI mx.example)",
 * cleaned, then a newline. */
void text_out_tls(FILE *f, struct smtp_view tls, struct smtp_view sni);

/* p[0..n) cleaned into buf (cut to cap - 1 bytes, NUL-terminated), for
 * diagnostics that quote spool bytes (queue IDs read from files).
 * Returns buf. */
const char *text_out_safe(const void *p, size_t n, char *buf, size_t cap);

/* Multi-line text (a message body, valid UTF-8): line by line, CRLF
 * written as LF, tabs kept; with clean, every other control becomes '?'
 * as in text_out_clean(), else the bytes go out as they are.  Ends with a
 * line break unless n is 0. */
void text_out_lines(FILE *f, const uint8_t *p, size_t n, bool clean);

void text_out_ls_header(FILE *f);
/* One row; the subject column is left out when it was not read. */
void text_out_ls_line(FILE *f, const struct msg *m);

/* The columns of one row, wherever they come from (a spool record, or a
 * node's API: remote_list.h). */
struct text_out_ls_row {
	struct smtp_view qid;
	uint64_t received_us;
	const char *client; /* "127.0.0.1", "unix", "-" (not known) */
	struct smtp_view sender, first_rcpt; /* sender empty: "<>" */
	uint32_t rcpt_count;
	uint64_t size;
	const char *subject; /* NULL: the column is left out */
	size_t subject_len;
};
void text_out_ls_cols(FILE *f, const struct text_out_ls_row *row);

/* A listing row: the table row, or with json the JSON object line (with
 * "source" unless source is NULL: json_out_msg). */
void text_out_row(FILE *f, const struct msg *m, bool json, const char *source);

#endif
