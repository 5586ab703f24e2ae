/*
 * mime/mime_snippet.h - the one-line preview of a message, as Mailpit
 * makes it (internal/tools/snippets.go and its html2text.Strip).
 *
 * Owns: the rule.  With an HTML body: its text (tags dropped; the content
 * of head, title, script, style and noscript dropped; a blank where a
 * block element closes, at <br> and before <img>; the common character
 * references decoded; controls and U+FEFF blanked); otherwise the text
 * body (U+FEFF blanked).  Then runs of white space become one blank, the
 * ends are trimmed, and a result over MIME_SNIPPET_LIMIT_BYTES is cut
 * there (never inside a UTF-8 sequence) and ends "...".
 * Pure (no GMime); input is valid UTF-8 (mime_text.h); never reads past
 * the NUL.  Workload: one body per message, linear, a bounded output.
 */
#ifndef SMTPSINK_MIME_SNIPPET_H
#define SMTPSINK_MIME_SNIPPET_H

#include <stddef.h>

#define MIME_SNIPPET_LIMIT_BYTES 200u /* Mailpit's CreateSnippet limit, before "..." */

/* The snippet of (text, html) into out[0..cap), NUL-terminated;
 * cap >= MIME_SNIPPET_LIMIT_BYTES + 4 holds any snippet whole. */
void mime_snippet_make(const char *text, const char *html, char *out, size_t cap);

#endif
