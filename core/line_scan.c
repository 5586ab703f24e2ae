/*
 * core/line_scan.c - zero-copy command line scanner (see line_scan.h).
 *
 * Owns: the LF search (memchr: glibc's is vectorised) and the carry of one
 * unterminated line.  Invariant: carry_len < LINE_SCAN_CARRY_BYTES, and
 * discarding implies carry_len == 0; carry_len > 0 implies a carry is lent.  Expected workload: short command
 * lines, many per receive buffer when clients pipeline; the common case is a
 * line wholly inside the input, returned without a copy.
 */
#include "line_scan.h"

#include <assert.h>
#include <string.h>

/* Skip the rest of an overlong line. */
static enum line_scan_status skip_long(struct line_scan *ls, const uint8_t *in, size_t len, size_t *consumed)
{
	const uint8_t *lf = memchr(in, '\n', len);
	if (lf == NULL) {
		*consumed = len;
		return LINE_SCAN_MORE;
	}
	*consumed = (size_t)(lf - in) + 1;
	ls->discarding = false;
	return LINE_SCAN_TOO_LONG;
}

static void make_line(const uint8_t *start, size_t with_lf, struct line_scan_line *line)
{
	size_t n = with_lf - 1; /* drop LF */
	line->bare_lf = !(n > 0 && start[n - 1] == '\r');
	if (!line->bare_lf)
		n--;
	line->text = smtp_view_make(start, n);
}

enum line_scan_status line_scan_next(struct line_scan *ls, const uint8_t *in, size_t len, size_t *consumed,
				     struct line_scan_line *line)
{
	assert(ls->carry_len < LINE_SCAN_CARRY_BYTES);
	if (ls->discarding)
		return skip_long(ls, in, len, consumed);
	const uint8_t *lf = memchr(in, '\n', len);
	if (lf == NULL) {
		*consumed = len;
		if (len == 0)
			return LINE_SCAN_MORE;
		if (ls->carry_len + len < LINE_SCAN_CARRY_BYTES) {
			assert(ls->carry != NULL); /* line_scan_needs_carry() said so */
			memcpy(ls->carry + ls->carry_len, in, len);
			ls->carry_len = (uint16_t)(ls->carry_len + len);
		} else {
			/* Cannot fit even before its LF arrives: skip it. */
			ls->carry_len = 0;
			ls->discarding = true;
		}
		return LINE_SCAN_MORE;
	}
	size_t part = (size_t)(lf - in) + 1;
	*consumed = part;
	if (ls->carry_len + part > SMTP_COMMAND_LINE_MAX_BYTES) {
		ls->carry_len = 0;
		return LINE_SCAN_TOO_LONG;
	}
	if (ls->carry_len == 0) {
		make_line(in, part, line); /* the zero-copy case */
		return LINE_SCAN_LINE;
	}
	memcpy(ls->carry + ls->carry_len, in, part);
	make_line(ls->carry, ls->carry_len + part, line);
	ls->carry_len = 0;
	return LINE_SCAN_LINE;
}
