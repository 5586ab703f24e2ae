/*
 * core/smtp_cmd.c - command verb table and argument split.
 *
 * Owns: recognising the verb of a command line from a table (as Postfix's
 * smtp-sink dispatches from one) and cutting the argument.  RFC 5321 2.4:
 * verbs are case-insensitive; the verb ends at a space or the end of line.
 * Lenient by design: several spaces or a tab before the argument are
 * accepted and reported (odd_spacing), as are lower-case verbs.
 */
#include "smtp_cmd.h"

#include <stddef.h>

static const char *const verb_names[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = "?",
	[SMTP_VERB_HELO] = "HELO",
	[SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_LHLO] = "LHLO",
	[SMTP_VERB_MAIL] = "MAIL",
	[SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA",
	[SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET",
	[SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT",
	[SMTP_VERB_VRFY] = "VRFY",
	[SMTP_VERB_EXPN] = "EXPN",
	[SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_AUTH] = "AUTH",
	[SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH_RESPONSE] = "AUTH-RESPONSE",
};

const char *smtp_cmd_name(enum smtp_verb verb)
{
	return (unsigned)verb < SMTP_VERB_COUNT ? verb_names[verb] : "?";
}

static uint8_t upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

/* Match the verb word against the table; AUTH_RESPONSE is never a word. */
static enum smtp_verb lookup(const uint8_t *word, size_t len)
{
	for (int v = SMTP_VERB_HELO; v < SMTP_VERB_AUTH_RESPONSE; v++) {
		const char *name = verb_names[v];
		size_t i = 0;
		while (i < len && name[i] != '\0' && upper(word[i]) == (uint8_t)name[i])
			i++;
		if (i == len && name[i] == '\0')
			return (enum smtp_verb)v;
	}
	return SMTP_VERB_UNKNOWN;
}

struct smtp_cmd smtp_cmd_parse(struct smtp_view line)
{
	struct smtp_cmd cmd = { SMTP_VERB_UNKNOWN, { line.ptr, 0 }, false, false };
	size_t n = 0;
	while (n < line.len && line.ptr[n] != ' ' && line.ptr[n] != '\t')
		n++;
	cmd.verb = lookup(line.ptr, n);
	for (size_t i = 0; i < n && cmd.verb != SMTP_VERB_UNKNOWN; i++)
		if (line.ptr[i] >= 'a' && line.ptr[i] <= 'z')
			cmd.lowercase = true;
	size_t a = n;
	if (a < line.len && line.ptr[a] == '\t')
		cmd.odd_spacing = true;
	if (a < line.len)
		a++;
	while (a < line.len && (line.ptr[a] == ' ' || line.ptr[a] == '\t')) {
		cmd.odd_spacing = true;
		a++;
	}
	cmd.arg = smtp_view_make(line.ptr + a, line.len - a);
	return cmd;
}
