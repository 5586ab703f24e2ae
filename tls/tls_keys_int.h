/*
 * tls/tls_keys_int.h - what tls_keys.c loads, as tls_ctx.c reads it to
 * build each shard's context.  Not for callers outside tls/.
 */
#ifndef SMTPSINK_TLS_KEYS_INT_H
#define SMTPSINK_TLS_KEYS_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls_ctx.h"

/* 16 bytes key name, 32 HMAC secret, 32 AES key (OpenSSL's layout for
 * SSL_CTRL_SET_TLSEXT_TICKET_KEYS). */
#define TLS_TICKET_KEYS_BYTES 80

struct tls_keys {
	X509 *leaf;
	STACK_OF(X509) * chain; /* intermediates, may be empty */
	EVP_PKEY *key;
	unsigned char ticket_keys[TLS_TICKET_KEYS_BYTES];
	char fingerprint[TLS_FINGERPRINT_BYTES];
	char description[256];
};

#endif
