/*
 * bench/bench_prom_text.c - the --prometheus exposition (see
 * bench_prom_text.h).
 *
 * Metric names follow Prometheus conventions: counters end in _total,
 * durations are seconds, sizes bytes; every family has HELP and TYPE, so
 * `promtool check metrics` has nothing to say.  Reply codes are labelled
 * by their three digits ("other" for anything that is not 100..599).
 */
#include "bench_prom_text.h"

#include <inttypes.h>

#define NS_PER_S 1e9
#define PREFIX "smtpsink_bench_"

static const uint64_t bounds_ns[BENCH_PROM_BUCKETS] = {
	100000,	  250000,    500000,	1000000,   2500000,    5000000,	   10000000,   25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static const enum client_step hist_steps[BENCH_PROM_HISTS] = { CLIENT_STEP_TLS_HANDSHAKE, CLIENT_STEP_EOD,
							       CLIENT_STEP_MESSAGE };
static const char *const hist_names[BENCH_PROM_HISTS] = { "tls_handshake_seconds", "end_of_data_seconds",
							  "message_seconds" };
static const char *const hist_help[BENCH_PROM_HISTS] = {
	"A completed TLS handshake, from the connection (--tls) or STARTTLS's 220 to its end",
	"From the write that ends a message's data to its reply",
	"A whole transaction, from its intended start to its end-of-data reply",
};

void bench_prom_snap_fill(struct bench_prom_snap *out, const struct bench_stats *s, bool running)
{
	out->c = s->c;
	for (unsigned i = 0; i < BENCH_PROM_HISTS; i++) {
		const struct hdr_histogram *h = &s->lat[hist_steps[i]];
		hdr_count_le(h, bounds_ns, BENCH_PROM_BUCKETS, out->hist[i].le);
		out->hist[i].count = h->total_count;
		out->hist[i].sum_ns = h->sum;
	}
	out->running = running;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP " PREFIX "%s %s.\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, PREFIX "%s %" PRIu64 "\n", name, v);
}

static void histogram(FILE *f, unsigned i, const struct bench_prom_hist *h)
{
	const char *name = hist_names[i];
	family(f, name, "histogram", hist_help[i]);
	for (unsigned b = 0; b < BENCH_PROM_BUCKETS; b++)
		fprintf(f, PREFIX "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)bounds_ns[b] / NS_PER_S,
			h->le[b]);
	fprintf(f, PREFIX "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	fprintf(f, PREFIX "%s_sum %.9f\n" PREFIX "%s_count %" PRIu64 "\n", name, (double)h->sum_ns / NS_PER_S, name,
		h->count);
}

static void labelled(FILE *f, const struct bench_counts *c)
{
	family(f, "replies_total", "counter", "Replies received, by code");
	for (unsigned code = 0; code < BENCH_REPLY_CODES; code++) {
		if (c->replies[code] == 0)
			continue;
		if (code == 0)
			fprintf(f, PREFIX "replies_total{code=\"other\"} %" PRIu64 "\n", c->replies[code]);
		else
			fprintf(f, PREFIX "replies_total{code=\"%u\"} %" PRIu64 "\n", code, c->replies[code]);
	}
	family(f, "errors_total", "counter", "Errors, by kind (as in the report's errors row)");
	for (unsigned e = 0; e < BENCH_ERR_COUNT; e++)
		fprintf(f, PREFIX "errors_total{kind=\"%s\"} %" PRIu64 "\n", bench_error_name((enum bench_error)e),
			c->errors[e]);
	family(f, "tls_handshakes_total", "counter",
	       "TLS handshakes: ok (full), resumed (from a session ticket), failed (begun, never completed)");
	fprintf(f, PREFIX "tls_handshakes_total{result=\"ok\"} %" PRIu64 "\n", c->tls_handshakes - c->tls_resumed);
	fprintf(f, PREFIX "tls_handshakes_total{result=\"resumed\"} %" PRIu64 "\n", c->tls_resumed);
	fprintf(f, PREFIX "tls_handshakes_total{result=\"failed\"} %" PRIu64 "\n", c->tls_failed);
}

int bench_prom_write(FILE *f, const struct bench_prom_snap *s, double rate)
{
	const struct bench_counts *c = &s->c;
	one(f, "running", "gauge", "1 while the run goes, 0 once the counts are final", s->running);
	family(f, "target_rate_messages_per_second", "gauge", "The --rate asked (0: closed loop)");
	fprintf(f, PREFIX "target_rate_messages_per_second %g\n", rate);
	one(f, "messages_sent_total", "counter", "Transactions started (MAIL sent)", c->txn_started);
	one(f, "messages_accepted_total", "counter", "Messages whose end of data was answered 250", c->messages);
	one(f, "messages_failed_total", "counter", "Transactions that ended without that", c->txn_failed);
	one(f, "message_bytes_total", "counter", "Content bytes of the accepted messages", c->message_bytes);
	one(f, "connections_total", "counter", "Connections established", c->sessions);
	one(f, "connections_open", "gauge", "Connections open or being made", c->open_conns);
	one(f, "sent_bytes_total", "counter", "Bytes sent", c->bytes_sent);
	one(f, "received_bytes_total", "counter", "Bytes received", c->bytes_received);
	family(f, "schedule_lag_max_seconds", "gauge", "Open loop: the most a message started after its due time");
	fprintf(f, PREFIX "schedule_lag_max_seconds %.9f\n", (double)c->sched_lag_max_ns / NS_PER_S);
	labelled(f, c);
	for (unsigned i = 0; i < BENCH_PROM_HISTS; i++)
		histogram(f, i, &s->hist[i]);
	return ferror(f) ? -1 : 0;
}
