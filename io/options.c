/*
 * io/options.c - the server's command line: its option rows for the one
 * parser (cli/cli.h), the values only the server has, and the checks
 * across options.
 *
 * Owns: the option table (name, kind, where the value goes, range,
 * argument name, help, default), listen address syntax, fault rule
 * shorthands, address range lists, the defaults, and what must hold once
 * every option is read.  Parsing, errors (exit 2) and --help are cli/'s,
 * from the same rows.  The --no-X switch of each extension comes from its
 * row in core's registry (core/smtp_verbs.c), in bit order.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cli.h"
#include "server_config.h"
#include "smtp_limits.h"
#include "smtp_verbs.h"
#include "spool.h"
#include "spool_fs.h"
#include "tls_ctx.h"

#ifndef SMTPSINK_VERSION
#define SMTPSINK_VERSION "0"
#endif

#define SERVER_DEFAULT_LISTEN "127.0.0.1:2525"
#define SERVER_DEFAULT_HTTP "127.0.0.1:8025" /* Mailpit's port */
#define HOST_MAX_BYTES 64u /* the host part of HOST:PORT */

static const char *const io_words[] = { "auto", "uring", "epoll", NULL };
static const char *const sync_words[] = { "none", "group", "always", NULL };
static const char *const bare_lf_words[] = { "preserve", "normalize", "reject", NULL };
static const char *const trace_time_words[] = { "utc", "session", NULL }; /* enum trace_time */

/* Where parsed addresses go: the SMTP listeners, or the HTTP one. */
struct listen_list {
	struct listen_addr *v;
	unsigned *count;
	unsigned max;
};

/* "unix:/path". */
static const char *listen_unix(const char *v, struct listen_addr *la)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&la->sa;
	if (strlen(v + 5) == 0 || strlen(v + 5) >= sizeof un->sun_path)
		return "bad unix socket path";
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, v + 5);
	la->sa_len = sizeof *un;
	return NULL;
}

/* A name: every address it resolves to (getaddrinfo, TCP), in its order;
 * each keeps the name in its text, with the address when there are more. */
static const char *listen_name(struct listen_list *l, const char *v, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return "cannot resolve the host name (use an address, or [v6] for IPv6)";
	const char *why = NULL;
	unsigned added = 0;
	for (struct addrinfo *a = res; a != NULL && why == NULL; a = a->ai_next) {
		bool dup = false;
		for (unsigned i = *l->count - added; i < *l->count && !dup; i++)
			dup = l->v[i].sa_len == a->ai_addrlen && memcmp(&l->v[i].sa, a->ai_addr, a->ai_addrlen) == 0;
		if (dup || a->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		if (*l->count == l->max) {
			why = "too many listen addresses";
			break;
		}
		struct listen_addr *la = &l->v[(*l->count)++];
		memset(la, 0, sizeof *la);
		memcpy(&la->sa, a->ai_addr, a->ai_addrlen);
		la->sa_len = a->ai_addrlen;
		char ip[INET6_ADDRSTRLEN] = "?";
		const void *in = a->ai_family == AF_INET6 ?
					 (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr :
					 (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
		inet_ntop(a->ai_family, in, ip, sizeof ip);
		snprintf(la->text, sizeof la->text, "%s (%s)", v, ip);
		added++;
	}
	freeaddrinfo(res);
	return why;
}

/* "host:port", "[v6]:port", "name:port" or "unix:/path"; NULL, or why not.
 * A literal address is one listen address; a name may give several. */
static const char *listen_parse(struct listen_list *l, const char *v)
{
	if (*l->count == l->max)
		return "too many listen addresses";
	struct listen_addr *la = &l->v[*l->count];
	memset(la, 0, sizeof *la);
	snprintf(la->text, sizeof la->text, "%s", v);
	const char *why = NULL;
	if (strncmp(v, "unix:", 5) == 0) {
		why = listen_unix(v, la);
		*l->count += why == NULL;
		return why;
	}
	char host[HOST_MAX_BYTES];
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof host)
		return "expected HOST:PORT";
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	uint64_t port;
	if (cli_value_u64(colon + 1, 1, 65535, &port) != NULL)
		return "expected HOST:PORT with PORT 1..65535";
	size_t hl = strlen(host);
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la->sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la->sa;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return "bad IPv6 address";
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		la->sa_len = sizeof *s6;
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		la->sa_len = sizeof *s4;
	} else {
		return listen_name(l, v, host, colon + 1);
	}
	(*l->count)++;
	return NULL;
}

static const char *parse_listen(const struct cli_opt *o, const char *v)
{
	struct server_config *cfg = o->dest;
	struct listen_list l = { cfg->listen, &cfg->listen_count, SERVER_LISTEN_MAX };
	return listen_parse(&l, v);
}

/* --listen-tls ADDR: a listener whose connections start with TLS. */
static const char *parse_listen_tls(const struct cli_opt *o, const char *v)
{
	struct server_config *cfg = o->dest;
	unsigned before = cfg->listen_count;
	const char *why = parse_listen(o, v);
	for (unsigned i = before; i < cfg->listen_count; i++)
		cfg->listen[i].tls = true;
	return why;
}

/* --http ADDR: the last one given counts; a name serves its first address. */
static const char *parse_http(const struct cli_opt *o, const char *v)
{
	struct server_config *cfg = o->dest;
	unsigned count = 0;
	struct listen_list l = { cfg->http_listen, &count, SERVER_LISTEN_MAX };
	const char *why = listen_parse(&l, v);
	cfg->http_set = why == NULL;
	return why;
}

/* Keep a rule's text, after the row's prefix (a shorthand such as
 * --tarpit); it is checked when the rule set is built, with the file's
 * rules, before anything starts. */
static const char *parse_fault(const struct cli_opt *o, const char *v)
{
	struct server_config *cfg = o->dest;
	const char *prefix = o->data;
	if (cfg->fault_count == SERVER_FAULTS_MAX)
		return "too many rules on the command line (use --fault-file)";
	size_t n = strlen(prefix) + strlen(v) + 1;
	char *text = malloc(n);
	if (text == NULL)
		return "out of memory";
	snprintf(text, n, "%s%s", prefix, v);
	cfg->fault_text[cfg->fault_count++] = text; /* until options_free() */
	return NULL;
}

void options_free(struct server_config *cfg)
{
	for (unsigned i = 0; i < cfg->fault_count; i++)
		free((char *)cfg->fault_text[i]);
	cfg->fault_count = 0;
	cli_file_free(&cfg->config);
}

/* --spool-mode: an octal file mode (directories get x where r is). */
static const char *parse_spool_mode(const struct cli_opt *o, const char *v)
{
	return spool_fs_parse_mode(v, o->dest) == 0 ? NULL :
						      "an octal mode with 0600, at most 0666 or 0777 (0640 or 0750)";
}

/* An address range, added to the row's struct cidr_list. */
static const char *parse_cidr(const struct cli_opt *o, const char *v)
{
	struct cidr_list *l = o->dest;
	if (l->count == SERVER_CIDRS_MAX)
		return "too many ranges";
	if (!cidr_parse(v, &l->v[l->count]))
		return "expected an address or ADDR/BITS";
	l->count++;
	return NULL;
}

/* Where the connection is served, and how it is kept. */
static void rows_engine(struct cli *c, struct server_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_custom("listen", parse_listen, cfg, NULL, "ADDR",
			   "listen on 127.0.0.1:2525, [::1]:2525, localhost:2525 (every address of the name), "
			   "unix:/path (repeatable)"),
		cli_def(cli_u32("shards", &cfg->shards, 0, 256, "N", "event loops, one per CPU"), "online CPUs"),
		cli_flag("pin", &cfg->pin,
			 "pin shard N to CPU N (mod online CPUs); default: the scheduler places them "
			 "(docs/ARCHITECTURE.md)"),
		cli_enum("io", &cfg->io, io_words, "I/O backend: auto is io_uring, else epoll"),
		cli_flag("sqpoll", &cfg->sqpoll,
			 "io_uring: a kernel thread per shard polls its submission queue (no syscall to submit)"),
		cli_def(cli_duration32("sqpoll-idle", &cfg->sqpoll_idle_ms, CLI_MS, 1, SERVER_SQPOLL_IDLE_MAX_MS, "MS",
				       "the poller spins this long after the last submission, then sleeps (implies "
				       "--sqpoll)"),
			"1s"),
		cli_def(cli_u32("sqpoll-cpu", &cfg->sqpoll_cpu, 0, SERVER_SQPOLL_CPU_MAX, "N",
				"pin shard K's poller to CPU N+K (implies --sqpoll)"),
			"not pinned"),
		cli_flag("discard", &cfg->discard, "accept and throw away every message (no spool)"),
		cli_string("spool", &cfg->spool_dir, "DIR", "capture every message in DIR"),
		cli_enum("sync", &cfg->sync, sync_words,
			 "when a 250 may leave: none (queued), group (a shared fdatasync), always (its own)"),
		cli_size64("segment-size", &cfg->segment_size, 1u << 20, 1ull << 40, "BYTES", "spool segment size"),
		cli_size64("spool-max-bytes", &cfg->spool_max_bytes, 0, UINT64_MAX / 2, "BYTES",
			   "delete oldest segments past this, 0: keep all"),
		cli_def(cli_size64("spool-min-free", &cfg->spool_min_free, 0, UINT64_MAX / 2, "BYTES",
				   "MAIL gets 452 4.3.1 while the spool's disk has less room, 0: no check"),
			"1.5 x --max-size, at most 1/8 of the disk"),
		cli_def(cli_custom("spool-mode", parse_spool_mode, &cfg->spool_mode, NULL, "MODE",
				   "spool file mode, octal (0640: the group may read); directories get x where r is"),
			"0600"),
		cli_duration64("spool-max-age", &cfg->spool_max_age_s, CLI_SECONDS, 0, 100ull * 365 * 86400, "SECS",
			       "delete segments older than this, 0: keep all"),
		cli_u32("max-conns", &cfg->max_conns, 1, 10000000, "N", "concurrent sessions"),
		cli_duration32("timeout", &cfg->timeout_s, CLI_SECONDS, 1, 86400, "SECS",
			       "idle limit, and deadline for each command from its first byte"),
		cli_duration32("session-max", &cfg->session_max_s, CLI_SECONDS, 0, 30u * 86400, "SECS",
			       "deadline for a whole session, 0: none"),
		cli_def(cli_u32("client-max-conns", &cfg->client_max_conns, 0, 10000000, "N",
				"concurrent sessions from one address, 0: any"),
			"0"),
		cli_size32("data-min-rate", &cfg->data_min_rate, 0, 1u << 30, "BYTES",
			   "minimum DATA rate per second, 0: off"),
		cli_duration32("grace", &cfg->grace_s, CLI_SECONDS, 0, 86400, "SECS",
			       "shutdown: time for transactions to finish"),
		cli_flag("proxy-protocol", &cfg->proxy_protocol, "expect a HAProxy PROXY v1/v2 header"),
		cli_custom(
			"proxy-from", parse_cidr, &cfg->proxy_from, NULL, "CIDR",
			"PROXY headers only from these peers, others refused (repeatable; implies --proxy-protocol)"),
		cli_def(cli_u32("node-id", &cfg->node_id, 0, 65535, "N", "host number in queue IDs"), "0"),
		cli_size32("recv-buffer", &cfg->recv_buf_bytes, 1024, 1u << 20, "BYTES", "receive buffer size"),
		cli_u32("recv-buffers", &cfg->recv_bufs, 64, 32768, "N", "receive buffers per shard, power of 2"),
		cli_def(cli_size64("memory-limit", &cfg->memory_limit, 1u << 20, 1ull << 50, "BYTES",
				   "memory held for clients' data; past it, reading slows"),
			"RAM/4"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* What the session says and allows. */
static void rows_protocol(struct cli *c, struct server_config *cfg)
{
	struct smtp_config *s = &cfg->smtp;
	const struct cli_opt rows[] = {
		cli_string("hostname", &s->hostname, "NAME", "name in the greeting and replies"),
		cli_size64("max-size", &s->max_size_bytes, 0, UINT64_MAX / 2, "BYTES", "message size limit, 0: none"),
		cli_u32("max-rcpts", &s->max_rcpts, SMTP_RCPTS_MIN_ALLOWED, 1u << 24, "N", "recipients per message"),
		cli_u32("max-errors", &s->max_errors, 0, 1u << 24, "N", "client errors before 421, 0: no limit"),
		cli_flag("lmtp", &s->lmtp, "speak LMTP (LHLO, one reply per recipient)"),
		cli_enum("bare-lf", &s->bare_lf, bare_lf_words, "bare LF policy"),
		cli_flag("auth-reject", &s->auth_reject, "AUTH always fails 535 (default: any accepted)"),
		cli_flag("strict-helo-name", &s->strict_helo_name, "HELO/EHLO without a hostname: 501"),
		cli_flag("strict-helo-first", &s->strict_helo_first, "MAIL before HELO/EHLO: 503"),
		cli_flag("strict-sync", &s->strict_sync, "input before a reply that must be awaited: 554, close"),
		cli_flag("strict-address", &s->strict_address, "paths without <>, 8-bit without SMTPUTF8: refused"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
	for (unsigned b = 0; b < SMTP_EXT_COUNT; b++) { /* each extension's --no-X, in bit order */
		const struct smtp_ext_info *e = smtp_verbs_ext_of_bit(1u << b);
		if (e != NULL) {
			struct cli_opt row = cli_flag_clear(e->option, &s->ext, e->bit, e->help);
			cli_add_rows(c, &row, 1);
		}
	}
}

/* Faults, limits and what is recorded about clients. */
static void rows_faults(struct cli *c, struct server_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_custom("fault", parse_fault, cfg, "", "RULE",
			   "fault rule, e.g. 'rcpt:reply=550 5.1.1 No such user:p=0.1' (repeatable)"),
		cli_string("fault-file", &cfg->fault_file, "FILE", "fault rules, one per line; re-read on SIGHUP"),
		cli_def(cli_u64("seed", &cfg->seed, 0, UINT64_MAX, "N", "seed for random fault choices"),
			"from the clock"),
		cli_custom("greeting-delay", parse_fault, cfg, "connect:delay=", "DUR",
			   "hold the banner DUR (e.g. 2s, 500ms, 1s-5s)"),
		cli_custom("tarpit", parse_fault, cfg, "any:delay=", "DUR", "hold every command's reply DUR"),
		cli_flag("no-recipient-outcomes", &cfg->no_recipient_outcomes,
			 "tempfail@, permfail@, 450-x@ are ordinary recipients"),
		cli_u32("msg-rate", &cfg->msg_rate, 0, 1u << 30, "N", "421 at MAIL beyond N messages/s in all, 0: off"),
		cli_u32("conn-rate", &cfg->conn_rate, 0, 1u << 30, "N", "421 beyond N connections/s in all, 0: off"),
		cli_u32("client-msg-rate", &cfg->client_msg_rate, 0, 1u << 30, "N",
			"421 at MAIL beyond N messages/s from one address"),
		cli_u32("client-conn-rate", &cfg->client_conn_rate, 0, 1u << 30, "N",
			"421 beyond N connections/s from one address"),
		cli_string("trace", &cfg->trace_path, "FILE|-", "write session transcripts to FILE (- stdout)"),
		cli_custom("trace-client", parse_cidr, &cfg->trace_clients, NULL, "CIDR",
			   "trace only these clients (repeatable)"),
		cli_enum("trace-time", &cfg->trace_time, trace_time_words,
			 "transcript times: utc (RFC 3339, microseconds) or seconds since the session began"),
		cli_duration32("idle-gap", &cfg->idle_gap_ms, CLI_MS, 1, 86400000, "MS",
			       "session reports note client silences over MS"),
		cli_flag("no-session-reports", &cfg->no_session_reports, "keep no session reports in the spool"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* TLS (tls/): STARTTLS with a certificate, implicit TLS listeners. */
static void rows_tls(struct cli *c, struct server_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_string("tls-cert", &cfg->tls_cert, "FILE", "TLS certificate, PEM (chain after the leaf)"),
		cli_string("tls-key", &cfg->tls_key, "FILE", "TLS private key, PEM"),
		cli_flag("tls-self-signed", &cfg->tls_self_signed,
			 "make an ECDSA P-256 certificate for --hostname at start"),
		cli_custom("listen-tls", parse_listen_tls, cfg, NULL, "ADDR",
			   "implicit TLS on ADDR, port 465 style (repeatable)"),
		cli_flag("require-tls", &cfg->smtp.require_tls, "MAIL before STARTTLS: 530 5.7.0"),
		cli_def(cli_string("tls-protocols", &cfg->tls_protocols, "LIST", "TLS versions: TLSv1.2,TLSv1.3"),
			"TLSv1.2,TLSv1.3"),
		cli_def(cli_string("tls-ciphers", &cfg->tls_ciphers, "LIST",
				   "OpenSSL cipher names, ':'-separated (TLS_* are TLS 1.3 suites)"),
			"OpenSSL's"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* The HTTP API (http/). */
static void rows_http(struct cli *c, struct server_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_def(cli_custom("http", parse_http, cfg, NULL, "ADDR",
				   "serve the HTTP API on ADDR (HOST:PORT, [v6]:PORT, NAME:PORT, unix:/path)"),
			"127.0.0.1:8025 with a spool"),
		cli_flag("no-http", &cfg->no_http, "no HTTP API"),
		cli_string("http-auth", &cfg->http_auth, "FILE", "HTTP basic auth: user:password lines"),
		cli_string("http-cors", &cfg->http_cors, "ORIGIN", "allow this origin cross-origin requests"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* Watching a run, and ending it (smtp-sink's -c and -M). */
static void rows_watch(struct cli *c, struct server_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_duration32("stats", &cfg->stats_s, CLI_SECONDS, 0, 86400, "SECS",
			       "a line of counters on stderr every SECS (and at exit), 0: none"),
		cli_u64("exit-after", &cfg->exit_after, 0, UINT64_MAX / 2, "N",
			"shut down (as on SIGTERM) once N messages were accepted, 0: never"),
		cli_duration64("exit-after-time", &cfg->exit_after_time_s, CLI_SECONDS, 0, 100ull * 365 * 86400, "SECS",
			       "shut down (as on SIGTERM) this long after start, 0: never"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

static void defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	smtp_config_defaults(&cfg->smtp);
	cfg->smtp.ext |= SMTP_EXT_STARTTLS; /* kept only with a certificate (check_tls) */
	cfg->io = IO_BACKEND_AUTO;
	cfg->sqpoll_cpu = SERVER_SQPOLL_CPU_ANY;
	cfg->max_conns = 100000;
	cfg->timeout_s = 300;
	cfg->session_max_s = 3600;
	cfg->data_min_rate = 500;
	cfg->grace_s = 10;
	cfg->recv_buf_bytes = 8192;
	cfg->recv_bufs = 2048;
	cfg->spool_dir = "spool";
	cfg->segment_size = 256ull << 20;
	cfg->sync = 1; /* group */
	cfg->spool_mode = SPOOL_FS_FILE_MODE_DEFAULT;
	cfg->spool_min_free = UINT64_MAX; /* spool_open(): from --max-size and the disk */
	cfg->idle_gap_ms = 1000;
}

/* --http, --no-http: on by default with a spool, at SERVER_DEFAULT_HTTP. */
static int check_http(const struct cli *c, struct server_config *cfg)
{
	if (cfg->no_http && (cfg->http_set || cfg->http_auth != NULL || cfg->http_cors != NULL)) {
		cli_error(c, "--no-http with --http, --http-auth or --http-cors");
		return -1;
	}
	if (cfg->no_http || cfg->http_set || cfg->discard)
		return 0;
	unsigned count = 0;
	struct listen_list l = { cfg->http_listen, &count, SERVER_LISTEN_MAX };
	if (listen_parse(&l, SERVER_DEFAULT_HTTP) != NULL)
		return -1;
	cfg->http_default = true;
	return 0;
}

/* A certificate, or none: STARTTLS is offered only with one. */
static int check_tls(const struct cli *c, struct server_config *cfg)
{
	bool cert = cfg->tls_cert != NULL || cfg->tls_key != NULL;
	bool implicit = false;
	for (unsigned i = 0; i < cfg->listen_count; i++)
		implicit |= cfg->listen[i].tls;
	if (cert && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		cli_error(c, "--tls-cert and --tls-key go together");
		return -1;
	}
	if (cert && cfg->tls_self_signed) {
		cli_error(c, "--tls-self-signed or --tls-cert/--tls-key, not both");
		return -1;
	}
	const char *why = tls_ctx_check_protocols(cfg->tls_protocols);
	if (why != NULL) {
		cli_error(c, "%s", why);
		return -1;
	}
	bool tls = cert || cfg->tls_self_signed;
	if (!tls && (implicit || cfg->smtp.require_tls)) {
		cli_error(c, "--listen-tls and --require-tls need a certificate (--tls-cert/--tls-key or "
			     "--tls-self-signed)");
		return -1;
	}
	if (!tls)
		cfg->smtp.ext &= ~(uint32_t)SMTP_EXT_STARTTLS;
	if (cfg->smtp.require_tls && !(cfg->smtp.ext & SMTP_EXT_STARTTLS) && !implicit) {
		cli_error(c, "--require-tls with --no-starttls and no --listen-tls: no client could send mail");
		return -1;
	}
	return 0;
}

/* --sqpoll and its settings, which imply it: io_uring only. */
static int check_sqpoll(const struct cli *c, struct server_config *cfg)
{
	if (cfg->sqpoll_idle_ms != 0 || cfg->sqpoll_cpu != SERVER_SQPOLL_CPU_ANY)
		cfg->sqpoll = true;
	if (!cfg->sqpoll)
		return 0;
	if (cfg->io == IO_BACKEND_EPOLL) {
		cli_error(c, "--sqpoll needs io_uring (--io auto or uring), not --io epoll");
		return -1;
	}
	if (cfg->sqpoll_idle_ms == 0)
		cfg->sqpoll_idle_ms = SERVER_SQPOLL_IDLE_DEFAULT_MS;
	return 0;
}

/* Checks across options, after all were read. */
static int check(const struct cli *c, struct server_config *cfg)
{
	const char *why = smtp_config_check(&cfg->smtp);
	if (why != NULL) {
		cli_error(c, "%s", why);
		return -1;
	}
	if (check_sqpoll(c, cfg) != 0)
		return -1;
	if (!cfg->discard && cfg->smtp.max_size_bytes > SPOOL_MESSAGE_MAX_BYTES) {
		cli_error(c, "--max-size is at most 1G with a spool (a record is written in one piece)");
		return -1;
	}
	/* a record must fit in an empty segment */
	if (!cfg->discard && (cfg->smtp.max_size_bytes == 0 || cfg->segment_size < spool_record_max_bytes(cfg))) {
		cli_error(c,
			  "--segment-size must hold the largest record: at least --max-size + --max-rcpts KiB + 64 KiB"
			  " (and --max-size not 0)");
		return -1;
	}
	if (cfg->proxy_from.count > 0)
		cfg->proxy_protocol = true; /* trusted proxies: the header is expected */
	if ((cfg->recv_bufs & (cfg->recv_bufs - 1)) != 0) {
		cli_error(c, "--recv-buffers must be a power of two");
		return -1;
	}
	struct listen_list smtp = { cfg->listen, &cfg->listen_count, SERVER_LISTEN_MAX };
	bool plain = false; /* --listen-tls alone keeps the default clear listener */
	for (unsigned i = 0; i < cfg->listen_count; i++)
		plain |= !cfg->listen[i].tls;
	if (!plain && listen_parse(&smtp, SERVER_DEFAULT_LISTEN) != NULL)
		return -1;
	if (check_tls(c, cfg) != 0)
		return -1;
	return check_http(c, cfg);
}

int options_parse(int argc, char **argv, struct server_config *cfg)
{
	struct cli c = {
		.prog = "smtpsink",
		.about = "An SMTP sink: takes mail as fast as the machine allows.",
		.version = SMTPSINK_VERSION,
		.help_col = 34,
	};
	defaults(cfg);
	cli_add(&c, cli_config("config", &cfg->config,
			       "read options from FILE first: key = value lines, the long options' names; "
			       "the command line overrides it; re-read on SIGHUP"));
	rows_engine(&c, cfg);
	rows_protocol(&c, cfg);
	rows_faults(&c, cfg);
	rows_tls(&c, cfg);
	rows_http(&c, cfg);
	rows_watch(&c, cfg);
	size_t npos;
	int r = cli_parse(&c, argc, argv, NULL, 0, &npos);
	return r != 0 ? r : check(&c, cfg);
}
