/*
 * tls/tls_ctx.h - TLS configuration: the server's certificate and key, its
 * contexts (one SSL_CTX per shard), and the load generator's client context.
 *
 * Owns: loading (or generating) the certificate and key once at start-up,
 * the session-ticket keys every shard shares (a ticket issued by one shard
 * resumes on any other), parsing --tls-protocols and --tls-ciphers, the
 * options every context gets (TLS 1.2 and 1.3 only, no renegotiation,
 * SSL_MODE_RELEASE_BUFFERS, one ticket per handshake), and the report of
 * what runs (kTLS or user-space TLS over memory BIOs).
 *
 * Why one SSL_CTX per shard: OpenSSL 3.0 takes locks inside a shared
 * context (session cache, reference counts; openssl issues #17627, #20286);
 * a shard's handshakes touch only its own.  The certificate and key objects
 * are loaded once and shared by reference (read-only after start-up).
 * Algorithms are fetched when the contexts are made, at start-up, never on
 * the hot path.
 *
 * Not here: per-connection streams (tls_stream.h), sockets, threads.
 */
#ifndef SMTPSINK_TLS_CTX_H
#define SMTPSINK_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;

#define TLS_FINGERPRINT_BYTES 96 /* "AB:CD:..." of a SHA-256, NUL included */

struct tls_server_opts {
	const char *cert_file; /* PEM, leaf first, chain may follow */
	const char *key_file; /* PEM */
	bool self_signed; /* generate an ECDSA P-256 certificate for hostname */
	const char *hostname;
	const char *protocols; /* "TLSv1.2,TLSv1.3" style; NULL: both */
	const char *ciphers; /* OpenSSL names, ':'-separated; TLS_* go to TLS 1.3 */
};

struct tls_keys; /* certificate, chain, key, ticket keys */

/* Load or generate.  NULL with a reason in err. */
struct tls_keys *tls_keys_load(const struct tls_server_opts *o, char *err, size_t err_len);
void tls_keys_free(struct tls_keys *k);
/* SHA-256 fingerprint of the leaf certificate, "AB:CD:...". */
const char *tls_keys_fingerprint(const struct tls_keys *k);
/* The leaf's subject and key type, for the start-up line. */
const char *tls_keys_describe(const struct tls_keys *k);

/* A server context for one shard.  NULL with a reason in err. */
SSL_CTX *tls_server_ctx_new(const struct tls_keys *k, const struct tls_server_opts *o, char *err, size_t err_len);
/* A client context (load generator): no certificate checks (a sink's
 * certificate is self-signed), a client session cache for resumption.
 * NULL with a reason in err. */
SSL_CTX *tls_client_ctx_new(const char *protocols, const char *ciphers, char *err, size_t err_len);
void tls_ctx_free(SSL_CTX *ctx);

/* Check --tls-protocols and --tls-ciphers without building anything: NULL
 * when usable, else why not (a static text). */
const char *tls_ctx_check_protocols(const char *protocols);

/* What carries the records, for the start-up line: kTLS needs the kernel's
 * "tls" upper-layer protocol (CONFIG_TLS) and a socket BIO; with memory BIOs
 * under io_uring the records are made in user space. */
const char *tls_ctx_record_layer(void);

#endif
