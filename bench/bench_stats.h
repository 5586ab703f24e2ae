/*
 * bench/bench_stats.h - what a run measured: counters and one latency
 * histogram per step, mergeable across worker processes.
 *
 * Owns: the counters (messages, transactions, sessions, bytes, replies by
 * code, errors by kind), the per-step histograms (nanoseconds, 1 us to 1 h,
 * 3 significant digits), merging two sets, and a flat binary encoding so a
 * worker can hand its results to the parent through a pipe (histograms
 * sparse: only non-zero counters travel).
 *
 * Does not: print (bench_report.c), or read clocks.  Errors are counted
 * where they are classified: the protocol's in client_proto.c, the
 * socket's in bench_loop.c.
 */
#ifndef SMTPSINK_BENCH_STATS_H
#define SMTPSINK_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "client_proto.h"
#include "hdr_histogram.h"

#define BENCH_LAT_LOWEST_NS 1000ull /* 1 us */
#define BENCH_LAT_HIGHEST_NS 3600000000000ull /* 1 h */
#define BENCH_LAT_SIG_DIGITS 3u
#define BENCH_REPLY_CODES 600u /* codes 100..599 by code; anything else at 0 */
#define BENCH_STEP_BIT(st) (1u << (st))
#define BENCH_STEPS_ALL (BENCH_STEP_BIT(CLIENT_STEP_COUNT) - 1u)
/* The latencies a run shows while it goes (progress line, --prometheus):
 * only these travel in a worker's once-a-second snapshot. */
#define BENCH_STEPS_LIVE                                                               \
	(BENCH_STEP_BIT(CLIENT_STEP_TLS_HANDSHAKE) | BENCH_STEP_BIT(CLIENT_STEP_EOD) | \
	 BENCH_STEP_BIT(CLIENT_STEP_MESSAGE))

enum bench_error {
	BENCH_ERR_CONNECT, /* the connection could not be made */
	BENCH_ERR_TIMEOUT, /* no reply (or connection) within --timeout */
	BENCH_ERR_UNEXPECTED_REPLY, /* a code the step does not want, or a reply nobody asked for */
	BENCH_ERR_MALFORMED_REPLY, /* not an SMTP reply */
	BENCH_ERR_EXTENSION_MISSING, /* the mode needs PIPELINING or CHUNKING */
	BENCH_ERR_CLOSED, /* the server closed before QUIT was answered */
	BENCH_ERR_IO, /* send or receive failed (reset, ...) */
	BENCH_ERR_TLS_HANDSHAKE, /* the TLS handshake failed: an alert, a protocol error, the connection lost */
	BENCH_ERR_COUNT
};

struct bench_counts {
	uint64_t messages; /* end of data answered 250 */
	uint64_t message_bytes;
	uint64_t txn_started, txn_failed;
	uint64_t sessions; /* connections established */
	uint64_t tls_handshakes; /* completed, full or resumed */
	uint64_t tls_resumed; /* of those, resumed from a session ticket */
	uint64_t tls_failed; /* begun and never completed (any reason, timeouts included) */
	uint64_t bytes_sent, bytes_received;
	uint64_t errors[BENCH_ERR_COUNT];
	uint64_t replies[BENCH_REPLY_CODES];
	uint64_t enobufs; /* receive buffers ran out (io_uring) */
	uint64_t loop_turns; /* waits for completions / readiness */
	uint64_t start_ns, end_ns; /* the run's start; the last transaction's end */
	uint64_t cpu_user_us, cpu_sys_us;
	uint64_t qid_log_lost; /* --qid-log lines that could not be written */
	uint64_t open_conns; /* at the time of a progress snapshot */
	/* open loop (bench_loop.c take_msg): merged as maxima, not sums */
	uint64_t sched_last_ns; /* when the last message started */
	uint64_t sched_lag_max_ns; /* the most a message started after its due time */
};

struct bench_stats {
	struct bench_counts c;
	struct hdr_histogram lat[CLIENT_STEP_COUNT];
};

int bench_stats_init(struct bench_stats *s); /* 0 or -ENOMEM */
void bench_stats_fini(struct bench_stats *s);
void bench_stats_reset(struct bench_stats *s); /* all zero, histograms empty */
/* Counters add up; start is the earliest; end, the last message's start
 * and the largest lag are the latest (largest). */
void bench_counts_merge(struct bench_counts *dst, const struct bench_counts *src);
int bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src);

/* Encoding: the counters, then per step in `steps` (a set of
 * BENCH_STEP_BIT()s) the histogram's exact fields and its non-zero (index,
 * count) pairs.  encode returns a malloc'd buffer (NULL: no memory);
 * decode merges the image into s, given the same steps: 0 or -EINVAL.
 * The plain forms carry every step. */
uint8_t *bench_stats_encode_steps(const struct bench_stats *s, uint32_t steps, size_t *len);
int bench_stats_decode_merge_steps(struct bench_stats *s, uint32_t steps, const uint8_t *buf, size_t len);
uint8_t *bench_stats_encode(const struct bench_stats *s, size_t *len);
int bench_stats_decode_merge(struct bench_stats *s, const uint8_t *buf, size_t len);

const char *bench_error_name(enum bench_error e);

#endif
