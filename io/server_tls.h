/*
 * io/server_tls.h - TLS for the server's shards, set up at start-up.
 *
 * Owns: turning --tls-cert/--tls-key or --tls-self-signed into the keys
 * (loaded once, tls/tls_ctx.h) and one SSL_CTX per shard, and the start-up
 * lines that say what runs (certificate, fingerprint of a generated one,
 * record layer).  Nothing on the hot path: the shards only read their own
 * context (conn_tls.c).
 */
#ifndef SMTPSINK_SERVER_TLS_H
#define SMTPSINK_SERVER_TLS_H

#include "server_config.h"
#include "shard.h"

/* Does the configuration ask for TLS at all? */
bool server_tls_wanted(const struct server_config *cfg);
/* Keys and every shard's context; 0, or -1 with the reason printed. */
int server_tls_prepare(const struct server_config *cfg, struct shard *shards, unsigned n);

#endif
