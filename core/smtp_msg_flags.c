/*
 * core/smtp_msg_flags.c - the names of the message flags (smtp_msg_flags.h).
 *
 * Owns: one name per enum smtp_msg_flag bit.  The names are what
 * smtpsink-spool prints (show, JSON) and filters expect, so they never
 * change once written.  Workload: a lookup per flag shown.
 */
#include "smtp_msg_flags.h"

#include <stddef.h>

static const struct {
	uint32_t bit;
	const char *name;
} names[] = {
	{ SMTP_MSG_BARE_LF, "bare_lf" },
	{ SMTP_MSG_BARE_CR, "bare_cr" },
	{ SMTP_MSG_NUL, "nul" },
	{ SMTP_MSG_8BIT, "8bit" },
	{ SMTP_MSG_LONG_LINE, "long_line" },
	{ SMTP_MSG_FALSE_EOD, "false_eod" },
	{ SMTP_MSG_BDAT, "bdat" },
	{ SMTP_MSG_ILL_PIPELINING, "ill_pipelining" },
	{ SMTP_MSG_SMTPUTF8, "smtputf8" },
	{ SMTP_MSG_UTF8_NO_PARAM, "utf8_no_param" },
	{ SMTP_MSG_NO_BRACKETS, "no_brackets" },
};

const char *smtp_msg_flags_name(uint32_t bit)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].bit == bit)
			return names[i].name;
	return NULL;
}
