/*
 * core/smtp_addr.c - path and parameter syntax (see smtp_addr.h).
 *
 * Owns: the octet rules.  A path may hold any printable ASCII or 8-bit
 * byte; SP only inside a quoted local part; never a control byte (NUL, CR,
 * LF, ...), so no client string can carry a line break into the spool's
 * metadata.  Quoted strings may contain '>' and escaped characters.
 */
#include "smtp_addr.h"

#include "smtp_limits.h"

static bool is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7F;
}

/* Scan a bracketed path starting after '<'; returns the index of the
 * closing '>' or len if there is none or the octets are bad. */
static size_t scan_bracketed(const uint8_t *p, size_t len, bool *eight_bit)
{
	bool quoted = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (is_ctl(c))
			return len;
		if (c & 0x80)
			*eight_bit = true;
		if (quoted) {
			if (c == '\\' && i + 1 < len && !is_ctl(p[i + 1]))
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '>')
			return i;
		else if (c == '<' || c == ' ')
			return len;
	}
	return len;
}

static enum smtp_path_status bracketed(const uint8_t *p, size_t len, struct smtp_path *path)
{
	size_t close = scan_bracketed(p + 1, len - 1, &path->eight_bit);
	if (close == len - 1)
		return SMTP_PATH_SYNTAX;
	path->addr = smtp_view_make(p + 1, close);
	size_t after = close + 2; /* past '<' ... '>' */
	if (after < len && p[after] != ' ')
		return SMTP_PATH_SYNTAX;
	if (after > SMTP_PATH_MAX_BYTES)
		return SMTP_PATH_TOO_LONG;
	while (after < len && p[after] == ' ')
		after++;
	path->params = smtp_view_make(p + after, len - after);
	return SMTP_PATH_OK;
}

static enum smtp_path_status bare(const uint8_t *p, size_t len, struct smtp_path *path)
{
	size_t n = 0;
	while (n < len && p[n] != ' ') {
		if (is_ctl(p[n]) || p[n] == '<' || p[n] == '>')
			return SMTP_PATH_SYNTAX;
		if (p[n] & 0x80)
			path->eight_bit = true;
		n++;
	}
	if (n == 0)
		return SMTP_PATH_SYNTAX;
	if (n + 2 > SMTP_PATH_MAX_BYTES)
		return SMTP_PATH_TOO_LONG;
	path->addr = smtp_view_make(p, n);
	path->bracketed = false;
	while (n < len && p[n] == ' ')
		n++;
	path->params = smtp_view_make(p + n, len - n);
	return SMTP_PATH_OK;
}

enum smtp_path_status smtp_addr_parse(struct smtp_view arg, const char *keyword, struct smtp_path *path)
{
	size_t k = strlen(keyword);
	*path = (struct smtp_path){ .bracketed = true };
	if (arg.len < k + 1 || !smtp_view_eq_nocase(smtp_view_make(arg.ptr, k), keyword) || arg.ptr[k] != ':')
		return SMTP_PATH_SYNTAX;
	const uint8_t *p = arg.ptr + k + 1;
	size_t len = arg.len - k - 1;
	while (len > 0 && *p == ' ') {
		path->odd_spacing = true;
		p++;
		len--;
	}
	if (len == 0)
		return SMTP_PATH_SYNTAX;
	if (*p == '<')
		return bracketed(p, len, path);
	return bare(p, len, path);
}

static bool is_key_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* RFC 5321 esmtp-value: %d33-60 / %d62-126, plus UTF-8 (RFC 6531). */
static bool is_value_char(uint8_t c)
{
	return (c >= 33 && c <= 126 && c != '=') || c >= 0x80;
}

enum smtp_param_next smtp_addr_next_param(struct smtp_view *rest, struct smtp_view *key, struct smtp_view *value,
					  bool *has_value)
{
	const uint8_t *p = rest->ptr;
	size_t len = rest->len, i = 0;
	while (i < len && p[i] == ' ')
		i++;
	if (i == len) {
		*rest = smtp_view_make(p + len, 0);
		return SMTP_PARAM_END;
	}
	size_t k0 = i;
	while (i < len && is_key_char(p[i]))
		i++;
	if (i == k0 || (p[k0] == '-'))
		return SMTP_PARAM_BAD;
	*key = smtp_view_make(p + k0, i - k0);
	*has_value = false;
	*value = smtp_view_make(p + i, 0);
	if (i < len && p[i] == '=') {
		size_t v0 = ++i;
		while (i < len && is_value_char(p[i]))
			i++;
		*has_value = true;
		*value = smtp_view_make(p + v0, i - v0);
	}
	if (i < len && p[i] != ' ')
		return SMTP_PARAM_BAD;
	*rest = smtp_view_make(p + i, len - i);
	return SMTP_PARAM_FOUND;
}
