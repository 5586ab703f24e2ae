/*
 * mime/mime_snippet.c - Mailpit's message preview (mime_snippet.h).
 *
 * Owns: a small HTML-to-text scan (not a parser: enough for a preview,
 * and it never allocates) and the blank-collapsing writer.  The scan is
 * linear: a closing tag that was searched for in vain is not searched
 * for again.  The writer
 * stops taking text once it holds more than MIME_SNIPPET_LIMIT_BYTES, so
 * a huge body costs one scan up to that point and no more.
 * Invariants: out is NUL-terminated and valid UTF-8 (whole sequences are
 * copied, cuts fall between them); no read past a NUL.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_snippet.h"
#include "utf8.h"

#define SNIPPET_WORK_BYTES (MIME_SNIPPET_LIMIT_BYTES + 8u) /* one sequence past the limit */
#define TAG_NAME_MAX 16u
#define ENTITY_MAX 10u

/* Collects text with blanks collapsed; full once past the limit. */
struct snip {
	char buf[SNIPPET_WORK_BYTES];
	size_t len;
	bool blank; /* a blank is pending (written before the next text) */
	unsigned unclosed; /* bit i: no closing tag of skipped[i] follows any more */
};

/* Elements whose content is not text (their closers are searched for). */
static const char *const skipped[] = { "script", "style", "title", "noscript", "head" };
#define SKIPPED_COUNT (sizeof skipped / sizeof skipped[0])

static bool snip_full(const struct snip *s)
{
	return s->len > MIME_SNIPPET_LIMIT_BYTES;
}

static void snip_blank(struct snip *s)
{
	s->blank = s->len > 0; /* leading blanks are trimmed */
}

/* One character (n bytes of valid UTF-8). */
static void snip_char(struct snip *s, const char *p, size_t n)
{
	if (snip_full(s))
		return;
	if (s->blank && s->len < sizeof s->buf - 1)
		s->buf[s->len++] = ' ';
	s->blank = false;
	if (s->len + n < sizeof s->buf) {
		memcpy(s->buf + s->len, p, n);
		s->len += n;
	} else {
		s->len = MIME_SNIPPET_LIMIT_BYTES + 1; /* full: nothing more fits anyway */
	}
}

/* White space as Go's regexp \s (tab, LF, FF, CR, blank), plus the
 * controls and U+FEFF that html2text blanks when html is set. */
static bool is_blank(const uint8_t *p, size_t n, bool html)
{
	if (n == 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\f' || p[0] == '\r'))
		return true;
	if (n == 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		return true;
	if (!html)
		return false;
	return (n == 1 && (p[0] < 0x20 || p[0] == 0x7F)) || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0);
}

/* Text (not markup) from p[0..n): each character, or a blank. */
static void snip_text(struct snip *s, const char *p, size_t n, bool html)
{
	for (size_t i = 0; i < n && !snip_full(s);) {
		size_t k = utf8_next((const uint8_t *)p + i, n - i);
		if (k == 0)
			k = 1; /* not UTF-8: the caller promised it is; skip the byte */
		else if (is_blank((const uint8_t *)p + i, k, html))
			snip_blank(s);
		else
			snip_char(s, p + i, k);
		i += k;
	}
}

/* The code point a character reference names, or 0 if not one we know. */
static uint32_t entity_code(const char *name, size_t n)
{
	static const struct {
		const char *name;
		uint32_t code;
	} named[] = { { "amp", '&' },  { "lt", '<' },	 { "gt", '>' },	  { "quot", '"' },     { "apos", '\'' },
		      { "nbsp", ' ' }, { "copy", 0xA9 }, { "reg", 0xAE }, { "hellip", 0x2026 } };
	if (n >= 2 && name[0] == '#') {
		bool hex = name[1] == 'x' || name[1] == 'X';
		char digits[ENTITY_MAX + 1];
		memcpy(digits, name + 1 + hex, n - 1 - hex);
		digits[n - 1 - hex] = '\0';
		char *end;
		unsigned long v = strtoul(digits, &end, hex ? 16 : 10);
		bool ok = digits[0] && *end == '\0' && v > 0 && v <= 0x10FFFF && (v < 0xD800 || v > 0xDFFF);
		return ok ? (uint32_t)v : 0;
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (strlen(named[i].name) == n && memcmp(named[i].name, name, n) == 0)
			return named[i].code;
	}
	return 0;
}

/* Encode code point c (valid, non-surrogate) as UTF-8 into b; returns the length. */
static size_t utf8_put(uint32_t c, char b[4])
{
	if (c < 0x80) {
		b[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		b[0] = (char)(0xC0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		b[0] = (char)(0xE0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	b[0] = (char)(0xF0 | (c >> 18));
	b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	b[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* A character reference at p ('&'): written decoded, returns its length;
 * 0 if it is not one (the '&' is then text). */
static size_t snip_entity(struct snip *s, const char *p)
{
	size_t n = 1;
	while (n <= ENTITY_MAX && p[n] && p[n] != ';' && p[n] != '<' && p[n] != '&' && p[n] != ' ')
		n++;
	if (p[n] != ';' || n == 1 || n > ENTITY_MAX)
		return 0;
	uint32_t c = entity_code(p + 1, n - 1);
	if (c == 0)
		return 0;
	char b[4];
	size_t k = utf8_put(c, b);
	snip_text(s, b, k, true);
	return n + 1;
}

/* Is name (lower case) one of the elements whose closing tag html2text
 * follows with a blank (when the next tag starts at once)? */
static bool is_block(const char *name)
{
	static const char *const blocks[] = { "div", "p",	"td",	   "th",    "h1",	  "h2",
					      "h3",  "h4",	"h5",	   "h6",    "ul",	  "ol",
					      "li",  "address", "article", "aside", "blockquote", "dl",
					      "dt",  "footer",	"header",  "hr",    "main",	  "nav",
					      "pre", "table",	"thead",   "tfoot", "video" };
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		if (strcmp(name, blocks[i]) == 0)
			return true;
	}
	return false;
}

/* skipped[]'s index of name, or SKIPPED_COUNT. */
static size_t skipped_index(const char *name)
{
	size_t i = 0;
	while (i < SKIPPED_COUNT && strcmp(name, skipped[i]) != 0)
		i++;
	return i;
}

/* The end of the tag that starts at p ('<'): just past its '>', quoted
 * attribute values skipped; NULL if the input ends first. */
static const char *tag_end(const char *p)
{
	char quote = 0;
	for (p++; *p; p++) {
		if (quote) {
			quote = *p == quote ? 0 : quote;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '>') {
			return p + 1;
		}
	}
	return NULL;
}

/* Just past "</name ...>" from p on (case-insensitive), or NULL. */
static const char *closing_tag(const char *p, const char *name)
{
	size_t n = strlen(name);
	for (const char *q = strstr(p, "</"); q; q = strstr(q + 2, "</")) {
		if (strncasecmp(q + 2, name, n) == 0 && !((q[2 + n] | 0x20) >= 'a' && (q[2 + n] | 0x20) <= 'z')) {
			const char *e = tag_end(q);
			return e ? e : q + strlen(q);
		}
	}
	return NULL;
}

/* The markup at p ('<'): what it adds to s; returns where text resumes. */
static const char *snip_tag(struct snip *s, const char *p)
{
	if (strncmp(p, "<!--", 4) == 0) {
		const char *e = strstr(p + 4, "-->");
		return e ? e + 3 : p + strlen(p);
	}
	bool closing = p[1] == '/';
	const char *q = p + 1 + closing;
	char name[TAG_NAME_MAX + 1];
	size_t n = 0;
	while (n < TAG_NAME_MAX && (((q[n] | 0x20) >= 'a' && (q[n] | 0x20) <= 'z') || (q[n] >= '0' && q[n] <= '9'))) {
		name[n] = (char)(q[n] | 0x20);
		n++;
	}
	name[n] = '\0';
	bool letter = ((q[0] | 0x20) >= 'a' && (q[0] | 0x20) <= 'z');
	if (!letter && q[0] != '!' && q[0] != '?') {
		snip_char(s, "<", 1); /* not markup: a literal '<' */
		return p + 1;
	}
	const char *end = tag_end(p);
	if (!end)
		return p + strlen(p);
	size_t k = closing ? SKIPPED_COUNT : skipped_index(name);
	if (k < SKIPPED_COUNT) {
		/* a closer not found once is never found later: searching again
		 * would make "<head><head>..." quadratic */
		const char *after = s->unclosed & (1u << k) ? NULL : closing_tag(end, name);
		if (after)
			return after;
		s->unclosed |= 1u << k;
		return strcmp(name, "head") == 0 ? end : end + strlen(end);
	}
	if ((!closing && (strcmp(name, "br") == 0 || strcmp(name, "img") == 0)) ||
	    (closing && is_block(name) && *end == '<'))
		snip_blank(s);
	return end;
}

/* The text of an HTML document, into s. */
static void snip_html(struct snip *s, const char *h)
{
	while (*h && !snip_full(s)) {
		size_t run = strcspn(h, "<&");
		snip_text(s, h, run, true);
		h += run;
		if (*h == '<') {
			h = snip_tag(s, h);
		} else if (*h == '&') {
			size_t k = snip_entity(s, h);
			if (k == 0)
				snip_char(s, "&", 1);
			h += k ? k : 1;
		}
	}
}

/* Cut s back to the limit at a sequence boundary and append "...". */
static void snip_finish(const struct snip *s, char *out)
{
	size_t n = s->len;
	bool cut = n > MIME_SNIPPET_LIMIT_BYTES;
	if (cut) {
		n = MIME_SNIPPET_LIMIT_BYTES;
		while (n > 0 && ((uint8_t)s->buf[n] & 0xC0) == 0x80)
			n--; /* back to the start of the sequence the limit cuts */
	}
	memcpy(out, s->buf, n);
	if (cut)
		memcpy(out + n, "...", 3);
	out[n + (cut ? 3 : 0)] = '\0';
}

void mime_snippet_make(const char *text, const char *html, char *out, size_t cap)
{
	struct snip s = { .len = 0, .blank = false, .unclosed = 0 };
	if (html && html[0])
		snip_html(&s, html);
	if (s.len == 0 && text)
		snip_text(&s, text, strlen(text), false);
	assert(cap >= MIME_SNIPPET_LIMIT_BYTES + 4);
	snip_finish(&s, out);
}
