/*
 * http/api_metrics.c - GET /metrics: the engine's counters in Prometheus's
 * text exposition format 0.0.4.
 *
 * Owns: the endpoint only; the text comes from the engine
 * (http_metrics_ops.expose, io/metrics.c), which reads the shards'
 * counters without a lock.  Behind --http-auth like every path but /livez
 * and /readyz (Prometheus's basic_auth sends the credentials).
 * Workload: a scrape every few seconds.
 */
#include "http_int.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum MHD_Result api_metrics(struct http_req *r)
{
	const struct http_metrics_ops *m = &r->srv->cfg.metrics;
	if (m->expose == NULL)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, "metrics are not served here");
	size_t len = 0;
	char *text = m->expose(m->arg, &len);
	if (text == NULL)
		return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return http_reply_bytes(r, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len);
}
