/*
 * tests/fuzz/fuzz_session.c - libFuzzer harness for the whole SMTP session.
 *
 * Owns: turning one fuzz input into a configuration, a way of cutting the
 * input, and a session run that behaves like a demanding engine (small
 * output buffer, random verdicts and overrides, eof or abort at the end),
 * and asserting the feed contract and reply syntax with abort().  It does
 * not judge what the replies say: the golden transcripts in tests/core do.
 *
 * Input layout (seeds in corpus/fuzz_session/ follow it):
 *   byte 0  bit0 strict_sync, bit1 strict_helo_name, bit2 strict_helo_first,
 *           bit3 strict_address, bit4 lmtp, bits5-6 bare_lf policy (3 ->
 *           preserve), bit7 auth_reject
 *   byte 1  bits0-2 extension preset, bit3 max_size 100 bytes, bit4
 *           max_rcpts 100, bit5 output capacity SMTP_OUT_RESERVE_BYTES,
 *           bits6-7 max_errors (default, 3, 0 = never, 1)
 *   byte 2  bits0-1 override mode (COMMAND, MAIL and RCPT events), bit2
 *           verdicts vary (250/451/554), bit3 end with smtp_session_abort
 *           or smtp_session_fail instead of smtp_session_eof,
 *           bits4-7 cutting: 0 whole, k > 0 pieces of 1..2^(k-1) bytes
 *   rest    the bytes the client sends
 *
 * Invariants asserted: output never exceeds its capacity (a canary follows
 * it); consumed <= len; SMTP_STOP_INPUT only with all input consumed; a
 * verdict is asked for exactly after MSG_END; after SMTP_STOP_CLOSE no input
 * is consumed, nothing is written and no event fires; every drained output
 * is whole reply lines ("ddd" + ' '/'-' + text + CRLF, <= 512 octets, a
 * multi-line reply keeps its code); the BODY bytes of a message add up to
 * its MSG_END size_bytes; BODY only inside a message; no message left
 * open after eof/abort, and nothing taken or written after an abort.
 *
 * Workload: inputs up to a few KB, thousands per second under libFuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER_BYTES 3u
#define FUZZ_OUT_CAP_DEFAULT 4096u
#define FUZZ_CANARY_BYTES 32u
#define FUZZ_CANARY 0x5au

struct fuzz {
	struct smtp_config cfg;
	struct smtp_session s;
	uint8_t *carry; /* LINE_SCAN_CARRY_BYTES exactly, lent only on demand */
	struct smtp_out out;
	uint64_t rng;
	uint8_t override_mode;
	bool vary_verdicts;
	bool closed; /* SMTP_STOP_CLOSE returned */
	bool paused; /* an event callback called smtp_session_pause() */
	bool verdict_due; /* MSG_END seen, verdict not yet given */
	bool in_msg; /* between DATA_BEGIN and MSG_END/MSG_ABORT */
	uint64_t body_bytes; /* BODY bytes of the message in progress */
	unsigned msgs;
	uint32_t view_sum; /* every view byte is read, so ASan sees them */
};

/* FUZZ_SESSION_TRACE=1 in the environment prints every drained output and
 * every event to stderr: the way to read a crash input. */
static int trace_on = -1;

static bool tracing(void)
{
	if (trace_on < 0)
		trace_on = getenv("FUZZ_SESSION_TRACE") != NULL;
	return trace_on;
}

static void trace_bytes(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s \"", what);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			fprintf(stderr, "\\n\n  ");
		else if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], stderr);
		else
			fprintf(stderr, "\\x%02x", p[i]);
	}
	fprintf(stderr, "\"\n");
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_session: invariant broken: %s\n", what);
		abort();
	}
}

static uint64_t rng_next(struct fuzz *f)
{
	uint64_t x = f->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void touch_view(struct fuzz *f, struct smtp_view v)
{
	check(v.len == 0 || v.ptr != NULL, "view with a length and no bytes");
	for (size_t i = 0; i < v.len; i++)
		f->view_sum += v.ptr[i];
}

static const struct smtp_override *pick_override(struct fuzz *f)
{
	static const struct smtp_override refusals[] = {
		{ 451, false, "4.3.0 Try again later" },
		{ 550, false, "5.7.1 Refused by policy" },
		{ 421, true, "4.7.0 Closing" },
	};
	static const struct smtp_override others[] = {
		{ 250, false, "2.0.0 Ok" },
		{ 421, true, "" },
		{ 354, false, "End data with <CR><LF>.<CR><LF>" },
	};
	if (f->override_mode == 0 || rng_next(f) % 8 != 0)
		return NULL;
	uint64_t pick = rng_next(f) % 3;
	switch (f->override_mode) {
	case 1:
		return &refusals[pick];
	case 2:
		return &others[pick];
	default:
		return rng_next(f) & 1 ? &refusals[pick] : &others[pick];
	}
}

static const struct smtp_override *on_event(void *ctx, const struct smtp_event *ev)
{
	struct fuzz *f = ctx;
	if (f->override_mode != 0 && rng_next(f) % 16 == 0) { /* a fault delay's pause */
		smtp_session_pause(&f->s);
		f->paused = true;
	}
	if (tracing()) {
		fprintf(stderr, "event %d reason %d flags 0x%x ", (int)ev->type, (int)ev->reason, (unsigned)ev->flags);
		trace_bytes("arg", ev->arg.ptr, ev->arg.len);
	}
	check(!f->closed, "event after SMTP_STOP_CLOSE");
	touch_view(f, ev->arg);
	touch_view(f, ev->params);
	switch (ev->type) {
	case SMTP_EV_DATA_BEGIN:
		check(!f->in_msg, "DATA_BEGIN inside a message");
		f->in_msg = true;
		f->body_bytes = 0;
		break;
	case SMTP_EV_BODY:
		check(f->in_msg, "BODY outside a message");
		check(ev->arg.len > 0, "empty BODY event");
		f->body_bytes += ev->arg.len;
		break;
	case SMTP_EV_MSG_END:
		check(f->in_msg, "MSG_END outside a message");
		check(!f->verdict_due, "MSG_END while a verdict is due");
		check(ev->size_bytes == f->body_bytes, "MSG_END size_bytes != sum of BODY bytes");
		f->in_msg = false;
		f->verdict_due = true;
		break;
	case SMTP_EV_MSG_ABORT:
		f->in_msg = false;
		break;
	case SMTP_EV_MAIL:
		check(ev->mail != NULL, "MAIL event without params");
		touch_view(f, ev->mail->auth);
		touch_view(f, ev->mail->envid);
		return pick_override(f); /* the layer above may answer a valid MAIL */
	case SMTP_EV_RCPT:
		check(ev->rcpt != NULL, "RCPT event without params");
		touch_view(f, ev->rcpt->orcpt);
		return pick_override(f); /* ... and a valid RCPT (recipient outcomes) */
	case SMTP_EV_COMMAND:
		return pick_override(f);
	default:
		break;
	}
	return NULL;
}

/* Whole reply lines only: "ddd" ' '/'-' text CRLF; multi-line keeps code. */
static void check_replies(const uint8_t *p, size_t len)
{
	char cont_code[3] = { 0 };
	bool in_multi = false;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && p[i] != '\n')
			i++;
		check(i < len, "output ends inside a reply line");
		size_t n = i - start + 1;
		i++;
		check(n >= 6 && n <= SMTP_REPLY_LINE_MAX_BYTES, "reply line length");
		const uint8_t *l = p + start;
		check(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' && l[2] <= '9',
		      "reply code");
		check(l[3] == ' ' || l[3] == '-', "reply separator");
		check(l[n - 2] == '\r', "reply line ends without CRLF");
		for (size_t k = 4; k < n - 2; k++)
			check(l[k] != '\r' && l[k] != '\n' && l[k] != 0, "CR, LF or NUL inside a reply");
		if (in_multi)
			check(memcmp(cont_code, l, 3) == 0, "multi-line reply changes its code");
		in_multi = l[3] == '-';
		memcpy(cont_code, l, 3);
	}
	check(!in_multi, "output ends inside a multi-line reply");
}

static void check_canary(const struct fuzz *f)
{
	check(f->out.len <= f->out.cap, "output length exceeds capacity");
	for (size_t i = 0; i < FUZZ_CANARY_BYTES; i++)
		check(f->out.buf[f->out.cap + i] == FUZZ_CANARY, "write past the output capacity");
}

/* Does the last reply line in the output start with code (e.g. "220 ")? */
static bool last_reply_is(const struct fuzz *f, const char *code)
{
	size_t n = f->out.len;
	if (n < 2 || f->out.buf[n - 1] != '\n')
		return false;
	size_t start = n - 1;
	while (start > 0 && f->out.buf[start - 1] != '\n')
		start--;
	return n - start >= 4 && memcmp(f->out.buf + start, code, 4) == 0;
}

static void drain(struct fuzz *f)
{
	check_canary(f);
	if (tracing())
		trace_bytes("S:", f->out.buf, f->out.len);
	check_replies(f->out.buf, f->out.len);
	memset(f->out.buf, 0xa5, f->out.cap);
	f->out.len = 0;
}

/* Feed n == 0 until the verdict's queued (LMTP) replies are all out. */
static void flush_verdict(struct fuzz *f, const uint8_t *p)
{
	for (unsigned spins = 0;; spins++) {
		size_t used = 1;
		check(spins < 100000, "verdict replies never end");
		drain(f);
		enum smtp_stop stop = smtp_session_feed(&f->s, p, 0, &used, &f->out);
		check_canary(f);
		check(used == 0, "consumed bytes of an empty input");
		if (stop == SMTP_STOP_INPUT)
			return;
		if (stop == SMTP_STOP_CLOSE) {
			f->closed = true;
			return;
		}
		check(stop == SMTP_STOP_OUT_FULL, "unexpected stop while writing verdict replies");
		check(f->out.len > 0, "OUT_FULL with nothing written");
	}
}

static void give_verdict(struct fuzz *f, const uint8_t *p)
{
	static const char *const qids[] = { "4Xy7Zq1Kp9", "Q", "ABCDEFGHIJ0123456789" };
	struct smtp_verdict v = { 250, qids[f->msgs % 3], NULL };
	f->msgs++;
	if (f->vary_verdicts) {
		uint64_t r = rng_next(f) % 6;
		if (r < 2)
			v = (struct smtp_verdict){ 451, NULL, "4.3.0 Error: queue file write error" };
		else if (r == 2)
			v = (struct smtp_verdict){ 554, NULL, "5.7.1 Error: rejected" };
	}
	f->verdict_due = false;
	enum smtp_stop stop = smtp_session_verdict(&f->s, &v, &f->out);
	check_canary(f);
	if (stop == SMTP_STOP_OUT_FULL)
		flush_verdict(f, p);
	else if (stop == SMTP_STOP_CLOSE) /* strict_sync: input came too early */
		f->closed = true;
	else
		check(stop == SMTP_STOP_INPUT, "smtp_session_verdict: unexpected stop");
}

/* After CLOSE the session takes nothing, writes nothing, reports nothing. */
static void check_closed(struct fuzz *f, const uint8_t *p, size_t n)
{
	size_t used = 1, before = f->out.len;
	f->closed = true;
	enum smtp_stop stop = smtp_session_feed(&f->s, p, n, &used, &f->out);
	check(stop == SMTP_STOP_CLOSE, "feed after CLOSE did not return CLOSE");
	check(used == 0, "input consumed after CLOSE");
	check(f->out.len == before, "output written after CLOSE");
}

/* As a server does: take the carry back once no line is pending in it, and
 * scribble over it (a line left pending in it would complete as garbage). */
static void carry_back(struct fuzz *f)
{
	uint8_t *carry = smtp_session_carry_idle(&f->s);
	check(carry == NULL || carry == f->carry, "a carry back that was never lent");
	if (carry != NULL)
		memset(carry, 0x5a, LINE_SCAN_CARRY_BYTES);
}

/* Feed one piece to its end (or to the close). */
static void feed_piece(struct fuzz *f, const uint8_t *p, size_t n)
{
	if (f->closed) {
		check_closed(f, p, n);
		return;
	}
	for (unsigned spins = 0;; spins++) {
		size_t used = (size_t)-1, before = f->out.len;
		check(spins < 1000000, "feed never finishes a piece");
		if (smtp_session_carry_wanted(&f->s, p, n))
			smtp_session_carry_lend(&f->s, f->carry);
		enum smtp_stop stop = smtp_session_feed(&f->s, p, n, &used, &f->out);
		carry_back(f);
		check_canary(f);
		check(used <= n, "consumed more than the input");
		check(stop == SMTP_STOP_VERDICT || !f->verdict_due, "MSG_END without SMTP_STOP_VERDICT");
		p += used;
		n -= used;
		switch (stop) {
		case SMTP_STOP_INPUT:
			check(n == 0, "SMTP_STOP_INPUT with input left");
			return;
		case SMTP_STOP_OUT_FULL:
			check(used > 0 || before > 0 || f->out.len > 0, "OUT_FULL with empty output, no progress");
			drain(f);
			break;
		case SMTP_STOP_VERDICT:
			check(f->verdict_due, "SMTP_STOP_VERDICT without MSG_END");
			f->paused = false; /* a verdict takes precedence over a pause */
			give_verdict(f, p);
			if (f->closed) {
				check_closed(f, p, n);
				return;
			}
			break;
		case SMTP_STOP_CLOSE:
			check_closed(f, p, n);
			return;
		case SMTP_STOP_PAUSE:
			check(f->paused, "SMTP_STOP_PAUSE nobody asked for");
			f->paused = false;
			break; /* the hold is over at once: feed the rest */
		case SMTP_STOP_STARTTLS:
			check(f->s.state == SMTP_STATE_STARTTLS && !f->s.tls, "STARTTLS stop outside STARTTLS");
			check(last_reply_is(f, "220 "), "STARTTLS stop without its 220");
			check(smtp_session_feed(&f->s, p, n, &used, &f->out) == SMTP_STOP_STARTTLS && used == 0,
			      "input taken during the handshake");
			f->paused = false;
			smtp_session_tls_started(&f->s); /* the rest stands for the decrypted stream */
			break;
		default:
			check(false, "unknown stop");
		}
	}
}

/* Copy each piece into an allocation of exactly its size (ASan sees any
 * over-read), and feed it.  Pieces are 1..max_piece bytes, 0: whole. */
static void feed_all(struct fuzz *f, const uint8_t *in, size_t len, size_t max_piece)
{
	size_t at = 0;
	while (at < len) {
		size_t n = len - at;
		if (max_piece && n > 1)
			n = 1 + (size_t)(rng_next(f) % (max_piece < n ? max_piece : n));
		uint8_t *piece = malloc(n);
		check(piece != NULL, "malloc");
		memcpy(piece, in + at, n);
		if (tracing())
			trace_bytes("C:", piece, n);
		feed_piece(f, piece, n);
		free(piece);
		at += n;
	}
}

static void setup_config(struct smtp_config *cfg, uint8_t b0, uint8_t b1)
{
	static const uint32_t presets[8] = {
		SMTP_EXT_ALL,
		SMTP_EXT_ALL & ~SMTP_EXT_PIPELINING,
		SMTP_EXT_ALL & ~SMTP_EXT_ESMTP,
		SMTP_EXT_ALL & ~SMTP_EXT_CHUNKING,
		SMTP_EXT_ALL & ~(SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8),
		SMTP_EXT_ALL & ~SMTP_EXT_ENHANCEDSTATUSCODES,
		SMTP_EXT_ALL & ~(SMTP_EXT_AUTH | SMTP_EXT_DSN),
		SMTP_EXT_ESMTP | SMTP_EXT_PIPELINING | SMTP_EXT_SIZE,
	};
	static const uint32_t max_errors[4] = { SMTP_ERRORS_DEFAULT, 3, 0, 1 };
	smtp_config_defaults(cfg);
	cfg->strict_sync = b0 & 1;
	cfg->strict_helo_name = (b0 >> 1) & 1;
	cfg->strict_helo_first = (b0 >> 2) & 1;
	cfg->strict_address = (b0 >> 3) & 1;
	cfg->lmtp = (b0 >> 4) & 1;
	uint8_t lf = (b0 >> 5) & 3;
	cfg->bare_lf = lf == 1 ? SMTP_BARE_LF_NORMALIZE : lf == 2 ? SMTP_BARE_LF_REJECT : SMTP_BARE_LF_PRESERVE;
	cfg->auth_reject = (b0 >> 7) & 1;
	cfg->ext = presets[b1 & 7];
	if (b1 & 8)
		cfg->max_size_bytes = 100;
	if (b1 & 16)
		cfg->max_rcpts = SMTP_RCPTS_MIN_ALLOWED;
	cfg->max_errors = max_errors[(b1 >> 6) & 3];
}

/* The end of the stream: the peer's EOF, or the server's timeout/shutdown. */
static void finish(struct fuzz *f, bool abort_end)
{
	if (f->closed)
		return;
	drain(f);
	if (!abort_end) {
		smtp_session_eof(&f->s);
		check(!f->in_msg, "a message is still open after eof");
		return;
	}
	switch (rng_next(f) % 4) { /* timeout, shutdown, a fault rule's abort with or without a reply */
	case 0:
		smtp_session_abort(&f->s, SMTP_REASON_TIMEOUT, &f->out);
		break;
	case 1:
		smtp_session_abort(&f->s, SMTP_REASON_SHUTDOWN, &f->out);
		break;
	case 2:
		smtp_session_fail(&f->s, 550, "5.0.0 Error: aborted", &f->out);
		break;
	default:
		smtp_session_fail(&f->s, 0, NULL, &f->out);
		break;
	}
	check_canary(f);
	check(!f->in_msg, "a message is still open after abort");
	drain(f);
	uint8_t byte = 'X';
	size_t used = 1;
	check(smtp_session_feed(&f->s, &byte, 1, &used, &f->out) == SMTP_STOP_CLOSE, "feed after abort");
	check(used == 0 && f->out.len == 0, "input taken or output written after abort");
}

static uint64_t hash_input(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h | 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_HEADER_BYTES)
		return 0;
	struct fuzz *f = calloc(1, sizeof(*f));
	check(f != NULL, "calloc");
	setup_config(&f->cfg, data[0], data[1]);
	if (smtp_config_check(&f->cfg) != NULL) {
		fprintf(stderr, "fuzz_session: config refused: %s\n", smtp_config_check(&f->cfg));
		abort();
	}
	f->override_mode = data[2] & 3;
	f->vary_verdicts = (data[2] >> 2) & 1;
	f->rng = hash_input(data, size);
	unsigned cut = data[2] >> 4;
	size_t max_piece = cut ? (size_t)1 << (cut - 1) : 0;
	size_t cap = (data[1] & 32) ? SMTP_OUT_RESERVE_BYTES : FUZZ_OUT_CAP_DEFAULT;
	f->out.buf = malloc(cap + FUZZ_CANARY_BYTES);
	check(f->out.buf != NULL, "malloc");
	memset(f->out.buf + cap, FUZZ_CANARY, FUZZ_CANARY_BYTES);
	f->out.cap = cap;
	f->carry = malloc(LINE_SCAN_CARRY_BYTES);
	check(f->carry != NULL, "malloc");
	smtp_session_init(&f->s, &f->cfg, on_event, f);
	smtp_session_greet(&f->s, &f->out);
	check_canary(f);
	feed_all(f, data + FUZZ_HEADER_BYTES, size - FUZZ_HEADER_BYTES, max_piece);
	finish(f, (data[2] >> 3) & 1);
	drain(f);
	free(f->out.buf);
	free(f->carry);
	free(f);
	return 0;
}
