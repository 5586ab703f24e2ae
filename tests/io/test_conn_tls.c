/*
 * tests/io/test_conn_tls.c - TLS on a connection (io/conn_tls.c) through a
 * fake backend (engine_harness.h), with a client made of tls/'s own stream:
 * no sockets, no sleeping.
 *
 * Owns: STARTTLS with commands injected after it in the same receive
 * buffer (CVE-2011-0411: dropped, never answered, never run), a whole
 * transaction over TLS into the spool (the record says ESMTPS and the
 * cipher), TLS records sent in short pieces, implicit TLS (the banner after
 * the handshake), a handshake that fails (garbage) or never ends
 * (--timeout): closed without a clear reply, counted; a client that
 * pipelines over TLS without reading (receiving stops, input stays
 * bounded, all replies come once it reads), and close_notify at QUIT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_harness.h"
#include "session_harness.h"
#include "tls_ctx.h"
#include "tls_stream.h"

#define PORT 40000
#define NOOPS 40000

/* The client's side: its TLS stream and how far it read the wire. */
struct tls_client {
	struct tls_stream st;
	size_t wire_at; /* bytes of the engine client's wire handed to st */
	char plain[1u << 20]; /* decrypted replies */
	size_t plain_len, plain_at;
};

static SSL_CTX *server_ctx, *client_ctx;

static void make_contexts(void)
{
	char err[256];
	struct tls_server_opts o = { .self_signed = true, .hostname = "smtpsink" };
	struct tls_keys *k = tls_keys_load(&o, err, sizeof err);
	CHECK(k != NULL);
	server_ctx = tls_server_ctx_new(k, &o, err, sizeof err);
	client_ctx = tls_client_ctx_new(NULL, NULL, err, sizeof err);
	CHECK(server_ctx != NULL && client_ctx != NULL);
	tls_keys_free(k);
}

static void engine_tls(struct engine *e, const char *const *args)
{
	CHECK(engine_init(e, args));
	e->sh.tls_ctx = server_ctx;
}

static void engine_tls_fini(struct engine *e)
{
	e->sh.tls_ctx = NULL; /* shared by the tests */
	engine_fini(e);
}

/* Move bytes both ways until nothing moves: the server's records into the
 * client's stream, the client's records to the server. */
static void tls_pump(struct engine *e, int k, struct tls_client *t)
{
	for (int round = 0; round < 64; round++) {
		engine_pump(e);
		const char *wire = e->clients[k].wire;
		size_t have = e->clients[k].wire_len;
		bool moved = have > t->wire_at;
		if (moved)
			tls_stream_put(&t->st, wire + t->wire_at, have - t->wire_at);
		t->wire_at = have;
		tls_stream_handshake(&t->st);
		size_t got = 0;
		while (tls_stream_handshake_done(&t->st) &&
		       tls_stream_read(&t->st, t->plain + t->plain_len, sizeof t->plain - 1 - t->plain_len, &got) ==
			       TLS_IO_OK &&
		       got > 0)
			t->plain_len += got;
		t->plain[t->plain_len] = '\0';
		char out[32768];
		size_t n = tls_stream_take(&t->st, out, sizeof out);
		if (n > 0)
			engine_send(e, k, out, n);
		if (!moved && n == 0)
			return;
	}
}

/* The next decrypted reply line(s) start with prefix. */
static bool tls_reply(struct tls_client *t, const char *prefix)
{
	const char *at = t->plain + t->plain_at;
	bool ok = strncmp(at, prefix, strlen(prefix)) == 0;
	if (!ok)
		fprintf(stderr, "  want %s..., have %s\n", prefix, at);
	/* past the reply: its last line ("NNN " then CRLF) */
	const char *p = at;
	while (*p != '\0') {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL)
			break;
		bool last = eol - p >= 4 && p[3] == ' ';
		p = eol + 2;
		if (last)
			break;
	}
	t->plain_at = (size_t)(p - t->plain);
	return ok;
}

static void tls_send(struct engine *e, int k, struct tls_client *t, const char *line)
{
	CHECK(tls_stream_write(&t->st, line, strlen(line)) == TLS_IO_OK);
	tls_pump(e, k, t);
}

#define TLS_CMD(e, k, t, line, prefix) (tls_send((e), (k), (t), (line)), CHECK(tls_reply((t), (prefix))))

static void client_start(struct tls_client *t, struct engine *e, int k)
{
	memset(t, 0, sizeof *t);
	CHECK(tls_stream_init(&t->st, client_ctx, false, "mx.example") == 0);
	t->wire_at = e->clients[k].wire_len;
}

/* A client greeted, through STARTTLS and a completed handshake. */
static int starttls_client(struct engine *e, struct tls_client *t)
{
	int k = engine_connect_greeted(e, PORT);
	ENGINE_CMD(e, k, "STARTTLS\r\n", "220 2.0.0");
	client_start(t, e, k);
	tls_pump(e, k, t);
	CHECK(tls_stream_handshake_done(&t->st));
	return k;
}

static const char *const tls_spool[] = { "--tls-self-signed", NULL };
static const char *const tls_discard[] = { "--discard", "--tls-self-signed", "--timeout", "5", NULL };

static void test_injection_dropped_and_transaction(void)
{
	static struct engine e;
	static struct tls_client t;
	engine_tls(&e, tls_spool);
	int k = engine_connect_greeted(&e, PORT);
	engine_send_str(&e, k, "EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<v@x.example>\r\n");
	engine_pump(&e);
	ENGINE_CHECK_REPLY(&e, k, "250-smtpsink");
	ENGINE_CHECK_REPLY(&e, k, "220 2.0.0 Ready to start TLS");
	ENGINE_CHECK_NOTHING(&e, k); /* nothing answered in clear after it */
	CHECK_U64(e.clients[k].conn->state, CONN_HANDSHAKE);
	client_start(&t, &e, k);
	tls_pump(&e, k, &t);
	CHECK(tls_stream_handshake_done(&t.st));
	CHECK_U64(e.clients[k].conn->state, CONN_SESSION);
	TLS_CMD(&e, k, &t, "EHLO c.example\r\n", "250-smtpsink");
	CHECK(strstr(t.plain, "STARTTLS") == NULL);
	TLS_CMD(&e, k, &t, "RCPT TO:<v@x.example>\r\n", "503 5.5.1 Error: need MAIL"); /* the injected MAIL never ran */
	TLS_CMD(&e, k, &t, "MAIL FROM:<a@example.com>\r\n", "250 2.1.0");
	TLS_CMD(&e, k, &t, "RCPT TO:<b@example.com>\r\n", "250 2.1.5");
	TLS_CMD(&e, k, &t, "DATA\r\n", "354");
	tls_send(&e, k, &t, "Subject: t\r\n\r\nover tls\r\n.\r\n");
	engine_spool_tick(&e);
	engine_spool_complete(&e);
	tls_pump(&e, k, &t);
	CHECK(tls_reply(&t, "250 2.0.0 Ok: queued as "));
	TLS_CMD(&e, k, &t, "QUIT\r\n", "221");
	CHECK(e.clients[k].closed);
	size_t got = 0;
	char rest[64];
	CHECK(tls_stream_read(&t.st, rest, sizeof rest, &got) == TLS_IO_CLOSED); /* close_notify came */
	CHECK_U64(shard_stats_get(&e.sh.stats.tls_handshakes[SHARD_STATS_TLS_OK]), 1);
	struct engine_spooled sp;
	CHECK(engine_spool_read(&e, 0, &sp));
	CHECK(strstr(sp.body, "over tls") != NULL);
	tls_stream_free(&t.st);
	engine_tls_fini(&e);
}

/* Records leave in pieces of 7 bytes; the client still gets them whole. */
static void test_short_sends(void)
{
	static struct engine e;
	static struct tls_client t;
	engine_tls(&e, tls_discard);
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "STARTTLS\r\n", "220 2.0.0");
	client_start(&t, &e, k);
	for (int i = 0; i < 4000 && !tls_stream_handshake_done(&t.st); i++) {
		char out[32768];
		size_t n = tls_stream_take(&t.st, out, sizeof out);
		if (n > 0)
			engine_send(&e, k, out, n);
		if (e.clients[k].send_pending)
			engine_complete_send(&e, k, 7);
		const char *wire = e.clients[k].wire;
		if (e.clients[k].wire_len > t.wire_at)
			tls_stream_put(&t.st, wire + t.wire_at, e.clients[k].wire_len - t.wire_at);
		t.wire_at = e.clients[k].wire_len;
		tls_stream_handshake(&t.st);
	}
	CHECK(tls_stream_handshake_done(&t.st));
	tls_pump(&e, k, &t);
	TLS_CMD(&e, k, &t, "EHLO c.example\r\n", "250-smtpsink");
	TLS_CMD(&e, k, &t, "QUIT\r\n", "221");
	tls_stream_free(&t.st);
	engine_tls_fini(&e);
}

static void test_implicit(void)
{
	static struct engine e;
	static struct tls_client t;
	engine_tls(&e, tls_discard);
	e.accept_tls = true;
	int k = engine_connect(&e, PORT);
	engine_pump(&e);
	ENGINE_CHECK_NOTHING(&e, k); /* no clear banner */
	CHECK_U64(e.clients[k].conn->state, CONN_HANDSHAKE);
	client_start(&t, &e, k);
	tls_pump(&e, k, &t);
	CHECK(tls_reply(&t, "220 smtpsink ESMTP"));
	TLS_CMD(&e, k, &t, "EHLO c.example\r\n", "250-smtpsink");
	CHECK(strstr(t.plain, "STARTTLS") == NULL);
	TLS_CMD(&e, k, &t, "STARTTLS\r\n", "503 5.5.1 Error: TLS already active");
	TLS_CMD(&e, k, &t, "QUIT\r\n", "221");
	tls_stream_free(&t.st);
	engine_tls_fini(&e);
}

/* Behind a proxy: the PROXY header and the ClientHello in one packet. */
static void test_implicit_after_proxy(void)
{
	static const char *const args[] = { "--discard", "--tls-self-signed", "--proxy-protocol", NULL };
	static struct engine e;
	static struct tls_client t;
	engine_tls(&e, args);
	e.accept_tls = true;
	int k = engine_connect(&e, PORT);
	engine_pump(&e);
	client_start(&t, &e, k);
	tls_stream_handshake(&t.st);
	static char first[16384];
	static const char header[] = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 25\r\n";
	memcpy(first, header, sizeof header - 1);
	size_t n = tls_stream_take(&t.st, first + sizeof header - 1, sizeof first - sizeof header);
	engine_send(&e, k, first, sizeof header - 1 + n);
	tls_pump(&e, k, &t);
	CHECK(tls_stream_handshake_done(&t.st));
	CHECK(tls_reply(&t, "220 smtpsink ESMTP"));
	CHECK_U64(e.clients[k].conn->peer.addr[0], 192);
	TLS_CMD(&e, k, &t, "QUIT\r\n", "221");
	tls_stream_free(&t.st);
	engine_tls_fini(&e);
}

static void test_failures(void)
{
	static struct engine e;
	engine_tls(&e, tls_discard);
	int k = engine_connect_greeted(&e, PORT);
	ENGINE_CMD(&e, k, "STARTTLS\r\n", "220 2.0.0");
	size_t before = e.clients[k].wire_len;
	engine_send_str(&e, k, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	engine_pump(&e);
	CHECK(e.clients[k].closed);
	CHECK(strstr(e.clients[k].wire + before, "\r\n") == NULL); /* an alert at most, no reply */
	int k2 = engine_connect_greeted(&e, PORT); /* a handshake that never comes */
	ENGINE_CMD(&e, k2, "STARTTLS\r\n", "220 2.0.0");
	engine_advance(&e, 7000);
	CHECK(e.clients[k2].closed);
	ENGINE_CHECK_NOTHING(&e, k2);
	CHECK_U64(shard_stats_get(&e.sh.stats.tls_handshakes[SHARD_STATS_TLS_FAILED]), 2);
	CHECK_U64(e.sh.live_count, 0);
	engine_tls_fini(&e);
}

/* 40,000 NOOPs (240 KB) pipelined over TLS to a client that does not
 * read: the server stops receiving rather than buffer them; all 40,000
 * replies come once the client reads. */
static void test_backpressure(void)
{
	static struct engine e;
	static struct tls_client t;
	engine_tls(&e, tls_discard);
	int k = starttls_client(&e, &t);
	static char many[NOOPS * 6 + 1], out[NOOPS * 7];
	for (int i = 0; i < NOOPS; i++)
		memcpy(many + 6 * i, "NOOP\r\n", 6);
	CHECK(tls_stream_write(&t.st, many, NOOPS * 6) == TLS_IO_OK);
	size_t n = tls_stream_take(&t.st, out, sizeof out);
	e.clients[k].no_read = true;
	engine_send(&e, k, out, n);
	engine_pump(&e);
	CHECK(e.recv_pauses > 0);
	CHECK(e.clients[k].pending_len > 0); /* input waits on the client's side */
	e.clients[k].no_read = false;
	tls_pump(&e, k, &t);
	unsigned oks = 0;
	for (const char *p = t.plain; (p = strstr(p, "250 2.0.0 Ok\r\n")) != NULL; p++)
		oks++;
	CHECK_U64(oks, NOOPS);
	tls_stream_free(&t.st);
	engine_tls_fini(&e);
}

int main(void)
{
	make_contexts();
	test_injection_dropped_and_transaction();
	test_short_sends();
	test_implicit();
	test_implicit_after_proxy();
	test_failures();
	test_backpressure();
	tls_ctx_free(server_ctx);
	tls_ctx_free(client_ctx);
	return harness_finish("test_conn_tls");
}
