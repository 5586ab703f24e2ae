/*
 * io/server_config.h - everything the server was told on its command line.
 *
 * Owns: the plain-data result of option parsing (io/options.c), read by
 * main.c to wire the modules and by every shard (read-only after start-up,
 * so shared without locks).  The protocol switches live in the embedded
 * struct smtp_config (core/).
 */
#ifndef SMTPSINK_SERVER_CONFIG_H
#define SMTPSINK_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cidr.h"
#include "cli.h"
#include "smtp_config.h"

#define SERVER_LISTEN_MAX 16
#define SERVER_FAULTS_MAX 256 /* --fault, --greeting-delay, --tarpit */
#define SERVER_CIDRS_MAX 16 /* ranges in one list option */
#define SERVER_SQPOLL_IDLE_DEFAULT_MS 1000u /* the kernel's own default (HZ) */
#define SERVER_SQPOLL_IDLE_MAX_MS 3600000u
#define SERVER_SQPOLL_CPU_ANY UINT32_MAX /* --sqpoll-cpu not given: the poller runs anywhere */
#define SERVER_SQPOLL_CPU_MAX 8191u /* the kernel's largest NR_CPUS, less one */

/* Address ranges given by a repeatable option. */
struct cidr_list {
	struct cidr v[SERVER_CIDRS_MAX];
	unsigned count;
};

/* What a transcript line's time says (--trace-time). */
enum trace_time {
	TRACE_TIME_UTC, /* wall clock, RFC 3339 UTC with microseconds */
	TRACE_TIME_SESSION, /* seconds since the session's connect */
};

enum io_backend_kind {
	IO_BACKEND_AUTO,
	IO_BACKEND_URING,
	IO_BACKEND_EPOLL
};

struct listen_addr {
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char text[128]; /* as given on the command line */
	bool tls; /* --listen-tls: implicit TLS (port 465 style) */
};

struct server_config {
	struct cli_file config; /* --config FILE: its keys (string options point into it) */
	struct smtp_config smtp;
	struct listen_addr listen[SERVER_LISTEN_MAX];
	unsigned listen_count;
	unsigned shards; /* 0: one per online CPU */
	bool pin; /* --pin: shard N on CPU N mod online CPUs; else where the scheduler puts it */
	enum io_backend_kind io;
	bool sqpoll; /* io_uring: a kernel thread per shard polls its submission queue */
	uint32_t sqpoll_idle_ms; /* the poller sleeps after this long without SQEs; 0: not given */
	uint32_t sqpoll_cpu; /* shard N's poller on CPU sqpoll_cpu + N, or SERVER_SQPOLL_CPU_ANY */
	bool discard; /* accept and throw away every message */
	const char *spool_dir; /* capture mode: DIR/shard-NN/... */
	uint64_t segment_size; /* bytes per segment, preallocated */
	uint32_t sync; /* enum spool_sync */
	uint64_t spool_max_bytes; /* retention; 0: none */
	uint64_t spool_max_age_s; /* retention; 0: none */
	uint64_t spool_min_free; /* MAIL gets 452 with less room; UINT64_MAX: the default */
	uint32_t spool_mode; /* spool file mode; directories get x where r is set */
	uint32_t max_conns; /* across all shards */
	uint32_t timeout_s; /* idle, and each command's deadline (RFC 5321 4.5.3.2) */
	uint32_t session_max_s; /* a whole session; 0: none */
	uint32_t client_max_conns; /* concurrent sessions per client address; 0: any */
	uint32_t data_min_rate; /* bytes/s during DATA/BDAT; 0: off */
	uint32_t grace_s; /* shutdown: time for transactions to finish */
	bool proxy_protocol; /* expect a PROXY v1/v2 header first */
	struct cidr_list proxy_from; /* trusted proxies (implies proxy_protocol) */
	uint32_t node_id; /* queue IDs: unique across hosts (0..65535) */
	uint32_t recv_buf_bytes; /* size of each provided receive buffer */
	uint32_t recv_bufs; /* receive buffers per shard (power of two) */
	uint64_t memory_limit; /* bytes held for clients, all shards; 0: the default */
	/* fault injection (docs/FAULTS.md) */
	const char *fault_text[SERVER_FAULTS_MAX]; /* rules, in order */
	unsigned fault_count;
	const char *fault_file; /* more rules; re-read on SIGHUP */
	uint64_t seed; /* random choices; 0: from the clock */
	bool no_recipient_outcomes; /* tempfail@ etc. are plain recipients */
	uint32_t msg_rate, conn_rate; /* per second, all clients; 0: off */
	uint32_t client_msg_rate, client_conn_rate; /* per client address */
	/* what clients did */
	const char *trace_path; /* --trace FILE, "-": stdout; NULL: off */
	struct cidr_list trace_clients; /* none: every client */
	enum trace_time trace_time;
	uint32_t idle_gap_ms; /* session reports: silences longer than this */
	bool no_session_reports;
	/* TLS (tls/) */
	const char *tls_cert, *tls_key; /* PEM files */
	bool tls_self_signed; /* generate an ECDSA P-256 certificate */
	const char *tls_protocols, *tls_ciphers;
	/* the HTTP API (http/) */
	struct listen_addr http_listen[SERVER_LISTEN_MAX]; /* [0] is served */
	bool http_set; /* --http given */
	bool http_default; /* not given: the default address, given up quietly when taken */
	bool no_http;
	const char *http_auth; /* --http-auth FILE */
	const char *http_cors; /* --http-cors ORIGIN */
	/* watching a run (docs/METRICS.md) */
	uint32_t stats_s; /* --stats: a counter line on stderr this often; 0: none */
	uint64_t exit_after; /* stop after this many messages answered 250; 0: never */
	uint64_t exit_after_time_s; /* stop this long after start; 0: never */
};

/* Parse argv into *cfg (defaults first).  Returns 0 to run, 1 when --help or
 * --version was printed (exit 0), -1 on a bad option (message printed to
 * stderr, exit 2). */
int options_parse(int argc, char **argv, struct server_config *cfg);
/* Free what options_parse() allocated (the fault rule texts, the config
 * file). */
void options_free(struct server_config *cfg);

#endif
