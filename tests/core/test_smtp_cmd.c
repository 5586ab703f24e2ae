/*
 * tests/core/test_smtp_cmd.c - verb recognition and argument split.
 *
 * Owns: one table row per interesting command line: verb found (any case),
 * argument cut after one space, lower-case and odd-spacing quirks, verbs
 * that are prefixes of others or of longer words.
 */
#include "session_harness.h"
#include "smtp_cmd.h"

static const struct {
	const char *line;
	enum smtp_verb verb;
	const char *arg;
	bool lowercase;
	bool odd_spacing;
} rows[] = {
	{ "NOOP", SMTP_VERB_NOOP, "", false, false },
	{ "noop", SMTP_VERB_NOOP, "", true, false },
	{ "mAiL FROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>", true, false },
	{ "MAIL  FROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>", false, true },
	{ "MAIL\tFROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>", false, true },
	{ "RCPT TO:<c@d> NOTIFY=NEVER", SMTP_VERB_RCPT, "TO:<c@d> NOTIFY=NEVER", false, false },
	{ "EHLO", SMTP_VERB_EHLO, "", false, false },
	{ "EHLO ", SMTP_VERB_EHLO, "", false, false },
	{ "HELO x y", SMTP_VERB_HELO, "x y", false, false },
	{ "LHLO x", SMTP_VERB_LHLO, "x", false, false },
	{ "BDAT 10 LAST", SMTP_VERB_BDAT, "10 LAST", false, false },
	{ "STARTTLS", SMTP_VERB_STARTTLS, "", false, false },
	{ "DATAX", SMTP_VERB_UNKNOWN, "", false, false },
	{ "DAT", SMTP_VERB_UNKNOWN, "", false, false },
	{ "MAILFROM:<a@b>", SMTP_VERB_UNKNOWN, "", false, false },
	{ "AUTH-RESPONSE", SMTP_VERB_UNKNOWN, "", false, false },
	{ "GET / HTTP/1.1", SMTP_VERB_UNKNOWN, "/ HTTP/1.1", false, false },
	{ "", SMTP_VERB_UNKNOWN, "", false, false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct smtp_cmd c = smtp_cmd_parse(smtp_view_make(rows[i].line, strlen(rows[i].line)));
		harness_check(c.verb == rows[i].verb, __FILE__, __LINE__, rows[i].line);
		harness_check_mem(c.arg.ptr, c.arg.len, rows[i].arg, strlen(rows[i].arg), __FILE__, __LINE__,
				  rows[i].line);
		harness_check(c.lowercase == rows[i].lowercase, __FILE__, __LINE__, rows[i].line);
		harness_check(c.odd_spacing == rows[i].odd_spacing, __FILE__, __LINE__, rows[i].line);
	}
	CHECK(strcmp(smtp_cmd_name(SMTP_VERB_MAIL), "MAIL") == 0);
	CHECK(strcmp(smtp_cmd_name(SMTP_VERB_COUNT), "?") == 0);
	return harness_finish("smtp_cmd");
}
