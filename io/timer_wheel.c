/*
 * io/timer_wheel.c - hashed timer wheel (see timer_wheel.h).
 *
 * Owns: slot lists, doubly linked and NULL-terminated.  Invariant: a node is
 * armed iff it is in exactly one slot list, slot = deadline % SLOTS (or the
 * slot of now+1 for deadlines already due).  advance() detaches a slot
 * before walking it, so fire callbacks may arm and disarm freely.
 */
#include "timer_wheel.h"

#include <stddef.h>
#include <string.h>

void timer_wheel_init(struct timer_wheel *w, uint64_t now_s)
{
	memset(w, 0, sizeof *w);
	w->now_s = now_s;
}

static void link_into(struct timer_wheel *w, struct timer_node *n)
{
	uint64_t when = n->deadline_s > w->now_s ? n->deadline_s : w->now_s + 1;
	n->slot = (uint16_t)(when % TIMER_WHEEL_SLOTS);
	struct timer_node **head = &w->slot[n->slot];
	n->prev = NULL;
	n->next = *head;
	if (*head != NULL)
		(*head)->prev = n;
	*head = n;
	n->armed = true;
	w->armed++;
}

void timer_wheel_disarm(struct timer_wheel *w, struct timer_node *n)
{
	if (!n->armed)
		return;
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		w->slot[n->slot] = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
	n->armed = false;
	w->armed--;
}

void timer_wheel_arm(struct timer_wheel *w, struct timer_node *n, uint64_t deadline_s)
{
	timer_wheel_disarm(w, n);
	n->deadline_s = deadline_s;
	link_into(w, n);
}

/* Walk one slot: fire what is due, put back the rest. */
static void run_slot(struct timer_wheel *w, unsigned idx, timer_fire_fn fire, void *ctx)
{
	struct timer_node *n = w->slot[idx];
	w->slot[idx] = NULL;
	while (n != NULL) {
		struct timer_node *next = n->next;
		n->prev = n->next = NULL;
		n->armed = false;
		w->armed--;
		if (n->deadline_s <= w->now_s)
			fire(ctx, n);
		else
			link_into(w, n);
		n = next;
	}
}

void timer_wheel_advance(struct timer_wheel *w, uint64_t now_s, timer_fire_fn fire, void *ctx)
{
	if (now_s <= w->now_s)
		return;
	uint64_t from = w->now_s + 1;
	uint64_t steps = now_s - w->now_s;
	w->now_s = now_s;
	if (steps > TIMER_WHEEL_SLOTS)
		steps = TIMER_WHEEL_SLOTS;
	for (uint64_t t = 0; t < steps; t++)
		run_slot(w, (unsigned)((from + t) % TIMER_WHEEL_SLOTS), fire, ctx);
}

uint64_t timer_wheel_until_next(const struct timer_wheel *w, uint64_t max)
{
	if (w->armed == 0)
		return max;
	uint64_t limit = max < TIMER_WHEEL_SLOTS ? max : TIMER_WHEEL_SLOTS;
	for (uint64_t d = 1; d <= limit; d++)
		if (w->slot[(w->now_s + d) % TIMER_WHEEL_SLOTS] != NULL)
			return d;
	return max;
}
