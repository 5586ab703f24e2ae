/*
 * io/shard.c - a shard's pools, listeners and event loop.
 *
 * Owns: creating a shard's SO_REUSEPORT listeners (main thread, so bind
 * errors are reported before anything runs), its receive buffer mapping,
 * the connection slab, the output-buffer and carry free lists, and the loop: refresh the
 * clocks, fire due timers, handle shutdown, then let the backend submit,
 * wait and deliver completions.  Allocation after start-up happens only
 * when a pool grows to a new high-water mark; freed objects are kept.
 * The thread is named shard-N (its io_uring poller, with --sqpoll, is
 * iou-sqp-TID of that thread); pinned to a CPU only with --pin.
 */
#define _GNU_SOURCE
#include "shard.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "listen_sock.h"
#include "tls_ctx.h"

#ifdef SMTPSINK_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#define LOOP_WAIT_MS 250u
#define CONN_SLAB_CHUNK 256u
#define THREAD_NAME_BYTES 16u /* the kernel's TASK_COMM_LEN, with the NUL */

static int open_listeners(struct shard *sh)
{
	for (unsigned i = 0; i < sh->cfg->listen_count; i++) {
		const struct listen_addr *la = &sh->cfg->listen[i];
		if (la->sa.ss_family == AF_UNIX && sh->index != 0)
			continue; /* one path, one socket: shard 0 serves it */
		int fd = 0;
		if (sh->index == 0) /* the first shard claims the address */
			fd = listen_sock_claim(la);
		if (fd == 0)
			fd = listen_sock_open(la, true);
		if (fd == -EADDRINUSE) {
			fprintf(stderr,
				"smtpsink: cannot listen on %s: address in use (another server listens there)\n",
				la->text);
			return fd;
		}
		if (fd < 0) {
			fprintf(stderr, "smtpsink: cannot listen on %s: %s\n", la->text, strerror(-fd));
			return fd;
		}
		sh->listen_tls[sh->listen_count] = la->tls;
		sh->listen_fd[sh->listen_count++] = fd;
	}
	return 0;
}

static int rbuf_pool_init(struct rbuf_pool *p, uint32_t count, uint32_t buf_bytes)
{
	size_t bytes = (size_t)count * buf_bytes;
	p->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return -ENOMEM;
	}
	p->count = count;
	p->buf_bytes = buf_bytes;
	p->next = calloc(count, sizeof *p->next);
	p->len = calloc(count, sizeof *p->len);
	p->free_stack = calloc(count, sizeof *p->free_stack);
	if (p->next == NULL || p->len == NULL || p->free_stack == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++)
		p->free_stack[i] = (uint16_t)(count - 1 - i);
	p->free_count = count;
	return 0;
}

int shard_prepare(struct shard *sh, unsigned index, const struct server_config *cfg, struct server_shared *shared,
		  const struct backend_ops *ops)
{
	memset(sh, 0, sizeof *sh);
	sh->index = index;
	sh->cfg = cfg;
	sh->seed = shared->seed;
	sh->shared = shared;
	sh->ops = ops;
	sh->cpu = -1;
	sh->accepting = true;
	sh->spool.dir_fd = sh->spool.seg_fd = -1;
	conn_fault_texts_init(&sh->texts, cfg->smtp.hostname);
	mem_local_init(&sh->mem, &shared->mem);
	free_list_init(&sh->outs, CONN_OUT_BYTES);
	free_list_init(&sh->carries, LINE_SCAN_CARRY_BYTES);
	int e = rbuf_pool_init(&sh->rbufs, cfg->recv_bufs, cfg->recv_buf_bytes);
	if (e != 0)
		return e;
	/* the addresses first: a server that cannot have them touches no spool */
	if ((e = open_listeners(sh)) != 0 || cfg->discard)
		return e;
	shard_refresh_clocks(sh);
	e = spool_open(&sh->spool, cfg, index, sh->wall_us);
	if (e == 0 && shared->shard_count > 0)
		spool_share_usage(&sh->spool, shared->spool_usage, shared->shard_count);
	sh->spool.index = &shared->index; /* set by main.c once the indexer runs, before the shards do */
	if (e != 0)
		fprintf(stderr, "smtpsink: shard %u: cannot open the spool in %s: %s\n", index, cfg->spool_dir,
			strerror(-e));
	return e;
}

/* A chunk of the connection slab; chunks are kept until the shard ends. */
struct conn_slab {
	struct conn_slab *next;
	struct conn conns[CONN_SLAB_CHUNK];
};

struct conn *shard_conn_alloc(struct shard *sh)
{
	if (sh->conn_free == NULL) {
		struct conn_slab *chunk = calloc(1, sizeof *chunk);
		if (chunk == NULL)
			return NULL;
		chunk->next = sh->slabs;
		sh->slabs = chunk;
		for (unsigned i = 0; i < CONN_SLAB_CHUNK; i++) {
			chunk->conns[i].next = sh->conn_free;
			sh->conn_free = &chunk->conns[i];
		}
	}
	struct conn *c = sh->conn_free;
	sh->conn_free = c->next;
	return c;
}

void shard_conn_free(struct shard *sh, struct conn *c)
{
	c->next = sh->conn_free;
	sh->conn_free = c;
}

void shard_refresh_clocks(struct shard *sh)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sh->now_s = (uint64_t)ts.tv_sec;
	sh->mono_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	sh->now_ms = sh->mono_us / 1000u;
	clock_gettime(CLOCK_REALTIME, &ts);
	sh->wall_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fire(void *ctx, struct timer_node *node)
{
	(void)ctx;
	struct conn *c = (struct conn *)((char *)node - offsetof(struct conn, timer));
	conn_on_timer(c);
}

static void fire_hold(void *ctx, struct timer_node *node)
{
	(void)ctx;
	struct conn *c = (struct conn *)((char *)node - offsetof(struct conn, timer));
	conn_on_hold_done(c);
}

/* SIGTERM: stop accepting, close idle sessions with 421, force the rest
 * when the grace period ends.  True when the shard may exit. */
static bool shutting_down(struct shard *sh)
{
	if (!atomic_load(&sh->shared->stopping))
		return false;
	if (sh->accepting) {
		sh->accepting = false;
		sh->ops->stop_accepting(sh);
	}
	bool force = sh->now_s >= sh->shared->stop_deadline_s;
	for (struct conn *c = sh->live, *next; c != NULL; c = next) {
		next = c->next;
		conn_shutdown(c, force);
	}
	return sh->live_count == 0 && spool_idle(&sh->spool);
}

/* Give the shard's thread a jemalloc arena of its own, so allocations from
 * different shards never share arena locks (glibc: nothing to do). */
static void own_arena(void)
{
#ifdef SMTPSINK_JEMALLOC
	unsigned arena;
	size_t len = sizeof arena;
	if (mallctl("arenas.create", &arena, &len, NULL, 0) == 0)
		mallctl("thread.arena", NULL, NULL, &arena, sizeof arena);
#endif
}

/* Stress mode (as Postfix's): most of --max-conns in use makes every
 * deadline shorter (conn_timer.c); on at 80 %, off again under 70 %. */
void shard_check_stress(struct shard *sh)
{
	uint64_t live = atomic_load_explicit(&sh->shared->conns, memory_order_relaxed);
	uint64_t max = sh->cfg->max_conns;
	bool stress = sh->stress ? live * 10 >= max * 7 : live * 10 >= max * 8;
	if (stress != sh->stress && sh->index == 0)
		fprintf(stderr, "smtpsink: %s stress mode: %llu of %llu connections in use\n",
			stress ? "entering" : "leaving", (unsigned long long)live, (unsigned long long)max);
	bool entering = stress && !sh->stress;
	sh->stress = stress;
	shard_stats_add(&sh->stats.stress_turns, stress);
	if (entering) /* deadlines armed before are too far now */
		for (struct conn *c = sh->live; c != NULL; c = c->next)
			conn_on_stress(c);
}

/* Once a second: the gauges other threads read (shard_stats.h). */
static void publish_gauges(struct shard *sh)
{
	uint64_t bytes = 0, segments = 0;
	sh->gauges_s = sh->now_s;
	if (sh->spool.dir_fd >= 0)
		spool_files_measure(&sh->spool, &bytes, &segments);
	shard_stats_set(&sh->stats.spool_bytes, bytes);
	shard_stats_set(&sh->stats.spool_segments, segments);
}

static void *shard_main(void *arg)
{
	struct shard *sh = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main thread */
	own_arena();
	shard_refresh_clocks(sh);
	timer_wheel_init(&sh->timers, sh->now_s);
	timer_wheel_init(&sh->holds, sh->now_ms);
	sh->faults = atomic_load(&sh->shared->faults);
	queue_id_init(&sh->qids, sh->cfg->node_id, sh->index, sh->spool.qid_floor_us);
	int e = sh->ops->init(sh);
	atomic_store(&sh->ready, e == 0 ? 1 : -1);
	sh->init_error = e;
	if (e != 0)
		return NULL;
	for (;;) {
		shard_refresh_clocks(sh);
		sh->faults = atomic_load_explicit(&sh->shared->faults, memory_order_acquire);
		timer_wheel_advance(&sh->timers, sh->now_s, fire, sh);
		timer_wheel_advance(&sh->holds, sh->now_ms, fire_hold, sh);
		if (shutting_down(sh))
			break;
		shard_stats_add(&sh->stats.loop_turns, 1);
		shard_check_stress(sh);
		if (sh->rbufs_short) { /* blocked sessions give their buffers back */
			conn_input_reclaim(sh);
			sh->rbufs_short = false;
		}
		spool_tick(sh); /* submit this turn's batch: group commit */
		if (sh->now_s != sh->gauges_s)
			publish_gauges(sh);
		trace_flush(&sh->trace, &sh->shared->trace);
		/* a fault delay ending sooner than the usual wait shortens it */
		e = sh->ops->run_once(sh, (unsigned)timer_wheel_until_next(&sh->holds, LOOP_WAIT_MS));
		if (e < 0) {
			fprintf(stderr, "smtpsink: shard %u: event loop failed: %s\n", sh->index, strerror(-e));
			break;
		}
	}
	sh->ops->fini(sh);
	trace_flush(&sh->trace, &sh->shared->trace);
	return NULL;
}

/* Start the shard's thread; with --pin, bound to CPU index mod online CPUs. */
int shard_start(struct shard *sh)
{
	int e = pthread_create(&sh->thread, NULL, shard_main, sh);
	if (e != 0)
		return -e;
	char name[THREAD_NAME_BYTES];
	snprintf(name, sizeof name, "shard-%u", sh->index);
	pthread_setname_np(sh->thread, name); /* for top -H and /proc/PID/task/TID/comm */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (sh->cfg->pin && cpus > 0) { /* why not by default: docs/ARCHITECTURE.md, "Shards and CPUs" */
		cpu_set_t set;
		CPU_ZERO(&set);
		sh->cpu = (int)(sh->index % (unsigned)cpus);
		CPU_SET(sh->cpu, &set);
		pthread_setaffinity_np(sh->thread, sizeof set, &set);
	}
	return 0;
}

/* 1 ready, -1 failed (init_error says why), 0 not yet. */
int shard_ready(struct shard *sh)
{
	return atomic_load(&sh->ready);
}

void shard_join(struct shard *sh)
{
	pthread_join(sh->thread, NULL);
}

void shard_release(struct shard *sh)
{
	tls_ctx_free(sh->tls_ctx);
	sh->tls_ctx = NULL;
	mem_local_fini(&sh->mem);
	trace_buf_free(&sh->trace);
	if (sh->spool.dir_fd >= 0)
		spool_close(&sh->spool);
	for (unsigned i = 0; i < sh->listen_count; i++)
		if (sh->listen_fd[i] >= 0)
			close(sh->listen_fd[i]);
	if (sh->rbufs.base != NULL)
		munmap(sh->rbufs.base, (size_t)sh->rbufs.count * sh->rbufs.buf_bytes);
	free(sh->rbufs.next);
	free(sh->rbufs.len);
	free(sh->rbufs.free_stack);
	free_list_fini(&sh->outs);
	free_list_fini(&sh->carries);
	while (sh->slabs != NULL) {
		struct conn_slab *chunk = sh->slabs;
		sh->slabs = chunk->next;
		free(chunk);
	}
	sh->conn_free = NULL;
}
