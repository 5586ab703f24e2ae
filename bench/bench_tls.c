/*
 * bench/bench_tls.c - TLS in the load generator (see bench_tls.h).
 *
 * Owns: the worker's client context and ticket, the handshake (its
 * counters and latency: bench_stats' tls_* counters and the tls_handshake
 * histogram), decryption into the session, sealing the session's output
 * into the wire, and the wire's sends.  A failure is reported to the loop
 * as a result; the loop counts it and closes (bench_loop.c).
 *
 * Expected workload: a handshake per connection (connect mode: per
 * message), then per message one or a few records each way.  Per
 * handshake OpenSSL allocates the SSL object and its buffers; nothing
 * here allocates after start-up.
 */
#include "bench_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "bench_loop.h"
#include "tls_ctx.h"

#define WIRE_ALIGN_BYTES 64u

/* Keep an unused session (our reference), dropping the oldest when the
 * pool is full. */
static void tickets_push(struct bench_tls *w, SSL_SESSION *sess)
{
	if (w->tickets_count == w->tickets_cap) { /* the oldest sits where the newest goes */
		SSL_SESSION_free(w->tickets[w->tickets_head]);
		w->tickets_count--;
	}
	w->tickets[w->tickets_head] = sess;
	w->tickets_head = (w->tickets_head + 1) % w->tickets_cap;
	w->tickets_count++;
}

/* The newest session still resumable (our reference), or NULL. */
static SSL_SESSION *tickets_pop(struct bench_tls *w)
{
	while (w->tickets_count > 0) {
		w->tickets_head = (w->tickets_head + w->tickets_cap - 1) % w->tickets_cap;
		w->tickets_count--;
		SSL_SESSION *sess = w->tickets[w->tickets_head];
		if (SSL_SESSION_is_resumable(sess))
			return sess;
		SSL_SESSION_free(sess);
	}
	return NULL;
}

/* The server gave a session ticket (TLS 1.3: after the handshake, in a
 * NewSessionTicket read with the first application data; TLS 1.2: in a
 * full handshake).  Pooled; the reference is ours (return 1). */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	tickets_push(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)), sess);
	return 1;
}

bool bench_tls_check(const struct bench_config *cfg, char *err, size_t err_len)
{
	SSL_CTX *ctx = tls_client_ctx_new(cfg->tls_protocols, cfg->tls_ciphers, err, err_len);
	tls_ctx_free(ctx);
	return ctx != NULL;
}

int bench_tls_open(struct bench_tls *w, const struct bench_config *cfg, uint32_t conns, uint64_t write_max, char *err,
		   size_t err_len)
{
	w->cfg = cfg;
	w->ctx = tls_client_ctx_new(cfg->tls_protocols, cfg->tls_ciphers, err, err_len);
	if (w->ctx == NULL)
		return -1;
	if (cfg->tls_resume) {
		SSL_CTX_set_app_data(w->ctx, w);
		SSL_CTX_sess_set_new_cb(w->ctx, on_new_session);
		w->tickets_cap = conns; /* one ticket per handshake in flight is plenty */
		w->tickets = calloc(conns, sizeof *w->tickets);
		if (w->tickets == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
	}
	/* one write whole, or a few records of a large one per send */
	uint64_t most = (uint64_t)BENCH_TLS_WIRE_RECORDS * TLS_STREAM_RECORD_PLAIN_MAX;
	uint64_t plain = write_max < most ? write_max : most;
	uint64_t records = (plain + TLS_STREAM_RECORD_PLAIN_MAX - 1) / TLS_STREAM_RECORD_PLAIN_MAX;
	uint64_t cap = plain + records * TLS_STREAM_RECORD_OVERHEAD + BENCH_TLS_FLIGHT_BYTES;
	w->wire_cap = (uint32_t)((cap + WIRE_ALIGN_BYTES - 1) / WIRE_ALIGN_BYTES * WIRE_ALIGN_BYTES);
	w->wire_mem = malloc((size_t)w->wire_cap * conns);
	if (w->wire_mem == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	return 0;
}

void bench_tls_close(struct bench_tls *w)
{
	for (; w->tickets_count > 0; w->tickets_count--) {
		w->tickets_head = (w->tickets_head + w->tickets_cap - 1) % w->tickets_cap;
		SSL_SESSION_free(w->tickets[w->tickets_head]);
	}
	free(w->tickets);
	tls_ctx_free(w->ctx);
	free(w->wire_mem);
	w->tickets = NULL;
	w->ctx = NULL;
	w->wire_mem = NULL;
}

void bench_tls_conn_setup(struct bench_tls *w, struct bench_conn *c, uint32_t i)
{
	memset(&c->tls, 0, sizeof c->tls);
	c->tls.wire = w->wire_mem + (size_t)w->wire_cap * i;
}

bool bench_tls_begin(struct bench_tls *w, struct bench_conn *c, uint64_t now_ns)
{
	struct bench_tls_conn *t = &c->tls;
	t->phase = BENCH_TLS_HANDSHAKE;
	t->start_ns = now_ns;
	t->wire_len = t->wire_sent = 0;
	t->inflight = false;
	if (tls_stream_init(&t->st, w->ctx, false, w->cfg->tls_sni) != 0)
		return false;
	SSL_SESSION *sess = w->tickets != NULL ? tickets_pop(w) : NULL;
	if (sess != NULL) {
		SSL_set_session(t->st.ssl, sess); /* offered; the server decides */
		SSL_SESSION_free(sess); /* the SSL holds it now */
	}
	return tls_stream_handshake(&t->st) == TLS_IO_WANT; /* the ClientHello is in the output */
}

/* The handshake is done: count it; the session starts (implicit) or
 * starts over (STARTTLS). */
static void established(struct bench_tls *w, struct bench_conn *c)
{
	struct bench_loop *l = c->loop;
	struct bench_counts *k = &l->stats->c;
	struct bench_tls_conn *t = &c->tls;
	t->phase = BENCH_TLS_ON;
	k->tls_handshakes++;
	if (SSL_session_reused(t->st.ssl) == 1) {
		k->tls_resumed++;
		/* TLS 1.2: no new ticket comes with a resumed handshake, and the
		 * one used stays good: back to the pool */
		if (w->tickets != NULL && SSL_version(t->st.ssl) < TLS1_3_VERSION)
			tickets_push(w, SSL_get1_session(t->st.ssl));
	}
	hdr_record(&l->stats->lat[CLIENT_STEP_TLS_HANDSHAKE], l->now_ns - t->start_ns);
	if (l->cfg->tls == BENCH_TLS_STARTTLS)
		client_proto_tls_started(&c->proto, l->now_ns);
	else
		client_proto_greeting_from(&c->proto, l->now_ns);
}

/* Why the handshake failed, once per worker on stderr (the counts say how
 * often); OpenSSL's error queue is cleared either way. */
static void tell_failure(struct bench_tls *w)
{
	char why[256];
	tls_stream_error(why, sizeof why);
	if (w->told)
		return;
	w->told = true;
	fprintf(stderr, "smtpsink-bench: TLS handshake failed: %s\n", why[0] != '\0' ? why : "protocol error");
}

/* Decrypt everything that is whole and feed it to the session. */
static enum bench_tls_input decrypt(struct bench_tls *w, struct bench_conn *c)
{
	for (;;) {
		size_t got = 0;
		enum tls_io r = tls_stream_read(&c->tls.st, w->plain, sizeof w->plain, &got);
		if (got > 0)
			client_proto_feed(&c->proto, w->plain, got, c->loop->now_ns);
		switch (r) {
		case TLS_IO_OK:
			continue;
		case TLS_IO_WANT:
			return BENCH_TLS_IN_OK;
		case TLS_IO_CLOSED:
			return BENCH_TLS_IN_CLOSED;
		case TLS_IO_ERROR:
			break;
		}
		char why[256];
		tls_stream_error(why, sizeof why); /* the queue is per thread: never left for the next call */
		return BENCH_TLS_IN_ERROR;
	}
}

enum bench_tls_input bench_tls_input(struct bench_tls *w, struct bench_conn *c, const uint8_t *p, size_t n)
{
	struct bench_tls_conn *t = &c->tls;
	if (t->st.ssl == NULL || !tls_stream_put(&t->st, p, n))
		return t->phase == BENCH_TLS_HANDSHAKE ? BENCH_TLS_IN_FAILED : BENCH_TLS_IN_ERROR;
	if (t->phase == BENCH_TLS_HANDSHAKE) {
		switch (tls_stream_handshake(&t->st)) {
		case TLS_IO_WANT:
			return BENCH_TLS_IN_OK;
		case TLS_IO_OK:
			established(w, c);
			break;
		case TLS_IO_CLOSED:
		case TLS_IO_ERROR:
			tell_failure(w);
			return BENCH_TLS_IN_FAILED;
		}
	}
	return decrypt(w, c);
}

/* The next n plaintext bytes of the session's output, from c->out_off:
 * in place when one segment holds them, else gathered into w->plain. */
static const uint8_t *plaintext(struct bench_tls *w, struct bench_conn *c, size_t n)
{
	bench_loop_out_iov(c);
	if (c->iov[0].iov_len >= n)
		return c->iov[0].iov_base;
	size_t got = 0;
	for (unsigned i = 0; i < c->iov_count && got < n; i++) {
		size_t k = c->iov[i].iov_len < n - got ? c->iov[i].iov_len : n - got;
		memcpy(w->plain + got, c->iov[i].iov_base, k);
		got += k;
	}
	return w->plain;
}

/* Encrypt the session's output while the wire can take the ciphertext:
 * one record (at most 16 KiB of plaintext) per write.  false: TLS failed. */
static bool seal(struct bench_tls *w, struct bench_conn *c)
{
	struct bench_tls_conn *t = &c->tls;
	uint64_t total = client_out_total(&c->out);
	while (c->out_off < total) {
		size_t queued = tls_stream_out_pending(&t->st) + TLS_STREAM_RECORD_OVERHEAD;
		if (queued >= w->wire_cap)
			break; /* the rest after this send */
		uint64_t n = total - c->out_off;
		size_t room = w->wire_cap - queued;
		if (n > room)
			n = room;
		if (n > TLS_STREAM_RECORD_PLAIN_MAX)
			n = TLS_STREAM_RECORD_PLAIN_MAX;
		if (tls_stream_write(&t->st, plaintext(w, c, (size_t)n), (size_t)n) != TLS_IO_OK) {
			char why[256];
			tls_stream_error(why, sizeof why);
			return false;
		}
		c->out_off += (uint32_t)n;
	}
	return true;
}

int bench_tls_output(struct bench_tls *w, struct bench_conn *c)
{
	struct bench_tls_conn *t = &c->tls;
	if (t->st.ssl == NULL)
		return 0;
	if (t->phase == BENCH_TLS_ON && !seal(w, c))
		return -1;
	t->wire_len = (uint32_t)tls_stream_take(&t->st, t->wire, w->wire_cap);
	t->wire_sent = 0;
	t->inflight = t->wire_len > 0;
	return t->inflight ? 1 : 0;
}

void bench_tls_iov(struct bench_conn *c)
{
	struct bench_tls_conn *t = &c->tls;
	c->iov[0] = (struct iovec){ t->wire + t->wire_sent, t->wire_len - t->wire_sent };
	c->iov_count = 1;
}

bool bench_tls_sent(struct bench_conn *c, uint32_t bytes)
{
	struct bench_tls_conn *t = &c->tls;
	t->wire_sent += bytes;
	if (t->wire_sent < t->wire_len)
		return true;
	t->inflight = false;
	t->wire_len = t->wire_sent = 0;
	return false;
}

void bench_tls_end(struct bench_conn *c)
{
	struct bench_tls_conn *t = &c->tls;
	/* OpenSSL makes the session of a connection freed without a shutdown
	 * unresumable (ssl_clear_bad_session), and with TLS 1.3 that is the
	 * session its last ticket made, maybe still in the pool.  A session
	 * that ended with QUIT answered counts as shut down (no close_notify
	 * is sent: the server has closed by then); a failed one's ticket is
	 * dropped, as it should be. */
	if (t->phase == BENCH_TLS_ON && client_proto_status(&c->proto) == CLIENT_DONE)
		SSL_set_shutdown(t->st.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	tls_stream_free(&t->st);
	t->phase = BENCH_TLS_OFF;
	t->inflight = false;
	t->wire_len = t->wire_sent = 0;
}
