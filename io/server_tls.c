/*
 * io/server_tls.c - TLS keys and per-shard contexts at start-up (see
 * server_tls.h).
 */
#include "server_tls.h"

#include <stdio.h>

#include "tls_ctx.h"

bool server_tls_wanted(const struct server_config *cfg)
{
	return cfg->tls_cert != NULL || cfg->tls_self_signed;
}

/* The options as tls/ takes them. */
static struct tls_server_opts opts_of(const struct server_config *cfg)
{
	struct tls_server_opts o = {
		.cert_file = cfg->tls_cert,
		.key_file = cfg->tls_key,
		.self_signed = cfg->tls_self_signed,
		.hostname = cfg->smtp.hostname,
		.protocols = cfg->tls_protocols,
		.ciphers = cfg->tls_ciphers,
	};
	return o;
}

int server_tls_prepare(const struct server_config *cfg, struct shard *shards, unsigned n)
{
	if (!server_tls_wanted(cfg))
		return 0;
	char err[512];
	struct tls_server_opts o = opts_of(cfg);
	struct tls_keys *keys = tls_keys_load(&o, err, sizeof err);
	if (keys == NULL) {
		fprintf(stderr, "smtpsink: TLS: %s\n", err);
		return -1;
	}
	int rc = 0;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		shards[i].tls_ctx = tls_server_ctx_new(keys, &o, err, sizeof err);
		if (shards[i].tls_ctx == NULL) {
			fprintf(stderr, "smtpsink: TLS: %s\n", err);
			rc = -1;
		}
	}
	if (rc == 0) {
		fprintf(stderr, "smtpsink: TLS: %s%s\n", tls_keys_describe(keys),
			cfg->tls_self_signed ? " (self-signed at start)" : "");
		if (cfg->tls_self_signed)
			fprintf(stderr, "smtpsink: TLS: certificate SHA-256 fingerprint %s\n",
				tls_keys_fingerprint(keys));
		fprintf(stderr, "smtpsink: TLS: records made in %s\n", tls_ctx_record_layer());
	}
	tls_keys_free(keys); /* the contexts hold their own references */
	return rc;
}
