/*
 * io/commit_bell.h - how the shards tell the indexer that messages were
 * committed, without a lock and without a syscall per commit.
 *
 * Owns: one eventfd and one "armed" flag, shared by every shard (ringers)
 * and the indexer thread (the only listener).  The listener arms the bell,
 * then looks at the spool, then sleeps on the eventfd; a shard that has
 * just answered 250 for committed records rings it: only the first ring
 * after an arming writes to the eventfd (an atomic exchange decides which),
 * every other ring is one relaxed load.  No wake-up is lost: a commit that
 * lands before the arming is seen by the look that follows it; one that
 * lands after finds the bell armed and writes.
 * Workload: a ring per committed batch on each shard's hot path (a load of
 * a shared, mostly-unchanged cache line); a write(2) per indexer wake-up.
 */
#ifndef SMTPSINK_COMMIT_BELL_H
#define SMTPSINK_COMMIT_BELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

struct commit_bell {
	int fd; /* eventfd, owned by the listener */
	atomic_bool armed;
};

/* Listener: the next ring writes to the eventfd. */
static inline void commit_bell_arm(struct commit_bell *b)
{
	atomic_store_explicit(&b->armed, true, memory_order_seq_cst);
}

/* Ringer: records were committed.  b may be NULL (no listener). */
static inline void commit_bell_ring(struct commit_bell *b)
{
	if (b == NULL || !atomic_load_explicit(&b->armed, memory_order_relaxed))
		return;
	if (!atomic_exchange_explicit(&b->armed, false, memory_order_seq_cst))
		return; /* another shard rang first */
	uint64_t one = 1;
	ssize_t n = write(b->fd, &one, sizeof one);
	(void)n; /* an eventfd write fails only at a counter near 2^64 */
}

#endif
