/*
 * core/cidr.c - client address ranges (see cidr.h).
 *
 * Owns: the text form of a range (libc's inet_pton/inet_ntop do the
 * address syntax: pure conversions, no sockets), the host-bits check, and
 * prefix matching, including the IPv4 <-> IPv4-mapped IPv6 equivalence in
 * both directions: an IPv4 range matches ::ffff:a.b.c.d clients, and a
 * range inside ::ffff:0:0/96 matches the IPv4 clients it names.
 *
 * Does not: resolve names, accept the old inet_aton forms ("10.1", octal),
 * or keep a zone ("fe80::1%eth0"): inet_pton refuses them all.
 *
 * Workload: parsing at start-up; cidr_match on every connection that a
 * range-scoped feature looks at, so it compares bytes and never allocates.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The longest address text inet_pton can accept, without "/BITS"
 * (INET6_ADDRSTRLEN counts its NUL). */
#define CIDR_ADDR_TEXT_MAX (INET6_ADDRSTRLEN - 1)

/* ::ffff:0:0/96, the IPv4-mapped IPv6 prefix (RFC 4291 2.5.5.2). */
static const uint8_t cidr_v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* "0".."128" without sign or blanks; false if not a number or too big. */
static bool parse_bits(const char *s, unsigned max, unsigned *bits)
{
	unsigned v = 0;
	size_t n = 0;
	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 3)
			return false;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || v > max)
		return false;
	*bits = v;
	return true;
}

/* Do the first bits bits of a and b agree? */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Are all bits after the first bits of addr[0..bytes) zero? */
static bool host_bits_zero(const uint8_t *addr, unsigned bytes, unsigned bits)
{
	for (unsigned i = bits / 8; i < bytes; i++) {
		unsigned keep = i == bits / 8 ? bits % 8 : 0;
		uint8_t mask = (uint8_t)(0xffu >> keep);
		if (addr[i] & mask)
			return false;
	}
	return true;
}

bool cidr_parse(const char *text, struct cidr *out)
{
	char addr_text[CIDR_ADDR_TEXT_MAX + 1];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	struct cidr c;
	unsigned bits;

	if (addr_len == 0 || addr_len > CIDR_ADDR_TEXT_MAX)
		return false;
	memcpy(addr_text, text, addr_len);
	addr_text[addr_len] = '\0';
	memset(&c, 0, sizeof c);
	if (inet_pton(AF_INET, addr_text, c.addr) == 1)
		c.family = 4;
	else if (inet_pton(AF_INET6, addr_text, c.addr) == 1)
		c.family = 6;
	else
		return false;
	unsigned max = c.family == 4 ? 32 : 128;
	if (slash == NULL)
		bits = max;
	else if (!parse_bits(slash + 1, max, &bits))
		return false;
	if (!host_bits_zero(c.addr, max / 8, bits))
		return false;
	c.prefix = (uint8_t)bits;
	*out = c;
	return true;
}

bool cidr_match(const struct cidr *c, uint8_t family, const uint8_t *addr)
{
	if (addr == NULL || (family != 4 && family != 6))
		return false;
	if (c->family == family)
		return prefix_equal(c->addr, addr, c->prefix);
	if (c->family == 4 && family == 6) /* an IPv4 client on a dual-stack listener */
		return memcmp(addr, cidr_v4_mapped, sizeof cidr_v4_mapped) == 0 &&
		       prefix_equal(c->addr, addr + sizeof cidr_v4_mapped, c->prefix);
	if (c->family == 6 && family == 4 && c->prefix >= 96 &&
	    memcmp(c->addr, cidr_v4_mapped, sizeof cidr_v4_mapped) == 0)
		return prefix_equal(c->addr + sizeof cidr_v4_mapped, addr, c->prefix - 96u);
	return false;
}

void cidr_format(const struct cidr *c, char *buf)
{
	char addr_text[INET6_ADDRSTRLEN];
	int af = c->family == 4 ? AF_INET : AF_INET6;
	if ((c->family != 4 && c->family != 6) || inet_ntop(af, c->addr, addr_text, sizeof addr_text) == NULL) {
		snprintf(buf, CIDR_TEXT_MAX, "?");
		return;
	}
	if (c->prefix == (c->family == 4 ? 32 : 128))
		snprintf(buf, CIDR_TEXT_MAX, "%s", addr_text); /* one host: as it was given */
	else
		snprintf(buf, CIDR_TEXT_MAX, "%s/%u", addr_text, (unsigned)c->prefix);
}
