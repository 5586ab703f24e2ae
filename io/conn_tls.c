/*
 * io/conn_tls.c - TLS on a connection: STARTTLS and implicit TLS as a
 * byte-stream layer between the backend and the session (tls/tls_stream.h
 * over memory BIOs), the same on io_uring and epoll.
 *
 * Owns:
 *  - The switch: after STARTTLS's 220 (SMTP_STOP_STARTTLS) every byte that
 *    followed the command in the same read is dropped, never answered nor
 *    decrypted (CVE-2011-0411: with multishot recv they sit in the same
 *    buffer); the 220 itself and what preceded it leave in clear
 *    (clear_out), everything after it through TLS.  Implicit TLS
 *    (--listen-tls) starts the handshake at accept, after any PROXY header.
 *  - Input: received ciphertext goes into the read BIO and its buffer goes
 *    back at once; the handshake runs on it; plaintext is decrypted into
 *    the connection's own input memory (conn_input.c), at most what fits
 *    there, so the session is fed exactly as without TLS, and a session that
 *    cannot consume leaves ciphertext unread and stops receiving (conn.c).
 *  - Output: plaintext leaves c->out only when no send is in flight, so the
 *    ciphertext waiting is bounded by one output buffer plus TLS's own
 *    records (handshake flights, tickets, close_notify); a flight leaves in
 *    one send (the wire buffer holds 17 KiB: a handshake flight with a
 *    certificate chain fits).  The wire buffer exists only while ciphertext
 *    is waiting, so an idle TLS session holds the SSL object alone
 *    (SSL_MODE_RELEASE_BUFFERS frees its record buffers).
 *  - Its end: handshake failure or timeout closes without a reply (an alert
 *    when TLS made one); a session that ends on TLS sends close_notify after
 *    its last reply; the client's close_notify is its end of input.
 *  - The facts: version, cipher and SNI for the message records, the
 *    session report and the transcript; the tls fault stage (refuse is the
 *    session's override; fail sends a handshake_failure alert; delay holds
 *    the 220 or the implicit handshake).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "conn_trace.h"
#include "session_log.h"
#include "shard.h"
#include "tls_stream.h"

#define CONN_TLS_WIRE_BYTES (17u * 1024u) /* one flight, or one record of a full output buffer */
#define CONN_TLS_IN_MAX_BYTES (64u * 1024u) /* ciphertext buffered before decryption waits */

struct conn_tls {
	struct tls_stream st;
	uint8_t *wire; /* ciphertext to send: the kernel's while inflight */
	uint32_t wire_len;
	uint32_t clear_out; /* bytes at the front of c->out that leave in clear */
	bool implicit; /* --listen-tls: no STARTTLS, the banner follows the handshake */
	bool done; /* the handshake is complete */
	bool inflight; /* the send in flight is from wire */
	bool notified; /* close_notify is queued */
	bool fail; /* a tls:fail rule: answer the ClientHello with an alert */
	uint64_t start_us; /* monotonic: the handshake began */
};

/* A fatal handshake_failure alert (RFC 8446 6.2; record version 1.2), what
 * a tls:fail rule answers to a ClientHello. */
static const uint8_t alert_handshake_failure[] = { 21, 3, 3, 0, 2, 2, 40 };

bool conn_tls_begin(struct conn *c, bool implicit, uint32_t clear_out)
{
	struct shard *sh = c->shard;
	struct conn_tls *t = calloc(1, sizeof *t);
	if (t == NULL || sh->tls_ctx == NULL || tls_stream_init(&t->st, sh->tls_ctx, true, NULL) != 0) {
		free(t);
		return false;
	}
	t->implicit = implicit;
	t->clear_out = clear_out;
	t->fail = c->tls_fail;
	t->start_us = sh->mono_us;
	c->tls = t;
	if (implicit) { /* what followed a PROXY header is the ClientHello */
		const uint8_t *p;
		size_t n;
		while (conn_input_peek(c, &p, &n) && tls_stream_put(&t->st, p, n))
			conn_input_consume(c, n);
	}
	c->cmd_start_s = (uint32_t)sh->now_s; /* the handshake has --timeout, however it trickles */
	conn_set_state(c, CONN_HANDSHAKE);
	if (c->trace != NULL)
		conn_trace_note(c, "TLS handshake begins%s", implicit ? " (implicit TLS)" : " (STARTTLS)");
	return true;
}

void conn_tls_starttls(struct conn *c, struct smtp_out *out)
{
	uint64_t dropped = 0;
	const uint8_t *p;
	size_t n;
	while (conn_input_peek(c, &p, &n)) { /* CVE-2011-0411: never answered, never decrypted */
		dropped += n;
		conn_input_consume(c, n);
	}
	if (dropped > 0 && c->trace != NULL)
		conn_trace_note(c, "%llu bytes after STARTTLS discarded", (unsigned long long)dropped);
	if (!conn_tls_begin(c, false, (uint32_t)out->len)) {
		shard_stats_add(&c->shard->stats.tls_handshakes[SHARD_STATS_TLS_FAILED], 1);
		smtp_session_fail(&c->session, 0, NULL, out); /* the 220 goes, then the close */
		conn_drain(c);
	}
}

bool conn_tls_put(struct conn *c, uint16_t bid, uint32_t len)
{
	struct shard *sh = c->shard;
	bool ok = tls_stream_put(&c->tls->st, shard_rbuf(sh, bid), len);
	sh->ops->release_buf(sh, bid);
	return ok;
}

/* The handshake failed or was refused: no reply can be understood now, so
 * the session ends without one (an alert, if TLS made one, goes out). */
static void handshake_failed(struct conn *c, const char *why)
{
	struct shard *sh = c->shard;
	shard_stats_add(&sh->stats.tls_handshakes[SHARD_STATS_TLS_FAILED], 1);
	if (c->trace != NULL)
		conn_trace_note(c, "TLS handshake failed: %s", why);
	if (c->log != NULL) {
		char text[300];
		snprintf(text, sizeof text, "failed: %s", why);
		session_log_tls(c->log, text, NULL);
	}
	uint8_t scratch[SMTP_REPLY_LINE_MAX_BYTES];
	struct smtp_out none = { scratch, 0, sizeof scratch }; /* no plaintext reply may go now */
	if (c->session.state != SMTP_STATE_CLOSED)
		smtp_session_fail(&c->session, 0, NULL, &none);
	c->out_len = c->tls->clear_out; /* a clear 220 still due goes first */
	conn_drain(c);
}

/* A tls:fail rule: the ClientHello gets a handshake_failure alert. */
static void fail_on_purpose(struct conn *c)
{
	struct conn_tls *t = c->tls;
	tls_stream_free(&t->st); /* nothing more is read or made by TLS */
	t->wire = malloc(sizeof alert_handshake_failure);
	if (t->wire != NULL) {
		memcpy(t->wire, alert_handshake_failure, sizeof alert_handshake_failure);
		t->wire_len = sizeof alert_handshake_failure;
	}
	handshake_failed(c, "refused by a fault rule (tls:fail)");
}

/* The handshake is complete: the session starts (implicit) or starts over
 * (STARTTLS) on TLS. */
static void established(struct conn *c)
{
	struct shard *sh = c->shard;
	struct conn_tls *t = c->tls;
	struct tls_facts f;
	t->done = true;
	c->cmd_start_s = 0;
	shard_stats_add(&sh->stats.tls_handshakes[SHARD_STATS_TLS_OK], 1);
	shard_stats_observe(&sh->stats.tls_handshake, sh->mono_us - t->start_us);
	tls_stream_facts(&t->st, &f);
	if (f.resumed)
		shard_stats_add(&sh->stats.tls_resumed, 1);
	if (c->trace != NULL)
		conn_trace_note(c, "TLS handshake done: %s %s%s%s%s", f.version, f.cipher, f.sni[0] ? " SNI " : "",
				f.sni, f.resumed ? " (resumed)" : "");
	char text[sizeof f.version + sizeof f.cipher + 1];
	snprintf(text, sizeof text, "%s %s", f.version, f.cipher);
	if (c->log != NULL)
		session_log_tls(c->log, text, f.sni);
	conn_capture_tls(c, text, f.sni);
	conn_set_state(c, CONN_SESSION);
	smtp_session_tls_started(&c->session);
	if (t->implicit && conn_want_out(c)) {
		struct smtp_out out = conn_out(c);
		conn_begin_session(c, &out); /* connect rules, then the banner */
		conn_out_done(c, &out);
	}
}

/* Run the handshake on what arrived. */
static void handshake(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (c->state != CONN_HANDSHAKE || tls_stream_in_pending(&t->st) == 0)
		return; /* held (a delay rule), or nothing to read yet */
	if (t->fail) {
		fail_on_purpose(c);
		return;
	}
	char why[256];
	switch (tls_stream_handshake(&t->st)) {
	case TLS_IO_OK:
		established(c);
		break;
	case TLS_IO_WANT:
		break;
	case TLS_IO_CLOSED:
	case TLS_IO_ERROR:
		tls_stream_error(why, sizeof why);
		handshake_failed(c, why[0] != '\0' ? why : "protocol error");
		break;
	}
}

/* Decrypt into the connection's own input while it has room. */
static void decrypt(struct conn *c)
{
	struct conn_tls *t = c->tls;
	for (;;) {
		uint32_t room = 0;
		uint8_t *dst = conn_input_reserve(c, TLS_STREAM_RECORD_PLAIN_MAX, &room);
		if (dst == NULL)
			return; /* full: the ciphertext waits (and receiving stops) */
		size_t got = 0;
		enum tls_io r = tls_stream_read(&t->st, dst, room, &got);
		conn_input_commit(c, (uint32_t)got);
		if (r == TLS_IO_OK)
			continue;
		if (r == TLS_IO_CLOSED) {
			c->peer_eof = true; /* close_notify: the client's end of input */
		} else if (r == TLS_IO_ERROR) {
			char why[256];
			if (c->trace != NULL)
				conn_trace_note(c, "TLS error: %s", tls_stream_error(why, sizeof why));
			c->peer_eof = true;
			c->broken = true; /* no more records can be made or read */
		}
		return;
	}
}

void conn_tls_pump(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (t->st.ssl == NULL)
		return; /* failed on purpose */
	if (!t->done) {
		handshake(c);
		if (!t->done) {
			if (c->peer_eof && conn_effective_state(c) == CONN_HANDSHAKE)
				handshake_failed(c, "the client closed during the handshake");
			return;
		}
	}
	if (conn_effective_state(c) < CONN_DRAINING)
		decrypt(c);
}

bool conn_tls_input_full(const struct conn *c)
{
	return c->tls != NULL && c->tls->st.ssl != NULL && tls_stream_in_pending(&c->tls->st) > CONN_TLS_IN_MAX_BYTES;
}

bool conn_tls_sealing(const struct conn *c)
{
	return c->tls != NULL && c->tls->clear_out == 0;
}

/* Encrypt what may leave of c->out (after any held part, only while the
 * handshake is done). */
static bool seal(struct conn *c)
{
	struct conn_tls *t = c->tls;
	uint32_t n = conn_hold_sendable(c);
	if (n == 0 || !t->done || t->st.ssl == NULL)
		return true;
	if (c->trace != NULL)
		conn_trace_output(c, c->out, n);
	if (tls_stream_write(&t->st, c->out, n) != TLS_IO_OK)
		return false;
	memmove(c->out, c->out + n, c->out_len - n);
	c->out_len -= n;
	c->hold.from = c->hold.from > n ? c->hold.from - n : 0;
	if (c->log != NULL)
		session_log_output(c->log, n);
	return true;
}

/* A session over TLS that is done: close_notify after its last reply. */
static void maybe_notify(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (t->done && !t->notified && t->st.ssl != NULL && !c->broken && c->out_len == 0 &&
	    c->state == CONN_DRAINING) {
		t->notified = true;
		tls_stream_close_notify(&t->st);
	}
}

void conn_tls_send(struct conn *c)
{
	struct conn_tls *t = c->tls;
	if (!seal(c)) {
		c->broken = true;
		return;
	}
	maybe_notify(c);
	if (t->wire_len == 0 && t->st.ssl != NULL && tls_stream_out_pending(&t->st) > 0) {
		if (t->wire == NULL)
			t->wire = malloc(CONN_TLS_WIRE_BYTES);
		if (t->wire == NULL) {
			c->broken = true;
			return;
		}
		t->wire_len = (uint32_t)tls_stream_take(&t->st, t->wire, CONN_TLS_WIRE_BYTES);
	}
	if (t->wire_len == 0)
		return;
	t->inflight = true;
	c->out_inflight = t->wire_len;
	c->shard->ops->send(c);
}

bool conn_tls_sent(struct conn *c, uint32_t bytes)
{
	struct conn_tls *t = c->tls;
	if (t == NULL)
		return false;
	if (!t->inflight) {
		t->clear_out -= bytes < t->clear_out ? bytes : t->clear_out;
		return false;
	}
	t->inflight = false;
	memmove(t->wire, t->wire + bytes, t->wire_len - bytes);
	t->wire_len -= bytes;
	if (t->wire_len == 0) {
		free(t->wire);
		t->wire = NULL;
	}
	return true;
}

uint32_t conn_tls_clear_limit(const struct conn *c, uint32_t n)
{
	return c->tls != NULL && c->tls->clear_out < n ? c->tls->clear_out : n;
}

bool conn_tls_output_pending(const struct conn *c)
{
	const struct conn_tls *t = c->tls;
	if (t == NULL || c->broken)
		return false;
	if (t->wire_len > 0 || (t->st.ssl != NULL && tls_stream_out_pending(&t->st) > 0))
		return true;
	return t->done && !t->notified && t->st.ssl != NULL; /* close_notify is still to go */
}

const uint8_t *conn_tls_send_data(const struct conn *c)
{
	return c->tls != NULL && c->tls->inflight ? c->tls->wire : c->out;
}

void conn_tls_free(struct conn *c)
{
	if (c->tls == NULL)
		return;
	tls_stream_free(&c->tls->st);
	free(c->tls->wire);
	free(c->tls);
	c->tls = NULL;
}
