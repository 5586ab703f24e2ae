/*
 * io/timer_wheel.h - one timer wheel per shard, 1 s granularity.
 *
 * Owns: deadlines for tens of thousands of sessions without a kernel timer
 * or a syscall each (ENGINE-NOTES: "prefer one timer wheel per shard").
 * Nodes are intrusive (embedded in struct conn), so arming and disarming
 * are O(1) with no allocation.  A deadline further away than the wheel's
 * span sits in its slot and is re-filed when the slot comes round early.
 * The wheel never reads a clock: the loop passes "now" in seconds.
 */
#ifndef SMTPSINK_TIMER_WHEEL_H
#define SMTPSINK_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_WHEEL_SLOTS 512u

struct timer_node {
	struct timer_node *prev, *next;
	uint64_t deadline_s;
	uint16_t slot; /* where it is linked, while armed */
	bool armed;
};

struct timer_wheel {
	struct timer_node *slot[TIMER_WHEEL_SLOTS];
	uint64_t now_s; /* every deadline <= now_s has fired */
	uint64_t armed; /* nodes in the wheel */
};

typedef void (*timer_fire_fn)(void *ctx, struct timer_node *node);

void timer_wheel_init(struct timer_wheel *w, uint64_t now_s);

/* Arm (or re-arm) node for deadline_s; a deadline <= now fires at the next
 * advance. */
void timer_wheel_arm(struct timer_wheel *w, struct timer_node *node, uint64_t deadline_s);
void timer_wheel_disarm(struct timer_wheel *w, struct timer_node *node);

/* Move time to now_s, firing (after disarming) every node whose deadline
 * has come.  fire may re-arm nodes. */
void timer_wheel_advance(struct timer_wheel *w, uint64_t now_s, timer_fire_fn fire, void *ctx);

/* Ticks from now until the first slot that holds a node, at most max (and
 * max when none is within the wheel's span): how long a loop may sleep.
 * A node re-filed from that slot wakes it early, never late. */
uint64_t timer_wheel_until_next(const struct timer_wheel *w, uint64_t max);

#endif
