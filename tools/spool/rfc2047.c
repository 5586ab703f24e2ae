/*
 * tools/spool/rfc2047.c - encoded-word decoding (rfc2047.h).
 *
 * Owns: recognising one encoded word (charset and encoding tokens without
 * blanks or '?', encoded text without blanks, ended by "?="), decoding its
 * text, and the output cursor that never writes past cap - 1.
 * Workload: one Subject per listed message, usually plain ASCII: the
 * common path is a byte copy.
 */
#include "rfc2047.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "hex.h"
#include "smtp_auth.h"

/* RFC 2047 section 2: an encoded word is at most 75 characters; accept
 * longer ones (real mailers exceed it) up to this bound. */
#define WORD_MAX_CHARS 1024u
#define CHARSET_MAX_CHARS 40u

enum charset {
	CS_UTF8,
	CS_LATIN1,
	CS_UNKNOWN
};

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, uint8_t c)
{
	if (o->len + 1 < o->cap)
		o->p[o->len++] = (char)c;
}

/* A decoded byte in charset cs, as UTF-8. */
static void put_char(struct out *o, enum charset cs, uint8_t c)
{
	if (cs == CS_LATIN1 && c >= 0x80) {
		put(o, (uint8_t)(0xC0 | c >> 6));
		put(o, (uint8_t)(0x80 | (c & 0x3F)));
	} else {
		put(o, c);
	}
}

static bool decode_q(const char *t, size_t n, enum charset cs, struct out *o)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '_') {
			put(o, ' ');
		} else if (t[i] == '=') {
			if (i + 2 >= n)
				return false;
			int hi = hex_digit((uint8_t)t[i + 1]), lo = hex_digit((uint8_t)t[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			put_char(o, cs, (uint8_t)(hi << 4 | lo));
			i += 2;
		} else {
			put_char(o, cs, (uint8_t)t[i]);
		}
	}
	return true;
}

/* Base64 as RFC 2045 has it (core/'s decoder: canonical padding). */
static bool decode_b(const char *t, size_t n, enum charset cs, struct out *o)
{
	uint8_t buf[SMTP_AUTH_DECODED_MAX(WORD_MAX_CHARS)];
	long got = smtp_auth_b64_decode(smtp_view_make(t, n), buf, sizeof buf);
	for (long i = 0; i < got; i++)
		put_char(o, cs, buf[i]);
	return got >= 0;
}

static enum charset charset_of(const char *s, size_t n)
{
	char name[CHARSET_MAX_CHARS + 1];
	if (n > CHARSET_MAX_CHARS)
		return CS_UNKNOWN;
	memcpy(name, s, n);
	name[n] = '\0';
	char *star = strchr(name, '*'); /* RFC 2231 language suffix */
	if (star)
		*star = '\0';
	if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0 || strcasecmp(name, "us-ascii") == 0)
		return CS_UTF8;
	if (strcasecmp(name, "iso-8859-1") == 0 || strcasecmp(name, "latin1") == 0)
		return CS_LATIN1;
	return CS_UNKNOWN;
}

/* Token chars of charset and encoding: no blank, no '?'. */
static size_t token(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

/* An encoded word at in[0..len): its length, decoded into o; 0 if it is
 * not one (o unchanged). */
static size_t encoded_word(const char *in, size_t len, struct out *o)
{
	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	size_t cs_len = token(in + 2, len - 2);
	size_t e = 2 + cs_len;
	if (cs_len == 0 || e + 2 >= len || in[e] != '?' || in[e + 2] != '?')
		return 0;
	char enc = in[e + 1];
	size_t t = e + 3, end = t;
	while (end + 1 < len && end - t < WORD_MAX_CHARS && !(in[end] == '?' && in[end + 1] == '=') && in[end] != ' ' &&
	       in[end] != '\t')
		end++;
	if (end + 1 >= len || in[end] != '?' || in[end + 1] != '=')
		return 0;
	enum charset cs = charset_of(in + 2, cs_len);
	struct out tmp = *o;
	bool ok = cs != CS_UNKNOWN && ((enc == 'Q' || enc == 'q') ? decode_q(in + t, end - t, cs, &tmp) :
				       (enc == 'B' || enc == 'b') ? decode_b(in + t, end - t, cs, &tmp) :
								    false);
	if (!ok)
		return 0;
	*o = tmp;
	return end + 2;
}

size_t rfc2047_decode(const char *in, size_t len, char *out, size_t cap)
{
	struct out o = { out, 0, cap };
	size_t i = 0, pending_blank = 0; /* blanks written since an encoded word */
	bool after_word = false;
	if (cap == 0)
		return 0;
	while (i < len) {
		size_t before = o.len;
		size_t w = encoded_word(in + i, len - i, &o);
		if (w > 0) {
			if (after_word && pending_blank > 0) { /* drop blanks between two words */
				memmove(out + before - pending_blank, out + before, o.len - before);
				o.len -= pending_blank;
			}
			i += w;
			after_word = true;
			pending_blank = 0;
			continue;
		}
		bool blank = in[i] == ' ' || in[i] == '\t';
		put(&o, (uint8_t)in[i++]);
		if (!blank) {
			after_word = false;
			pending_blank = 0;
		} else if (after_word) {
			pending_blank += o.len - before;
		}
	}
	out[o.len] = '\0';
	return o.len;
}
