/*
 * core/queue_id.c - queue ID encoding (see queue_id.h).
 *
 * Owns: fixed-width base-62 digits, most significant first, so string order
 * is numeric order.  9 digits hold 62^9 > 2^53 microseconds (year 2255).
 */
#include "queue_id.h"

static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define TIME_DIGITS 9u
#define NODE_DIGITS 3u
#define SHARD_DIGITS 2u

static void put(char *out, uint64_t v, unsigned width)
{
	for (unsigned i = width; i-- > 0;) {
		out[i] = digits[v % 62];
		v /= 62;
	}
}

static int value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

static bool get(const char *s, unsigned width, uint64_t *v)
{
	*v = 0;
	for (unsigned i = 0; i < width; i++) {
		int d = value(s[i]);
		if (d < 0)
			return false;
		*v = *v * 62 + (uint64_t)d;
	}
	return true;
}

void queue_id_init(struct queue_id_gen *g, uint32_t node, uint32_t shard, uint64_t floor_us)
{
	g->last_us = floor_us;
	g->node = node & QUEUE_ID_NODE_MAX;
	g->shard = shard & QUEUE_ID_SHARD_MAX;
}

void queue_id_next(struct queue_id_gen *g, uint64_t now_us, char out[QUEUE_ID_LEN + 1])
{
	g->last_us = now_us > g->last_us ? now_us : g->last_us + 1;
	put(out, g->last_us, TIME_DIGITS);
	put(out + TIME_DIGITS, g->node, NODE_DIGITS);
	put(out + TIME_DIGITS + NODE_DIGITS, g->shard, SHARD_DIGITS);
	out[QUEUE_ID_LEN] = '\0';
}

bool queue_id_parse(const char *s, size_t len, uint64_t *us, uint32_t *node, uint32_t *shard)
{
	uint64_t n, sh;
	if (len != QUEUE_ID_LEN)
		return false;
	if (!get(s, TIME_DIGITS, us) || !get(s + TIME_DIGITS, NODE_DIGITS, &n) ||
	    !get(s + TIME_DIGITS + NODE_DIGITS, SHARD_DIGITS, &sh))
		return false;
	if (n > QUEUE_ID_NODE_MAX || sh > QUEUE_ID_SHARD_MAX)
		return false;
	*node = (uint32_t)n;
	*shard = (uint32_t)sh;
	return true;
}
