/*
 * core/proxy_proto.h - HAProxy PROXY protocol header parser (v1 text, v2
 * binary), for listeners configured with --proxy-protocol.
 *
 * Owns: recognising and validating the one header a trusted proxy sends
 * before any SMTP byte, and reporting the real client and server addresses
 * as plain data.  It does not own deciding whether a header is expected (the
 * spec forbids guessing: the listener's configuration says so, and then
 * every connection must start with one), which peers may send it, the
 * timeout for it, or closing the connection on ERROR: that is the engine's.
 *
 * Contract, as in picohttpparser: the caller owns the input and a zeroed
 * struct proxy_proto_state per connection.  proxy_proto_parse() may be fed
 * the header in pieces of any size (even empty) and consumes exactly the
 * header, never a byte after it: SMTP bytes pipelined behind the header in
 * the same receive buffer stay the caller's, starting at in + *consumed.
 *
 * Bound: the state holds at most PROXY_PROTO_HOLD_BYTES of header (a v1
 * line, or the v2 fixed part and address block).  v2 TLVs (up to 64 KiB) are
 * checked for framing as they stream past and never buffered.
 *
 * Validation (proxy-protocol.txt, section 2): anything that is not exactly a
 * header is ERROR, reported as soon as the bytes seen so far prove it (the
 * first byte of "EHLO", the 5th of a bad v2 signature), not after 107 bytes.
 * See proxy_proto.c for the rules chosen where the spec leaves a choice.
 *
 * Workload: once per connection, a header of 15 to a few hundred bytes,
 * normally in the first receive buffer.
 */
#ifndef SMTPSINK_PROXY_PROTO_H
#define SMTPSINK_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* AF_INET, AF_INET6, AF_UNIX as numbers only */

/* v1: the longest line a receiver must take, CRLF included (spec 2.1,
 * "PROXY UNKNOWN" with two full IPv6 addresses and ports). */
#define PROXY_PROTO_V1_MAX_BYTES 107u
/* v2: signature, version/command, family/transport, length (spec 2.2). */
#define PROXY_PROTO_V2_FIXED_BYTES 16u
/* v2: the largest address block, AF_UNIX (2 * 108, spec 2.2). */
#define PROXY_PROTO_V2_ADDR_MAX_BYTES 216u
#define PROXY_PROTO_UNIX_PATH_BYTES 108u
#define PROXY_PROTO_HOLD_BYTES (PROXY_PROTO_V2_FIXED_BYTES + PROXY_PROTO_V2_ADDR_MAX_BYTES)
/* proxy_proto_format_addr(): always enough ("unix:" + 108 bytes + NUL). */
#define PROXY_PROTO_ADDR_TEXT_BYTES 120u

enum proxy_proto_status {
	PROXY_PROTO_DONE, /* the whole header consumed; *out filled */
	PROXY_PROTO_MORE, /* all input consumed, header not complete yet */
	PROXY_PROTO_ERROR, /* not a valid header: close the connection */
};

/* Private to proxy_proto.c; what each phase has consumed is said there. */
enum proxy_proto_phase {
	PROXY_PROTO_PH_START = 0,
	PROXY_PROTO_PH_V1_LINE,
	PROXY_PROTO_PH_V2_FIXED,
	PROXY_PROTO_PH_V2_ADDR,
	PROXY_PROTO_PH_V2_TLV,
	PROXY_PROTO_PH_V2_SKIP,
	PROXY_PROTO_PH_DONE,
	PROXY_PROTO_PH_FAILED,
};

/* Zero it before the first byte of a connection; fields are private. */
struct proxy_proto_state {
	uint8_t phase; /* enum proxy_proto_phase */
	uint8_t tlv_head_have; /* v2: bytes of the current TLV's 3-byte head seen */
	uint8_t tlv_len_hi; /* v2: first length byte of the current TLV */
	uint16_t have; /* header bytes held in buf[] */
	uint16_t need; /* v2: fixed part + address block, to hold in buf[] */
	uint16_t tlv_left; /* v2: bytes after the address block still to come */
	uint16_t tlv_value_left; /* v2: value bytes of the current TLV to skip */
	uint8_t buf[PROXY_PROTO_HOLD_BYTES];
};

/* The header's facts.  Plain data: addresses in network byte order (as in
 * struct in_addr / in6_addr), ports in host byte order. */
struct proxy_proto_result {
	uint8_t version; /* 1 or 2 */
	bool local; /* use the socket's own addresses: v1 UNKNOWN, v2 LOCAL,
		     * v2 PROXY with AF_UNSPEC; family is then 0 */
	int family; /* AF_INET, AF_INET6, AF_UNIX, or 0 when local */
	uint16_t src_port, dst_port; /* 0 for AF_UNIX and local */
	uint8_t src_addr[16], dst_addr[16]; /* AF_INET uses the first 4 bytes */
	/* AF_UNIX only: sun_path bytes as sent; NUL-padded, not NUL-ended when
	 * all 108 are used; a leading NUL is a Linux abstract name. */
	uint8_t src_path[PROXY_PROTO_UNIX_PATH_BYTES], dst_path[PROXY_PROTO_UNIX_PATH_BYTES];
};

/* Parse in[0..len) as the next bytes of the header.  Sets *consumed: all of
 * len for MORE, exactly the header's remaining bytes for DONE, 0 for ERROR.
 * *out is written only on DONE (wholly: unused fields are zero).  After DONE
 * or ERROR the state is spent: further calls return ERROR, consuming
 * nothing.  in may be NULL when len is 0. */
enum proxy_proto_status proxy_proto_parse(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *consumed,
					  struct proxy_proto_result *out);

/* Write the source (client) address of *r for logs: "192.0.2.1:12345",
 * "[2001:db8::1]:443", "unix:/run/x.sock" (non-printable bytes as '?',
 * an abstract name as "unix:@name"), or "local".  NUL-terminated; returns
 * its length, or 0 (and an empty string if cap > 0) when cap is too small.
 * cap >= PROXY_PROTO_ADDR_TEXT_BYTES always suffices. */
size_t proxy_proto_format_addr(const struct proxy_proto_result *r, char *buf, size_t cap);

#endif
