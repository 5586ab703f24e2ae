/*
 * tests/http/test_http_ws_frame.c - websocket framing (http/ws_frame.c).
 *
 * Owns: the handshake value (RFC 6455 1.3's own example), server frame
 * headers at every length-encoding edge (125/126, 65535/65536), client
 * frames decoded identically at every split point of a stream of several
 * frames (and byte by byte), the payload limit at max-1, max and max+1,
 * and the refusals: unmasked, reserved bits, unknown opcode, fragmented or
 * oversized control frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"
#include "ws_frame.h"

static void test_accept(void)
{
	char out[WS_ACCEPT_BYTES + 1];
	ws_frame_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
	CHECK_STR(out, strlen(out), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_header(void)
{
	static const struct {
		uint64_t len;
		size_t n;
		uint8_t b1;
	} rows[] = { { 0, 2, 0 }, { 125, 2, 125 }, { 126, 4, 126 }, { 65535, 4, 126 }, { 65536, 10, 127 } };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		uint8_t h[WS_HEADER_MAX];
		size_t n = ws_frame_header(h, WS_TEXT, rows[i].len);
		CHECK_U64(n, rows[i].n);
		CHECK_U64(h[0], 0x81);
		CHECK_U64(h[1], rows[i].b1);
		uint64_t len = rows[i].b1;
		if (n > 2) {
			len = 0;
			for (size_t k = 2; k < n; k++)
				len = len << 8 | h[k];
		}
		CHECK_U64(len, rows[i].len);
	}
}

/* A masked client frame of op with payload p[0, n) appended to out. */
static size_t client_frame(uint8_t *out, uint8_t first, const uint8_t *p, size_t n)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t at = 0;
	out[at++] = first;
	if (n < 126) {
		out[at++] = (uint8_t)(0x80 | n);
	} else {
		out[at++] = 0x80 | 126;
		out[at++] = (uint8_t)(n >> 8);
		out[at++] = (uint8_t)n;
	}
	memcpy(out + at, mask, 4);
	at += 4;
	for (size_t i = 0; i < n; i++)
		out[at + i] = p[i] ^ mask[i & 3];
	return at + n;
}

/* Decode stream[0, len) fed in two pieces cut at `cut`, the way the
 * events thread does (append, decode what is whole, keep the rest);
 * the frames as "op:len:payload;" text. */
static void decode_split(const uint8_t *stream, size_t len, size_t cut, char *out, size_t out_size)
{
	uint8_t *buf = malloc(len + 1);
	size_t have = 0, fed = 0, o = 0;
	out[0] = '\0';
	while (fed < len) {
		size_t piece = fed < cut ? cut - fed : len - fed;
		memcpy(buf + have, stream + fed, piece);
		have += piece;
		fed += piece;
		size_t at = 0;
		for (;;) {
			struct ws_frame f;
			size_t used;
			enum ws_status st = ws_frame_decode(buf + at, have - at, &f, &used);
			if (st != WS_OK)
				break;
			o += (size_t)snprintf(out + o, out_size - o, "%u:%zu:%.*s;", f.opcode, f.len, (int)f.len,
					      (const char *)f.payload);
			at += used;
		}
		memmove(buf, buf + at, have - at);
		have -= at;
	}
	free(buf);
}

static void test_all_splits(void)
{
	uint8_t stream[1024];
	uint8_t big[300];
	memset(big, 'x', sizeof big);
	size_t len = client_frame(stream, 0x89, (const uint8_t *)"ping", 4);
	len += client_frame(stream + len, 0x81, (const uint8_t *)"hello", 5);
	len += client_frame(stream + len, 0x81, big, sizeof big);
	len += client_frame(stream + len, 0x8a, (const uint8_t *)"", 0);
	len += client_frame(stream + len, 0x88, (const uint8_t *)"\x03\xe8", 2);
	char want[2048], got[2048];
	snprintf(want, sizeof want, "9:4:ping;1:5:hello;1:300:%.*s;10:0:;8:2:\x03\xe8;", 300, (const char *)big);
	for (size_t cut = 0; cut <= len; cut++) {
		decode_split(stream, len, cut, got, sizeof got);
		if (!CHECK_STR(got, strlen(got), want))
			fprintf(stderr, "  cut %zu\n", cut);
	}
}

/* Fed one byte at a time: NEED_MORE until the last byte, then the frame. */
static void test_byte_by_byte(void)
{
	uint8_t f[64];
	size_t len = client_frame(f, 0x81, (const uint8_t *)"abc", 3);
	for (size_t n = 0; n < len; n++) {
		struct ws_frame fr;
		size_t used;
		CHECK_U64(ws_frame_decode(f, n, &fr, &used), WS_NEED_MORE);
	}
}

static enum ws_status decode_one(uint8_t first, size_t n)
{
	uint8_t *p = calloc(1, n + 1), *buf = malloc(n + 16);
	size_t len = client_frame(buf, first, p, n), used;
	struct ws_frame f;
	enum ws_status st = ws_frame_decode(buf, len, &f, &used);
	free(p);
	free(buf);
	return st;
}

static void test_limits_and_refusals(void)
{
	CHECK_U64(decode_one(0x81, WS_FRAME_MAX_PAYLOAD - 1), WS_OK);
	CHECK_U64(decode_one(0x81, WS_FRAME_MAX_PAYLOAD), WS_OK);
	CHECK_U64(decode_one(0x81, WS_FRAME_MAX_PAYLOAD + 1), WS_ERR_TOO_BIG);
	CHECK_U64(decode_one(0x89, WS_CONTROL_MAX_PAYLOAD), WS_OK);
	CHECK_U64(decode_one(0x89, WS_CONTROL_MAX_PAYLOAD + 1), WS_ERR_TOO_BIG);
	CHECK_U64(decode_one(0x09, 1), WS_ERR_PROTOCOL); /* a fragmented ping */
	CHECK_U64(decode_one(0xc1, 1), WS_ERR_PROTOCOL); /* RSV1 */
	CHECK_U64(decode_one(0x83, 1), WS_ERR_PROTOCOL); /* opcode 3 */
	uint8_t unmasked[] = { 0x81, 0x01, 'a' };
	struct ws_frame f;
	size_t used;
	CHECK_U64(ws_frame_decode(unmasked, sizeof unmasked, &f, &used), WS_ERR_UNMASKED);
	uint8_t len64[14] = { 0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x10, 0x01 }; /* 4097 */
	CHECK_U64(ws_frame_decode(len64, sizeof len64, &f, &used), WS_ERR_TOO_BIG);
}

int main(void)
{
	test_accept();
	test_header();
	test_all_splits();
	test_byte_by_byte();
	test_limits_and_refusals();
	return harness_finish("http_ws_frame");
}
