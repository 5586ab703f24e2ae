/*
 * bench/bench_workers.c - one process or several (see bench_workers.h).
 *
 * The pipe carries records: a header {type, payload length} then the
 * payload; PROGRESS carries the worker's stats so far encoded with the
 * live steps only (BENCH_STEPS_LIVE: counters, end-of-data and message
 * histograms), RESULT the whole encoded bench_stats, FAILED nothing.
 * Parent and children are the same binary, so native layouts are fine.
 * The parent reads every pipe as data comes (a result is larger than a
 * pipe's buffer), keeps each worker's latest snapshot, merges them once a
 * second for the progress line and --prometheus, and reaps the children at
 * the end.  Snapshots are made only when someone looks.
 */
#define _GNU_SOURCE
#include "bench_workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_loop.h"
#include "bench_qidlog.h"
#include "bench_report.h"
#include "grow.h"
#include "io_classify.h"

#define POLL_MS 1000
#define READ_CHUNK_BYTES 65536u

enum record_type {
	REC_PROGRESS = 1,
	REC_RESULT = 2,
	REC_FAILED = 3
};

struct record_header {
	uint32_t type;
	uint32_t len;
};

struct worker {
	pid_t pid;
	int fd; /* read end; -1 at EOF */
	uint8_t *buf;
	size_t len, cap;
	bool result;
	uint8_t *snap; /* the latest PROGRESS payload */
	size_t snap_len, snap_cap;
};

/* What the run shows while it goes: the progress line, --prometheus. */
struct live_view {
	const struct bench_run *r;
	struct bench_counts prev; /* at the last line, for its rate */
	uint64_t start_ns, prev_ns;
	bool printed;
};

static bool live_wanted(const struct bench_run *r)
{
	return r->progress || r->prom != NULL;
}

/* One snapshot of the whole run so far (all workers merged). */
static void show_live(struct live_view *v, const struct bench_stats *now)
{
	if (v->r->prom != NULL)
		bench_prom_publish(v->r->prom, now, true);
	if (!v->r->progress)
		return;
	uint64_t t = bench_clock_ns();
	double dt = (double)(t - v->prev_ns) / 1e9, elapsed = (double)(t - v->start_ns) / 1e9;
	bench_report_progress(stderr, now, &v->prev, dt, elapsed, v->r->cfg->tls != BENCH_TLS_NONE);
	v->prev = now->c;
	v->prev_ns = t;
	v->printed = true;
}

static void local_progress(void *ctx, const struct bench_stats *s)
{
	show_live(ctx, s);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && io_classify(IO_VERB_WRITE, -errno) == IO_RETRY)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_record(int fd, enum record_type type, const void *payload, size_t len)
{
	struct record_header h = { (uint32_t)type, (uint32_t)len };
	if (write_all(fd, &h, sizeof h) != 0)
		return -1;
	return len ? write_all(fd, payload, len) : 0;
}

static void pipe_progress(void *ctx, const struct bench_stats *s)
{
	size_t len = 0;
	uint8_t *img = bench_stats_encode_steps(s, BENCH_STEPS_LIVE, &len);
	if (img != NULL)
		send_record(*(int *)ctx, REC_PROGRESS, img, len);
	free(img);
}

static uint32_t share(uint32_t total, uint32_t w, uint32_t n)
{
	return total / n + (w < total % n ? 1 : 0);
}

static int run_here(const struct bench_run *r, uint32_t w, uint32_t n, struct bench_stats *st,
		    bench_progress_fn progress, void *ctx)
{
	struct bench_qidlog *q = NULL;
	if (r->qlog_fd >= 0 && (q = malloc(sizeof *q)) != NULL)
		bench_qidlog_init(q, r->qlog_fd);
	struct bench_loop_params p = {
		r->cfg, r->ops, r->spec,  r->auth_b64, w,      n, share(r->cfg->connections, w, n),
		st,	q,	progress, ctx,	       r->stop
	};
	int e = bench_loop_run(&p);
	free(q);
	return e;
}

/* A worker stops on the parent's word (SIGUSR1), not on the terminal's
 * SIGINT, which reaches the whole process group: the parent forwards it
 * once, so a second Ctrl-C can still end everything at once.  If the
 * parent dies, so does the worker. */
static void worker_signals(void)
{
	struct sigaction stop;
	sigaction(SIGTERM, NULL, &stop);
	sigaction(SIGUSR1, &stop, NULL);
	signal(SIGINT, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static _Noreturn void worker_main(const struct bench_run *r, uint32_t w, uint32_t n, int fd)
{
	worker_signals();
	struct bench_stats st;
	int e = bench_stats_init(&st);
	if (e == 0)
		e = run_here(r, w, n, &st, live_wanted(r) ? pipe_progress : NULL, &fd);
	size_t len = 0;
	uint8_t *img = e == 0 ? bench_stats_encode(&st, &len) : NULL;
	if (img != NULL)
		e = send_record(fd, REC_RESULT, img, len);
	else
		send_record(fd, REC_FAILED, NULL, 0);
	_exit(img != NULL && e == 0 ? 0 : 1);
}

static int keep_snapshot(struct worker *w, const uint8_t *payload, size_t len)
{
	if (!grow_array((void **)&w->snap, &w->snap_cap, len, 1, len))
		return -1;
	memcpy(w->snap, payload, len);
	w->snap_len = len;
	return 0;
}

/* Handle every whole record in w->buf. */
static int drain_records(struct worker *w, struct bench_stats *total)
{
	size_t off = 0;
	struct record_header h;
	while (w->len - off >= sizeof h) {
		memcpy(&h, w->buf + off, sizeof h);
		if (w->len - off - sizeof h < h.len)
			break;
		const uint8_t *payload = w->buf + off + sizeof h;
		if (h.type == REC_PROGRESS) {
			if (keep_snapshot(w, payload, h.len) != 0)
				return -1;
		} else if (h.type == REC_RESULT && bench_stats_decode_merge(total, payload, h.len) == 0)
			w->result = true;
		else if (h.type != REC_FAILED)
			return -1;
		off += sizeof h + h.len;
	}
	memmove(w->buf, w->buf + off, w->len - off);
	w->len -= off;
	return 0;
}

static int read_worker(struct worker *w, struct bench_stats *total)
{
	if (!grow_array((void **)&w->buf, &w->cap, w->len + READ_CHUNK_BYTES, 1, 4 * READ_CHUNK_BYTES))
		return -1;
	ssize_t n = read(w->fd, w->buf + w->len, w->cap - w->len);
	if (n < 0)
		return io_classify(IO_VERB_RECV, -errno) == IO_RETRY ? 0 : -1;
	if (n == 0) {
		close(w->fd);
		w->fd = -1;
		return 0;
	}
	w->len += (size_t)n;
	return drain_records(w, total);
}

/* The workers' latest snapshots merged into sum (reset first), shown. */
static void parent_progress(struct worker *ws, uint32_t n, struct bench_stats *sum, struct live_view *v)
{
	bench_stats_reset(sum);
	for (uint32_t i = 0; i < n; i++)
		if (ws[i].snap_len > 0)
			bench_stats_decode_merge_steps(sum, BENCH_STEPS_LIVE, ws[i].snap, ws[i].snap_len);
	show_live(v, sum);
}

/* Read every pipe to its end; sum (NULL: nobody looks) holds the merged
 * snapshots. */
static int collect(const struct bench_run *r, struct worker *ws, uint32_t n, struct bench_stats *total,
		   struct bench_stats *sum, struct live_view *v)
{
	struct pollfd pfd[BENCH_WORKERS_MAX];
	bool forwarded = false;
	uint64_t next_progress = bench_clock_ns() + 1000000000ull;
	for (;;) {
		uint32_t open_count = 0;
		for (uint32_t i = 0; i < n; i++) {
			pfd[i] = (struct pollfd){ ws[i].fd, POLLIN, 0 };
			open_count += ws[i].fd >= 0;
		}
		if (open_count == 0)
			return 0;
		if (*r->stop && !forwarded) {
			for (uint32_t i = 0; i < n; i++)
				kill(ws[i].pid, SIGUSR1);
			forwarded = true;
		}
		if (poll(pfd, n, POLL_MS) < 0 && errno != EINTR)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (ws[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    read_worker(&ws[i], total) != 0)
				return -1;
		if (sum != NULL && bench_clock_ns() >= next_progress) {
			parent_progress(ws, n, sum, v);
			next_progress += 1000000000ull;
		}
	}
}

static int run_forked(const struct bench_run *r, uint32_t n, struct bench_stats *total, struct live_view *v)
{
	struct worker ws[BENCH_WORKERS_MAX];
	memset(ws, 0, sizeof ws);
	uint32_t started = 0;
	int rc = 0;
	struct bench_stats sum;
	bool live = live_wanted(r) && bench_stats_init(&sum) == 0;
	fflush(NULL); /* nothing buffered may be written twice */
	for (; started < n; started++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0)
			break;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			for (uint32_t i = 0; i < started; i++)
				close(ws[i].fd);
			worker_main(r, started, n, p[1]);
		}
		close(p[1]);
		if (pid < 0) {
			close(p[0]);
			break;
		}
		ws[started] = (struct worker){ .pid = pid, .fd = p[0] };
	}
	if (started < n) {
		fprintf(stderr, "smtpsink-bench: cannot start worker %u: %s\n", started, strerror(errno));
		*r->stop = 1;
		rc = -1;
	}
	if (collect(r, ws, started, total, live ? &sum : NULL, v) != 0)
		rc = -1;
	if (live)
		bench_stats_fini(&sum);
	for (uint32_t i = 0; i < started; i++) {
		int status = 0;
		if (ws[i].fd >= 0)
			close(ws[i].fd);
		waitpid(ws[i].pid, &status, 0);
		if (!ws[i].result || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "smtpsink-bench: worker %u failed\n", i);
			rc = -1;
		}
		free(ws[i].buf);
		free(ws[i].snap);
	}
	return rc;
}

int bench_workers_run(const struct bench_run *r, uint32_t workers, struct bench_stats *total)
{
	struct live_view v = { .r = r };
	v.start_ns = v.prev_ns = bench_clock_ns(); /* elapsed and the first line's rate count from here */
	int rc;
	if (workers <= 1)
		rc = run_here(r, 0, 1, total, live_wanted(r) ? local_progress : NULL, &v) == 0 ? 0 : -1;
	else
		rc = run_forked(r, workers, total, &v);
	if (v.printed)
		fputc('\n', stderr);
	return rc;
}
