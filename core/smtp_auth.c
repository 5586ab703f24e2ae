/*
 * core/smtp_auth.c - base64 and SASL PLAIN message parsing.
 *
 * Owns: the decoding table and the PLAIN layout.  Invariant: never writes
 * more than cap bytes, never reads past the input.
 */
#include "smtp_auth.h"

#include <string.h>

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long smtp_auth_b64_decode(struct smtp_view in, uint8_t *out, size_t cap)
{
	size_t n = 0;
	if (in.len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in.len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			uint8_t c = in.ptr[i + (size_t)k];
			bool last_quad = i + 4 == in.len;
			if (c == '=' && last_quad && k >= 2 && (k == 3 || in.ptr[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(c);
			if (v[k] < 0 || pad > 0)
				return -1;
		}
		uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
		size_t bytes = (size_t)(3 - pad);
		if (cap - n < bytes)
			return -1;
		out[n++] = (uint8_t)(w >> 16);
		if (bytes > 1)
			out[n++] = (uint8_t)(w >> 8);
		if (bytes > 2)
			out[n++] = (uint8_t)w;
	}
	return (long)n;
}

bool smtp_auth_plain_user(const uint8_t *msg, size_t len, struct smtp_view *user)
{
	const uint8_t *nul1 = memchr(msg, 0, len);
	if (nul1 == NULL)
		return false;
	const uint8_t *cid = nul1 + 1;
	size_t rest = len - (size_t)(cid - msg);
	const uint8_t *nul2 = memchr(cid, 0, rest);
	if (nul2 == NULL || nul2 == cid)
		return false;
	/* the password must not contain another NUL (RFC 4616 2) */
	size_t pass_len = rest - (size_t)(nul2 - cid) - 1;
	if (memchr(nul2 + 1, 0, pass_len) != NULL)
		return false;
	*user = smtp_view_make(cid, (size_t)(nul2 - cid));
	return true;
}
