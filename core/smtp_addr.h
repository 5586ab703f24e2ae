/*
 * core/smtp_addr.h - MAIL FROM / RCPT TO path syntax and the ESMTP
 * parameter tokenizer.
 *
 * Owns: cutting "FROM:<path> KEY=VALUE ..." into the path and the
 * parameter text, checking the path's octets and length (RFC 5321 4.1.2,
 * 4.5.3.1.3), and splitting parameters one at a time.  It does not give
 * parameters meaning (smtp_params does) and never copies: all results are
 * views into the argument.  Lenient where clients are known to be sloppy:
 * spaces after the colon, and (unless the session is strict) a path without
 * angle brackets.
 */
#ifndef SMTPSINK_SMTP_ADDR_H
#define SMTPSINK_SMTP_ADDR_H

#include <stdbool.h>

#include "smtp_view.h"

enum smtp_path_status {
	SMTP_PATH_OK,
	SMTP_PATH_SYNTAX, /* no "FROM:"/"TO:", bad octets, unbalanced <> */
	SMTP_PATH_TOO_LONG, /* more than SMTP_PATH_MAX_BYTES with <> */
};

struct smtp_path {
	struct smtp_view addr; /* inside the brackets (may be empty: <>) */
	struct smtp_view params; /* after the path, leading spaces skipped */
	bool bracketed; /* false: "FROM:a@b" */
	bool eight_bit; /* the address has bytes >= 0x80 */
	bool odd_spacing; /* spaces after the colon */
};

/* keyword is "FROM" or "TO" (matched case-insensitively, then ':'). */
enum smtp_path_status smtp_addr_parse(struct smtp_view arg, const char *keyword, struct smtp_path *path);

enum smtp_param_next {
	SMTP_PARAM_END, /* no more parameters */
	SMTP_PARAM_FOUND,
	SMTP_PARAM_BAD, /* malformed: empty key, bad octets, "=" alone */
};

/* Take the next "KEY[=VALUE]" from *rest (advancing it).  has_value tells
 * "KEY=" (empty value) from "KEY". */
enum smtp_param_next smtp_addr_next_param(struct smtp_view *rest, struct smtp_view *key, struct smtp_view *value,
					  bool *has_value);

#endif
