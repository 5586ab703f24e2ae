/*
 * tests/core/test_proxy_proto.c - the PROXY protocol parser, cut every way.
 *
 * Owns: table tests of proxy_proto_parse() for valid and invalid v1 lines
 * and v2 headers (built by v2_build()), each fed whole, cut at every offset
 * and byte by byte, every piece ending at a PROT_NONE page; the bounds (v1 at
 * 106/107/108 bytes, v2 address blocks at limit-1/limit/limit+1, a 64 KiB
 * TLV block); early rejection (the shortest prefix that proves an input
 * wrong is already ERROR); the spent state; the v1 address and port decoders
 * against glibc's inet_pton and a naive port reference on random tokens;
 * random mutations of valid headers (all cuts must agree); and
 * proxy_proto_format_addr().
 *
 * A run is summarised as one line of text ("DONE 28 v2 inet 192.0.2.1:12345
 * -> 198.51.100.1:25", "MORE", "ERROR"), built here independently of the
 * parser's own formatter, so rows read like golden transcripts.  Every DONE
 * row is also run with SMTP bytes after the header, which must stay
 * unconsumed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proxy_proto.h"
#include "session_harness.h"

#define TRAILER "EHLO client.example\r\n"
#define INPUT_MAX_BYTES (70u * 1024u)
#define DESC_BYTES 512u

/* ---- feeding, against a guard page -------------------------------------- */

/* One mapping whose last usable byte is followed by a PROT_NONE page; each
 * piece is copied to end exactly there (the parser keeps no pointer into
 * its input, so reusing the space between calls is within its contract). */
static uint8_t *guard_end;

static void guard_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (INPUT_MAX_BYTES + page - 1) / page * page;
	uint8_t *m = mmap(NULL, n + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + n, page, PROT_NONE) != 0) {
		perror("test_proxy_proto: mmap");
		exit(1);
	}
	guard_end = m + n;
}

static const uint8_t *guarded(const uint8_t *p, size_t n)
{
	if (n > 0)
		memcpy(guard_end - n, p, n);
	return guard_end - n;
}

/* Describe a result independently of proxy_proto_format_addr(). */
static void describe_ip(int family, const uint8_t *a, uint16_t port, char *out, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	inet_ntop(family, a, t, sizeof(t));
	snprintf(out, cap, family == AF_INET6 ? "[%s]:%u" : "%s:%u", t, port);
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void describe(enum proxy_proto_status s, size_t total, const struct proxy_proto_result *r, char *out)
{
	char a[PROXY_PROTO_ADDR_TEXT_BYTES], b[PROXY_PROTO_ADDR_TEXT_BYTES];
	if (s != PROXY_PROTO_DONE) {
		snprintf(out, DESC_BYTES, "%s", s == PROXY_PROTO_MORE ? "MORE" : "ERROR");
		return;
	}
	const char *fam = r->local		? "local" :
			  r->family == AF_INET	? "inet" :
			  r->family == AF_INET6 ? "inet6" :
			  r->family == AF_UNIX	? "unix" :
						  "BAD-FAMILY";
	size_t alen = r->family == AF_INET ? 4 : r->family == AF_INET6 ? 16 : 0;
	a[0] = b[0] = '\0';
	if (r->family == AF_INET || r->family == AF_INET6) {
		describe_ip(r->family, r->src_addr, r->src_port, a, sizeof(a));
		describe_ip(r->family, r->dst_addr, r->dst_port, b, sizeof(b));
	} else if (r->family == AF_UNIX) {
		snprintf(a, sizeof(a), "%.108s", (const char *)r->src_path);
		snprintf(b, sizeof(b), "%.108s", (const char *)r->dst_path);
	}
	/* Fields a result of this kind must leave zero. */
	bool junk = (r->local && (r->family != 0 || r->src_port || r->dst_port)) ||
		    (r->family != AF_UNIX &&
		     (!zeros(r->src_path, sizeof(r->src_path)) || !zeros(r->dst_path, sizeof(r->dst_path)))) ||
		    (r->family == AF_UNIX && (r->src_port || r->dst_port)) || !zeros(r->src_addr + alen, 16 - alen) ||
		    !zeros(r->dst_addr + alen, 16 - alen);
	snprintf(out, DESC_BYTES, "DONE %zu v%u %s%s%s%s%s%s", total, r->version, fam, a[0] ? " " : "", a,
		 b[0] ? " -> " : "", b, junk ? " JUNK" : "");
}

/* Feed in[0..len) cut at cuts[0..ncuts) (ascending), stopping at DONE or
 * ERROR; describe the outcome into out.  Contract breaches are checks. */
static void run_cuts(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, char *out)
{
	struct proxy_proto_state st;
	struct proxy_proto_result r;
	memset(&st, 0, sizeof(st));
	memset(&r, 0xA5, sizeof(r));
	enum proxy_proto_status s = PROXY_PROTO_MORE;
	size_t prev = 0, total = 0;
	for (size_t i = 0; i <= ncuts && s == PROXY_PROTO_MORE; i++) {
		size_t at = i < ncuts ? cuts[i] : len, n = at - prev, used = 12345;
		s = proxy_proto_parse(&st, guarded(in + prev, n), n, &used, &r);
		if ((s == PROXY_PROTO_MORE && used != n) || (s == PROXY_PROTO_DONE && used > n) ||
		    (s == PROXY_PROTO_ERROR && used != 0))
			CHECK(!"consumed breaks the contract");
		total += used;
		prev = at;
	}
	describe(s, total, &r, out);
	if (s != PROXY_PROTO_MORE) {
		size_t used = 1;
		s = proxy_proto_parse(&st, guarded(in, len), len, &used, &r);
		if (s != PROXY_PROTO_ERROR || used != 0)
			CHECK(!"a spent state must return ERROR, consuming nothing");
	}
}

/* Whole, every single cut, byte by byte: all must describe as want. */
static void expect_all_cuts(const uint8_t *in, size_t len, const char *want, int line)
{
	static size_t cuts[INPUT_MAX_BYTES];
	char got[DESC_BYTES];
	run_cuts(in, len, NULL, 0, got);
	bool ok = harness_check_mem(got, strlen(got), want, strlen(want), __FILE__, line, "whole");
	for (size_t c = 0; c <= len && ok; c++) {
		run_cuts(in, len, &c, 1, got);
		ok = harness_check_mem(got, strlen(got), want, strlen(want), __FILE__, line, "one cut");
	}
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	run_cuts(in, len, cuts, len, got);
	ok = harness_check_mem(got, strlen(got), want, strlen(want), __FILE__, line, "byte by byte") && ok;
	if (!ok) {
		char *e = harness_escape(in, len);
		fprintf(stderr, "  input: \"%s\"\n", e);
		free(e);
	}
}

/* The same, and for DONE once more with SMTP bytes behind the header. */
static void expect(const uint8_t *in, size_t len, const char *want, int line)
{
	static uint8_t buf[INPUT_MAX_BYTES];
	expect_all_cuts(in, len, want, line);
	if (strncmp(want, "DONE", 4) != 0 || len + strlen(TRAILER) > sizeof(buf))
		return;
	memcpy(buf, in, len);
	memcpy(buf + len, TRAILER, strlen(TRAILER));
	expect_all_cuts(buf, len + strlen(TRAILER), want, line);
}

/* ---- v1 rows ------------------------------------------------------------- */

#define ROW(s) (const uint8_t *)(s), sizeof(s) - 1

static const struct {
	const uint8_t *in;
	size_t len;
	const char *want;
} v1_rows[] = {
	/* valid */
	{ ROW("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
	  "DONE 47 v1 inet 192.168.0.1:56324 -> 192.168.0.11:443" },
	{ ROW("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"), "DONE 44 v1 inet 0.0.0.0:0 -> 255.255.255.255:65535" },
	{ ROW("PROXY TCP4 10.200.30.4 1.2.3.4 9 10\r\n"), "DONE 37 v1 inet 10.200.30.4:9 -> 1.2.3.4:10" },
	{ ROW("PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n"), "DONE 41 v1 inet6 [2001:db8::1]:1 -> [2001:db8::2]:25" },
	{ ROW("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
	      "65535\r\n"),
	  "DONE 104 v1 inet6 [ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535 -> "
	  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" },
	{ ROW("PROXY TCP6 ::ffff:192.0.2.1 ::1 5 6\r\n"), "DONE 37 v1 inet6 [::ffff:192.0.2.1]:5 -> [::1]:6" },
	{ ROW("PROXY TCP6 :: :: 0 0\r\n"), "DONE 22 v1 inet6 [::]:0 -> [::]:0" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:7:: ::8 1 2\r\n"), "DONE 36 v1 inet6 [1:2:3:4:5:6:7:0]:1 -> [::8]:2" },
	{ ROW("PROXY TCP6 ABCD:EF01:0:0:0:0:0:0009 1::2:3 1 2\r\n"),
	  "DONE 48 v1 inet6 [abcd:ef01::9]:1 -> [1::2:3]:2" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:1.2.3.4 ::1.2.3.4 1 2\r\n"),
	  "DONE 46 v1 inet6 [1:2:3:4:5:6:102:304]:1 -> [::1.2.3.4]:2" },
	{ ROW("PROXY UNKNOWN\r\n"), "DONE 15 v1 local" },
	{ ROW("PROXY UNKNOWN \r\n"), "DONE 16 v1 local" },
	{ ROW("PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n"), "DONE 41 v1 local" },
	{ ROW("PROXY UNKNOWN whatever \x01\xff\x7f 99999\r\n"), "DONE 34 v1 local" },
	/* complete but wrong */
	{ ROW("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 080 25\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n"), "ERROR" },
	{ ROW("PROXY TCP4 ::1 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 ::: ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1::2::3 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:7:8::  ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 ::1:2:3:4:5:6:7:8 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 12345:: ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 :1:: ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1: ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 ::1.2.3 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 ::1.2.3.04 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6 ::1.2.3.4:1 ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP6  ::1 1 2\r\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), "ERROR" },
	{ ROW("PROXY UNKNOWN\n"), "ERROR" },
	{ ROW("PROXY UNKNOWN x\ny\r\n"), "ERROR" },
	{ ROW("PROXY UNKNOWN x\rx\r\n"), "ERROR" },
	{ ROW("PROXY UNKNOWNX\r\n"), "ERROR" },
	{ ROW("PROXY\r\n"), "ERROR" },
	{ ROW("PROXY \r\n"), "ERROR" },
	{ ROW("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "ERROR" },
	{ ROW("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), "ERROR" },
	/* prefixes: already wrong, or not yet complete */
	{ ROW("E"), "ERROR" },
	{ ROW("EHLO client.example\r\n"), "ERROR" },
	{ ROW("\x16\x03\x01"), "ERROR" },
	{ ROW("PROXX"), "ERROR" },
	{ ROW("PROXY  "), "ERROR" },
	{ ROW("PROXY TCP5"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4x"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4\r"), "ERROR" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 123456"), "ERROR" },
	{ ROW("PROXY TCP6 0000:0000:0000:0000:0000:0000:255.255.255.2555"), "ERROR" },
	{ ROW("PROXY UNKNOWN:"), "ERROR" },
	{ ROW(""), "MORE" },
	{ ROW("P"), "MORE" },
	{ ROW("PROXY "), "MORE" },
	{ ROW("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), "MORE" },
	/* a partial field is judged by its characters and length only */
	{ ROW("PROXY TCP4 1234"), "MORE" },
	{ ROW("PROXY TCP4 1234 "), "ERROR" },
	{ ROW("PROXY TCP6 0000:0000:0000:0000:0000:0000:255.255.255.255"), "MORE" },
	{ ROW("PROXY UNKNOWN"), "MORE" },
	{ ROW("PROXY UNKNOWN x\r"), "MORE" },
};

static void test_v1_rows(void)
{
	for (size_t i = 0; i < sizeof(v1_rows) / sizeof(v1_rows[0]); i++)
		expect(v1_rows[i].in, v1_rows[i].len, v1_rows[i].want, __LINE__);
}

/* "PROXY UNKNOWN " padded with 'x' to total bytes, with or without CRLF. */
static void v1_limit_case(size_t total, bool crlf, const char *want)
{
	uint8_t line[200];
	size_t n = total - (crlf ? 2 : 0);
	memset(line, 'x', n);
	memcpy(line, "PROXY UNKNOWN ", 14);
	if (crlf)
		memcpy(line + n, "\r\n", 2);
	expect(line, total, want, __LINE__);
}

static void test_v1_limits(void)
{
	v1_limit_case(PROXY_PROTO_V1_MAX_BYTES - 1, true, "DONE 106 v1 local");
	v1_limit_case(PROXY_PROTO_V1_MAX_BYTES, true, "DONE 107 v1 local");
	v1_limit_case(PROXY_PROTO_V1_MAX_BYTES + 1, true, "ERROR");
	v1_limit_case(PROXY_PROTO_V1_MAX_BYTES - 1, false, "MORE");
	v1_limit_case(PROXY_PROTO_V1_MAX_BYTES, false, "ERROR"); /* 107 bytes and no CRLF */
	/* The CR as the 107th byte: the line cannot end in time. */
	uint8_t line[PROXY_PROTO_V1_MAX_BYTES];
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	line[sizeof(line) - 1] = '\r';
	expect(line, sizeof(line), "ERROR", __LINE__);
}

/* ---- v2 ------------------------------------------------------------------ */

/* Signature, ver_cmd, fam, big-endian len, then body; returns the length. */
static size_t v2_build(uint8_t *out, uint8_t ver_cmd, uint8_t fam, uint16_t len_field, const void *body, size_t n)
{
	static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len_field >> 8);
	out[15] = (uint8_t)len_field;
	if (n > 0)
		memcpy(out + 16, body, n);
	return 16 + n;
}

#define A4 "\xc0\x00\x02\x01\xc6\x33\x64\x01\x30\x39\x00\x19" /* 192.0.2.1:12345 -> 198.51.100.1:25 */
#define A6 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02\x01\xbb\x00\x19"
#define V4_DONE "v2 inet 192.0.2.1:12345 -> 198.51.100.1:25"
#define SAME (-1)

static const struct {
	uint8_t ver_cmd, fam;
	int len_field; /* SAME: the body's length */
	const uint8_t *body;
	size_t body_len;
	const char *want;
} v2_rows[] = {
	{ 0x21, 0x11, SAME, ROW(A4), "DONE 28 " V4_DONE },
	{ 0x21, 0x21, SAME, ROW(A6), "DONE 52 v2 inet6 [2001:db8::1]:443 -> [2001:db8::2]:25" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04\x00\x00"), "DONE 31 " V4_DONE },
	{ 0x21, 0x11, SAME, ROW(A4 "\x01\x00\x02h2\x03\x00\x04wxyz\xe0\x00\x01x"), "DONE 44 " V4_DONE },
	{ 0x20, 0x00, SAME, ROW(""), "DONE 16 v2 local" },
	{ 0x20, 0x11, SAME, ROW(A4), "DONE 28 v2 local" },
	{ 0x20, 0x12, SAME, ROW(A4), "DONE 28 v2 local" },
	{ 0x20, 0x32, SAME, ROW("\x01\x02"), "DONE 18 v2 local" },
	{ 0x20, 0x00, SAME, ROW("not TLVs at all"), "DONE 31 v2 local" },
	{ 0x21, 0x00, SAME, ROW(""), "DONE 16 v2 local" },
	{ 0x21, 0x00, SAME, ROW("\x01"), "DONE 17 v2 local" },
	/* wrong */
	{ 0x21, 0x12, SAME, ROW(A4), "ERROR" },
	{ 0x21, 0x22, SAME, ROW(A6), "ERROR" },
	{ 0x21, 0x32, SAME, ROW(""), "ERROR" },
	{ 0x21, 0x13, SAME, ROW(A4), "ERROR" },
	{ 0x21, 0x10, SAME, ROW(A4), "ERROR" },
	{ 0x20, 0x10, SAME, ROW(""), "ERROR" },
	{ 0x20, 0x01, SAME, ROW(""), "ERROR" },
	{ 0x21, 0x41, SAME, ROW(A4), "ERROR" },
	{ 0x11, 0x11, SAME, ROW(A4), "ERROR" },
	{ 0x31, 0x11, SAME, ROW(A4), "ERROR" },
	{ 0x22, 0x11, SAME, ROW(A4), "ERROR" },
	{ 0x2f, 0x00, SAME, ROW(""), "ERROR" },
	{ 0x21, 0x11, 11, ROW(""), "ERROR" },
	{ 0x21, 0x21, 35, ROW(""), "ERROR" },
	{ 0x21, 0x31, 215, ROW(""), "ERROR" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04"), "ERROR" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04\x00"), "ERROR" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04\x00\x02x"), "ERROR" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04\x01\x00xyz"), "ERROR" },
	{ 0x21, 0x11, SAME, ROW(A4 "\x04\x00\x00\x04"), "ERROR" },
	/* incomplete */
	{ 0x21, 0x11, 12, ROW(""), "MORE" },
	{ 0x21, 0x11, 12, ROW("\xc0\x00\x02\x01\xc6\x33\x64\x01\x30\x39\x00"), "MORE" },
	{ 0x21, 0x11, 18, ROW(A4 "\x04\x00"), "MORE" },
	{ 0x21, 0x11, 19, ROW(A4 "\x04\x00\x04x"), "MORE" },
	{ 0x20, 0x00, 100, ROW("abc"), "MORE" },
};

static void test_v2_rows(void)
{
	uint8_t buf[600];
	for (size_t i = 0; i < sizeof(v2_rows) / sizeof(v2_rows[0]); i++) {
		size_t n = v2_rows[i].body_len;
		uint16_t len_field = (uint16_t)(v2_rows[i].len_field == SAME ? (int)n : v2_rows[i].len_field);
		size_t len = v2_build(buf, v2_rows[i].ver_cmd, v2_rows[i].fam, len_field, v2_rows[i].body, n);
		expect(buf, len, v2_rows[i].want, __LINE__);
	}
}

/* AF_UNIX: two 108-byte paths; block length at limit-1 / limit / +TLV. */
static void test_v2_unix(void)
{
	uint8_t body[2 * PROXY_PROTO_UNIX_PATH_BYTES + 3] = { 0 };
	uint8_t buf[sizeof(body) + 16];
	strcpy((char *)body, "/run/haproxy.sock");
	strcpy((char *)body + PROXY_PROTO_UNIX_PATH_BYTES, "/run/smtpsink.sock");
	size_t n = 2 * PROXY_PROTO_UNIX_PATH_BYTES;
	size_t len = v2_build(buf, 0x21, 0x31, (uint16_t)n, body, n);
	expect(buf, len, "DONE 232 v2 unix /run/haproxy.sock -> /run/smtpsink.sock", __LINE__);
	len = v2_build(buf, 0x21, 0x31, (uint16_t)(n - 1), body, n - 1);
	expect(buf, len, "ERROR", __LINE__);
	memcpy(body + n, "\xf0\x00\x00", 3);
	len = v2_build(buf, 0x21, 0x31, (uint16_t)(n + 3), body, n + 3);
	expect(buf, len, "DONE 235 v2 unix /run/haproxy.sock -> /run/smtpsink.sock", __LINE__);
	/* all 108 bytes used: no NUL in the path */
	memset(body, 'a', PROXY_PROTO_UNIX_PATH_BYTES);
	len = v2_build(buf, 0x21, 0x31, (uint16_t)n, body, n);
	char want[300];
	snprintf(want, sizeof(want), "DONE 232 v2 unix %.108s -> /run/smtpsink.sock", (const char *)body);
	expect(buf, len, want, __LINE__);
}

/* A flipped signature or version byte is ERROR by the byte that shows it. */
static void test_v2_early(void)
{
	uint8_t buf[64];
	size_t len = v2_build(buf, 0x21, 0x11, 12, A4, 12);
	for (size_t i = 0; i < 14; i++) {
		uint8_t bad[64];
		memcpy(bad, buf, len);
		bad[i] ^= i == 12 ? 0x30 : i == 13 ? 0x0c : 0x40;
		expect(bad, i + 1, "ERROR", __LINE__);
		expect(buf, i + 1, "MORE", __LINE__);
	}
}

/* Block length at its maximum: one NOOP TLV of 65532 bytes after an IPv4
 * block.  Whole, byte by byte and some random cuts (every cut would be
 * quadratic in 64 KiB); the state holds none of the TLV. */
static void test_v2_huge_tlv(void)
{
	size_t n = 65535;
	uint8_t *body = calloc(1, n), *buf = malloc(n + 16 + strlen(TRAILER));
	memcpy(body, A4 "\x04\xff\xf0", 15); /* 65535 - 15 */
	size_t len = v2_build(buf, 0x21, 0x11, (uint16_t)n, body, n);
	memcpy(buf + len, TRAILER, strlen(TRAILER));
	static size_t cuts[INPUT_MAX_BYTES];
	char got[DESC_BYTES];
	const char *want = "DONE 65551 " V4_DONE;
	run_cuts(buf, len + strlen(TRAILER), NULL, 0, got);
	CHECK_STR(got, strlen(got), want);
	for (size_t i = 0; i < len + strlen(TRAILER); i++)
		cuts[i] = i;
	run_cuts(buf, len + strlen(TRAILER), cuts, len + strlen(TRAILER), got);
	CHECK_STR(got, strlen(got), want);
	struct harness_rng g;
	harness_rng_seed(&g, 7);
	for (int round = 0; round < 50; round++) {
		harness_rng_cuts(&g, len, cuts, 20);
		run_cuts(buf, len, cuts, 20, got);
		CHECK_STR(got, strlen(got), want);
	}
	/* One byte short of the declared block: the value overruns it. */
	buf[16 + 14] = 0xf1;
	run_cuts(buf, len, NULL, 0, got);
	CHECK_STR(got, strlen(got), "ERROR");
	CHECK(sizeof(struct proxy_proto_state) < 300);
	free(body);
	free(buf);
}

/* ---- decoders against references on random tokens ------------------------ */

/* Naive port reference: digits only, no leading zero, at most 65535. */
static bool ref_port(const char *s, size_t n, unsigned *v)
{
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return *v <= 65535;
}

/* A random token: sometimes a real address text, mutated a little. */
static size_t random_token(struct harness_rng *g, int family, char *tok)
{
	uint8_t a[16];
	size_t n;
	harness_rng_bytes(g, a, sizeof(a), NULL);
	if (harness_rng_below(g, 3) == 0) {
		size_t zeros_from = (size_t)harness_rng_below(g, 16), zeros_n = (size_t)harness_rng_below(g, 16);
		for (size_t i = zeros_from; i < 16 && i < zeros_from + zeros_n; i++)
			a[i] = 0;
		if (family == AF_INET6 && harness_rng_below(g, 4) == 0)
			memcpy(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		inet_ntop(family, a, tok, INET6_ADDRSTRLEN);
		n = strlen(tok);
		for (uint64_t k = harness_rng_below(g, 3); k > 0 && n > 0; k--)
			tok[harness_rng_below(g, n)] = "0:.f9A"[harness_rng_below(g, 6)];
	} else {
		n = (size_t)harness_rng_below(g, family == AF_INET6 ? 46 : 16);
		harness_rng_bytes(g, (uint8_t *)tok, n,
				  family == AF_INET6 ? "0123456789abcdefABCDEF::::.." : "0123456789..");
	}
	tok[n] = '\0';
	return n;
}

static void test_addresses_vs_inet_pton(void)
{
	struct harness_rng g;
	harness_rng_seed(&g, 1234);
	unsigned valid[2] = { 0, 0 };
	for (int round = 0; round < 40000; round++) {
		int fam = round % 2 ? AF_INET6 : AF_INET;
		char tok[64], line[200], want[DESC_BYTES], got[DESC_BYTES];
		uint8_t ref[16];
		random_token(&g, fam, tok);
		int n = snprintf(line, sizeof(line), "PROXY TCP%c %s %s 1 2\r\n", fam == AF_INET ? '4' : '6', tok,
				 fam == AF_INET ? "1.1.1.1" : "::1");
		if (inet_pton(fam, tok, ref) == 1) {
			struct proxy_proto_result r = { .version = 1, .family = fam, .src_port = 1, .dst_port = 2 };
			memcpy(r.src_addr, ref, fam == AF_INET ? 4 : 16);
			inet_pton(fam, fam == AF_INET ? "1.1.1.1" : "::1", r.dst_addr);
			describe(PROXY_PROTO_DONE, (size_t)n, &r, want);
			valid[round % 2]++;
		} else {
			snprintf(want, sizeof(want), "ERROR");
		}
		run_cuts((const uint8_t *)line, (size_t)n, NULL, 0, got);
		if (!harness_check_mem(got, strlen(got), want, strlen(want), __FILE__, __LINE__,
				       "address vs inet_pton"))
			fprintf(stderr, "  token: \"%s\"\n", tok);
	}
	/* The generator must reach both outcomes, or the test proves little. */
	CHECK(valid[0] > 1000 && valid[0] < 19000);
	CHECK(valid[1] > 1000 && valid[1] < 19000);
}

static void test_ports_vs_reference(void)
{
	struct harness_rng g;
	harness_rng_seed(&g, 99);
	for (int round = 0; round < 5000; round++) {
		char tok[8], line[100], want[DESC_BYTES], got[DESC_BYTES];
		size_t len = (size_t)harness_rng_below(&g, 7);
		harness_rng_bytes(&g, (uint8_t *)tok, len, harness_rng_below(&g, 8) ? "0123456789" : "0123456789x-+ ");
		tok[len] = '\0';
		int n = snprintf(line, sizeof(line), "PROXY TCP4 1.2.3.4 5.6.7.8 %s 25\r\n", tok);
		unsigned v;
		if (ref_port(tok, len, &v))
			snprintf(want, sizeof(want), "DONE %d v1 inet 1.2.3.4:%u -> 5.6.7.8:25", n, v);
		else
			snprintf(want, sizeof(want), "ERROR");
		run_cuts((const uint8_t *)line, (size_t)n, NULL, 0, got);
		harness_check_mem(got, strlen(got), want, strlen(want), __FILE__, __LINE__, "port vs reference");
	}
}

/* ---- random mutations: every way of cutting must agree ------------------ */

static void test_random_mutations(void)
{
	static const char *const seeds[] = {
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 1 25\r\n",
		"PROXY UNKNOWN x\r\n",
	};
	struct harness_rng g;
	harness_rng_seed(&g, 5);
	for (int round = 0; round < 3000; round++) {
		uint8_t in[128];
		size_t len;
		if (round % 4 == 3) {
			len = v2_build(in, 0x21, 0x11, 15, A4 "\x04\x00\x00", 15);
		} else {
			len = strlen(seeds[round % 4 % 3]);
			memcpy(in, seeds[round % 4 % 3], len);
		}
		for (uint64_t k = 1 + harness_rng_below(&g, 3); k > 0; k--)
			in[harness_rng_below(&g, len)] = (uint8_t)harness_rng_next(&g);
		memcpy(in + len, TRAILER, strlen(TRAILER));
		len += strlen(TRAILER);
		char whole[DESC_BYTES], got[DESC_BYTES];
		size_t cuts[4];
		static size_t bytes[128];
		run_cuts(in, len, NULL, 0, whole);
		harness_rng_cuts(&g, len, cuts, 4);
		run_cuts(in, len, cuts, 4, got);
		harness_check_mem(got, strlen(got), whole, strlen(whole), __FILE__, __LINE__, "random cuts vs whole");
		for (size_t i = 0; i < len; i++)
			bytes[i] = i;
		run_cuts(in, len, bytes, len, got);
		harness_check_mem(got, strlen(got), whole, strlen(whole), __FILE__, __LINE__, "bytewise vs whole");
	}
}

/* ---- calling conventions and the log text ------------------------------- */

static void test_calls(void)
{
	struct proxy_proto_state st;
	struct proxy_proto_result r;
	size_t used = 99;
	memset(&st, 0, sizeof(st));
	CHECK(proxy_proto_parse(&st, NULL, 0, &used, &r) == PROXY_PROTO_MORE && used == 0);
	CHECK(proxy_proto_parse(&st, (const uint8_t *)"PROXY", 5, &used, &r) == PROXY_PROTO_MORE && used == 5);
	CHECK(proxy_proto_parse(&st, NULL, 0, &used, &r) == PROXY_PROTO_MORE && used == 0);
	CHECK(proxy_proto_parse(&st, (const uint8_t *)" UNKNOWN\r\nQUIT\r\n", 16, &used, &r) == PROXY_PROTO_DONE);
	CHECK_U64(used, 10);
	CHECK(r.local && r.version == 1 && r.family == 0);
	CHECK(proxy_proto_parse(&st, NULL, 0, &used, &r) == PROXY_PROTO_ERROR && used == 0);
}

static void format_case(const struct proxy_proto_result *r, const char *want)
{
	char buf[PROXY_PROTO_ADDR_TEXT_BYTES];
	size_t n = proxy_proto_format_addr(r, buf, sizeof(buf));
	CHECK_STR(buf, n, want);
	CHECK_U64(strlen(buf), n);
	CHECK_U64(proxy_proto_format_addr(r, buf, n + 1), n); /* exactly enough */
	CHECK(proxy_proto_format_addr(r, buf, n) == 0 && buf[0] == '\0'); /* one short */
	CHECK(proxy_proto_format_addr(r, NULL, 0) == 0);
}

static void test_format(void)
{
	struct proxy_proto_result r = {
		.version = 1, .family = AF_INET, .src_port = 12345, .src_addr = { 192, 0, 2, 1 }
	};
	format_case(&r, "192.0.2.1:12345");
	r.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", r.src_addr);
	r.src_port = 443;
	format_case(&r, "[2001:db8::1]:443");
	inet_pton(AF_INET6, "::ffff:192.0.2.7", r.src_addr);
	format_case(&r, "[::ffff:192.0.2.7]:443");
	memset(&r, 0, sizeof(r));
	r.local = true;
	format_case(&r, "local");
	r.local = false;
	r.family = AF_UNIX;
	strcpy((char *)r.src_path, "/run/h\x01.sock");
	format_case(&r, "unix:/run/h?.sock");
	memset(r.src_path, 0, sizeof(r.src_path));
	format_case(&r, "unix:");
	memcpy(r.src_path, "\0abstract", 9);
	format_case(&r, "unix:@abstract");
	memset(r.src_path, 'z', sizeof(r.src_path));
	char want[PROXY_PROTO_ADDR_TEXT_BYTES];
	snprintf(want, sizeof(want), "unix:%.108s", (const char *)r.src_path);
	format_case(&r, want);
	r.family = 99; /* never from the parser */
	format_case(&r, "unknown");
}

int main(void)
{
	guard_init();
	test_v1_rows();
	test_v1_limits();
	test_v2_rows();
	test_v2_unix();
	test_v2_early();
	test_v2_huge_tlv();
	test_addresses_vs_inet_pton();
	test_ports_vs_reference();
	test_random_mutations();
	test_calls();
	test_format();
	return harness_finish("proxy_proto");
}
