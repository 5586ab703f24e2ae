/*
 * tests/core/edge_support.h - what the session edge-case tests share: the
 * golden reply and event fragments of core/'s default configuration, one-line
 * scenario rows, a growable byte string for large inputs, and a direct feed
 * loop for the few things the harness does not show.
 *
 * Owns: test scaffolding only.  The scenarios live in test_session_edge.c
 * (commands, addresses, recipients), test_session_edge_data.c (DATA, BDAT,
 * smuggling) and test_session_edge_sync.c (pipelining, faults); the
 * session driver and its event text live in session_harness.c.  Reply
 * texts here are the Postfix wording core/ writes with hostname "smtpsink".
 * Allocation failure aborts: inputs are at most a few MB.
 */
#ifndef SMTPSINK_TESTS_EDGE_SUPPORT_H
#define SMTPSINK_TESTS_EDGE_SUPPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"
#include "test_text.h"

/* ---- golden fragments ---------------------------------------------------- */

#define BANNER "220 smtpsink ESMTP smtpsink\r\n"
#define R_OK "250 2.0.0 Ok\r\n"
#define R_HELO "250 smtpsink\r\n"
#define R_EHLO                                                                                    \
	"250-smtpsink\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250-DSN\r\n250 CHUNKING\r\n"
#define R_MAIL "250 2.1.0 Ok\r\n"
#define R_RCPT "250 2.1.5 Ok\r\n"
#define R_354 "354 End data with <CR><LF>.<CR><LF>\r\n"
#define R_Q1 "250 2.0.0 Ok: queued as Q1\r\n"
#define R_Q2 "250 2.0.0 Ok: queued as Q2\r\n"
#define R_BYE "221 2.0.0 Bye\r\n"
#define R_UNKNOWN "500 5.5.1 Error: command not recognized\r\n"
#define R_BAD_SYNTAX "500 5.5.2 Error: bad syntax\r\n"
#define R_TOO_LONG "500 5.5.2 Line too long\r\n"
#define R_BARE_LF "550 5.5.2 Error: bare <LF> received\r\n"
#define R_NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define R_NEED_RCPT "503 5.5.1 Error: need RCPT command\r\n"
#define R_NO_VALID "554 5.5.1 Error: no valid recipients\r\n"
#define R_SYNC "554 5.5.0 Error: SMTP protocol synchronization\r\n"
#define R_TOO_MANY_ERRORS "421 4.7.0 smtpsink Error: too many errors\r\n"
#define R_TOO_MANY_RCPTS "452 4.5.3 Error: too many recipients\r\n"

#define E_G "GREETING\n"
#define E_HELO "CMD HELO\nHELO HELO name=<x>\n"
#define E_EHLO "CMD EHLO\nHELO EHLO name=<x>\n"
#define E_MAIL "CMD MAIL\nMAIL from=<a@b> params=<>\n"
#define E_RCPT "CMD RCPT\nRCPT to=<c@d> params=<>\n"
#define E_DATA "CMD DATA\nDATA_BEGIN\n"
#define E_HI_END(flags) "MSG_END size=4 rcpts=1 flags=" flags " body=\"hi\\r\\n\"\n"
#define E_QUIT "CMD QUIT\nQUIT\nCLOSE reason=quit\n"

/* HELO, MAIL, RCPT: the usual start of a transaction. */
#define I_TXN "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
#define R_TXN BANNER R_HELO R_MAIL R_RCPT
#define E_TXN E_G E_HELO E_MAIL E_RCPT

struct row {
	const char *name;
	const char *in;
	size_t len;
	const char *replies;
	const char *events;
};
#define ROW(name, in, replies, events)                    \
	{                                                 \
		name, in, sizeof(in) - 1, replies, events \
	}
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static inline struct smtp_config cfg_default(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	return c;
}

static inline void run_rows(const char *what, const struct smtp_config *cfg, const struct row *rows, size_t n)
{
	struct harness_opts o = { .cfg = cfg };
	for (size_t i = 0; i < n; i++)
		if (harness_expect_all_splits(&o, rows[i].in, rows[i].len, rows[i].replies, rows[i].events))
			fprintf(stderr, "  ^ %s: %s\n", what, rows[i].name);
}

/* Inputs too long for every split: whole, cuts around the 512-octet carry
 * bound, and seeded random cuts. */
static inline void run_big(const char *what, const struct harness_opts *o, const struct test_text *in,
			   const char *replies, const char *events)
{
	static const size_t edges[] = { 1, 510, 511, 512, 513, 514 };
	struct harness_rng g;
	size_t cuts[12];
	int bad = harness_expect_whole(o, in->p, in->len, replies, events);
	bad |= harness_expect_cuts(o, in->p, in->len, edges, NROWS(edges), replies, events);
	harness_rng_seed(&g, 0x5eed0000u + in->len);
	for (int i = 0; i < 16; i++) {
		harness_rng_cuts(&g, in->len, cuts, NROWS(cuts));
		bad |= harness_expect_cuts(o, in->p, in->len, cuts, NROWS(cuts), replies, events);
	}
	if (bad)
		fprintf(stderr, "  ^ %s\n", what);
}

/* ---- a direct feed loop, for flags, counters and calls the harness does
 * not make (abort, feeding before the greeting, never draining) ---------- */

struct drv {
	struct smtp_config cfg;
	struct smtp_session s;
	uint8_t carry[LINE_SCAN_CARRY_BYTES]; /* lent for good */
	struct smtp_out out;
	struct test_text text; /* drained replies, while keep_text */
	struct test_text log; /* MSG_END / MSG_ABORT / CLOSE, one a line */
	bool keep_text;
	unsigned long codes[600]; /* final reply lines by code */
	uint32_t cmd_flags; /* of the last SMTP_EV_COMMAND */
	unsigned msgs;
};

static inline const char *drv_reason(enum smtp_reason r)
{
	switch (r) {
	case SMTP_REASON_QUIT:
		return "quit";
	case SMTP_REASON_EOF:
		return "eof";
	case SMTP_REASON_TIMEOUT:
		return "timeout";
	case SMTP_REASON_SHUTDOWN:
		return "shutdown";
	case SMTP_REASON_TOO_MANY_ERRORS:
		return "too_many_errors";
	default:
		return "other";
	}
}

static inline const struct smtp_override *drv_event(void *ctx, const struct smtp_event *ev)
{
	struct drv *d = ctx;
	char line[64];
	line[0] = '\0';
	if (ev->type == SMTP_EV_COMMAND)
		d->cmd_flags = ev->flags;
	else if (ev->type == SMTP_EV_MSG_END)
		snprintf(line, sizeof(line), "MSG_END rcpts=%u\n", (unsigned)ev->rcpts);
	else if (ev->type == SMTP_EV_MSG_ABORT)
		snprintf(line, sizeof(line), "MSG_ABORT %s\n", drv_reason(ev->reason));
	else if (ev->type == SMTP_EV_CLOSE)
		snprintf(line, sizeof(line), "CLOSE %s\n", drv_reason(ev->reason));
	text_str(&d->log, line);
	return NULL;
}

static inline void drv_init(struct drv *d, const struct smtp_config *cfg, size_t out_cap)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg ? *cfg : cfg_default();
	d->keep_text = true;
	d->out.buf = malloc(out_cap);
	if (d->out.buf == NULL)
		abort();
	d->out.cap = out_cap;
	smtp_session_init(&d->s, &d->cfg, drv_event, d);
	smtp_session_carry_lend(&d->s, d->carry);
	text_str(&d->log, "");
}

static inline void drv_drain(struct drv *d)
{
	const uint8_t *p = d->out.buf, *end = p + d->out.len;
	while (end - p >= 4) {
		unsigned code = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
		if (p[3] == ' ' && code < 600)
			d->codes[code]++;
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if (d->keep_text)
		text_add(&d->text, d->out.buf, d->out.len);
	d->out.len = 0;
}

/* Feed like an engine until the input is used up or the session closes. */
static inline enum smtp_stop drv_feed(struct drv *d, const void *in, size_t len)
{
	const uint8_t *p = in;
	for (;;) {
		size_t used = 0;
		enum smtp_stop st = smtp_session_feed(&d->s, p, len, &used, &d->out);
		p += used;
		len -= used;
		if (st == SMTP_STOP_OUT_FULL) {
			drv_drain(d);
		} else if (st == SMTP_STOP_VERDICT) {
			struct smtp_verdict v = { .code = 250, .qid = d->msgs++ ? "Q2" : "Q1" };
			if (smtp_session_verdict(&d->s, &v, &d->out) == SMTP_STOP_OUT_FULL)
				drv_drain(d);
		} else {
			drv_drain(d);
			return st;
		}
	}
}

static inline void drv_free(struct drv *d)
{
	free(d->out.buf);
	text_free(&d->text);
	text_free(&d->log);
}

#endif
