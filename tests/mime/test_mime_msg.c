/*
 * tests/mime/test_mime_msg.c - mime_msg_parse() and mime_msg_part() on
 * mail as real clients write it, and on broken mail.
 *
 * Owns: messages for each rule of mime/: RFC 2047 headers in ISO-8859-1,
 * Windows-1252 and UTF-8 (and raw 8-bit), address lists with a group,
 * multipart/alternative, multipart/related with an inline image by cid,
 * attachments with RFC 2231 file names (encoded and continued), QP and
 * base64 bodies, a single-part attachment, an attached message/rfc822
 * (listed, not descended), Mailpit's part numbering and lists; and broken
 * input: a missing closing boundary, bad base64, an unknown charset, NUL
 * in a body, a 256 KiB header, nesting 2000 deep, the header, address and
 * part limits at limit - 1, limit and limit + 1, empty input and garbage.
 * Every string of every parse is checked to be NUL-free valid UTF-8.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime_msg.h"
#include "session_harness.h"
#include "utf8.h"

#define CHECK_S(got, want) CHECK_STR((got), strlen(got), (want))

static bool str_ok(const char *s)
{
	return s && utf8_valid((const uint8_t *)s, strlen(s));
}

static bool part_ok(const struct mime_part *p)
{
	return str_ok(p->file_name) && str_ok(p->content_type) && str_ok(p->content_id) && p->part_id[0];
}

static bool list_ok(const struct mime_addr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!str_ok(l->v[i].name) || !str_ok(l->v[i].address))
			return false;
	}
	return true;
}

/* Every string of m is there and valid (the contract's invariant). */
static void check_strings(const struct mime_msg *m)
{
	bool ok = str_ok(m->message_id) && str_ok(m->subject) && str_ok(m->from.name) && str_ok(m->from.address) &&
		  str_ok(m->text) && str_ok(m->html) && str_ok(m->snippet) && list_ok(&m->to) && list_ok(&m->cc) &&
		  list_ok(&m->bcc) && list_ok(&m->reply_to);
	for (size_t i = 0; i < m->attachment_count; i++)
		ok = ok && part_ok(&m->attachments[i]) && !m->attachments[i].is_inline;
	for (size_t i = 0; i < m->inline_count; i++)
		ok = ok && part_ok(&m->inlines[i]) && m->inlines[i].is_inline;
	for (size_t i = 0; i < m->header_count; i++)
		ok = ok && str_ok(m->headers[i].name) && str_ok(m->headers[i].value);
	CHECK(ok);
}

static int parse_len(const char *raw, size_t len, struct mime_msg *m)
{
	int rc = mime_msg_parse((const uint8_t *)raw, len, m);
	CHECK(rc == 0);
	if (rc == 0)
		check_strings(m);
	return rc;
}

static int parse(const char *raw, struct mime_msg *m)
{
	return parse_len(raw, strlen(raw), m);
}

static const char simple[] = "Received: from x by y; Mon, 7 Dec 2026 10:00:00 +0000\r\n"
			     "From: =?iso-8859-1?q?Ren=E9_Dupont?= <rene@example.fr>\r\n"
			     "To: Alice <alice@example.org>, bob@example.org,\r\n"
			     " undisclosed: carol@example.org, \"Dan D\" <dan@example.org>;\r\n"
			     "Cc: =?utf-8?b?w4lsb2TDqWU=?= <elo@example.org>\r\n"
			     "Reply-To: replies@example.org\r\n"
			     "Subject: =?windows-1252?q?=93Quoted=94_price_=80?= and =?utf-8?q?caf=C3=A9?=\r\n"
			     "Message-ID: <abc.123@example.fr>\r\n"
			     "Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n"
			     "X-Raw: na\xefve\r\n"
			     "MIME-Version: 1.0\r\n"
			     "Content-Type: text/plain; charset=utf-8\r\n"
			     "Content-Transfer-Encoding: quoted-printable\r\n"
			     "\r\n"
			     "Bonjour, caf=C3=A9 =\r\n"
			     "soft break.\r\n";

static void test_simple(void)
{
	struct mime_msg m;
	if (parse(simple, &m) != 0)
		return;
	CHECK_S(m.subject, "\xe2\x80\x9cQuoted\xe2\x80\x9d price \xe2\x82\xac and caf\xc3\xa9");
	CHECK_S(m.message_id, "abc.123@example.fr");
	CHECK_S(m.from.name, "Ren\xc3\xa9 Dupont");
	CHECK_S(m.from.address, "rene@example.fr");
	CHECK_U64(m.to.n, 4); /* the group's members flattened */
	if (m.to.n == 4) {
		CHECK_S(m.to.v[0].name, "Alice");
		CHECK_S(m.to.v[1].name, "");
		CHECK_S(m.to.v[1].address, "bob@example.org");
		CHECK_S(m.to.v[2].address, "carol@example.org");
		CHECK_S(m.to.v[3].name, "Dan D");
	}
	CHECK(m.cc.n == 1 && strcmp(m.cc.v[0].name, "\xc3\x89lod\xc3\xa9"
						    "e") == 0);
	CHECK(m.reply_to.n == 1 && strcmp(m.reply_to.v[0].address, "replies@example.org") == 0);
	CHECK_U64(m.bcc.n, 0);
	CHECK_U64((uint64_t)m.date_s, 1796634000); /* 2026-12-07T09:00:00Z */
	CHECK_S(m.text, "Bonjour, caf\xc3\xa9 soft break.\r\n");
	CHECK_S(m.html, "");
	CHECK_S(m.snippet, "Bonjour, caf\xc3\xa9 soft break.");
	CHECK_U64(m.attachment_count + m.inline_count, 0);
	CHECK_U64(m.header_count, 12);
	if (m.header_count == 12) {
		CHECK_S(m.headers[0].name, "Received");
		CHECK_S(m.headers[5].value, "\xe2\x80\x9cQuoted\xe2\x80\x9d price \xe2\x82\xac and caf\xc3\xa9");
		CHECK_S(m.headers[2].value,
			"Alice <alice@example.org>, bob@example.org, undisclosed: carol@example.org, "
			"\"Dan D\" <dan@example.org>;"); /* unfolded */
		CHECK_S(m.headers[8].name, "X-Raw");
		CHECK_S(m.headers[10].name, "Content-Type"); /* GMime keeps it on the part: merged in order */
		CHECK_S(m.headers[11].name, "Content-Transfer-Encoding");
		CHECK_S(m.headers[8].value, "na\xc3\xafve"); /* raw 8-bit: not UTF-8, read as Windows-1252 */
	}
	mime_msg_free(&m);
}

static const char alternative[] = "From: shop@example.com\r\n"
				  "To: you@example.org\r\n"
				  "Subject: Your order\r\n"
				  "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
				  "\r\n"
				  "preamble\r\n"
				  "--alt\r\n"
				  "Content-Type: text/plain; charset=iso-8859-1\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n"
				  "\r\n"
				  "Commande re=E7ue.\r\n"
				  "--alt\r\n"
				  "Content-Type: text/html; charset=utf-8\r\n"
				  "Content-Transfer-Encoding: base64\r\n"
				  "\r\n"
				  "PGh0bWw+PGhlYWQ+PHRpdGxlPk9yZGVyPC90aXRsZT48L2hlYWQ+PGJvZHk+PHA+Q29tbWFuZGUg\r\n"
				  "cmXDp3VlLjwvcD48cD5NZXJjaTwvcD48L2JvZHk+PC9odG1sPg==\r\n"
				  "--alt--\r\n"
				  "epilogue\r\n";

static void test_alternative(void)
{
	struct mime_msg m;
	if (parse(alternative, &m) != 0)
		return;
	CHECK_S(m.text, "Commande re\xc3\xa7ue.");
	CHECK_S(m.html,
		"<html><head><title>Order</title></head><body><p>Commande re\xc3\xa7ue.</p><p>Merci</p></body></html>");
	CHECK_S(m.snippet, "Commande re\xc3\xa7ue. Merci"); /* from the HTML, as Mailpit */
	CHECK_U64(m.attachment_count + m.inline_count, 0);
	CHECK_S(m.message_id, "");
	CHECK_U64((uint64_t)m.date_s, 0);
	mime_msg_free(&m);
	uint8_t *data = NULL;
	size_t n = 0;
	struct mime_part info;
	int rc = mime_msg_part((const uint8_t *)alternative, strlen(alternative), "1", &data, &n, &info);
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK_STR(data, n, "Commande re\xe7ue."); /* a part is given as sent: no charset conversion */
		CHECK_S(info.content_type, "text/plain");
		free(data);
		mime_part_free(&info);
	}
}

/* mixed > [related > [alternative > [text, html], image], pdf, notes]. */
static const char related[] = "From: Newsletter <news@example.com>\r\n"
			      "Subject: Pictures\r\n"
			      "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
			      "\r\n"
			      "--mix\r\n"
			      "Content-Type: multipart/related; boundary=\"rel\"; type=\"multipart/alternative\"\r\n"
			      "\r\n"
			      "--rel\r\n"
			      "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
			      "\r\n"
			      "--alt\r\n"
			      "Content-Type: text/plain\r\n"
			      "\r\n"
			      "See the logo.\r\n"
			      "--alt\r\n"
			      "Content-Type: text/html\r\n"
			      "\r\n"
			      "<p>See <img src=\"cid:logo@x\"> the logo.</p>\r\n"
			      "--alt--\r\n"
			      "--rel\r\n"
			      "Content-Type: image/png\r\n"
			      "Content-Transfer-Encoding: base64\r\n"
			      "Content-ID: <logo@x>\r\n"
			      "Content-Disposition: inline\r\n"
			      "\r\n"
			      "iVBORw0KGgo=\r\n"
			      "--rel--\r\n"
			      "--mix\r\n"
			      "Content-Type: application/pdf\r\n"
			      "Content-Transfer-Encoding: base64\r\n"
			      "Content-Disposition: attachment;\r\n"
			      " filename*=utf-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf\r\n"
			      "\r\n"
			      "JVBERi0xLjQK\r\n"
			      "--mix\r\n"
			      "Content-Type: text/plain; name=\"notes.txt\"\r\n"
			      "Content-Disposition: attachment;\r\n"
			      " filename*0*=iso-8859-1''long%20na;\r\n"
			      " filename*1=\"me of notes.txt\"\r\n"
			      "\r\n"
			      "attached text, not body\r\n"
			      "--mix\r\n"
			      "Content-Type: application/octet-stream\r\n"
			      "\r\n"
			      "nameless: not listed\r\n"
			      "--mix--\r\n";

static void test_related(void)
{
	struct mime_msg m;
	if (parse(related, &m) != 0)
		return;
	CHECK_S(m.text, "See the logo.");
	CHECK_S(m.html, "<p>See <img src=\"cid:logo@x\"> the logo.</p>");
	CHECK_S(m.snippet, "See the logo.");
	CHECK_U64(m.inline_count, 1);
	if (m.inline_count == 1) {
		CHECK_S(m.inlines[0].part_id, "1.2");
		CHECK_S(m.inlines[0].content_id, "logo@x");
		CHECK_S(m.inlines[0].content_type, "image/png");
		CHECK_S(m.inlines[0].file_name, "");
		CHECK_U64(m.inlines[0].size, 8);
	}
	CHECK_U64(m.attachment_count, 2);
	if (m.attachment_count == 2) {
		CHECK_S(m.attachments[0].part_id, "2");
		CHECK_S(m.attachments[0].file_name, "na\xc3\xafve r\xc3\xa9sum\xc3\xa9.pdf");
		CHECK_U64(m.attachments[0].size, 9);
		CHECK_S(m.attachments[1].part_id, "3");
		CHECK_S(m.attachments[1].file_name, "long name of notes.txt");
	}
	static const struct {
		const char *id, *want;
	} parts[] = { { "1.1.1", "See the logo." },
		      { "1.2", "\x89PNG\r\n\x1a\n" },
		      { "2", "%PDF-1.4\n" },
		      { "4", "nameless: not listed" } };
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		uint8_t *data;
		size_t n;
		struct mime_part info;
		int rc = mime_msg_part((const uint8_t *)related, strlen(related), parts[i].id, &data, &n, &info);
		CHECK(rc == 0);
		if (rc != 0)
			continue;
		CHECK_STR(data, n, parts[i].want);
		CHECK_S(info.part_id, parts[i].id);
		free(data);
		mime_part_free(&info);
	}
	static const char *const missing[] = { "1", "1.1", "5", "0", "1.1.3", "", "2.1" }; /* multiparts are no parts */
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		uint8_t *data = (uint8_t *)"x";
		size_t n = 1;
		struct mime_part info;
		CHECK(mime_msg_part((const uint8_t *)related, strlen(related), missing[i], &data, &n, &info) ==
		      -ENOENT);
		CHECK(data == NULL && n == 0);
	}
	mime_msg_free(&m);
}

/* multipart/mixed: every text/plain that is not an attachment, joined
 * by "\n--\n" (enmime); multipart/alternative: the first one breadth-first. */
static void test_text_join(void)
{
	static const char mixed[] =
		"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
		"--m\r\nContent-Type: image/gif; name=a.gif\r\n\r\nGIF\r\n"
		"--m\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Disposition: inline\r\n\r\nsecond \xe9\r\n"
		"--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot text\r\n"
		"--m--\r\n";
	struct mime_msg m;
	if (parse(mixed, &m) == 0) {
		CHECK_S(m.text, "first\n--\nsecond \xc3\xa9");
		mime_msg_free(&m);
	}
	static const char alt[] = "Content-Type: multipart/alternative; boundary=a\r\n\r\n"
				  "--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
				  "--r\r\nContent-Type: text/plain\r\n\r\ndeeper\r\n--r--\r\n"
				  "--a\r\nContent-Type: text/plain\r\n\r\nshallower\r\n"
				  "--a--\r\n";
	if (parse(alt, &m) == 0) {
		CHECK_S(m.text, "shallower");
		mime_msg_free(&m);
	}
}

/* A message that is nothing but an attachment: its part is "0". */
static void test_single_attachment(void)
{
	static const char raw[] = "Subject: scan\r\n"
				  "Content-Type: application/pdf; name=\"scan.pdf\"\r\n"
				  "Content-Transfer-Encoding: base64\r\n"
				  "\r\n"
				  "JVBERi0xLjQK\r\n";
	struct mime_msg m;
	if (parse(raw, &m) != 0)
		return;
	CHECK_S(m.text, "");
	CHECK(m.attachment_count == 1 && strcmp(m.attachments[0].part_id, "0") == 0 &&
	      strcmp(m.attachments[0].file_name, "scan.pdf") == 0);
	mime_msg_free(&m);
	static const char text[] =
		"Subject: plain\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n<b>\x80</b>\r\n";
	if (parse(text, &m) != 0)
		return;
	CHECK_S(m.html, "<b>\xe2\x82\xac</b>\r\n");
	CHECK_S(m.text, "");
	CHECK_S(m.snippet, "\xe2\x82\xac");
	mime_msg_free(&m);
}

/* message/rfc822 is a leaf: listed, its own parts not descended into. */
static void test_attached_message(void)
{
	static const char raw[] = "Subject: fwd\r\n"
				  "Content-Type: multipart/mixed; boundary=b\r\n"
				  "\r\n"
				  "--b\r\n"
				  "Content-Type: text/plain\r\n"
				  "\r\n"
				  "see attached\r\n"
				  "--b\r\n"
				  "Content-Type: message/rfc822\r\n"
				  "Content-Disposition: attachment; filename=\"orig.eml\"\r\n"
				  "\r\n"
				  "Subject: inner\r\n"
				  "Content-Type: multipart/mixed; boundary=c\r\n"
				  "\r\n"
				  "--c\r\n"
				  "Content-Type: text/plain\r\n"
				  "\r\n"
				  "inner text\r\n"
				  "--c\r\n"
				  "Content-Type: image/gif; name=inner.gif\r\n"
				  "\r\n"
				  "GIF\r\n"
				  "--c--\r\n"
				  "--b--\r\n";
	struct mime_msg m;
	if (parse(raw, &m) != 0)
		return;
	CHECK_S(m.text, "see attached");
	CHECK_U64(m.inline_count, 0);
	CHECK(m.attachment_count == 1 && strcmp(m.attachments[0].part_id, "2") == 0 &&
	      strcmp(m.attachments[0].content_type, "message/rfc822") == 0);
	mime_msg_free(&m);
	uint8_t *data;
	size_t n;
	struct mime_part info;
	if (CHECK(mime_msg_part((const uint8_t *)raw, strlen(raw), "2", &data, &n, &info) == 0)) {
		CHECK(memmem(data, n, "Subject: inner", 14) && memmem(data, n, "inner text", 10));
		CHECK_S(info.file_name, "orig.eml");
		free(data);
		mime_part_free(&info);
	}
	CHECK(mime_msg_part((const uint8_t *)raw, strlen(raw), "2.1", &data, &n, &info) == -ENOENT);
}

/* Broken MIME: whatever can be read is, nothing crashes, strings stay valid. */
static void test_broken(void)
{
	static const char *const raws[] = {
		/* no closing boundary: the last part runs to the end */
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
		"--b\r\nContent-Type: application/zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==",
		/* bad base64 and an unknown transfer encoding */
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%aGk=!!\r\n",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-rot13\r\n\r\nuryyb\r\n",
		/* unknown charset, NUL and C1 in the body */
		"Content-Type: text/plain; charset=x-unknown\r\n\r\nnul\0 and \xc2\x9b and \xff\r\n", /* 66 bytes */
		/* multipart without boundary, and with no parts */
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
		"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z--\r\n",
		/* headers only, no blank line; a header without a colon */
		"Subject: only headers",
		"Not a header line\r\nSubject: x\r\n\r\nbody",
		/* broken encoded words and parameters */
		"Subject: =?utf-8?q?unterminated\r\nFrom: <<<@>>>, =?x?b?!!?= <a@\r\nContent-Type: text/plain; "
		"charset*=''\r\n\r\nx",
		"",
		"\r\n\r\n",
		"\xff\xfe\x00\x01garbage\x80\x9b",
	};
	static const size_t lens[] = { 0, 0, 0, 66, 0, 0, 0, 0, 0, 0, 0, 12 };
	for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		struct mime_msg m;
		if (parse_len(raws[i], lens[i] ? lens[i] : strlen(raws[i]), &m) != 0)
			continue;
		if (i == 0) {
			CHECK_S(m.text, "first");
			CHECK(m.inline_count == 1 && m.inlines[0].size == 4); /* no disposition: Mailpit's inline */
		}
		if (i == 1)
			CHECK_S(m.text, "hi");
		if (i == 3)
			CHECK_S(m.text,
				"nul\xef\xbf\xbd and \xc2\x9b and \xef\xbf\xbd\r\n"); /* C1 kept: the caller cleans */
		if (i == 6)
			CHECK_S(m.subject, "only headers");
		mime_msg_free(&m);
	}
}

/* A part with no content: found, 0 bytes, a freeable buffer (UBSan saw
 * a memcpy from GMime's NULL data here before). */
static void test_empty_part(void)
{
	static const char raw[] = "Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n"
				  "Content-Type: application/x-empty; name=empty.bin\r\n\r\n\r\n--e--\r\n";
	uint8_t *data = NULL;
	size_t n = 1;
	struct mime_part info;
	if (CHECK(mime_msg_part((const uint8_t *)raw, strlen(raw), "1", &data, &n, &info) == 0)) {
		CHECK(data != NULL && n == 0 && info.size == 0);
		CHECK_S(info.file_name, "empty.bin");
		free(data);
		mime_part_free(&info);
	}
}

/* A 256 KiB header value, folded every 70 bytes. */
static void test_huge_header(void)
{
	size_t cap = 300u * 1024u, n = 0;
	char *raw = malloc(cap);
	if (!CHECK(raw != NULL))
		return;
	n += (size_t)sprintf(raw, "Subject: ");
	while (n < 256u * 1024u)
		n += (size_t)sprintf(raw + n, "%s",
				     "word word word word word word word word word word word word wo\r\n ");
	n += (size_t)sprintf(raw + n, "end\r\n\r\nbody\r\n");
	struct mime_msg m;
	if (parse_len(raw, n, &m) == 0) {
		CHECK(strlen(m.subject) > 200u * 1024u && !strchr(m.subject, '\n'));
		CHECK_S(m.text, "body\r\n");
		mime_msg_free(&m);
	}
	free(raw);
}

/* Multiparts nested 2000 deep (GMime stops at 1024, mime/ lists nothing
 * past MIME_DEPTH_MAX levels), and a part at depth 3 that is found. */
static void test_deep_nesting(void)
{
	const unsigned depth = 2000;
	size_t cap = depth * 80u + 256u, n = 0;
	char *raw = malloc(cap);
	if (!CHECK(raw != NULL))
		return;
	for (unsigned i = 0; i < depth; i++)
		n += (size_t)sprintf(raw + n, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n--b%u\r\n", i, i);
	n += (size_t)sprintf(raw + n, "Content-Type: image/png; name=deep.png\r\n\r\nPNG\r\n");
	struct mime_msg m;
	if (parse_len(raw, n, &m) == 0) {
		CHECK_U64(m.attachment_count + m.inline_count, 0);
		mime_msg_free(&m);
	}
	n = 0;
	for (unsigned i = 0; i < 3; i++)
		n += (size_t)sprintf(raw + n, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n--b%u\r\n", i, i);
	n += (size_t)sprintf(raw + n, "Content-Type: image/png; name=deep.png\r\n\r\nPNG\r\n");
	if (parse_len(raw, n, &m) == 0) {
		CHECK(m.inline_count == 1 && strcmp(m.inlines[0].part_id, "1.1.1") == 0);
		mime_msg_free(&m);
	}
	free(raw);
}

/* count header fields; count addresses in To; count attachments. */
static char *limits_message(unsigned headers, unsigned addrs, unsigned parts, size_t *len)
{
	size_t cap = headers * 16u + addrs * 24u + parts * 96u + 256u, n = 0;
	char *raw = malloc(cap);
	if (!raw)
		return NULL;
	for (unsigned i = 0; i + 2 < headers; i++)
		n += (size_t)sprintf(raw + n, "X-H%u: v\r\n", i);
	n += (size_t)sprintf(raw + n, "To: ");
	for (unsigned i = 0; i < addrs; i++)
		n += (size_t)sprintf(raw + n, "%sa%u@example.org", i ? "," : "", i);
	n += (size_t)sprintf(raw + n, "\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (unsigned i = 0; i < parts; i++)
		n += (size_t)sprintf(raw + n, "--p\r\nContent-Type: application/x-a; name=f%u\r\n\r\n%u\r\n", i, i);
	n += (size_t)sprintf(raw + n, "--p--\r\n");
	*len = n;
	return raw;
}

/* Each limit at limit - 1, limit and limit + 1. */
static void test_limits(void)
{
	static const unsigned header_max = 1000; /* MIME_HEADERS_MAX in mime_msg.c */
	for (int d = -1; d <= 1; d++) {
		size_t len = 0;
		char *raw = limits_message(header_max + (unsigned)d, MIME_ADDRS_MAX + (unsigned)d,
					   MIME_PARTS_MAX + (unsigned)d, &len);
		struct mime_msg m;
		if (!CHECK(raw != NULL) || parse_len(raw, len, &m) != 0) {
			free(raw);
			continue;
		}
		CHECK_U64(m.header_count, d > 0 ? header_max : header_max + (unsigned)d);
		CHECK_U64(m.to.n, d > 0 ? MIME_ADDRS_MAX : MIME_ADDRS_MAX + (unsigned)d);
		CHECK_U64(m.inline_count, d > 0 ? MIME_PARTS_MAX : MIME_PARTS_MAX + (unsigned)d);
		if (m.inline_count > 0)
			CHECK_S(m.inlines[m.inline_count - 1].file_name, d > 0 ? "f999" : d == 0 ? "f999" : "f998");
		mime_msg_free(&m);
		uint8_t *data;
		size_t n;
		struct mime_part info;
		char id[16];
		snprintf(id, sizeof id, "%u", MIME_PARTS_MAX + (unsigned)d);
		int rc = mime_msg_part((const uint8_t *)raw, len, id, &data, &n, &info);
		CHECK(rc == (d > 0 ? -ENOENT : 0));
		if (rc == 0) {
			free(data);
			mime_part_free(&info);
		}
		free(raw);
	}
}

int main(void)
{
	mime_msg_init();
	test_simple();
	test_alternative();
	test_related();
	test_text_join();
	test_single_attachment();
	test_attached_message();
	test_broken();
	test_empty_part();
	test_huge_header();
	test_deep_nesting();
	test_limits();
	g_mime_shutdown(); /* GLib's one-time allocations: released, so LSan sees no leak */
	return harness_finish("mime_msg");
}
