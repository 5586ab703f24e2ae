/*
 * core/proxy_proto.c - HAProxy PROXY protocol parser (see proxy_proto.h).
 *
 * Owns: the v1 grammar, the v2 fixed part and address block, v2 TLV framing,
 * the IPv4/IPv6/port text decoders v1 needs (pure code, no libc networking
 * on the parse path), and the log formatting of a result.
 *
 * Why the header is copied: unlike the SMTP line scanner, this parser copies
 * what it reads into the state (at most PROXY_PROTO_HOLD_BYTES, once per
 * connection) and always decodes from there.  That is one code path for
 * every way the header can be cut, so "whole", "split" and "byte by byte"
 * cannot diverge; a zero-copy fast path would save ~100 bytes of memcpy per
 * connection at the cost of a second path to get right.  TLVs are not
 * copied.  A v1 line is re-validated from its start on each call (at most
 * 107 bytes), so a wrong literal ("EHLO", "PROXY tcp4", a double space) is
 * an ERROR at once; a field still being received (an address, a port) is
 * judged by its characters and length, and decoded when its terminator
 * arrives.  Pieces are accepted although the spec expects the header in one
 * segment (TCP may still cut it, 2.1); an unfinished header is the engine's
 * to time out or to fail at EOF.
 *
 * Rules chosen where proxy-protocol.txt leaves room (section numbers are the
 * spec's):
 * - The first byte decides: 'P' is v1, CR is v2, anything else is ERROR
 *   (2.2, "Identifying the protocol version").
 * - v1 (2.1): exact case and single spaces.  TCP4 addresses are four decimal
 *   numbers 0..255 without leading zeros; TCP6 addresses are what glibc's
 *   inet_pton(AF_INET6) takes: 1..4 hex digits per group, at most one "::"
 *   standing for at least one group, and an optional dotted-quad tail (the
 *   form inet_ntop gives v4-mapped addresses, so a sender may produce it).
 *   Ports are 0..65535 without leading zeros.  The line ends with CRLF
 *   within 107 bytes; a bare CR or LF is ERROR.  "UNKNOWN" is followed by
 *   CRLF, or by a space and any bytes other than CR and LF up to the CRLF;
 *   it is reported as local.
 * - v2 (2.2): version 2; command LOCAL or PROXY; the family/transport byte
 *   must be one of the seven the spec lists.  PROXY over DGRAM is ERROR (an
 *   SMTP connection is a stream).  PROXY with AF_UNSPEC (0x00) is reported
 *   local, like v1 UNKNOWN (the spec lets a receiver accept it).  For PROXY
 *   the length must cover the family's address block; the bytes after it
 *   must be whole TLVs (3-byte head, value within the block, ending exactly
 *   at its end), whose types are not interpreted (CRC32C is optional for a
 *   receiver and not checked).  For LOCAL, and PROXY with AF_UNSPEC, the
 *   whole block is skipped unread, as the spec says to ignore it.
 *
 * Invariants: have <= PROXY_PROTO_HOLD_BYTES, and have <= 107 in v1;
 * need - 16 is 0, 12, 36 or 216; tlv_value_left <= tlv_left; a TLV head is
 * never cut by the end of the block.  MORE always consumes all the input.
 */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"

/* Outcome of one step of the parse, internal. */
enum step {
	STEP_OK, /* this part is complete and valid */
	STEP_MORE, /* valid so far, input exhausted */
	STEP_BAD, /* cannot become a valid header */
};

static const uint8_t v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

#define V2_VERSION 0x2u
#define V2_CMD_LOCAL 0x0u
#define V2_CMD_PROXY 0x1u
/* Family/transport bytes (2.2, "In practice, the following ..."). */
#define V2_UNSPEC 0x00u
#define V2_TCP4 0x11u
#define V2_UDP4 0x12u
#define V2_TCP6 0x21u
#define V2_UDP6 0x22u
#define V2_UNIX_STREAM 0x31u
#define V2_UNIX_DGRAM 0x32u
#define V2_ADDR_INET_BYTES 12u /* 2 * 4 + 2 * 2 */
#define V2_ADDR_INET6_BYTES 36u /* 2 * 16 + 2 * 2 */
#define V2_TLV_HEAD_BYTES 3u /* type, length (2.2, struct pp2_tlv) */

/* v1 token limits: the longest valid text of each kind. */
#define V1_IPV4_MAX_CHARS 15u /* 255.255.255.255 */
#define V1_IPV6_MAX_CHARS 45u /* 0000:0000:0000:0000:0000:0000:255.255.255.255 */
#define V1_PORT_MAX_CHARS 5u /* 65535 */

/* ---- v1 text decoders: whole tokens, not NUL-terminated ---------------- */

static int digit_val(uint8_t c)
{
	return c >= '0' && c <= '9' ? c - '0' : -1;
}

/* A decimal number of 1..max_digits digits, no leading zero, <= max_value,
 * at p[*i]; advances *i past it. */
static bool parse_decimal(const uint8_t *p, size_t n, size_t *i, size_t max_digits, unsigned max_value, unsigned *value)
{
	size_t start = *i;
	unsigned v = 0;
	while (*i < n && *i - start < max_digits && digit_val(p[*i]) >= 0)
		v = v * 10 + (unsigned)digit_val(p[(*i)++]);
	size_t digits = *i - start;
	if (digits == 0 || v > max_value || (digits > 1 && p[start] == '0'))
		return false;
	*value = v;
	return true;
}

static bool parse_ipv4(const uint8_t *p, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int k = 0; k < 4; k++) {
		unsigned v;
		if (k > 0 && (i == n || p[i++] != '.'))
			return false;
		if (!parse_decimal(p, n, &i, 3, 255, &v))
			return false;
		out[k] = (uint8_t)v;
	}
	return i == n;
}

/* Groups of 1..4 hex digits separated by ':', at most one "::" (standing
 * for at least one zero group), optionally ending in a dotted quad. */
static bool parse_ipv6(const uint8_t *p, size_t n, uint8_t out[16])
{
	uint8_t a[16] = { 0 };
	size_t o = 0, i = 0, gap = SIZE_MAX;
	if (n >= 2 && p[0] == ':' && p[1] == ':') {
		gap = 0;
		i = 2;
	}
	while (i < n) {
		size_t start = i;
		unsigned v = 0;
		while (i < n && i - start < 5 && hex_digit(p[i]) >= 0)
			v = v * 16 + (unsigned)hex_digit(p[i++]);
		if (i < n && p[i] == '.') {
			if (o + 4 > 16 || !parse_ipv4(p + start, n - start, a + o))
				return false;
			o += 4;
			break;
		}
		if (i == start || i - start > 4 || o + 2 > 16)
			return false;
		a[o++] = (uint8_t)(v >> 8);
		a[o++] = (uint8_t)v;
		if (i == n)
			break;
		if (p[i++] != ':' || i == n)
			return false; /* not a separator, or a trailing single ':' */
		if (p[i] == ':') {
			if (gap != SIZE_MAX)
				return false;
			gap = o;
			i++;
		}
	}
	if (gap == SIZE_MAX ? o != 16 : o == 16)
		return false;
	if (gap != SIZE_MAX) {
		size_t tail = o - gap;
		memmove(a + 16 - tail, a + gap, tail);
		memset(a + gap, 0, 16 - o);
	}
	memcpy(out, a, 16);
	return true;
}

static bool parse_port(const uint8_t *p, size_t n, uint16_t *port)
{
	size_t i = 0;
	unsigned v;
	if (!parse_decimal(p, n, &i, V1_PORT_MAX_CHARS, 65535, &v) || i != n)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* ---- v1 grammar over a (possibly partial) line ------------------------- */

struct cursor {
	const uint8_t *p;
	size_t n; /* bytes available (the line may be incomplete) */
	size_t i; /* next byte to read */
};

enum field_kind {
	FIELD_IPV4,
	FIELD_IPV6,
	FIELD_PORT,
};

static enum step expect(struct cursor *c, const char *lit)
{
	for (; *lit != '\0'; lit++, c->i++) {
		if (c->i == c->n)
			return STEP_MORE;
		if (c->p[c->i] != (uint8_t)*lit)
			return STEP_BAD;
	}
	return STEP_OK;
}

static bool field_char(enum field_kind kind, uint8_t ch)
{
	switch (kind) {
	case FIELD_IPV4:
		return digit_val(ch) >= 0 || ch == '.';
	case FIELD_IPV6:
		return hex_digit(ch) >= 0 || ch == ':' || ch == '.';
	default:
		return digit_val(ch) >= 0;
	}
}

/* One field and its terminator.  A partial field is judged by its bytes'
 * class and length only; the value is decoded once the terminator is in. */
static enum step v1_field(struct cursor *c, enum field_kind kind, uint8_t end, uint8_t *addr, uint16_t *port)
{
	static const size_t max_chars[] = { V1_IPV4_MAX_CHARS, V1_IPV6_MAX_CHARS, V1_PORT_MAX_CHARS };
	size_t start = c->i;
	for (; c->i < c->n && c->p[c->i] != end; c->i++) {
		if (!field_char(kind, c->p[c->i]) || c->i - start == max_chars[kind])
			return STEP_BAD;
	}
	if (c->i == c->n)
		return STEP_MORE;
	const uint8_t *tok = c->p + start;
	size_t len = c->i - start;
	c->i++; /* the terminator */
	bool ok = kind == FIELD_IPV4 ? parse_ipv4(tok, len, addr) :
		  kind == FIELD_IPV6 ? parse_ipv6(tok, len, addr) :
				       parse_port(tok, len, port);
	return ok ? STEP_OK : STEP_BAD;
}

/* After "UNKNOWN": CRLF, or a space and anything but CR/LF up to CRLF. */
static enum step v1_unknown_tail(struct cursor *c)
{
	if (c->i == c->n)
		return STEP_MORE;
	if (c->p[c->i] == '\r')
		return expect(c, "\r\n");
	if (c->p[c->i] != ' ')
		return STEP_BAD;
	for (c->i++; c->i < c->n; c->i++) {
		if (c->p[c->i] == '\n')
			return STEP_BAD; /* a bare LF never ends the line */
		if (c->p[c->i] == '\r')
			return expect(c, "\r\n");
	}
	return STEP_MORE;
}

/* "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN...\r\n".
 * Fills *res as it goes; only a STEP_OK result is meaningful. */
static enum step v1_parse(const uint8_t *p, size_t n, struct proxy_proto_result *res)
{
	struct cursor c = { p, n, 0 };
	memset(res, 0, sizeof(*res));
	res->version = 1;
	enum step s = expect(&c, "PROXY ");
	if (s == STEP_OK && c.i < n && p[c.i] == 'U') {
		res->local = true;
		s = expect(&c, "UNKNOWN");
		return s == STEP_OK ? v1_unknown_tail(&c) : s;
	}
	if (s == STEP_OK)
		s = expect(&c, "TCP");
	if (s != STEP_OK)
		return s;
	if (c.i == n)
		return STEP_MORE;
	enum field_kind kind = p[c.i] == '4' ? FIELD_IPV4 : FIELD_IPV6;
	if (p[c.i] != '4' && p[c.i] != '6')
		return STEP_BAD;
	res->family = kind == FIELD_IPV4 ? AF_INET : AF_INET6;
	c.i++;
	s = expect(&c, " ");
	if (s == STEP_OK)
		s = v1_field(&c, kind, ' ', res->src_addr, NULL);
	if (s == STEP_OK)
		s = v1_field(&c, kind, ' ', res->dst_addr, NULL);
	if (s == STEP_OK)
		s = v1_field(&c, FIELD_PORT, ' ', NULL, &res->src_port);
	if (s == STEP_OK)
		s = v1_field(&c, FIELD_PORT, '\r', NULL, &res->dst_port);
	if (s == STEP_OK)
		s = expect(&c, "\n");
	return s;
}

/* ---- buffering and the phases ------------------------------------------ */

/* Copy input into buf[] until it holds target bytes; returns bytes taken. */
static size_t hold(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t target)
{
	assert(target <= sizeof(st->buf) && st->have <= target);
	size_t take = target - st->have;
	if (take > len)
		take = len;
	memcpy(st->buf + st->have, in, take);
	st->have = (uint16_t)(st->have + take);
	return take;
}

/* PH_V1_LINE: buf[] holds the start of the line, no LF yet.  Takes bytes
 * through the first LF (never past it), at most 107 in all. */
static enum step v1_feed(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *used,
			 struct proxy_proto_result *res)
{
	size_t take = PROXY_PROTO_V1_MAX_BYTES - st->have;
	if (take > len)
		take = len;
	const uint8_t *lf = memchr(in, '\n', take);
	if (lf != NULL)
		take = (size_t)(lf - in) + 1;
	*used = hold(st, in, take, st->have + take);
	enum step s = v1_parse(st->buf, st->have, res);
	/* An LF ends the line either way; 107 bytes without one is too long. */
	if (s == STEP_MORE && (lf != NULL || st->have == PROXY_PROTO_V1_MAX_BYTES))
		return STEP_BAD;
	if (s == STEP_OK)
		st->phase = PROXY_PROTO_PH_DONE;
	return s;
}

static unsigned v2_command(const uint8_t *b)
{
	return b[12] & 0x0Fu;
}

/* True when the address block is ignored: LOCAL, or PROXY with UNSPEC. */
static bool v2_block_ignored(const uint8_t *b)
{
	return v2_command(b) == V2_CMD_LOCAL || b[13] == V2_UNSPEC;
}

/* The address block this parser reads (0 when it is ignored). */
static size_t v2_addr_bytes(const uint8_t *b)
{
	if (v2_block_ignored(b))
		return 0;
	switch (b[13]) {
	case V2_TCP4:
		return V2_ADDR_INET_BYTES;
	case V2_TCP6:
		return V2_ADDR_INET6_BYTES;
	default:
		assert(b[13] == V2_UNIX_STREAM); /* v2_family_ok() let no other in */
		return PROXY_PROTO_V2_ADDR_MAX_BYTES;
	}
}

static bool v2_family_ok(unsigned cmd, uint8_t fam)
{
	switch (fam) {
	case V2_UNSPEC:
	case V2_TCP4:
	case V2_TCP6:
	case V2_UNIX_STREAM:
		return true;
	case V2_UDP4:
	case V2_UDP6:
	case V2_UNIX_DGRAM:
		return cmd == V2_CMD_LOCAL;
	default:
		return false;
	}
}

/* Judge the first have (<= 16) bytes of a v2 header. */
static enum step v2_check_fixed(const uint8_t *b, size_t have)
{
	size_t n = have < sizeof(v2_sig) ? have : sizeof(v2_sig);
	if (memcmp(b, v2_sig, n) != 0)
		return STEP_BAD;
	if (have > 12 && ((b[12] >> 4) != V2_VERSION || v2_command(b) > V2_CMD_PROXY))
		return STEP_BAD;
	if (have > 13 && !v2_family_ok(v2_command(b), b[13]))
		return STEP_BAD;
	if (have < PROXY_PROTO_V2_FIXED_BYTES)
		return STEP_MORE;
	size_t block = (size_t)b[14] << 8 | b[15];
	return block >= v2_addr_bytes(b) ? STEP_OK : STEP_BAD;
}

/* PH_V2_FIXED: buf[] holds fewer than 16 bytes, all valid so far. */
static enum step v2_fixed(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *used)
{
	*used = hold(st, in, len, PROXY_PROTO_V2_FIXED_BYTES);
	enum step s = v2_check_fixed(st->buf, st->have);
	if (s != STEP_OK)
		return s;
	size_t addr = v2_addr_bytes(st->buf);
	size_t block = (size_t)st->buf[14] << 8 | st->buf[15];
	st->need = (uint16_t)(PROXY_PROTO_V2_FIXED_BYTES + addr);
	st->tlv_left = (uint16_t)(block - addr);
	st->phase = PROXY_PROTO_PH_V2_ADDR;
	return STEP_OK;
}

/* PH_V2_ADDR: the fixed part is held and valid; the address block is not
 * complete yet. */
static enum step v2_addr(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *used)
{
	*used = hold(st, in, len, st->need);
	if (st->have < st->need)
		return STEP_MORE;
	st->phase = v2_block_ignored(st->buf) ? PROXY_PROTO_PH_V2_SKIP : PROXY_PROTO_PH_V2_TLV;
	return STEP_OK;
}

/* One byte of a TLV head (type, length high, length low). */
static enum step v2_tlv_head_byte(struct proxy_proto_state *st, uint8_t b)
{
	if (st->tlv_head_have == 0 && st->tlv_left < V2_TLV_HEAD_BYTES)
		return STEP_BAD; /* a head cut by the end of the block */
	st->tlv_left--;
	switch (st->tlv_head_have++) {
	case 0:
		break; /* the type: any, unknown ones are skipped (2.2) */
	case 1:
		st->tlv_len_hi = b;
		break;
	default:
		st->tlv_head_have = 0;
		st->tlv_value_left = (uint16_t)(st->tlv_len_hi << 8 | b);
		if (st->tlv_value_left > st->tlv_left)
			return STEP_BAD; /* the value overruns the block */
	}
	return STEP_OK;
}

/* PH_V2_TLV / PH_V2_SKIP: the fixed part and address block are held;
 * tlv_left bytes of the block are still to come, checked as TLVs or skipped
 * unread.  Nothing is buffered here. */
static enum step v2_tail(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *used)
{
	bool skip = st->phase == PROXY_PROTO_PH_V2_SKIP;
	size_t i = 0;
	while (st->tlv_left > 0) {
		if (i == len) {
			*used = i;
			return STEP_MORE;
		}
		if (skip || st->tlv_value_left > 0) {
			size_t k = skip ? st->tlv_left : st->tlv_value_left;
			if (k > len - i)
				k = len - i;
			i += k;
			st->tlv_left = (uint16_t)(st->tlv_left - k);
			if (!skip)
				st->tlv_value_left = (uint16_t)(st->tlv_value_left - k);
		} else if (v2_tlv_head_byte(st, in[i++]) == STEP_BAD) {
			return STEP_BAD;
		}
	}
	*used = i;
	st->phase = PROXY_PROTO_PH_DONE;
	return STEP_OK;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The facts of a complete v2 header held in buf[]. */
static void v2_decode(const struct proxy_proto_state *st, struct proxy_proto_result *res)
{
	const uint8_t *b = st->buf, *a = st->buf + PROXY_PROTO_V2_FIXED_BYTES;
	memset(res, 0, sizeof(*res));
	res->version = 2;
	if (v2_block_ignored(b)) {
		res->local = true;
		return;
	}
	size_t alen = b[13] == V2_TCP4 ? 4 : 16;
	switch (b[13]) {
	case V2_TCP4:
	case V2_TCP6:
		res->family = b[13] == V2_TCP4 ? AF_INET : AF_INET6;
		memcpy(res->src_addr, a, alen);
		memcpy(res->dst_addr, a + alen, alen);
		res->src_port = be16(a + 2 * alen);
		res->dst_port = be16(a + 2 * alen + 2);
		break;
	default:
		assert(b[13] == V2_UNIX_STREAM);
		res->family = AF_UNIX;
		memcpy(res->src_path, a, PROXY_PROTO_UNIX_PATH_BYTES);
		memcpy(res->dst_path, a + PROXY_PROTO_UNIX_PATH_BYTES, PROXY_PROTO_UNIX_PATH_BYTES);
	}
}

/* One step of the phase machine over in[0..len); *used is what it took. */
static enum step run_phase(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *used,
			   struct proxy_proto_result *res)
{
	*used = 0;
	switch (st->phase) {
	case PROXY_PROTO_PH_START: /* nothing consumed: the first byte decides */
		if (len == 0)
			return STEP_MORE;
		if (in[0] != 'P' && in[0] != v2_sig[0])
			return STEP_BAD;
		st->phase = in[0] == 'P' ? PROXY_PROTO_PH_V1_LINE : PROXY_PROTO_PH_V2_FIXED;
		return STEP_OK;
	case PROXY_PROTO_PH_V1_LINE:
		return v1_feed(st, in, len, used, res);
	case PROXY_PROTO_PH_V2_FIXED:
		return v2_fixed(st, in, len, used);
	case PROXY_PROTO_PH_V2_ADDR:
		return v2_addr(st, in, len, used);
	case PROXY_PROTO_PH_V2_TLV:
	case PROXY_PROTO_PH_V2_SKIP:
		return v2_tail(st, in, len, used);
	default: /* DONE, FAILED: the state is spent */
		return STEP_BAD;
	}
}

enum proxy_proto_status proxy_proto_parse(struct proxy_proto_state *st, const uint8_t *in, size_t len, size_t *consumed,
					  struct proxy_proto_result *out)
{
	static const uint8_t none[1];
	struct proxy_proto_result res;
	size_t at = 0;
	if (in == NULL) {
		assert(len == 0);
		in = none;
	}
	*consumed = 0;
	for (;;) {
		size_t used;
		enum step s = run_phase(st, in + at, len - at, &used, &res);
		assert(used <= len - at);
		at += used;
		if (s == STEP_BAD) {
			st->phase = PROXY_PROTO_PH_FAILED;
			return PROXY_PROTO_ERROR;
		}
		if (s == STEP_MORE) {
			assert(at == len);
			*consumed = len;
			return PROXY_PROTO_MORE;
		}
		if (st->phase == PROXY_PROTO_PH_DONE) {
			if (st->buf[0] != 'P')
				v2_decode(st, &res);
			*out = res;
			*consumed = at;
			return PROXY_PROTO_DONE;
		}
	}
}

/* ---- log text ----------------------------------------------------------- */

static int format_unix(const uint8_t *path, char *text, size_t cap)
{
	size_t o = (size_t)snprintf(text, cap, "unix:");
	size_t i = 0;
	if (path[0] == '\0' && path[1] != '\0') {
		text[o++] = '@'; /* a Linux abstract name */
		i = 1;
	}
	for (; i < PROXY_PROTO_UNIX_PATH_BYTES && path[i] != '\0'; i++)
		text[o++] = path[i] >= 0x20 && path[i] < 0x7F ? (char)path[i] : '?';
	text[o] = '\0';
	return (int)o;
}

size_t proxy_proto_format_addr(const struct proxy_proto_result *r, char *buf, size_t cap)
{
	char text[PROXY_PROTO_ADDR_TEXT_BYTES];
	char ip6[INET6_ADDRSTRLEN];
	const uint8_t *a = r->src_addr;
	int n;
	if (r->local)
		n = snprintf(text, sizeof(text), "local");
	else if (r->family == AF_INET)
		n = snprintf(text, sizeof(text), "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], r->src_port);
	else if (r->family == AF_INET6 && inet_ntop(AF_INET6, a, ip6, sizeof(ip6)) != NULL)
		n = snprintf(text, sizeof(text), "[%s]:%u", ip6, r->src_port);
	else if (r->family == AF_UNIX)
		n = format_unix(r->src_path, text, sizeof(text));
	else
		n = snprintf(text, sizeof(text), "unknown");
	assert(n > 0 && (size_t)n < sizeof(text));
	if ((size_t)n >= cap) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	memcpy(buf, text, (size_t)n + 1);
	return (size_t)n;
}
