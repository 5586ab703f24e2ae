/*
 * io/mem_budget.h - the server's budget for bytes held in memory on
 * behalf of clients (--memory-limit).
 *
 * Owns: one process-wide count of the bytes held (message content being
 * captured, input copied out of the receive buffers), compared with the
 * limit.  What a client sends is bounded by it through backpressure, never
 * by a crash or a refusal: a capture that may not grow writes what it has
 * to its spill file and the connection stops reading until that write is
 * done (capture.c), so the sessions that hold the most are the ones that
 * wait.  Every session may hold MEM_BUDGET_FLOOR_BYTES whatever the count
 * says, so an honest small transaction is never starved by big ones.
 *
 * Shards take from the global count in batches (MEM_BUDGET_BATCH_BYTES)
 * into a per-shard reserve, so a message costs no shared atomic in the
 * common case; the count is exact to within shards x 2 batches.
 */
#ifndef SMTPSINK_MEM_BUDGET_H
#define SMTPSINK_MEM_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_BUDGET_BATCH_BYTES (1u << 20)
#define MEM_BUDGET_FLOOR_BYTES (64u * 1024u)

struct mem_budget {
	atomic_int_fast64_t held; /* taken from the limit, all shards */
	int64_t limit;
	atomic_uint_fast64_t refusals; /* takes refused: backpressure applied */
};

/* A shard's side: its reserve, taken from the global count in batches. */
struct mem_local {
	struct mem_budget *global;
	int64_t reserve; /* taken globally, not yet handed out */
	int64_t held; /* handed out to this shard's sessions */
};

void mem_budget_init(struct mem_budget *b, uint64_t limit_bytes);
void mem_local_init(struct mem_local *l, struct mem_budget *b);
/* Give the reserve back (the shard ends). */
void mem_local_fini(struct mem_local *l);

/* Take n bytes for a session that already holds mine bytes: granted
 * within the limit, or while mine + n stays under the floor. */
bool mem_local_take(struct mem_local *l, size_t n, size_t mine);
void mem_local_give(struct mem_local *l, size_t n);
/* Take n bytes whatever the limit says: content already read must be
 * kept (the overshoot is bounded by one read). */
void mem_local_force(struct mem_local *l, size_t n);
/* Would mem_local_take(l, n, mine) grant it now?  (Nothing is taken.) */
bool mem_local_room(const struct mem_local *l, size_t n, size_t mine);

/* Half the limit is held: captures spill early, in small pieces. */
bool mem_local_tight(const struct mem_local *l);

/* The default limit: a quarter of the memory this process may use (the
 * machine's RAM, or its cgroup's limit when that is lower). */
uint64_t mem_budget_default(void);

#endif
