/*
 * tools/spool/cmd_text.c - `text ID` and `html ID`: the plain-text or the
 * HTML body of one message (text/plain or text/html, transfer-decoded,
 * converted to UTF-8; mime/ picks the body as Mailpit does), to stdout.
 *
 * Owns: both commands (one table row each in main.c; argv[0] says which).
 * Printing is mime_out.c's: cleaned of controls on a terminal, as decoded
 * otherwise; line ends as LF.
 */
#include <stdbool.h>
#include <string.h>

#include "cmd.h"
#include "mime_out.h"
#include "msg_source.h"
#include "spool_cli.h"

static int text_one(void *arg, struct msg *m)
{
	const bool *html = arg;
	return mime_out_body(*html ? "html" : "text", m, *html);
}

int cmd_text(const struct cmd_ctx *ctx, int argc, char **argv)
{
	bool html = strcmp(argv[0], "html") == 0;
	struct cli c;
	spool_cli_init(&c, html ? "html" : "text", "ID",
		       html ? "Write the text/html body of one message, decoded to UTF-8." :
			      "Write the text/plain body of one message, decoded to UTF-8.");
	struct msg_source_acts acts = { text_one, NULL, &html };
	return msg_source_with(ctx, &c, argc, argv, &acts);
}
