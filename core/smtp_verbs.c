/*
 * core/smtp_verbs.c - the verb and extension rows (see smtp_verbs.h).
 *
 * Owns: the two tables and their lookups, and the text of one EHLO line.
 * The verb table is indexed by enum smtp_verb; the extension table is in
 * EHLO line order (today's order: PIPELINING SIZE 8BITMIME SMTPUTF8
 * ENHANCEDSTATUSCODES STARTTLS AUTH DSN CHUNKING), which is not bit
 * order.
 *
 * Invariants (tests/core/test_smtp_verbs.c): every verb has a row, a name,
 * a handler and a code, codes are unique and match docs/SPOOL-FORMAT.md;
 * every extension bit has exactly one row, with a switch; only ESMTP has no
 * EHLO line.
 */
#include "smtp_verbs.h"

#include <assert.h>
#include <string.h>

#include "smtp_session_int.h"

/* The SIZE limit after its keyword: a space and up to 20 digits. */
#define SIZE_PARAM_MAX_BYTES 21u

#define WORD SMTP_VERBF_WORD
#define ENDS SMTP_VERBF_ENDS_GROUP
#define HELP SMTP_VERBF_HELP

/* Name, on-disk code, flags, fault stage, extension needed, handler. */
const struct smtp_verb_info smtp_verbs_rows[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = { "UNKNOWN", 0, 0, FAULT_STAGE_NONE, 0, session_cmd_unknown },
	[SMTP_VERB_HELO] = { "HELO", 1, WORD | ENDS | HELP, FAULT_STAGE_HELO, 0, session_cmd_helo },
	[SMTP_VERB_EHLO] = { "EHLO", 2, WORD | ENDS | HELP, FAULT_STAGE_HELO, SMTP_EXT_ESMTP, session_cmd_helo },
	[SMTP_VERB_LHLO] = { "LHLO", 3, WORD | ENDS, FAULT_STAGE_HELO, 0, session_cmd_helo },
	[SMTP_VERB_MAIL] = { "MAIL", 4, WORD | HELP, FAULT_STAGE_MAIL, 0, session_cmd_mail },
	[SMTP_VERB_RCPT] = { "RCPT", 5, WORD | HELP, FAULT_STAGE_RCPT, 0, session_cmd_rcpt },
	[SMTP_VERB_DATA] = { "DATA", 6, WORD | ENDS | HELP, FAULT_STAGE_DATA, 0, session_cmd_data },
	[SMTP_VERB_BDAT] = { "BDAT", 7, WORD | HELP, FAULT_STAGE_BDAT, SMTP_EXT_CHUNKING, session_cmd_bdat },
	[SMTP_VERB_RSET] = { "RSET", 8, WORD | HELP, FAULT_STAGE_RSET, 0, session_cmd_rset },
	[SMTP_VERB_NOOP] = { "NOOP", 9, WORD | ENDS | HELP, FAULT_STAGE_NOOP, 0, session_cmd_noop },
	[SMTP_VERB_QUIT] = { "QUIT", 10, WORD | ENDS | HELP, FAULT_STAGE_QUIT, 0, session_cmd_quit },
	[SMTP_VERB_VRFY] = { "VRFY", 11, WORD | ENDS | HELP, FAULT_STAGE_VRFY, 0, session_cmd_vrfy },
	[SMTP_VERB_EXPN] = { "EXPN", 12, WORD | ENDS, FAULT_STAGE_NONE, 0, session_cmd_not_implemented },
	[SMTP_VERB_HELP] = { "HELP", 13, WORD | ENDS | HELP, FAULT_STAGE_NONE, 0, session_cmd_help },
	[SMTP_VERB_AUTH] = { "AUTH", 14, WORD | ENDS | HELP, FAULT_STAGE_AUTH, SMTP_EXT_AUTH, session_cmd_auth },
	[SMTP_VERB_STARTTLS] = { "STARTTLS", 15, WORD | ENDS, FAULT_STAGE_TLS, SMTP_EXT_STARTTLS,
				 session_cmd_starttls },
	[SMTP_VERB_AUTH_RESPONSE] = { "AUTH-RESPONSE", 16, ENDS, FAULT_STAGE_AUTH, SMTP_EXT_AUTH,
				      session_cmd_auth_response },
};

#undef WORD
#undef ENDS
#undef HELP

/* Keyword, fixed parameters, SIZE limit, switch, switch help; in EHLO
 * line order. */
static const struct smtp_ext_info exts[] = {
	{ SMTP_EXT_PIPELINING, "PIPELINING", NULL, false, "no-pipelining", "do not offer PIPELINING" },
	{ SMTP_EXT_SIZE, "SIZE", NULL, true, "no-size", "do not offer SIZE" },
	{ SMTP_EXT_8BITMIME, "8BITMIME", NULL, false, "no-8bitmime", "do not offer 8BITMIME" },
	{ SMTP_EXT_SMTPUTF8, "SMTPUTF8", NULL, false, "no-smtputf8", "do not offer SMTPUTF8" },
	{ SMTP_EXT_ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES", NULL, false, "no-enhancedstatuscodes",
	  "no ENHANCEDSTATUSCODES" },
	{ SMTP_EXT_STARTTLS, "STARTTLS", NULL, false, "no-starttls", "do not offer STARTTLS (implicit TLS only)" },
	{ SMTP_EXT_AUTH, "AUTH", "PLAIN LOGIN", false, "no-auth", "do not offer AUTH" },
	{ SMTP_EXT_DSN, "DSN", NULL, false, "no-dsn", "do not offer DSN" },
	{ SMTP_EXT_CHUNKING, "CHUNKING", NULL, false, "no-chunking", "do not offer CHUNKING (BDAT)" },
	{ SMTP_EXT_ESMTP, NULL, NULL, false, "no-esmtp", "refuse EHLO: plain SMTP only" },
};
#define EXT_ROWS (sizeof exts / sizeof exts[0])
_Static_assert(EXT_ROWS == SMTP_EXT_COUNT, "an extension bit without a row, or a row too many");

bool smtp_verbs_of_code(uint8_t code, enum smtp_verb *verb)
{
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++)
		if (smtp_verbs_rows[v].code == code) {
			*verb = (enum smtp_verb)v;
			return true;
		}
	return false;
}

const struct smtp_ext_info *smtp_verbs_ext(size_t i)
{
	return i < EXT_ROWS ? &exts[i] : NULL;
}

const struct smtp_ext_info *smtp_verbs_ext_of_bit(uint32_t bit)
{
	for (size_t i = 0; i < EXT_ROWS; i++)
		if (exts[i].bit == bit)
			return &exts[i];
	return NULL;
}

/* Append s at buf[*len], keeping room for the NUL and SIZE's limit. */
static void put(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	assert(*len + n + SIZE_PARAM_MAX_BYTES < SMTP_VERBS_EHLO_LINE_MAX_BYTES);
	memcpy(buf + *len, s, n);
	*len += n;
}

bool smtp_verbs_ehlo_line(const struct smtp_ext_info *e, const struct smtp_config *cfg, char *buf)
{
	if (e->keyword == NULL || !(cfg->ext & e->bit))
		return false;
	size_t len = 0;
	put(buf, &len, e->keyword);
	if (e->params != NULL) {
		put(buf, &len, " ");
		put(buf, &len, e->params);
	}
	if (e->size_param && cfg->max_size_bytes != 0) {
		buf[len++] = ' ';
		len += smtp_reply_u64(buf + len, cfg->max_size_bytes);
	}
	buf[len] = '\0';
	return true;
}
