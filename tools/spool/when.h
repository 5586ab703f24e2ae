/*
 * tools/spool/when.h - times on the command line and in output.
 *
 * Owns: parsing --since/--until/--before values and formatting the times
 * the tool prints.  Accepted (all UTC unless a zone is given):
 *   2026-11-28T12:00:00Z   ISO 8601: date, optional time (HH:MM, HH:MM:SS,
 *   2026-11-28T12:00+02:00 fraction), optional zone Z / +HH:MM / -HHMM;
 *   2026-11-28 12:00:00    a space instead of T; no zone means UTC
 *   2026-11-28             midnight UTC
 *   -10m  -2h  -1d  -30s  -1w   that long before now (the '-' may be left out)
 *   1764331200             epoch seconds (a fraction is allowed)
 *   now
 */
#ifndef SMTPSINK_SPOOL_WHEN_H
#define SMTPSINK_SPOOL_WHEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WHEN_TEXT_BYTES 40u

/* 0 and *us set, or -1 (bad syntax). */
int when_parse(const char *s, uint64_t now_us, uint64_t *us);

/* "2026-11-28T12:00:00Z", with ".123456" before the Z when micro. */
void when_iso(uint64_t us, bool micro, char *buf, size_t size);
/* "Sat, 28 Nov 2026 12:00:00 +0000" (RFC 5322 date-time, UTC). */
void when_rfc5322(uint64_t us, char *buf, size_t size);
/* "Sat Nov 28 12:00:00 2026" (asctime, the mbox From_ line). */
void when_mbox(uint64_t us, char *buf, size_t size);

uint64_t when_now_us(void);

#endif
