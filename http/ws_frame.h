/*
 * http/ws_frame.h - RFC 6455 websocket framing, pure.
 *
 * Owns: decoding one client frame from the front of a buffer (client
 * frames must be masked, RFC 6455 5.1; the payload is unmasked in place),
 * encoding a server frame's header (never masked), and the handshake's
 * Sec-WebSocket-Accept value (SHA-1 + base64 of key + the RFC's GUID).
 * Does not read sockets or keep state across frames: the caller keeps
 * unconsumed bytes and calls again with more (every split point gives the
 * same frames).  Payloads are bounded by WS_FRAME_MAX_PAYLOAD: the events
 * stream needs nothing bigger from a client than pings and a close.
 */
#ifndef SMTPSINK_WS_FRAME_H
#define SMTPSINK_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_FRAME_MAX_PAYLOAD 4096u /* from a client */
#define WS_CONTROL_MAX_PAYLOAD 125u /* RFC 6455 5.5 */
#define WS_HEADER_MAX 10u /* a server frame's header: 2 + 8 length bytes */
#define WS_ACCEPT_BYTES 28u /* base64 of 20 bytes */

enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

enum ws_status {
	WS_OK, /* a frame: *consumed bytes used */
	WS_NEED_MORE, /* no whole frame yet */
	WS_ERR_UNMASKED, /* a client frame without a mask */
	WS_ERR_TOO_BIG, /* past WS_FRAME_MAX_PAYLOAD, or a control frame past 125 */
	WS_ERR_PROTOCOL, /* reserved bits, unknown opcode, fragmented control */
};

struct ws_frame {
	bool fin;
	uint8_t opcode;
	uint8_t *payload; /* inside the caller's buffer, unmasked */
	size_t len;
};

enum ws_status ws_frame_decode(uint8_t *buf, size_t len, struct ws_frame *f, size_t *consumed);
/* A server frame's header for a payload of len bytes: its size. */
size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], enum ws_opcode op, uint64_t len);
/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
void ws_frame_accept(const char *key, char out[WS_ACCEPT_BYTES + 1]);

#endif
