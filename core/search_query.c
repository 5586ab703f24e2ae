/*
 * core/search_query.c - the search-query language (see search_query.h).
 *
 * Owns: splitting a query into terms, negation, the field prefixes, quoted
 * phrases and their two escapes, and the values of the typed prefixes:
 * dates (YYYY-MM-DD, RFC 3339), sizes (a number and a 1024-based unit) and
 * the is:/has: flags.  Does not: know SQL, fold case in values (the index
 * compares case-insensitively), allocate, or read a clock.
 *
 * Rules beyond the header, where Mailpit is loose and we are strict:
 * - Blanks are ASCII space, TAB, CR, LF, VT and FF.  A term ends at a blank.
 * - A quote opens a phrase only where a value starts (after the negation
 *   and a known prefix); a quote anywhere else is a literal character, as
 *   are the quotes of `foo:"a b"` (foo: is no prefix).  Inside a phrase \"
 *   is a quote and \\ a backslash; a backslash before anything else stays.
 *   The closing quote must end the term: `"a"b` is an error, not two terms.
 * - A lone '-' or '!' is free text (as in Mailpit), and so is the second
 *   '-' of "--x" (the term is "-x", negated).
 * - An empty value ("to:", `to:""`, `""`) is an error, never "match all".
 * - Dates: YYYY-MM-DD is UTC midnight; RFC 3339 is DATE "T" TIME with
 *   seconds, an optional fraction (microseconds kept, further digits
 *   dropped) and Z or +HH:MM/-HH:MM ('t', 'z' and a blank for "T" too, as
 *   RFC 3339 5.6 allows).  Leap seconds (60) and times before 1970 are
 *   refused: value_us could not name them.
 * - Sizes: digits, an optional fraction of up to SIZE_FRACTION_MAX digits
 *   with K/M/G only (1.5M = 1572864, truncated to whole bytes), and an
 *   optional unit B, K, KB, M, MB, G, GB in any case; anything past
 *   2^64-1 bytes is an error.
 *
 * Invariants: every term's text is NUL-terminated and at most
 * SEARCH_TERM_MAX_BYTES; typed fields (is:, has:, dates, sizes) keep no
 * text (text_len 0).  The input is read within [0, len) only.
 * Workload: one query per API request, O(length), a few KB at most.
 */
#include "search_query.h"

#include <string.h>

#include "utf8.h"

#define SIZE_FRACTION_MAX 9u /* 10^9 * 2^30 still fits 64 bits */
#define US_PER_SECOND 1000000ull
#define SECONDS_PER_DAY 86400ull
#define RFC3339_FRACTION_US_DIGITS 6u

struct prefix {
	const char *name; /* with its colon, lower case */
	enum search_field field;
};

static const struct prefix prefixes[] = {
	{ "to:", SEARCH_TO },	    { "from:", SEARCH_FROM },	       { "cc:", SEARCH_CC },
	{ "bcc:", SEARCH_BCC },	    { "subject:", SEARCH_SUBJECT },    { "message-id:", SEARCH_MESSAGE_ID },
	{ "is:", SEARCH_IS_READ },  { "has:", SEARCH_HAS_ATTACHMENT }, { "before:", SEARCH_BEFORE },
	{ "after:", SEARCH_AFTER }, { "larger:", SEARCH_LARGER },      { "smaller:", SEARCH_SMALLER },
};

/* The input being parsed; pos only moves forward. */
struct cursor {
	const char *s;
	size_t len;
	size_t pos;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Does t[0, n) equal the lower-case word w, ignoring case? */
static bool equal_nocase(const char *t, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(t[i]) != w[i])
			return false;
	return true;
}

/* The known prefix at the cursor, or NULL. */
static const struct prefix *match_prefix(const struct cursor *c)
{
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t n = strlen(prefixes[i].name);
		if (c->len - c->pos >= n && equal_nocase(c->s + c->pos, n, prefixes[i].name))
			return &prefixes[i];
	}
	return NULL;
}

/* Append one byte to the term's text; false when it would pass the bound. */
static bool text_push(struct search_term *t, char ch)
{
	if (t->text_len == SEARCH_TERM_MAX_BYTES)
		return false;
	t->text[t->text_len++] = ch;
	return true;
}

/* A bare word: up to the next blank, every byte literal. */
static enum search_status read_word(struct cursor *c, struct search_term *t, size_t *err_at)
{
	for (; c->pos < c->len && !is_blank(c->s[c->pos]); c->pos++) {
		if (!text_push(t, c->s[c->pos])) {
			*err_at = c->pos;
			return SEARCH_TERM_TOO_LONG;
		}
	}
	return SEARCH_OK;
}

/* A quoted phrase at the cursor's quote, up to and past its closing quote,
 * which must end the term. */
static enum search_status read_phrase(struct cursor *c, struct search_term *t, size_t *err_at)
{
	size_t open = c->pos++;
	t->phrase = true;
	while (c->pos < c->len && c->s[c->pos] != '"') {
		char ch = c->s[c->pos++];
		if (ch == '\\' && c->pos < c->len && (c->s[c->pos] == '"' || c->s[c->pos] == '\\'))
			ch = c->s[c->pos++];
		if (!text_push(t, ch)) {
			*err_at = c->pos - 1;
			return SEARCH_TERM_TOO_LONG;
		}
	}
	if (c->pos == c->len) {
		*err_at = open;
		return SEARCH_UNTERMINATED_QUOTE;
	}
	c->pos++;
	if (c->pos < c->len && !is_blank(c->s[c->pos])) {
		*err_at = c->pos;
		return SEARCH_UNTERMINATED_QUOTE;
	}
	return SEARCH_OK;
}

/* n decimal digits at t as a number; false unless all are digits. */
static bool digits(const char *t, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(t[i]))
			return false;
		v = v * 10 + (unsigned)(t[i] - '0');
	}
	*out = v;
	return true;
}

static bool leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian); y >= 1970. */
static uint64_t days_since_epoch(unsigned y, unsigned m, unsigned d)
{
	static const unsigned before_month[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	uint64_t days = 0;
	for (unsigned year = 1970; year < y; year++)
		days += leap_year(year) ? 366 : 365;
	days += before_month[m - 1] + (m > 2 && leap_year(y)) + (d - 1);
	return days;
}

/* "YYYY-MM-DD" at t[0, 10) as days since the epoch.  Before 1970 only
 * 1969-12-31 can still name a time after the epoch (with a negative
 * offset), so it is -1 and every earlier day -2: negative either way. */
static bool parse_full_date(const char *t, int64_t *days)
{
	static const unsigned month_days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d;
	if (!digits(t, 4, &y) || t[4] != '-' || !digits(t + 5, 2, &m) || t[7] != '-' || !digits(t + 8, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > month_days[m - 1] || (m == 2 && d == 29 && !leap_year(y)))
		return false;
	if (y >= 1970)
		*days = (int64_t)days_since_epoch(y, m, d);
	else
		*days = y == 1969 && m == 12 && d == 31 ? -1 : -2;
	return true;
}

/* "HH:MM:SS[.frac]" at t[0, n): seconds of the day and microseconds; *used
 * is how many bytes it took. */
static bool parse_time(const char *t, size_t n, uint64_t *us, size_t *used)
{
	unsigned h, mi, s;
	if (n < 8 || !digits(t, 2, &h) || t[2] != ':' || !digits(t + 3, 2, &mi) || t[5] != ':' ||
	    !digits(t + 6, 2, &s) || h > 23 || mi > 59 || s > 59)
		return false;
	uint64_t frac = 0;
	size_t i = 8;
	if (i < n && t[i] == '.') {
		size_t start = ++i;
		for (; i < n && is_digit(t[i]); i++)
			if (i - start < RFC3339_FRACTION_US_DIGITS)
				frac = frac * 10 + (uint64_t)(t[i] - '0');
		if (i == start)
			return false;
		for (size_t k = i - start; k < RFC3339_FRACTION_US_DIGITS; k++)
			frac *= 10;
	}
	*us = ((uint64_t)h * 3600 + mi * 60 + s) * US_PER_SECOND + frac;
	*used = i;
	return true;
}

/* "Z" or "+HH:MM" / "-HH:MM" filling t[0, n) exactly: seconds east of UTC. */
static bool parse_offset(const char *t, size_t n, int64_t *east_s)
{
	unsigned h, m;
	if (n == 1 && (t[0] == 'Z' || t[0] == 'z')) {
		*east_s = 0;
		return true;
	}
	if (n != 6 || (t[0] != '+' && t[0] != '-') || !digits(t + 1, 2, &h) || t[3] != ':' || !digits(t + 4, 2, &m) ||
	    h > 23 || m > 59)
		return false;
	*east_s = (t[0] == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
	return true;
}

/* A date or an RFC 3339 time in t[0, n) as microseconds since the epoch. */
static bool parse_date(const char *t, size_t n, uint64_t *us)
{
	int64_t days, east_s;
	uint64_t time_us;
	size_t used;
	if (n < 10 || !parse_full_date(t, &days))
		return false;
	if (n == 10) {
		if (days < 0)
			return false;
		*us = (uint64_t)days * SECONDS_PER_DAY * US_PER_SECOND;
		return true;
	}
	if (t[10] != 'T' && t[10] != 't' && t[10] != ' ')
		return false;
	if (!parse_time(t + 11, n - 11, &time_us, &used) || !parse_offset(t + 11 + used, n - 11 - used, &east_s))
		return false;
	int64_t total =
		days * (int64_t)(SECONDS_PER_DAY * US_PER_SECOND) + (int64_t)time_us - east_s * (int64_t)US_PER_SECOND;
	if (total < 0)
		return false;
	*us = (uint64_t)total;
	return true;
}

/* The unit at t[0, n) (any case): its multiplier, or 0 if unknown. */
static uint64_t size_unit(const char *t, size_t n)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
		{ "", 1 },	     { "b", 1 },	   { "k", 1ull << 10 }, { "kb", 1ull << 10 },
		{ "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "g", 1ull << 30 }, { "gb", 1ull << 30 },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (equal_nocase(t, n, units[i].name))
			return units[i].mult;
	return 0;
}

/* A size in t[0, n) as bytes. */
static bool parse_size(const char *t, size_t n, uint64_t *bytes)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	size_t i = 0;
	for (; i < n && is_digit(t[i]); i++) {
		unsigned dgt = (unsigned)(t[i] - '0');
		if (whole > (UINT64_MAX - dgt) / 10)
			return false;
		whole = whole * 10 + dgt;
	}
	if (i == 0)
		return false;
	bool has_fraction = i < n && t[i] == '.';
	if (has_fraction) {
		size_t start = ++i;
		for (; i < n && is_digit(t[i]); i++) {
			if (i - start == SIZE_FRACTION_MAX)
				return false;
			frac = frac * 10 + (uint64_t)(t[i] - '0');
			scale *= 10;
		}
		if (i == start)
			return false;
	}
	uint64_t mult = size_unit(t + i, n - i);
	if (mult == 0 || (has_fraction && mult == 1) || whole > UINT64_MAX / mult)
		return false;
	uint64_t part = frac * mult / scale;
	if (whole * mult > UINT64_MAX - part)
		return false;
	*bytes = whole * mult + part;
	return true;
}

/* Turn a typed field's text into its value and drop the text. */
static enum search_status typed_value(struct search_term *t)
{
	const char *v = t->text;
	size_t n = t->text_len;
	enum search_status st = SEARCH_OK;
	switch (t->field) {
	case SEARCH_IS_READ:
		if (equal_nocase(v, n, "unread"))
			t->negated = !t->negated;
		else if (!equal_nocase(v, n, "read"))
			st = SEARCH_BAD_FLAG;
		break;
	case SEARCH_HAS_ATTACHMENT:
		if (!equal_nocase(v, n, "attachment") && !equal_nocase(v, n, "attachments"))
			st = SEARCH_BAD_FLAG;
		break;
	case SEARCH_BEFORE:
	case SEARCH_AFTER:
		if (!parse_date(v, n, &t->value))
			st = SEARCH_BAD_DATE;
		break;
	case SEARCH_LARGER:
	case SEARCH_SMALLER:
		if (!parse_size(v, n, &t->value))
			st = SEARCH_BAD_SIZE;
		break;
	default:
		return SEARCH_OK; /* a text field keeps its text */
	}
	t->text_len = 0;
	t->text[0] = '\0';
	return st;
}

/* One term starting at the cursor (not at a blank nor at the end). */
static enum search_status parse_term(struct cursor *c, struct search_term *t, size_t *err_at)
{
	memset(t, 0, offsetof(struct search_term, text));
	t->text[0] = '\0';
	t->field = SEARCH_TEXT;
	char first = c->s[c->pos];
	if ((first == '-' || first == '!') && c->pos + 1 < c->len && !is_blank(c->s[c->pos + 1])) {
		t->negated = true;
		c->pos++;
	}
	const struct prefix *p = match_prefix(c);
	if (p != NULL) {
		t->field = p->field;
		c->pos += strlen(p->name);
	}
	size_t value_at = c->pos;
	enum search_status st =
		c->pos < c->len && c->s[c->pos] == '"' ? read_phrase(c, t, err_at) : read_word(c, t, err_at);
	if (st != SEARCH_OK)
		return st;
	t->text[t->text_len] = '\0';
	*err_at = value_at;
	if (t->text_len == 0)
		return SEARCH_EMPTY_VALUE;
	return typed_value(t);
}

/* The offset of the first NUL or invalid UTF-8 byte, or len if none. */
static size_t first_bad_byte(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_next((const uint8_t *)s + i, len - i);
		if (n == 0 || s[i] == '\0')
			return i;
		i += n;
	}
	return len;
}

enum search_status search_query_parse(const char *s, size_t len, struct search_query *q, size_t *err_at)
{
	q->count = 0;
	*err_at = 0;
	if (len > SEARCH_QUERY_MAX_BYTES) {
		*err_at = SEARCH_QUERY_MAX_BYTES;
		return SEARCH_TOO_LONG;
	}
	size_t bad = first_bad_byte(s, len);
	if (bad != len) {
		*err_at = bad;
		return SEARCH_BAD_BYTES;
	}
	struct cursor c = { .s = s, .len = len, .pos = 0 };
	for (;;) {
		while (c.pos < len && is_blank(s[c.pos]))
			c.pos++;
		if (c.pos == len)
			return SEARCH_OK;
		if (q->count == SEARCH_QUERY_MAX_TERMS) {
			*err_at = c.pos;
			return SEARCH_TOO_MANY_TERMS;
		}
		enum search_status st = parse_term(&c, &q->terms[q->count], err_at);
		if (st != SEARCH_OK)
			return st;
		q->count++;
	}
}

const char *search_status_text(enum search_status st)
{
	switch (st) {
	case SEARCH_OK:
		return "ok";
	case SEARCH_TOO_LONG:
		return "search query too long";
	case SEARCH_TOO_MANY_TERMS:
		return "too many search terms";
	case SEARCH_TERM_TOO_LONG:
		return "search term too long";
	case SEARCH_UNTERMINATED_QUOTE:
		return "unterminated quoted phrase (a closing quote must end the term)";
	case SEARCH_EMPTY_VALUE:
		return "empty search value";
	case SEARCH_BAD_DATE:
		return "unparsable date in before:/after: (YYYY-MM-DD or RFC 3339)";
	case SEARCH_BAD_SIZE:
		return "unparsable size in larger:/smaller: (a number with B, K, KB, M, MB, G or GB)";
	case SEARCH_BAD_FLAG:
		return "unknown value for is: (read, unread) or has: (attachment)";
	case SEARCH_BAD_BYTES:
		return "NUL or invalid UTF-8 in the search query";
	}
	return "unknown search error";
}
