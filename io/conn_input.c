/*
 * io/conn_input.c - a connection's received bytes not yet consumed.
 *
 * Owns: the queue of receive buffers a connection holds, in arrival
 * order, chained through the shard's pool (rbufs.next), handing each one
 * back (to the pool or the kernel's ring) as soon as its last byte is
 * consumed; and the fairness rule for the shared pool: a connection that
 * cannot consume its input now (its output is blocked because the client
 * does not read, a verdict or a hold is awaited, its message waits for the
 * disk) copies what it holds into memory of its own (own) and gives the
 * buffers back, so stalled sessions never pin the buffers every other
 * session needs.  It does so when it holds more than one buffer, or when
 * the pool runs short (then every blocked connection does,
 * conn_input_reclaim()).  Own memory is bounded (CONN_INPUT_OWN_MAX_BYTES,
 * and the memory budget); what does not fit stays in its buffers, and the
 * connection has stopped receiving by then (conn.c).
 *
 * The session is fed from the oldest bytes on (conn_input_peek/consume):
 * own first, then the buffers.  An idle connection holds neither.
 */
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "shard.h"

#define CONN_INPUT_OWN_MAX_BYTES (64u * 1024u)

struct conn_own {
	uint32_t len, off, cap; /* bytes held, consumed, room */
	uint8_t data[];
};

void conn_input_push(struct conn *c, uint16_t bid, uint32_t len)
{
	struct shard *sh = c->shard;
	sh->rbufs.len[bid] = len;
	sh->rbufs.next[bid] = CONN_NO_BUF;
	if (c->in.tail == CONN_NO_BUF)
		c->in.head = bid;
	else
		sh->rbufs.next[c->in.tail] = bid;
	c->in.tail = bid;
	c->in.bufs++;
}

bool conn_input_peek(const struct conn *c, const uint8_t **p, size_t *n)
{
	struct shard *sh = c->shard;
	if (c->in.own != NULL) {
		*p = c->in.own->data + c->in.own->off;
		*n = c->in.own->len - c->in.own->off;
		return true;
	}
	if (c->in.head == CONN_NO_BUF)
		return false;
	*p = shard_rbuf(sh, c->in.head) + c->in.off;
	*n = sh->rbufs.len[c->in.head] - c->in.off;
	return true;
}

static void free_own(struct conn *c)
{
	if (c->in.own == NULL)
		return;
	mem_local_give(&c->shard->mem, c->in.own->cap);
	free(c->in.own);
	c->in.own = NULL;
}

/* The oldest buffer is used up: back to the pool. */
static void pop_buf(struct conn *c)
{
	struct shard *sh = c->shard;
	uint16_t bid = c->in.head;
	c->in.head = sh->rbufs.next[bid];
	if (c->in.head == CONN_NO_BUF)
		c->in.tail = CONN_NO_BUF;
	c->in.off = 0;
	c->in.bufs--;
	sh->ops->release_buf(sh, bid);
}

void conn_input_consume(struct conn *c, size_t n)
{
	struct shard *sh = c->shard;
	if (c->in.own != NULL) {
		c->in.own->off += (uint32_t)n;
		if (c->in.own->off == c->in.own->len)
			free_own(c);
		return;
	}
	if (c->in.head == CONN_NO_BUF)
		return;
	c->in.off += (uint32_t)n;
	if (c->in.off == sh->rbufs.len[c->in.head])
		pop_buf(c);
}

void conn_input_release(struct conn *c)
{
	while (c->in.head != CONN_NO_BUF)
		pop_buf(c);
	free_own(c);
}

/* Own memory for n more bytes; false when it may not grow. */
static bool own_room(struct conn *c, uint32_t n)
{
	struct conn_own *o = c->in.own;
	uint32_t len = o != NULL ? o->len - o->off : 0, cap = o != NULL ? o->cap : 0;
	if (len + n > CONN_INPUT_OWN_MAX_BYTES)
		return false;
	if (o != NULL && o->len + n <= o->cap)
		return true;
	uint32_t want = cap ? cap : 512;
	while (want < len + n)
		want *= 2;
	if (!mem_local_take(&c->shard->mem, want, cap))
		return false;
	struct conn_own *p = malloc(sizeof *p + want);
	if (p == NULL) {
		mem_local_give(&c->shard->mem, want);
		return false;
	}
	p->len = len;
	p->off = 0;
	p->cap = want;
	if (o != NULL) /* the unconsumed part moves to the front */
		memcpy(p->data, o->data + o->off, len);
	free_own(c);
	c->in.own = p;
	return true;
}

void conn_input_own(struct conn *c)
{
	struct shard *sh = c->shard;
	while (c->in.head != CONN_NO_BUF) {
		uint32_t n = sh->rbufs.len[c->in.head] - c->in.off;
		if (!own_room(c, n))
			return; /* the rest stays in its buffers */
		memcpy(c->in.own->data + c->in.own->len, shard_rbuf(sh, c->in.head) + c->in.off, n);
		c->in.own->len += n;
		pop_buf(c);
	}
}

uint8_t *conn_input_reserve(struct conn *c, uint32_t want, uint32_t *room)
{
	struct conn_own *o = c->in.own;
	uint32_t held = o != NULL ? o->len - o->off : 0;
	if (held >= CONN_INPUT_OWN_MAX_BYTES)
		return NULL;
	if (want > CONN_INPUT_OWN_MAX_BYTES - held)
		want = CONN_INPUT_OWN_MAX_BYTES - held;
	if (o == NULL || o->len + want > o->cap) {
		if (!own_room(c, want))
			return NULL;
		o = c->in.own;
	}
	*room = o->cap - o->len < want ? o->cap - o->len : want;
	return o->data + o->len;
}

void conn_input_commit(struct conn *c, uint32_t n)
{
	if (c->in.own == NULL)
		return;
	c->in.own->len += n;
	if (c->in.own->len == c->in.own->off)
		free_own(c); /* nothing came: an idle connection holds none */
}

bool conn_input_pool_short(const struct shard *sh)
{
	return sh->rbufs.free_count < sh->rbufs.count / 4 || sh->rbufs_short;
}

void conn_input_blocked(struct conn *c)
{
	if (c->in.bufs > 1 || (c->in.bufs > 0 && conn_input_pool_short(c->shard)))
		conn_input_own(c);
}

void conn_input_reclaim(struct shard *sh)
{
	for (struct conn *c = sh->live; c != NULL; c = c->next)
		if (c->in.bufs > 0 && c->feeding == NULL)
			conn_input_own(c);
}
