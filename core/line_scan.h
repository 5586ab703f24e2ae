/*
 * core/line_scan.h - zero-copy command line scanner with a bounded carry.
 *
 * Owns: finding LF-terminated command lines in received bytes and handing
 * them out as views.  A line wholly inside the caller's buffer is returned
 * as a view into that buffer (no copy).  Only a line split across two
 * receive buffers is carried, in the fixed carry[] below; the carry's length
 * is the resume offset, so carried bytes are never scanned again (the next
 * search for LF starts in the new input).
 *
 * Bound: a line may be at most SMTP_COMMAND_LINE_MAX_BYTES including its
 * terminator (RFC 5321 4.5.3.1.4).  A longer line is reported once as
 * LINE_SCAN_TOO_LONG when its LF finally arrives; its bytes are skipped, not
 * buffered, so no input makes a scanner hold more than sizeof(struct
 * line_scan).  Counters cannot overflow: discarding keeps no count.
 *
 * Line ends: CRLF, or a bare LF (reported, so the session can apply its
 * bare-LF policy).  A CR not followed by LF is an ordinary byte.
 */
#ifndef SMTPSINK_LINE_SCAN_H
#define SMTPSINK_LINE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_limits.h"
#include "smtp_view.h"

enum line_scan_status {
	LINE_SCAN_LINE, /* *line holds one complete line */
	LINE_SCAN_MORE, /* all input consumed, no complete line yet */
	LINE_SCAN_TOO_LONG, /* an overlong line ended; its bytes are gone */
};

struct line_scan_line {
	struct smtp_view text; /* without CRLF / LF */
	bool bare_lf; /* ended by LF alone */
};

/* Zero it (or call line_scan_reset) before use. */
struct line_scan {
	uint16_t carry_len; /* bytes of an unterminated line held below */
	bool discarding; /* inside an overlong line: skip to its LF */
	uint8_t carry[SMTP_COMMAND_LINE_MAX_BYTES];
};

static inline void line_scan_reset(struct line_scan *ls)
{
	ls->carry_len = 0;
	ls->discarding = false;
}

/* True while part of a line is held or being skipped. */
static inline bool line_scan_pending(const struct line_scan *ls)
{
	return ls->carry_len != 0 || ls->discarding;
}

/* Look for the next line in in[0..len).  Sets *consumed to the bytes used
 * (through the LF for LINE and TOO_LONG, all of them for MORE).  A returned
 * view points into in[] or into ls->carry; it is valid until the next call. */
enum line_scan_status line_scan_next(struct line_scan *ls, const uint8_t *in, size_t len, size_t *consumed,
				     struct line_scan_line *line);

#endif
