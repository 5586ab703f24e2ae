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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct unit {
	const char *name;
	uint64_t mult;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit size_units[] = {
	{ "KiB", 1ull << 10 }, { "MiB", 1ull << 20 }, { "GiB", 1ull << 30 }, { "TiB", 1ull << 40 },
	{ "K", 1ull << 10 },   { "M", 1ull << 20 },   { "G", 1ull << 30 },   { "T", 1ull << 40 },
};
static const struct unit time_units[] = {
	{ "ms", 1000000ull },
	{ "s", 1000000000ull },
	{ "m", 60ull * 1000000000ull },
	{ "h", 3600ull * 1000000000ull },
	{ "d", 86400ull * 1000000000ull },
};

/* The multiplier named exactly by suffix; 0: none. */
static uint64_t unit_mult(const struct unit *u, size_t n, const char *suffix)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(suffix, u[i].name) == 0)
			return u[i].mult;
	return 0;
}

/* Leading decimal digits into *n; the first byte after them, NULL when
 * there are none or they pass 64 bits (*overflow set). */
static const char *digits(const char *v, uint64_t *n, bool *overflow)
{
	*n = 0;
	*overflow = false;
	const char *p = v;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (*n > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			*n = *n * 10 + d;
	}
	return p == v || *overflow ? NULL : p;
}

const char *cli_value_size(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t n;
	bool overflow;
	const char *end = digits(v, &n, &overflow);
	if (end == NULL)
		return overflow ? "out of range" : "not a size (bytes, or with K, M, G, T)";
	uint64_t mult = *end == '\0' ? 1 : unit_mult(size_units, sizeof size_units / sizeof size_units[0], end);
	if (mult == 0)
		return "not a size (bytes, or with K, M, G, T)";
	if (n > UINT64_MAX / mult || n * mult < lo || n * mult > hi)
		return "out of range";
	*out = n * mult;
	return NULL;
}

/* The fraction digits at p (after '.') as nanoseconds of unit mult; NULL
 * past them, or when a digit is finer than a nanosecond. */
static const char *fraction(const char *p, uint64_t mult, uint64_t *ns)
{
	uint64_t scale = mult;
	*ns = 0;
	const char *start = p;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (scale % 10 != 0 && *p != '0')
			return NULL;
		scale /= 10;
		*ns += (uint64_t)(*p - '0') * scale;
	}
	return p == start ? NULL : p;
}

/* Why a duration is refused that does not come to whole units. */
static const char *not_whole(uint64_t unit_ns)
{
	if (unit_ns == CLI_SECONDS)
		return "not a whole number of seconds";
	return unit_ns == CLI_MS ? "not a whole number of milliseconds" : "not a whole number of units";
}

const char *cli_value_duration(const char *v, uint64_t plain_ns, uint64_t unit_ns, uint64_t lo, uint64_t hi,
			       uint64_t *out)
{
	static const char syntax[] = "not a duration (e.g. 500ms, 30s, 5m, 2h, 1d)";
	uint64_t n, frac = 0;
	bool overflow;
	const char *p = digits(v, &n, &overflow);
	if (p == NULL)
		return overflow ? "out of range" : syntax;
	const char *suffix = p;
	if (*p == '.') /* the fraction is read once the unit is known */
		for (suffix = p + 1; *suffix >= '0' && *suffix <= '9'; suffix++)
			;
	uint64_t mult =
		*suffix == '\0' ? plain_ns : unit_mult(time_units, sizeof time_units / sizeof time_units[0], suffix);
	if (mult == 0)
		return syntax;
	if (*p == '.' && fraction(p + 1, mult, &frac) != suffix)
		return suffix == p + 1 ? syntax : "finer than a nanosecond";
	if (n > (UINT64_MAX - frac) / mult)
		return "out of range";
	uint64_t ns = n * mult + frac;
	if (ns % unit_ns != 0)
		return not_whole(unit_ns);
	if (ns / unit_ns < lo || ns / unit_ns > hi)
		return "out of range";
	*out = ns / unit_ns;
	return NULL;
}

void cli_value_format_size(uint64_t bytes, char *out, size_t len)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T" };
	unsigned i = 0;
	while (i < 4 && bytes != 0 && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, len, "%llu%s", (unsigned long long)bytes, suffix[i]);
}

void cli_value_format_duration(uint64_t n, uint64_t unit_ns, char *out, size_t len)
{
	if (n > UINT64_MAX / unit_ns) { /* too long for nanoseconds: as it is */
		snprintf(out, len, "%llu", (unsigned long long)n);
		return;
	}
	uint64_t ns = n * unit_ns;
	for (size_t i = sizeof time_units / sizeof time_units[0]; i-- > 0;) {
		if (ns != 0 && ns % time_units[i].mult == 0) {
			snprintf(out, len, "%llu%s", (unsigned long long)(ns / time_units[i].mult), time_units[i].name);
			return;
		}
	}
	snprintf(out, len, "%llu%s", (unsigned long long)ns, "ns");
}
