/*
 * io/metrics.c - the metrics smtpsink exposes, read from the shards (see
 * metrics.h; docs/METRICS.md is the user's list).
 *
 * Labels: `shard` on the per-shard counters and gauges (a shard that lags
 * or takes no connections shows), `verb` (the registry's names,
 * core/smtp_verbs.c, every verb always present), `code` (reply codes seen
 * at least once), `rule` (fault rules by canonical text, summed over the
 * rule sets loaded), `result` (TLS handshakes, always present, zero until
 * the TLS code counts).  The histograms are summed over shards.
 * Workload: one scrape every few seconds: a few thousand relaxed loads.
 */
#include "metrics.h"

#include <stdlib.h>

#include "fault_live.h"
#include "prom_text.h"
#include "shard.h"
#include "smtp_verbs.h"

/* A counter or gauge each shard keeps in one field, exposed per shard. */
struct metrics_shard_row {
	const char *name, *type, *help;
	size_t offset; /* of the shard_stat in struct shard_stats */
};

#define ROW(name, type, field, help)                                  \
	{                                                             \
		name, type, help, offsetof(struct shard_stats, field) \
	}

static const struct metrics_shard_row metrics_shard_rows[] = {
	ROW("smtpsink_connections_total", "counter", conns_accepted,
	    "Connections accepted, those then refused over --max-conns included."),
	ROW("smtpsink_messages_accepted_total", "counter", messages,
	    "Messages answered 250 at their end of data (stored, or thrown away with --discard)."),
	ROW("smtpsink_messages_refused_total", "counter", messages_refused,
	    "Messages answered 4xx or 5xx at their end of data (spool failures, fault rules, --exit-after)."),
	ROW("smtpsink_message_bytes_total", "counter", message_bytes, "Bytes of the messages answered 250."),
	ROW("smtpsink_recipients_total", "counter", recipients, "Recipients of the messages answered 250."),
	ROW("smtpsink_recv_buffer_shortages_total", "counter", enobufs,
	    "Receives that found no free receive buffer (the connection waited for one)."),
	ROW("smtpsink_spool_bytes", "gauge", spool_bytes,
	    "Bytes the spool takes on disk (the open segment as preallocated), updated every second."),
	ROW("smtpsink_spool_segments", "gauge", spool_segments,
	    "Spool segments, the open one included, updated every second."),
	ROW("smtpsink_tls_resumed_total", "counter", tls_resumed,
	    "Completed TLS handshakes that resumed a session from a ticket."),
};

static const char *const metrics_tls_results[SHARD_STATS_TLS_COUNT] = { "ok", "failed" };

static uint64_t field(const struct shard *sh, size_t offset)
{
	return shard_stats_get((const shard_stat *)((const char *)&sh->stats + offset));
}

static void hist_sum(const struct metrics_src *src, size_t offset, uint64_t bucket[SHARD_STATS_BUCKETS],
		     uint64_t *sum_us)
{
	*sum_us = 0;
	for (unsigned b = 0; b < SHARD_STATS_BUCKETS; b++)
		bucket[b] = 0;
	for (unsigned i = 0; i < src->n; i++) {
		const struct shard_stats_hist *h =
			(const struct shard_stats_hist *)((const char *)&src->shards[i].stats + offset);
		for (unsigned b = 0; b < SHARD_STATS_BUCKETS; b++)
			bucket[b] += shard_stats_get(&h->bucket[b]);
		*sum_us += shard_stats_get(&h->sum_us);
	}
}

void metrics_totals(const struct metrics_src *src, struct metrics_totals *t)
{
	*t = (struct metrics_totals){ 0 };
	for (unsigned i = 0; i < src->n; i++) {
		const struct shard_stats *st = &src->shards[i].stats;
		t->conns_closed += shard_stats_get(&st->conns_closed); /* before accepted: never more */
		t->conns += shard_stats_get(&st->conns_accepted);
		t->messages += shard_stats_get(&st->messages);
		t->message_bytes += shard_stats_get(&st->message_bytes);
		t->refused += shard_stats_get(&st->messages_refused);
		t->recipients += shard_stats_get(&st->recipients);
		for (unsigned c = 0; c < SHARD_STATS_CODES; c++)
			t->replies[c] += shard_stats_get(&st->replies[c]);
	}
	hist_sum(src, offsetof(struct shard_stats, eod), t->eod, &t->eod_sum_us);
}

uint64_t metrics_replies_class(const struct metrics_totals *t, unsigned cls)
{
	uint64_t n = 0;
	for (unsigned c = 0; c < SHARD_STATS_CODES; c++)
		if ((c + SHARD_STATS_CODE_MIN) / 100 == cls)
			n += t->replies[c];
	return n;
}

static void expose_shard_rows(struct prom_text *t, const struct metrics_src *src)
{
	for (size_t r = 0; r < sizeof metrics_shard_rows / sizeof metrics_shard_rows[0]; r++) {
		const struct metrics_shard_row *row = &metrics_shard_rows[r];
		prom_text_family(t, row->name, row->type, row->help);
		for (unsigned i = 0; i < src->n; i++)
			prom_text_sample_n(t, row->name, "shard", i, field(&src->shards[i], row->offset));
	}
	const char *open = "smtpsink_sessions_open";
	prom_text_family(t, open, "gauge", "Connections open now (accepted and not yet closed and freed).");
	for (unsigned i = 0; i < src->n; i++) {
		const struct shard_stats *st = &src->shards[i].stats;
		uint64_t closed = shard_stats_get(&st->conns_closed); /* first: accepted is never less */
		prom_text_sample_n(t, open, "shard", i, shard_stats_get(&st->conns_accepted) - closed);
	}
}

uint64_t metrics_sum(const struct metrics_src *src, size_t offset)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < src->n; i++)
		v += field(&src->shards[i], offset);
	return v;
}

/* Entry e of an array of shard_stat at offset, summed over shards. */
static uint64_t sum_entry(const struct metrics_src *src, size_t offset, unsigned e)
{
	return metrics_sum(src, offset + e * sizeof(shard_stat));
}

static void expose_labelled(struct prom_text *t, const struct metrics_src *src)
{
	const char *cmds = "smtpsink_commands_total";
	prom_text_family(t, cmds, "counter", "Command lines received, by verb (UNKNOWN: not a verb).");
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++)
		prom_text_sample(t, cmds, "verb", smtp_verbs_info(v)->name,
				 sum_entry(src, offsetof(struct shard_stats, commands), v));
	const char *replies = "smtpsink_replies_total";
	prom_text_family(t, replies, "counter", "Replies written, by code (a multi-line reply counts once).");
	for (unsigned c = 0; c < SHARD_STATS_CODES; c++) {
		uint64_t n = sum_entry(src, offsetof(struct shard_stats, replies), c);
		if (n > 0)
			prom_text_sample_n(t, replies, "code", c + SHARD_STATS_CODE_MIN, n);
	}
	const char *tls = "smtpsink_tls_handshakes_total";
	prom_text_family(t, tls, "counter", "TLS handshakes, by result.");
	for (unsigned r = 0; r < SHARD_STATS_TLS_COUNT; r++)
		prom_text_sample(t, tls, "result", metrics_tls_results[r],
				 sum_entry(src, offsetof(struct shard_stats, tls_handshakes), r));
}

/* Fault rules by text: false when memory ran out. */
static bool expose_faults(struct prom_text *t, const struct metrics_src *src)
{
	const char *name = "smtpsink_faults_fired_total";
	prom_text_family(t, name, "counter", "Fault rule firings, by rule (its canonical text), over every reload.");
	if (src->faults == NULL)
		return true;
	struct fault_live_hit *hits = NULL;
	long n = fault_live_hits(src->faults, &hits);
	for (long i = 0; i < n; i++)
		prom_text_sample(t, name, "rule", hits[i].text, hits[i].hits);
	free(hits);
	return n >= 0;
}

/* The histograms: name, help, where in struct shard_stats. */
static const struct {
	const char *name, *help;
	size_t offset;
} metrics_hists[] = {
	{ "smtpsink_end_of_data_to_reply_seconds",
	  "From a message's end of data to its reply (with --sync group: the wait for its fdatasync).",
	  offsetof(struct shard_stats, eod) },
	{ "smtpsink_fsync_seconds", "A spool batch's write and fdatasync, from submission to completion.",
	  offsetof(struct shard_stats, fsync) },
	{ "smtpsink_tls_handshake_seconds", "A completed TLS handshake, from its start to its end.",
	  offsetof(struct shard_stats, tls_handshake) },
};

static void expose_histograms(struct prom_text *t, const struct metrics_src *src)
{
	uint64_t bucket[SHARD_STATS_BUCKETS], sum_us;
	for (size_t i = 0; i < sizeof metrics_hists / sizeof metrics_hists[0]; i++) {
		prom_text_family(t, metrics_hists[i].name, "histogram", metrics_hists[i].help);
		hist_sum(src, metrics_hists[i].offset, bucket, &sum_us);
		prom_text_histogram(t, metrics_hists[i].name, shard_stats_bounds_us, SHARD_STATS_BOUNDS, bucket,
				    sum_us);
	}
}

char *metrics_expose(void *arg, size_t *len)
{
	const struct metrics_src *src = arg;
	struct prom_text t = { 0 };
	expose_shard_rows(&t, src);
	expose_labelled(&t, src);
	if (!expose_faults(&t, src))
		t.failed = true;
	expose_histograms(&t, src);
	return prom_text_take(&t, len);
}

void metrics_smtp_counts(void *arg, struct http_smtp_counts *c)
{
	struct metrics_totals t;
	metrics_totals(arg, &t);
	*c = (struct http_smtp_counts){ t.messages, t.message_bytes, t.refused, 0 };
}
