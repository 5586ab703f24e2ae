/*
 * http/http_metrics.h - what the HTTP server asks the engine for: the
 * Prometheus text of GET /metrics, and the SMTP counters of
 * /api/v1/info's RuntimeStats.  Plain data; no other includes, so io/
 * (io/metrics.c answers both) can use it without the HTTP server's
 * headers.  Both calls run on the HTTP thread and read the shards'
 * counters without a lock (io/shard_stats.h).
 */
#ifndef SMTPSINK_HTTP_METRICS_H
#define SMTPSINK_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Mailpit's RuntimeStats SMTP counters, since start. */
struct http_smtp_counts {
	uint64_t accepted; /* messages answered 250 */
	uint64_t accepted_bytes; /* ... their bytes */
	uint64_t rejected; /* messages refused at their end of data (4xx/5xx) */
	uint64_t ignored; /* accepted and dropped: none in smtpsink (Mailpit: duplicates) */
};

struct http_metrics_ops {
	/* the exposition (malloc'd, NUL-terminated, *len bytes), NULL: no memory */
	char *(*expose)(void *arg, size_t *len);
	void (*smtp_counts)(void *arg, struct http_smtp_counts *c);
	void *arg;
};

#endif
