/*
 * core/hex.h - the value of one hexadecimal digit, for every parser that
 * reads hex (PROXY v1 IPv6 addresses, RFC 2047 Q-encoding in the spool
 * tool).  Pure, header-only.
 */
#ifndef SMTPSINK_HEX_H
#define SMTPSINK_HEX_H

#include <stdint.h>

/* 0..15, or -1 if c is not 0-9, a-f, A-F. */
static inline int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
