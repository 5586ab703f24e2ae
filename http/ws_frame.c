/*
 * http/ws_frame.c - websocket frames (ws_frame.h).
 */
#include "ws_frame.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 1.3 */
#define WS_LEN16 126u
#define WS_LEN64 127u

static bool opcode_known(uint8_t op)
{
	return op == WS_CONT || op == WS_TEXT || op == WS_BINARY || op == WS_CLOSE || op == WS_PING || op == WS_PONG;
}

/* The payload length and where the mask starts; false: need more. */
static bool read_length(const uint8_t *buf, size_t len, uint64_t *plen, size_t *at)
{
	uint8_t l7 = buf[1] & 0x7f;
	*at = 2;
	*plen = l7;
	size_t extra = l7 == WS_LEN16 ? 2 : l7 == WS_LEN64 ? 8 : 0;
	if (len < 2 + extra)
		return false;
	if (extra > 0) {
		*plen = 0;
		for (size_t i = 0; i < extra; i++)
			*plen = *plen << 8 | buf[2 + i];
	}
	*at += extra;
	return true;
}

enum ws_status ws_frame_decode(uint8_t *buf, size_t len, struct ws_frame *f, size_t *consumed)
{
	if (len < 2)
		return WS_NEED_MORE;
	uint8_t op = buf[0] & 0x0f;
	bool control = (op & 0x8) != 0;
	if ((buf[0] & 0x70) != 0 || !opcode_known(op) || (control && !(buf[0] & 0x80)))
		return WS_ERR_PROTOCOL;
	if (!(buf[1] & 0x80))
		return WS_ERR_UNMASKED;
	uint64_t plen;
	size_t at;
	if (!read_length(buf, len, &plen, &at))
		return WS_NEED_MORE;
	if (plen > WS_FRAME_MAX_PAYLOAD || (control && plen > WS_CONTROL_MAX_PAYLOAD))
		return WS_ERR_TOO_BIG;
	if (len < at + 4 + plen)
		return WS_NEED_MORE;
	const uint8_t *mask = buf + at;
	uint8_t *p = buf + at + 4;
	for (size_t i = 0; i < plen; i++)
		p[i] ^= mask[i & 3];
	f->fin = (buf[0] & 0x80) != 0;
	f->opcode = op;
	f->payload = p;
	f->len = (size_t)plen;
	*consumed = at + 4 + (size_t)plen;
	return WS_OK;
}

size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], enum ws_opcode op, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | op);
	if (len < WS_LEN16) {
		out[1] = (uint8_t)len;
		return 2;
	}
	size_t n = len <= 0xffff ? 2 : 8;
	out[1] = n == 2 ? WS_LEN16 : WS_LEN64;
	for (size_t i = 0; i < n; i++)
		out[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	return 2 + n;
}

void ws_frame_accept(const char *key, char out[WS_ACCEPT_BYTES + 1])
{
	struct sha1_ctx ctx;
	uint8_t d[SHA1_DIGEST_SIZE];
	sha1_init(&ctx);
	sha1_update(&ctx, strlen(key), (const uint8_t *)key);
	sha1_update(&ctx, sizeof WS_GUID - 1, (const uint8_t *)WS_GUID);
	sha1_digest(&ctx, sizeof d, d);
	base64_encode_raw((char *)out, sizeof d, d);
	out[WS_ACCEPT_BYTES] = '\0';
}
