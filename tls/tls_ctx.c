/*
 * tls/tls_ctx.c - server and client SSL_CTX construction (see tls_ctx.h).
 *
 * Owns: the options every context gets and why, --tls-protocols and
 * --tls-ciphers parsing, and the record-layer report.  Runs at start-up
 * only (the load generator: once per run).
 */
#include "tls_ctx.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_keys_int.h"

#define CIPHERS_MAX_BYTES 1024
#define SESSION_ID_CONTEXT "smtpsink"

/* TLS 1.3 sends this many tickets after a full handshake (OpenSSL's
 * default is 2: one is all an SMTP client reuses). */
#define TICKETS_PER_HANDSHAKE 1

/* The versions named in a "TLSv1.2,TLSv1.3" list: lowest and highest. */
static bool parse_protocols(const char *s, int *min, int *max)
{
	*min = TLS1_2_VERSION;
	*max = TLS1_3_VERSION;
	if (s == NULL || *s == '\0')
		return true;
	int lo = 0, hi = 0;
	const char *p = s;
	while (*p != '\0') {
		size_t n = strcspn(p, ", ");
		int v = 0;
		if ((n == 7 && memcmp(p, "TLSv1.2", 7) == 0) || (n == 3 && memcmp(p, "1.2", 3) == 0))
			v = TLS1_2_VERSION;
		else if ((n == 7 && memcmp(p, "TLSv1.3", 7) == 0) || (n == 3 && memcmp(p, "1.3", 3) == 0))
			v = TLS1_3_VERSION;
		else if (n > 0)
			return false;
		if (v != 0) {
			lo = lo == 0 || v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		p += n;
		p += strspn(p, ", ");
	}
	if (lo == 0)
		return false;
	*min = lo;
	*max = hi;
	return true;
}

const char *tls_ctx_check_protocols(const char *protocols)
{
	int lo, hi;
	return parse_protocols(protocols, &lo, &hi) ? NULL : "--tls-protocols takes TLSv1.2 and/or TLSv1.3";
}

/* Split "A:TLS_B:C" into the TLS 1.2 list "A:C" and the TLS 1.3 list
 * "TLS_B"; either may come out empty (then the default stays). */
static bool split_ciphers(const char *s, char *v12, char *v13, size_t cap)
{
	v12[0] = v13[0] = '\0';
	size_t l12 = 0, l13 = 0;
	while (s != NULL && *s != '\0') {
		size_t n = strcspn(s, ":");
		bool is13 = n > 4 && memcmp(s, "TLS_", 4) == 0;
		char *dst = is13 ? v13 : v12;
		size_t *len = is13 ? &l13 : &l12;
		if (n > 0) {
			if (*len + n + 2 > cap)
				return false;
			if (*len > 0)
				dst[(*len)++] = ':';
			memcpy(dst + *len, s, n);
			*len += n;
			dst[*len] = '\0';
		}
		s += n;
		s += strspn(s, ":");
	}
	return true;
}

static void fail(char *err, size_t len, const char *what)
{
	char why[256] = "unknown error";
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, why, sizeof why);
	snprintf(err, len, "%s: %s", what, why);
	ERR_clear_error();
}

/* Versions, ciphers and the options both sides share. */
static bool common_setup(SSL_CTX *ctx, const char *protocols, const char *ciphers, char *err, size_t len)
{
	int lo, hi;
	if (!parse_protocols(protocols, &lo, &hi)) {
		snprintf(err, len, "%s", tls_ctx_check_protocols(protocols));
		return false;
	}
	char v12[CIPHERS_MAX_BYTES], v13[CIPHERS_MAX_BYTES];
	if (!split_ciphers(ciphers, v12, v13, sizeof v12)) {
		snprintf(err, len, "--tls-ciphers: list too long");
		return false;
	}
	if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 || SSL_CTX_set_max_proto_version(ctx, hi) != 1) {
		fail(err, len, "TLS versions");
		return false;
	}
	if ((v12[0] != '\0' && SSL_CTX_set_cipher_list(ctx, v12) != 1) ||
	    (v13[0] != '\0' && SSL_CTX_set_ciphersuites(ctx, v13) != 1)) {
		fail(err, len, "--tls-ciphers");
		return false;
	}
	/* no renegotiation (a client-driven CPU sink, CVE-2011-1473);
	 * record buffers released while a session is idle */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return true;
}

SSL_CTX *tls_server_ctx_new(const struct tls_keys *k, const struct tls_server_opts *o, char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		fail(err, err_len, "SSL_CTX_new");
		return NULL;
	}
	bool ok = common_setup(ctx, o->protocols, o->ciphers, err, err_len);
	if (ok && (SSL_CTX_use_certificate(ctx, k->leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, k->key) != 1 ||
		   SSL_CTX_set1_chain(ctx, k->chain) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
		fail(err, err_len, "certificate");
		ok = false;
	}
	if (ok) {
		/* stateless tickets under keys every shard shares: a client
		 * resumes whichever shard accepts it; no session cache (no
		 * lock, no memory per past session) */
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(ctx, TICKETS_PER_HANDSHAKE);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SESSION_ID_CONTEXT,
					       sizeof SESSION_ID_CONTEXT - 1);
		if (SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)k->ticket_keys, sizeof k->ticket_keys) != 1) {
			fail(err, err_len, "ticket keys");
			ok = false;
		}
	}
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *tls_client_ctx_new(const char *protocols, const char *ciphers, char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		fail(err, err_len, "SSL_CTX_new");
		return NULL;
	}
	if (!common_setup(ctx, protocols, ciphers, err, err_len)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* a sink's certificate is its own */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	return ctx;
}

void tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* Does the kernel offer the "tls" upper-layer protocol? */
static bool kernel_has_tls_ulp(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f == NULL)
		return false;
	char line[256] = "";
	bool has = fgets(line, sizeof line, f) != NULL && strstr(line, "tls") != NULL;
	fclose(f);
	return has;
}

const char *tls_ctx_record_layer(void)
{
	if (kernel_has_tls_ulp())
		return "user space over memory BIOs (the kernel offers kTLS, but records made "
		       "for io_uring's buffers stay in user space)";
	return "user space over memory BIOs (no kTLS: the kernel has no \"tls\" upper-layer protocol, CONFIG_TLS)";
}
