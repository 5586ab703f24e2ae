/*
 * tools/spool/mail_header.c - header fields of a body's first header
 * block (mail_header.h).
 *
 * Owns: line splitting for the header block and the field-name syntax
 * (printable ASCII but ':', RFC 5322 3.6.8).  Unfolding hands encoded
 * words to rfc2047.c.
 */
#include "mail_header.h"

#include <string.h>

#include "rfc2047.h"

/* End of the line starting at p (index of its LF, or len). */
static size_t line_end(const uint8_t *body, size_t len, size_t p)
{
	const uint8_t *lf = memchr(body + p, '\n', len - p);
	return lf ? (size_t)(lf - body) : len;
}

static bool is_blank_line(const uint8_t *body, size_t p, size_t end)
{
	return end == p || (end == p + 1 && body[p] == '\r');
}

/* Length of a field name at body[p..end) followed by ':', or 0. */
static size_t field_name_len(const uint8_t *body, size_t p, size_t end)
{
	size_t i = p;
	while (i < end && body[i] > ' ' && body[i] < 0x7f && body[i] != ':')
		i++;
	return i > p && i < end && body[i] == ':' ? i - p : 0;
}

bool mail_header_next(const uint8_t *body, uint64_t len, size_t *pos, struct smtp_view *name, struct smtp_view *value)
{
	size_t n = len < MAIL_HEADER_SCAN_MAX_BYTES ? (size_t)len : MAIL_HEADER_SCAN_MAX_BYTES;
	size_t p = *pos;
	if (p >= n)
		return false;
	size_t end = line_end(body, n, p);
	size_t nlen = is_blank_line(body, p, end) ? 0 : field_name_len(body, p, end);
	if (nlen == 0) {
		*pos = n; /* the block ends here */
		return false;
	}
	size_t vstart = p + nlen + 1, vend = end;
	/* continuation lines start with a blank */
	while (end < n && end + 1 < n && (body[end + 1] == ' ' || body[end + 1] == '\t')) {
		end = line_end(body, n, end + 1);
		vend = end;
	}
	if (vend > vstart && body[vend - 1] == '\r')
		vend--;
	*name = smtp_view_make(body + p, nlen);
	*value = smtp_view_make(body + vstart, vend - vstart);
	*pos = end < n ? end + 1 : n;
	return true;
}

bool mail_header_find(const uint8_t *body, uint64_t len, const char *name, struct smtp_view *value)
{
	size_t pos = 0;
	struct smtp_view n, v;
	while (mail_header_next(body, len, &pos, &n, &v))
		if (smtp_view_eq_nocase(n, name)) {
			*value = v;
			return true;
		}
	return false;
}

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

size_t mail_header_unfold(struct smtp_view value, bool decode, char *out, size_t cap)
{
	char folded[MAIL_HEADER_UNFOLD_MAX_BYTES];
	size_t n = 0;
	if (cap == 0)
		return 0;
	/* unfold: drop CR and LF (each fold keeps its leading blank) */
	for (size_t i = 0; i < value.len && n < sizeof folded; i++)
		if (value.ptr[i] != '\r' && value.ptr[i] != '\n')
			folded[n++] = (char)value.ptr[i];
	size_t start = 0;
	while (start < n && is_wsp((uint8_t)folded[start]))
		start++;
	while (n > start && is_wsp((uint8_t)folded[n - 1]))
		n--;
	if (decode)
		return rfc2047_decode(folded + start, n - start, out, cap);
	n -= start;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, folded + start, n);
	out[n] = '\0';
	return n;
}
