/*
 * tests/io/test_metrics.c - the Prometheus text writer (io/prom_text.c),
 * histogram bucketing and quantiles and reply counting
 * (io/shard_stats.c), the exposition of shards' counters (io/metrics.c)
 * and the --stats line (io/stats_line.c), without a running server.
 *
 * Owns: label and HELP escaping, seconds written exactly from
 * microseconds, cumulative buckets with _sum and _count, every bucket
 * bound at bound-1, bound and bound+1, the quantile against a naive
 * reference, reply lines counted once per reply whatever their split into
 * lines, and what a scrape of two fake shards says.
 *
 * Workload: a few thousand cheap checks.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "prom_text.h"
#include "session_harness.h"
#include "shard.h"
#include "stats_line.h"

static bool has(const char *text, const char *line)
{
	return strstr(text, line) != NULL;
}

static void test_text(void)
{
	struct prom_text t = { 0 };
	prom_text_family(&t, "x_total", "counter", "a \\ b\nc");
	prom_text_sample(&t, "x_total", "rule", "say \"hi\" \\ now\n", 7);
	prom_text_sample(&t, "x_total", NULL, NULL, 18446744073709551615ull);
	prom_text_sample_n(&t, "x_total", "shard", 3, 0);
	size_t len;
	char *p = prom_text_take(&t, &len);
	CHECK(p != NULL);
	CHECK_STR(p, len,
		  "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n"
		  "x_total{rule=\"say \\\"hi\\\" \\\\ now\\n\"} 7\n"
		  "x_total 18446744073709551615\nx_total{shard=\"3\"} 0\n");
	free(p);
	CHECK(t.p == NULL && t.len == 0);
	p = prom_text_take(&t, &len); /* nothing written: an empty text */
	CHECK(p != NULL && len == 0 && p[0] == '\0');
	free(p);
}

static void test_seconds(void)
{
	static const struct {
		uint64_t us;
		const char *text;
	} rows[] = {
		{ 0, "0" },
		{ 1, "0.000001" },
		{ 10, "0.00001" },
		{ 25, "0.000025" },
		{ 1000, "0.001" },
		{ 1000000, "1" },
		{ 2500000, "2.5" },
		{ 12345678, "12.345678" },
		{ 10000000, "10" },
		{ 1000001, "1.000001" },
		{ UINT64_MAX, "18446744073709.551615" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char buf[PROM_TEXT_US_BYTES];
		prom_text_seconds(buf, rows[i].us);
		CHECK_STR(buf, strlen(buf), rows[i].text);
	}
}

static void test_histogram_text(void)
{
	static const uint32_t bounds[2] = { 10, 2500000 };
	const uint64_t bucket[3] = { 1, 2, 3 };
	struct prom_text t = { 0 };
	prom_text_histogram(&t, "h_seconds", bounds, 2, bucket, 2500010);
	size_t len;
	char *p = prom_text_take(&t, &len);
	CHECK_STR(p, len,
		  "h_seconds_bucket{le=\"0.00001\"} 1\nh_seconds_bucket{le=\"2.5\"} 3\n"
		  "h_seconds_bucket{le=\"+Inf\"} 6\nh_seconds_sum 2.50001\nh_seconds_count 6\n");
	free(p);
}

/* Each bound at bound-1, bound (both in its bucket) and bound+1 (the
 * next); past the last: the +Inf bucket. */
static void test_buckets(void)
{
	for (unsigned i = 0; i < SHARD_STATS_BOUNDS; i++) {
		uint64_t b = shard_stats_bounds_us[i];
		CHECK_U64(shard_stats_bucket(b - 1), i);
		CHECK_U64(shard_stats_bucket(b), i);
		CHECK_U64(shard_stats_bucket(b + 1), i + 1);
		CHECK(i == 0 || shard_stats_bounds_us[i - 1] < b);
	}
	CHECK_U64(shard_stats_bucket(0), 0);
	CHECK_U64(shard_stats_bucket(UINT64_MAX), SHARD_STATS_BOUNDS);
	struct shard_stats_hist h;
	memset(&h, 0, sizeof h);
	shard_stats_observe(&h, 3000);
	shard_stats_observe(&h, 3000);
	shard_stats_observe(&h, 20000000);
	CHECK_U64(shard_stats_get(&h.bucket[shard_stats_bucket(3000)]), 2);
	CHECK_U64(shard_stats_get(&h.bucket[SHARD_STATS_BOUNDS]), 1);
	CHECK_U64(shard_stats_get(&h.sum_us), 20006000);
}

/* The quantile against a naive reference: the bucket holding the
 * ceil(q * n)-th observation, interpolated inside it. */
static void test_quantile(void)
{
	uint64_t b[SHARD_STATS_BUCKETS] = { 0 };
	CHECK_U64(shard_stats_quantile_us(b, 0.99), 0);
	b[shard_stats_bucket(3000)] = 100; /* all in (2500, 5000] */
	CHECK_U64(shard_stats_quantile_us(b, 0.5), 3750);
	CHECK_U64(shard_stats_quantile_us(b, 0.99), 4975);
	b[0] = 900; /* 900 in [0, 10], 100 in (2500, 5000]: the p99 is in the second */
	CHECK_U64(shard_stats_quantile_us(b, 0.99), 2500 + 2500 * 90 / 100);
	CHECK_U64(shard_stats_quantile_us(b, 0.5), 5);
	memset(b, 0, sizeof b);
	b[SHARD_STATS_BOUNDS] = 5; /* past every bound: the last bound */
	CHECK_U64(shard_stats_quantile_us(b, 0.99), shard_stats_bounds_us[SHARD_STATS_BOUNDS - 1]);
	struct harness_rng g;
	harness_rng_seed(&g, 15);
	for (int round = 0; round < 200; round++) {
		for (unsigned i = 0; i < SHARD_STATS_BUCKETS; i++)
			b[i] = harness_rng_next(&g) % 4 == 0 ? harness_rng_next(&g) % 50 : 0;
		uint64_t n = 0, seen = 0;
		for (unsigned i = 0; i < SHARD_STATS_BUCKETS; i++)
			n += b[i];
		uint64_t want = 0, rank = (99 * n + 99) / 100, got = shard_stats_quantile_us(b, 0.99);
		for (unsigned i = 0; n > 0 && i < SHARD_STATS_BUCKETS; i++) {
			seen += b[i];
			if (seen >= rank) {
				want = i;
				break;
			}
		}
		if (n == 0)
			CHECK_U64(got, 0);
		else if (want == SHARD_STATS_BOUNDS)
			CHECK_U64(got, shard_stats_bounds_us[SHARD_STATS_BOUNDS - 1]);
		else
			CHECK(got <= shard_stats_bounds_us[want] &&
			      (want == 0 || got >= shard_stats_bounds_us[want - 1]));
	}
}

static uint64_t replies(const struct shard_stats *st, unsigned code)
{
	return shard_stats_get(&st->replies[code - SHARD_STATS_CODE_MIN]);
}

static void test_count_replies(void)
{
	static struct shard_stats st;
	const char *out = "250-smtp.example\r\n250-PIPELINING\r\n250 SIZE\r\n354 End data\r\n"
			  "599 x\r\n199 too low\r\n600 too high\r\n25 short\r\nab0 no\r\n421 4.7.0 bye\r\n250 Ok";
	shard_stats_count_replies(&st, (const uint8_t *)out, strlen(out));
	CHECK_U64(replies(&st, 250), 2); /* the EHLO reply once, and the last line without its CRLF */
	CHECK_U64(replies(&st, 354), 1);
	CHECK_U64(replies(&st, 599), 1);
	CHECK_U64(replies(&st, 421), 1);
	uint64_t all = 0;
	for (unsigned c = 0; c < SHARD_STATS_CODES; c++)
		all += shard_stats_get(&st.replies[c]);
	CHECK_U64(all, 5);
	shard_stats_count_replies(&st, (const uint8_t *)"250", 3); /* no room for the separator */
	CHECK_U64(replies(&st, 250), 2);
}

/* Two fake shards: what a scrape shows. */
static void test_expose(void)
{
	static struct shard sh[2];
	shard_stats_add(&sh[0].stats.conns_accepted, 5);
	shard_stats_add(&sh[0].stats.conns_closed, 3);
	shard_stats_add(&sh[1].stats.messages, 7);
	shard_stats_add(&sh[0].stats.commands[SMTP_VERB_MAIL], 4);
	shard_stats_add(&sh[1].stats.commands[SMTP_VERB_MAIL], 6);
	shard_stats_add(&sh[1].stats.replies[250 - SHARD_STATS_CODE_MIN], 9);
	shard_stats_observe(&sh[0].stats.eod, 3000);
	shard_stats_observe(&sh[1].stats.eod, 3000);
	shard_stats_observe(&sh[1].stats.fsync, 7);
	shard_stats_set(&sh[1].stats.spool_segments, 2);
	struct metrics_src src = { sh, 2, NULL };
	size_t len;
	char *p = metrics_expose(&src, &len);
	CHECK(p != NULL && strlen(p) == len);
	CHECK(has(p, "# TYPE smtpsink_connections_total counter\nsmtpsink_connections_total{shard=\"0\"} 5\n"
		     "smtpsink_connections_total{shard=\"1\"} 0\n"));
	CHECK(has(p, "\nsmtpsink_sessions_open{shard=\"0\"} 2\n"));
	CHECK(has(p, "\nsmtpsink_messages_accepted_total{shard=\"1\"} 7\n"));
	CHECK(has(p, "\nsmtpsink_commands_total{verb=\"MAIL\"} 10\n"));
	CHECK(has(p, "\nsmtpsink_commands_total{verb=\"AUTH-RESPONSE\"} 0\n"));
	CHECK(has(p, "# TYPE smtpsink_replies_total counter\nsmtpsink_replies_total{code=\"250\"} 9\n# HELP"));
	CHECK(has(p, "\nsmtpsink_tls_handshakes_total{result=\"ok\"} 0\n"));
	CHECK(has(p, "# TYPE smtpsink_faults_fired_total counter\n# HELP"));
	CHECK(has(p, "\nsmtpsink_end_of_data_to_reply_seconds_bucket{le=\"0.0025\"} 0\n"
		     "smtpsink_end_of_data_to_reply_seconds_bucket{le=\"0.005\"} 2\n"));
	CHECK(has(p, "\nsmtpsink_end_of_data_to_reply_seconds_sum 0.006\n"
		     "smtpsink_end_of_data_to_reply_seconds_count 2\n"));
	CHECK(has(p, "\nsmtpsink_fsync_seconds_bucket{le=\"0.00001\"} 1\n"));
	CHECK(has(p, "\nsmtpsink_spool_segments{shard=\"1\"} 2\n"));
	/* every family has HELP then TYPE, each once */
	CHECK(has(p, "# HELP smtpsink_fsync_seconds ") && has(p, "# TYPE smtpsink_fsync_seconds histogram\n"));
	free(p);
	struct http_smtp_counts c;
	metrics_smtp_counts(&src, &c);
	CHECK_U64(c.accepted, 7);
	CHECK_U64(c.rejected, 0);
}

static void test_stats_line(void)
{
	static struct metrics_totals a, b;
	b.conns = 30;
	b.conns_closed = 10;
	b.messages = 200;
	b.replies[250 - SHARD_STATS_CODE_MIN] = 600;
	b.replies[354 - SHARD_STATS_CODE_MIN] = 200;
	b.replies[451 - SHARD_STATS_CODE_MIN] = 3;
	b.replies[550 - SHARD_STATS_CODE_MIN] = 4;
	b.eod[shard_stats_bucket(3000)] = 200;
	a.conns = 10;
	a.messages = 100;
	a.replies[250 - SHARD_STATS_CODE_MIN] = 300;
	a.eod[shard_stats_bucket(3000)] = 100;
	char line[STATS_LINE_BYTES];
	stats_line_interval(line, sizeof line, &a, &b, 2000, 12000);
	CHECK_STR(line, strlen(line),
		  "smtpsink: stats 12.0s: 10.0 conn/s, 50.0 msg/s, 20 open, replies 2xx=300 3xx=200 4xx=3 5xx=4,"
		  " p99 end-of-data 4.975 ms\n");
	stats_line_interval(line, sizeof line, &b, &b, 1000, 13000);
	CHECK_STR(line, strlen(line),
		  "smtpsink: stats 13.0s: 0.0 conn/s, 0.0 msg/s, 20 open, replies 2xx=0 3xx=0 4xx=0 5xx=0,"
		  " p99 end-of-data -\n");
	stats_line_total(line, sizeof line, &b, 4000);
	CHECK_STR(line, strlen(line),
		  "smtpsink: stats total 4.0s: 30 connections, 200 messages (50.0 msg/s), replies 2xx=600 3xx=200"
		  " 4xx=3 5xx=4, p99 end-of-data 4.975 ms\n");
}

int main(void)
{
	test_text();
	test_seconds();
	test_histogram_text();
	test_buckets();
	test_quantile();
	test_count_replies();
	test_expose();
	test_stats_line();
	return harness_finish("test_metrics");
}
