/*
 * cli/cli_value.c - turning an option's text into a number (cli.h).
 *
 * Owns: the number syntax every program accepts: plain decimal for whole
 * numbers (no sign, no spaces; more than 64 bits is "out of range", never
 * a wrap), strtod's syntax for fractional ones (finite only), and the
 * range checks with the range in the message.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

const char *cli_value_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (v[0] < '0' || v[0] > '9')
		return "not a whole number";
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end != '\0')
		return "not a whole number";
	if (errno != 0 || n < lo || n > hi)
		return "out of range";
	*out = n;
	return NULL;
}

const char *cli_value_double(const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d))
		return "not a number";
	if (d < lo || d > hi)
		return "out of range";
	*out = d;
	return NULL;
}
