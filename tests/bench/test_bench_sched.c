/*
 * tests/bench/test_bench_sched.c - bench/bench_sched.c: the run's message
 * sequence.
 *
 * Checks: closed loop, any number of workers: every sequence number
 * 1..N is given exactly once, to worker (seq-1) % W; open loop: message g
 * is due at start + g/R exactly, WAIT before, every intended start lies in
 * [start, start + duration), and R * D messages in all (at duration
 * boundaries -1, 0, +1 message); closed loop with a duration stops at it;
 * sizes are deterministic, within MIN-MAX, and reach both ends; stopped
 * means DONE; the open-loop rate check: on time is exactly R, and it is
 * reached just inside 95 % of R and at a 1 s lag, not a microsecond or a
 * nanosecond past either, nor with nothing started.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"

#include "bench_sched.h"

#define NS 1000000000ull

static void init(struct bench_sched *s, uint32_t w, uint32_t n, uint64_t total, double rate, uint64_t dur_ns)
{
	memset(s, 0, sizeof *s);
	bench_sched_init(s, 1000, w, n);
	s->total = total;
	s->rate = rate;
	s->duration_ns = dur_ns;
	s->size_min = s->size_max = 1000;
}

static void test_closed(void)
{
	const uint64_t total = 1000;
	for (uint32_t workers = 1; workers <= 7; workers++) {
		unsigned char *seen = calloc(total + 2, 1);
		for (uint32_t w = 0; w < workers; w++) {
			struct bench_sched s;
			init(&s, w, workers, total, 0, 0);
			struct client_msg m;
			while (bench_sched_next(&s, 5000, &m) == CLIENT_SRC_MSG) {
				CHECK(m.seq >= 1 && m.seq <= total && (m.seq - 1) % workers == w,
				      "seq %llu worker %u/%u", (unsigned long long)m.seq, w, workers);
				CHECK(m.intended_ns == 5000, "closed loop: intended is now");
				seen[m.seq]++;
			}
			CHECK(bench_sched_done(&s, 5000) && bench_sched_due_ns(&s) == BENCH_SCHED_UNLIMITED, "done");
		}
		for (uint64_t q = 1; q <= total; q++)
			CHECK(seen[q] == 1, "workers %u: seq %llu seen %u times", workers, (unsigned long long)q,
			      seen[q]);
		free(seen);
	}
	struct bench_sched s;
	init(&s, 0, 1, BENCH_SCHED_UNLIMITED, 0, 2 * NS);
	struct client_msg m;
	CHECK(bench_sched_next(&s, 1000 + 2 * NS - 1, &m) == CLIENT_SRC_MSG, "before the duration");
	CHECK(bench_sched_next(&s, 1000 + 2 * NS, &m) == CLIENT_SRC_DONE, "at the duration");
	init(&s, 0, 1, 10, 0, 0);
	s.stopped = true;
	CHECK(bench_sched_next(&s, 2000, &m) == CLIENT_SRC_DONE, "stopped");
}

/* Open loop at rate, duration: count the messages and check their times. */
static void open_loop(double rate, uint64_t dur_ns, uint32_t workers, uint64_t want)
{
	uint64_t count = 0;
	for (uint32_t w = 0; w < workers; w++) {
		struct bench_sched s;
		init(&s, w, workers, BENCH_SCHED_UNLIMITED, rate, dur_ns);
		struct client_msg m;
		for (;;) {
			uint64_t due = bench_sched_due_ns(&s);
			if (due == BENCH_SCHED_UNLIMITED)
				break;
			CHECK(bench_sched_next(&s, due - 1, &m) == CLIENT_SRC_WAIT, "WAIT before due");
			CHECK(bench_sched_next(&s, due + 5, &m) == CLIENT_SRC_MSG, "MSG once due");
			uint64_t g = m.seq - 1;
			uint64_t exact = 1000 + (uint64_t)((double)g * 1e9 / rate);
			CHECK(m.intended_ns == exact && m.intended_ns == due, "intended of %llu",
			      (unsigned long long)g);
			CHECK(m.intended_ns >= 1000 && m.intended_ns < 1000 + dur_ns, "inside the duration");
			count++;
		}
		CHECK(bench_sched_next(&s, UINT64_MAX / 2, &m) == CLIENT_SRC_DONE, "done after the duration");
	}
	CHECK(count == want, "rate %g for %llu ns, %u workers: %llu messages, want %llu", rate,
	      (unsigned long long)dur_ns, workers, (unsigned long long)count, (unsigned long long)want);
}

static void test_open(void)
{
	for (uint32_t workers = 1; workers <= 4; workers++) {
		open_loop(2000, 5 * NS, workers, 10000);
		open_loop(2000, 5 * NS - 1, workers, 10000); /* message 9999 is due at 4.9995 s */
		open_loop(2000, 5 * NS + 500000, workers, 10001);
		open_loop(2000, 5 * NS + 500001, workers, 10002);
		open_loop(3, NS, workers, 3);
	}
	struct bench_sched s;
	init(&s, 0, 1, 7, 1e6, 0); /* --messages with --rate */
	struct client_msg m;
	uint64_t n = 0;
	while (bench_sched_next(&s, UINT64_MAX / 2, &m) == CLIENT_SRC_MSG)
		n++;
	CHECK(n == 7, "7 messages at a rate: %llu", (unsigned long long)n);
}

static void test_sizes(void)
{
	struct bench_sched s;
	init(&s, 0, 1, 100000, 0, 0);
	s.size_min = 10;
	s.size_max = 20;
	s.seed = 3;
	bool lo = false, hi = false;
	for (uint64_t g = 0; g < 10000; g++) {
		uint32_t z = bench_sched_size(&s, g);
		CHECK(z >= 10 && z <= 20 && z == bench_sched_size(&s, g), "size %u", z);
		lo |= z == 10;
		hi |= z == 20;
	}
	CHECK(lo && hi, "both ends reached");
	s.size_max = 10;
	CHECK(bench_sched_size(&s, 5) == 10, "fixed size");
}

/* 1000 messages at 100/s: on time the last starts 9.99 s after the first. */
static void test_rate_reached(void)
{
	const double rate = 100;
	const uint64_t start = 5 * NS, on_time = start + 999 * NS / 100;
	double a = 0;
	CHECK(bench_sched_rate_reached(rate, 1000, start, on_time, 0, &a) && a > 99.999 && a < 100.001, "on time: %f",
	      a);
	/* 95 % of 100/s for 1000 messages is a span of 1000/95 s: 10.526... */
	uint64_t limit = start + (uint64_t)(1000.0 / 95.0 * 1e9) - NS / 100;
	CHECK(bench_sched_rate_reached(rate, 1000, start, limit - 1000, 0, &a), "just inside 95 %%: %f", a);
	CHECK(!bench_sched_rate_reached(rate, 1000, start, limit + 1000, 0, &a) && a < 95, "just below: %f", a);
	CHECK(bench_sched_rate_reached(rate, 1000, start, on_time, NS, &a), "lag 1 s");
	CHECK(!bench_sched_rate_reached(rate, 1000, start, on_time, NS + 1, &a), "lag 1 s + 1 ns");
	CHECK(!bench_sched_rate_reached(rate, 0, start, start, 0, &a) && a == 0, "nothing started");
	CHECK(bench_sched_rate_reached(rate, 1, start, start, 0, &a) && a > 99.999 && a < 100.001, "one: %f", a);
}

int main(void)
{
	test_closed();
	test_open();
	test_sizes();
	test_rate_reached();
	return bench_check_finish("test_bench_sched");
}
