/*
 * core/smtp_msg_flags.h - the facts flagged on a message, and their names.
 *
 * Owns: enum smtp_msg_flag (reported with SMTP_EV_MSG_END and kept in the
 * spool record's FLAGS field, docs/SPOOL-FORMAT.md) and the stable name of
 * each bit, as the spool tool shows it and tests print it.  A new flag
 * needs a bit here, in SMTP_MSG_FLAGS_ALL and a name in smtp_msg_flags.c
 * (tests/core/test_smtp_verbs.c checks they agree).
 */
#ifndef SMTPSINK_SMTP_MSG_FLAGS_H
#define SMTPSINK_SMTP_MSG_FLAGS_H

#include <stdint.h>

#include "data_decoder.h"

/* Message flags: a subset of decoder flags plus transaction facts. */
enum smtp_msg_flag {
	SMTP_MSG_BARE_LF = DATA_FLAG_BARE_LF,
	SMTP_MSG_BARE_CR = DATA_FLAG_BARE_CR,
	SMTP_MSG_NUL = DATA_FLAG_NUL,
	SMTP_MSG_8BIT = DATA_FLAG_8BIT,
	SMTP_MSG_LONG_LINE = DATA_FLAG_LONG_LINE,
	SMTP_MSG_FALSE_EOD = DATA_FLAG_FALSE_EOD,
	SMTP_MSG_BDAT = 1u << 8,
	SMTP_MSG_ILL_PIPELINING = 1u << 9, /* content before the 354 */
	SMTP_MSG_SMTPUTF8 = 1u << 10,
	SMTP_MSG_UTF8_NO_PARAM = 1u << 11, /* 8-bit address w/o SMTPUTF8 */
	SMTP_MSG_NO_BRACKETS = 1u << 12,
	SMTP_MSG_FLAGS_ALL = SMTP_MSG_BARE_LF | SMTP_MSG_BARE_CR | SMTP_MSG_NUL | SMTP_MSG_8BIT | SMTP_MSG_LONG_LINE |
			     SMTP_MSG_FALSE_EOD | SMTP_MSG_BDAT | SMTP_MSG_ILL_PIPELINING | SMTP_MSG_SMTPUTF8 |
			     SMTP_MSG_UTF8_NO_PARAM | SMTP_MSG_NO_BRACKETS,
};

/* The name of one flag bit ("bare_lf", "8bit", "bdat", ...); NULL for 0,
 * several bits or a bit without a flag. */
const char *smtp_msg_flags_name(uint32_t bit);

#endif
