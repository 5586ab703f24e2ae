/*
 * http/http_ws.c - websocket clients of the events stream (http_ws.h).
 *
 * Owns: each client's input buffer (client frames are decoded by
 * ws_frame.c: pings are answered with pongs, a close is echoed and the
 * connection ended, data frames are ignored), its bounded output queue
 * (text frames {"Type":"new","Data":summary}, pongs, pings every
 * HUB_KEEPALIVE_US), and handing the socket back to the daemon to close
 * (MHD_upgrade_action: the socket is never closed here).
 * Invariants: a client is in the hub's list and the epoll set until it is
 * closed; a client whose queue passes HUB_QUEUE_MAX is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"
#include "http_ws.h"
#include "ws_frame.h"

#define WS_IN_MAX (WS_FRAME_MAX_PAYLOAD + 14u) /* one whole frame: header, mask, payload */
#define WS_CLOSE_PROTOCOL 1002u /* RFC 6455 7.4.1 */
#define WS_CLOSE_TOO_BIG 1009u

struct ws_client {
	struct ws_client *prev, *next;
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	uint8_t in[WS_IN_MAX];
	size_t in_len;
	struct hub_queue q;
	bool closing; /* close once the queue is sent */
	bool dead; /* close now */
	int64_t ping_us;
};

static void send_frame(struct ws_client *c, enum ws_opcode op, const void *p, size_t n)
{
	uint8_t hdr[WS_HEADER_MAX];
	size_t hn = ws_frame_header(hdr, op, n);
	if (!hub_queue_add(&c->q, (const char *)hdr, hn) || !hub_queue_add(&c->q, p, n))
		c->dead = true;
}

static void send_close(struct ws_client *c, unsigned code)
{
	uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	send_frame(c, WS_CLOSE, p, sizeof p);
	c->closing = true;
}

void http_hub_ws_add(struct http_hub *h, int fd, struct MHD_UpgradeResponseHandle *urh, const char *extra,
		     size_t extra_len)
{
	struct ws_client *c = calloc(1, sizeof *c);
	pthread_mutex_lock(&h->lock);
	bool ok = c != NULL && h->ws_count < HUB_WS_MAX && !h->stopping && extra_len <= sizeof c->in;
	if (ok) {
		c->fd = fd;
		c->urh = urh;
		memcpy(c->in, extra, extra_len);
		c->in_len = extra_len;
		c->ping_us = http_now_us() + HUB_KEEPALIVE_US;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		ok = epoll_ctl(h->ep_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
	}
	if (ok) {
		c->next = h->ws_head;
		if (h->ws_head != NULL)
			h->ws_head->prev = c;
		h->ws_head = c;
		h->ws_count++;
		http_hub_streams_changed(h);
	}
	pthread_mutex_unlock(&h->lock);
	if (!ok) {
		free(c);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
}

static void ws_close(struct http_hub *h, struct ws_client *c)
{
	epoll_ctl(h->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->ws_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->ws_count--;
	http_hub_streams_changed(h);
	MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(c->q.p);
	free(c);
}

void http_ws_publish(struct http_hub *h, const char *json, size_t n)
{
	for (struct ws_client *c = h->ws_head; c != NULL; c = c->next)
		if (!c->closing)
			send_frame(c, WS_TEXT, json, n);
}

/* Write what is queued; false when the peer is gone. */
static bool flush(struct ws_client *c)
{
	while (c->q.off < c->q.len) {
		ssize_t n = send(c->fd, c->q.p + c->q.off, c->q.len - c->q.off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->q.off += (size_t)n;
	}
	return true;
}

void http_ws_tick(struct http_hub *h, int64_t now_us)
{
	struct ws_client *next;
	for (struct ws_client *c = h->ws_head; c != NULL; c = next) {
		next = c->next;
		if (now_us >= c->ping_us && !c->closing) {
			send_frame(c, WS_PING, "", 0);
			c->ping_us = now_us + HUB_KEEPALIVE_US;
		}
		if (h->stopping && !c->closing)
			send_close(c, 1001); /* going away */
		if (!flush(c) || c->dead || (c->closing && c->q.off == c->q.len))
			ws_close(h, c);
	}
}

/* Decode every whole frame in c->in; keep the rest. */
static void consume(struct ws_client *c)
{
	size_t at = 0;
	while (!c->closing) {
		struct ws_frame f;
		size_t used;
		enum ws_status st = ws_frame_decode(c->in + at, c->in_len - at, &f, &used);
		if (st == WS_NEED_MORE)
			break;
		if (st != WS_OK) {
			send_close(c, st == WS_ERR_TOO_BIG ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL);
			break;
		}
		at += used;
		if (f.opcode == WS_PING)
			send_frame(c, WS_PONG, f.payload, f.len);
		else if (f.opcode == WS_CLOSE)
			send_close(c, f.len >= 2 ? (unsigned)f.payload[0] << 8 | f.payload[1] : 1000);
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
}

void http_ws_event(struct http_hub *h, struct ws_client *c, uint32_t events)
{
	pthread_mutex_lock(&h->lock);
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			consume(c);
			if (c->in_len == sizeof c->in) /* a frame cannot be bigger than the buffer */
				c->dead = true;
			if (!c->dead && !c->closing)
				continue;
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			c->dead = true;
		}
		break;
	}
	if (c->dead || ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)))
		ws_close(h, c);
	pthread_mutex_unlock(&h->lock);
}

void http_ws_close_all(struct http_hub *h)
{
	while (h->ws_head != NULL)
		ws_close(h, h->ws_head);
}
