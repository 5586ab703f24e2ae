/*
 * tests/fuzz/fuzz_proxy_proto.c - libFuzzer harness: the PROXY protocol
 * parser, whole and cut.
 *
 * Owns: feeding one stream to proxy_proto_parse() whole, cut at one
 * fuzz-chosen offset, cut into random small pieces, and (when short) byte by
 * byte; every run must end the same way (status, bytes consumed, result).
 * Each piece lives in an allocation of its exact size, so ASan sees any
 * over-read.
 *
 * Input layout: bytes 0-1 (big endian) pick the cut offset (modulo the rest
 * length + 1) and seed the piece sizes; the rest is the stream.
 *
 * Also asserted, on every call: consumed <= len; MORE consumes everything;
 * ERROR consumes nothing; a spent state returns ERROR.  On DONE: the
 * header's length is right for its version (v1: 15..107 bytes ending in its
 * only LF, after a CR; v2: 16 + the length field), the result agrees with
 * the bytes (a v1 line re-printed from the result, or re-parsed with glibc's
 * inet_pton, is the line; v2 addresses and ports are the address block's),
 * unused fields are zero, and the log text fits its documented bound.
 *
 * Workload: inputs of a few hundred bytes; byte by byte up to 4 KB.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BYTEWISE_MAX 4096u

struct outcome {
	enum proxy_proto_status status;
	size_t consumed; /* over all calls */
	struct proxy_proto_result r; /* DONE only */
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_proxy_proto: %s\n", what);
		abort();
	}
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* One call, on a copy of exactly n bytes. */
static enum proxy_proto_status feed(struct proxy_proto_state *st, const uint8_t *src, size_t n, size_t *used,
				    struct proxy_proto_result *r)
{
	uint8_t *buf = malloc(n ? n : 1);
	check(buf != NULL, "malloc");
	if (n > 0)
		memcpy(buf, src, n);
	*used = (size_t)-1;
	enum proxy_proto_status s = proxy_proto_parse(st, n ? buf : NULL, n, used, r);
	free(buf);
	check(*used <= n, "consumed more than the input");
	check(s != PROXY_PROTO_MORE || *used == n, "MORE without consuming everything");
	check(s != PROXY_PROTO_ERROR || *used == 0, "ERROR consumed bytes");
	check(s == PROXY_PROTO_DONE || s == PROXY_PROTO_MORE || s == PROXY_PROTO_ERROR, "unknown status");
	return s;
}

/* Feed in[0..len) cut at cuts[0..ncuts), stopping at DONE or ERROR. */
static void run(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, struct outcome *o)
{
	struct proxy_proto_state *st = calloc(1, sizeof(*st));
	check(st != NULL, "calloc");
	memset(o, 0, sizeof(*o));
	o->status = PROXY_PROTO_MORE;
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts && o->status == PROXY_PROTO_MORE; i++) {
		size_t at = i < ncuts ? cuts[i] : len, used;
		o->status = feed(st, in + prev, at - prev, &used, &o->r);
		o->consumed += used;
		prev = at;
	}
	if (o->status == PROXY_PROTO_MORE) {
		check(o->consumed == len, "MORE at the end without having consumed everything");
	} else {
		struct proxy_proto_result ignored;
		size_t used;
		check(feed(st, in, len, &used, &ignored) == PROXY_PROTO_ERROR, "a spent state did not return ERROR");
	}
	free(st);
}

static bool same_result(const struct proxy_proto_result *a, const struct proxy_proto_result *b)
{
	return a->version == b->version && a->local == b->local && a->family == b->family &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       memcmp(a->src_addr, b->src_addr, sizeof(a->src_addr)) == 0 &&
	       memcmp(a->dst_addr, b->dst_addr, sizeof(a->dst_addr)) == 0 &&
	       memcmp(a->src_path, b->src_path, sizeof(a->src_path)) == 0 &&
	       memcmp(a->dst_path, b->dst_path, sizeof(a->dst_path)) == 0;
}

static void compare(const struct outcome *a, const struct outcome *b, const char *what)
{
	bool ok = a->status == b->status && (a->status == PROXY_PROTO_ERROR || a->consumed == b->consumed) &&
		  (a->status != PROXY_PROTO_DONE || same_result(&a->r, &b->r));
	check(ok, what);
}

/* A v1 TCP line: re-print it from the result (IPv4 text is canonical) or,
 * for IPv6 whose text is not, compare each token's inet_pton. */
static void check_v1_tcp(const uint8_t *line, size_t n, const struct proxy_proto_result *r)
{
	char text[PROXY_PROTO_V1_MAX_BYTES + 1], src[64], dst[64];
	unsigned sp, dp;
	uint8_t a[16], b[16];
	memcpy(text, line, n);
	text[n] = '\0';
	if (r->family == AF_INET) {
		char want[PROXY_PROTO_V1_MAX_BYTES + 1];
		const uint8_t *s = r->src_addr, *d = r->dst_addr;
		snprintf(want, sizeof(want), "PROXY TCP4 %u.%u.%u.%u %u.%u.%u.%u %u %u\r\n", s[0], s[1], s[2], s[3],
			 d[0], d[1], d[2], d[3], r->src_port, r->dst_port);
		check(strcmp(text, want) == 0, "a TCP4 line differs from its result re-printed");
		return;
	}
	check(r->family == AF_INET6, "a TCP line with a family other than AF_INET/AF_INET6");
	check(sscanf(text, "PROXY TCP6 %63s %63s %u %u", src, dst, &sp, &dp) == 4, "a TCP6 line does not scan");
	check(inet_pton(AF_INET6, src, a) == 1 && inet_pton(AF_INET6, dst, b) == 1,
	      "inet_pton rejects an accepted TCP6 address");
	check(memcmp(a, r->src_addr, 16) == 0 && memcmp(b, r->dst_addr, 16) == 0, "TCP6 addresses differ");
	check(sp == r->src_port && dp == r->dst_port, "TCP6 ports differ");
}

static void check_v2(const uint8_t *h, size_t n, const struct proxy_proto_result *r)
{
	const uint8_t *a = h + PROXY_PROTO_V2_FIXED_BYTES;
	check(n >= PROXY_PROTO_V2_FIXED_BYTES && n == PROXY_PROTO_V2_FIXED_BYTES + (size_t)(h[14] << 8 | h[15]),
	      "a v2 header's length is not 16 + its length field");
	check(r->local == ((h[12] & 0x0F) == 0 || h[13] == 0x00), "v2 local is not LOCAL or AF_UNSPEC");
	if (r->local)
		return;
	size_t alen = r->family == AF_INET ? 4 : 16;
	if (r->family == AF_UNIX) {
		check(h[13] == 0x31 && memcmp(r->src_path, a, PROXY_PROTO_UNIX_PATH_BYTES) == 0 &&
			      memcmp(r->dst_path, a + PROXY_PROTO_UNIX_PATH_BYTES, PROXY_PROTO_UNIX_PATH_BYTES) == 0,
		      "v2 AF_UNIX paths differ from the block");
		return;
	}
	check((r->family == AF_INET && h[13] == 0x11) || (r->family == AF_INET6 && h[13] == 0x21),
	      "v2 family differs from the header");
	check(memcmp(r->src_addr, a, alen) == 0 && memcmp(r->dst_addr, a + alen, alen) == 0,
	      "v2 addresses differ from the block");
	check(r->src_port == (a[2 * alen] << 8 | a[2 * alen + 1]) &&
		      r->dst_port == (a[2 * alen + 2] << 8 | a[2 * alen + 3]),
	      "v2 ports differ from the block");
}

/* Facts of a DONE outcome that follow from the bytes it consumed. */
static void check_done(const uint8_t *in, const struct outcome *o)
{
	const struct proxy_proto_result *r = &o->r;
	size_t n = o->consumed;
	size_t alen = r->family == AF_INET ? 4 : r->family == AF_INET6 ? 16 : 0;
	check(r->local == (r->family == 0), "local and family 0 disagree");
	check(r->family == 0 || r->family == AF_INET || r->family == AF_INET6 || r->family == AF_UNIX, "bad family");
	check(zeros(r->src_addr + alen, 16 - alen) && zeros(r->dst_addr + alen, 16 - alen), "unused address bytes");
	check(r->family == AF_UNIX ||
		      (zeros(r->src_path, sizeof(r->src_path)) && zeros(r->dst_path, sizeof(r->dst_path))),
	      "paths set for a non-AF_UNIX result");
	check(alen != 0 || (r->src_port == 0 && r->dst_port == 0), "ports set without an IP family");
	char text[PROXY_PROTO_ADDR_TEXT_BYTES];
	size_t tl = proxy_proto_format_addr(r, text, sizeof(text));
	check(tl > 0 && tl == strlen(text), "the log text does not fit its bound");
	if (r->version == 2) {
		check(in[0] == 0x0D, "v2 result from a v1 start");
		check_v2(in, n, r);
		return;
	}
	check(r->version == 1 && in[0] == 'P', "bad version");
	check(n >= 15 && n <= PROXY_PROTO_V1_MAX_BYTES, "v1 line length out of bounds");
	check(in[n - 2] == '\r' && in[n - 1] == '\n' && memchr(in, '\n', n - 1) == NULL,
	      "v1 line not ended by its CRLF");
	if (r->local)
		check(memcmp(in, "PROXY UNKNOWN", 13) == 0, "v1 local without UNKNOWN");
	else
		check_v1_tcp(in, n, r);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t len = size - 2;
	const uint8_t *in = data + 2;
	uint16_t pick = (uint16_t)(data[0] << 8 | data[1]);
	struct outcome whole, other;

	run(in, len, NULL, 0, &whole);
	if (whole.status == PROXY_PROTO_DONE)
		check_done(in, &whole);
	size_t one = pick % (len + 1);
	run(in, len, &one, 1, &other);
	compare(&whole, &other, "one cut differs from whole");

	size_t *cuts = calloc(len + 1, sizeof(*cuts));
	check(cuts != NULL, "calloc");
	uint64_t seed = (uint64_t)pick * 0x9e3779b97f4a7c15ull + len + 1;
	size_t n = 0;
	for (size_t at = 0; at < len; n++) {
		at += 1 + (size_t)(xorshift(&seed) % 32);
		cuts[n] = at < len ? at : len;
	}
	run(in, len, cuts, n, &other);
	compare(&whole, &other, "random pieces differ from whole");
	if (len <= FUZZ_BYTEWISE_MAX) {
		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		run(in, len, cuts, len, &other);
		compare(&whole, &other, "byte by byte differs from whole");
	}
	free(cuts);
	return 0;
}
