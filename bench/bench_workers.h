/*
 * bench/bench_workers.h - running a configuration in one process or
 * several (fork), and merging what they measured.
 *
 * Owns: splitting the connections over workers (worker w of W takes every
 * W-th message of the run, see bench_sched.h), the pipe from each worker
 * to the parent (progress snapshots once a second, then the encoded
 * results), the merge, and what the run shows while it goes: the live
 * progress line and the --prometheus snapshots.  Why several: an
 * io_uring fixed-file table, like a process's descriptor table, is bounded
 * by RLIMIT_NOFILE (20,000 here), so 50,000 connections need three
 * processes; they also spread the generator over CPUs.
 */
#ifndef SMTPSINK_BENCH_WORKERS_H
#define SMTPSINK_BENCH_WORKERS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench_backend.h"
#include "bench_config.h"
#include "bench_prom.h"
#include "bench_stats.h"

struct bench_run {
	const struct bench_config *cfg;
	const struct bench_backend *ops;
	const struct client_msg_spec *spec;
	const char *auth_b64; /* NULL: no AUTH */
	int qlog_fd; /* --qid-log, -1: none */
	volatile sig_atomic_t *stop; /* set on SIGINT/SIGTERM */
	bool progress; /* print the live progress line on stderr */
	struct bench_prom *prom; /* --prometheus: publish the snapshots; NULL: none */
};

/* Run with `workers` processes (1: in this one) and merge their results
 * into *total (initialised by the caller).  0, or -1 if a worker failed. */
int bench_workers_run(const struct bench_run *r, uint32_t workers, struct bench_stats *total);

#endif
