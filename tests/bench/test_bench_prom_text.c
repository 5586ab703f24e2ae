/*
 * tests/bench/test_bench_prom_text.c - bench/bench_prom_text.c: the
 * --prometheus exposition.
 *
 * Checks: counters and gauges carry the stats' figures under their names;
 * replies are labelled by code ("other" for code 0), errors by kind, all
 * kinds present; histogram buckets are cumulative counts equal to a naive
 * count of the recorded values (none within a bound's 0.1 % equivalence
 * range above it), +Inf and _count are the total, _sum is in seconds; every sample
 * line belongs to a family announced by HELP then TYPE, every name starts
 * with smtpsink_bench_ and every counter ends in _total; running 0/1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "bench_prom_text.h"

#define VALUES 1000u

static char *render(const struct bench_stats *s, bool running, double rate)
{
	struct bench_prom_snap snap;
	bench_prom_snap_fill(&snap, s, running);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(bench_prom_write(f, &snap, rate) == 0, "write");
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* Every sample after its family's HELP and TYPE; names and suffixes. */
static void check_structure(char *text)
{
	char family[128] = "", type[32] = "";
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		if (sscanf(line, "# HELP %127s", name) == 1) {
			snprintf(family, sizeof family, "%s", name);
			type[0] = '\0';
			continue;
		}
		if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
			CHECK(strcmp(name, family) == 0, "TYPE %s after HELP %s", name, family);
			CHECK(strcmp(type, "counter") != 0 || strstr(name, "_total") == name + strlen(name) - 6,
			      "counter %s without _total", name);
			continue;
		}
		CHECK(strncmp(line, "smtpsink_bench_", 15) == 0, "name of %s", line);
		CHECK(type[0] != '\0' && strncmp(line, family, strlen(family)) == 0, "%s outside family %s", line,
		      family);
	}
}

int main(void)
{
	struct bench_stats s;
	bench_stats_init(&s);
	s.c.txn_started = 12;
	s.c.messages = 10;
	s.c.txn_failed = 2;
	s.c.message_bytes = 12345;
	s.c.sessions = 3;
	s.c.open_conns = 2;
	s.c.replies[250] = 40;
	s.c.replies[0] = 1;
	s.c.errors[BENCH_ERR_TIMEOUT] = 7;
	s.c.sched_lag_max_ns = 1500000000;
	s.c.tls_handshakes = 9; /* 4 resumed, so 5 full */
	s.c.tls_resumed = 4;
	s.c.tls_failed = 1;
	s.c.errors[BENCH_ERR_TLS_HANDSHAKE] = 1;
	uint64_t naive_1ms = 0, naive_10s = 0;
	for (unsigned i = 0; i < VALUES; i++) {
		uint64_t v = 50000 + (uint64_t)i * i * 13000; /* 50 us .. 13 s */
		hdr_record(&s.lat[CLIENT_STEP_MESSAGE], v);
		naive_1ms += v <= 1000000; /* none within 0.1 % above either bound */
		naive_10s += v <= 10000000000ull;
	}
	hdr_record(&s.lat[CLIENT_STEP_EOD], 2000000); /* 2 ms */
	hdr_record(&s.lat[CLIENT_STEP_TLS_HANDSHAKE], 400000); /* 400 us */
	hdr_record(&s.lat[CLIENT_STEP_TLS_HANDSHAKE], 3000000); /* 3 ms */
	char *text = render(&s, true, 250);
	CHECK(has_line(text, "smtpsink_bench_running 1"), "running");
	CHECK(has_line(text, "smtpsink_bench_target_rate_messages_per_second 250"), "rate");
	CHECK(has_line(text, "smtpsink_bench_messages_sent_total 12"), "sent");
	CHECK(has_line(text, "smtpsink_bench_messages_accepted_total 10"), "accepted");
	CHECK(has_line(text, "smtpsink_bench_messages_failed_total 2"), "failed");
	CHECK(has_line(text, "smtpsink_bench_message_bytes_total 12345"), "bytes");
	CHECK(has_line(text, "smtpsink_bench_connections_total 3"), "connections");
	CHECK(has_line(text, "smtpsink_bench_connections_open 2"), "open");
	CHECK(has_line(text, "smtpsink_bench_schedule_lag_max_seconds 1.500000000"), "lag");
	CHECK(has_line(text, "smtpsink_bench_replies_total{code=\"250\"} 40"), "250");
	CHECK(has_line(text, "smtpsink_bench_replies_total{code=\"other\"} 1"), "other");
	CHECK(strstr(text, "code=\"354\"") == NULL, "no unseen codes");
	CHECK(has_line(text, "smtpsink_bench_errors_total{kind=\"timeout\"} 7"), "timeout");
	CHECK(has_line(text, "smtpsink_bench_errors_total{kind=\"io_error\"} 0"), "every kind");
	char want[160];
	snprintf(want, sizeof want, "smtpsink_bench_message_seconds_bucket{le=\"0.001\"} %llu",
		 (unsigned long long)naive_1ms);
	CHECK(has_line(text, want), "%s", want);
	snprintf(want, sizeof want, "smtpsink_bench_message_seconds_bucket{le=\"10\"} %llu",
		 (unsigned long long)naive_10s);
	CHECK(has_line(text, want), "%s", want);
	CHECK(has_line(text, "smtpsink_bench_message_seconds_bucket{le=\"+Inf\"} 1000"), "+Inf");
	CHECK(has_line(text, "smtpsink_bench_message_seconds_count 1000"), "count");
	CHECK(has_line(text, "smtpsink_bench_end_of_data_seconds_bucket{le=\"0.001\"} 0") &&
		      has_line(text, "smtpsink_bench_end_of_data_seconds_bucket{le=\"0.0025\"} 1") &&
		      has_line(text, "smtpsink_bench_end_of_data_seconds_sum 0.002000000"),
	      "end of data");
	CHECK(has_line(text, "smtpsink_bench_tls_handshakes_total{result=\"ok\"} 5") &&
		      has_line(text, "smtpsink_bench_tls_handshakes_total{result=\"resumed\"} 4") &&
		      has_line(text, "smtpsink_bench_tls_handshakes_total{result=\"failed\"} 1"),
	      "tls handshakes");
	CHECK(has_line(text, "smtpsink_bench_errors_total{kind=\"tls_handshake\"} 1"), "tls_handshake kind");
	CHECK(has_line(text, "smtpsink_bench_tls_handshake_seconds_bucket{le=\"0.00025\"} 0") &&
		      has_line(text, "smtpsink_bench_tls_handshake_seconds_bucket{le=\"0.0005\"} 1") &&
		      has_line(text, "smtpsink_bench_tls_handshake_seconds_bucket{le=\"0.005\"} 2") &&
		      has_line(text, "smtpsink_bench_tls_handshake_seconds_count 2"),
	      "tls handshake histogram");
	check_structure(text);
	free(text);
	text = render(&s, false, 0);
	CHECK(has_line(text, "smtpsink_bench_running 0") &&
		      has_line(text, "smtpsink_bench_target_rate_messages_per_second 0"),
	      "final, closed loop");
	free(text);
	bench_stats_fini(&s);
	return bench_check_finish("test_bench_prom_text");
}
