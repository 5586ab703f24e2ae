/*
 * http/api_info.c - GET /livez, /readyz and /api/v1/info.
 *
 * Owns: the health answers (/livez: the thread answers; /readyz: the
 * index has made its first full pass over the spool, so lists are
 * complete) and Mailpit's AppInformation object (Memory: the resident
 * set), plus an "Index" object of our own with the indexer's progress and
 * lag: Pending/LagMs for the rows (phase 1), BodyPending/BodyLagMs for the
 * bodies behind them (phase 2: free text, snippet, attachments).  None of them needs a
 * spool: with --discard they report empty counts.  RuntimeStats' SMTP
 * counters come from the engine (http_metrics_ops); MessagesDeleted counts
 * what this server's deletions hid (visible messages before minus after:
 * mail arriving during a deletion makes it count a little less).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"
#include "indexer.h"

static enum MHD_Result reply_text(struct http_req *r, unsigned status, const char *text)
{
	char *p = strdup(text);
	return p != NULL ? http_reply_bytes(r, status, "text/plain", p, strlen(p)) : MHD_NO;
}

/* The process's resident memory in bytes (/proc/self/statm), 0 if unknown. */
static uint64_t resident_bytes(void)
{
	unsigned long long pages_total = 0, pages_resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f == NULL)
		return 0;
	int n = fscanf(f, "%llu %llu", &pages_total, &pages_resident);
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return n == 2 && page > 0 ? (uint64_t)pages_resident * (uint64_t)page : 0;
}

enum MHD_Result api_livez(struct http_req *r)
{
	return reply_text(r, MHD_HTTP_OK, "ok");
}

enum MHD_Result api_readyz(struct http_req *r)
{
	struct indexer_stats st = { .caught_up = true };
	if (r->srv->indexer != NULL)
		indexer_stats(r->srv->indexer, &st);
	return st.caught_up ? reply_text(r, MHD_HTTP_OK, "ok") :
			      reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "indexing the spool");
}

static void index_json(struct json_buf *b, struct indexer *ix)
{
	struct indexer_stats st = { 0 };
	if (ix != NULL)
		indexer_stats(ix, &st);
	json_buf_lit(b, ",\"Index\":{\"Indexed\":");
	json_buf_u64(b, st.indexed);
	json_buf_lit(b, ",\"Pending\":");
	json_buf_u64(b, st.pending);
	json_buf_lit(b, ",\"LagMs\":");
	json_buf_i64(b, st.lag_us / 1000);
	json_buf_lit(b, ",\"BodyIndexed\":");
	json_buf_u64(b, st.body_indexed);
	json_buf_lit(b, ",\"BodyPending\":");
	json_buf_u64(b, st.body_pending);
	json_buf_lit(b, ",\"BodyLagMs\":");
	json_buf_i64(b, st.body_lag_us / 1000);
	json_buf_lit(b, ",\"CaughtUp\":");
	json_buf_bool(b, ix == NULL || st.caught_up);
	json_buf_lit(b, "}");
}

uint64_t api_info_visible(struct http_req *r)
{
	struct mail_index_info info = { 0 };
	return r->srv->ix != NULL && mail_index_info(r->srv->ix, &info) == 0 ? info.messages : 0;
}

void api_info_deleted(struct http_req *r, uint64_t visible_before)
{
	uint64_t after = api_info_visible(r);
	if (visible_before > after)
		r->srv->deleted += visible_before - after;
}

/* RuntimeStats' counters: the SMTP ones from the shards (read live,
 * without a lock), MessagesDeleted from this server's deletions. */
static void runtime_smtp_json(struct json_buf *b, const struct http_server *srv)
{
	struct http_smtp_counts c = { 0 };
	if (srv->cfg.metrics.smtp_counts != NULL)
		srv->cfg.metrics.smtp_counts(srv->cfg.metrics.arg, &c);
	json_buf_lit(b, ",\"MessagesDeleted\":");
	json_buf_u64(b, srv->deleted);
	json_buf_lit(b, ",\"SMTPAccepted\":");
	json_buf_u64(b, c.accepted);
	json_buf_lit(b, ",\"SMTPAcceptedSize\":");
	json_buf_u64(b, c.accepted_bytes);
	json_buf_lit(b, ",\"SMTPRejected\":");
	json_buf_u64(b, c.rejected);
	json_buf_lit(b, ",\"SMTPIgnored\":");
	json_buf_u64(b, c.ignored);
	json_buf_lit(b, "}");
}

enum MHD_Result api_info(struct http_req *r)
{
	struct mail_index_info info = { 0 };
	int e = r->srv->ix != NULL ? mail_index_info(r->srv->ix, &info) : 0;
	if (e != 0)
		return http_reply_errno(r, e, "index");
	struct json_buf b = { 0 };
	json_buf_lit(&b, "{\"Version\":");
	json_buf_str(&b, r->srv->cfg.version);
	json_buf_lit(&b, ",\"LatestVersion\":\"disabled\",\"Database\":");
	json_buf_str(&b, r->srv->cfg.spool_path != NULL ? r->srv->cfg.spool_path : "");
	json_buf_lit(&b, ",\"DatabaseSize\":");
	json_buf_u64(&b, info.db_bytes);
	json_buf_lit(&b, ",\"Messages\":");
	json_buf_u64(&b, info.messages);
	json_buf_lit(&b, ",\"Unread\":");
	json_buf_u64(&b, info.unread);
	json_buf_lit(&b, ",\"Tags\":{},\"RuntimeStats\":{\"Uptime\":");
	json_buf_i64(&b, (http_now_us() - r->srv->started_us) / 1000000);
	json_buf_lit(&b, ",\"Memory\":");
	json_buf_u64(&b, resident_bytes());
	runtime_smtp_json(&b, r->srv);
	index_json(&b, r->srv->indexer);
	json_buf_lit(&b, "}");
	return http_reply_json(r, MHD_HTTP_OK, &b);
}

/* Mailpit's web UI settings: what its clients read to know the features. */
enum MHD_Result api_webui(struct http_req *r)
{
	struct json_buf b = { 0 };
	json_buf_lit(&b, "{\"Label\":\"smtpsink\",\"MessageRelay\":{\"Enabled\":false},\"SpamAssassin\":false,"
			 "\"ChaosEnabled\":");
	json_buf_bool(&b, r->srv->cfg.chaos.get != NULL);
	json_buf_lit(&b, ",\"DuplicatesIgnored\":false,\"HideDeleteAllButton\":false}");
	return http_reply_json(r, MHD_HTTP_OK, &b);
}
