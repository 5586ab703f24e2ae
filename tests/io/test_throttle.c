/*
 * tests/io/test_throttle.c - per-second rate windows (io/throttle.c).
 *
 * Owns: a limit of N admits exactly N in one second (limit-1, limit,
 * limit+1) and admits again in the next; per-client windows give two
 * addresses in different slots separate budgets (IPv4, IPv6, and the same
 * bytes under another family), while two in one slot share it, as the
 * header says; limit 0 admits everything; several threads admitting in the
 * same second never get more than N between them.  Slots are computed with
 * the same FNV-1a as the code, so a pair chosen to differ really does.
 *
 * Workload: a few hundred thousand admissions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"
#include "throttle.h"

/* The slot io/throttle.c picks (FNV-1a over the address, seeded with the
 * family). */
static uint32_t slot_of(uint8_t family, const uint8_t *addr)
{
	uint32_t h = 2166136261u ^ family;
	size_t n = family == 4 ? 4 : family == 6 ? 16 : 0;
	for (size_t i = 0; i < n; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % THROTTLE_CLIENT_SLOTS;
}

/* Admit up to tries events at second s; returns how many were admitted. */
static uint32_t admit_n(struct throttle *t, uint64_t s, uint8_t family, const uint8_t *addr, uint32_t tries)
{
	uint32_t ok = 0;
	for (uint32_t i = 0; i < tries; i++)
		ok += throttle_admit(t, s, family, addr);
	return ok;
}

static const uint8_t V4_A[16] = { 192, 0, 2, 1 };
static const uint8_t V4_B[16] = { 192, 0, 2, 2 };
static const uint8_t V6_A[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t V6_B[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static void test_window(void)
{
	static const uint32_t limits[] = { 1, 2, 3, 100 };
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		uint32_t n = limits[i];
		struct throttle t;
		CHECK_U64(throttle_init(&t, n, false), 0);
		CHECK(t.slots == NULL);
		/* limit-1 and limit admitted, limit+1 refused */
		CHECK_U64(admit_n(&t, 1000, 4, V4_A, n - 1), n - 1);
		CHECK(throttle_admit(&t, 1000, 4, V4_A));
		CHECK(!throttle_admit(&t, 1000, 4, V4_B));
		CHECK(!throttle_admit(&t, 1000, 0, NULL));
		/* all clients share the one window */
		CHECK_U64(admit_n(&t, 1000, 6, V6_A, 10), 0);
		/* a new second: a new budget */
		CHECK_U64(admit_n(&t, 1001, 4, V4_B, n + 5), n);
		/* a second later than that, after a quiet one */
		CHECK_U64(admit_n(&t, 1003, 4, V4_B, n + 5), n);
		throttle_fini(&t);
	}

	/* second 0 starts with an empty window too */
	struct throttle t;
	CHECK_U64(throttle_init(&t, 2, false), 0);
	CHECK_U64(admit_n(&t, 0, 4, V4_A, 5), 2);
	CHECK_U64(admit_n(&t, 1, 4, V4_A, 5), 2);
	throttle_fini(&t);
}

static void test_per_client(void)
{
	/* the chosen pairs really sit in different slots */
	CHECK(slot_of(4, V4_A) != slot_of(4, V4_B));
	CHECK(slot_of(6, V6_A) != slot_of(6, V6_B));
	CHECK(slot_of(4, V4_A) != slot_of(6, V4_A)); /* same bytes, other family */
	CHECK(slot_of(4, V4_A) != slot_of(6, V6_A));

	const uint32_t n = 3;
	struct throttle t;
	CHECK_U64(throttle_init(&t, n, true), 0);
	CHECK(t.slots != NULL);
	CHECK_U64(admit_n(&t, 50, 4, V4_A, n + 2), n);
	CHECK_U64(admit_n(&t, 50, 4, V4_B, n + 2), n);
	CHECK_U64(admit_n(&t, 50, 6, V6_A, n + 2), n);
	CHECK_U64(admit_n(&t, 50, 6, V6_B, n + 2), n);
	CHECK_U64(admit_n(&t, 50, 6, V4_A, n + 2), n); /* V4_A's bytes as IPv6 */
	CHECK_U64(admit_n(&t, 50, 0, NULL, n + 2), n); /* unix: one budget */
	CHECK_U64(admit_n(&t, 50, 0, V4_B, 1), 0); /* the address is ignored */
	/* the next second, each again */
	CHECK_U64(admit_n(&t, 51, 4, V4_A, n + 2), n);
	CHECK_U64(admit_n(&t, 51, 6, V6_B, n + 2), n);
	/* only the 4 (or 16) address bytes count */
	uint8_t a_tail[16];
	memcpy(a_tail, V4_A, 16);
	a_tail[4] = 0xff;
	CHECK_U64(admit_n(&t, 51, 4, a_tail, 1), 0);
	throttle_fini(&t);
	CHECK(t.slots == NULL);
}

/* Two addresses in one slot share a budget (throttled early, never late). */
static void test_shared_slot(void)
{
	uint8_t other[16] = { 198, 51, 100, 0 };
	uint32_t want = slot_of(4, V4_A);
	bool found = false;
	for (uint32_t i = 0; i < 65536 && !found; i++) {
		other[2] = (uint8_t)(i >> 8);
		other[3] = (uint8_t)i;
		found = slot_of(4, other) == want;
	}
	if (!CHECK(found))
		return;
	struct throttle t;
	CHECK_U64(throttle_init(&t, 4, true), 0);
	CHECK_U64(admit_n(&t, 7, 4, V4_A, 3), 3);
	CHECK_U64(admit_n(&t, 7, 4, other, 3), 1);
	CHECK_U64(admit_n(&t, 7, 4, V4_B, 5), 4); /* another slot: untouched */
	throttle_fini(&t);
}

static void test_limit_zero(void)
{
	for (int per_client = 0; per_client < 2; per_client++) {
		struct throttle t;
		CHECK_U64(throttle_init(&t, 0, per_client != 0), 0);
		CHECK(t.slots == NULL);
		CHECK_U64(admit_n(&t, 9, 4, V4_A, 100000), 100000);
		CHECK_U64(admit_n(&t, 9, 6, V6_A, 1000), 1000);
		CHECK_U64(admit_n(&t, 9, 0, NULL, 1000), 1000);
		throttle_fini(&t);
	}
}

/* ---- several threads in one second ----------------------------------------- */

#define HAMMER_THREADS 4
#define HAMMER_TRIES 20000u

struct hammer {
	struct throttle *t;
	uint64_t second;
	uint8_t family;
	const uint8_t *addr;
	pthread_barrier_t *start;
	uint32_t admitted;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	pthread_barrier_wait(h->start);
	h->admitted = admit_n(h->t, h->second, h->family, h->addr, HAMMER_TRIES);
	return NULL;
}

/* Returns the total admitted by HAMMER_THREADS threads at second s. */
static uint32_t hammer(struct throttle *t, uint64_t s, uint8_t family, const uint8_t *addr)
{
	pthread_t th[HAMMER_THREADS];
	struct hammer h[HAMMER_THREADS];
	pthread_barrier_t start;
	uint32_t total = 0;
	if (pthread_barrier_init(&start, NULL, HAMMER_THREADS) != 0)
		abort();
	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .t = t, .second = s, .family = family, .addr = addr, .start = &start };
		if (pthread_create(&th[i], NULL, hammer_run, &h[i]) != 0)
			abort();
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += h[i].admitted;
	}
	pthread_barrier_destroy(&start);
	return total;
}

static void test_threads(void)
{
	static const uint32_t limits[] = { 1, 7, 1000, 50000 };
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		uint32_t n = limits[i];
		uint32_t want = n < HAMMER_THREADS * HAMMER_TRIES ? n : HAMMER_THREADS * HAMMER_TRIES;
		struct throttle t;
		CHECK_U64(throttle_init(&t, n, false), 0);
		for (uint64_t s = 100; s < 105; s++)
			if (!CHECK_U64(hammer(&t, s, 4, V4_A), want))
				fprintf(stderr, "  ^ all clients, limit %u, second %llu\n", (unsigned)n,
					(unsigned long long)s);
		throttle_fini(&t);
		CHECK_U64(throttle_init(&t, n, true), 0);
		for (uint64_t s = 200; s < 205; s++)
			if (!CHECK_U64(hammer(&t, s, 6, V6_A), want))
				fprintf(stderr, "  ^ one client, limit %u, second %llu\n", (unsigned)n,
					(unsigned long long)s);
		throttle_fini(&t);
	}
}

int main(void)
{
	test_window();
	test_per_client();
	test_shared_slot();
	test_limit_zero();
	test_threads();
	return harness_finish("throttle");
}
