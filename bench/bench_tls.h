/*
 * bench/bench_tls.h - TLS in the load generator: --starttls and --tls
 * (implicit) as a byte-stream layer between a connection's socket bytes
 * and its client_proto session, the same on io_uring and epoll (the
 * client's counterpart of io/conn_tls.c).
 *
 * Owns: one worker's client SSL_CTX (made in the worker, at start; none is
 * shared between processes), the session tickets it resumes from, and per
 * connection the tls_stream over memory BIOs (tls/tls_stream.h) and its
 * ciphertext buffer.
 *
 * --tls-resume: every ticket a worker's connections are given goes into the
 * worker's pool (newest first, at most one per connection slot, the oldest
 * dropped), and each new connection of the worker offers the newest one
 * still resumable, once: OpenSSL's TLS 1.3 client spends a ticket when a
 * handshake resumes from it (RFC 8446 C.4), and the server sends a fresh
 * one after every handshake.  So only connections that begin before any
 * ticket has come back do full handshakes: in connect mode, the first
 * connection of each slot.  (TLS 1.2: a resumed handshake brings no new
 * ticket; the one used goes back to the pool.)
 *
 * Input: ciphertext goes into the read BIO; the handshake runs on it; once
 * it is done, plaintext is decrypted into the worker's scratch buffer and
 * fed to the session at once (the session keeps nothing of it).
 * Output: the session's write is sealed from c->out (and its shared body
 * view) in records of at most 16 KiB, only while no send is in flight and
 * only as much as the connection's ciphertext buffer can take (the largest
 * write, up to BENCH_TLS_WIRE_RECORDS records); everything
 * the TLS layer has to say then leaves in one send (a handshake flight,
 * and after the handshake the client's Finished together with the EHLO that
 * follows it).  Nothing is allocated per message: the buffers are made at
 * start, per slot, and reused by every connection of that slot.
 *
 * Not here: counting a lost session (bench_loop.c decides what a failure
 * is and closes), sockets, the protocol.
 */
#ifndef SMTPSINK_BENCH_TLS_H
#define SMTPSINK_BENCH_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_config.h"
#include "tls_stream.h"

/* Room in a connection's ciphertext buffer beyond one sealed record: the
 * client's handshake flights (a ClientHello with a ticket, a Finished) are
 * well under this. */
#define BENCH_TLS_FLIGHT_BYTES 2048u
/* A connection's ciphertext buffer holds at most this many full records:
 * a large message leaves in sends of 64 KiB, a small write whole. */
#define BENCH_TLS_WIRE_RECORDS 4u

struct bench_conn;
typedef struct ssl_session_st SSL_SESSION;

enum bench_tls_phase {
	BENCH_TLS_OFF, /* clear text: no TLS, or STARTTLS not yet answered */
	BENCH_TLS_HANDSHAKE, /* the handshake runs: the session waits */
	BENCH_TLS_ON, /* established: every byte of the session goes through TLS */
};

/* One connection's TLS, in its struct bench_conn. */
struct bench_tls_conn {
	struct tls_stream st; /* st.ssl NULL: no TLS on this connection (yet) */
	uint8_t *wire; /* ciphertext to send (the slot's own); the kernel's while inflight */
	uint32_t wire_len, wire_sent;
	uint8_t phase; /* enum bench_tls_phase */
	bool inflight; /* the send in flight is from wire */
	uint64_t start_ns; /* the handshake began: connected (--tls) or STARTTLS's 220 */
};

/* One worker's TLS. */
struct bench_tls {
	SSL_CTX *ctx;
	SSL_SESSION **tickets; /* --tls-resume: a ring of unused sessions; NULL: no resumption */
	uint32_t tickets_cap, tickets_head, tickets_count; /* head: where the next one goes */
	const struct bench_config *cfg;
	uint32_t wire_cap; /* bytes of each connection's wire */
	uint8_t *wire_mem; /* every slot's wire */
	bool told; /* the first handshake failure's reason was printed */
	uint8_t plain[TLS_STREAM_RECORD_PLAIN_MAX]; /* scratch: decrypted input, gathered output */
};

enum bench_tls_input {
	BENCH_TLS_IN_OK, /* taken: the handshake advanced, or plaintext went to the session */
	BENCH_TLS_IN_CLOSED, /* the server's close_notify: its end of input */
	BENCH_TLS_IN_FAILED, /* the handshake failed (an alert, a protocol error) */
	BENCH_TLS_IN_ERROR, /* a record error after the handshake */
};

/* A worker's context and every slot's buffer (conns slots whose one write
 * is at most write_max plaintext bytes).  0, or -1 with why in err. */
int bench_tls_open(struct bench_tls *w, const struct bench_config *cfg, uint32_t conns, uint64_t write_max, char *err,
		   size_t err_len);
void bench_tls_close(struct bench_tls *w);
/* Can a context be made from cfg's --tls-* options?  For start-up, before
 * any worker: false with why in err. */
bool bench_tls_check(const struct bench_config *cfg, char *err, size_t err_len);

/* Slot i's wire. */
void bench_tls_conn_setup(struct bench_tls *w, struct bench_conn *c, uint32_t i);
/* Start the handshake now (its ClientHello is then output).  false: no
 * memory; the phase is HANDSHAKE either way, so a failure counts as one. */
bool bench_tls_begin(struct bench_tls *w, struct bench_conn *c, uint64_t now_ns);
/* Ciphertext received. */
enum bench_tls_input bench_tls_input(struct bench_tls *w, struct bench_conn *c, const uint8_t *p, size_t n);
/* No send in flight: seal what the session wrote and fill the wire.  1: a
 * send from the wire is due (c->tls.inflight), 0: nothing to send, -1: the
 * TLS layer failed. */
int bench_tls_output(struct bench_tls *w, struct bench_conn *c);
/* The wire's unsent part as c->iov. */
void bench_tls_iov(struct bench_conn *c);
/* A send from the wire completed with bytes: true if some of it is still
 * to go (send again), false once it is all gone. */
bool bench_tls_sent(struct bench_conn *c, uint32_t bytes);
/* The connection is gone: free its TLS (the wire stays with the slot). */
void bench_tls_end(struct bench_conn *c);

#endif
