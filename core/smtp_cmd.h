/*
 * core/smtp_cmd.h - command verb recognition and argument splitting.
 *
 * Owns: turning one command line (a view without its line terminator) into
 * a verb and an argument view, from the verb registry (smtp_verbs.h: every
 * fact about a verb but its enum value lives there).  Verbs are matched
 * case-insensitively (RFC 5321 2.4) and must be followed by a space or the
 * end of the line.  It does not judge arguments: smtp_addr and the session
 * do that.
 */
#ifndef SMTPSINK_SMTP_CMD_H
#define SMTPSINK_SMTP_CMD_H

#include <stdbool.h>

#include "smtp_view.h"

/* A verb; each has a row in core/smtp_verbs.c. */
enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_AUTH,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH_RESPONSE, /* a line answering a 334 challenge */
	SMTP_VERB_COUNT,
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct smtp_view arg; /* after the verb and one space; may be empty */
	bool lowercase; /* the verb was not all upper case */
	bool odd_spacing; /* more than one space, or a tab, before the arg */
};

/* Split a command line.  Unknown verbs give SMTP_VERB_UNKNOWN. */
struct smtp_cmd smtp_cmd_parse(struct smtp_view line);

/* The verb's name in upper case ("MAIL", its registry row's); "?" for
 * SMTP_VERB_UNKNOWN and values out of range (as traces show them). */
const char *smtp_cmd_name(enum smtp_verb verb);

#endif
