/*
 * core/utf8.c - UTF-8 validation (RFC 3629 table 4 "well-formed" ranges).
 *
 * Owns: utf8_valid(), utf8_next() and utf8_has_8bit().  Invariant: never
 * reads past len.
 */
#include "utf8.h"

bool utf8_has_8bit(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] & 0x80)
			return true;
	return false;
}

/* Length of the sequence led by b, and the allowed range of its second
 * byte (which is what excludes overlongs and surrogates); 0 if b is bad. */
static int lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF)
		return 2;
	if (b >= 0xE0 && b <= 0xEF) {
		if (b == 0xE0)
			*lo = 0xA0;
		if (b == 0xED)
			*hi = 0x9F;
		return 3;
	}
	if (b >= 0xF0 && b <= 0xF4) {
		if (b == 0xF0)
			*lo = 0x90;
		if (b == 0xF4)
			*hi = 0x8F;
		return 4;
	}
	return 0;
}

size_t utf8_next(const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	uint8_t lo, hi;
	int n = lead(p[0], &lo, &hi);
	if (n == 0 || len < (size_t)n || p[1] < lo || p[1] > hi)
		return 0;
	for (int k = 2; k < n; k++)
		if ((p[k] & 0xC0) != 0x80)
			return 0;
	return (size_t)n;
}

bool utf8_valid(const uint8_t *p, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_next(p + i, len - i)) == 0)
			return false;
	return true;
}
