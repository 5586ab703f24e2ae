/*
 * core/fault_rules.c - fault rule parsing, validation and the rule set (see
 * fault_rules.h for the language).
 *
 * Owns: turning rule text into a struct fault_rule (one malloc'd block per
 * rule holding its canonical text, reply text and domain), the per-stage
 * validation, the canonical form, and the set: a growable array of rules
 * plus an index of rule numbers sorted by stage (stage_start[]), so that
 * fault_decide() (fault.c) walks only the rules of the stage it is asked
 * about.  Does not: decide anything, or read files (the caller hands over a
 * file image).
 *
 * Invariants: a set is changed only by fault_rules_add*(), which leave it
 * either with the new rules or exactly as it was; after either, order[] and
 * stage_start[] describe all count rules and has_mask is up to date.  Every
 * stored text is printable ASCII, so the engine can put it in a reply line.
 *
 * Canonical form: STAGE, then the answer, delay=, p= (omitted when 1),
 * client=, domain=, in that order; reply texts with their enhanced code;
 * durations in the largest whole unit (m, s, ms); p in decimal.  Parsing a
 * canonical text gives the same rule and the same text.
 *
 * Workload: a few to a few thousand rules, parsed at start-up and on SIGHUP;
 * allocation is fine here and nowhere on the decision path.
 */
#include "fault_rules_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* The longest canonical text: stage, reply with FAULT_TEXT_MAX of text,
 * two durations, p, a CIDR and a domain, with their keywords. */
#define FAULT_CANON_MAX (FAULT_RULE_TEXT_MAX + FAULT_TEXT_MAX)
/* Rule text quoted in an error message, before it is cut with "...". */
#define FAULT_ERR_QUOTE_MAX 120u
/* Decimal places of p (and of a percentage, 2 fewer). */
#define FAULT_P_DECIMALS 9u

/* In enum fault_stage order. */
static const char *const stage_names[] = { "connect", "helo", "mail", "rcpt", "data", "bdat", "content", "dot",
					   "rset",    "noop", "quit", "vrfy", "auth", "tls",  "any" };
_Static_assert(sizeof stage_names / sizeof stage_names[0] == FAULT_STAGE_COUNT, "a stage without a name");

const char *fault_stage_name(enum fault_stage st)
{
	if ((unsigned)st < FAULT_STAGE_COUNT)
		return stage_names[st];
	return st == FAULT_STAGE_NONE ? "none" : "?";
}

/* ---- error messages ------------------------------------------------------ */

/* "RULE: reason" into err, the rule cut to FAULT_ERR_QUOTE_MAX bytes and any
 * byte that is not printable ASCII shown as '?', so the message stays one
 * printable line whatever the input was. */
static bool fail(char *err, size_t err_len, const char *rule, size_t rule_len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static bool fail(char *err, size_t err_len, const char *rule, size_t rule_len, const char *fmt, ...)
{
	char quote[FAULT_ERR_QUOTE_MAX + 4], reason[256];
	size_t n = rule_len < FAULT_ERR_QUOTE_MAX ? rule_len : FAULT_ERR_QUOTE_MAX;
	va_list ap;

	if (err == NULL || err_len == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		quote[i] = (unsigned char)rule[i] >= 0x20 && (unsigned char)rule[i] < 0x7f ? rule[i] : '?';
	strcpy(quote + n, rule_len > n ? "..." : "");
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	snprintf(err, err_len, "%s: %s", rule_len ? quote : "(empty)", reason);
	return false;
}

/* ---- values -------------------------------------------------------------- */

/* An item value: a view into the rule text (not NUL-terminated). */
struct val {
	const char *p;
	size_t n;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* A decimal "INT[.FRAC]" at the start of v: *whole = INT (saturated at
 * 10^9 + 1), *frac = FRAC as digits, *places = their count (at most max
 * places, else false).  Returns the bytes read (0: no number). */
static size_t parse_decimal(struct val v, uint64_t *whole, uint64_t *frac, unsigned *places, unsigned max_places)
{
	size_t i = 0;
	*whole = *frac = 0;
	*places = 0;
	for (; i < v.n && is_digit(v.p[i]); i++)
		if (*whole <= 1000000000u)
			*whole = *whole * 10 + (uint64_t)(v.p[i] - '0');
	if (i == 0)
		return 0;
	if (i < v.n && v.p[i] == '.') {
		size_t start = ++i;
		for (; i < v.n && is_digit(v.p[i]); i++) {
			if (*places == max_places)
				return 0;
			*frac = *frac * 10 + (uint64_t)(v.p[i] - '0');
			(*places)++;
		}
		if (i == start)
			return 0;
	}
	return i;
}

static uint64_t pow10u(unsigned k)
{
	uint64_t r = 1;
	while (k--)
		r *= 10;
	return r;
}

/* One DUR as read: NUMBER[.FRAC] and its unit (ms, s, m), if any. */
struct dur {
	uint64_t whole, frac;
	unsigned places;
	uint64_t unit_ms; /* 0: no unit given */
};

static bool scan_dur(struct val v, struct dur *d)
{
	size_t i = parse_decimal(v, &d->whole, &d->frac, &d->places, 3);
	struct val u = { v.p + i, v.n - i };
	if (i == 0)
		return false;
	if (u.n == 2 && memcmp(u.p, "ms", 2) == 0)
		d->unit_ms = 1;
	else if (u.n == 1 && u.p[0] == 's')
		d->unit_ms = 1000;
	else if (u.n == 1 && u.p[0] == 'm')
		d->unit_ms = 60000;
	else if (u.n == 0)
		d->unit_ms = 0;
	else
		return false;
	return true;
}

/* d in unit_ms units, exactly, into *ms; false if finer than 1 ms.  The
 * whole part is saturated near 10^9, so nothing here overflows. */
static bool dur_ms(const struct dur *d, uint64_t unit_ms, uint64_t *ms)
{
	uint64_t scale = pow10u(d->places), scaled = (d->whole * scale + d->frac) * unit_ms;
	*ms = scaled / scale;
	return scaled % scale == 0;
}

/* delay=DUR[-DUR].  A bare number is seconds, except as the first of a
 * range, where it takes the second's unit ("500-1500ms"). */
static const char *parse_delay(struct val v, uint32_t *min_ms, uint32_t *max_ms)
{
	const char *dash = memchr(v.p, '-', v.n);
	struct val a = { v.p, dash ? (size_t)(dash - v.p) : v.n };
	struct dur da, db;
	uint64_t lo, hi;

	if (!scan_dur(a, &da) || (dash && !scan_dur((struct val){ dash + 1, v.n - a.n - 1 }, &db)))
		return "delay= wants DUR or DUR-DUR, DUR a number and ms, s or m";
	if (!dash)
		db = da;
	uint64_t unit_b = db.unit_ms ? db.unit_ms : 1000;
	if (!dur_ms(&da, da.unit_ms ? da.unit_ms : unit_b, &lo) || !dur_ms(&db, unit_b, &hi))
		return "delay= is finer than a millisecond";
	if (lo > FAULT_DELAY_MAX_MS || hi > FAULT_DELAY_MAX_MS)
		return "delay longer than 1h";
	if (lo > hi)
		return "delay range runs backwards";
	if (hi == 0)
		return "delay=0 does nothing";
	*min_ms = (uint32_t)lo;
	*max_ms = (uint32_t)hi;
	return NULL;
}

/* p=PROB: 0 < PROB <= 1 with up to 9 decimals, or NN% with up to 7. */
static const char *parse_p(struct val v, uint32_t *ppb)
{
	bool pct = v.n > 0 && v.p[v.n - 1] == '%';
	struct val num = { v.p, v.n - (pct ? 1u : 0u) };
	uint64_t whole, frac;
	unsigned places;

	if (num.n == 0 || parse_decimal(num, &whole, &frac, &places, FAULT_P_DECIMALS) != num.n)
		return "p= wants a number 0 < p <= 1 (at most 9 decimals) or a percentage";
	uint64_t scaled = whole * FAULT_P_ONE + frac * pow10u(FAULT_P_DECIMALS - places);
	if (pct) {
		if (scaled % 100 != 0)
			return "p= percentage has more than 7 decimals";
		scaled /= 100;
	}
	if (scaled == 0)
		return "p= must be more than 0";
	if (scaled > FAULT_P_ONE)
		return "p= must be at most 1 (100%)";
	*ppb = (uint32_t)scaled;
	return NULL;
}

/* Does s start with an enhanced status code "D.D{1,3}.D{1,3}" followed by
 * a space or the end (RFC 3463 2)?  Sets *cls to its class digit. */
static bool has_enhanced_code(const char *s, size_t n, char *cls)
{
	size_t i = 0;
	if (n < 5 || !is_digit(s[0]) || s[1] != '.')
		return false;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < n && is_digit(s[i]) && i - start < 4)
			i++;
		if (i == start || i - start > 3)
			return false;
		if (part == 0 && (i >= n || s[i++] != '.'))
			return false;
	}
	if (i < n && s[i] != ' ')
		return false;
	*cls = s[0];
	return true;
}

/* CODE[ TEXT] into *code and the normalised text (out, NUL-terminated;
 * empty only for a 3xx without text). */
static const char *parse_code_text(struct val v, uint16_t *code, char *out)
{
	if (v.n < 3 || !is_digit(v.p[0]) || !is_digit(v.p[1]) || !is_digit(v.p[2]) || (v.n > 3 && v.p[3] != ' '))
		return "a reply wants a 3-digit code, then optionally a space and text";
	unsigned c = (unsigned)(v.p[0] - '0') * 100 + (unsigned)(v.p[1] - '0') * 10 + (unsigned)(v.p[2] - '0');
	if (c < 200 || c > 599)
		return "reply code must be 200..599";
	*code = (uint16_t)c;
	const char *t = v.n > 3 ? v.p + 4 : v.p + 3;
	size_t tn = v.n > 3 ? v.n - 4 : 0;
	char cls;
	size_t len = 0;
	if (v.p[0] != '3') { /* 3xx texts (354, a 334 challenge) carry no enhanced code */
		if (!has_enhanced_code(t, tn, &cls)) {
			out[0] = v.p[0];
			memcpy(out + 1, ".0.0", 4);
			len = 5;
			if (tn > 0)
				out[len++] = ' ';
		} else if (cls != v.p[0]) {
			return "enhanced status code class differs from the reply code's";
		}
	}
	if (len + tn > FAULT_TEXT_MAX)
		return "reply text longer than 400 bytes";
	memcpy(out + len, t, tn);
	out[len + tn] = '\0';
	return NULL;
}

/* domain=[*.]LABEL{.LABEL}: letters, digits, '-', '_'; stored in lower
 * case, a wildcard as its ".suffix". */
static const char *parse_domain(struct val v, char *out, size_t *out_len, bool *wild)
{
	*wild = v.n >= 2 && v.p[0] == '*' && v.p[1] == '.';
	struct val d = { v.p + (*wild ? 1 : 0), v.n - (*wild ? 1u : 0u) };
	if (d.n == 0 || d.n > FAULT_DOMAIN_MAX)
		return "domain= wants a domain of 1..255 bytes, or *.DOMAIN";
	bool label_empty = !*wild; /* a wildcard's suffix starts with its '.' */
	for (size_t i = 0; i < d.n; i++) {
		char c = d.p[i];
		if (c == '.') {
			if (label_empty && i > 0)
				return "domain= has an empty label";
			label_empty = true;
		} else if (is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' || c == '_') {
			label_empty = false;
		} else {
			return "domain= allows letters, digits, '-', '_' and '.' (and a leading \"*.\")";
		}
		out[i] = lower(c);
	}
	if (label_empty || (!*wild && d.p[0] == '.'))
		return "domain= has an empty label";
	out[d.n] = '\0';
	*out_len = d.n;
	return NULL;
}

/* ---- items --------------------------------------------------------------- */

enum item_kind {
	ITEM_REPLY,
	ITEM_CLOSE,
	ITEM_DISCONNECT,
	ITEM_FAIL,
	ITEM_DELAY,
	ITEM_P,
	ITEM_CLIENT,
	ITEM_DOMAIN,
	ITEM_COUNT,
};

/* Item keywords; "close" and "disconnect" are keywords when followed by
 * '=', ':' or the end, the others end with their '='. */
static const struct {
	const char *word;
	bool bare;
} item_words[ITEM_COUNT] = {
	[ITEM_REPLY] = { "reply=", false },	    [ITEM_CLOSE] = { "close", true },
	[ITEM_DISCONNECT] = { "disconnect", true }, [ITEM_FAIL] = { "fail", true },
	[ITEM_DELAY] = { "delay=", false },	    [ITEM_P] = { "p=", false },
	[ITEM_CLIENT] = { "client=", false },	    [ITEM_DOMAIN] = { "domain=", false },
};

/* The item keyword s[0..n) starts with, or ITEM_COUNT. */
static enum item_kind item_at(const char *s, size_t n)
{
	for (int k = 0; k < ITEM_COUNT; k++) {
		size_t w = strlen(item_words[k].word);
		if (n < w || memcmp(s, item_words[k].word, w) != 0)
			continue;
		if (!item_words[k].bare || n == w || s[w] == '=' || s[w] == ':')
			return (enum item_kind)k;
	}
	return ITEM_COUNT;
}

/* A rule being parsed: the rule plus its texts, before they are copied. */
struct draft {
	struct fault_rule r;
	bool seen[ITEM_COUNT];
	char text[FAULT_TEXT_MAX + 1];
	char domain[FAULT_DOMAIN_MAX + 1];
	size_t domain_len;
};

static const char *parse_item(struct draft *d, enum item_kind k, struct val v)
{
	char cidr_text[CIDR_TEXT_MAX];
	bool answer = k == ITEM_REPLY || k == ITEM_CLOSE || k == ITEM_DISCONNECT || k == ITEM_FAIL;

	if (answer && d->r.answer != FAULT_ANSWER_NONE)
		return "more than one answer (reply=, close, disconnect, fail)";
	if (!answer && d->seen[k])
		return "an item appears twice";
	d->seen[k] = true;
	switch (k) {
	case ITEM_REPLY:
		d->r.answer = FAULT_ANSWER_REPLY;
		return parse_code_text(v, &d->r.code, d->text);
	case ITEM_CLOSE:
		d->r.answer = FAULT_ANSWER_CLOSE;
		d->r.code = FAULT_CLOSE_DEFAULT_CODE;
		if (v.p == NULL)
			return NULL;
		d->r.has_text = true;
		return parse_code_text(v, &d->r.code, d->text);
	case ITEM_DISCONNECT:
		d->r.answer = FAULT_ANSWER_DISCONNECT;
		return v.p == NULL ? NULL : "disconnect takes no value";
	case ITEM_FAIL:
		d->r.answer = FAULT_ANSWER_FAIL;
		return v.p == NULL ? NULL : "fail takes no value";
	case ITEM_DELAY:
		return parse_delay(v, &d->r.delay_min_ms, &d->r.delay_max_ms);
	case ITEM_P:
		return parse_p(v, &d->r.p_ppb);
	case ITEM_CLIENT:
		if (v.n == 0 || v.n >= sizeof cidr_text)
			return "client= wants ADDR or ADDR/BITS";
		memcpy(cidr_text, v.p, v.n);
		cidr_text[v.n] = '\0';
		d->r.has_client = true;
		return cidr_parse(cidr_text, &d->r.client) ? NULL : "client= wants ADDR or ADDR/BITS, host bits zero";
	case ITEM_DOMAIN:
		return parse_domain(v, d->domain, &d->domain_len, &d->r.domain_wild);
	case ITEM_COUNT:
		break;
	}
	return "unknown item";
}

/* Which reply classes (bit per first digit) a stage may answer with.  A
 * 2xx/3xx reply replaces the success text, so it must be the class the
 * command succeeds with (DATA: 354; AUTH: 334 or 235). */
static unsigned reply_classes(enum fault_stage st)
{
	switch (st) {
	case FAULT_STAGE_CONNECT:
	case FAULT_STAGE_DOT:
	case FAULT_STAGE_TLS:
	case FAULT_STAGE_ANY:
		return 1u << 4 | 1u << 5;
	case FAULT_STAGE_CONTENT:
		return 0;
	case FAULT_STAGE_DATA:
		return 1u << 3 | 1u << 4 | 1u << 5;
	case FAULT_STAGE_AUTH:
		return 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5;
	default:
		return 1u << 2 | 1u << 4 | 1u << 5;
	}
}

/* The checks that need the whole rule. */
static const char *validate(const struct draft *d)
{
	const struct fault_rule *r = &d->r;
	if (r->answer == FAULT_ANSWER_NONE && r->delay_max_ms == 0)
		return "needs an answer (reply=, close, disconnect, fail) or a delay=";
	if (r->answer == FAULT_ANSWER_FAIL && r->stage != FAULT_STAGE_TLS)
		return "fail is only for the tls stage";
	if (d->seen[ITEM_DOMAIN] && r->stage != FAULT_STAGE_MAIL && r->stage != FAULT_STAGE_RCPT)
		return "domain= is only for the mail and rcpt stages";
	if (r->answer == FAULT_ANSWER_REPLY && !(reply_classes(r->stage) >> (r->code / 100) & 1u)) {
		if (r->stage == FAULT_STAGE_CONTENT)
			return "content allows only delay=, close and disconnect";
		if (reply_classes(r->stage) == (1u << 4 | 1u << 5))
			return "this stage allows only 4xx and 5xx replies";
		return "this stage does not succeed with that reply class";
	}
	if (r->answer == FAULT_ANSWER_CLOSE && r->code < 400)
		return "close code must be 4xx or 5xx";
	return NULL;
}

/* ---- canonical text ------------------------------------------------------ */

/* A duration in its largest whole unit. */
static int put_dur(char *buf, size_t n, uint32_t ms)
{
	if (ms == 0)
		return snprintf(buf, n, "0s");
	if (ms % 60000 == 0)
		return snprintf(buf, n, "%um", (unsigned)(ms / 60000));
	if (ms % 1000 == 0)
		return snprintf(buf, n, "%us", (unsigned)(ms / 1000));
	return snprintf(buf, n, "%ums", (unsigned)ms);
}

/* Append to buf[*len..cap); the caller's cap holds the longest rule. */
static void put(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (*len + n < cap) {
		memcpy(buf + *len, s, n + 1);
		*len += n;
	}
}

static size_t canon(const struct draft *d, char *buf, size_t cap)
{
	const struct fault_rule *r = &d->r;
	char tmp[FAULT_TEXT_MAX + 32];
	size_t len = 0;
	buf[0] = '\0';
	put(buf, cap, &len, stage_names[r->stage]);
	if (r->answer == FAULT_ANSWER_REPLY || (r->answer == FAULT_ANSWER_CLOSE && r->has_text)) {
		snprintf(tmp, sizeof tmp, ":%s=%u%s%s", r->answer == FAULT_ANSWER_REPLY ? "reply" : "close",
			 (unsigned)r->code, d->text[0] ? " " : "", d->text);
		put(buf, cap, &len, tmp);
	} else if (r->answer == FAULT_ANSWER_CLOSE) {
		put(buf, cap, &len, ":close");
	} else if (r->answer == FAULT_ANSWER_DISCONNECT) {
		put(buf, cap, &len, ":disconnect");
	} else if (r->answer == FAULT_ANSWER_FAIL) {
		put(buf, cap, &len, ":fail");
	}
	if (r->delay_max_ms) {
		put(buf, cap, &len, ":delay=");
		put_dur(tmp, sizeof tmp, r->delay_min_ms);
		put(buf, cap, &len, tmp);
		if (r->delay_max_ms != r->delay_min_ms) {
			put(buf, cap, &len, "-");
			put_dur(tmp, sizeof tmp, r->delay_max_ms);
			put(buf, cap, &len, tmp);
		}
	}
	if (r->p_ppb != FAULT_P_ONE) {
		int n = snprintf(tmp, sizeof tmp, ":p=0.%09u", (unsigned)r->p_ppb);
		while (n > 0 && tmp[n - 1] == '0')
			tmp[--n] = '\0';
		put(buf, cap, &len, tmp);
	}
	if (r->has_client) {
		put(buf, cap, &len, ":client=");
		cidr_format(&r->client, tmp);
		put(buf, cap, &len, tmp);
	}
	if (d->seen[ITEM_DOMAIN]) {
		put(buf, cap, &len, r->domain_wild ? ":domain=*" : ":domain=");
		put(buf, cap, &len, d->domain);
	}
	return len;
}

/* ---- one rule ------------------------------------------------------------ */

/* The stage named by s[0..n), or FAULT_STAGE_COUNT. */
static enum fault_stage stage_named(const char *s, size_t n)
{
	for (int st = 0; st < FAULT_STAGE_COUNT; st++)
		if (strlen(stage_names[st]) == n && memcmp(stage_names[st], s, n) == 0)
			return (enum fault_stage)st;
	return FAULT_STAGE_COUNT;
}

/* Parse text[0..len) into d; false with err filled. */
static bool parse_rule(const char *text, size_t len, struct draft *d, char *err, size_t err_len)
{
	memset(d, 0, sizeof *d);
	d->r.p_ppb = FAULT_P_ONE;
	if (len == 0)
		return fail(err, err_len, text, len, "empty rule");
	if (len > FAULT_RULE_TEXT_MAX)
		return fail(err, err_len, text, len, "rule longer than %u bytes", FAULT_RULE_TEXT_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f)
			return fail(err, err_len, text, len, "control or non-ASCII byte at offset %zu", i);
	const char *colon = memchr(text, ':', len);
	if (colon == NULL)
		return fail(err, err_len, text, len, "wants STAGE:ITEM[:ITEM...]");
	d->r.stage = stage_named(text, (size_t)(colon - text));
	if (d->r.stage == FAULT_STAGE_COUNT)
		return fail(err, err_len, text, len, "unknown stage \"%.*s\"", (int)(colon - text), text);
	for (size_t at = (size_t)(colon - text) + 1;;) {
		/* The item runs to the next ':' that starts a keyword. */
		size_t end = at;
		while (end < len && !(text[end] == ':' && item_at(text + end + 1, len - end - 1) != ITEM_COUNT))
			end++;
		enum item_kind k = item_at(text + at, end - at);
		if (k == ITEM_COUNT)
			return fail(err, err_len, text, len, end == at ? "empty item" : "unknown item \"%.*s\"",
				    (int)(end - at), text + at);
		size_t w = strlen(item_words[k].word);
		struct val v = { NULL, 0 };
		if (!item_words[k].bare)
			v = (struct val){ text + at + w, end - at - w };
		else if (at + w < end) /* close=..., disconnect=... */
			v = (struct val){ text + at + w + 1, end - at - w - 1 };
		const char *why = parse_item(d, k, v);
		if (why)
			return fail(err, err_len, text, len, "%s", why);
		if (end == len)
			break;
		at = end + 1;
	}
	const char *why = validate(d);
	if (why)
		return fail(err, err_len, text, len, "%s", why);
	return true;
}

/* Copy the draft's texts into one block owned by the rule. */
static bool commit(struct draft *d, struct fault_rule *out)
{
	char canon_text[FAULT_CANON_MAX];
	size_t clen = canon(d, canon_text, sizeof canon_text), tlen = strlen(d->text);
	bool has_text = d->r.answer == FAULT_ANSWER_REPLY || d->r.has_text;
	char *block = malloc(clen + 1 + tlen + 1 + d->domain_len + 1);
	if (block == NULL)
		return false;
	*out = d->r;
	out->canon = block;
	memcpy(block, canon_text, clen + 1);
	out->text = has_text ? block + clen + 1 : NULL;
	memcpy(block + clen + 1, d->text, tlen + 1);
	out->domain = d->seen[ITEM_DOMAIN] ? block + clen + 1 + tlen + 1 : NULL;
	out->domain_len = d->domain_len;
	memcpy(block + clen + 1 + tlen + 1, d->domain, d->domain_len + 1);
	return true;
}

/* ---- the set ------------------------------------------------------------- */

struct fault_rules *fault_rules_new(void)
{
	return calloc(1, sizeof(struct fault_rules));
}

static void drop_from(struct fault_rules *r, uint32_t keep)
{
	while (r->count > keep)
		free(r->rules[--r->count].canon);
}

void fault_rules_free(struct fault_rules *r)
{
	if (r == NULL)
		return;
	drop_from(r, 0);
	free(r->rules);
	free(r->order);
	free(r);
}

/* Room for one more rule in rules[] and order[] (same capacity, so the
 * index rebuild never allocates). */
static bool grow(struct fault_rules *r)
{
	size_t rules_cap = r->cap, order_cap = r->cap;
	/* both grow by the same rule; until both did, cap stays the old one */
	if (!grow_array((void **)&r->rules, &rules_cap, (size_t)r->count + 1, sizeof *r->rules, 16) ||
	    !grow_array((void **)&r->order, &order_cap, (size_t)r->count + 1, sizeof *r->order, 16))
		return false;
	r->cap = rules_cap;
	return true;
}

/* order[] by stage (stable, a counting sort), stage_start[], has_mask. */
static void reindex(struct fault_rules *r)
{
	uint32_t n[FAULT_STAGE_COUNT] = { 0 };
	for (uint32_t i = 0; i < r->count; i++)
		n[r->rules[i].stage]++;
	r->stage_start[0] = 0;
	for (int st = 0; st < FAULT_STAGE_COUNT; st++)
		r->stage_start[st + 1] = r->stage_start[st] + n[st];
	uint32_t at[FAULT_STAGE_COUNT];
	memcpy(at, r->stage_start, sizeof at);
	for (uint32_t i = 0; i < r->count; i++)
		r->order[at[r->rules[i].stage]++] = i;
	r->has_mask = 0;
	for (int st = 0; st < FAULT_STAGE_COUNT; st++)
		if (n[st])
			r->has_mask |= 1u << st;
	if (n[FAULT_STAGE_ANY]) /* commands fall back to "any" rules */
		for (int st = 0; st <= FAULT_STAGE_NONE; st++)
			if (fault_stage_takes_any((enum fault_stage)st))
				r->has_mask |= 1u << st;
}

/* Parse and append one rule, without reindexing. */
static bool add_one(struct fault_rules *r, const char *text, size_t len, char *err, size_t err_len)
{
	struct draft d;
	if (!parse_rule(text, len, &d, err, err_len))
		return false;
	if (r->count == FAULT_RULES_MAX)
		return fail(err, err_len, text, len, "more than %u rules", FAULT_RULES_MAX);
	if (!grow(r) || !commit(&d, &r->rules[r->count]))
		return fail(err, err_len, text, len, "out of memory");
	r->count++;
	return true;
}

bool fault_rules_add(struct fault_rules *r, const char *text, char *err, size_t err_len)
{
	if (!add_one(r, text, strlen(text), err, err_len))
		return false;
	reindex(r);
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool fault_rules_add_file(struct fault_rules *r, const char *name, const char *text, size_t len, char *err,
			  size_t err_len)
{
	uint32_t before = r->count;
	unsigned line_no = 0;
	char why[FAULT_ERR_MAX];

	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, s = at, e = end;
		at = end + 1;
		line_no++;
		while (s < e && is_blank(text[s]))
			s++;
		while (e > s && is_blank(text[e - 1]))
			e--;
		if (s == e || text[s] == '#')
			continue;
		if (!add_one(r, text + s, e - s, why, sizeof why)) {
			if (err && err_len)
				snprintf(err, err_len, "%s:%u: %s", name, line_no, why);
			drop_from(r, before);
			reindex(r);
			return false;
		}
	}
	reindex(r);
	return true;
}

uint32_t fault_rules_count(const struct fault_rules *r)
{
	return r ? r->count : 0;
}

const char *fault_rules_text(const struct fault_rules *r, uint32_t i)
{
	return r && i < r->count ? r->rules[i].canon : NULL;
}

bool fault_rules_has_stage(const struct fault_rules *r, enum fault_stage st)
{
	return r && (unsigned)st <= FAULT_STAGE_NONE && (r->has_mask >> st & 1u);
}
