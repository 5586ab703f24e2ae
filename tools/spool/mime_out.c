/*
 * tools/spool/mime_out.c - one message read as MIME for the MIME commands
 * (mime_out.h).
 *
 * Owns: calling mime_msg_init() before the first parse (idempotent in
 * GMime: each command of this one-shot process calls it once) and the
 * body printer.  Terminal safety: a body reaches a terminal only through
 * text_out_lines()'s cleaning; a pipe or file gets the decoded UTF-8 as
 * it is.
 */
#include "mime_out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "text_out.h"

#define QID_TEXT_BYTES 64u

int mime_out_parse(const char *cmd, const struct msg *m, struct mime_msg *mm)
{
	mime_msg_init();
	if (mime_msg_parse(m->rec.body, (size_t)m->rec.body_len, mm) != 0) {
		report_error("%s: reading the message as MIME: %s", cmd, strerror(ENOMEM));
		return SPOOL_EXIT_IO;
	}
	return SPOOL_EXIT_OK;
}

int mime_out_body(const char *cmd, const struct msg *m, bool html)
{
	struct mime_msg mm;
	int rc = mime_out_parse(cmd, m, &mm);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	const char *body = html ? mm.html : mm.text;
	if (body[0] == '\0') {
		char qid[QID_TEXT_BYTES];
		report_error("%s: %s has no %s body", cmd, text_out_safe(m->qid.ptr, m->qid.len, qid, sizeof qid),
			     html ? "text/html" : "text/plain");
		rc = SPOOL_EXIT_NOT_FOUND;
	} else {
		text_out_lines(stdout, (const uint8_t *)body, strlen(body), isatty(STDOUT_FILENO));
		if (fflush(stdout) != 0) {
			report_error("%s: writing to stdout: %s", cmd, strerror(errno));
			rc = SPOOL_EXIT_IO;
		}
	}
	mime_msg_free(&mm);
	return rc;
}
