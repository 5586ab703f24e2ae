/*
 * core/smtp_verbs.h - the verb and extension registry: one row per SMTP verb
 * and one per ESMTP extension, the only place their facts are written.
 *
 * Owns: for each verb (enum smtp_verb, smtp_cmd.h) its name, its stable
 * on-disk code in session reports (docs/SPOOL-FORMAT.md: codes never
 * change), its fault stage, whether it must end a pipelined group (RFC 2920
 * 3.1), whether HELP lists it, the extension it needs and its handler; for
 * each extension (enum smtp_ext, smtp_config.h) its EHLO keyword and
 * parameters, the place of its EHLO line, and its --no-X switch.  The
 * command parser (smtp_cmd.c), the session's dispatch, HELP and EHLO
 * replies (smtp_session*.c), the session report's codes and names
 * (session_report.c), the fault stages (fault.c) and the server's options
 * all read these rows; tests/core/test_smtp_verbs.c proves they agree.
 *
 * It does not own what a handler does, nor how a verb is refused when its
 * extension is off (each handler says so in its own words: EHLO 502, AUTH
 * 503, BDAT after its chunk).
 *
 * Adding a verb: a value in enum smtp_verb and a row here.  Adding an
 * extension: a bit in enum smtp_ext and a row here, placed where its EHLO
 * line goes.  Rows are read-only and shared by every session; a lookup is
 * an index (verbs) or a walk of at most SMTP_EXT_COUNT rows (extensions).
 */
#ifndef SMTPSINK_SMTP_VERBS_H
#define SMTPSINK_SMTP_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_rules.h"
#include "smtp_cmd.h"
#include "smtp_config.h"
#include "smtp_reply.h"

struct smtp_session;

/* A command handler: runs one parsed command, writes its reply. */
typedef void (*smtp_verbs_handler)(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out);

enum smtp_verb_flag {
	SMTP_VERBF_WORD = 1u << 0, /* a command word the parser matches (not
				      UNKNOWN, nor AUTH-RESPONSE: a line
				      answering a 334) */
	SMTP_VERBF_ENDS_GROUP = 1u << 1, /* RFC 2920 3.1: must be the last
					    command in a pipelined group */
	SMTP_VERBF_HELP = 1u << 2, /* listed in the HELP reply */
};

struct smtp_verb_info {
	const char *name; /* upper case, as sent ("MAIL"); also its name in
			     session reports ("UNKNOWN", "AUTH-RESPONSE") */
	uint8_t code; /* on-disk code in session reports, forever */
	uint8_t flags; /* enum smtp_verb_flag */
	enum fault_stage stage; /* FAULT_STAGE_NONE: reached only by "any" */
	uint32_t ext; /* the SMTP_EXT_* bit it needs; 0: none */
	smtp_verbs_handler handle;
};

/* Indexed by enum smtp_verb; read through smtp_verbs_info(). */
extern const struct smtp_verb_info smtp_verbs_rows[SMTP_VERB_COUNT];

/* The row of a verb; NULL when verb is not an enum smtp_verb value (an
 * out-of-range byte from a report, SMTP_VERB_COUNT).  Inline: the session
 * dispatches every command through it. */
static inline const struct smtp_verb_info *smtp_verbs_info(unsigned verb)
{
	return verb < SMTP_VERB_COUNT ? &smtp_verbs_rows[verb] : NULL;
}

/* The verb with this on-disk code; false for a code this build does not
 * know (a newer writer's verb). */
bool smtp_verbs_of_code(uint8_t code, enum smtp_verb *verb);

/* The longest EHLO line an extension row may produce, NUL included: its
 * keyword, parameters and a SIZE limit of up to 20 digits. */
#define SMTP_VERBS_EHLO_LINE_MAX_BYTES 64u

struct smtp_ext_info {
	uint32_t bit; /* one SMTP_EXT_* bit */
	const char *keyword; /* the EHLO line's keyword; NULL: no line (ESMTP,
				which governs EHLO itself) */
	const char *params; /* fixed parameters after the keyword ("PLAIN
			       LOGIN": the mechanisms AUTH accepts), or NULL */
	bool size_param; /* followed by the size limit unless it is 0 (RFC
			    1870 4: "SIZE" alone means no fixed limit) */
	const char *option; /* the server's switch that turns it off */
	const char *help; /* that switch's --help text */
};

/* Extension row i, in the order of the EHLO lines; NULL past the last. */
const struct smtp_ext_info *smtp_verbs_ext(size_t i);

/* The row of one extension bit; NULL if it is not exactly one known bit. */
const struct smtp_ext_info *smtp_verbs_ext_of_bit(uint32_t bit);

/* The EHLO line of extension e under cfg into buf (at least
 * SMTP_VERBS_EHLO_LINE_MAX_BYTES), NUL-terminated; false when cfg does not
 * offer e or e has no line. */
bool smtp_verbs_ehlo_line(const struct smtp_ext_info *e, const struct smtp_config *cfg, char *buf);

#endif
