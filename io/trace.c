/*
 * io/trace.c - transcript lines and their file (see trace.h).
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "io_classify.h"

#define TRACE_LINE_MAX 2048u /* escaped text beyond this is cut, marked "..." */

#define US_PER_S 1000000u

int trace_open(struct trace_sink *t, const struct server_config *cfg)
{
	t->fd = -1;
	t->own_fd = false;
	t->time = cfg->trace_time;
	atomic_init(&t->clients, &cfg->trace_clients);
	pthread_mutex_init(&t->lock, NULL);
	if (cfg->trace_path == NULL)
		return 0;
	if (strcmp(cfg->trace_path, "-") == 0) {
		t->fd = STDOUT_FILENO;
		return 0;
	}
	t->fd = open(cfg->trace_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (t->fd < 0)
		return -errno;
	t->own_fd = true;
	return 0;
}

void trace_close(struct trace_sink *t)
{
	if (t->own_fd)
		close(t->fd);
	t->fd = -1;
	pthread_mutex_destroy(&t->lock);
}

bool trace_wanted(const struct trace_sink *t, uint8_t family, const uint8_t *addr)
{
	if (t->fd < 0)
		return false;
	const struct cidr_list *l = atomic_load_explicit(&t->clients, memory_order_acquire);
	if (l->count == 0)
		return true;
	for (unsigned i = 0; i < l->count; i++)
		if (cidr_match(&l->v[i], family, addr))
			return true;
	return false;
}

void trace_set_clients(struct trace_sink *t, const struct cidr_list *l)
{
	atomic_store_explicit(&t->clients, l, memory_order_release);
}

static bool reserve(struct trace_buf *b, size_t n)
{
	return grow_array((void **)&b->buf, &b->cap, b->len + n, 1, 65536);
}

uint64_t trace_clock(const struct trace_sink *t)
{
	struct timespec ts;
	clock_gettime(t->time == TRACE_TIME_UTC ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_PER_S + (uint64_t)ts.tv_nsec / 1000u;
}

void trace_line(struct trace_buf *b, const struct trace_sink *t, uint64_t start_us, const char *sid, const char *dir,
		const void *text, size_t len)
{
	trace_line_at(b, t, trace_clock(t), start_us, sid, dir, text, len);
}

/* "2026-12-08T01:02:03.123456Z" or "2.000250" at the end of b (room
 * reserved); the date and time of the second are kept from the last line. */
static void put_time(struct trace_buf *b, const struct trace_sink *t, uint64_t us, uint64_t start_us)
{
	if (t->time == TRACE_TIME_SESSION) {
		us = us > start_us ? us - start_us : 0;
		b->len += (size_t)snprintf(b->buf + b->len, b->cap - b->len, "%llu.%06llu",
					   (unsigned long long)(us / US_PER_S), (unsigned long long)(us % US_PER_S));
		return;
	}
	uint64_t s = us / US_PER_S;
	if (b->stamp[0] == '\0' || s != b->stamp_s) {
		time_t tt = (time_t)s;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(b->stamp, sizeof b->stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		b->stamp_s = s;
	}
	b->len += (size_t)snprintf(b->buf + b->len, b->cap - b->len, "%s.%06lluZ", b->stamp,
				   (unsigned long long)(us % US_PER_S));
}

void trace_line_at(struct trace_buf *b, const struct trace_sink *t, uint64_t us, uint64_t start_us, const char *sid,
		   const char *dir, const void *text, size_t len)
{
	if (!reserve(b, 64 + 4 * TRACE_LINE_MAX + 8))
		return; /* out of memory: the transcript loses a line, nothing else */
	put_time(b, t, us, start_us);
	b->len += (size_t)snprintf(b->buf + b->len, b->cap - b->len, " %s %s ", sid, dir);
	const uint8_t *p = text;
	size_t n = len < TRACE_LINE_MAX ? len : TRACE_LINE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			b->buf[b->len++] = (char)p[i];
		else
			b->len += (size_t)snprintf(b->buf + b->len, 5, "\\x%02X", p[i]);
	}
	if (n < len) {
		memcpy(b->buf + b->len, "...", 3);
		b->len += 3;
	}
	b->buf[b->len++] = '\n';
}

void trace_flush(struct trace_buf *b, struct trace_sink *t)
{
	if (b->len == 0 || t->fd < 0)
		return;
	pthread_mutex_lock(&t->lock);
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = write(t->fd, b->buf + off, b->len - off);
		if (w < 0 && io_classify(IO_VERB_WRITE, -errno) == IO_RETRY)
			continue;
		if (w <= 0)
			break; /* a full disk or a closed pipe loses the transcript, not the server */
		off += (size_t)w;
	}
	pthread_mutex_unlock(&t->lock);
	b->len = 0;
}

void trace_buf_free(struct trace_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}
