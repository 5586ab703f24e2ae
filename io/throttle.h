/*
 * io/throttle.h - rate limits: 421 beyond N messages or connections per
 * second, in all or from one client address (--msg-rate, --conn-rate,
 * --client-msg-rate, --client-conn-rate); and the limit of concurrent
 * sessions from one client address (--client-max-conns).
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

/* Concurrent sessions per client address: a count per slot of the same
 * hashed table (two addresses in one slot share a count: refused a little
 * early, never late). */
struct throttle_conns {
	uint32_t max; /* 0: off */
	atomic_uint_fast32_t *slots;
};
#define THROTTLE_NO_SLOT 0xFFFFu
int throttle_conns_init(struct throttle_conns *t, uint32_t max);
void throttle_conns_fini(struct throttle_conns *t);
/* A session from this client begins: its slot, to give back at its end,
 * THROTTLE_NO_SLOT when the limit is off, or -1 over the limit. */
int throttle_conns_enter(struct throttle_conns *t, uint8_t family, const uint8_t *addr);
void throttle_conns_leave(struct throttle_conns *t, int slot);

#endif
