/*
 * bench/bench_sched.h - which message to send next, and when: closed loop
 * or open loop at a constant arrival rate, split over worker processes.
 *
 * Owns: the arithmetic of the run's message sequence.  Message g (0, 1, 2,
 * ... over the whole run) belongs to worker g % workers and has sequence
 * number g + 1.  Closed loop: a message starts as soon as a session is
 * ready for it; its latency counts from then.  Open loop (rate R): message
 * g is due at start + g / R whatever happens to earlier ones, and its
 * latency counts from that intended start, so a slow server cannot hide
 * its slowness by slowing the generator down (no coordinated omission).
 * Workers interleave: together they keep exactly the global schedule.
 * A message's size (--size MIN-MAX) is a hash of (seed, g): the same run
 * sends the same sizes whatever the timing.
 *
 * Does not: read clocks (now is passed in), or know about connections.
 */
#ifndef SMTPSINK_BENCH_SCHED_H
#define SMTPSINK_BENCH_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "client_proto.h"

#define BENCH_SCHED_UNLIMITED UINT64_MAX
/* Open loop: the rate counts as reached when the messages started came at
 * least this fraction of R a second over the run, and none started more
 * than BENCH_SCHED_LAG_MAX_NS after its due time. */
#define BENCH_SCHED_RATE_REACHED_FRACTION 0.95
#define BENCH_SCHED_LAG_MAX_NS 1000000000ull /* 1 s */

struct bench_sched {
	uint64_t start_ns;
	uint64_t total; /* messages in the whole run; BENCH_SCHED_UNLIMITED: until duration_ns */
	uint64_t duration_ns; /* 0: no time limit */
	double rate; /* messages/s for the whole run; 0: closed loop */
	uint32_t worker, workers;
	uint32_t size_min, size_max;
	uint64_t seed;
	uint64_t next_k; /* this worker's next message is g = next_k * workers + worker */
	bool stopped; /* no more messages (interrupted) */
};

void bench_sched_init(struct bench_sched *s, uint64_t start_ns, uint32_t worker, uint32_t workers);
/* The next message for a ready session: CLIENT_SRC_MSG (m filled),
 * CLIENT_SRC_WAIT (open loop: not due yet) or CLIENT_SRC_DONE. */
enum client_src bench_sched_next(struct bench_sched *s, uint64_t now_ns, struct client_msg *m);
/* When the next message is due; 0 if one is due whenever asked (closed
 * loop), BENCH_SCHED_UNLIMITED if none will come. */
uint64_t bench_sched_due_ns(const struct bench_sched *s);
/* No message will ever be given again (at or after now_ns). */
bool bench_sched_done(const struct bench_sched *s, uint64_t now_ns);
uint32_t bench_sched_size(const struct bench_sched *s, uint64_t g);

/* Did an open loop at `rate` offer it?  started messages, the first due at
 * start_ns, the last started at last_ns, the latest lag_max_ns after its
 * due time.  *achieved: started / (last_ns - start_ns + 1/rate), the rate
 * offered (exactly rate when every message starts on time). */
bool bench_sched_rate_reached(double rate, uint64_t started, uint64_t start_ns, uint64_t last_ns, uint64_t lag_max_ns,
			      double *achieved);

#endif
