/*
 * tls/tls_stream.c - one TLS connection over memory BIOs (see tls_stream.h).
 *
 * Owns: the mapping of OpenSSL's results onto enum tls_io, and the
 * per-thread error queue discipline (cleared before every SSL call, as
 * SSL_get_error() requires, and after a failure is read).  No I/O.
 */
#include "tls_stream.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

int tls_stream_init(struct tls_stream *t, SSL_CTX *ctx, bool server, const char *sni)
{
	memset(t, 0, sizeof *t);
	t->ssl = SSL_new(ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		memset(t, 0, sizeof *t);
		ERR_clear_error();
		return -ENOMEM;
	}
	/* an empty input BIO means "more to come", never end of file */
	BIO_set_mem_eof_return(t->rbio, -1);
	BIO_set_mem_eof_return(t->wbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio); /* ssl owns both now */
	if (server)
		SSL_set_accept_state(t->ssl);
	else {
		SSL_set_connect_state(t->ssl);
		if (sni != NULL)
			SSL_set_tlsext_host_name(t->ssl, sni);
	}
	return 0;
}

void tls_stream_free(struct tls_stream *t)
{
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	memset(t, 0, sizeof *t);
}

bool tls_stream_put(struct tls_stream *t, const void *p, size_t n)
{
	while (n > 0) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		int w = BIO_write(t->rbio, p, chunk);
		if (w <= 0) {
			ERR_clear_error();
			return false;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return true;
}

size_t tls_stream_in_pending(const struct tls_stream *t)
{
	return BIO_ctrl_pending(t->rbio);
}

/* OpenSSL's verdict on a call that returned r. */
static enum tls_io result(const struct tls_stream *t, int r)
{
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_NONE:
		return TLS_IO_OK;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: /* memory BIOs: not in practice */
		return TLS_IO_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_CLOSED;
	default:
		return TLS_IO_ERROR;
	}
}

enum tls_io tls_stream_handshake(struct tls_stream *t)
{
	if (SSL_is_init_finished(t->ssl))
		return TLS_IO_OK;
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	return r == 1 ? TLS_IO_OK : result(t, r);
}

bool tls_stream_handshake_done(const struct tls_stream *t)
{
	return SSL_is_init_finished(t->ssl);
}

enum tls_io tls_stream_read(struct tls_stream *t, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (cap == 0)
		return TLS_IO_OK;
	ERR_clear_error();
	int r = SSL_read_ex(t->ssl, buf, cap, got);
	return r == 1 ? TLS_IO_OK : result(t, r);
}

enum tls_io tls_stream_write(struct tls_stream *t, const void *p, size_t n)
{
	if (n == 0)
		return TLS_IO_OK;
	ERR_clear_error();
	size_t done = 0;
	int r = SSL_write_ex(t->ssl, p, n, &done);
	if (r == 1 && done == n)
		return TLS_IO_OK;
	return r == 1 ? TLS_IO_ERROR : result(t, r);
}

void tls_stream_close_notify(struct tls_stream *t)
{
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}

size_t tls_stream_out_pending(const struct tls_stream *t)
{
	return BIO_ctrl_pending(t->wbio);
}

size_t tls_stream_take(struct tls_stream *t, void *buf, size_t cap)
{
	size_t pending = BIO_ctrl_pending(t->wbio);
	size_t n = pending < cap ? pending : cap;
	if (n == 0)
		return 0;
	int r = BIO_read(t->wbio, buf, (int)n);
	return r > 0 ? (size_t)r : 0;
}

/* Copy s (may be NULL) into dst[0..cap), cut to fit. */
static void copy_text(char *dst, size_t cap, const char *s)
{
	if (cap == 0)
		return;
	size_t n = s != NULL ? strlen(s) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

void tls_stream_facts(const struct tls_stream *t, struct tls_facts *f)
{
	memset(f, 0, sizeof *f);
	if (t->ssl == NULL || !SSL_is_init_finished(t->ssl))
		return;
	copy_text(f->version, sizeof f->version, SSL_get_version(t->ssl));
	copy_text(f->cipher, sizeof f->cipher, SSL_get_cipher_name(t->ssl));
	copy_text(f->sni, sizeof f->sni, SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name));
	f->resumed = SSL_session_reused(t->ssl) == 1;
}

const char *tls_stream_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		copy_text(buf, len, "");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}
