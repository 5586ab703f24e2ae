/*
 * io/throttle.h - rate limits: 421 beyond N messages or connections per
 * second, in all or from one client address (--msg-rate, --conn-rate,
 * --client-msg-rate, --client-conn-rate).
 *
 * Owns: per-second counting windows shared by all shards without a lock:
 * each window is one atomic word (second << 32 | count) updated by
 * compare-and-swap.  Per-client windows sit in a fixed table indexed by a
 * hash of the address, so memory is bounded whatever the number of
 * clients; two addresses that share a slot share a budget (with thousands
 * of active clients some are throttled a little early, never late).  The
 * work is done only when a limit is set.
 */
#ifndef SMTPSINK_THROTTLE_H
#define SMTPSINK_THROTTLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define THROTTLE_CLIENT_SLOTS 4096u

struct throttle {
	uint32_t limit; /* per second; 0: off */
	bool per_client;
	atomic_uint_fast64_t all;
	atomic_uint_fast64_t *slots; /* per_client: THROTTLE_CLIENT_SLOTS */
};

/* 0, or -ENOMEM. */
int throttle_init(struct throttle *t, uint32_t limit, bool per_client);
void throttle_fini(struct throttle *t);

/* Count one event at second now_s for the client (family 4/6/0, addr);
 * false if it is over the limit (the caller says 421). */
bool throttle_admit(struct throttle *t, uint64_t now_s, uint8_t family, const uint8_t *addr);

#endif
