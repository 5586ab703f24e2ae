/*
 * mime/mime_msg.h - one captured message read as MIME, through GMime 3.
 *
 * Owns: parsing a message's raw bytes (the spool record's body: header
 * block and body as the client sent them) into what a mail reader shows:
 * decoded header fields (RFC 2047/2231, charsets to UTF-8), address lists,
 * the text and HTML bodies converted to UTF-8, and the list of parts with
 * stable part IDs; extracting one part's decoded bytes.  Off the SMTP hot
 * path: used by the indexer thread, the HTTP API and smtpsink-spool.
 * Does not read the spool; does not cache.  Every string it returns is
 * valid UTF-8 and NUL-terminated, owned by the struct (mime_msg_free).
 * Hostile input: never crashes, never reads past len; sizes are bounded
 * (MIME_* limits below); a part that fails to decode is reported, not fatal.
 *
 * Part IDs follow Mailpit's: the MIME path of a leaf part, 1-based, dot
 * separated ("1", "2", "2.1"), for the parts of a multipart tree; "0" for
 * the body of a single-part message (mime/mime_tree.h has the rules).
 */
#ifndef SMTPSINK_MIME_MSG_H
#define SMTPSINK_MIME_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_SNIPPET_CHARS 250u /* room for Mailpit's snippet (200 bytes + "...", mime_snippet.h) */
#define MIME_PARTS_MAX 1000u /* parts listed beyond this are dropped */
#define MIME_ADDRS_MAX 1000u /* per address header */

struct mime_addr {
	char *name; /* display name, "" if none */
	char *address; /* addr-spec, "" if none */
};

struct mime_addr_list {
	struct mime_addr *v;
	size_t n;
};

struct mime_part {
	char part_id[32]; /* "1", "2.1", ... */
	char *file_name; /* "" if none */
	char *content_type; /* "image/png" (type/subtype, lower case) */
	char *content_id; /* without <>, "" if none */
	uint64_t size; /* decoded bytes */
	bool is_inline; /* listed as inline: Mailpit's rule, mime/mime_tree.h */
};

struct mime_header {
	char *name; /* as in the message */
	char *value; /* unfolded, RFC 2047 decoded, UTF-8 */
};

struct mime_msg {
	char *message_id; /* without <>, "" if none */
	char *subject; /* decoded, "" if none */
	struct mime_addr from; /* the first From address */
	struct mime_addr_list to, cc, bcc, reply_to;
	int64_t date_s; /* the Date header as seconds since the epoch, 0 if absent or invalid */
	char *text; /* the text/plain body, UTF-8, "" if none */
	char *html; /* the text/html body, UTF-8, "" if none */
	char snippet[MIME_SNIPPET_CHARS * 4 + 1]; /* from the HTML stripped of tags, else text; blanks collapsed */
	struct mime_part *attachments; /* Mailpit's Attachments[]: only parts with a file name or Content-ID */
	size_t attachment_count;
	struct mime_part *inlines;
	size_t inline_count;
	struct mime_header *headers; /* every header of the top level, in order */
	size_t header_count;
};

/* Parse raw[0, len): 0, or -ENOMEM.  Never fails on malformed mail: what
 * cannot be read is left empty. */
int mime_msg_parse(const uint8_t *raw, size_t len, struct mime_msg *m);
void mime_msg_free(struct mime_msg *m);

/* One part by ID: its decoded bytes in *data (malloc'd, caller frees),
 * *data_len, and its mime_part facts copied into *info (free with
 * mime_part_free).  0, -ENOENT (no such part) or -ENOMEM. */
int mime_msg_part(const uint8_t *raw, size_t len, const char *part_id, uint8_t **data, size_t *data_len,
		  struct mime_part *info);
void mime_part_free(struct mime_part *p);

/* Call once per process before any of the above (g_mime_init); thread-safe
 * after that. */
void mime_msg_init(void);

#endif
