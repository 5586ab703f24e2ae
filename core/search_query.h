/*
 * core/search_query.h - the search-query language of the HTTP API and the
 * spool tool: Mailpit's syntax, parsed strictly into a list of terms.
 *
 * Owns: turning a query string into plain-data terms (field, negation,
 * text, or a parsed date / size / flag value); rejecting what does not
 * parse with a message.  Does not know SQL or the index (index/search_sql.c
 * compiles terms to SQL with bound parameters); does not allocate: every
 * term's text is copied into the caller's struct.
 *
 * Syntax: terms separated by blanks, all ANDed.  A term is an optional
 * negation ('-' or '!'), an optional field prefix (to: from: cc: bcc:
 * subject: message-id: is: has: before: after: larger: smaller:; prefixes
 * are case-insensitive), and a value: a bare word, or a "quoted phrase"
 * (with \" and \\ inside).  A word with an unknown prefix ("foo:bar") is
 * free text, literally.  Values are literal text: %, _, *, OR, NEAR(, col:
 * and quotes inside words mean nothing special.
 * is: read|unread; has: attachment|attachments; before:/after: a date
 * YYYY-MM-DD (UTC midnight) or an RFC 3339 time; larger:/smaller: a size
 * with an optional unit (B, K/KB, M/MB, G/GB; powers of 1024).  Anything
 * else for these is an error, never ignored.
 * Workload: a query per API request; O(length).
 */
#ifndef SMTPSINK_SEARCH_QUERY_H
#define SMTPSINK_SEARCH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEARCH_QUERY_MAX_BYTES 4096u /* longer queries are refused */
#define SEARCH_QUERY_MAX_TERMS 32u
#define SEARCH_TERM_MAX_BYTES 512u /* one term's text, after unquoting */

enum search_field {
	SEARCH_TEXT, /* free text: headers and decoded text bodies */
	SEARCH_TO,
	SEARCH_FROM,
	SEARCH_CC,
	SEARCH_BCC,
	SEARCH_SUBJECT,
	SEARCH_MESSAGE_ID,
	SEARCH_IS_READ, /* is:read (negated: is:unread is SEARCH_IS_READ with negated flipped) */
	SEARCH_HAS_ATTACHMENT,
	SEARCH_BEFORE, /* value_us: received strictly before */
	SEARCH_AFTER, /* value_us: received at or after */
	SEARCH_LARGER, /* value: size in bytes, strictly larger */
	SEARCH_SMALLER, /* value: strictly smaller */
};

struct search_term {
	enum search_field field;
	bool negated;
	bool phrase; /* the text was quoted */
	uint64_t value; /* BEFORE/AFTER: microseconds since the epoch; LARGER/SMALLER: bytes */
	size_t text_len;
	char text[SEARCH_TERM_MAX_BYTES + 1]; /* NUL-terminated, unquoted; fields with text only */
};

struct search_query {
	size_t count;
	struct search_term terms[SEARCH_QUERY_MAX_TERMS];
};

enum search_status {
	SEARCH_OK,
	SEARCH_TOO_LONG,
	SEARCH_TOO_MANY_TERMS,
	SEARCH_TERM_TOO_LONG,
	SEARCH_UNTERMINATED_QUOTE,
	SEARCH_EMPTY_VALUE, /* "to:" with nothing after it */
	SEARCH_BAD_DATE,
	SEARCH_BAD_SIZE,
	SEARCH_BAD_FLAG, /* is:/has: with an unknown value */
	SEARCH_BAD_BYTES, /* NUL or invalid UTF-8 */
};

/* Parse s[0, len) into *q (an empty or blank query gives count 0: match
 * everything).  On an error *q is unspecified and *err_at is the byte offset
 * where parsing stopped. */
enum search_status search_query_parse(const char *s, size_t len, struct search_query *q, size_t *err_at);

/* A short English text for a status ("unparsable date in before:/after:"). */
const char *search_status_text(enum search_status st);

#endif
