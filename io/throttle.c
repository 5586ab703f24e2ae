/*
 * io/throttle.c - per-second rate windows (see throttle.h).
 */
#include "throttle.h"

#include <errno.h>
#include <stdlib.h>

int throttle_init(struct throttle *t, uint32_t limit, bool per_client)
{
	t->limit = limit;
	t->per_client = per_client;
	atomic_init(&t->all, 0);
	t->slots = NULL;
	if (limit != 0 && per_client) {
		t->slots = calloc(THROTTLE_CLIENT_SLOTS, sizeof *t->slots);
		if (t->slots == NULL)
			return -ENOMEM;
	}
	return 0;
}

void throttle_fini(struct throttle *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* One window: count this event in second now; false past the limit. */
static bool window_admit(atomic_uint_fast64_t *w, uint64_t now, uint32_t limit)
{
	uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
	for (;;) {
		uint64_t count = (old >> 32) == (now & 0xFFFFFFFFu) ? (old & 0xFFFFFFFFu) : 0;
		if (count >= limit)
			return false;
		uint64_t next = ((now & 0xFFFFFFFFu) << 32) | (count + 1);
		if (atomic_compare_exchange_weak_explicit(w, &old, next, memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

/* FNV-1a over the address bytes. */
static uint32_t addr_hash(uint8_t family, const uint8_t *addr)
{
	uint32_t h = 2166136261u ^ family;
	size_t n = family == 4 ? 4 : family == 6 ? 16 : 0;
	for (size_t i = 0; i < n; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

bool throttle_admit(struct throttle *t, uint64_t now_s, uint8_t family, const uint8_t *addr)
{
	if (t->limit == 0)
		return true;
	if (!t->per_client)
		return window_admit(&t->all, now_s, t->limit);
	return window_admit(&t->slots[addr_hash(family, addr) % THROTTLE_CLIENT_SLOTS], now_s, t->limit);
}

int throttle_conns_init(struct throttle_conns *t, uint32_t max)
{
	t->max = max;
	t->slots = NULL;
	if (max != 0 && (t->slots = calloc(THROTTLE_CLIENT_SLOTS, sizeof *t->slots)) == NULL)
		return -ENOMEM;
	return 0;
}

void throttle_conns_fini(struct throttle_conns *t)
{
	free(t->slots);
	t->slots = NULL;
}

int throttle_conns_enter(struct throttle_conns *t, uint8_t family, const uint8_t *addr)
{
	if (t->max == 0)
		return THROTTLE_NO_SLOT;
	int slot = (int)(addr_hash(family, addr) % THROTTLE_CLIENT_SLOTS);
	if (atomic_fetch_add_explicit(&t->slots[slot], 1, memory_order_relaxed) >= t->max) {
		atomic_fetch_sub_explicit(&t->slots[slot], 1, memory_order_relaxed);
		return -1;
	}
	return slot;
}

void throttle_conns_leave(struct throttle_conns *t, int slot)
{
	if (slot >= 0 && slot != THROTTLE_NO_SLOT && t->slots != NULL)
		atomic_fetch_sub_explicit(&t->slots[slot], 1, memory_order_relaxed);
}
