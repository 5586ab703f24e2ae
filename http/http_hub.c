/*
 * http/http_hub.c - requests waiting for new mail, and the events thread.
 *
 * Owns: the list of suspended long polls and SSE streams, publishing a
 * new message to them (indexer thread), resuming them (once per
 * suspension: the daemon forbids resuming a connection that is not
 * suspended, so `suspended` is set and cleared only under the lock), and
 * the events thread: it resumes long polls at their deadline and SSE
 * streams for a keep-alive, and serves the websocket clients
 * (http_ws.c) from one epoll set.  A publish formats the event once and
 * copies it into each stream's bounded queue; a stream that falls
 * HUB_QUEUE_MAX behind is ended, never allowed to grow.
 * Workload: one publish per indexed message (batched by the indexer);
 * tens of waiters in a test run, thousands at most.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http_int.h"
#include "http_ws.h"
#include "indexer.h"

#define HUB_EVENTS_MAX 64

int http_hub_init(struct http_hub *h)
{
	memset(h, 0, sizeof *h);
	h->ep_fd = h->wake_fd = -1;
	if (pthread_mutex_init(&h->lock, NULL) != 0)
		return -ENOMEM;
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (h->wake_fd < 0 || h->ep_fd < 0 || epoll_ctl(h->ep_fd, EPOLL_CTL_ADD, h->wake_fd, &ev) != 0)
		return -errno;
	return 0;
}

static void poke(struct http_hub *h)
{
	uint64_t one = 1;
	if (write(h->wake_fd, &one, sizeof one) < 0) {
		/* the counter is full: the thread is awake anyway */
	}
}

/* Under the lock: resume w if suspended. */
static void resume_locked(struct hub_waiter *w)
{
	if (!w->suspended)
		return;
	w->suspended = false;
	MHD_resume_connection(w->conn);
}

uint64_t http_hub_gen(struct http_hub *h)
{
	pthread_mutex_lock(&h->lock);
	uint64_t g = h->gen;
	pthread_mutex_unlock(&h->lock);
	return g;
}

static void link_locked(struct http_hub *h, struct hub_waiter *w)
{
	if (w->linked)
		return;
	w->prev = NULL;
	w->next = h->head;
	if (h->head != NULL)
		h->head->prev = w;
	h->head = w;
	w->linked = true;
}

bool http_hub_suspend(struct http_hub *h, struct hub_waiter *w, uint64_t gen)
{
	pthread_mutex_lock(&h->lock);
	bool ok = h->gen == gen && !h->stopping;
	if (ok) {
		link_locked(h, w);
		MHD_suspend_connection(w->conn);
		w->suspended = true;
	}
	pthread_mutex_unlock(&h->lock);
	return ok;
}

void http_hub_streams_changed(struct http_hub *h)
{
	indexer_complete_events(h->indexer, h->sse_count + h->ws_count > 0);
}

void http_hub_unlink(struct http_hub *h, struct hub_waiter *w)
{
	pthread_mutex_lock(&h->lock);
	if (w->linked && w->kind == HUB_SSE) {
		h->sse_count--;
		http_hub_streams_changed(h);
	}
	if (w->linked) {
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			h->head = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		w->linked = false;
	}
	pthread_mutex_unlock(&h->lock);
}

void http_hub_sse_add(struct http_hub *h, struct hub_waiter *w)
{
	pthread_mutex_lock(&h->lock);
	w->kind = HUB_SSE;
	w->deadline_us = http_now_us() + HUB_KEEPALIVE_US;
	if (!w->linked)
		h->sse_count++;
	link_locked(h, w);
	http_hub_streams_changed(h);
	pthread_mutex_unlock(&h->lock);
}

/* The SSE content reader: queued events, a keep-alive comment when one
 * is due, else suspend until the next publish or tick. */
ssize_t http_hub_sse_read(struct http_hub *h, struct hub_waiter *w, char *buf, size_t max)
{
	ssize_t n = 0;
	pthread_mutex_lock(&h->lock);
	if (h->stopping || w->overflow) {
		n = -1;
	} else if (w->q.len > w->q.off) {
		size_t k = w->q.len - w->q.off < max ? w->q.len - w->q.off : max;
		memcpy(buf, w->q.p + w->q.off, k);
		w->q.off += k;
		n = (ssize_t)k;
	} else if (http_now_us() >= w->deadline_us && max >= 2) {
		memcpy(buf, ":\n\n", max >= 3 ? 3 : 2);
		n = max >= 3 ? 3 : 2;
		w->deadline_us = http_now_us() + HUB_KEEPALIVE_US;
	} else {
		MHD_suspend_connection(w->conn);
		w->suspended = true;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

void http_hub_publish(struct http_hub *h, const struct mail_summary *s)
{
	pthread_mutex_lock(&h->lock);
	bool idle = h->head == NULL && h->ws_count == 0;
	if (idle) /* nobody waits: no event to format (the indexer's path at capture speed) */
		h->gen++;
	pthread_mutex_unlock(&h->lock);
	if (idle)
		return;
	struct json_buf b = { 0 };
	json_buf_lit(&b, "data: {\"Type\":\"new\",\"Data\":");
	api_summary_json(&b, s);
	json_buf_lit(&b, "}\n\n");
	pthread_mutex_lock(&h->lock);
	h->gen++;
	for (struct hub_waiter *w = h->head; w != NULL; w = w->next) {
		if (w->kind == HUB_SSE && !b.failed && !hub_queue_add(&w->q, b.p, b.len))
			w->overflow = true;
		resume_locked(w);
	}
	if (!b.failed && h->ws_count > 0) /* the websocket frame is the same JSON */
		http_ws_publish(h, b.p + 6, b.len - 8);
	pthread_mutex_unlock(&h->lock);
	json_buf_free(&b);
	poke(h);
}

/* The events thread's tick: deadlines and keep-alives. */
static void hub_tick(struct http_hub *h)
{
	int64_t now = http_now_us();
	pthread_mutex_lock(&h->lock);
	for (struct hub_waiter *w = h->head; w != NULL; w = w->next)
		if (now >= w->deadline_us || h->stopping)
			resume_locked(w);
	http_ws_tick(h, now);
	pthread_mutex_unlock(&h->lock);
}

static void *hub_main(void *arg)
{
	struct http_hub *h = arg;
	struct epoll_event evs[HUB_EVENTS_MAX];
	for (;;) {
		int n = epoll_wait(h->ep_fd, evs, HUB_EVENTS_MAX, HUB_TICK_MS);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				uint64_t v;
				if (read(h->wake_fd, &v, sizeof v) < 0) {
					/* EAGAIN: another poke took it */
				}
				continue;
			}
			http_ws_event(h, evs[i].data.ptr, evs[i].events);
		}
		hub_tick(h);
		pthread_mutex_lock(&h->lock);
		bool done = h->stopping;
		pthread_mutex_unlock(&h->lock);
		if (done)
			return NULL;
	}
}

int http_hub_start(struct http_hub *h, struct http_server *srv)
{
	h->indexer = srv->indexer; /* before any stream: the daemon is not running yet */
	int e = pthread_create(&h->thread, NULL, hub_main, h);
	if (e != 0)
		return -e;
	h->running = true;
	return 0;
}

void http_hub_stop(struct http_hub *h)
{
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	for (struct hub_waiter *w = h->head; w != NULL; w = w->next)
		resume_locked(w);
	pthread_mutex_unlock(&h->lock);
	poke(h);
	if (h->running)
		pthread_join(h->thread, NULL);
	h->running = false;
	pthread_mutex_lock(&h->lock);
	http_ws_close_all(h);
	pthread_mutex_unlock(&h->lock);
}

void http_hub_fini(struct http_hub *h)
{
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	if (h->ep_fd >= 0)
		close(h->ep_fd);
	pthread_mutex_destroy(&h->lock);
}
