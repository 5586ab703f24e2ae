/*
 * core/smtp_reply.c - append SMTP reply lines to a caller-owned buffer.
 *
 * Owns: the byte layout of a reply line: "CODE[ -]x.y.z text\r\n".  The
 * session guarantees room (SMTP_OUT_RESERVE_BYTES) before it replies, so
 * running out of room is an invariant violation (assert), not an error path.
 * Expected workload: one or a few short lines per command; no formatting
 * library calls on this path.
 */
#include "smtp_reply.h"

#include <assert.h>
#include <string.h>

void smtp_reply_raw(struct smtp_out *out, const char *bytes, size_t len)
{
	assert(len <= smtp_out_room(out));
	if (len == 0)
		return;
	memcpy(out->buf + out->len, bytes, len);
	out->len += len;
}

/* Length of a leading "d.d{1,3}.d{1,3} " enhanced status code, or 0. */
static size_t enhanced_code_len(const char *text)
{
	size_t i = 0;
	int dots = 0;
	if (text[0] < '2' || text[0] > '5' || text[1] != '.')
		return 0;
	for (i = 1; text[i] != '\0' && text[i] != ' '; i++) {
		if (text[i] == '.')
			dots++;
		else if (text[i] < '0' || text[i] > '9')
			return 0;
	}
	if (dots != 2)
		return 0;
	return text[i] == ' ' ? i + 1 : i;
}

static void put_code(struct smtp_out *out, unsigned code, bool more)
{
	char head[4];
	assert(code >= 200 && code <= 599);
	head[0] = (char)('0' + code / 100);
	head[1] = (char)('0' + code / 10 % 10);
	head[2] = (char)('0' + code % 10);
	head[3] = more ? '-' : ' ';
	smtp_reply_raw(out, head, sizeof head);
}

static void put_text(struct smtp_out *out, bool enhanced, const char *text)
{
	if (!enhanced)
		text += enhanced_code_len(text);
	smtp_reply_raw(out, text, strlen(text));
}

void smtp_reply_line(struct smtp_out *out, unsigned code, bool more, bool enhanced, const char *text)
{
	put_code(out, code, more);
	put_text(out, enhanced, text);
	smtp_reply_raw(out, "\r\n", 2);
}

void smtp_reply_line2(struct smtp_out *out, unsigned code, bool enhanced, const char *text, const char *tail,
		      size_t tail_len)
{
	put_code(out, code, false);
	put_text(out, enhanced, text);
	smtp_reply_raw(out, tail, tail_len);
	smtp_reply_raw(out, "\r\n", 2);
}

void smtp_reply_spec_write(struct smtp_out *out, bool enhanced, const struct smtp_reply_spec *spec)
{
	smtp_reply_line2(out, spec->code, enhanced, spec->text, (const char *)spec->tail.ptr, spec->tail.len);
}

void smtp_reply_host(struct smtp_out *out, unsigned code, bool enhanced, const char *enh, const char *host,
		     const char *rest)
{
	put_code(out, code, false);
	if (enhanced && enh[0] != '\0') {
		smtp_reply_raw(out, enh, strlen(enh));
		smtp_reply_raw(out, " ", 1);
	}
	smtp_reply_raw(out, host, strlen(host));
	smtp_reply_raw(out, rest, strlen(rest));
	smtp_reply_raw(out, "\r\n", 2);
}

size_t smtp_reply_u64(char *buf, uint64_t n)
{
	char tmp[21];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	for (size_t i = 0; i < k; i++)
		buf[i] = tmp[k - 1 - i];
	return k;
}
