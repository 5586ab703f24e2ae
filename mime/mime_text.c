/*
 * mime/mime_text.c - valid UTF-8 out of any bytes, and charset conversion
 * (mime_text.h).
 *
 * Owns: the U+FFFD replacement rule (one per byte that starts no
 * well-formed sequence, and per NUL) and the iconv loop.  Invariants:
 * output is always well-formed UTF-8 (core/utf8.c's RFC 3629 rules) with
 * no NUL inside; never reads past len.  Sizes: the sanitised copy is
 * counted before it is allocated, so it is at most 3 * len + 1 bytes.
 */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime_text.h"
#include "utf8.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
#define REPLACEMENT_BYTES 3u

/* Bytes of the sequence at p that is kept as is, or 0 if it is replaced. */
static size_t kept_len(const uint8_t *p, size_t len)
{
	return p[0] == 0 ? 0 : utf8_next(p, len);
}

char *mime_text_utf8(const uint8_t *p, size_t len, size_t *out_len)
{
	size_t need = 0;
	for (size_t i = 0; i < len;) {
		size_t k = kept_len(p + i, len - i);
		need += k ? k : REPLACEMENT_BYTES;
		i += k ? k : 1;
	}
	char *out = malloc(need + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = kept_len(p + i, len - i);
		if (k) {
			memcpy(out + o, p + i, k);
		} else {
			memcpy(out + o, replacement, REPLACEMENT_BYTES);
		}
		o += k ? k : REPLACEMENT_BYTES;
		i += k ? k : 1;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

char *mime_text_dup(const char *s)
{
	return s ? mime_text_utf8((const uint8_t *)s, strlen(s), NULL) : mime_text_utf8(NULL, 0, NULL);
}

/* True for the names that need no conversion. */
static bool is_utf8_name(const char *charset)
{
	static const char *const names[] = { "utf-8", "utf8", "us-ascii", "ascii" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (g_ascii_strcasecmp(charset, names[i]) == 0)
			return true;
	}
	return false;
}

/* Convert through cd into a GByteArray; a byte iconv refuses (EILSEQ) or
 * an incomplete sequence at the end (EINVAL) becomes U+FFFD. */
static GByteArray *convert_all(iconv_t cd, const uint8_t *p, size_t len)
{
	GByteArray *out = g_byte_array_sized_new((guint)(len + len / 2 + 16));
	char *in = (char *)p;
	size_t inleft = len;
	char chunk[4096];
	while (inleft > 0) {
		char *o = chunk;
		size_t oleft = sizeof chunk;
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		int err = errno;
		g_byte_array_append(out, (const guint8 *)chunk, (guint)(sizeof chunk - oleft));
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		g_byte_array_append(out, (const guint8 *)replacement, REPLACEMENT_BYTES);
		if (err != EILSEQ)
			break; /* EINVAL: the input ends inside a sequence */
		in++;
		inleft--;
	}
	char *o = chunk;
	size_t oleft = sizeof chunk;
	iconv(cd, NULL, NULL, &o, &oleft); /* the shift state's closing bytes */
	g_byte_array_append(out, (const guint8 *)chunk, (guint)(sizeof chunk - oleft));
	return out;
}

char *mime_text_convert(const uint8_t *p, size_t len, const char *charset, size_t *out_len)
{
	if (!charset || !charset[0] || is_utf8_name(charset) || len == 0)
		return mime_text_utf8(p, len, out_len);
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return mime_text_utf8(p, len, out_len);
	GByteArray *conv = convert_all(cd, p, len);
	g_mime_iconv_close(cd);
	char *s = mime_text_utf8(conv->data, conv->len, out_len);
	g_byte_array_free(conv, TRUE);
	return s;
}
