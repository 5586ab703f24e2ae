/*
 * bench/bench_main.c - smtpsink-bench: parse options, choose the backend
 * and the number of worker processes, prepare the shared message content,
 * run, print the results; or, for `smtpsink-bench merge`, hand over to
 * bench_merge.c.  Wiring only; the work is in the modules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_backend.h"
#include "bench_config.h"
#include "bench_merge.h"
#include "bench_prom.h"
#include "bench_qidlog.h"
#include "bench_report.h"
#include "bench_tls.h"
#include "bench_workers.h"
#include "client_msg.h"
#include "io_classify.h"

#define FD_RESERVE 64u /* descriptors a worker keeps for itself (ring, pipes, log) */
#define AUTH_B64_MAX_BYTES 2048u
#define LINGER_POLL_NS 100000000ull /* --prometheus-linger: how often a signal is looked for */

static volatile sig_atomic_t stop_flag;

/* First signal: no new messages, finish and report.  Second: leave now. */
static void on_signal(int sig)
{
	(void)sig;
	if (stop_flag)
		_exit(130);
	stop_flag = 1;
}

/* Take all the hard limit allows: sockets (epoll) and fixed-file tables
 * (io_uring) are both bounded by it. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

static const struct bench_backend *choose_backend(const struct bench_config *cfg)
{
	if (cfg->io == BENCH_IO_EPOLL)
		return &bench_backend_epoll;
	int e = bench_uring_probe(cfg);
	if (e == 0)
		return &bench_backend_uring;
	if (cfg->io == BENCH_IO_URING) {
		fprintf(stderr, "smtpsink-bench: io_uring cannot run this here: %s\n", strerror(-e));
		return NULL;
	}
	if (io_classify(IO_VERB_SETUP, e) != IO_UNSUPPORTED) {
		/* a resource error is not a reason to run another engine */
		fprintf(stderr, "smtpsink-bench: io_uring set-up failed: %s\n", strerror(-e));
		return NULL;
	}
	fprintf(stderr, "smtpsink-bench: io_uring unavailable (%s): using epoll\n", strerror(-e));
	return &bench_backend_epoll;
}

/* Enough workers that each one's connections fit its descriptor limit. */
static uint32_t worker_count(const struct bench_config *cfg, rlim_t nofile)
{
	uint64_t per = nofile > FD_RESERVE * 2 ? nofile - FD_RESERVE : FD_RESERVE;
	uint64_t need = (cfg->connections + per - 1) / per;
	uint64_t n = cfg->workers > need ? cfg->workers : need;
	if (n > cfg->connections)
		n = cfg->connections;
	return n == 0 ? 1 : (uint32_t)n;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (off_t)BENCH_SIZE_MAX_BYTES) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*data = malloc(*len + 1);
	size_t got = 0;
	while (*data != NULL && got < *len) {
		ssize_t n = read(fd, *data + got, *len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return *data != NULL && got == *len ? 0 : -1;
}

/* The shared content: filler lines for generated messages, or --body. */
static int prepare_content(const struct bench_config *cfg, struct client_msg_spec *sp)
{
	memset(sp, 0, sizeof *sp);
	sp->from_tmpl = cfg->from;
	sp->to_tmpl = cfg->to;
	if (cfg->body_file != NULL) {
		uint8_t *file = NULL;
		size_t len = 0;
		int e = read_file(cfg->body_file, &file, &len) == 0 ? client_msg_load_body(file, len, sp) : -1;
		free(file);
		if (e != 0)
			fprintf(stderr, "smtpsink-bench: --body %s: cannot read it (or larger than 1 GiB)\n",
				cfg->body_file);
		return e;
	}
	sp->lines_len = (size_t)cfg->size_max + CLIENT_MSG_LINE_BYTES;
	uint8_t *lines = malloc(sp->lines_len);
	if (lines == NULL)
		return -1;
	client_msg_fill_lines(lines, sp->lines_len);
	sp->lines = lines;
	return 0;
}

static void add_cpu(struct bench_counts *c)
{
	struct rusage self, children;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	c->cpu_user_us = (uint64_t)(self.ru_utime.tv_sec + children.ru_utime.tv_sec) * 1000000u +
			 (uint64_t)(self.ru_utime.tv_usec + children.ru_utime.tv_usec);
	c->cpu_sys_us = (uint64_t)(self.ru_stime.tv_sec + children.ru_stime.tv_sec) * 1000000u +
			(uint64_t)(self.ru_stime.tv_usec + children.ru_stime.tv_usec);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The run's verdict: exit 1 when nothing connected, no transaction could
 * start, or more transactions failed (or connections or TLS handshakes
 * outside connect mode) than --max-failures. */
static int verdict(const struct bench_config *cfg, const struct bench_counts *c)
{
	uint64_t failures = c->txn_failed;
	if (cfg->mode != CLIENT_MODE_CONNECT) /* there a refused connection (or handshake) is a failed message */
		failures += c->errors[BENCH_ERR_CONNECT] + c->errors[BENCH_ERR_TLS_HANDSHAKE];
	if (c->sessions == 0) {
		fprintf(stderr, "smtpsink-bench: no connection could be made to %s\n", cfg->target_text);
		return 1;
	}
	if (c->txn_started == 0) {
		fprintf(stderr, "smtpsink-bench: no transaction could be started\n");
		return 1;
	}
	if (failures > cfg->max_failures) {
		fprintf(stderr,
			"smtpsink-bench: %llu failed (transactions and connections), more than --max-failures %llu\n",
			(unsigned long long)failures, (unsigned long long)cfg->max_failures);
		return 1;
	}
	return 0;
}

/* --prometheus-linger: serve the final counts until it is over or a
 * signal comes. */
static void linger(const struct bench_config *cfg)
{
	uint64_t left = cfg->prom_linger_ns;
	while (left > 0 && !stop_flag) {
		uint64_t step = left < LINGER_POLL_NS ? left : LINGER_POLL_NS;
		struct timespec ts = { (time_t)(step / 1000000000u), (long)(step % 1000000000u) };
		nanosleep(&ts, NULL);
		left -= step;
	}
}

static int run(const struct bench_config *cfg, struct bench_run *r, uint32_t workers)
{
	struct bench_stats total;
	if (bench_stats_init(&total) != 0) {
		fprintf(stderr, "smtpsink-bench: out of memory\n");
		return 1;
	}
	int rc = bench_workers_run(r, workers, &total);
	add_cpu(&total.c);
	struct bench_report_info ri = { cfg, r->ops->name, workers };
	if (cfg->json)
		bench_report_json(stdout, &ri, &total);
	else
		bench_report_human(stdout, &ri, &total);
	fflush(stdout);
	bench_report_rate_warning(stderr, cfg, &total.c);
	if (r->prom != NULL) {
		bench_prom_publish(r->prom, &total, false);
		linger(cfg);
	}
	if (rc == 0)
		rc = verdict(cfg, &total.c);
	bench_stats_fini(&total);
	return rc == 0 ? 0 : 1;
}

static void release_content(struct client_msg_spec *sp)
{
	free((void *)sp->lines);
	free((void *)sp->raw);
	free((void *)sp->stuffed);
}

/* --auth and --qid-log, then the run: the exit status. */
static int prepare_and_run(const struct bench_config *cfg, const struct bench_backend *ops,
			   const struct client_msg_spec *spec, rlim_t nofile)
{
	char auth[AUTH_B64_MAX_BYTES];
	if (cfg->auth != NULL && client_msg_auth_plain(cfg->auth, auth, sizeof auth) == 0) {
		fprintf(stderr, "smtpsink-bench: --auth: too long\n");
		return 2;
	}
	int qlog_fd = -1;
	if (cfg->qid_log != NULL && (qlog_fd = bench_qidlog_open(cfg->qid_log)) < 0) {
		fprintf(stderr, "smtpsink-bench: --qid-log %s: %s\n", cfg->qid_log, strerror(-qlog_fd));
		return 1;
	}
	struct bench_prom *prom = NULL;
	char why[256];
	if (cfg->prometheus && (prom = bench_prom_start(cfg, why, sizeof why)) == NULL) {
		fprintf(stderr, "smtpsink-bench: --prometheus %s: %s\n", cfg->prom_text, why);
		if (qlog_fd >= 0)
			close(qlog_fd);
		return 1;
	}
	install_signals();
	struct bench_run r = {
		.cfg = cfg,
		.ops = ops,
		.spec = spec,
		.auth_b64 = cfg->auth ? auth : NULL,
		.qlog_fd = qlog_fd,
		.stop = &stop_flag,
		.progress = cfg->progress == 1 || (cfg->progress < 0 && isatty(STDERR_FILENO)),
		.prom = prom,
	};
	int rc = run(cfg, &r, worker_count(cfg, nofile));
	bench_prom_stop(prom);
	if (qlog_fd >= 0)
		close(qlog_fd);
	return rc;
}

int main(int argc, char **argv)
{
	static struct bench_config cfg;
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return bench_merge_main(argc - 1, argv + 1);
	int r = bench_options_parse(argc, argv, &cfg);
	if (r != 0)
		return r > 0 ? 0 : 2;
	char why[256];
	if (cfg.tls != BENCH_TLS_NONE && !bench_tls_check(&cfg, why, sizeof why)) {
		fprintf(stderr, "smtpsink-bench: TLS: %s\n", why);
		free(cfg.source);
		return 2;
	}
	rlim_t nofile = raise_nofile();
	const struct bench_backend *ops = choose_backend(&cfg);
	struct client_msg_spec spec;
	int rc = 1;
	if (ops != NULL && prepare_content(&cfg, &spec) == 0) {
		rc = prepare_and_run(&cfg, ops, &spec, nofile);
		release_content(&spec);
	}
	free(cfg.source);
	return rc;
}
