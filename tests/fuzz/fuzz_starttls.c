/*
 * tests/fuzz/fuzz_starttls.c - the STARTTLS transition of a real connection
 * (io/conn.c, io/conn_tls.c, core's session) under hostile bytes, through
 * the engine's fake backend (tests/io/engine_harness.h).
 *
 * Input: byte 0 picks the mode and how pieces are cut; the rest is split
 * at the first "\n--\n" (or its middle) into A and B.
 *   mode 0: "EHLO x\r\nSTARTTLS\r\n" + A in ONE receive buffer (commands
 *           injected after STARTTLS, CVE-2011-0411), then B in pieces as
 *           the "handshake".
 *   mode 1: a real handshake with tls/'s client stream, then A + B as
 *           plaintext over TLS in pieces (what the session decrypts).
 * Invariants: in mode 0, what reaches the client after the 220 to
 * STARTTLS is TLS records only (content type 20..23), never a clear reply; no crash, no leak (the
 * connection is torn down and freed at the end: live_count 0, every
 * receive buffer back).  Fuzzing finds what OpenSSL and our glue make of
 * any record the client might send.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_harness.h"
#include "tls_ctx.h"
#include "tls_stream.h"

#define PORT 40000
#define PREFIX "EHLO x\r\nSTARTTLS\r\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static SSL_CTX *server_ctx, *client_ctx;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_starttls: invariant broken: %s\n", what);
		abort();
	}
}

static void contexts(void)
{
	if (server_ctx != NULL)
		return;
	char err[256];
	struct tls_server_opts o = { .self_signed = true, .hostname = "smtpsink" };
	struct tls_keys *k = tls_keys_load(&o, err, sizeof err);
	check(k != NULL, err);
	server_ctx = tls_server_ctx_new(k, &o, err, sizeof err);
	client_ctx = tls_client_ctx_new(NULL, NULL, err, sizeof err);
	check(server_ctx != NULL && client_ctx != NULL, err);
	tls_keys_free(k);
}

/* Send p[0..n) in pieces of 1..cut bytes (cut 0: whole), pumping each. */
static void send_pieces(struct engine *e, int k, const uint8_t *p, size_t n, unsigned cut)
{
	while (n > 0) {
		size_t m = cut == 0 || n < cut ? n : cut;
		engine_send(e, k, p, m);
		engine_pump(e);
		p += m;
		n -= m;
		if (e->clients[k].closed)
			return;
	}
}

/* A real handshake with tls/'s client; false if it did not complete. */
static bool handshake(struct engine *e, int k, struct tls_stream *t)
{
	size_t at = e->clients[k].wire_len;
	for (int round = 0; round < 32 && !tls_stream_handshake_done(t); round++) {
		char out[16384];
		tls_stream_handshake(t);
		size_t n = tls_stream_take(t, out, sizeof out);
		if (n > 0)
			engine_send(e, k, out, n);
		engine_pump(e);
		if (e->clients[k].wire_len > at)
			tls_stream_put(t, e->clients[k].wire + at, e->clients[k].wire_len - at);
		at = e->clients[k].wire_len;
	}
	return tls_stream_handshake_done(t);
}

static void run(struct engine *e, const uint8_t *data, size_t size)
{
	unsigned mode = data[0] & 1u, cut = (data[0] >> 1) & 31u;
	const uint8_t *a = data + 1, *sep = memmem(a, size - 1, "\n--\n", 4);
	size_t alen = sep != NULL ? (size_t)(sep - a) : (size - 1) / 2;
	const uint8_t *b = a + alen + (sep != NULL ? 4 : 0);
	size_t blen = size - 1 - (size_t)(b - a);
	int k = engine_connect_greeted(e, PORT);
	if (mode == 0) {
		size_t n = sizeof PREFIX - 1 + alen;
		uint8_t *first = malloc(n);
		check(first != NULL, "malloc");
		memcpy(first, PREFIX, sizeof PREFIX - 1);
		memcpy(first + sizeof PREFIX - 1, a, alen);
		engine_send(e, k, first, n); /* one receive buffer (n is small) */
		free(first);
		engine_pump(e);
		const char *w = e->clients[k].wire, *ready = strstr(w, "220 2.0.0 Ready to start TLS\r\n");
		check(ready != NULL, "no 220 to STARTTLS");
		size_t after = (size_t)(ready - w) + strlen("220 2.0.0 Ready to start TLS\r\n");
		send_pieces(e, k, b, blen, cut);
		/* what follows the 220 can only be TLS records: content type
		 * 20..23 (an alert, the handshake); a clear reply starts with
		 * a digit */
		const uint8_t *rest = (const uint8_t *)e->clients[k].wire;
		check(e->clients[k].wire_len == after || (rest[after] >= 20 && rest[after] <= 23),
		      "clear bytes after the 220 to STARTTLS");
	} else {
		engine_send_str(e, k, "STARTTLS\r\n");
		engine_pump(e);
		struct tls_stream t;
		check(tls_stream_init(&t, client_ctx, false, NULL) == 0, "client stream");
		if (handshake(e, k, &t)) {
			uint8_t out[65536];
			for (const uint8_t *p = a; p < a + alen + blen && !e->clients[k].closed;) {
				size_t m = cut == 0 ? (size_t)(a + alen + blen - p) : cut;
				if (m > (size_t)(a + alen + blen - p))
					m = (size_t)(a + alen + blen - p);
				tls_stream_write(&t, p, m);
				size_t n = tls_stream_take(&t, out, sizeof out);
				engine_send(e, k, out, n);
				engine_pump(e);
				p += m;
			}
		}
		tls_stream_free(&t);
	}
	engine_reset(e, k);
	engine_pump(e);
	check(e->sh.live_count == 0, "a connection outlived its reset");
	check(e->sh.rbufs.free_count == e->sh.rbufs.count, "a receive buffer was not given back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[] = { "--discard", "--tls-self-signed", "--recv-buffers", "64", NULL };
	static struct engine e;
	if (size < 1 || size > 16384)
		return 0;
	contexts();
	check(engine_init(&e, args), "engine_init");
	e.sh.tls_ctx = server_ctx;
	run(&e, data, size);
	e.sh.tls_ctx = NULL;
	engine_fini(&e);
	return 0;
}
