/*
 * io/shard_stats.h - a shard's counters, readable live by other threads
 * without a lock.
 *
 * Owns: the counter block each shard keeps (struct shard_stats), the only
 * way to change it (shard_stats_add, shard_stats_set, shard_stats_observe)
 * and to read it (shard_stats_get), the histograms' fixed buckets, and
 * counting reply codes in bytes written for a client.
 *
 * Single writer: only the shard's own thread changes its block.  Each
 * field is an atomic, changed by a relaxed load and a relaxed store of the
 * new value (not a read-modify-write): on x86-64 and arm64 that is a plain
 * load, add and store, with no lock prefix and no fence, so the hot path
 * costs what a plain counter costs.  A reader in another thread (the HTTP
 * thread's /metrics, the main thread's --stats) loads each field with a
 * relaxed load and never sees a torn value.  Readers sum the shards; a sum
 * is not one instant's (each field is), which counters tolerate.
 * The block starts on a cache line and struct shard is a multiple of one
 * (main.c allocates the shards aligned), so no two shards write one line.
 * Workload: a few adds per message; readers once per scrape or --stats.
 */
#ifndef SMTPSINK_SHARD_STATS_H
#define SMTPSINK_SHARD_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_cmd.h"

#define SHARD_STATS_LINE_BYTES 64u /* a cache line */
#define SHARD_STATS_CODE_MIN 200u /* reply codes counted: 200..599 */
#define SHARD_STATS_CODES 400u
#define SHARD_STATS_BOUNDS 19u /* histogram bucket bounds (the +Inf bucket is one more) */
#define SHARD_STATS_BUCKETS (SHARD_STATS_BOUNDS + 1u)

/* The upper bounds of the histograms' buckets, in microseconds: 1-2.5-5
 * steps from 10 us to 10 s (Prometheus's "le"; a value equal to a bound
 * is in that bucket). */
static const uint32_t shard_stats_bounds_us[SHARD_STATS_BOUNDS] = {
	10,    25,    50,     100,    250,    500,     1000,	2500,	 5000,	   10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* Results of a TLS handshake (the TLS code counts them; tls_handshakes). */
enum shard_stats_tls {
	SHARD_STATS_TLS_OK,
	SHARD_STATS_TLS_FAILED,
	SHARD_STATS_TLS_COUNT,
};

typedef atomic_uint_least64_t shard_stat;

/* Bucket i counts observations in (bound i-1, bound i]; not cumulative. */
struct shard_stats_hist {
	shard_stat bucket[SHARD_STATS_BUCKETS];
	shard_stat sum_us;
};

struct shard_stats {
	_Alignas(SHARD_STATS_LINE_BYTES) shard_stat conns_accepted;
	shard_stat conns_closed; /* freed: conns_accepted - conns_closed are open */
	shard_stat conns_refused; /* over --max-conns */
	shard_stat messages; /* 250 after end of data */
	shard_stat message_bytes;
	shard_stat messages_refused; /* 4xx/5xx after end of data */
	shard_stat recipients; /* of the messages answered 250 */
	shard_stat bytes_in;
	shard_stat timeouts;
	shard_stat enobufs; /* a receive ran out of buffers */
	shard_stat accept_full; /* accept failed: descriptor table full */
	shard_stat loop_turns;
	shard_stat faults; /* fault rule decisions that fired */
	shard_stat outcomes; /* recipient outcomes (tempfail@ ...) */
	shard_stat throttled; /* 421 for a rate limit */
	shard_stat proxy_refused; /* --proxy-from: a peer that is not a trusted proxy */
	shard_stat stress_turns; /* loop turns in stress mode */
	shard_stat spool_bytes; /* gauge: what the spool takes on disk, once a second */
	shard_stat spool_segments; /* gauge: segments, the open one included */
	shard_stat commands[SMTP_VERB_COUNT]; /* command lines by verb */
	shard_stat replies[SHARD_STATS_CODES]; /* reply lines by code, 200..599 */
	shard_stat tls_handshakes[SHARD_STATS_TLS_COUNT];
	shard_stat tls_resumed; /* of the completed ones: resumed from a ticket */
	struct shard_stats_hist tls_handshake; /* start of a handshake to its end, completed ones */
	struct shard_stats_hist eod; /* end of data to its reply */
	struct shard_stats_hist fsync; /* a spool batch's write + fdatasync */
};

/* The owner's add: a relaxed load and store, never a locked instruction. */
static inline void shard_stats_add(shard_stat *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* The owner's store of a gauge. */
static inline void shard_stats_set(shard_stat *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Any thread's read. */
static inline uint64_t shard_stats_get(const shard_stat *c)
{
	return atomic_load_explicit((shard_stat *)c, memory_order_relaxed);
}

/* The bucket an observation of us microseconds falls in. */
static inline unsigned shard_stats_bucket(uint64_t us)
{
	unsigned i = 0;
	while (i < SHARD_STATS_BOUNDS && us > shard_stats_bounds_us[i])
		i++;
	return i;
}

static inline void shard_stats_observe(struct shard_stats_hist *h, uint64_t us)
{
	shard_stats_add(&h->bucket[shard_stats_bucket(us)], 1);
	shard_stats_add(&h->sum_us, us);
}

/* Count the reply lines in bytes a session (or the engine) just wrote for
 * its client: whole lines, so a line starts at p and after each LF; only
 * a last line ("250 ", not "250-") counts, once per reply. */
void shard_stats_count_replies(struct shard_stats *st, const uint8_t *p, size_t n);

/* The q-quantile (0 < q < 1) of a histogram's bucket counts in
 * microseconds, interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile() does; 0 when it is empty.  Past the last bound:
 * the last bound. */
uint64_t shard_stats_quantile_us(const uint64_t bucket[SHARD_STATS_BUCKETS], double q);

#endif
