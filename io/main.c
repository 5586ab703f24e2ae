/*
 * io/main.c - smtpsink: parse options, choose the backend, start one shard
 * per CPU, wait for SIGTERM/SIGINT (SIGHUP: reload the config file, the
 * fault rules: io/config_live.h), shut down within the grace period and
 * print what was served; tell systemd (Type=notify) READY=1 once it
 * listens and STOPPING=1 when it drains.  Wiring only; the work is in the
 * modules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "config_live.h"
#include "fault_live.h"
#include "http_server.h"
#include "indexer.h"
#include "io_classify.h"
#include "listen_sock.h"
#include "metrics.h"
#include "sd_notify.h"
#include "server_config.h"
#include "server_tls.h"
#include "shard.h"
#include "spool_fs.h"
#include "stats_line.h"

/* io_uring's fixed file tables and epoll's descriptors are both bounded by
 * RLIMIT_NOFILE: take all the hard limit allows. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* One server per spool: DIR/lock, held until the process exits
 * (io/spool_fs.h), taken before any segment or listener is touched. */
static bool own_spool(const struct server_config *cfg)
{
	long owner;
	int fd = spool_fs_lock(cfg->spool_dir, cfg->spool_mode, true, &owner);
	if (fd == -EWOULDBLOCK && owner > 0)
		fprintf(stderr, "smtpsink: spool %s is in use by another process (PID %ld): one server per spool\n",
			cfg->spool_dir, owner);
	else if (fd == -EWOULDBLOCK)
		fprintf(stderr, "smtpsink: spool %s is in use by another process: one server per spool\n",
			cfg->spool_dir);
	else if (fd < 0)
		fprintf(stderr, "smtpsink: cannot lock the spool %s/%s: %s\n", cfg->spool_dir, SPOOL_FS_LOCK_NAME,
			strerror(-fd));
	return fd >= 0; /* the descriptor stays open: the lock is ours until exit */
}

static const struct backend_ops *choose_backend(const struct server_config *cfg)
{
	if (cfg->io == IO_BACKEND_EPOLL)
		return &backend_epoll;
	int e = backend_uring_probe(cfg);
	if (e == 0)
		return &backend_uring;
	if (cfg->sqpoll) { /* asked for: no quiet fallback, to epoll or to an unpolled ring */
		if (cfg->sqpoll_cpu != SERVER_SQPOLL_CPU_ANY)
			fprintf(stderr, "smtpsink: --sqpoll: the kernel refused a poller on CPU %u: %s\n",
				cfg->sqpoll_cpu, strerror(-e));
		else
			fprintf(stderr, "smtpsink: --sqpoll: the kernel refused a polled io_uring: %s\n", strerror(-e));
		return NULL;
	}
	if (cfg->io == IO_BACKEND_URING) {
		fprintf(stderr, "smtpsink: io_uring is unavailable: %s\n", strerror(-e));
		return NULL;
	}
	if (io_classify(IO_VERB_SETUP, e) != IO_UNSUPPORTED) {
		/* a resource error is not a reason to run another engine */
		fprintf(stderr, "smtpsink: io_uring set-up failed: %s\n", strerror(-e));
		return NULL;
	}
	fprintf(stderr, "smtpsink: io_uring unavailable (%s): falling back to epoll\n", strerror(-e));
	return &backend_epoll;
}

static uint64_t monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Wait until every shard is running; false if one failed to start. */
static bool wait_ready(struct shard *shards, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		while (shard_ready(&shards[i]) == 0)
			usleep(1000);
		if (shard_ready(&shards[i]) < 0) {
			fprintf(stderr, "smtpsink: shard %u: %s set-up failed: %s\n", i, shards[i].ops->name,
				strerror(-shards[i].init_error));
			return false;
		}
	}
	return true;
}

/* A counter of struct shard_stats summed over the shards. */
#define TOTAL(src, field) metrics_sum(src, offsetof(struct shard_stats, field))

static void summary(const struct metrics_src *src, uint64_t started_s)
{
	unsigned long long messages = TOTAL(src, messages), faults = TOTAL(src, faults),
			   outcomes = TOTAL(src, outcomes), throttled = TOTAL(src, throttled),
			   proxy_refused = TOTAL(src, proxy_refused), stress_turns = TOTAL(src, stress_turns);
	fprintf(stderr,
		"smtpsink: served %llu connections, %llu messages, %llu message bytes (%llu bytes received) in %llu s;"
		" %llu refused, %llu timed out, %llu buffer shortages\n",
		(unsigned long long)TOTAL(src, conns_accepted), messages, (unsigned long long)TOTAL(src, message_bytes),
		(unsigned long long)TOTAL(src, bytes_in), (unsigned long long)(monotonic_s() - started_s),
		(unsigned long long)TOTAL(src, conns_refused), (unsigned long long)TOTAL(src, timeouts),
		(unsigned long long)TOTAL(src, enobufs));
	if (faults + outcomes + throttled > 0)
		fprintf(stderr, "smtpsink: %llu fault rule firings, %llu recipient outcomes, %llu rate-limited\n",
			faults, outcomes, throttled);
	uint64_t writes = 0, syncs = 0;
	for (unsigned i = 0; i < src->n; i++) {
		writes += src->shards[i].spool.writes;
		syncs += src->shards[i].spool.fsyncs;
	}
	if (writes > 0)
		fprintf(stderr, "smtpsink: spool: %llu batch writes, %llu fdatasyncs (%.1f messages each)\n",
			(unsigned long long)writes, (unsigned long long)syncs,
			syncs ? (double)messages / (double)syncs : 0.0);
	if (proxy_refused > 0)
		fprintf(stderr, "smtpsink: %llu connections refused: not from a --proxy-from peer\n", proxy_refused);
	if (stress_turns > 0)
		fprintf(stderr, "smtpsink: %llu loop turns in stress mode (most of --max-conns in use)\n",
			stress_turns);
}

/* Shared state before the shards start: rules, rate windows, transcript. */
static int shared_init(const struct server_config *cfg, struct server_shared *shared, struct fault_live *faults)
{
	if (fault_live_init(faults, cfg, shared) != 0)
		return -1;
	const struct fault_set *fs = faults->v[0];
	mem_budget_init(&shared->mem, cfg->memory_limit ? cfg->memory_limit : mem_budget_default());
	shared->seed = cfg->seed;
	if (shared->seed == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		shared->seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	if (fault_rules_count(fs->rules) > 0)
		fprintf(stderr, "smtpsink: %u fault rules in force, seed %llu\n", fault_rules_count(fs->rules),
			(unsigned long long)shared->seed);
	if (throttle_init(&shared->msg_rate, cfg->msg_rate, false) != 0 ||
	    throttle_init(&shared->conn_rate, cfg->conn_rate, false) != 0 ||
	    throttle_init(&shared->client_msg_rate, cfg->client_msg_rate, true) != 0 ||
	    throttle_init(&shared->client_conn_rate, cfg->client_conn_rate, true) != 0 ||
	    throttle_conns_init(&shared->client_conns, cfg->client_max_conns) != 0) {
		fprintf(stderr, "smtpsink: out of memory\n");
		return -1;
	}
	int e = trace_open(&shared->trace, cfg);
	if (e != 0) {
		fprintf(stderr, "smtpsink: --trace %s: %s\n", cfg->trace_path, strerror(-e));
		return -1;
	}
	return 0;
}

static void shared_fini(struct server_shared *shared, struct fault_live *faults)
{
	fault_live_fini(faults);
	throttle_fini(&shared->msg_rate);
	throttle_fini(&shared->conn_rate);
	throttle_fini(&shared->client_msg_rate);
	throttle_fini(&shared->client_conn_rate);
	throttle_conns_fini(&shared->client_conns);
	trace_close(&shared->trace);
}

/* The HTTP API and its indexer (http/, index/): off with --no-http, and
 * when the default address is taken (a second server on this machine). */
struct api {
	struct http_server *http;
	struct indexer *indexer;
};

/* The HTTP listener, claimed like the SMTP ones: fd, 0 when the default
 * address is in use (HTTP stays off), or -errno (reported). */
static int api_listen(const struct server_config *cfg)
{
	const struct listen_addr *la = &cfg->http_listen[0];
	int fd = listen_sock_claim(la);
	if (fd == 0)
		fd = listen_sock_open(la, false);
	if (fd == -EADDRINUSE && cfg->http_default) {
		fprintf(stderr, "smtpsink: HTTP API off: %s is in use (give --http ADDR, or --no-http)\n", la->text);
		return 0;
	}
	if (fd < 0)
		fprintf(stderr, "smtpsink: cannot listen on %s (--http): %s\n", la->text,
			fd == -EADDRINUSE ? "address in use (another server listens there)" : strerror(-fd));
	return fd;
}

/* Before the shards start: the listener, the server (not yet serving) and
 * the indexer, whose commit bell the shards ring after each committed batch
 * (io/commit_bell.h). */
static int api_prepare(struct server_config *cfg, struct api *api, struct fault_live *faults,
		       struct server_shared *shared, struct metrics_src *metrics)
{
	if (!cfg->http_set && !cfg->http_default)
		return 0;
	int fd = api_listen(cfg);
	if (fd <= 0)
		return fd;
	char err[512];
	struct http_server_config hc = {
		.listen_fd = fd,
		.addr_text = cfg->http_listen[0].text,
		.spool_path = cfg->discard ? NULL : cfg->spool_dir,
		.auth_file = cfg->http_auth,
		.cors_origin = cfg->http_cors,
		.version = SMTPSINK_VERSION,
		.chaos = { fault_live_chaos_get, fault_live_chaos_set, faults },
		.metrics = { metrics_expose, metrics_smtp_counts, metrics },
	};
	int e = http_server_new(&api->http, &hc, err, sizeof err);
	if (e == 0 && !cfg->discard) {
		const char *why = NULL;
		e = indexer_start(&api->indexer, cfg->spool_dir, http_server_on_new, api->http, &why);
		snprintf(err, sizeof err, "the indexer: %s", why != NULL ? why : strerror(-e));
	}
	if (e != 0) {
		fprintf(stderr, "smtpsink: --http: %s\n", err);
		return e;
	}
	if (api->indexer != NULL) { /* before the shards start; cleared only after they are joined */
		atomic_store_explicit(&shared->bell, indexer_bell(api->indexer), memory_order_release);
		atomic_store_explicit(&shared->index, indexer_share(api->indexer), memory_order_release);
	}
	return 0;
}

/* Once SMTP listens: serve HTTP, and say where. */
static int api_start(const struct server_config *cfg, struct api *api)
{
	char err[512];
	if (api->http == NULL)
		return 0;
	int e = http_server_start(api->http, api->indexer, err, sizeof err);
	if (e != 0)
		fprintf(stderr, "smtpsink: --http: %s\n", err);
	else
		fprintf(stderr, "smtpsink: HTTP API listening on %s\n", cfg->http_listen[0].text);
	return e;
}

/* The HTTP thread first (no request sees a half-stopped server), the
 * indexer once no shard can write its eventfd. */
static void api_stop(struct api *api, bool shards_joined)
{
	if (!shards_joined) {
		http_server_stop(api->http);
		return;
	}
	if (api->indexer != NULL)
		indexer_stop(api->indexer);
	http_server_free(api->http);
	api->indexer = NULL;
	api->http = NULL;
}

static unsigned shard_count(const struct server_config *cfg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cfg->shards ? cfg->shards : (cpus > 0 ? (unsigned)cpus : 1);
	return n > SHARD_MAX ? SHARD_MAX : n;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The main thread's watch over a run: --stats lines, --exit-after-time. */
struct watch {
	const struct server_config *cfg;
	const struct metrics_src *src;
	struct metrics_totals prev; /* at the last --stats line */
	uint64_t start_ms, prev_ms, next_ms, end_ms; /* monotonic; UINT64_MAX: never */
	uint32_t stats_s; /* --stats in force (SIGHUP may change it) */
};

static void watch_init(struct watch *w, const struct server_config *cfg, const struct metrics_src *src)
{
	memset(w, 0, sizeof *w);
	w->cfg = cfg;
	w->src = src;
	w->start_ms = w->prev_ms = monotonic_ms();
	w->stats_s = cfg->stats_s;
	w->next_ms = cfg->stats_s ? w->start_ms + cfg->stats_s * 1000ull : UINT64_MAX;
	w->end_ms = cfg->exit_after_time_s ? w->start_ms + cfg->exit_after_time_s * 1000ull : UINT64_MAX;
}

static void watch_line(struct watch *w, uint64_t now_ms)
{
	struct metrics_totals now;
	char line[STATS_LINE_BYTES];
	metrics_totals(w->src, &now);
	stats_line_interval(line, sizeof line, &w->prev, &now, now_ms - w->prev_ms, now_ms - w->start_ms);
	fputs(line, stderr); /* one write: whole lines on stderr */
	w->prev = now;
	w->prev_ms = now_ms;
	w->next_ms = now_ms + w->stats_s * 1000ull;
}

/* SIGHUP: the config file again; a new --stats interval counts from now. */
static void watch_reload(struct watch *w, struct config_live *cl, struct fault_live *faults,
			 struct server_shared *shared)
{
	uint32_t was = w->stats_s;
	config_live_reload(cl, faults, &shared->trace, &w->stats_s);
	if (w->stats_s != was)
		w->next_ms = w->stats_s ? monotonic_ms() + w->stats_s * 1000ull : UINT64_MAX;
}

/* Until SIGTERM or SIGINT (--exit-after's shard sends SIGTERM) or
 * --exit-after-time; SIGHUP reloads meanwhile. */
static void wait_for_stop(struct watch *w, sigset_t *sigs, struct config_live *cl, struct fault_live *faults,
			  struct server_shared *shared)
{
	for (;;) {
		uint64_t now = monotonic_ms();
		if (now >= w->end_ms) {
			fprintf(stderr, "smtpsink: --exit-after-time %llu s: shutting down\n",
				(unsigned long long)w->cfg->exit_after_time_s);
			return;
		}
		if (now >= w->next_ms) {
			watch_line(w, now);
			continue;
		}
		uint64_t until = w->next_ms < w->end_ms ? w->next_ms : w->end_ms, wait = until - now;
		struct timespec ts = { (time_t)(wait / 1000u), (long)(wait % 1000u) * 1000000l };
		int sig = until == UINT64_MAX ? sigwaitinfo(sigs, NULL) : sigtimedwait(sigs, NULL, &ts);
		if (sig == SIGHUP)
			watch_reload(w, cl, faults, shared);
		else if (sig > 0 && w->cfg->exit_after != 0 &&
			 atomic_load(&shared->exit_accepted) >= w->cfg->exit_after)
			fprintf(stderr, "smtpsink: --exit-after %llu: that many messages accepted, shutting down\n",
				(unsigned long long)w->cfg->exit_after);
		if (sig > 0 && sig != SIGHUP)
			return;
	}
}

/* "listening on ADDR... (backend, N shards)": the start-up line's text and
 * the service manager's STATUS. */
static void listening_text(char *line, size_t size, const struct server_config *cfg, const struct backend_ops *ops,
			   unsigned n)
{
	size_t len = (size_t)snprintf(line, size, "listening on");
	for (unsigned i = 0; i < cfg->listen_count && len < size; i++)
		len += (size_t)snprintf(line + len, size - len, " %s", cfg->listen[i].text);
	if (len < size)
		snprintf(line + len, size - len, " (%s, %u shard%s%s)", ops->name, n, n == 1 ? "" : "s",
			 cfg->discard ? ", --discard" : "");
}

/* How the shards run: pinned or not, and their pollers (io_uring only:
 * main.c refused --sqpoll otherwise). */
static void say_engine(const struct server_config *cfg, unsigned n)
{
	if (cfg->pin)
		fprintf(stderr, "smtpsink: --pin: shard N on CPU N mod %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	if (!cfg->sqpoll)
		return;
	char where[64] = "any CPU";
	if (cfg->sqpoll_cpu != SERVER_SQPOLL_CPU_ANY && n == 1)
		snprintf(where, sizeof where, "CPU %u", cfg->sqpoll_cpu);
	else if (cfg->sqpoll_cpu != SERVER_SQPOLL_CPU_ANY)
		snprintf(where, sizeof where, "CPUs %u-%u", cfg->sqpoll_cpu, cfg->sqpoll_cpu + n - 1);
	fprintf(stderr,
		"smtpsink: SQPOLL: a kernel poller thread per shard (iou-sqp-TID) on %s, asleep after %u ms idle;"
		" its CPU time is this process's\n",
		where, cfg->sqpoll_idle_ms);
}

/* "listening on ..." and what the operator should know, once SMTP listens. */
static void say_listening(const struct server_config *cfg, const struct backend_ops *ops, unsigned n)
{
	rlim_t nofile = raise_nofile();
	char line[SERVER_LISTEN_MAX * 160 + 128];
	listening_text(line, sizeof line, cfg, ops, n);
	fprintf(stderr, "smtpsink: %s\n", line); /* one write: stderr is unbuffered, the line is whole */
	if (cfg->proxy_protocol && cfg->proxy_from.count == 0)
		fprintf(stderr, "smtpsink: --proxy-protocol without --proxy-from: a PROXY header from any peer"
				" is believed\n");
	if (ops == &backend_epoll)
		fprintf(stderr, "smtpsink: epoll backend: at most %llu connections (RLIMIT_NOFILE)\n",
			(unsigned long long)nofile);
	say_engine(cfg, n);
}

/* Tell the service manager (systemd Type=notify, io/sd_notify.h) a state
 * and a STATUS line; without NOTIFY_SOCKET this does nothing. */
static void notify(const char *state, const char *status)
{
	char msg[SD_NOTIFY_MSG_MAX];
	snprintf(msg, sizeof msg, "%s\nSTATUS=%s", state, status); /* a long STATUS is cut, never the state */
	int e = sd_notify_send(msg);
	if (e < 0)
		fprintf(stderr, "smtpsink: NOTIFY_SOCKET: %s\n", strerror(-e));
}

/* The shards, each on cache lines of its own (their counters are read by
 * other threads: shard_stats.h). */
static struct shard *shards_alloc(unsigned n)
{
	size_t bytes = (size_t)n * sizeof(struct shard);
	struct shard *shards = aligned_alloc(_Alignof(struct shard), bytes);
	if (shards != NULL)
		memset(shards, 0, bytes);
	return shards;
}

static int serve(struct server_config *cfg, const struct backend_ops *ops, unsigned n, sigset_t *sigs,
		 struct config_live *cl)
{
	struct api api = { NULL, NULL };
	static struct server_shared shared;
	struct fault_live faults;
	shared.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (shared_init(cfg, &shared, &faults) != 0) {
		shared_fini(&shared, &faults);
		return 2;
	}
	struct shard *shards = shards_alloc(n);
	struct metrics_src metrics = { shards, n, &faults };
	unsigned started = 0, prepared = 0;
	shared.shard_count = n; /* --spool-max-bytes holds for all of them */
	int rc = 1;
	bool ready = false; /* READY=1 sent: STOPPING=1 follows */
	struct watch w;
	if (shards == NULL)
		return 1;
	for (; prepared < n; prepared++)
		if (shard_prepare(&shards[prepared], prepared, cfg, &shared, ops) != 0) {
			prepared++; /* what it set up is released below */
			goto out;
		}
	if (server_tls_prepare(cfg, shards, n) != 0 || api_prepare(cfg, &api, &faults, &shared, &metrics) != 0)
		goto out;
	for (; started < n; started++)
		if (shard_start(&shards[started]) != 0)
			break;
	uint64_t started_s = monotonic_s();
	if (started == n && wait_ready(shards, n)) {
		say_listening(cfg, ops, n);
		if (api_start(cfg, &api) != 0)
			goto stop;
		char status[SD_NOTIFY_MSG_MAX - 64];
		listening_text(status, sizeof status, cfg, ops, n);
		notify("READY=1", status);
		ready = true;
		watch_init(&w, cfg, &metrics);
		wait_for_stop(&w, sigs, cl, &faults, &shared);
		rc = 0;
	}
stop:
	if (ready) {
		char status[64];
		snprintf(status, sizeof status, "draining: up to %u s for open transactions", cfg->grace_s);
		notify("STOPPING=1", status);
	}
	api_stop(&api, false);
	shared.stop_deadline_s = monotonic_s() + cfg->grace_s;
	atomic_store(&shared.stopping, true);
	uint64_t one = 1;
	if (shared.wake_fd >= 0 && write(shared.wake_fd, &one, sizeof one) < 0)
		perror("smtpsink: waking the shards"); /* they notice within 250 ms anyway */
	for (unsigned i = 0; i < started; i++)
		shard_join(&shards[i]);
	if (rc == 0)
		summary(&metrics, started_s);
	if (rc == 0 && w.stats_s != 0) {
		char line[STATS_LINE_BYTES];
		metrics_totals(&metrics, &w.prev);
		stats_line_total(line, sizeof line, &w.prev, monotonic_ms() - w.start_ms);
		fputs(line, stderr);
	}
out:
	atomic_store(&shared.bell, NULL); /* no shard runs now */
	atomic_store(&shared.index, NULL);
	api_stop(&api, true);
	for (unsigned i = 0; i < prepared; i++)
		shard_release(&shards[i]);
	free(shards);
	shared_fini(&shared, &faults);
	return rc;
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	int r = options_parse(argc, argv, &cfg);
	if (r != 0)
		return r > 0 ? 0 : 2;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	/* blocked before any thread exists, so only sigwait() sees them */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (!cfg.discard && !own_spool(&cfg))
		return 1;
	const struct backend_ops *ops = choose_backend(&cfg);
	if (ops == NULL)
		return 1;
	struct config_live cl;
	config_live_init(&cl, argc, argv, &cfg);
	int rc = serve(&cfg, ops, shard_count(&cfg), &sigs, &cl);
	config_live_fini(&cl);
	return rc;
}
