/*
 * bench/bench_sched.c - the run's message sequence (see bench_sched.h).
 */
#include "bench_sched.h"

#define NS_PER_S 1000000000.0

void bench_sched_init(struct bench_sched *s, uint64_t start_ns, uint32_t worker, uint32_t workers)
{
	s->start_ns = start_ns;
	s->worker = worker;
	s->workers = workers ? workers : 1;
	s->next_k = 0;
	s->stopped = false;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint32_t bench_sched_size(const struct bench_sched *s, uint64_t g)
{
	if (s->size_max <= s->size_min)
		return s->size_min;
	uint64_t span = (uint64_t)s->size_max - s->size_min + 1;
	return s->size_min + (uint32_t)(splitmix64(s->seed ^ g) % span);
}

static uint64_t intended_ns(const struct bench_sched *s, uint64_t g)
{
	return s->start_ns + (uint64_t)((double)g * NS_PER_S / s->rate);
}

/* Past the end whatever the time: count reached, stopped, or (open loop)
 * the next message's intended start is past the duration. */
static bool exhausted(const struct bench_sched *s, uint64_t g)
{
	if (s->stopped || g >= s->total)
		return true;
	return s->rate > 0 && s->duration_ns != 0 && intended_ns(s, g) >= s->start_ns + s->duration_ns;
}

bool bench_sched_done(const struct bench_sched *s, uint64_t now_ns)
{
	uint64_t g = s->next_k * s->workers + s->worker;
	if (exhausted(s, g))
		return true;
	return s->rate <= 0 && s->duration_ns != 0 && now_ns >= s->start_ns + s->duration_ns;
}

uint64_t bench_sched_due_ns(const struct bench_sched *s)
{
	uint64_t g = s->next_k * s->workers + s->worker;
	if (exhausted(s, g))
		return BENCH_SCHED_UNLIMITED;
	return s->rate > 0 ? intended_ns(s, g) : 0;
}

bool bench_sched_rate_reached(double rate, uint64_t started, uint64_t start_ns, uint64_t last_ns, uint64_t lag_max_ns,
			      double *achieved)
{
	double span_s = (last_ns > start_ns ? (double)(last_ns - start_ns) / NS_PER_S : 0.0) + 1.0 / rate;
	*achieved = started > 0 ? (double)started / span_s : 0.0;
	return started > 0 && *achieved >= BENCH_SCHED_RATE_REACHED_FRACTION * rate &&
	       lag_max_ns <= BENCH_SCHED_LAG_MAX_NS;
}

enum client_src bench_sched_next(struct bench_sched *s, uint64_t now_ns, struct client_msg *m)
{
	uint64_t g = s->next_k * s->workers + s->worker;
	if (bench_sched_done(s, now_ns))
		return CLIENT_SRC_DONE;
	uint64_t due = s->rate > 0 ? intended_ns(s, g) : now_ns;
	if (due > now_ns)
		return CLIENT_SRC_WAIT;
	m->seq = g + 1;
	m->intended_ns = due;
	m->size_bytes = bench_sched_size(s, g);
	s->next_k++;
	return CLIENT_SRC_MSG;
}
