/*
 * bench/bench_report.c - printing a run's results: the human summary, the
 * --json document, and the live progress line.
 *
 * Owns: formats only.  Rates divide by the run's elapsed time, from the
 * schedule's start (after warm-up outside connect mode) to the end of the
 * last transaction.  Latencies are printed in microseconds (recorded in
 * nanoseconds); a step with no sample is left out.  Open loop: whether
 * the rate was offered is bench_sched_rate_reached()'s call; here it is
 * printed (a summary row, JSON fields, a warning on stderr).
 */
#include "bench_report.h"

#include <stdio.h>
#include <string.h>

#include "bench_sched.h"

#define NS_PER_US 1000.0
#define NS_PER_S 1e9
#define NS_PER_MS 1e6

static const char *const mode_names[] = { "connect", "reuse", "pipeline", "bdat" };
static const char *const tls_names[] = { "none", "starttls", "implicit" };
static const double percentiles[] = { 50, 90, 99, 99.9 };
static const char *const percentile_keys[] = { "p50", "p90", "p99", "p99.9" };
#define PERCENTILE_COUNT (sizeof percentiles / sizeof percentiles[0])

const char *bench_report_mode_name(enum client_mode m)
{
	return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : NULL;
}

double bench_report_elapsed_s(const struct bench_counts *c)
{
	return c->end_ns > c->start_ns ? (double)(c->end_ns - c->start_ns) / NS_PER_S : 0.0;
}

static double per_s(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0.0;
}

static double cpu_s(const struct bench_counts *c)
{
	return (double)(c->cpu_user_us + c->cpu_sys_us) / 1e6;
}

static bool rate_reached(const struct bench_config *cfg, const struct bench_counts *c, double *achieved)
{
	return bench_sched_rate_reached(cfg->rate, c->txn_started, c->start_ns, c->sched_last_ns, c->sched_lag_max_ns,
					achieved);
}

static void human_rate(FILE *f, const struct bench_config *cfg, const struct bench_counts *c)
{
	double achieved;
	bool ok = rate_reached(cfg, c, &achieved);
	fprintf(f, "  open loop: %.1f msg/s offered of %.0f (%.1f %%), started up to %.1f ms late: %s\n", achieved,
		cfg->rate, achieved * 100.0 / cfg->rate, (double)c->sched_lag_max_ns / NS_PER_MS,
		ok ? "rate reached" : "RATE NOT REACHED");
}

bool bench_report_rate_warning(FILE *f, const struct bench_config *cfg, const struct bench_counts *c)
{
	double achieved;
	if (cfg->rate <= 0 || rate_reached(cfg, c, &achieved))
		return false;
	fprintf(f,
		"smtpsink-bench: warning: --rate %.0f not reached: %.1f msg/s offered (%.1f %%; %.0f %% needed), "
		"messages started up to %.3f s late (%.0f s allowed): more --connections, or the server is slower "
		"than the rate\n",
		cfg->rate, achieved, achieved * 100.0 / cfg->rate, BENCH_SCHED_RATE_REACHED_FRACTION * 100.0,
		(double)c->sched_lag_max_ns / NS_PER_S, (double)BENCH_SCHED_LAG_MAX_NS / NS_PER_S);
	return true;
}

static void human_header(FILE *f, const struct bench_report_info *ri)
{
	const struct bench_config *cfg = ri->cfg;
	fprintf(f, "smtpsink-bench: %s%s to %s, %u connections, %u worker%s, %s, ", mode_names[cfg->mode],
		cfg->no_rset ? " --no-rset" : "", cfg->target_text, cfg->connections, ri->workers,
		ri->workers == 1 ? "" : "s", ri->io_name);
	if (cfg->rate > 0)
		fprintf(f, "open loop at %.0f msg/s\n", cfg->rate);
	else
		fprintf(f, "closed loop\n");
}

static void human_counts(FILE *f, const struct bench_counts *c)
{
	double secs = bench_report_elapsed_s(c);
	fprintf(f, "  %llu messages in %.3f s: %.0f msg/s, %llu sessions (%.1f/s), %.1f MB/s sent\n",
		(unsigned long long)c->messages, secs, per_s(c->messages, secs), (unsigned long long)c->sessions,
		per_s(c->sessions, secs), per_s(c->bytes_sent, secs) / 1e6);
	fprintf(f, "  transactions: %llu started, %llu failed\n  replies:", (unsigned long long)c->txn_started,
		(unsigned long long)c->txn_failed);
	bool any = false;
	for (unsigned code = 0; code < BENCH_REPLY_CODES; code++)
		if (c->replies[code]) {
			fprintf(f, " %u x%llu", code, (unsigned long long)c->replies[code]);
			any = true;
		}
	fprintf(f, "%s\n  errors:", any ? "" : " none");
	any = false;
	for (unsigned e = 0; e < BENCH_ERR_COUNT; e++)
		if (c->errors[e]) {
			fprintf(f, " %s %llu", bench_error_name((enum bench_error)e), (unsigned long long)c->errors[e]);
			any = true;
		}
	fprintf(f, "%s\n", any ? "" : " none");
	fprintf(f, "  client CPU: %.3f s (%.2f us per message), %llu loop turns, %llu buffer shortages\n", cpu_s(c),
		c->messages ? cpu_s(c) * 1e6 / (double)c->messages : 0.0, (unsigned long long)c->loop_turns,
		(unsigned long long)c->enobufs);
}

/* Handshakes: completed (full and resumed) and failed, per second. */
static void human_tls(FILE *f, const struct bench_config *cfg, const struct bench_counts *c)
{
	fprintf(f, "  TLS (%s%s): %llu handshakes (%.1f/s): %llu full, %llu resumed, %llu failed\n",
		tls_names[cfg->tls], cfg->tls_resume ? ", --tls-resume" : "", (unsigned long long)c->tls_handshakes,
		per_s(c->tls_handshakes, bench_report_elapsed_s(c)),
		(unsigned long long)(c->tls_handshakes - c->tls_resumed), (unsigned long long)c->tls_resumed,
		(unsigned long long)c->tls_failed);
}

void bench_report_human(FILE *f, const struct bench_report_info *ri, const struct bench_stats *s)
{
	human_header(f, ri);
	human_counts(f, &s->c);
	if (ri->cfg->tls != BENCH_TLS_NONE)
		human_tls(f, ri->cfg, &s->c);
	if (ri->cfg->rate > 0)
		human_rate(f, ri->cfg, &s->c);
	fprintf(f, "  %-14s %10s", "latency (us)", "count");
	for (size_t i = 0; i < PERCENTILE_COUNT; i++)
		fprintf(f, " %10s", percentile_keys[i]);
	fprintf(f, " %10s\n", "max");
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++) {
		const struct hdr_histogram *h = &s->lat[st];
		if (h->total_count == 0)
			continue;
		fprintf(f, "  %-14s %10llu", client_step_name((enum client_step)st),
			(unsigned long long)h->total_count);
		for (size_t i = 0; i < PERCENTILE_COUNT; i++)
			fprintf(f, " %10.1f", (double)hdr_value_at_percentile(h, percentiles[i]) / NS_PER_US);
		fprintf(f, " %10.1f\n", (double)h->max / NS_PER_US);
	}
}

static void json_latency(FILE *f, const struct bench_stats *s)
{
	fprintf(f, "  \"latency_us\": {");
	bool first = true;
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++) {
		const struct hdr_histogram *h = &s->lat[st];
		if (h->total_count == 0)
			continue;
		fprintf(f, "%s\n    \"%s\": {\"count\": %llu", first ? "" : ",", client_step_name((enum client_step)st),
			(unsigned long long)h->total_count);
		for (size_t i = 0; i < PERCENTILE_COUNT; i++)
			fprintf(f, ", \"%s\": %.1f", percentile_keys[i],
				(double)hdr_value_at_percentile(h, percentiles[i]) / NS_PER_US);
		fprintf(f, ", \"max\": %.1f, \"mean\": %.1f}", (double)h->max / NS_PER_US, hdr_mean(h) / NS_PER_US);
		first = false;
	}
	fprintf(f, "\n  },\n");
}

static void json_maps(FILE *f, const struct bench_counts *c)
{
	fprintf(f, "  \"replies\": {");
	bool first = true;
	for (unsigned code = 0; code < BENCH_REPLY_CODES; code++)
		if (c->replies[code]) {
			fprintf(f, "%s\"%u\": %llu", first ? "" : ", ", code, (unsigned long long)c->replies[code]);
			first = false;
		}
	fprintf(f, "},\n  \"errors\": {");
	for (unsigned e = 0; e < BENCH_ERR_COUNT; e++)
		fprintf(f, "%s\"%s\": %llu", e ? ", " : "", bench_error_name((enum bench_error)e),
			(unsigned long long)c->errors[e]);
	fprintf(f, "},\n");
}

static void json_tls(FILE *f, const struct bench_config *cfg, const struct bench_counts *c)
{
	if (cfg->tls == BENCH_TLS_NONE) {
		fprintf(f, "  \"tls\": null,\n");
		return;
	}
	fprintf(f,
		"  \"tls\": {\"mode\": \"%s\", \"resume\": %s, \"handshakes\": %llu, \"handshakes_per_s\": %.1f, "
		"\"full\": %llu, \"resumed\": %llu, \"failed\": %llu},\n",
		tls_names[cfg->tls], cfg->tls_resume ? "true" : "false", (unsigned long long)c->tls_handshakes,
		per_s(c->tls_handshakes, bench_report_elapsed_s(c)),
		(unsigned long long)(c->tls_handshakes - c->tls_resumed), (unsigned long long)c->tls_resumed,
		(unsigned long long)c->tls_failed);
}

/* One histogram's exact image: its layout, exact fields and non-zero
 * counters as a flat [index, count, index, count, ...] list. */
static void json_histogram(FILE *f, const struct hdr_histogram *h)
{
	fprintf(f,
		"{\"lowest_ns\": %llu, \"highest_ns\": %llu, \"digits\": %u, \"count\": %llu, \"min_ns\": %llu, "
		"\"max_ns\": %llu, \"sum_ns\": %llu, \"saturated\": %llu, \"counts\": [",
		(unsigned long long)h->lowest, (unsigned long long)h->highest, h->sig_digits,
		(unsigned long long)h->total_count, (unsigned long long)h->min, (unsigned long long)h->max,
		(unsigned long long)h->sum, (unsigned long long)h->saturated);
	bool first = true;
	for (uint32_t k = 0; k < h->counts_len; k++)
		if (h->counts[k] != 0) {
			fprintf(f, "%s%u, %llu", first ? "" : ", ", k, (unsigned long long)h->counts[k]);
			first = false;
		}
	fprintf(f, "]}");
}

/* "exact": what `smtpsink-bench merge` needs to add runs up exactly
 * (bench_merge.c): times relative to the run's start, the CPU split, and
 * every step's histogram. */
static void json_exact(FILE *f, const struct bench_stats *s)
{
	const struct bench_counts *c = &s->c;
	fprintf(f,
		"  \"exact\": {\"elapsed_ns\": %llu, \"sched_last_ns\": %llu, \"sched_lag_max_ns\": %llu, "
		"\"cpu_user_us\": %llu, \"cpu_sys_us\": %llu,\n    \"histograms\": {",
		(unsigned long long)(c->end_ns > c->start_ns ? c->end_ns - c->start_ns : 0),
		(unsigned long long)(c->sched_last_ns > c->start_ns ? c->sched_last_ns - c->start_ns : 0),
		(unsigned long long)c->sched_lag_max_ns, (unsigned long long)c->cpu_user_us,
		(unsigned long long)c->cpu_sys_us);
	bool first = true;
	for (unsigned st = 0; st < CLIENT_STEP_COUNT; st++) {
		if (s->lat[st].total_count == 0)
			continue;
		fprintf(f, "%s\n      \"%s\": ", first ? "" : ",", client_step_name((enum client_step)st));
		json_histogram(f, &s->lat[st]);
		first = false;
	}
	fprintf(f, "\n    }}\n");
}

void bench_report_json(FILE *f, const struct bench_report_info *ri, const struct bench_stats *s)
{
	const struct bench_config *cfg = ri->cfg;
	const struct bench_counts *c = &s->c;
	double secs = bench_report_elapsed_s(c);
	fprintf(f, "{\n  \"target\": \"%s\", \"mode\": \"%s\", \"no_rset\": %s, \"connections\": %u,\n",
		cfg->target_text, mode_names[cfg->mode], cfg->no_rset ? "true" : "false", cfg->connections);
	fprintf(f,
		"  \"workers\": %u, \"io\": \"%s\", \"rate\": %.3f, \"size_min\": %u, \"size_max\": %u, \"rcpts\": "
		"%u,\n",
		ri->workers, ri->io_name, cfg->rate, cfg->size_min, cfg->size_max, cfg->rcpts);
	fprintf(f, "  \"elapsed_s\": %.6f, \"messages\": %llu, \"messages_per_s\": %.1f, \"message_bytes\": %llu,\n",
		secs, (unsigned long long)c->messages, per_s(c->messages, secs), (unsigned long long)c->message_bytes);
	fprintf(f, "  \"transactions_started\": %llu, \"transactions_failed\": %llu,\n",
		(unsigned long long)c->txn_started, (unsigned long long)c->txn_failed);
	fprintf(f, "  \"sessions\": %llu, \"sessions_per_s\": %.1f,\n", (unsigned long long)c->sessions,
		per_s(c->sessions, secs));
	json_tls(f, cfg, c);
	fprintf(f, "  \"bytes_sent\": %llu, \"bytes_received\": %llu, \"bytes_per_s\": %.1f,\n",
		(unsigned long long)c->bytes_sent, (unsigned long long)c->bytes_received, per_s(c->bytes_sent, secs));
	double achieved;
	if (cfg->rate > 0) {
		bool ok = rate_reached(cfg, c, &achieved);
		fprintf(f, "  \"rate_achieved\": %.1f, \"rate_reached\": %s, \"schedule_lag_max_ms\": %.3f,\n",
			achieved, ok ? "true" : "false", (double)c->sched_lag_max_ns / NS_PER_MS);
	} else {
		fprintf(f, "  \"rate_achieved\": null, \"rate_reached\": null, \"schedule_lag_max_ms\": null,\n");
	}
	json_maps(f, c);
	json_latency(f, s);
	fprintf(f, "  \"client_cpu_s\": %.6f, \"client_cpu_us_per_message\": %.3f,\n", cpu_s(c),
		c->messages ? cpu_s(c) * 1e6 / (double)c->messages : 0.0);
	fprintf(f, "  \"loop_turns\": %llu, \"enobufs\": %llu, \"qid_log_lost\": %llu,\n",
		(unsigned long long)c->loop_turns, (unsigned long long)c->enobufs, (unsigned long long)c->qid_log_lost);
	json_exact(f, s);
	fprintf(f, "}\n");
}

/* The p99 is of the message latency (a whole transaction, from its
 * intended start to its end-of-data reply: the run's main figure in every
 * mode), over the whole run so far; "-" before the first message.  With
 * TLS, the handshakes completed per second over the last interval. */
void bench_report_progress(FILE *f, const struct bench_stats *now, const struct bench_counts *prev, double dt_s,
			   double elapsed_s, bool tls)
{
	const struct bench_counts *c = &now->c;
	const struct hdr_histogram *msg = &now->lat[CLIENT_STEP_MESSAGE];
	uint64_t errors = 0;
	for (unsigned e = 0; e < BENCH_ERR_COUNT; e++)
		errors += c->errors[e];
	char p99[32] = "-";
	if (msg->total_count > 0)
		snprintf(p99, sizeof p99, "%.1f", (double)hdr_value_at_percentile(msg, 99) / NS_PER_US);
	fprintf(f, "\r%8.1f s %9.0f msg/s %11llu messages  p99 message %9s us %7llu errors %7llu open", elapsed_s,
		dt_s > 0 ? (double)(c->messages - prev->messages) / dt_s : 0.0, (unsigned long long)c->messages, p99,
		(unsigned long long)errors, (unsigned long long)c->open_conns);
	if (tls)
		fprintf(f, " %8.0f hs/s", dt_s > 0 ? (double)(c->tls_handshakes - prev->tls_handshakes) / dt_s : 0.0);
	fputs("   ", f);
	fflush(f);
}
