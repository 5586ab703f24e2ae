/*
 * tools/spool/when.c - time parsing and formatting (when.h).
 *
 * Owns: the accepted time syntaxes and their error cases (a date that does
 * not exist, such as 2026-02-30, is refused rather than normalised), and
 * UTC formatting with timegm/gmtime_r: no time zone of the machine ever
 * changes what the tool prints.
 */
#define _GNU_SOURCE
#include "when.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define US_PER_S 1000000ull
#define FRACTION_DIGITS 6u

uint64_t when_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * US_PER_S + (uint64_t)ts.tv_nsec / 1000u;
}

/* Exactly n digits at *p into *v; advances *p. */
static bool digits(const char **p, unsigned n, int *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* ".ffffff" (any number of digits, the first six count) -> microseconds. */
static uint64_t fraction(const char **p)
{
	uint64_t us = 0;
	unsigned n = 0;
	if (**p != '.')
		return 0;
	for ((*p)++; isdigit((unsigned char)**p); (*p)++, n++)
		if (n < FRACTION_DIGITS)
			us = us * 10 + (uint64_t)(**p - '0');
	for (; n < FRACTION_DIGITS; n++)
		us *= 10;
	return us;
}

/* "Z", "+HH:MM", "+HHMM", "-..." or nothing: offset east of UTC, seconds. */
static bool zone(const char *p, long *offset_s)
{
	*offset_s = 0;
	if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
		return true;
	if (*p != '+' && *p != '-')
		return false;
	int sign = *p++ == '-' ? -1 : 1, hh, mm;
	if (!digits(&p, 2, &hh))
		return false;
	if (*p == ':')
		p++;
	if (!digits(&p, 2, &mm) || *p != '\0' || hh > 23 || mm > 59)
		return false;
	*offset_s = sign * (hh * 3600L + mm * 60L);
	return true;
}

/* The time part after the 'T' or ' ': HH:MM[:SS[.f]][zone]. */
static bool clock_part(const char *p, struct tm *tm, uint64_t *frac_us, long *offset_s)
{
	if (!digits(&p, 2, &tm->tm_hour) || *p++ != ':' || !digits(&p, 2, &tm->tm_min))
		return false;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, &tm->tm_sec))
			return false;
		*frac_us = fraction(&p);
	}
	return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60 && zone(p, offset_s);
}

static int parse_iso(const char *s, uint64_t *us)
{
	struct tm tm;
	uint64_t frac_us = 0;
	long offset_s = 0;
	const char *p = s;
	memset(&tm, 0, sizeof tm);
	if (!digits(&p, 4, &tm.tm_year) || *p++ != '-' || !digits(&p, 2, &tm.tm_mon) || *p++ != '-' ||
	    !digits(&p, 2, &tm.tm_mday))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (!clock_part(p + 1, &tm, &frac_us, &offset_s))
			return -1;
	} else if (!zone(p, &offset_s)) {
		return -1;
	}
	int year = tm.tm_year, mon = tm.tm_mon, mday = tm.tm_mday;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	/* timegm normalises 02-30 to 03-02: refuse dates that do not exist */
	if (t < 0 || tm.tm_year != year - 1900 || tm.tm_mon != mon - 1 || tm.tm_mday != mday)
		return -1;
	if ((long long)t - offset_s < 0)
		return -1;
	*us = (uint64_t)((long long)t - offset_s) * US_PER_S + frac_us;
	return 0;
}

/* "-10m", "2h", ... before now. */
static int parse_relative(const char *s, uint64_t now_us, uint64_t *us)
{
	const char *p = *s == '-' ? s + 1 : s;
	char *end;
	if (!isdigit((unsigned char)*p))
		return -1;
	unsigned long long n = strtoull(p, &end, 10);
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (end[0] != units[i].unit || end[1] != '\0')
			continue;
		if (n > now_us / US_PER_S / units[i].seconds)
			return -1; /* before the epoch */
		*us = now_us - n * units[i].seconds * US_PER_S;
		return 0;
	}
	return -1;
}

static int parse_epoch(const char *s, uint64_t *us)
{
	const char *p = s;
	char *end;
	if (!isdigit((unsigned char)*p))
		return -1;
	unsigned long long n = strtoull(p, &end, 10);
	p = end;
	uint64_t frac_us = fraction(&p);
	if (*p != '\0' || n > UINT64_MAX / US_PER_S - 1)
		return -1;
	*us = n * US_PER_S + frac_us;
	return 0;
}

int when_parse(const char *s, uint64_t now_us, uint64_t *us)
{
	if (strcmp(s, "now") == 0) {
		*us = now_us;
		return 0;
	}
	size_t digits_at_start = strspn(s, "0123456789");
	if (digits_at_start == 4 && s[4] == '-')
		return parse_iso(s, us);
	if (parse_epoch(s, us) == 0)
		return 0;
	return parse_relative(s, now_us, us);
}

static void split(uint64_t us, struct tm *tm)
{
	time_t t = (time_t)(us / US_PER_S);
	gmtime_r(&t, tm);
}

void when_iso(uint64_t us, bool micro, char *buf, size_t size)
{
	struct tm tm;
	char base[WHEN_TEXT_BYTES];
	split(us, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	if (micro)
		snprintf(buf, size, "%s.%06lluZ", base, (unsigned long long)(us % US_PER_S));
	else
		snprintf(buf, size, "%sZ", base);
}

void when_rfc5322(uint64_t us, char *buf, size_t size)
{
	struct tm tm;
	split(us, &tm);
	/* strftime's %a/%b follow the locale: the tool never calls setlocale,
	 * so they are the C locale's English names RFC 5322 wants */
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

void when_mbox(uint64_t us, char *buf, size_t size)
{
	struct tm tm;
	split(us, &tm);
	strftime(buf, size, "%a %b %e %H:%M:%S %Y", &tm);
}
