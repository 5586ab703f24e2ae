/*
 * core/utf8.c - UTF-8 validation (RFC 3629 table 4 "well-formed" ranges).
 *
 * Owns: utf8_valid() and utf8_has_8bit().  Invariant: never reads past len.
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

bool utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		uint8_t lo, hi;
		int n = lead(p[i], &lo, &hi);
		if (n == 0 || len - i < (size_t)n)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (int k = 2; k < n; k++)
			if ((p[i + (size_t)k] & 0xC0) != 0x80)
				return false;
		i += (size_t)n;
	}
	return true;
}
