/*
 * tests/io/test_timer_wheel.c - the per-shard timer wheel.
 *
 * Owns: checks that every node fires exactly once at the first advance at
 * or after its deadline (never early), including deadlines beyond the
 * wheel's span and ones already due when armed; that disarm and re-arm work
 * from inside a fire callback; and a comparison with a naive list on random
 * arm/disarm/advance sequences.
 */
#include <stdlib.h>

#include "session_harness.h"
#include "timer_wheel.h"

#define NODES 2000

struct fixture {
	struct timer_wheel w;
	struct timer_node n[NODES];
	uint64_t fired_at[NODES]; /* 0: not fired */
	unsigned fired;
	bool rearm; /* fire callback re-arms node 0 once */
};

static void on_fire(void *ctx, struct timer_node *node)
{
	struct fixture *f = ctx;
	size_t i = (size_t)(node - f->n);
	f->fired_at[i] = f->w.now_s;
	f->fired++;
	if (f->rearm && i == 0) {
		f->rearm = false;
		timer_wheel_arm(&f->w, node, f->w.now_s + 3);
	}
}

static void test_basic(void)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	timer_wheel_init(&f.w, 100);
	timer_wheel_arm(&f.w, &f.n[0], 105);
	timer_wheel_arm(&f.w, &f.n[1], 100); /* already due */
	timer_wheel_arm(&f.w, &f.n[2], 100 + 3 * TIMER_WHEEL_SLOTS + 7); /* beyond the span */
	timer_wheel_arm(&f.w, &f.n[3], 104);
	timer_wheel_disarm(&f.w, &f.n[3]);
	timer_wheel_advance(&f.w, 101, on_fire, &f);
	CHECK_U64(f.fired_at[1], 101);
	CHECK_U64(f.fired, 1);
	timer_wheel_advance(&f.w, 104, on_fire, &f);
	CHECK_U64(f.fired_at[0], 0);
	timer_wheel_advance(&f.w, 105, on_fire, &f);
	CHECK_U64(f.fired_at[0], 105);
	CHECK_U64(f.fired_at[3], 0);
	for (uint64_t t = 106; t < 100 + 3 * TIMER_WHEEL_SLOTS + 7; t += 50)
		timer_wheel_advance(&f.w, t, on_fire, &f);
	CHECK_U64(f.fired_at[2], 0);
	timer_wheel_advance(&f.w, 100 + 3 * TIMER_WHEEL_SLOTS + 7, on_fire, &f);
	CHECK_U64(f.fired_at[2], 100 + 3 * TIMER_WHEEL_SLOTS + 7);
	CHECK_U64(f.w.armed, 0);
}

static void test_rearm_in_callback(void)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	timer_wheel_init(&f.w, 0);
	f.rearm = true;
	timer_wheel_arm(&f.w, &f.n[0], 2);
	timer_wheel_advance(&f.w, 2, on_fire, &f);
	CHECK_U64(f.fired, 1);
	CHECK(f.n[0].armed);
	timer_wheel_advance(&f.w, 4, on_fire, &f);
	CHECK_U64(f.fired, 1);
	timer_wheel_advance(&f.w, 5, on_fire, &f);
	CHECK_U64(f.fired, 2);
	CHECK_U64(f.fired_at[0], 5);
}

/* Random operations against a naive model: a node fires at the first
 * advance whose time is >= its deadline, unless disarmed first. */
static void test_random(void)
{
	static struct fixture f;
	static uint64_t deadline[NODES];
	static bool armed[NODES];
	struct harness_rng g;
	memset(&f, 0, sizeof f);
	memset(armed, 0, sizeof armed);
	harness_rng_seed(&g, 99);
	timer_wheel_init(&f.w, 1000);
	uint64_t now = 1000;
	unsigned errors = 0;
	for (int step = 0; step < 20000; step++) {
		size_t i = (size_t)harness_rng_below(&g, NODES);
		uint64_t op = harness_rng_below(&g, 10);
		if (op < 5) {
			deadline[i] = now + harness_rng_below(&g, 3 * TIMER_WHEEL_SLOTS);
			armed[i] = true;
			f.fired_at[i] = 0;
			timer_wheel_arm(&f.w, &f.n[i], deadline[i]);
		} else if (op < 7) {
			armed[i] = false;
			timer_wheel_disarm(&f.w, &f.n[i]);
		} else {
			now += harness_rng_below(&g, op == 9 ? 700 : 5);
			timer_wheel_advance(&f.w, now, on_fire, &f);
			for (size_t k = 0; k < NODES; k++) {
				bool due = armed[k] && deadline[k] <= now;
				if (due != (f.fired_at[k] != 0) || (due && f.fired_at[k] != now))
					errors++;
				if (due)
					armed[k] = false;
				f.fired_at[k] = 0;
			}
		}
	}
	CHECK_U64(errors, 0);
}

/* How long a loop may sleep: ticks to the first occupied slot, capped;
 * never past a deadline (a node re-filed from beyond the span only wakes
 * the loop early). */
static void test_until_next(void)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	timer_wheel_init(&f.w, 1000);
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 250); /* empty */
	timer_wheel_arm(&f.w, &f.n[0], 1040);
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 40);
	CHECK_U64(timer_wheel_until_next(&f.w, 30), 30); /* the cap */
	timer_wheel_arm(&f.w, &f.n[1], 1007);
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 7);
	timer_wheel_arm(&f.w, &f.n[2], 900); /* already due: the next tick */
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 1);
	timer_wheel_disarm(&f.w, &f.n[2]);
	timer_wheel_disarm(&f.w, &f.n[1]);
	timer_wheel_disarm(&f.w, &f.n[0]);
	timer_wheel_arm(&f.w, &f.n[3], 1000 + TIMER_WHEEL_SLOTS + 20); /* beyond the span: its slot is at 20 */
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 20);
	timer_wheel_arm(&f.w, &f.n[4], 1000 + 300); /* past the cap */
	timer_wheel_disarm(&f.w, &f.n[3]);
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 250);
	CHECK_U64(timer_wheel_until_next(&f.w, 1000), 300);
	timer_wheel_advance(&f.w, 1290, on_fire, &f);
	CHECK_U64(timer_wheel_until_next(&f.w, 250), 10);
}

int main(void)
{
	test_basic();
	test_rearm_in_callback();
	test_random();
	test_until_next();
	return harness_finish("timer_wheel");
}
