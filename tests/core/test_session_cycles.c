/*
 * tests/core/test_session_cycles.c - Postfix-style connection caching: one
 * session, very many transactions (issue 2, "Tests").
 *
 * Owns: the long-running checks.  One EHLO, then 100,000 cycles of RSET,
 * MAIL, RCPT, DATA, a 1 KB body and "." fed command by command, each
 * answered with a 250 verdict; then 10,000 cycles with each cycle's
 * commands and content pipelined in one input.  Every cycle's reply bytes
 * are compared with the expected ones, every MSG_END is counted and
 * checked, and memory must stay flat: the session never allocates, so the
 * heap in use (mallinfo2, glibc) after cycle 1,000 and after the last cycle
 * must be equal, and sizeof(struct smtp_session) must stay within issue
 * 3's 2 KB per idle session.  The golden transcripts of single sessions
 * are in test_session.c and test_session_modes.c.
 *
 * The harness's split machinery would cost len+2 runs per input, far too
 * slow for 100,000 cycles: this file drives smtp_session directly and uses
 * only the harness's check counters.  Nothing in a cycle allocates (the
 * queue ID is formatted on the stack), so a heap change can only come from
 * core/.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"

#define CYCLES 100000u
#define CYCLES_PIPELINED 10000u
#define HEAP_MARK_CYCLE 1000u
#define IDLE_SESSION_BUDGET_BYTES 2048u /* issue 3: memory per idle session */

#define BODY_LINES 16u
#define BODY_LINE_BYTES 64u /* 62 characters and CRLF */
#define BODY_BYTES (BODY_LINES * BODY_LINE_BYTES)
#define STUFFED_LINE 5u /* sent as "..", stored as "." */
#define REPLIES_PER_CYCLE 5u

static const char cycle_replies[] = "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
				    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ";
static const char cycle_commands[] = "RSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";

/* The message on the wire: BODY_BYTES of content, one line dot-stuffed. */
struct wire_body {
	uint8_t bytes[BODY_BYTES + 1];
	size_t len;
};

static void wire_body_build(struct wire_body *w)
{
	w->len = 0;
	for (unsigned line = 0; line < BODY_LINES; line++) {
		if (line == STUFFED_LINE)
			w->bytes[w->len++] = '.';
		for (unsigned k = 0; k < BODY_LINE_BYTES - 2; k++)
			w->bytes[w->len++] = (uint8_t)(k == 0 && line == STUFFED_LINE ? '.' : 'a' + (line + k) % 26);
		w->bytes[w->len++] = '\r';
		w->bytes[w->len++] = '\n';
	}
}

struct cycler {
	struct smtp_config cfg;
	struct smtp_session s;
	uint8_t carry[LINE_SCAN_CARRY_BYTES]; /* lent for good */
	struct smtp_out out;
	uint8_t buf[8192];
	uint64_t msg_ends;
	uint64_t body_bytes; /* of the message in progress */
	uint64_t bad_msgs; /* MSG_END with the wrong size, count or body */
	uint64_t unexpected; /* MSG_ABORT, CLOSE */
	unsigned next_qid;
	uint8_t first_stored; /* first byte of the stuffed line, as stored */
};

static const struct smtp_override *cycler_event(void *ctx, const struct smtp_event *ev)
{
	struct cycler *c = ctx;
	switch (ev->type) {
	case SMTP_EV_BODY:
		if (c->body_bytes <= STUFFED_LINE * BODY_LINE_BYTES &&
		    STUFFED_LINE * BODY_LINE_BYTES < c->body_bytes + ev->arg.len)
			c->first_stored = ev->arg.ptr[STUFFED_LINE * BODY_LINE_BYTES - c->body_bytes];
		c->body_bytes += ev->arg.len;
		break;
	case SMTP_EV_MSG_END:
		c->msg_ends++;
		if (ev->size_bytes != BODY_BYTES || c->body_bytes != BODY_BYTES || ev->rcpts != 1 ||
		    c->first_stored != '.')
			c->bad_msgs++;
		c->body_bytes = 0;
		c->first_stored = 0;
		break;
	case SMTP_EV_MSG_ABORT:
	case SMTP_EV_CLOSE:
		c->unexpected++;
		break;
	default:
		break;
	}
	return NULL;
}

static void cycler_start(struct cycler *c)
{
	memset(c, 0, sizeof *c);
	smtp_config_defaults(&c->cfg);
	c->out = (struct smtp_out){ c->buf, 0, sizeof c->buf };
	smtp_session_init(&c->s, &c->cfg, cycler_event, c);
	smtp_session_carry_lend(&c->s, c->carry);
	smtp_session_greet(&c->s, &c->out);
}

/* Feed everything, answering each verdict with 250 and the next queue ID.
 * Returns false on a stop that a cycle must never see. */
static bool cycler_feed(struct cycler *c, const void *in, size_t len)
{
	const uint8_t *p = in;
	while (len > 0 || c->s.state == SMTP_STATE_VERDICT) {
		size_t used;
		enum smtp_stop stop = smtp_session_feed(&c->s, p, len, &used, &c->out);
		p += used;
		len -= used;
		if (stop == SMTP_STOP_INPUT)
			continue;
		if (stop != SMTP_STOP_VERDICT)
			return false;
		char qid[16];
		snprintf(qid, sizeof qid, "C%u", ++c->next_qid);
		struct smtp_verdict v = { 250, qid, NULL };
		if (smtp_session_verdict(&c->s, &v, &c->out) != SMTP_STOP_INPUT)
			return false;
	}
	return true;
}

/* Compare this cycle's output with the expected replies, then drain it. */
static bool cycler_cycle_ok(struct cycler *c, uint64_t *replies)
{
	char want[sizeof cycle_replies + 16];
	int n = snprintf(want, sizeof want, "%sC%u\r\n", cycle_replies, c->next_qid);
	bool ok = (size_t)n == c->out.len && memcmp(want, c->buf, c->out.len) == 0;
	for (const uint8_t *p = c->buf; (p = memchr(p, '\n', (size_t)(c->buf + c->out.len - p))) != NULL; p++)
		(*replies)++;
	if (!ok && c->out.len) {
		char *got = harness_escape(c->buf, c->out.len), *exp = harness_escape(want, (size_t)n);
		fprintf(stderr, "  cycle %u\n  want: \"%s\"\n  got:  \"%s\"\n", c->next_qid, exp, got);
		free(got);
		free(exp);
	}
	c->out.len = 0;
	return ok;
}

/* Heap bytes in use, or 0 where glibc's mallinfo2 is unavailable. */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

static bool heap_measurable(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	return true;
#else
	printf("test_session_cycles: mallinfo2 unavailable, heap check skipped\n");
	return false;
#endif
}

/* Connection caching, one command per input: 100,000 cycles. */
static void test_cached_connection(const struct wire_body *body)
{
	static struct cycler c; /* large: keep it off the stack */
	uint64_t bad_cycles = 0, replies = 0;
	size_t heap_mark = 0;
	static const char *const steps[] = { "RSET\r\n", "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n", "DATA\r\n" };
	cycler_start(&c);
	CHECK(cycler_feed(&c, "EHLO c.example\r\n", 16));
	c.out.len = 0;
	for (unsigned i = 1; i <= CYCLES; i++) {
		bool fed = true;
		for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
			fed &= cycler_feed(&c, steps[k], strlen(steps[k]));
		fed &= cycler_feed(&c, body->bytes, body->len);
		fed &= cycler_feed(&c, ".\r\n", 3);
		if (!cycler_cycle_ok(&c, &replies) || !fed || !smtp_session_is_idle(&c.s))
			bad_cycles++;
		if (bad_cycles > 3)
			break; /* the diagnostics above are enough */
		if (i == HEAP_MARK_CYCLE)
			heap_mark = heap_in_use();
	}
	CHECK_U64(bad_cycles, 0);
	CHECK_U64(replies, (uint64_t)REPLIES_PER_CYCLE * CYCLES);
	CHECK_U64(c.msg_ends, CYCLES);
	CHECK_U64(c.bad_msgs, 0);
	CHECK_U64(c.unexpected, 0);
	CHECK_U64(c.s.errors, 0);
	if (heap_measurable())
		CHECK_U64(heap_in_use(), heap_mark);
}

/* Each cycle's commands and content in one input: 10,000 cycles. */
static void test_cached_connection_pipelined(const struct wire_body *body)
{
	static struct cycler c;
	static uint8_t input[sizeof cycle_commands + BODY_BYTES + 8];
	uint64_t bad_cycles = 0, replies = 0;
	size_t len = sizeof cycle_commands - 1;
	memcpy(input, cycle_commands, len);
	memcpy(input + len, body->bytes, body->len);
	len += body->len;
	memcpy(input + len, ".\r\n", 3);
	len += 3;
	cycler_start(&c);
	CHECK(cycler_feed(&c, "EHLO c.example\r\n", 16));
	c.out.len = 0;
	size_t heap_mark = 0;
	for (unsigned i = 1; i <= CYCLES_PIPELINED && bad_cycles <= 3; i++) {
		bool fed = cycler_feed(&c, input, len);
		if (!cycler_cycle_ok(&c, &replies) || !fed || !smtp_session_is_idle(&c.s))
			bad_cycles++;
		if (i == HEAP_MARK_CYCLE)
			heap_mark = heap_in_use();
	}
	CHECK_U64(bad_cycles, 0);
	CHECK_U64(replies, (uint64_t)REPLIES_PER_CYCLE * CYCLES_PIPELINED);
	CHECK_U64(c.msg_ends, CYCLES_PIPELINED);
	CHECK_U64(c.bad_msgs, 0);
	CHECK_U64(c.unexpected, 0);
	CHECK_U64(c.s.errors, 0);
	if (heap_measurable())
		CHECK_U64(heap_in_use(), heap_mark);
}

int main(void)
{
	static struct wire_body body;
	wire_body_build(&body);
	CHECK_U64(body.len, BODY_BYTES + 1);
	CHECK(sizeof(struct smtp_session) < IDLE_SESSION_BUDGET_BYTES);
	test_cached_connection(&body);
	test_cached_connection_pipelined(&body);
	return harness_finish("test_session_cycles");
}
