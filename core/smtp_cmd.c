/*
 * core/smtp_cmd.c - command verb recognition and argument split.
 *
 * Owns: recognising the verb of a command line from the verb registry
 * (smtp_verbs.c; as Postfix's smtp-sink dispatches from one table) and
 * cutting the argument.  RFC 5321 2.4:
 * verbs are case-insensitive; the verb ends at a space or the end of line.
 * Lenient by design: several spaces or a tab before the argument are
 * accepted and reported (odd_spacing), as are lower-case verbs.
 */
#include "smtp_cmd.h"

#include <stddef.h>

#include "smtp_verbs.h"

const char *smtp_cmd_name(enum smtp_verb verb)
{
	const struct smtp_verb_info *info = smtp_verbs_info(verb);
	return info != NULL && verb != SMTP_VERB_UNKNOWN ? info->name : "?";
}

static uint8_t upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

/* Match the verb word against the registry's command words (UNKNOWN and
 * AUTH-RESPONSE are none). */
static enum smtp_verb lookup(const uint8_t *word, size_t len)
{
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const struct smtp_verb_info *info = smtp_verbs_info(v);
		const char *name = info->name;
		size_t i = 0;
		if (!(info->flags & SMTP_VERBF_WORD))
			continue;
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
