/*
 * core/cidr.h - client address ranges: "127.0.0.0/8", "::1", "10.1.2.3".
 *
 * Owns: parsing an address range from text and testing whether a client
 * address is inside it.  Used by --trace-client, fault rules (client=),
 * per-client throttling and `smtpsink-spool sessions --client`.  An IPv4
 * range also matches the same clients seen as IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d), because a dual-stack listener reports them that way.
 */
#ifndef SMTPSINK_CIDR_H
#define SMTPSINK_CIDR_H

#include <stdbool.h>
#include <stdint.h>

/* family: 4 or 6 (the spool's client families); unix clients (0) are in
 * no range. */
struct cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t prefix; /* bits: 0..32 or 0..128 */
	uint8_t addr[16]; /* network address, host bits zero; IPv4 in [0..4) */
};

/* Parse "ADDR" or "ADDR/BITS" (NUL-terminated).  A bare address is a
 * single host (/32, /128).  Host bits set in ADDR are an error
 * ("10.0.0.1/8"), so a typo cannot silently widen a range.  Returns false
 * on any syntax error. */
bool cidr_parse(const char *text, struct cidr *out);

/* Is the client (family 4: addr[0..4); 6: addr[0..16); 0: unix) inside? */
bool cidr_match(const struct cidr *c, uint8_t family, const uint8_t *addr);

/* Format back to text ("127.0.0.0/8"; a single host without its /32 or
 * /128, as cidr_parse takes it); buf >= CIDR_TEXT_MAX bytes. */
#define CIDR_TEXT_MAX 64u
void cidr_format(const struct cidr *c, char *buf);

#endif
