/*
 * bench/bench_config.h - smtpsink-bench's configuration, as parsed from the
 * command line (bench_options.c) and read by everything else.  Filled once
 * at start-up; read-only afterwards, and shared by forked workers.
 */
#ifndef SMTPSINK_BENCH_CONFIG_H
#define SMTPSINK_BENCH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "client_proto.h"

#define BENCH_CONNECTIONS_MAX 1000000u
#define BENCH_SOURCE_ADDRS_MAX 4096u
#define BENCH_WORKERS_MAX 64u
#define BENCH_SIZE_MAX_BYTES (1u << 30) /* one message: 1 GiB */
#define BENCH_TARGET_TEXT_BYTES 128u

enum bench_io {
	BENCH_IO_AUTO,
	BENCH_IO_URING,
	BENCH_IO_EPOLL
};

enum bench_tls_mode {
	BENCH_TLS_NONE,
	BENCH_TLS_STARTTLS, /* --starttls: EHLO, STARTTLS, handshake, EHLO */
	BENCH_TLS_IMPLICIT, /* --tls: the handshake right after connect (port 465 style) */
};

struct bench_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct bench_config {
	struct bench_addr target;
	char target_text[BENCH_TARGET_TEXT_BYTES];
	uint32_t connections;
	uint64_t messages; /* BENCH_SCHED_UNLIMITED: run for duration_ns */
	uint64_t duration_ns; /* 0: until messages are sent */
	double rate; /* 0: closed loop */
	enum client_mode mode;
	bool no_rset;
	uint32_t size_min, size_max;
	uint32_t rcpts;
	const char *from, *to, *helo;
	const char *auth; /* USER:PASS, or NULL */
	const char *body_file;
	struct bench_addr *source; /* --source-addrs, round-robin; NULL: none */
	uint32_t source_count;
	uint32_t workers; /* 0: as many as the descriptor limit needs */
	enum bench_io io;
	uint32_t timeout_s;
	uint64_t max_failures; /* failed transactions tolerated before exit 1 */
	bool json;
	const char *qid_log;
	uint64_t seed;
	int progress; /* -1 auto (a terminal), 0 off, 1 on */
	bool prometheus; /* --prometheus: serve live counters at prom_addr */
	struct bench_addr prom_addr;
	char prom_text[BENCH_TARGET_TEXT_BYTES];
	uint64_t prom_linger_ns; /* keep serving the final counts this long */
	enum bench_tls_mode tls; /* from --starttls / --tls */
	bool starttls, implicit_tls; /* the flags as given */
	bool tls_resume; /* offer the worker's last session ticket */
	const char *tls_protocols, *tls_ciphers; /* NULL: tls_ctx's defaults */
	const char *tls_sni; /* server name indication; NULL: none */
};

/* 0 to run, 1 after --help/--version, -1 on a bad command line (said why). */
int bench_options_parse(int argc, char **argv, struct bench_config *cfg);

#endif
