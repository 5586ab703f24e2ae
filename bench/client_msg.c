/*
 * bench/client_msg.c - templates, message content and AUTH PLAIN (see
 * client_msg.h).
 *
 * Generated content: a header block naming the sequence number twice
 * (Subject, Message-ID: a test can match a stored message to the message
 * smtpsink-bench sent), then filler lines up to the requested size.  The
 * filler is a view into one shared buffer of identical lines; only a short
 * tail (the last, partial line) is written per message.  A size below the
 * header block gives the header block alone; a size of exactly header + 1
 * gives header + 2 (a body line needs at least its CRLF).
 */
#include "client_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HDR_FROM "From: <"
#define HDR_TO ">\r\nTo: <"
#define HDR_SUBJECT ">\r\nSubject: smtpsink-bench message "
#define HDR_MSGID "\r\nMessage-ID: <"
#define HDR_END "@smtpsink-bench>\r\n\r\n"
#define LIT_LEN(s) (sizeof(s) - 1)
#define HDR_FIXED_BYTES \
	(LIT_LEN(HDR_FROM) + LIT_LEN(HDR_TO) + LIT_LEN(HDR_SUBJECT) + LIT_LEN(HDR_MSGID) + LIT_LEN(HDR_END))

const char *client_msg_template_check(const char *tmpl)
{
	for (const char *p = tmpl; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '<' || *p == '>')
			return "only printable ASCII without spaces or angle brackets";
		if (*p == '%') {
			p++;
			if (*p != 'n' && *p != 'r' && *p != '%')
				return "unknown %-sequence (use %n, %r or %%)";
		}
	}
	if (client_msg_template_max(tmpl) > CLIENT_MSG_ADDR_MAX_BYTES)
		return "too long once expanded (RFC 5321 4.5.3.1.3: 256 octets)";
	return NULL;
}

size_t client_msg_template_max(const char *tmpl)
{
	size_t n = 0;
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p == '%' && (p[1] == 'n' || p[1] == 'r')) {
			n += CLIENT_MSG_SEQ_DIGITS_MAX;
			p++;
		} else if (*p == '%' && p[1] == '%') {
			n++;
			p++;
		} else {
			n++;
		}
	}
	return n;
}

static size_t put_u64(char *dst, uint64_t v)
{
	char tmp[CLIENT_MSG_SEQ_DIGITS_MAX];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

size_t client_msg_expand(const char *tmpl, uint64_t seq, uint32_t rcpt, char *dst)
{
	size_t n = 0;
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			dst[n++] = *p;
			continue;
		}
		p++;
		if (*p == 'n')
			n += put_u64(dst + n, seq);
		else if (*p == 'r')
			n += put_u64(dst + n, rcpt);
		else
			dst[n++] = '%';
	}
	return n;
}

static size_t put_lit(uint8_t *dst, const char *s, size_t len)
{
	memcpy(dst, s, len);
	return len;
}

/* The header block, written to dst (NULL: only measured). */
static size_t header(const struct client_msg_spec *sp, uint64_t seq, uint8_t *dst)
{
	char scratch[CLIENT_MSG_ADDR_MAX_BYTES + 1];
	if (dst == NULL) {
		char digits[CLIENT_MSG_SEQ_DIGITS_MAX];
		return HDR_FIXED_BYTES + client_msg_expand(sp->from_tmpl, seq, 1, scratch) +
		       client_msg_expand(sp->to_tmpl, seq, 1, scratch) + 2 * put_u64(digits, seq);
	}
	size_t n = put_lit(dst, HDR_FROM, LIT_LEN(HDR_FROM));
	n += client_msg_expand(sp->from_tmpl, seq, 1, (char *)dst + n);
	n += put_lit(dst + n, HDR_TO, LIT_LEN(HDR_TO));
	n += client_msg_expand(sp->to_tmpl, seq, 1, (char *)dst + n);
	n += put_lit(dst + n, HDR_SUBJECT, LIT_LEN(HDR_SUBJECT));
	n += put_u64((char *)dst + n, seq);
	n += put_lit(dst + n, HDR_MSGID, LIT_LEN(HDR_MSGID));
	n += put_u64((char *)dst + n, seq);
	n += put_lit(dst + n, HDR_END, LIT_LEN(HDR_END));
	return n;
}

/* Body bytes after a header of hlen for a requested size. */
static uint64_t body_len(uint64_t hlen, uint32_t size)
{
	uint64_t b = size > hlen ? size - hlen : 0;
	return b == 1 ? 2 : b;
}

uint64_t client_msg_content_len(const struct client_msg_spec *sp, const struct client_msg *m, bool bdat)
{
	if (sp->file)
		return bdat ? sp->raw_len : sp->stuffed_len;
	uint64_t hlen = header(sp, m->seq, NULL);
	return hlen + body_len(hlen, m->size_bytes);
}

void client_msg_put_content(const struct client_msg_spec *sp, const struct client_msg *m, bool bdat,
			    struct client_out *out)
{
	if (sp->file) {
		out->body_at = out->len;
		out->body = bdat ? sp->raw : sp->stuffed;
		out->body_len = (uint32_t)(bdat ? sp->raw_len : sp->stuffed_len);
		return;
	}
	size_t hlen = header(sp, m->seq, out->buf + out->len);
	out->len += (uint32_t)hlen;
	uint64_t b = body_len(hlen, m->size_bytes);
	uint64_t full = b / CLIENT_MSG_LINE_BYTES, rest = b % CLIENT_MSG_LINE_BYTES;
	if (rest == 1) { /* a one-byte tail cannot end in CRLF: take a whole line into it */
		full--;
		rest += CLIENT_MSG_LINE_BYTES;
	}
	out->body_at = out->len;
	if (full > 0) {
		out->body = sp->lines;
		out->body_len = (uint32_t)(full * CLIENT_MSG_LINE_BYTES);
	}
	if (rest >= 2) {
		memset(out->buf + out->len, 'x', rest - 2);
		memcpy(out->buf + out->len + rest - 2, "\r\n", 2);
		out->len += (uint32_t)rest;
	}
}

size_t client_msg_put_room(const struct client_msg_spec *sp)
{
	if (sp->file)
		return 0;
	return HDR_FIXED_BYTES + client_msg_template_max(sp->from_tmpl) + client_msg_template_max(sp->to_tmpl) +
	       2 * CLIENT_MSG_SEQ_DIGITS_MAX + CLIENT_MSG_TAIL_MAX_BYTES;
}

void client_msg_fill_lines(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t col = i % CLIENT_MSG_LINE_BYTES;
		buf[i] = col == CLIENT_MSG_LINE_BYTES - 2 ? '\r' : col == CLIENT_MSG_LINE_BYTES - 1 ? '\n' : 'x';
	}
}

/* CRLF-normalise (and, if stuff, dot-stuff) into dst; the length.  dst
 * NULL: only measure. */
static size_t normalise(const uint8_t *in, size_t len, bool stuff, uint8_t *dst)
{
	size_t n = 0;
	bool line_start = true;
	for (size_t i = 0; i < len; i++) {
		if (stuff && line_start && in[i] == '.') {
			if (dst)
				dst[n] = '.';
			n++;
		}
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
			if (dst)
				dst[n] = '\r';
			n++;
		}
		if (dst)
			dst[n] = in[i];
		n++;
		line_start = in[i] == '\n';
	}
	if (len > 0 && !line_start) { /* the content must end with CRLF */
		if (dst) {
			dst[n] = '\r';
			dst[n + 1] = '\n';
		}
		n += 2;
	}
	return n;
}

int client_msg_load_body(const uint8_t *file, size_t len, struct client_msg_spec *sp)
{
	size_t raw_len = normalise(file, len, false, NULL), stuffed_len = normalise(file, len, true, NULL);
	uint8_t *raw = malloc(raw_len + 1), *stuffed = malloc(stuffed_len + 1);
	if (raw == NULL || stuffed == NULL) {
		free(raw);
		free(stuffed);
		return -ENOMEM;
	}
	normalise(file, len, false, raw);
	normalise(file, len, true, stuffed);
	sp->file = true;
	sp->raw = raw;
	sp->raw_len = raw_len;
	sp->stuffed = stuffed;
	sp->stuffed_len = stuffed_len;
	return 0;
}

size_t client_msg_b64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = alphabet[(v >> 18) & 63];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[n] = '\0';
	return n;
}

size_t client_msg_auth_plain(const char *user_pass, char *out, size_t cap)
{
	const char *colon = strchr(user_pass, ':');
	if (colon == NULL)
		return 0;
	size_t ulen = (size_t)(colon - user_pass), plen = strlen(colon + 1), mlen = ulen + plen + 2;
	if ((mlen + 2) / 3 * 4 + 1 > cap)
		return 0;
	uint8_t *msg = malloc(mlen);
	if (msg == NULL)
		return 0;
	msg[0] = '\0';
	memcpy(msg + 1, user_pass, ulen);
	msg[ulen + 1] = '\0';
	memcpy(msg + ulen + 2, colon + 1, plen);
	size_t n = client_msg_b64_encode(msg, mlen, out);
	free(msg);
	return n;
}
