/*
 * io/shard.h - one event loop on one CPU, owning everything it touches.
 *
 * Owns: a shard's listeners, backend state (ring or epoll set), receive
 * buffer pool, output buffer free list, connection slab, timer wheel, queue
 * ID generator and counters.  Nothing here is shared between shards except
 * the read-only configuration and the global connection count (an atomic,
 * touched once per connection, never per message), so the hot path takes
 * no lock.  The counters (shard_stats.h) have one writer, the shard, and
 * are read live by other threads.
 */
#ifndef SMTPSINK_SHARD_H
#define SMTPSINK_SHARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "conn.h"
#include "conn_fault.h"
#include "fault_set.h"
#include "free_list.h"
#include "mem_budget.h"
#include "queue_id.h"
#include "server_config.h"
#include "shard_stats.h"
#include "spool.h"
#include "throttle.h"
#include "timer_wheel.h"
#include "trace.h"

/* Receive buffers: count fixed-size buffers in one mapping.  next/len
 * chain the buffers a connection holds (its input queue). */
struct rbuf_pool {
	uint8_t *base;
	uint32_t buf_bytes;
	uint32_t count;
	uint16_t *next;
	uint32_t *len;
	uint16_t *free_stack; /* epoll: buffers not in use */
	uint32_t free_count;
};

struct commit_bell; /* io/commit_bell.h */
struct index_share; /* io/index_share.h */

#define SHARD_MAX 256u /* shards in one server */

/* Process-wide state the shards share: counts, the fault rules in force,
 * rate windows, the transcript file. */
struct server_shared {
	atomic_uint_fast32_t conns; /* live connections, all shards */
	atomic_bool stopping; /* SIGTERM/SIGINT seen */
	int wake_fd; /* eventfd written at SIGTERM: every loop wakes at once */
	uint64_t stop_deadline_s; /* grace ends (monotonic seconds) */
	_Atomic(struct fault_set *) faults; /* replaced on SIGHUP */
	struct throttle msg_rate, conn_rate, client_msg_rate, client_conn_rate;
	struct throttle_conns client_conns; /* --client-max-conns */
	struct trace_sink trace;
	uint64_t seed; /* --seed, or from the clock */
	struct mem_budget mem; /* --memory-limit */
	unsigned shard_count; /* 0: each shard's spool counts alone (tests) */
	struct spool_usage spool_usage[SHARD_MAX]; /* --spool-max-bytes of the whole spool */
	_Atomic(struct commit_bell *) bell; /* the indexer's (io/commit_bell.h), NULL: none */
	/* --exit-after N: messages being stored or stored (at most N), and
	 * those answered 250 (the shard that answers the Nth sends SIGTERM) */
	atomic_uint_fast64_t exit_taken;
	atomic_uint_fast64_t exit_accepted;
	_Atomic(struct index_share *) index; /* the index's disk use (io/index_share.h), NULL: none */
};

struct shard {
	unsigned index;
	int cpu; /* pinned CPU, -1 if not pinned */
	const struct server_config *cfg;
	struct server_shared *shared;
	const struct backend_ops *ops;
	void *backend; /* the backend's own state */
	int listen_fd[SERVER_LISTEN_MAX];
	bool listen_tls[SERVER_LISTEN_MAX]; /* --listen-tls: implicit TLS */
	unsigned listen_count;
	struct ssl_ctx_st *tls_ctx; /* this shard's own SSL_CTX; NULL: no TLS */
	bool accepting;
	struct rbuf_pool rbufs;
	bool rbufs_short; /* a receive found no buffer this turn: reclaim */
	bool stress; /* most of --max-conns in use: timeouts shrink */
	struct free_list outs; /* free output buffers (CONN_OUT_BYTES) */
	struct free_list carries; /* free command-line carries (LINE_SCAN_CARRY_BYTES) */
	struct conn *conn_free; /* free connection structs (slab) */
	struct conn_slab *slabs; /* every chunk the slab allocated, for the end */
	struct conn *live; /* live connections */
	uint32_t live_count;
	struct timer_wheel timers; /* idle timeouts, 1 s ticks */
	struct timer_wheel holds; /* fault delays, 1 ms ticks */
	struct mem_local mem; /* this shard's side of the memory budget */
	struct queue_id_gen qids;
	struct spool spool; /* capture mode (not --discard) */
	uint64_t now_s; /* monotonic, refreshed each loop turn */
	uint64_t mono_us, now_ms; /* the same, finer (session reports, holds) */
	uint64_t wall_us; /* wall clock for queue IDs, each loop turn */
	uint64_t gauges_s; /* the gauges in stats were published this second */
	struct fault_set *faults; /* the rules for this loop turn */
	uint64_t seed; /* --seed (or the clock) */
	uint64_t sessions; /* ordinal of the next session (fault choices) */
	struct conn_fault_texts texts; /* fixed reply texts, built at start */
	struct trace_buf trace; /* transcript lines of this turn */
	struct shard_stats stats; /* a cache line of its own: read by other threads */
	int init_error; /* backend init result, for the main thread */
	atomic_int ready; /* 1 running, -1 init failed, 0 starting */
	pthread_t thread;
};

static inline uint8_t *shard_rbuf(struct shard *sh, uint16_t bid)
{
	return sh->rbufs.base + (size_t)bid * sh->rbufs.buf_bytes;
}

/* Set up pools and listeners (main thread), run the loop (own thread). */
int shard_prepare(struct shard *sh, unsigned index, const struct server_config *cfg, struct server_shared *shared,
		  const struct backend_ops *ops);
int shard_start(struct shard *sh);
int shard_ready(struct shard *sh);
void shard_join(struct shard *sh);
void shard_release(struct shard *sh);

/* Read the clocks into now_s, mono_us, now_ms and wall_us: at the top of
 * each loop turn, and by the backends once their wait is over, so that the
 * completions they deliver see the time they arrived (session reports
 * measure silences with it), not the time the wait began. */
void shard_refresh_clocks(struct shard *sh);

/* Once per loop turn: enter or leave stress mode (most of --max-conns in
 * use: deadlines shrink). */
void shard_check_stress(struct shard *sh);

/* Allocation from the shard's own pools; never fails silently: NULL means
 * the process is out of memory and the caller drops the connection. */
struct conn *shard_conn_alloc(struct shard *sh);
void shard_conn_free(struct shard *sh, struct conn *c);

#endif
