/*
 * tests/fuzz/fuzz_mime.c - libFuzzer harness: mime/ (mime_msg.h) on
 * hostile MIME.
 *
 * Owns: running mime_msg_parse() on one input held in an allocation of
 * its exact size (ASan sees any over-read; GMime copies it, so the copy
 * is what GMime reads) and checking what the contract promises:
 *  - parse returns 0; every string is NUL-terminated well-formed UTF-8
 *    (core/utf8.c's rules);
 *  - bounds: at most MIME_PARTS_MAX parts listed, MIME_ADDRS_MAX addresses
 *    per field, FUZZ_HEADERS_MAX header fields; the snippet at most
 *    MIME_SNIPPET_LIMIT_BYTES + "...";
 *  - every listed part has a non-empty ID and a file name or Content-ID;
 *    the first FUZZ_PARTS_CHECKED are fetched again by ID with
 *    mime_msg_part(): 0, the same facts, exactly `size` bytes;
 *  - an ID no tree can have ("0.0") is -ENOENT.
 * GMime is set up once (LLVMFuzzerInitialize; the replay driver calls it
 * too).  Workload: inputs of a few KB; each checked part re-parses.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_msg.h"
#include "mime_snippet.h"
#include "utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADERS_MAX 1000u /* MIME_HEADERS_MAX in mime/mime_msg.c */
#define FUZZ_PARTS_CHECKED 4u

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime: %s\n", what);
		abort();
	}
}

static void check_str(const char *s, const char *what)
{
	check(s != NULL && utf8_valid((const uint8_t *)s, strlen(s)), what);
}

static void check_addrs(const struct mime_addr_list *l)
{
	check(l->n <= MIME_ADDRS_MAX, "address list over MIME_ADDRS_MAX");
	for (size_t i = 0; i < l->n; i++) {
		check_str(l->v[i].name, "address name");
		check_str(l->v[i].address, "address");
	}
}

static void check_part(const struct mime_part *p, bool is_inline)
{
	check(memchr(p->part_id, '\0', sizeof p->part_id) && p->part_id[0], "part ID");
	check_str(p->file_name, "file name");
	check_str(p->content_type, "content type");
	check_str(p->content_id, "content ID");
	check(p->file_name[0] || p->content_id[0], "a listed part has a name or a Content-ID");
	check(p->is_inline == is_inline, "is_inline matches the list");
}

/* Fetch p again by its ID: same facts, exactly p->size bytes. */
static void check_fetch(const uint8_t *raw, size_t len, const struct mime_part *p)
{
	uint8_t *data;
	size_t n;
	struct mime_part info;
	check(mime_msg_part(raw, len, p->part_id, &data, &n, &info) == 0, "a listed part is found by its ID");
	check(n == p->size, "fetched size is the listed size");
	check(strcmp(info.content_type, p->content_type) == 0 && strcmp(info.file_name, p->file_name) == 0 &&
		      strcmp(info.content_id, p->content_id) == 0 && info.size == p->size,
	      "fetched facts are the listed facts");
	free(data);
	mime_part_free(&info);
}

static void check_msg(const uint8_t *raw, size_t len, const struct mime_msg *m)
{
	check_str(m->message_id, "message ID");
	check_str(m->subject, "subject");
	check_str(m->from.name, "from name");
	check_str(m->from.address, "from address");
	check_str(m->text, "text");
	check_str(m->html, "html");
	check_str(m->snippet, "snippet");
	check(strlen(m->snippet) <= MIME_SNIPPET_LIMIT_BYTES + 3, "snippet length");
	check_addrs(&m->to);
	check_addrs(&m->cc);
	check_addrs(&m->bcc);
	check_addrs(&m->reply_to);
	check(m->header_count <= FUZZ_HEADERS_MAX, "header count");
	for (size_t i = 0; i < m->header_count; i++) {
		check_str(m->headers[i].name, "header name");
		check_str(m->headers[i].value, "header value");
	}
	check(m->attachment_count + m->inline_count <= MIME_PARTS_MAX, "parts over MIME_PARTS_MAX");
	size_t fetched = 0;
	for (size_t i = 0; i < m->attachment_count; i++) {
		check_part(&m->attachments[i], false);
		if (fetched++ < FUZZ_PARTS_CHECKED)
			check_fetch(raw, len, &m->attachments[i]);
	}
	for (size_t i = 0; i < m->inline_count; i++) {
		check_part(&m->inlines[i], true);
		if (fetched++ < FUZZ_PARTS_CHECKED)
			check_fetch(raw, len, &m->inlines[i]);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mime_msg_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	check(mime_msg_parse(data, size, &m) == 0, "parse fails only without memory");
	check_msg(data, size, &m);
	mime_msg_free(&m);
	uint8_t *part = NULL;
	size_t n = 0;
	struct mime_part info;
	check(mime_msg_part(data, size, "0.0", &part, &n, &info) == -ENOENT && part == NULL, "no part 0.0");
	return 0;
}
