/*
 * tls/tls_stream.h - one TLS connection as a byte-stream filter over memory
 * BIOs, for an event loop that does its own I/O (the server's shards on
 * io_uring or epoll, and the load generator).
 *
 * Owns: the SSL object and its two memory BIOs.  Ciphertext the socket
 * received goes in with tls_stream_put(); the handshake, plaintext reads and
 * writes run on it; the ciphertext to send comes out with tls_stream_take().
 * It never touches a descriptor, never blocks, never makes a thread: the
 * caller decides when bytes move, so backpressure stays the caller's (it
 * stops putting ciphertext while the plaintext is not consumed, and writes
 * plaintext only while its send path is free).
 *
 * Memory: SSL_MODE_RELEASE_BUFFERS is set by the contexts (tls_ctx.c), so an
 * idle stream holds no record buffers; the BIOs hold what was put and not
 * yet read (bounded by the caller) and what was written and not yet taken.
 *
 * Errors are plain results (enum tls_io); the reason of a failure is kept
 * in OpenSSL's per-thread error queue until tls_stream_error() reads it, and
 * every call that fails clears the queue, so one connection's error never
 * shows up as another's.
 */
#ifndef SMTPSINK_TLS_STREAM_H
#define SMTPSINK_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

/* The longest ciphertext one plaintext write of n bytes may become is
 * n + TLS_STREAM_RECORD_OVERHEAD per 16 KiB record (RFC 8446 5.2: header 5,
 * tag 16, content type 1, padding none; TLS 1.2 CBC less than this). */
#define TLS_STREAM_RECORD_OVERHEAD 256u
#define TLS_STREAM_RECORD_PLAIN_MAX 16384u

enum tls_io {
	TLS_IO_OK, /* done (handshake complete; bytes read or written) */
	TLS_IO_WANT, /* more ciphertext is needed from the peer */
	TLS_IO_CLOSED, /* the peer sent close_notify */
	TLS_IO_ERROR, /* a protocol error: the stream is dead (an alert may be in the output) */
};

struct tls_stream {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl; kept to put and take bytes */
};

/* What the handshake agreed, for records and reports; empty strings until
 * it is done.  Texts are OpenSSL's names ("TLSv1.3",
 * "TLS_AES_256_GCM_SHA384"). */
struct tls_facts {
	char version[16];
	char cipher[64];
	char sni[256]; /* the client's server name indication, if any */
	bool resumed;
};

/* A new stream on ctx, server or client side; sni: the name a client asks
 * for (NULL: none).  0, or -ENOMEM. */
int tls_stream_init(struct tls_stream *t, SSL_CTX *ctx, bool server, const char *sni);
void tls_stream_free(struct tls_stream *t);

/* Ciphertext from the peer; false when out of memory. */
bool tls_stream_put(struct tls_stream *t, const void *p, size_t n);
/* Ciphertext put and not yet consumed by the TLS layer. */
size_t tls_stream_in_pending(const struct tls_stream *t);

/* Advance the handshake: TLS_IO_OK once it is complete. */
enum tls_io tls_stream_handshake(struct tls_stream *t);
bool tls_stream_handshake_done(const struct tls_stream *t);

/* Decrypt up to cap bytes into buf (*got: how many). */
enum tls_io tls_stream_read(struct tls_stream *t, void *buf, size_t cap, size_t *got);
/* Encrypt all of p[0..n) into the output (memory BIOs never refuse). */
enum tls_io tls_stream_write(struct tls_stream *t, const void *p, size_t n);
/* Queue close_notify. */
void tls_stream_close_notify(struct tls_stream *t);

/* Ciphertext waiting to be sent, and taking up to cap bytes of it. */
size_t tls_stream_out_pending(const struct tls_stream *t);
size_t tls_stream_take(struct tls_stream *t, void *buf, size_t cap);

void tls_stream_facts(const struct tls_stream *t, struct tls_facts *f);
/* The reason of the last failure on this thread, for a log line, and clear
 * the queue ("" when none). */
const char *tls_stream_error(char *buf, size_t len);

#endif
