/*
 * tests/bench/test_client_proto.c - bench/client_proto.c, byte by byte.
 *
 * A session is driven against a small model server in this file (it parses
 * the client's writes and answers as a scripted SMTP server would), and its
 * whole transcript (every byte written, every event) is compared:
 *  - with golden transcripts, one per mode (what is sent, in which writes);
 *  - with itself when the server's replies are fed whole, byte by byte and
 *    split at every position (the parser keeps no hidden state);
 *  - for refusals (MAIL, RCPT, DATA, end of data, RSET), greetings,
 *    multi-line replies, malformed and unsolicited replies, 421, missing
 *    extensions, and the reply-line limit at limit-1, limit and limit+1;
 *  - STARTTLS: where it goes, the pause for the handshake, the EHLO after
 *    it (extensions forgotten, PIPELINING needed only then), and a server
 *    that does not offer it or refuses it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "client_proto.h"

#define TRANSCRIPT_BYTES 65536
#define OUT_BYTES 16384
#define LINES_BYTES 4096
#define REPLY_BYTES 65536

/* What the model server refuses, and how. */
struct script {
	const char *greeting; /* NULL: "220 model ESMTP\r\n" */
	const char *ehlo; /* NULL: a multi-line 250 with PIPELINING and CHUNKING */
	const char *mail, *rcpt, *data, *eod, *rset; /* NULL: the positive reply */
	const char *extra; /* appended after the greeting (unsolicited input) */
	const char *starttls; /* NULL: "220 2.0.0 Ready to start TLS" */
	const char *ehlo_clear; /* the EHLO reply before TLS; NULL: ehlo plus STARTTLS */
};

struct harness {
	struct client_proto s;
	struct client_cfg cfg;
	struct client_msg_spec spec;
	const struct script *sc;
	uint8_t lines[LINES_BYTES];
	uint8_t outbuf[OUT_BYTES];
	struct client_out out;
	char t[TRANSCRIPT_BYTES]; /* the transcript */
	size_t tlen;
	uint64_t next_seq, msgs_left;
	bool wait; /* the source says WAIT */
	uint64_t now;
	int split; /* 0 whole, -1 byte by byte, k: two pieces at k */
	/* model server state */
	bool in_data, tls;
	uint64_t bdat_left;
	unsigned qid;
	uint64_t messages, failed, started;
};

static void tprintf(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(h->t + h->tlen, sizeof h->t - h->tlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		h->tlen += (size_t)n < sizeof h->t - h->tlen ? (size_t)n : sizeof h->t - h->tlen - 1;
}

static void on_event(void *ctx, const struct client_event *ev)
{
	struct harness *h = ctx;
	switch (ev->type) {
	case CLIENT_EV_REPLY:
		tprintf(h, "E reply %s %u%s\n", client_step_name(ev->step), ev->code,
			ev->expected ? "" : " unexpected");
		break;
	case CLIENT_EV_MESSAGE:
		h->messages++;
		tprintf(h, "E message %llu size %llu qid %.*s\n", (unsigned long long)ev->seq,
			(unsigned long long)ev->size_bytes, (int)ev->qid_len, ev->qid ? ev->qid : "");
		break;
	case CLIENT_EV_TXN_FAILED:
		h->failed++;
		tprintf(h, "E failed %llu at %s %u\n", (unsigned long long)ev->seq, client_step_name(ev->step),
			ev->code);
		break;
	case CLIENT_EV_ERROR:
		tprintf(h, "E error %d %u\n", (int)ev->error, ev->code);
		break;
	}
}

static enum client_src next_msg(void *ctx, struct client_msg *m)
{
	struct harness *h = ctx;
	if (h->wait)
		return CLIENT_SRC_WAIT;
	if (h->msgs_left == 0)
		return CLIENT_SRC_DONE;
	h->msgs_left--;
	h->started++;
	*m = (struct client_msg){ h->next_seq++, h->now, 200 };
	return CLIENT_SRC_MSG;
}

static const struct client_hooks hooks = { on_event, next_msg };

/* The last reply's latency (test_starttls). */
static uint64_t latency_probe;

static void probe_event(void *ctx, const struct client_event *ev)
{
	if (ev->type == CLIENT_EV_REPLY)
		latency_probe = ev->latency_ns;
	on_event(ctx, ev);
}

static void setup(struct harness *h, enum client_mode mode, uint32_t rcpts, uint64_t msgs, const struct script *sc)
{
	memset(h, 0, sizeof *h);
	client_msg_fill_lines(h->lines, sizeof h->lines);
	h->spec = (struct client_msg_spec){ "f%n@x", "r%r@y", false, h->lines, sizeof h->lines, NULL, 0, NULL, 0 };
	h->cfg = (struct client_cfg){ mode, false, rcpts, "me", NULL, &h->spec, false };
	h->sc = sc;
	h->msgs_left = msgs;
	h->next_seq = 1;
	h->out = (struct client_out){ h->outbuf, OUT_BYTES, 0, 0, NULL, 0 };
}

/* ---- the model server ------------------------------------------------- */

static size_t add(char *r, size_t n, const char *s)
{
	size_t k = strlen(s);
	memcpy(r + n, s, k);
	return n + k;
}

static size_t answer_eod(struct harness *h, char *r, size_t n)
{
	if (h->sc->eod)
		return add(r, n, h->sc->eod);
	char line[64];
	snprintf(line, sizeof line, "250 2.0.0 Ok: queued as Q%u\r\n", ++h->qid);
	return add(r, n, line);
}

/* Answer one command line (without CRLF). */
static size_t answer(struct harness *h, const char *line, size_t len, char *r, size_t n)
{
	const struct script *sc = h->sc;
	if (len >= 4 && memcmp(line, "EHLO", 4) == 0 && !h->tls && h->cfg.starttls)
		return add(r, n, sc->ehlo_clear ? sc->ehlo_clear : "250-model\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	if (len >= 4 && memcmp(line, "EHLO", 4) == 0)
		return add(r, n,
			   sc->ehlo ? sc->ehlo : "250-model\r\n250-pipelining\r\n250-SIZE 100\r\n250 CHUNKING\r\n");
	if (len == 8 && memcmp(line, "STARTTLS", 8) == 0)
		return add(r, n, sc->starttls ? sc->starttls : "220 2.0.0 Ready to start TLS\r\n");
	if (len >= 4 && memcmp(line, "AUTH", 4) == 0)
		return add(r, n, "235 2.7.0 ok\r\n");
	if (len >= 4 && memcmp(line, "RSET", 4) == 0)
		return add(r, n, sc->rset ? sc->rset : "250 2.0.0 Ok\r\n");
	if (len >= 4 && memcmp(line, "MAIL", 4) == 0)
		return add(r, n, sc->mail ? sc->mail : "250 2.1.0 Ok\r\n");
	if (len >= 4 && memcmp(line, "RCPT", 4) == 0)
		return add(r, n, sc->rcpt ? sc->rcpt : "250 2.1.5 Ok\r\n");
	if (len >= 4 && memcmp(line, "DATA", 4) == 0) {
		h->in_data = sc->data == NULL;
		return add(r, n, sc->data ? sc->data : "354 go\r\n");
	}
	if (len >= 4 && memcmp(line, "BDAT", 4) == 0) {
		h->bdat_left = strtoull(line + 5, NULL, 10);
		return n;
	}
	if (len >= 4 && memcmp(line, "QUIT", 4) == 0)
		return add(r, n, "221 2.0.0 Bye\r\n");
	return add(r, n, "500 what\r\n");
}

/* The server's replies to one client write. */
static size_t serve(struct harness *h, const char *in, size_t len, char *r)
{
	size_t n = 0, i = 0;
	while (i < len) {
		if (h->bdat_left > 0) {
			size_t take = len - i < h->bdat_left ? len - i : (size_t)h->bdat_left;
			i += take;
			h->bdat_left -= take;
			if (h->bdat_left == 0)
				n = answer_eod(h, r, n);
			continue;
		}
		const char *lf = memchr(in + i, '\n', len - i);
		size_t ll = lf ? (size_t)(lf - (in + i)) + 1 : len - i;
		if (h->in_data) {
			if (ll == 3 && memcmp(in + i, ".\r\n", 3) == 0) {
				h->in_data = false;
				n = answer_eod(h, r, n);
			}
		} else {
			n = answer(h, in + i, ll >= 2 ? ll - 2 : ll, r, n);
		}
		i += ll;
	}
	return n;
}

/* ---- driving ---------------------------------------------------------- */

static void feed(struct harness *h, const char *r, size_t n)
{
	if (h->split == 0 || n == 0) {
		client_proto_feed(&h->s, (const uint8_t *)r, n, h->now);
	} else if (h->split < 0) {
		for (size_t i = 0; i < n; i++)
			client_proto_feed(&h->s, (const uint8_t *)r + i, 1, h->now);
	} else {
		size_t k = (size_t)h->split < n ? (size_t)h->split : n;
		client_proto_feed(&h->s, (const uint8_t *)r, k, h->now);
		client_proto_feed(&h->s, (const uint8_t *)r + k, n - k, h->now);
	}
}

/* The client's write, flattened (buf, body view, rest of buf). */
static size_t flatten(const struct client_out *o, char *dst)
{
	size_t n = 0;
	if (o->body_len == 0) {
		memcpy(dst, o->buf, o->len);
		return o->len;
	}
	memcpy(dst, o->buf, o->body_at);
	n = o->body_at;
	memcpy(dst + n, o->body, o->body_len);
	n += o->body_len;
	memcpy(dst + n, o->buf + o->body_at, o->len - o->body_at);
	return n + o->len - o->body_at;
}

/* Run the session to its end: the transcript is in h->t. */
static void run(struct harness *h)
{
	static char reply[REPLY_BYTES];
	char *wire = malloc(h->out.cap + LINES_BYTES);
	client_proto_init(&h->s, &h->cfg, &hooks, h, h->now);
	char greet[512];
	snprintf(greet, sizeof greet, "%s%s", h->sc->greeting ? h->sc->greeting : "220 model ESMTP\r\n",
		 h->sc->extra ? h->sc->extra : "");
	feed(h, greet, strlen(greet));
	for (int rounds = 0; rounds < 1000; rounds++) {
		if (client_proto_status(&h->s) == CLIENT_STARTTLS && !h->tls) {
			tprintf(h, "T handshake\n"); /* what the I/O layer does here */
			h->tls = true;
			h->now += 1000;
			client_proto_tls_started(&h->s, h->now);
		}
		if (!client_proto_want_write(&h->s))
			break;
		client_out_reset(&h->out);
		h->now += 1000;
		client_proto_write(&h->s, &h->out, h->now);
		size_t wn = flatten(&h->out, wire);
		tprintf(h, "C %.*s|\n", (int)wn, wire);
		size_t rn = serve(h, wire, wn, reply);
		h->now += 1000;
		feed(h, reply, rn);
	}
	tprintf(h, "S %d\n", (int)client_proto_status(&h->s));
	free(wire);
}

static const struct script plain = { 0 };

/* ---- golden transcripts ----------------------------------------------- */

static void golden(enum client_mode mode, bool no_rset, const char *want_writes)
{
	struct harness *h = malloc(sizeof *h);
	setup(h, mode, 2, 2, &plain);
	h->cfg.no_rset = no_rset;
	h->spec.file = true; /* a short fixed body keeps the transcript readable */
	h->spec.stuffed = (const uint8_t *)"..x\r\n";
	h->spec.stuffed_len = 5;
	h->spec.raw = (const uint8_t *)".x\r\n";
	h->spec.raw_len = 4;
	run(h);
	char writes[TRANSCRIPT_BYTES];
	size_t n = 0;
	for (const char *p = h->t; *p; p = strchr(p, '\n') + 1) /* keep the "C ..." lines */
		if (p[0] == 'C') {
			const char *end = strstr(p, "|\n");
			memcpy(writes + n, p + 2, (size_t)(end - p - 2));
			n += (size_t)(end - p - 2);
			writes[n++] = '|';
		}
	writes[n] = '\0';
	CHECK(strcmp(writes, want_writes) == 0, "mode %d no_rset %d: writes\n%s\nwant\n%s", mode, no_rset, writes,
	      want_writes);
	uint64_t want = mode == CLIENT_MODE_CONNECT ? 1 : 2; /* one message per connection */
	CHECK(h->messages == want && h->failed == 0 && client_proto_status(&h->s) == CLIENT_DONE,
	      "mode %d: %llu messages %llu failed", mode, (unsigned long long)h->messages,
	      (unsigned long long)h->failed);
	free(h);
}

static void test_golden(void)
{
	golden(CLIENT_MODE_REUSE, false,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\n|RCPT TO:<r1@y>\r\n|RCPT TO:<r2@y>\r\n|DATA\r\n|..x\r\n.\r\n|"
	       "RSET\r\n|MAIL FROM:<f2@x>\r\n|RCPT TO:<r1@y>\r\n|RCPT TO:<r2@y>\r\n|DATA\r\n|..x\r\n.\r\n|QUIT\r\n|");
	golden(CLIENT_MODE_REUSE, true,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\n|RCPT TO:<r1@y>\r\n|RCPT TO:<r2@y>\r\n|DATA\r\n|..x\r\n.\r\n|"
	       "MAIL FROM:<f2@x>\r\n|RCPT TO:<r1@y>\r\n|RCPT TO:<r2@y>\r\n|DATA\r\n|..x\r\n.\r\n|QUIT\r\n|");
	golden(CLIENT_MODE_PIPELINE, false,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nDATA\r\n|"
	       "..x\r\n.\r\nRSET\r\nMAIL FROM:<f2@x>\r\nRCPT TO:<r1@y>\r\nRCPT "
	       "TO:<r2@y>\r\nDATA\r\n|..x\r\n.\r\n|QUIT\r\n|");
	golden(CLIENT_MODE_PIPELINE, true,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nDATA\r\n|"
	       "..x\r\n.\r\nMAIL FROM:<f2@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nDATA\r\n|..x\r\n.\r\n|QUIT\r\n|");
	golden(CLIENT_MODE_BDAT, false,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nBDAT 4 LAST\r\n.x\r\n|"
	       "MAIL FROM:<f2@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nBDAT 4 LAST\r\n.x\r\n|QUIT\r\n|");
	golden(CLIENT_MODE_CONNECT, false,
	       "EHLO me\r\n|MAIL FROM:<f1@x>\r\n|RCPT TO:<r1@y>\r\n|RCPT "
	       "TO:<r2@y>\r\n|DATA\r\n|..x\r\n.\r\n|QUIT\r\n|");
}

/* ---- every split gives the same transcript ---------------------------- */

static void same_at_every_split(enum client_mode mode, const struct script *sc, uint64_t msgs)
{
	struct harness *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	setup(a, mode, 3, msgs, sc);
	run(a);
	for (int split = -1; split < 64; split++) {
		setup(b, mode, 3, msgs, sc);
		b->split = split;
		run(b);
		CHECK(a->tlen == b->tlen && memcmp(a->t, b->t, a->tlen) == 0, "mode %d split %d differs:\n%s\nvs\n%s",
		      mode, split, a->t, b->t);
		CHECK(b->started == b->messages + b->failed, "mode %d split %d: started %llu = %llu + %llu", mode,
		      split, (unsigned long long)b->started, (unsigned long long)b->messages,
		      (unsigned long long)b->failed);
	}
	free(a);
	free(b);
}

static void test_splits(void)
{
	static const struct script multi = {
		.greeting = "220-model\r\n220-second line\r\n220 last\r\n",
		.ehlo = "250-model says hi\r\n250-SIZE\r\n250-Pipelining\r\n250-chunking\r\n250 \r\n",
		.eod = "250-2.0.0 first line\r\n250 2.0.0 Ok: queued as ABCDEF123\r\n",
	};
	static const struct script rcpt_refused = { .rcpt = "450 4.1.1 no\r\n", .data = "554 5.5.1 no recipients\r\n" };
	for (int m = CLIENT_MODE_CONNECT; m <= CLIENT_MODE_BDAT; m++) {
		same_at_every_split((enum client_mode)m, &plain, 3);
		same_at_every_split((enum client_mode)m, &multi, 3);
		same_at_every_split((enum client_mode)m, &rcpt_refused, 3);
	}
}

/* ---- refusals --------------------------------------------------------- */

static struct harness *run_script(enum client_mode mode, uint32_t rcpts, uint64_t msgs, const struct script *sc)
{
	struct harness *h = malloc(sizeof *h);
	setup(h, mode, rcpts, msgs, sc);
	run(h);
	return h;
}

static bool has(const struct harness *h, const char *s)
{
	return strstr(h->t, s) != NULL;
}

static void test_refusals(void)
{
	/* every RCPT refused: no DATA, RSET before the next MAIL even with --no-rset */
	static const struct script r450 = { .rcpt = "450 4.1.1 busy\r\n" };
	struct harness *h = malloc(sizeof *h);
	setup(h, CLIENT_MODE_REUSE, 2, 2, &r450);
	h->cfg.no_rset = true;
	run(h);
	CHECK(h->messages == 0 && h->failed == 2, "rcpt 450: %llu/%llu", (unsigned long long)h->messages,
	      (unsigned long long)h->failed);
	CHECK(!has(h, "C DATA"), "rcpt 450: DATA sent");
	CHECK(has(h, "E failed 1 at rcpt 450") && has(h, "C RSET\r\n|"), "rcpt 450: %s", h->t);
	free(h);

	/* one of two RCPTs refused: the message still goes */
	static const struct script half = { .rcpt = "250 ok\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 2, 1, &half);
	CHECK(h->messages == 1, "half: %s", h->t);
	free(h);

	static const struct script mail550 = { .mail = "550 5.7.1 go away\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 2, &mail550);
	CHECK(h->failed == 2 && !has(h, "C RCPT") && has(h, "E failed 1 at mail 550"), "mail 550: %s", h->t);
	free(h);
	h = run_script(CLIENT_MODE_PIPELINE, 1, 2, &mail550); /* all sent; DATA's 354 gets "." alone */
	CHECK(h->failed == 2 && h->messages == 0, "pipelined mail 550: %s", h->t);
	CHECK(has(h, "C .\r\n|") || has(h, "C .\r\nRSET"), "pipelined mail 550: no lone dot: %s", h->t);
	free(h);

	static const struct script data554 = { .data = "554 5.5.1 no\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 2, &data554);
	CHECK(h->failed == 2 && has(h, "E failed 1 at data 554") && has(h, "C RSET"), "data 554: %s", h->t);
	free(h);

	static const struct script eod451 = { .eod = "451 4.3.0 try later\r\n" };
	for (int m = CLIENT_MODE_CONNECT; m <= CLIENT_MODE_BDAT; m++) {
		h = run_script((enum client_mode)m, 1, 2, &eod451);
		CHECK(h->failed == (m == CLIENT_MODE_CONNECT ? 1u : 2u) && h->messages == 0, "mode %d eod 451: %s", m,
		      h->t);
		free(h);
	}

	static const struct script rset500 = { .rset = "500 no\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 3, &rset500);
	CHECK(h->messages == 1 && has(h, "C QUIT") && client_proto_status(&h->s) == CLIENT_DONE, "rset 500: %s", h->t);
	free(h);
}

/* ---- session-level replies ------------------------------------------ */

static void test_session_level(void)
{
	static const struct script g554 = { .greeting = "554 5.3.2 not now\r\n" };
	struct harness *h = run_script(CLIENT_MODE_REUSE, 1, 1, &g554);
	CHECK(!has(h, "C EHLO") && has(h, "C QUIT") && h->started == 0, "greeting 554: %s", h->t);
	free(h);

	static const struct script g421 = { .greeting = "421 4.3.2 bye\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 1, &g421);
	CHECK(!has(h, "C ") && client_proto_status(&h->s) == CLIENT_FAILED, "greeting 421: %s", h->t);
	free(h);

	static const struct script rcpt421 = { .rcpt = "421 4.4.2 closing\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 3, &rcpt421);
	CHECK(client_proto_status(&h->s) == CLIENT_FAILED && h->failed == 1 && h->started == 1, "rcpt 421: %s", h->t);
	free(h);

	static const struct script no_ext = { .ehlo = "250-model\r\n250 SIZE 10\r\n" };
	h = run_script(CLIENT_MODE_PIPELINE, 1, 1, &no_ext);
	CHECK(has(h, "E error 3") && has(h, "C QUIT") && h->started == 0, "no PIPELINING: %s", h->t);
	free(h);
	h = run_script(CLIENT_MODE_BDAT, 1, 1, &no_ext);
	CHECK(has(h, "E error 3") && h->started == 0, "no CHUNKING: %s", h->t);
	free(h);
	h = run_script(CLIENT_MODE_REUSE, 1, 1, &no_ext);
	CHECK(h->messages == 1, "reuse needs no extension: %s", h->t);
	free(h);

	static const struct script unsolicited = { .extra = "250 surprise\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 1, &unsolicited);
	CHECK(has(h, "E error 2 250") && client_proto_status(&h->s) == CLIENT_FAILED, "unsolicited: %s", h->t);
	free(h);
}

/* A greeting fed as given: the status and whether EHLO followed. */
static void greeting_row(const char *bytes, size_t len, enum client_status want, bool ehlo)
{
	struct harness *h = malloc(sizeof *h);
	setup(h, CLIENT_MODE_REUSE, 1, 0, &plain);
	client_proto_init(&h->s, &h->cfg, &hooks, h, 0);
	client_proto_feed(&h->s, (const uint8_t *)bytes, len, 5);
	bool wants = client_proto_want_write(&h->s);
	if (wants) {
		client_proto_write(&h->s, &h->out, 6);
		wants = h->out.len > 4 && memcmp(h->out.buf, "EHLO", 4) == 0;
	}
	CHECK(client_proto_status(&h->s) == want && wants == ehlo, "greeting %.20s...(%zu): status %d ehlo %d", bytes,
	      len, client_proto_status(&h->s), wants);
	free(h);
}

static void test_parser_rows(void)
{
	greeting_row("220 ok\r\n", 8, CLIENT_ACTIVE, true);
	greeting_row("220\r\n", 5, CLIENT_ACTIVE, true);
	greeting_row("220\n", 4, CLIENT_ACTIVE, true);
	greeting_row("220 bare lf\n", 12, CLIENT_ACTIVE, true);
	greeting_row("220-a\r\n220-b\r\n220 c\r\n", 21, CLIENT_ACTIVE, true);
	greeting_row("220-a\r\n", 7, CLIENT_ACTIVE, false); /* more to come */
	greeting_row("22x ok\r\n", 8, CLIENT_FAILED, false);
	greeting_row("220+ok\r\n", 8, CLIENT_FAILED, false);
	greeting_row("hello\r\n", 7, CLIENT_FAILED, false);
	greeting_row("", 0, CLIENT_ACTIVE, false);
	/* the line limit: text of limit-1, limit and limit+1 bytes */
	static char line[CLIENT_REPLY_LINE_MAX_BYTES + 16];
	for (int d = -1; d <= 1; d++) {
		size_t text = CLIENT_REPLY_LINE_MAX_BYTES + (size_t)d;
		memcpy(line, "220", 3);
		line[3] = ' ';
		memset(line + 4, 'a', text - 1); /* text and CR: the counted bytes */
		memcpy(line + 3 + text, "\r\n", 2);
		greeting_row(line, 3 + text + 2, d <= 0 ? CLIENT_ACTIVE : CLIENT_FAILED, d <= 0);
	}
}

static void test_qid_and_latency(void)
{
	static const struct script long_qid = {
		.eod = "250 2.0.0 Ok: queued as "
		       "0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
	};
	struct harness *h = run_script(CLIENT_MODE_REUSE, 1, 1, &long_qid);
	CHECK(has(h, "qid 0123456789012345678901234567890123456789012345678901234567890123\n"), "qid capped at %u: %s",
	      CLIENT_QID_MAX_BYTES, h->t);
	free(h);
	static const struct script no_qid = { .eod = "250 2.0.0 Ok\r\n" };
	h = run_script(CLIENT_MODE_REUSE, 1, 1, &no_qid);
	CHECK(has(h, "E message 1 size 200 qid \n"), "no qid: %s", h->t);
	free(h);
	h = run_script(CLIENT_MODE_REUSE, 1, 1, &plain);
	CHECK(has(h, "qid Q1\n"), "qid Q1: %s", h->t);
	free(h);
}

/* Idle, wake, then DONE sends QUIT; the output buffer bound holds for the
 * largest configuration. */
static void test_idle_and_room(void)
{
	struct harness *h = malloc(sizeof *h);
	setup(h, CLIENT_MODE_PIPELINE, 1, 1, &plain);
	h->wait = true;
	run(h);
	CHECK(client_proto_status(&h->s) == CLIENT_IDLE && !client_proto_want_write(&h->s), "idle: %s", h->t);
	h->wait = false;
	client_proto_wake(&h->s);
	CHECK(client_proto_want_write(&h->s), "woken: no write");
	free(h);

	setup(h = malloc(sizeof *h), CLIENT_MODE_PIPELINE, CLIENT_RCPTS_MAX, 2, &plain);
	h->spec.from_tmpl = "%n%n%n%n%n%n%n%n%n%n%n%n";
	h->spec.to_tmpl = "%r%n%n%n%n%n%n%n%n%n%n%n";
	size_t need = client_proto_out_bytes(&h->cfg);
	CHECK(need < OUT_BYTES * 64, "room %zu", need);
	uint8_t *big = malloc(need);
	h->out = (struct client_out){ big, (uint32_t)need, 0, 0, NULL, 0 };
	h->next_seq = UINT64_MAX - 4; /* the longest numbers */
	run(h); /* put() asserts the bound */
	CHECK(h->messages == 2, "%llu messages", (unsigned long long)h->messages);
	free(big);
	free(h);
}

/* ---- STARTTLS ----------------------------------------------------------- */

static struct harness *run_tls(enum client_mode mode, uint64_t msgs, const struct script *sc)
{
	struct harness *h = malloc(sizeof *h);
	setup(h, mode, 1, msgs, sc);
	h->cfg.starttls = true;
	run(h);
	return h;
}

static void test_starttls(void)
{
	/* reuse: EHLO, STARTTLS, the handshake, EHLO again, then as usual */
	struct harness *h = run_tls(CLIENT_MODE_REUSE, 1, &plain);
	CHECK(strstr(h->t, "C EHLO me\r\n|\nE reply ehlo 250\nC STARTTLS\r\n|\nE reply starttls 220\n"
			   "T handshake\nC EHLO me\r\n|\nE reply ehlo 250\nC MAIL FROM:<f1@x>\r\n|") != NULL,
	      "starttls: %s", h->t);
	CHECK(h->messages == 1 && client_proto_status(&h->s) == CLIENT_DONE, "starttls: %s", h->t);
	free(h);

	/* pipeline: the clear EHLO reply lacks CHUNKING and the TLS one
	 * PIPELINING would be checked only after TLS; the first group follows
	 * the second EHLO */
	static const struct script clear_only_tls = { .ehlo_clear = "250-model\r\n250 STARTTLS\r\n" };
	h = run_tls(CLIENT_MODE_PIPELINE, 2, &clear_only_tls);
	CHECK(h->messages == 2 && has(h, "T handshake\nC EHLO me\r\n|\nE reply ehlo 250\nC MAIL FROM:<f1@x>\r\nRCPT"),
	      "pipeline starttls: %s", h->t);
	free(h);

	/* extensions seen before TLS are forgotten (RFC 3207 4.2): a TLS
	 * EHLO without PIPELINING fails pipeline mode even though the clear
	 * one had it */
	static const struct script tls_no_pipe = { .ehlo = "250-model\r\n250 SIZE 10\r\n" };
	h = run_tls(CLIENT_MODE_PIPELINE, 1, &tls_no_pipe);
	CHECK(has(h, "T handshake") && has(h, "E error 3") && h->started == 0 && has(h, "C QUIT"),
	      "pipelining forgotten: %s", h->t);
	free(h);

	/* a server that does not offer STARTTLS: the session QUITs in clear */
	static const struct script no_tls = { .ehlo_clear = "250-model\r\n250 PIPELINING\r\n" };
	h = run_tls(CLIENT_MODE_REUSE, 1, &no_tls);
	CHECK(has(h, "E error 3 0") && !has(h, "C STARTTLS") && !has(h, "T handshake") && h->started == 0 &&
		      has(h, "C QUIT") && client_proto_status(&h->s) == CLIENT_DONE,
	      "no STARTTLS offered: %s", h->t);
	free(h);

	/* STARTTLS refused: an unexpected reply, then QUIT, no handshake */
	static const struct script refused = { .starttls = "454 4.7.0 TLS not available\r\n" };
	h = run_tls(CLIENT_MODE_REUSE, 1, &refused);
	CHECK(has(h, "E reply starttls 454 unexpected\nC QUIT") && !has(h, "T handshake") && h->started == 0,
	      "STARTTLS refused: %s", h->t);
	free(h);

	/* the pause: after the 220 the session writes nothing and reads
	 * nothing until the handshake is done; tls_started elsewhere is a
	 * no-op; the second EHLO's latency counts from the handshake's end */
	h = malloc(sizeof *h);
	setup(h, CLIENT_MODE_REUSE, 1, 1, &plain);
	h->cfg.starttls = true;
	client_proto_tls_started(&h->s, 0); /* zeroed session: not CLIENT_STARTTLS, ignored */
	client_proto_init(&h->s, &h->cfg, &hooks, h, 0);
	client_proto_tls_started(&h->s, 1);
	CHECK(client_proto_status(&h->s) == CLIENT_ACTIVE && !client_proto_want_write(&h->s), "early tls_started");
	client_proto_feed(&h->s, (const uint8_t *)"220 hi\r\n", 8, 10);
	client_proto_write(&h->s, &h->out, 11);
	client_proto_feed(&h->s, (const uint8_t *)"250 STARTTLS\r\n", 14, 12);
	client_out_reset(&h->out);
	client_proto_write(&h->s, &h->out, 13);
	CHECK(h->out.len == 10 && memcmp(h->out.buf, "STARTTLS\r\n", 10) == 0, "STARTTLS write");
	client_proto_feed(&h->s, (const uint8_t *)"220 go\r\n250 junk\r\n", 18, 14);
	CHECK(client_proto_status(&h->s) == CLIENT_STARTTLS && !client_proto_want_write(&h->s) &&
		      !client_proto_awaiting(&h->s) && !has(h, "error"),
	      "paused: status %d %s", client_proto_status(&h->s), h->t);
	client_proto_tls_started(&h->s, 100);
	client_out_reset(&h->out);
	client_proto_write(&h->s, &h->out, 150);
	CHECK(h->out.len == 9 && memcmp(h->out.buf, "EHLO me\r\n", 9) == 0, "EHLO after TLS");
	free(h);

	/* implicit TLS: the banner's latency from the handshake's end */
	struct harness *g = malloc(sizeof *g);
	setup(g, CLIENT_MODE_REUSE, 1, 1, &plain);
	latency_probe = 0;
	static const struct client_hooks probe_hooks = { probe_event, next_msg };
	client_proto_init(&g->s, &g->cfg, &probe_hooks, g, 100);
	client_proto_greeting_from(&g->s, 400);
	client_proto_feed(&g->s, (const uint8_t *)"220 hi\r\n", 8, 1000);
	CHECK(latency_probe == 600, "greeting latency %llu, want 600", (unsigned long long)latency_probe);
	free(g);
}

int main(void)
{
	test_golden();
	test_splits();
	test_refusals();
	test_session_level();
	test_parser_rows();
	test_qid_and_latency();
	test_idle_and_room();
	test_starttls();
	return bench_check_finish("test_client_proto");
}
