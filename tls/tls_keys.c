/*
 * tls/tls_keys.c - the server's certificate, chain and private key, loaded
 * from PEM files or generated (--tls-self-signed: ECDSA P-256, one year,
 * CN and subjectAltName = the host name), and the session-ticket keys all
 * shards share.  Loaded once at start-up; read-only afterwards, shared by
 * reference by every shard's context (tls_ctx.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls_ctx.h"
#include "tls_keys_int.h"

#define SELF_SIGNED_DAYS 365
#define SELF_SIGNED_SERIAL_BYTES 16

/* The failure's reason from OpenSSL's queue, after what. */
static void fail(char *err, size_t len, const char *what)
{
	char why[256];
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, why, sizeof why);
	else
		snprintf(why, sizeof why, "unknown error");
	snprintf(err, len, "%s: %s", what, why);
	ERR_clear_error();
}

static bool load_chain(struct tls_keys *k, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, len, "cannot read %s: %m", path);
		return false;
	}
	k->leaf = PEM_read_X509(f, NULL, NULL, NULL);
	k->chain = sk_X509_new_null();
	X509 *x;
	while (k->leaf != NULL && k->chain != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(k->chain, x);
	ERR_clear_error(); /* the loop ends on "no start line" */
	fclose(f);
	if (k->leaf == NULL || k->chain == NULL) {
		snprintf(err, len, "%s: no PEM certificate", path);
		return false;
	}
	return true;
}

static bool load_key(struct tls_keys *k, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, len, "cannot read %s: %m", path);
		return false;
	}
	k->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k->key == NULL) {
		char what[300];
		snprintf(what, sizeof what, "%s: no PEM private key", path);
		fail(err, len, what);
		return false;
	}
	if (X509_check_private_key(k->leaf, k->key) != 1) {
		fail(err, len, "the key does not match the certificate");
		return false;
	}
	return true;
}

/* Subject CN and subjectAltName DNS for host. */
static bool name_cert(X509 *x, const char *host)
{
	X509_NAME *n = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1)
		return false;
	char san[300];
	snprintf(san, sizeof san, "DNS:%s", host);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	bool ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static bool self_sign(struct tls_keys *k, const char *host, char *err, size_t len)
{
	k->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k->leaf = X509_new();
	k->chain = sk_X509_new_null();
	unsigned char serial[SELF_SIGNED_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	bool ok = k->key != NULL && k->leaf != NULL && k->chain != NULL && RAND_bytes(serial, sizeof serial) == 1 &&
		  X509_set_version(k->leaf, 2) == 1;
	if (ok) {
		serial[0] &= 0x7f; /* a positive serial number */
		bn = BN_bin2bn(serial, sizeof serial, NULL);
		ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(k->leaf)) != NULL;
	}
	BN_free(bn);
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(k->leaf), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(k->leaf), 86400L * SELF_SIGNED_DAYS) != NULL &&
	     X509_set_pubkey(k->leaf, k->key) == 1 && name_cert(k->leaf, host) &&
	     X509_sign(k->leaf, k->key, EVP_sha256()) > 0;
	if (!ok)
		fail(err, len, "cannot make a self-signed certificate");
	return ok;
}

static void fingerprint(struct tls_keys *k)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	k->fingerprint[0] = '\0';
	if (X509_digest(k->leaf, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned i = 0; i < n && 3 * i + 3 <= sizeof k->fingerprint; i++)
		snprintf(k->fingerprint + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

static void describe(struct tls_keys *k)
{
	char subject[200] = "";
	X509_NAME_oneline(X509_get_subject_name(k->leaf), subject, sizeof subject);
	snprintf(k->description, sizeof k->description, "%s, %s %d bits", subject,
		 EVP_PKEY_get0_type_name(k->key) != NULL ? EVP_PKEY_get0_type_name(k->key) : "key",
		 EVP_PKEY_get_bits(k->key));
}

struct tls_keys *tls_keys_load(const struct tls_server_opts *o, char *err, size_t err_len)
{
	struct tls_keys *k = calloc(1, sizeof *k);
	if (k == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	bool ok = o->self_signed ? self_sign(k, o->hostname != NULL ? o->hostname : "localhost", err, err_len) :
				   load_chain(k, o->cert_file, err, err_len) && load_key(k, o->key_file, err, err_len);
	if (ok && RAND_bytes(k->ticket_keys, sizeof k->ticket_keys) != 1) {
		fail(err, err_len, "no random ticket keys");
		ok = false;
	}
	if (!ok) {
		tls_keys_free(k);
		return NULL;
	}
	fingerprint(k);
	describe(k);
	return k;
}

void tls_keys_free(struct tls_keys *k)
{
	if (k == NULL)
		return;
	X509_free(k->leaf);
	if (k->chain != NULL)
		sk_X509_pop_free(k->chain, X509_free);
	EVP_PKEY_free(k->key);
	OPENSSL_cleanse(k->ticket_keys, sizeof k->ticket_keys);
	free(k);
}

const char *tls_keys_fingerprint(const struct tls_keys *k)
{
	return k->fingerprint;
}

const char *tls_keys_describe(const struct tls_keys *k)
{
	return k->description;
}
