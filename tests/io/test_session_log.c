/*
 * tests/io/test_session_log.c - a session's running account
 * (io/session_log.c) and the report it hands to the spool.
 *
 * Owns: event sequences fed with chosen monotonic times, and the report
 * that comes out: commands by verb and pipelined; transactions aborted
 * (RSET, QUIT, EOF, timeout, with their recipients, refusals, data and
 * time), refused (too big, verdict 4xx/5xx) and completed (queue IDs
 * listed); idle gaps over, at and under --idle-gap, the final silence of an
 * EOF or timeout end; what session_log_finish() copies from the session;
 * list caps at SESSION_REPORT_*_MAX with the totals still counting; fault
 * rules named by their text and counted; the
 * whole report encoded and decoded again through core/'s spool record code.
 * The events are written by hand in the order core/ raises them (see
 * core/smtp_session*.c), so a test names exactly what a session would say.
 *
 * Workload: a few thousand events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_id.h"
#include "session_harness.h"
#include "session_log.h"
#include "session_report.h"
#include "spool_format.h"

#define CONNECT_WALL_US 1764000000000000ull
#define CONNECT_MONO_US 5000000ull /* not 0: offsets must be relative */
#define IDLE_GAP_MS 1000u
#define IDLE_GAP_US (IDLE_GAP_MS * 1000ull)
#define QID_A "4dXq7K1mZbC0aa"
#define QID_B "4dXq7K1mZbC0ab"

/* ---- event helpers (t: microseconds after connect) ----------------------- */

static void ev_cmd(struct session_log *log, enum smtp_verb verb, uint32_t flags, uint64_t t)
{
	struct smtp_event ev = { .type = SMTP_EV_COMMAND, .verb = verb, .flags = flags };
	session_log_event(log, &ev, CONNECT_MONO_US + t);
}

static void ev_type(struct session_log *log, enum smtp_event_type type, enum smtp_reason why, uint64_t t)
{
	struct smtp_event ev = { .type = type, .reason = why };
	session_log_event(log, &ev, CONNECT_MONO_US + t);
}

static void ev_mail(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_MAIL, 0, t);
	ev_type(log, SMTP_EV_MAIL, SMTP_REASON_NONE, t);
}

/* An accepted RCPT: the command and its event. */
static void ev_rcpt(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_RCPT, 0, t);
	ev_type(log, SMTP_EV_RCPT, SMTP_REASON_NONE, t);
}

/* A refused RCPT: the command only. */
static void ev_rcpt_refused(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_RCPT, 0, t);
}

static void ev_rset(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_RSET, 0, t);
	ev_type(log, SMTP_EV_RESET, SMTP_REASON_RSET, t);
}

static void ev_data(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_DATA, 0, t);
	ev_type(log, SMTP_EV_DATA_BEGIN, SMTP_REASON_NONE, t);
}

/* QUIT as core/ raises it (MSG_ABORT only with a message in flight). */
static void ev_quit(struct session_log *log, uint64_t t)
{
	ev_cmd(log, SMTP_VERB_QUIT, 0, t);
	ev_type(log, SMTP_EV_QUIT, SMTP_REASON_QUIT, t);
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_QUIT, t);
}

static struct session_log *log_new(void)
{
	struct session_log *log = session_log_new(CONNECT_WALL_US, CONNECT_MONO_US, IDLE_GAP_MS);
	if (log == NULL)
		abort();
	return log;
}

/* A session whose facts finish() copies; cfg must outlive it. */
static void session_with(struct smtp_session *s, const struct smtp_config *cfg, uint32_t quirks, uint32_t errors,
			 enum smtp_verb helo_verb)
{
	smtp_session_init(s, cfg, NULL, NULL);
	s->quirks = quirks;
	s->errors = errors;
	s->helo_verb = (uint8_t)helo_verb;
}

static const struct session_report *finish(struct session_log *log, enum smtp_reason why, uint64_t t, uint64_t silent_t)
{
	struct smtp_config cfg;
	struct smtp_session s;
	smtp_config_defaults(&cfg);
	session_with(&s, &cfg, 0, 0, SMTP_VERB_EHLO);
	return session_log_finish(log, &s, why, CONNECT_WALL_US + t, CONNECT_MONO_US + t, CONNECT_MONO_US + silent_t);
}

static void check_abort(const struct session_abort *a, uint64_t at_us, uint32_t rcpts, uint32_t refused, bool had_data,
			enum smtp_reason why, const char *what)
{
	bool ok = CHECK_U64(a->at_us, at_us);
	ok &= CHECK_U64(a->rcpts, rcpts);
	ok &= CHECK_U64(a->rcpts_refused, refused);
	ok &= CHECK_U64(a->had_data, had_data);
	ok &= CHECK_U64(a->reason, why);
	if (!ok)
		fprintf(stderr, "  ^ abort: %s\n", what);
}

/* ---- counts ---------------------------------------------------------------- */

static void test_verbs(void)
{
	struct session_log *log = log_new();
	ev_cmd(log, SMTP_VERB_EHLO, 0, 10);
	ev_cmd(log, SMTP_VERB_MAIL, SMTP_EVF_PIPELINED, 20);
	ev_cmd(log, SMTP_VERB_RCPT, SMTP_EVF_PIPELINED, 20);
	ev_cmd(log, SMTP_VERB_RCPT, SMTP_EVF_PIPELINED, 20);
	ev_cmd(log, SMTP_VERB_DATA, 0, 20);
	ev_cmd(log, SMTP_VERB_NOOP, 0, 30);
	ev_cmd(log, SMTP_VERB_AUTH, SMTP_EVF_SECRET, 40);
	ev_cmd(log, SMTP_VERB_AUTH_RESPONSE, SMTP_EVF_SECRET | SMTP_EVF_PIPELINED, 40);
	ev_cmd(log, SMTP_VERB_UNKNOWN, 0, 50);
	const struct session_report *r = &log->r;
	CHECK_U64(r->verbs[SMTP_VERB_EHLO], 1);
	CHECK_U64(r->verbs[SMTP_VERB_MAIL], 1);
	CHECK_U64(r->verbs[SMTP_VERB_RCPT], 2);
	CHECK_U64(r->verbs[SMTP_VERB_DATA], 1);
	CHECK_U64(r->verbs[SMTP_VERB_NOOP], 1);
	CHECK_U64(r->verbs[SMTP_VERB_AUTH], 1);
	CHECK_U64(r->verbs[SMTP_VERB_AUTH_RESPONSE], 1);
	CHECK_U64(r->verbs[SMTP_VERB_UNKNOWN], 1);
	CHECK_U64(r->verbs[SMTP_VERB_QUIT], 0);
	CHECK_U64(r->pipelined, 4);
	uint32_t total = 0;
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++)
		total += r->verbs[v];
	CHECK_U64(total, 9);
	/* no MAIL event: no transaction, so nothing to abort */
	ev_quit(log, 60);
	r = finish(log, SMTP_REASON_NONE, 60, 60);
	CHECK_U64(r->txn_aborted, 0);
	CHECK_U64(r->abort_count, 0);
	CHECK_U64(r->rcpts_accepted, 0);
	CHECK_U64(r->rcpts_refused, 2);
	session_log_free(log);
}

/* ---- how transactions end -------------------------------------------------- */

static void test_rset_abort(void)
{
	struct session_log *log = log_new();
	ev_cmd(log, SMTP_VERB_EHLO, 0, 100);
	ev_mail(log, 200);
	ev_rcpt(log, 300);
	ev_rcpt_refused(log, 400);
	ev_rset(log, 12345);
	CHECK_U64(log->r.txn_aborted, 1);
	CHECK_U64(log->r.abort_count, 1);
	check_abort(&log->aborts[0], 12345, 1, 1, false, SMTP_REASON_RSET, "MAIL RCPT RCPT(refused) RSET");
	/* a second RSET with no transaction: nothing new */
	ev_rset(log, 20000);
	CHECK_U64(log->r.txn_aborted, 1);
	CHECK_U64(log->r.abort_count, 1);
	/* the next transaction starts from zero */
	ev_mail(log, 21000);
	ev_rset(log, 22000);
	CHECK_U64(log->r.abort_count, 2);
	check_abort(&log->aborts[1], 22000, 0, 0, false, SMTP_REASON_RSET, "MAIL RSET");
	ev_quit(log, 30000);
	const struct session_report *r = finish(log, SMTP_REASON_NONE, 30000, 30000);
	CHECK_U64(r->txn_aborted, 2);
	CHECK_U64(r->abort_count, 2);
	CHECK(r->aborts == log->aborts);
	CHECK_U64(r->verbs[SMTP_VERB_RSET], 3);
	CHECK_U64(r->rcpts_accepted, 1);
	CHECK_U64(r->rcpts_refused, 1);
	CHECK_U64(r->end_reason, SMTP_REASON_QUIT);
	CHECK(r->ended_by_client);
	session_log_free(log);
}

static void test_msg_abort_and_refusals(void)
{
	struct session_log *log = log_new();
	/* DATA then the peer goes: MSG_ABORT(EOF), then CLOSE(EOF) */
	ev_mail(log, 100);
	ev_rcpt(log, 200);
	ev_rcpt(log, 250);
	ev_data(log, 300);
	ev_type(log, SMTP_EV_MSG_ABORT, SMTP_REASON_EOF, 5000);
	CHECK_U64(log->r.txn_aborted, 1);
	check_abort(&log->aborts[0], 5000, 2, 0, true, SMTP_REASON_EOF, "DATA then EOF");
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_EOF, 5000);
	CHECK_U64(log->r.txn_aborted, 1); /* the CLOSE finds nothing open */
	CHECK_U64(log->r.end_reason, SMTP_REASON_EOF);
	const struct session_report *r = finish(log, SMTP_REASON_EOF, 5000, 5000);
	CHECK(r->ended_by_client);
	CHECK_U64(r->txn_refused, 0);
	CHECK_U64(r->txn_completed, 0);
	session_log_free(log);

	/* too big: refused at end of data, not aborted */
	log = log_new();
	ev_mail(log, 100);
	ev_rcpt(log, 200);
	ev_data(log, 300);
	ev_type(log, SMTP_EV_MSG_ABORT, SMTP_REASON_TOO_BIG, 400);
	CHECK_U64(log->r.txn_refused, 1);
	CHECK_U64(log->r.txn_aborted, 0);
	/* the next RSET aborts nothing */
	ev_rset(log, 500);
	CHECK_U64(log->r.txn_aborted, 0);
	/* verdict 250 with a queue ID, then 451 */
	ev_mail(log, 600);
	ev_rcpt(log, 700);
	ev_data(log, 800);
	ev_type(log, SMTP_EV_MSG_END, SMTP_REASON_NONE, 900);
	session_log_verdict(log, 250, QID_A);
	ev_mail(log, 1000);
	ev_rcpt(log, 1100);
	ev_data(log, 1200);
	ev_type(log, SMTP_EV_MSG_END, SMTP_REASON_NONE, 1300);
	session_log_verdict(log, 451, NULL);
	ev_rset(log, 1400); /* nothing open after either verdict */
	ev_quit(log, 1500);
	r = finish(log, SMTP_REASON_NONE, 1500, 1500);
	CHECK_U64(r->txn_completed, 1);
	CHECK_U64(r->txn_refused, 2);
	CHECK_U64(r->txn_aborted, 0);
	CHECK_U64(r->abort_count, 0);
	CHECK_U64(r->rcpts_accepted, 3);
	CHECK_U64(r->rcpts_refused, 0);
	if (CHECK_U64(r->message_count, 1))
		CHECK_STR(r->messages[0].ptr, r->messages[0].len, QID_A);
	session_log_free(log);
}

static void test_quit_and_timeout(void)
{
	/* QUIT with a transaction open */
	struct session_log *log = log_new();
	ev_mail(log, 100);
	ev_rcpt(log, 200);
	ev_rcpt_refused(log, 250);
	ev_rcpt_refused(log, 260);
	ev_quit(log, 7777);
	const struct session_report *r = finish(log, SMTP_REASON_EOF, 9999999, 7777);
	CHECK_U64(r->txn_aborted, 1);
	if (CHECK_U64(r->abort_count, 1))
		check_abort(&r->aborts[0], 7777, 1, 2, false, SMTP_REASON_QUIT, "QUIT in a transaction");
	CHECK_U64(r->end_reason, SMTP_REASON_QUIT); /* the CLOSE's reason, not finish's */
	CHECK(r->ended_by_client);
	CHECK_U64(r->gaps_total, 0); /* no final gap after QUIT, however long */
	session_log_free(log);

	/* CLOSE(TIMEOUT) with a transaction open */
	log = log_new();
	ev_mail(log, 100);
	ev_rcpt(log, 200);
	ev_data(log, 300);
	ev_type(log, SMTP_EV_MSG_ABORT, SMTP_REASON_TIMEOUT, 3000000);
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_TIMEOUT, 3000000);
	r = finish(log, SMTP_REASON_NONE, 3000000, 300);
	CHECK_U64(r->txn_aborted, 1);
	if (CHECK_U64(r->abort_count, 1))
		check_abort(&r->aborts[0], 3000000, 1, 0, true, SMTP_REASON_TIMEOUT, "DATA then timeout");
	CHECK_U64(r->end_reason, SMTP_REASON_TIMEOUT);
	CHECK(!r->ended_by_client);
	/* the silence before the timeout is a gap */
	if (CHECK_U64(r->gap_count, 1)) {
		CHECK_U64(r->gaps[0].at_us, 300);
		CHECK_U64(r->gaps[0].len_us, 3000000 - 300);
		CHECK_U64(r->gaps[0].after_verb, SMTP_VERB_DATA);
		CHECK(!r->gaps[0].in_txn); /* the abort came first */
	}
	session_log_free(log);

	/* CLOSE(TIMEOUT) with MAIL and RCPT only: the CLOSE aborts it */
	log = log_new();
	ev_mail(log, 100);
	ev_rcpt(log, 200);
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_TIMEOUT, 400000);
	r = finish(log, SMTP_REASON_NONE, 400000, 200);
	if (CHECK_U64(r->abort_count, 1))
		check_abort(&r->aborts[0], 400000, 1, 0, false, SMTP_REASON_TIMEOUT, "RCPT then timeout");
	CHECK_U64(r->end_reason, SMTP_REASON_TIMEOUT);
	session_log_free(log);

	/* no CLOSE: finish's reason aborts the transaction and ends it */
	log = log_new();
	ev_mail(log, 100);
	r = finish(log, SMTP_REASON_EOF, 800, 800);
	if (CHECK_U64(r->abort_count, 1))
		check_abort(&r->aborts[0], 800, 0, 0, false, SMTP_REASON_EOF, "MAIL then EOF at finish");
	CHECK_U64(r->end_reason, SMTP_REASON_EOF);
	CHECK(r->ended_by_client);
	session_log_free(log);

	/* the server closed (fault) with a transaction open */
	log = log_new();
	ev_mail(log, 100);
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_FAULT, 900);
	r = finish(log, SMTP_REASON_NONE, 900, 100);
	if (CHECK_U64(r->abort_count, 1))
		check_abort(&r->aborts[0], 900, 0, 0, false, SMTP_REASON_FAULT, "fault close");
	CHECK(!r->ended_by_client);
	CHECK_U64(r->gaps_total, 0); /* only EOF and timeout ends have a final gap */
	session_log_free(log);
}

/* ---- gaps ------------------------------------------------------------------- */

static void test_gaps(void)
{
	struct session_log *log = log_new();
	/* after the banner, silent from 1000 to 1000 + gap + 1: recorded */
	session_log_input(log, CONNECT_MONO_US + 1000 + IDLE_GAP_US + 1, CONNECT_MONO_US + 1000, 10);
	CHECK_U64(log->r.gaps_total, 1);
	if (CHECK_U64(log->r.gap_count, 1)) {
		CHECK_U64(log->gaps[0].at_us, 1000);
		CHECK_U64(log->gaps[0].len_us, IDLE_GAP_US + 1);
		CHECK_U64(log->gaps[0].after_verb, SMTP_VERB_COUNT);
		CHECK(!log->gaps[0].in_txn);
	}
	ev_cmd(log, SMTP_VERB_EHLO, 0, 2000000);
	/* exactly the threshold: not a gap */
	session_log_input(log, CONNECT_MONO_US + 2000000 + IDLE_GAP_US, CONNECT_MONO_US + 2000000, 20);
	/* just under: not either */
	session_log_input(log, CONNECT_MONO_US + 4000000 + IDLE_GAP_US - 1, CONNECT_MONO_US + 4000000, 30);
	/* input in the same microsecond as the silence began, or "before" it */
	session_log_input(log, CONNECT_MONO_US + 5000000, CONNECT_MONO_US + 5000000, 1);
	session_log_input(log, CONNECT_MONO_US + 5000000, CONNECT_MONO_US + 6000000, 1);
	CHECK_U64(log->r.gaps_total, 1);
	CHECK_U64(log->r.bytes_in, 62);
	/* in a transaction, after RCPT */
	ev_mail(log, 7000000);
	ev_rcpt(log, 7000100);
	session_log_input(log, CONNECT_MONO_US + 7000200 + 3 * IDLE_GAP_US, CONNECT_MONO_US + 7000200, 5);
	CHECK_U64(log->r.gaps_total, 2);
	if (CHECK_U64(log->r.gap_count, 2)) {
		CHECK_U64(log->gaps[1].at_us, 7000200);
		CHECK_U64(log->gaps[1].len_us, 3 * IDLE_GAP_US);
		CHECK_U64(log->gaps[1].after_verb, SMTP_VERB_RCPT);
		CHECK(log->gaps[1].in_txn);
	}
	/* AUTH continuation lines do not count as the last verb */
	ev_rset(log, 11000000);
	ev_cmd(log, SMTP_VERB_AUTH, 0, 11000100);
	ev_cmd(log, SMTP_VERB_AUTH_RESPONSE, SMTP_EVF_SECRET, 11000200);
	session_log_input(log, CONNECT_MONO_US + 11000300 + 2 * IDLE_GAP_US, CONNECT_MONO_US + 11000300, 5);
	if (CHECK_U64(log->r.gap_count, 3)) {
		CHECK_U64(log->gaps[2].after_verb, SMTP_VERB_AUTH);
		CHECK(!log->gaps[2].in_txn);
	}
	session_log_output(log, 1234);
	/* EOF: the silence before it is a final gap */
	const struct session_report *r = finish(log, SMTP_REASON_EOF, 20000000, 15000000);
	CHECK_U64(r->gaps_total, 4);
	if (CHECK_U64(r->gap_count, 4)) {
		CHECK(r->gaps == log->gaps);
		CHECK_U64(r->gaps[3].at_us, 15000000);
		CHECK_U64(r->gaps[3].len_us, 5000000);
		CHECK_U64(r->gaps[3].after_verb, SMTP_VERB_AUTH);
	}
	CHECK_U64(r->bytes_in, 72);
	CHECK_U64(r->bytes_out, 1234);
	session_log_free(log);

	/* EOF after a short silence: no final gap */
	log = log_new();
	r = finish(log, SMTP_REASON_EOF, 5000000, 5000000 - IDLE_GAP_US);
	CHECK_U64(r->gaps_total, 0);
	session_log_free(log);
}

/* --idle-gap takes up to 86,400,000 ms (io/options.c): a silence shorter
 * than the threshold is never a gap, however large the threshold. */
static void test_gap_threshold_range(void)
{
	static const uint32_t ms[] = { 4294967u, 4294968u, 5000000u, 86400000u };
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		struct session_log *log = session_log_new(CONNECT_WALL_US, CONNECT_MONO_US, ms[i]);
		uint64_t gap_us = (uint64_t)ms[i] * 1000u;
		/* half the threshold: not a gap */
		session_log_input(log, CONNECT_MONO_US + 10 + gap_us / 2, CONNECT_MONO_US + 10, 1);
		bool ok = CHECK_U64(log->r.gaps_total, 0);
		/* just over it: a gap */
		session_log_input(log, CONNECT_MONO_US + 2 * gap_us + 1, CONNECT_MONO_US + gap_us, 1);
		ok &= CHECK_U64(log->r.gaps_total, 1);
		if (!ok)
			fprintf(stderr, "  ^ --idle-gap=%u ms\n", (unsigned)ms[i]);
		session_log_free(log);
	}
}

/* ---- what finish copies, and the caps --------------------------------------- */

static void test_finish_copies(void)
{
	struct session_log *log = log_new();
	ev_cmd(log, SMTP_VERB_EHLO, 0, 10);
	session_log_fault(log, NULL);
	session_log_fault(log, NULL);
	struct smtp_config cfg;
	struct smtp_session s;
	smtp_config_defaults(&cfg);
	uint32_t quirks = SMTP_QUIRK_PIPELINING_NO_EHLO | SMTP_QUIRK_BARE_CR_CONTENT | SMTP_QUIRK_LOWERCASE_VERB;
	session_with(&s, &cfg, quirks, 7, SMTP_VERB_LHLO);
	const struct session_report *r =
		session_log_finish(log, &s, SMTP_REASON_SHUTDOWN, CONNECT_WALL_US + 99, CONNECT_MONO_US + 99, 0);
	CHECK_U64(r->quirks, quirks);
	CHECK_U64(r->errors, 7);
	CHECK_U64(r->helo_verb, SMTP_VERB_LHLO);
	CHECK_U64(r->faults, 2);
	CHECK_U64(r->connect_us, CONNECT_WALL_US);
	CHECK_U64(r->end_us, CONNECT_WALL_US + 99);
	CHECK_U64(r->end_reason, SMTP_REASON_SHUTDOWN);
	CHECK(!r->ended_by_client);
	CHECK_U64(r->message_count, 0);
	session_log_free(log);
}

static void test_caps(void)
{
	struct session_log *log = log_new();
	const uint32_t n_abort = SESSION_REPORT_ABORTS_MAX + 6;
	for (uint32_t i = 0; i < n_abort; i++) {
		ev_mail(log, 1000 * i + 1);
		ev_rcpt(log, 1000 * i + 2);
		ev_rset(log, 1000 * i + 3);
	}
	const uint32_t n_gap = SESSION_REPORT_GAPS_MAX + 1;
	uint64_t t = 100000000;
	for (uint32_t i = 0; i < n_gap; i++, t += 3 * IDLE_GAP_US)
		session_log_input(log, CONNECT_MONO_US + t + 2 * IDLE_GAP_US, CONNECT_MONO_US + t, 1);
	const uint32_t n_msg = SESSION_REPORT_MESSAGES_MAX + 1;
	struct queue_id_gen g;
	char first[QUEUE_ID_LEN + 1], last[QUEUE_ID_LEN + 1];
	queue_id_init(&g, 5, 2, 0);
	for (uint32_t i = 0; i < n_msg; i++) {
		char id[QUEUE_ID_LEN + 1];
		queue_id_next(&g, CONNECT_WALL_US + i, id);
		id[QUEUE_ID_LEN] = '\0';
		if (i == 0)
			memcpy(first, id, sizeof id);
		if (i == SESSION_REPORT_MESSAGES_MAX - 1)
			memcpy(last, id, sizeof id);
		ev_mail(log, t + i);
		ev_rcpt(log, t + i);
		ev_data(log, t + i);
		ev_type(log, SMTP_EV_MSG_END, SMTP_REASON_NONE, t + i);
		session_log_verdict(log, 250, id);
	}
	const struct session_report *r = finish(log, SMTP_REASON_EOF, t + n_msg, t + n_msg);
	CHECK_U64(r->txn_aborted, n_abort);
	CHECK_U64(r->abort_count, SESSION_REPORT_ABORTS_MAX);
	check_abort(&r->aborts[SESSION_REPORT_ABORTS_MAX - 1], 1000 * (SESSION_REPORT_ABORTS_MAX - 1) + 3, 1, 0, false,
		    SMTP_REASON_RSET, "the last abort kept");
	CHECK_U64(r->gaps_total, n_gap);
	CHECK_U64(r->gap_count, SESSION_REPORT_GAPS_MAX);
	CHECK_U64(r->txn_completed, n_msg);
	CHECK_U64(r->message_count, SESSION_REPORT_MESSAGES_MAX);
	CHECK_STR(r->messages[0].ptr, r->messages[0].len, first);
	CHECK_STR(r->messages[SESSION_REPORT_MESSAGES_MAX - 1].ptr, r->messages[SESSION_REPORT_MESSAGES_MAX - 1].len,
		  last);
	CHECK_U64(r->rcpts_accepted, n_abort + n_msg);
	session_log_free(log);

	/* exactly at the cap: all kept */
	log = log_new();
	for (uint32_t i = 0; i < SESSION_REPORT_ABORTS_MAX; i++) {
		ev_mail(log, 10 * i + 1);
		ev_rset(log, 10 * i + 2);
	}
	r = finish(log, SMTP_REASON_EOF, 100000, 100000);
	CHECK_U64(r->txn_aborted, SESSION_REPORT_ABORTS_MAX);
	CHECK_U64(r->abort_count, SESSION_REPORT_ABORTS_MAX);
	session_log_free(log);
}

/* ---- the round trip through the spool record --------------------------------- */

static uint8_t *encode(const struct session_report *r, size_t *len)
{
	size_t head = session_report_meta_bytes(r);
	uint64_t record_len = session_report_record_len(r);
	uint8_t *p = calloc(1, (size_t)record_len);
	if (p == NULL)
		abort();
	session_report_head(r, 64, p);
	struct spool_checksum c;
	spool_checksum_init(&c);
	spool_checksum_update(&c, p, head);
	CHECK_U64(spool_record_tail(&c, record_len, head, p + head), record_len - head);
	*len = (size_t)record_len;
	return p;
}

/* r encoded and decoded again into *d (calloc'ed); *img holds the record
 * d's views point into; rec the record as decoded.  Both freed by the
 * caller. */
static bool decode_again(const struct session_report *r, uint8_t **img, struct spool_record *rec,
			 struct session_report_image **d)
{
	size_t len;
	*img = encode(r, &len);
	*d = calloc(1, sizeof **d);
	if (*d == NULL)
		abort();
	return spool_record_decode(*img, len, rec) == SPOOL_OK && session_report_decode(rec, *d);
}

static void test_round_trip(void)
{
	struct session_log *log = log_new();
	ev_cmd(log, SMTP_VERB_EHLO, 0, 100);
	session_log_input(log, CONNECT_MONO_US + 100 + 2 * IDLE_GAP_US, CONNECT_MONO_US + 100, 40);
	ev_mail(log, 2100000);
	ev_rcpt(log, 2100001);
	ev_rcpt_refused(log, 2100002);
	ev_rset(log, 2100003);
	ev_cmd(log, SMTP_VERB_MAIL, SMTP_EVF_PIPELINED, 2200000);
	ev_type(log, SMTP_EV_MAIL, SMTP_REASON_NONE, 2200000);
	ev_rcpt(log, 2200000);
	ev_data(log, 2200000);
	ev_type(log, SMTP_EV_MSG_END, SMTP_REASON_NONE, 2300000);
	session_log_verdict(log, 250, QID_A);
	ev_mail(log, 2400000);
	ev_rcpt(log, 2400001);
	ev_data(log, 2400002);
	ev_type(log, SMTP_EV_MSG_END, SMTP_REASON_NONE, 2400003);
	session_log_verdict(log, 250, QID_B);
	ev_mail(log, 2500000);
	ev_rcpt(log, 2500001);
	ev_data(log, 2500002);
	ev_type(log, SMTP_EV_MSG_ABORT, SMTP_REASON_EOF, 9000000);
	ev_type(log, SMTP_EV_CLOSE, SMTP_REASON_EOF, 9000000);
	session_log_output(log, 777);
	session_log_fault(log, NULL);
	struct smtp_config cfg;
	struct smtp_session s;
	smtp_config_defaults(&cfg);
	session_with(&s, &cfg, SMTP_QUIRK_CONTENT_BEFORE_354 | SMTP_QUIRK_BARE_LF_CONTENT, 2, SMTP_VERB_EHLO);
	const struct session_report *r = session_log_finish(log, &s, SMTP_REASON_EOF, CONNECT_WALL_US + 9000000,
							    CONNECT_MONO_US + 9000000, CONNECT_MONO_US + 2500002);
	/* what io/conn.c fills in after finish */
	log->r.id = smtp_view_make("4dXq7K1mZbC000", QUEUE_ID_LEN);
	log->r.shard = 2;
	log->r.node = 9;
	log->r.client_family = 4;
	log->r.client_port = 40000;
	memcpy(log->r.client_addr, "\xc0\x00\x02\x07", 4);
	log->r.helo = smtp_view_make("client.example", 14);
	CHECK_U64(r->txn_aborted, 2);
	CHECK_U64(r->gaps_total, 2);

	uint8_t *img;
	struct spool_record rec;
	struct session_report_image *d;
	CHECK(decode_again(r, &img, &rec, &d));
	CHECK_U64(rec.flags, SPOOL_FLAG_SESSION);
	CHECK_U64(rec.body_len, 0);
	const struct session_report *o = &d->r;
	CHECK_STR(o->id.ptr, o->id.len, "4dXq7K1mZbC000");
	CHECK_STR(o->helo.ptr, o->helo.len, "client.example");
	CHECK_U64(o->connect_us, CONNECT_WALL_US);
	CHECK_U64(o->end_us, CONNECT_WALL_US + 9000000);
	CHECK_U64(o->shard, 2);
	CHECK_U64(o->node, 9);
	CHECK_U64(o->client_family, 4);
	CHECK_U64(o->client_port, 40000);
	CHECK(memcmp(o->client_addr, r->client_addr, 16) == 0);
	CHECK_U64(o->helo_verb, SMTP_VERB_EHLO);
	CHECK_U64(o->end_reason, SMTP_REASON_EOF);
	CHECK(o->ended_by_client);
	CHECK_U64(o->quirks, SMTP_QUIRK_CONTENT_BEFORE_354 | SMTP_QUIRK_BARE_LF_CONTENT);
	CHECK(memcmp(o->verbs, r->verbs, sizeof o->verbs) == 0);
	CHECK_U64(o->verbs[SMTP_VERB_MAIL], 4);
	CHECK_U64(o->verbs[SMTP_VERB_RCPT], 5);
	CHECK_U64(o->pipelined, 1);
	CHECK_U64(o->errors, 2);
	CHECK_U64(o->txn_completed, 2);
	CHECK_U64(o->txn_refused, 0);
	CHECK_U64(o->txn_aborted, 2);
	CHECK_U64(o->rcpts_accepted, 4);
	CHECK_U64(o->rcpts_refused, 1);
	CHECK_U64(o->faults, 1);
	CHECK_U64(o->bytes_in, 40);
	CHECK_U64(o->bytes_out, 777);
	if (CHECK_U64(o->abort_count, 2)) {
		check_abort(&o->aborts[0], 2100003, 1, 1, false, SMTP_REASON_RSET, "decoded RSET abort");
		check_abort(&o->aborts[1], 9000000, 1, 0, true, SMTP_REASON_EOF, "decoded EOF abort");
	}
	CHECK_U64(o->gaps_total, 2);
	if (CHECK_U64(o->gap_count, 2)) {
		CHECK_U64(o->gaps[0].at_us, 100);
		CHECK_U64(o->gaps[0].len_us, 2 * IDLE_GAP_US);
		CHECK_U64(o->gaps[0].after_verb, SMTP_VERB_EHLO);
		CHECK(!o->gaps[0].in_txn);
		CHECK_U64(o->gaps[1].at_us, 2500002);
		CHECK_U64(o->gaps[1].len_us, 9000000 - 2500002);
		CHECK_U64(o->gaps[1].after_verb, SMTP_VERB_DATA);
	}
	if (CHECK_U64(o->message_count, 2)) {
		CHECK_STR(o->messages[0].ptr, o->messages[0].len, QID_A);
		CHECK_STR(o->messages[1].ptr, o->messages[1].len, QID_B);
	}
	free(d);
	free(img);
	session_log_free(log);
}

/* A gap right after the banner keeps "no verb yet" through the record. */
static void test_round_trip_no_verb(void)
{
	struct session_log *log = log_new();
	const struct session_report *r = finish(log, SMTP_REASON_TIMEOUT, 3 * IDLE_GAP_US, 0);
	log->r.id = smtp_view_make("4dXq7K1mZbC001", QUEUE_ID_LEN);
	log->r.helo = smtp_view_make("", 0);
	uint8_t *img;
	struct spool_record rec;
	struct session_report_image *d;
	CHECK(decode_again(r, &img, &rec, &d));
	CHECK_U64(d->r.end_reason, SMTP_REASON_TIMEOUT);
	CHECK(!d->r.ended_by_client);
	if (CHECK_U64(d->r.gap_count, 1)) {
		CHECK_U64(d->r.gaps[0].after_verb, SMTP_VERB_COUNT);
		CHECK_U64(d->r.gaps[0].len_us, 3 * IDLE_GAP_US);
	}
	free(d);
	free(img);
	session_log_free(log);
}

/* Fault rules by name: counted per distinct text (the log keeps its own
 * copy), the first SESSION_REPORT_FAULT_RULES_MAX named, the rest and a
 * NULL rule counted only; the names survive encoding. */
static void test_fault_rules(void)
{
	struct session_log *log = log_new();
	char text[64];
	for (uint32_t i = 0; i <= SESSION_REPORT_FAULT_RULES_MAX; i++) { /* MAX + 1 distinct rules */
		snprintf(text, sizeof text, "rcpt:reply=550 5.1.1 no %u:p=0.5", (unsigned)i);
		for (uint32_t k = 0; k <= i % 3; k++)
			session_log_fault(log, text);
		memset(text, 'x', sizeof text - 1); /* the log must not keep the caller's buffer */
	}
	session_log_fault(log, "rcpt:reply=550 5.1.1 no 0:p=0.5"); /* the first again */
	session_log_fault(log, NULL);
	const struct session_report *r = finish(log, SMTP_REASON_EOF, 100, 100);
	uint32_t all = 1 + 1, named = 1;
	for (uint32_t i = 0; i <= SESSION_REPORT_FAULT_RULES_MAX; i++)
		all += i % 3 + 1;
	CHECK_U64(r->faults, all);
	if (CHECK_U64(r->fault_rule_count, SESSION_REPORT_FAULT_RULES_MAX)) {
		for (uint32_t i = 0; i < SESSION_REPORT_FAULT_RULES_MAX; i++) {
			snprintf(text, sizeof text, "rcpt:reply=550 5.1.1 no %u:p=0.5", (unsigned)i);
			CHECK_STR(r->fault_rules[i].rule.ptr, r->fault_rules[i].rule.len, text);
			CHECK_U64(r->fault_rules[i].count, i % 3 + 1 + (i == 0));
			named += i % 3 + 1;
		}
	}
	/* the rule past the maximum and the NULL one */
	CHECK_U64(session_report_faults_unnamed(r), SESSION_REPORT_FAULT_RULES_MAX % 3 + 1 + 1);
	CHECK_U64(all - named, SESSION_REPORT_FAULT_RULES_MAX % 3 + 1 + 1);
	uint8_t *img;
	struct spool_record rec;
	struct session_report_image *d;
	CHECK(decode_again(r, &img, &rec, &d));
	CHECK_U64(d->r.fault_rule_count, SESSION_REPORT_FAULT_RULES_MAX);
	CHECK_STR(d->r.fault_rules[1].rule.ptr, d->r.fault_rules[1].rule.len, "rcpt:reply=550 5.1.1 no 1:p=0.5");
	CHECK_U64(d->r.fault_rules[1].count, 2);
	free(d);
	free(img);
	session_log_free(log);
}

int main(void)
{
	test_verbs();
	test_rset_abort();
	test_msg_abort_and_refusals();
	test_quit_and_timeout();
	test_gaps();
	test_gap_threshold_range();
	test_finish_copies();
	test_caps();
	test_round_trip();
	test_round_trip_no_verb();
	test_fault_rules();
	return harness_finish("session_log");
}
