/*
 * core/line_scan.h - zero-copy command line scanner with a bounded carry.
 *
 * Owns: finding LF-terminated command lines in received bytes and handing
 * them out as views.  A line wholly inside the caller's buffer is returned
 * as a view into that buffer (no copy).  Only a line split across two
 * receive buffers is carried; the carry's length is the resume offset, so
 * carried bytes are never scanned again (the next search for LF starts in
 * the new input).
 *
 * The carry (LINE_SCAN_CARRY_BYTES) is the caller's, lent only while it may
 * be needed: before a call whose input ends inside a line
 * (line_scan_needs_carry), and taken back once no line is pending
 * (line_scan_idle_carry).  A scanner between lines holds no carry, so a
 * server with 100,000 idle sessions lends carries, from a pool, only to the
 * few that hold half a line; complete lines never touch the pool.
 *
 * Bound: a line may be at most SMTP_COMMAND_LINE_MAX_BYTES including its
 * terminator (RFC 5321 4.5.3.1.4).  A longer line is reported once as
 * LINE_SCAN_TOO_LONG when its LF finally arrives; its bytes are skipped, not
 * buffered, so no input makes a scanner hold more than sizeof(struct
 * line_scan) and one carry.  Counters cannot overflow: discarding keeps no
 * count.
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

/* The size of a carry: one whole command line (the scanner never holds a
 * terminated one, so carry_len stays below it). */
#define LINE_SCAN_CARRY_BYTES SMTP_COMMAND_LINE_MAX_BYTES

/* Zero it (or call line_scan_reset on a zeroed one) before use. */
struct line_scan {
	uint8_t *carry; /* LINE_SCAN_CARRY_BYTES lent by the caller, or NULL */
	uint16_t carry_len; /* bytes of an unterminated line held in carry */
	bool discarding; /* inside an overlong line: skip to its LF */
};

/* Forget any pending line (the carry, if lent, stays lent). */
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

/* Must a carry be lent before scanning in[0..len) (with as many calls as
 * it takes)?  Only when none is and the input ends inside a line: input
 * that ends with LF leaves nothing to carry, whatever it holds.  (While an
 * overlong line is skipped this may say yes for nothing: the input may
 * hold its end and the start of the next line.) */
static inline bool line_scan_needs_carry(const struct line_scan *ls, const uint8_t *in, size_t len)
{
	return ls->carry == NULL && len > 0 && in[len - 1] != '\n';
}

/* Lend a carry of LINE_SCAN_CARRY_BYTES (none may be lent already). */
static inline void line_scan_lend(struct line_scan *ls, uint8_t *carry)
{
	ls->carry = carry;
}

/* Take the carry back if no line is pending in it: the carry, or NULL
 * when none was lent or it still holds part of a line. */
static inline uint8_t *line_scan_idle_carry(struct line_scan *ls)
{
	uint8_t *carry = ls->carry;
	if (ls->carry_len != 0)
		return NULL;
	ls->carry = NULL;
	return carry;
}

/* The scanner's end: forget any pending line and take the carry back (or
 * NULL when none was lent). */
static inline uint8_t *line_scan_drop(struct line_scan *ls)
{
	line_scan_reset(ls);
	return line_scan_idle_carry(ls);
}

/* Look for the next line in in[0..len).  Sets *consumed to the bytes used
 * (through the LF for LINE and TOO_LONG, all of them for MORE).  A returned
 * view points into in[] or into ls->carry; it is valid until the next call.
 * A carry must be lent when line_scan_needs_carry() says so. */
enum line_scan_status line_scan_next(struct line_scan *ls, const uint8_t *in, size_t len, size_t *consumed,
				     struct line_scan_line *line);

#endif
