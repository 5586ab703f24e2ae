/*
 * tools/spool/mime_out.h - what the MIME commands (text, html, parts,
 * part) share: reading one message through mime/ (mime_msg.h).
 *
 * Owns: GMime's one-time set-up for this process, the parse of a found
 * message's body, and the error lines when that fails.  The commands
 * decide what to print.
 */
#ifndef SMTPSINK_SPOOL_MIME_OUT_H
#define SMTPSINK_SPOOL_MIME_OUT_H

#include <stdbool.h>

#include "mime_msg.h"
#include "msg.h"

/* Parse m's body into *mm (mime_msg_free it).  Returns the exit code:
 * SPOOL_EXIT_OK, or SPOOL_EXIT_IO (out of memory, reported). */
int mime_out_parse(const char *cmd, const struct msg *m, struct mime_msg *mm);

/* `text ID` and `html ID`: the body through text_out_lines(), cleaned
 * when stdout is a terminal; a message without that body is reported
 * (SPOOL_EXIT_NOT_FOUND). */
int mime_out_body(const char *cmd, const struct msg *m, bool html);

#endif
