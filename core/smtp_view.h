/*
 * core/smtp_view.h - a (pointer, length) view into bytes someone else owns.
 *
 * Owns nothing: views are how core/ hands out lines, addresses and message
 * content without copying.  A view is valid only as long as the buffer it
 * points into; every API that returns one says how long that is.
 */
#ifndef SMTPSINK_SMTP_VIEW_H
#define SMTPSINK_SMTP_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct smtp_view {
	const uint8_t *ptr;
	size_t len;
};

static inline struct smtp_view smtp_view_make(const void *ptr, size_t len)
{
	struct smtp_view v = { (const uint8_t *)ptr, len };
	return v;
}

/* ASCII case-insensitive comparison with a NUL-terminated literal. */
static inline int smtp_view_eq_nocase(struct smtp_view v, const char *lit)
{
	size_t n = strlen(lit);
	if (v.len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = v.ptr[i], b = (uint8_t)lit[i];
		if (a >= 'a' && a <= 'z')
			a = (uint8_t)(a - 32);
		if (b >= 'a' && b <= 'z')
			b = (uint8_t)(b - 32);
		if (a != b)
			return 0;
	}
	return 1;
}

/* True if v holds a control byte (< 0x20 or DEL): such bytes never reach
 * events that the spool or a transcript will print (CVE-2020-28021 class). */
static inline int smtp_view_has_ctl(struct smtp_view v)
{
	for (size_t i = 0; i < v.len; i++)
		if (v.ptr[i] < 0x20 || v.ptr[i] == 0x7F)
			return 1;
	return 0;
}

#endif
