/*
 * tests/fuzz/fuzz_ws_frame.c - libFuzzer harness: websocket client frames
 * (http/ws_frame.c) decoded whole and cut.
 *
 * Owns: feeding the input as a stream of client frames the way the events
 * thread does (append what arrived, decode every whole frame, keep the
 * rest), once whole and once cut at a fuzz-chosen offset; both runs must
 * give the same frames and the same final status.  Also asserted: a frame
 * consumes at most what was given, its payload lies inside the buffer, is
 * at most WS_FRAME_MAX_PAYLOAD (control frames: 125) and control frames
 * are final.  Buffers are exact-size allocations so ASan sees over-reads.
 *
 * Input layout: bytes 0-1 (big endian) pick the cut offset (modulo the
 * rest's length + 1); the rest is the stream.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOG_MAX (1u << 16)

struct run {
	uint8_t log[LOG_MAX]; /* opcode, fin, 2 length bytes, payload; per frame */
	size_t len;
	int final_status;
};

static void record(struct run *out, const struct ws_frame *f)
{
	if (out->len + 4 + f->len > LOG_MAX)
		return;
	out->log[out->len++] = f->opcode;
	out->log[out->len++] = f->fin;
	out->log[out->len++] = (uint8_t)(f->len >> 8);
	out->log[out->len++] = (uint8_t)f->len;
	memcpy(out->log + out->len, f->payload, f->len);
	out->len += f->len;
}

/* Decode buf[0, have): every whole frame; returns the bytes used. */
static size_t drain(uint8_t *buf, size_t have, struct run *out)
{
	size_t at = 0;
	for (;;) {
		struct ws_frame f;
		size_t used = 0;
		enum ws_status st = ws_frame_decode(buf + at, have - at, &f, &used);
		out->final_status = (int)st;
		if (st != WS_OK)
			return at;
		assert(used > 0 && used <= have - at);
		assert(f.payload >= buf + at && f.payload + f.len <= buf + at + used);
		assert(f.len <= WS_FRAME_MAX_PAYLOAD);
		assert(!(f.opcode & 0x8) || (f.fin && f.len <= WS_CONTROL_MAX_PAYLOAD));
		record(out, &f);
		at += used;
	}
}

static void feed(const uint8_t *s, size_t len, size_t cut, struct run *out)
{
	uint8_t *buf = NULL;
	size_t have = 0, fed = 0;
	memset(out, 0, sizeof *out);
	while (fed < len || (fed == 0 && len == 0)) {
		size_t piece = fed < cut ? cut - fed : len - fed;
		uint8_t *next = malloc(have + piece + 1); /* exact size (+1: never 0) */
		if (have > 0)
			memcpy(next, buf, have);
		memcpy(next + have, s + fed, piece);
		free(buf);
		buf = next;
		have += piece;
		fed += piece;
		size_t used = drain(buf, have, out);
		if (out->final_status != WS_OK && out->final_status != WS_NEED_MORE)
			break; /* the thread closes the connection here */
		memmove(buf, buf + used, have - used);
		have -= used;
		if (len == 0)
			break;
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, cut;
	if (size < 2)
		return 0;
	size_t len = size - 2, at = (((size_t)data[0] << 8) | data[1]) % (len + 1);
	feed(data + 2, len, len, &whole);
	feed(data + 2, len, at, &cut);
	assert(whole.final_status == cut.final_status);
	assert(whole.len == cut.len && memcmp(whole.log, cut.log, whole.len) == 0);
	return 0;
}
