/*
 * tests/core/session_harness.h - the shared driver for session scenarios
 * and the tiny check framework of the core tests.
 *
 * Owns: running one struct smtp_session over a scripted input the way an
 * engine would (greet, feed pieces, drain output on SMTP_STOP_OUT_FULL,
 * answer SMTP_STOP_VERDICT, stop at SMTP_STOP_CLOSE), and turning what came
 * out into two texts a test can compare with a golden transcript: the reply
 * bytes, and one line per event.  It does not own the scenarios (the
 * test_session*.c files do) and never decides what the session should say.
 *
 * Split independence: the event text leaves out every fact that depends on
 * where the input was cut (COMMAND flags, the ILL_PIPELINING message flag,
 * how BODY was chunked), so the same input must give the same texts whether
 * it is fed whole, split at any offset, or byte by byte.  Each input piece
 * is copied so that it ends exactly at a PROT_NONE page, and the output
 * buffer ends at one too: an over-read of the input or an over-write of the
 * output is a SIGSEGV at the faulty instruction, not a silent pass.
 *
 * The harness also checks the feed contract on every call (consumed <= len,
 * SMTP_STOP_INPUT only when all input was used, progress on OUT_FULL, a
 * verdict only after MSG_END, nothing consumed after CLOSE).  It behaves
 * like the strictest legal engine: the verdict is given at once, without
 * sending the output first; after a verdict's OUT_FULL (LMTP) it feeds no
 * input until the replies are out; a verdict's SMTP_STOP_CLOSE (strict_sync
 * saw input too early) ends the run like a feed's.  A breach is
 * written into the event text as a "HARNESS ..." line and counted in
 * harness_result.harness_errors, so it can never pass unseen.
 *
 * Event text, one line each, views escaped with harness_escape():
 *   GREETING
 *   CMD <VERB>                          (smtp_cmd_name(); flags omitted)
 *   HELO <VERB> name=<x>[ no_name]
 *   AUTH_USER user=<u>
 *   AUTH ok|fail
 *   MAIL from=<a@b> params=<SIZE=10>[ no_brackets][ size=N][ body=7bit|
 *        8bitmime|binarymime][ ret=full|hdrs][ smtputf8][ auth=<x>]
 *        [ envid=<x>]                   (parsed fields only when set)
 *   RCPT to=<c@d> params=<>[ no_brackets][ notify=never,success,failure,
 *        delay][ orcpt=<x>]
 *   DATA_BEGIN[ bdat]
 *   MSG_END size=N rcpts=N flags=a,b|- body="..."
 *   MSG_ABORT reason=rset body="..."
 *   RESET
 *   QUIT
 *   CLOSE reason=too_many_errors
 * BODY events are joined per message and shown once, in MSG_END/MSG_ABORT.
 * Message flags print as bare_lf, bare_cr, nul, 8bit, long_line, false_eod,
 * bdat, ill_pipelining (only with show_sync_flags), smtputf8, utf8_no_param,
 * no_brackets; reasons as none, rset, helo, quit, eof, timeout, shutdown,
 * too_big, bare_lf, bdat_error, too_many_errors, syntax, sync, fault,
 * verdict.
 *
 * Workload: scenario inputs of a few KB, run len+2 times each by
 * harness_expect_all_splits (quadratic, fine below ~20 KB).
 */
#ifndef SMTPSINK_TESTS_SESSION_HARNESS_H
#define SMTPSINK_TESTS_SESSION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp_session.h"

/* Default output capacity: small, so long pipelined groups hit OUT_FULL. */
#define HARNESS_OUT_CAP_DEFAULT 4096u

struct harness_result {
	char *replies; /* every byte the session wrote, in order; NUL-ended */
	size_t replies_len;
	char *events; /* the event text described above; NUL-ended */
	size_t events_len;
	bool closed; /* feed() returned SMTP_STOP_CLOSE */
	unsigned harness_errors; /* feed-contract breaches seen */
};

/* Replace the default verdict for message msg_index (0-based, per run).
 * *v arrives filled with the default (opts' code/text, qid "Q<n+1>"). */
typedef void (*harness_verdict_fn)(void *ctx, unsigned msg_index, struct smtp_verdict *v);

/* Called for every SMTP_EV_COMMAND; cmd_index counts commands from 0 in
 * this run.  Must depend only on its arguments: expect_all_splits runs the
 * input many times with the same ctx. */
typedef const struct smtp_override *(*harness_override_fn)(void *ctx, const struct smtp_event *ev, unsigned cmd_index);

/* Zero-initialise, then set what the scenario needs. */
struct harness_opts {
	const struct smtp_config *cfg; /* NULL: smtp_config_defaults() */
	uint16_t verdict_code; /* 0: 250 */
	const char *verdict_text; /* refusals; NULL: "4.3.0 Error: write error" */
	harness_verdict_fn verdict; /* NULL: the code/text above for all */
	void *verdict_ctx;
	harness_override_fn override; /* NULL: no overrides */
	void *override_ctx;
	size_t out_cap; /* 0: HARNESS_OUT_CAP_DEFAULT; >= SMTP_OUT_RESERVE_BYTES */
	bool no_greet; /* feed without calling smtp_session_greet() */
	bool eof_at_end; /* call smtp_session_eof() after the last piece */
	bool show_sync_flags; /* print ill_pipelining in MSG_END flags */
};

/* Run in[0..len) cut at cuts[0..ncuts) (ascending, each <= len; equal or
 * edge cuts give empty pieces, which are fed too).  *r is overwritten; free
 * it with harness_result_free(). */
void harness_run_opts(const struct harness_opts *o, const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
		      struct harness_result *r);

/* The same with default options and the given config (NULL: defaults). */
void harness_run(const struct smtp_config *cfg, const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
		 struct harness_result *r);

void harness_result_free(struct harness_result *r);

/* Run input whole, cut at every offset 1..len-1, and byte by byte; every run
 * must give exactly expected_replies and (unless NULL) expected_events, and
 * no harness error.  Counts as one check (harness_passed/harness_failures);
 * on a mismatch prints the first failing split with expected and got, both
 * escaped, to stderr.  Returns 0 on success, 1 on failure.  o may be NULL. */
int harness_expect_all_splits(const struct harness_opts *o, const char *input, size_t len, const char *expected_replies,
			      const char *expected_events);

/* One run with no cuts, for behaviour that legitimately depends on how the
 * input arrives (strict_sync, pre-greeting).  Same checking and counting. */
int harness_expect_whole(const struct harness_opts *o, const char *input, size_t len, const char *expected_replies,
			 const char *expected_events);

/* The same, with the input cut at the given offsets. */
int harness_expect_cuts(const struct harness_opts *o, const char *input, size_t len, const size_t *cuts, size_t ncuts,
			const char *expected_replies, const char *expected_events);

/* C-style escape (\r \n \t \0 \\ \" and \xNN for other non-printables),
 * into a malloc'd NUL-terminated string. */
char *harness_escape(const void *bytes, size_t len);

/* ---- check framework ---------------------------------------------------
 * Checks record a failure and carry on; nothing here returns or jumps for
 * the caller.  The counters are the one mutable global of the test binary. */
extern unsigned harness_passed;
extern unsigned harness_failures;

/* Count one check; print file:line and what on failure.  Returns ok. */
bool harness_check(bool ok, const char *file, int line, const char *what);

/* Count one check comparing bytes; prints both sides escaped on failure. */
bool harness_check_mem(const void *got, size_t got_len, const void *want, size_t want_len, const char *file, int line,
		       const char *what);

/* Count one check comparing unsigned integers. */
bool harness_check_u64(uint64_t got, uint64_t want, const char *file, int line, const char *what);

#define CHECK(cond) harness_check((cond), __FILE__, __LINE__, #cond)
#define CHECK_U64(got, want) harness_check_u64((got), (want), __FILE__, __LINE__, #got " == " #want)
#define CHECK_STR(got, got_len, want) \
	harness_check_mem((got), (got_len), (want), strlen(want), __FILE__, __LINE__, #got)

/* Print "<suite>: N passed, N failed"; returns the process exit status. */
int harness_finish(const char *suite_name);

/* ---- deterministic random input (xorshift64*, fixed seeds) ------------- */
struct harness_rng {
	uint64_t state;
};

static inline void harness_rng_seed(struct harness_rng *g, uint64_t seed)
{
	g->state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static inline uint64_t harness_rng_next(struct harness_rng *g)
{
	uint64_t x = g->state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform-enough value in [0, n); n > 0. */
static inline uint64_t harness_rng_below(struct harness_rng *g, uint64_t n)
{
	return harness_rng_next(g) % n;
}

/* Fill buf with len bytes drawn from alphabet (NUL-terminated; NULL: any
 * byte value 0..255). */
void harness_rng_bytes(struct harness_rng *g, uint8_t *buf, size_t len, const char *alphabet);

/* Choose ncuts ascending cut offsets in [0, len] (repeats allowed). */
void harness_rng_cuts(struct harness_rng *g, size_t len, size_t *cuts, size_t ncuts);

/* The event text's name of a reason ("rset", "too_many_errors", ...). */
const char *harness_reason_name(enum smtp_reason why);

#endif
