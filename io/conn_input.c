/*
 * io/conn_input.c - a connection's received bytes not yet consumed.
 *
 * Owns: the queue of receive buffers a connection holds, in arrival
 * order, chained through the shard's pool (rbufs.next), and handing each
 * one back (to the pool or the kernel's ring) as soon as its last byte is
 * consumed.  An idle connection holds none.  The session is fed from the
 * oldest buffer on (conn_input_peek/consume), so no byte is copied here.
 */
#include "conn_int.h"
#include "shard.h"

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
}

bool conn_input_peek(const struct conn *c, const uint8_t **p, size_t *n)
{
	struct shard *sh = c->shard;
	if (c->in.head == CONN_NO_BUF)
		return false;
	*p = shard_rbuf(sh, c->in.head) + c->in.off;
	*n = sh->rbufs.len[c->in.head] - c->in.off;
	return true;
}

void conn_input_consume(struct conn *c, size_t n)
{
	struct shard *sh = c->shard;
	if (c->in.head == CONN_NO_BUF)
		return;
	c->in.off += (uint32_t)n;
	if (c->in.off < sh->rbufs.len[c->in.head])
		return;
	uint16_t bid = c->in.head;
	c->in.head = sh->rbufs.next[bid];
	if (c->in.head == CONN_NO_BUF)
		c->in.tail = CONN_NO_BUF;
	c->in.off = 0;
	sh->ops->release_buf(sh, bid);
}

void conn_input_release(struct conn *c)
{
	struct shard *sh = c->shard;
	while (c->in.head != CONN_NO_BUF) {
		uint16_t bid = c->in.head;
		c->in.head = sh->rbufs.next[bid];
		sh->ops->release_buf(sh, bid);
	}
	c->in.tail = CONN_NO_BUF;
	c->in.off = 0;
}
