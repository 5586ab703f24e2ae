/*
 * tests/core/test_cidr.c - client address ranges.
 *
 * Owns: cidr_parse() accepting and refusing texts (one table row each),
 * cidr_format() round trips, prefix boundaries at every bit position
 * against a naive bit-by-bit reference on random addresses, and IPv4
 * ranges matching IPv4-mapped IPv6 clients (and mapped ranges matching
 * IPv4 clients).
 */
#include <stdio.h>

#include "cidr.h"
#include "session_harness.h"

struct parse_row {
	const char *text;
	const char *formatted; /* NULL: refused */
};

static const struct parse_row parse_rows[] = {
	{ "127.0.0.0/8", "127.0.0.0/8" },
	{ "10.1.2.3", "10.1.2.3" }, /* one host: no prefix */
	{ "10.1.2.3/32", "10.1.2.3" },
	{ "0.0.0.0/0", "0.0.0.0/0" },
	{ "192.168.0.0/16", "192.168.0.0/16" },
	{ "192.168.128.0/17", "192.168.128.0/17" },
	{ "::1", "::1" },
	{ "::1/128", "::1" },
	{ "::/0", "::/0" },
	{ "2001:db8::/32", "2001:db8::/32" },
	{ "2001:DB8:0:0::/64", "2001:db8::/64" },
	{ "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104" },
	{ "10.0.0.0/008", "10.0.0.0/8" },
	/* host bits set */
	{ "10.0.0.1/8", NULL },
	{ "127.0.0.1/31", NULL },
	{ "2001:db8::1/64", NULL },
	{ "::1/127", NULL },
	/* syntax */
	{ "", NULL },
	{ "/8", NULL },
	{ "10.0.0.0/", NULL },
	{ "10.0.0.0/33", NULL },
	{ "::/129", NULL },
	{ "10.0.0.0/-1", NULL },
	{ "10.0.0.0/+8", NULL },
	{ "10.0.0.0/ 8", NULL },
	{ "10.0.0.0/8 ", NULL },
	{ " 10.0.0.0/8", NULL },
	{ "10.0.0.0/1000", NULL },
	{ "10.0.0.0/8/8", NULL },
	{ "10.1", NULL },
	{ "010.0.0.0", NULL },
	{ "10.0.0.256", NULL },
	{ "localhost", NULL },
	{ "fe80::1%eth0", NULL },
	{ "1:2:3:4:5:6:7:8:9", NULL },
	/* the longest address text inet_pton takes (45 bytes), and one more */
	{ "0000:0000:0000:0000:0000:ffff:255.255.255.255/128", "::ffff:255.255.255.255" },
	{ "00000:0000:0000:0000:0000:ffff:255.255.255.255/128", NULL },
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < sizeof parse_rows / sizeof parse_rows[0]; i++) {
		const struct parse_row *row = &parse_rows[i];
		struct cidr c;
		char buf[CIDR_TEXT_MAX];
		memset(&c, 0xAA, sizeof c);
		bool ok = cidr_parse(row->text, &c);
		if (!harness_check(ok == (row->formatted != NULL), __FILE__, __LINE__, row->text) || !ok)
			continue;
		cidr_format(&c, buf);
		CHECK_STR(buf, strlen(buf), row->formatted);
		struct cidr again;
		CHECK(cidr_parse(buf, &again) && memcmp(&again, &c, sizeof c) == 0);
	}
}

static void test_fields(void)
{
	struct cidr c;
	static const uint8_t net4[4] = { 192, 168, 128, 0 };
	static const uint8_t net6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	CHECK(cidr_parse("192.168.128.0/17", &c));
	CHECK_U64(c.family, 4);
	CHECK_U64(c.prefix, 17);
	CHECK(memcmp(c.addr, net4, 4) == 0);
	CHECK(cidr_parse("2001:db8::/32", &c));
	CHECK_U64(c.family, 6);
	CHECK_U64(c.prefix, 32);
	CHECK(memcmp(c.addr, net6, 16) == 0);
}

static void test_match_basic(void)
{
	struct cidr lo, any4, host, v6, any6;
	static const uint8_t a127[4] = { 127, 0, 0, 1 }, a128[4] = { 128, 0, 0, 1 }, a10[4] = { 10, 1, 2, 3 };
	static const uint8_t one6[16] = { [15] = 1 }, db8[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
	static const uint8_t db9[16] = { 0x20, 0x01, 0x0d, 0xb9 };
	CHECK(cidr_parse("127.0.0.0/8", &lo));
	CHECK(cidr_parse("0.0.0.0/0", &any4));
	CHECK(cidr_parse("10.1.2.3", &host));
	CHECK(cidr_parse("2001:db8::/32", &v6));
	CHECK(cidr_parse("::/0", &any6));
	CHECK(cidr_match(&lo, 4, a127));
	CHECK(!cidr_match(&lo, 4, a128));
	CHECK(cidr_match(&any4, 4, a128));
	CHECK(cidr_match(&host, 4, a10));
	CHECK(!cidr_match(&host, 4, a127));
	CHECK(cidr_match(&v6, 6, db8));
	CHECK(!cidr_match(&v6, 6, db9));
	CHECK(!cidr_match(&v6, 6, one6));
	CHECK(cidr_match(&any6, 6, one6));
	/* families do not mix, and unix clients are in no range */
	CHECK(!cidr_match(&any6, 4, a127));
	CHECK(!cidr_match(&any4, 6, one6));
	CHECK(!cidr_match(&any4, 0, NULL));
	CHECK(!cidr_match(&any6, 0, NULL));
	CHECK(!cidr_match(&any4, 4, NULL));
}

static void test_v4_mapped(void)
{
	struct cidr lo, host, mapped_net, mapped_host, any6;
	static const uint8_t m127[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	static const uint8_t m128[16] = { [10] = 0xff, [11] = 0xff, [12] = 128, [15] = 1 };
	/* ::fffe:127.0.0.1 is not a mapped address */
	static const uint8_t not_mapped[16] = { [10] = 0xff, [11] = 0xfe, [12] = 127, [15] = 1 };
	static const uint8_t compat[16] = { [12] = 127, [15] = 1 }; /* ::127.0.0.1 */
	static const uint8_t a127[4] = { 127, 0, 0, 1 }, a10[4] = { 10, 9, 9, 9 };
	CHECK(cidr_parse("127.0.0.0/8", &lo));
	CHECK(cidr_parse("127.0.0.1", &host));
	CHECK(cidr_match(&lo, 6, m127));
	CHECK(!cidr_match(&lo, 6, m128));
	CHECK(!cidr_match(&lo, 6, not_mapped));
	CHECK(!cidr_match(&lo, 6, compat));
	CHECK(cidr_match(&host, 6, m127));
	/* a range written as mapped IPv6 also matches IPv4 clients */
	CHECK(cidr_parse("::ffff:127.0.0.0/104", &mapped_net));
	CHECK(cidr_match(&mapped_net, 4, a127));
	CHECK(!cidr_match(&mapped_net, 4, a10));
	CHECK(cidr_match(&mapped_net, 6, m127));
	CHECK(cidr_parse("::ffff:127.0.0.1", &mapped_host));
	CHECK(cidr_match(&mapped_host, 4, a127));
	/* ::/0 covers the mapped block as IPv6, but is not an IPv4 range */
	CHECK(cidr_parse("::/0", &any6));
	CHECK(cidr_match(&any6, 6, m127));
	CHECK(!cidr_match(&any6, 4, a127));
}

/* The naive reference: compare bit by bit. */
static bool naive_match(const uint8_t *net, unsigned prefix, const uint8_t *addr)
{
	for (unsigned b = 0; b < prefix; b++) {
		unsigned x = (unsigned)(net[b / 8] >> (7 - b % 8)) & 1u,
			 y = (unsigned)(addr[b / 8] >> (7 - b % 8)) & 1u;
		if (x != y)
			return false;
	}
	return true;
}

/* Every prefix length of both families, random networks and clients, some
 * differing from the network in exactly one bit near the boundary. */
static void test_random_against_reference(void)
{
	struct harness_rng g;
	unsigned mismatches = 0, matched = 0, total = 0;
	harness_rng_seed(&g, 0xC1D2);
	for (int fam = 4; fam <= 6; fam += 2) {
		unsigned bits = fam == 4 ? 32 : 128, bytes = bits / 8;
		for (unsigned prefix = 0; prefix <= bits; prefix++) {
			for (int round = 0; round < 40; round++) {
				struct cidr c;
				memset(&c, 0, sizeof c);
				c.family = (uint8_t)fam;
				c.prefix = (uint8_t)prefix;
				harness_rng_bytes(&g, c.addr, bytes, NULL);
				for (unsigned b = prefix; b < bits; b++)
					c.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
				uint8_t addr[16];
				memcpy(addr, c.addr, bytes);
				if (round % 2 == 0) {
					for (unsigned b = prefix; b < bits; b++)
						if (harness_rng_below(&g, 2))
							addr[b / 8] |= (uint8_t)(0x80u >> (b % 8));
				}
				if (round % 4 == 1 && bits > 0) {
					unsigned flip = (unsigned)harness_rng_below(&g, bits);
					addr[flip / 8] ^= (uint8_t)(0x80u >> (flip % 8));
				}
				bool want = naive_match(c.addr, prefix, addr);
				if (cidr_match(&c, (uint8_t)fam, addr) != want)
					mismatches++;
				matched += want;
				total++;
				/* the text form says the same */
				char buf[CIDR_TEXT_MAX];
				struct cidr back;
				cidr_format(&c, buf);
				if (!cidr_parse(buf, &back) || memcmp(&back, &c, sizeof c) != 0)
					mismatches++;
			}
		}
	}
	CHECK_U64(mismatches, 0);
	CHECK(matched > total / 4 && matched < total); /* both outcomes were exercised */
}

/* Host bits are refused at every position below the prefix. */
static void test_host_bit_positions(void)
{
	unsigned refused = 0, tried = 0;
	for (unsigned prefix = 0; prefix < 32; prefix++) {
		for (unsigned b = prefix; b < 32; b++) {
			uint32_t v = 1u << (31 - b);
			char text[32];
			struct cidr c;
			snprintf(text, sizeof text, "%u.%u.%u.%u/%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255,
				 prefix);
			refused += !cidr_parse(text, &c);
			tried++;
		}
	}
	CHECK_U64(refused, tried);
}

int main(void)
{
	test_parse_table();
	test_fields();
	test_match_basic();
	test_v4_mapped();
	test_random_against_reference();
	test_host_bit_positions();
	return harness_finish("cidr");
}
