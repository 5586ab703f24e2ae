/*
 * bench/bench_options.c - smtpsink-bench's command line: its option rows
 * and checks (like io/options.c).
 *
 * Owns: the option table (name, kind, where the value goes, range,
 * argument name, help, default) for the one parser (cli/cli.h), the target
 * HOST:PORT / [V6]:PORT / unix:/path, --prometheus HOST:PORT, --size
 * MIN-MAX, --duration,
 * --source-addrs lists and IPv4 ranges, the defaults, and every
 * cross-option check.  Parsing, errors (exit 2) and --help are cli/'s.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "bench_config.h"
#include "bench_sched.h"
#include "cli.h"
#include "tls_ctx.h"

#ifndef SMTPSINK_VERSION
#define SMTPSINK_VERSION "0"
#endif

#define DEFAULT_CONNECTIONS 100u
#define DEFAULT_MESSAGES 10000u
#define DEFAULT_SIZE_BYTES 1000u
#define DEFAULT_TIMEOUT_S 30u
#define DURATION_MIN_NS 1000000ull /* 1 ms */
#define DURATION_MAX_NS (30ull * 86400 * 1000000000) /* 30 days */
#define RATE_MAX 1e9
#define HOST_MAX_BYTES 256u

static const char *const mode_words[] = { "connect", "reuse", "pipeline", "bdat", NULL };
static const char *const io_words[] = { "auto", "uring", "epoll", NULL };

/* --size BYTES or MIN-MAX. */
static const char *parse_size(const struct cli_opt *o, const char *v)
{
	struct bench_config *cfg = o->dest;
	char lo[32];
	uint64_t a, b;
	const char *why, *dash = strchr(v, '-');
	if (dash == NULL) {
		if ((why = cli_value_size(v, 0, BENCH_SIZE_MAX_BYTES, &a)) != NULL)
			return why;
		cfg->size_min = cfg->size_max = (uint32_t)a;
		return NULL;
	}
	if ((size_t)(dash - v) >= sizeof lo)
		return "expected BYTES or MIN-MAX";
	memcpy(lo, v, (size_t)(dash - v));
	lo[dash - v] = '\0';
	if ((why = cli_value_size(lo, 0, BENCH_SIZE_MAX_BYTES, &a)) != NULL ||
	    (why = cli_value_size(dash + 1, 0, BENCH_SIZE_MAX_BYTES, &b)) != NULL)
		return why;
	if (a > b)
		return "MIN is above MAX";
	cfg->size_min = (uint32_t)a;
	cfg->size_max = (uint32_t)b;
	return NULL;
}

/* --duration: a plain number is seconds (fractions allowed), kept in
 * nanoseconds, from 1 ms. */
static const char *parse_duration(const struct cli_opt *o, const char *v)
{
	return cli_value_duration(v, CLI_SECONDS, CLI_NS, DURATION_MIN_NS, DURATION_MAX_NS, o->dest);
}

static const char *parse_no_progress(const struct cli_opt *o, const char *v)
{
	*(int *)o->dest = 0;
	return NULL;
}

static const char *parse_progress(const struct cli_opt *o, const char *v)
{
	*(int *)o->dest = 1;
	return NULL;
}

/* A numeric address of family, port 0. */
static int parse_ip(const char *s, int family, struct bench_addr *a)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
		in->sin_family = AF_INET;
		a->len = sizeof *in;
		return inet_pton(AF_INET, s, &in->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
	in6->sin6_family = AF_INET6;
	a->len = sizeof *in6;
	return inet_pton(AF_INET6, s, &in6->sin6_addr) == 1 ? 0 : -1;
}

static const char *add_source(struct bench_config *cfg, const struct bench_addr *a)
{
	if (cfg->source_count >= BENCH_SOURCE_ADDRS_MAX)
		return "too many addresses";
	cfg->source[cfg->source_count++] = *a;
	return NULL;
}

/* One item: an address, or an IPv4 range A-B. */
static const char *parse_source_item(struct bench_config *cfg, char *item)
{
	int family = strchr(item, ':') ? AF_INET6 : AF_INET;
	char *dash = family == AF_INET ? strchr(item, '-') : NULL;
	struct bench_addr a, b;
	if (dash != NULL)
		*dash = '\0';
	if (parse_ip(item, family, &a) != 0 || (dash != NULL && parse_ip(dash + 1, family, &b) != 0))
		return "not a numeric address or IPv4 range";
	if (dash == NULL)
		return add_source(cfg, &a);
	uint32_t lo = ntohl(((struct sockaddr_in *)&a.sa)->sin_addr.s_addr);
	uint32_t hi = ntohl(((struct sockaddr_in *)&b.sa)->sin_addr.s_addr);
	if (lo > hi || hi - lo >= BENCH_SOURCE_ADDRS_MAX)
		return "empty or too large a range";
	const char *why = NULL;
	for (uint64_t ip = lo; ip <= hi && why == NULL; ip++) {
		((struct sockaddr_in *)&a.sa)->sin_addr.s_addr = htonl((uint32_t)ip);
		why = add_source(cfg, &a);
	}
	return why;
}

/* --source-addrs: a comma-separated list of items (the last option wins). */
static const char *parse_source(const struct cli_opt *o, const char *v)
{
	struct bench_config *cfg = o->dest;
	char *copy = strdup(v), *save = NULL;
	if (copy == NULL)
		return "out of memory";
	free(cfg->source);
	cfg->source = calloc(BENCH_SOURCE_ADDRS_MAX, sizeof *cfg->source);
	cfg->source_count = 0;
	const char *why = cfg->source ? NULL : "out of memory";
	for (char *item = strtok_r(copy, ",", &save); item != NULL && why == NULL; item = strtok_r(NULL, ",", &save))
		why = parse_source_item(cfg, item);
	free(copy);
	if (why == NULL && cfg->source_count == 0)
		why = "no address";
	return why;
}

static const char *parse_unix_target(const char *v, struct bench_config *cfg)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&cfg->target.sa;
	if (strlen(v + 5) == 0 || strlen(v + 5) >= sizeof un->sun_path)
		return "bad unix socket path";
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, v + 5);
	cfg->target.len = sizeof *un;
	return NULL;
}

static const char inet_form[] = "expected HOST:PORT or [V6]:PORT";

/* HOST:PORT or [V6]:PORT into a, the host resolved once here.  NULL, or
 * why not. */
static const char *parse_inet(const char *v, struct bench_addr *a)
{
	char host[HOST_MAX_BYTES];
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof host || colon[1] == '\0')
		return inet_form;
	size_t hl = (size_t)(colon - v);
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
	int e = getaddrinfo(host, colon + 1, &hints, &res);
	if (e != 0)
		return gai_strerror(e);
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return NULL;
}

/* HOST:PORT, [V6]:PORT or unix:/path.  NULL, or why not. */
static const char *parse_target(const char *v, struct bench_config *cfg)
{
	snprintf(cfg->target_text, sizeof cfg->target_text, "%s", v);
	memset(&cfg->target, 0, sizeof cfg->target);
	if (strncmp(v, "unix:", 5) == 0)
		return parse_unix_target(v, cfg);
	const char *why = parse_inet(v, &cfg->target);
	return why == inet_form ? "expected HOST:PORT, [V6]:PORT or unix:/path" : why;
}

/* --prometheus HOST:PORT. */
static const char *parse_prometheus(const struct cli_opt *o, const char *v)
{
	struct bench_config *cfg = o->dest;
	snprintf(cfg->prom_text, sizeof cfg->prom_text, "%s", v);
	memset(&cfg->prom_addr, 0, sizeof cfg->prom_addr);
	cfg->prometheus = true;
	return parse_inet(v, &cfg->prom_addr);
}

/* What a run is: how many, how fast, in what mode. */
static void rows_run(struct cli *c, struct bench_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_u32("connections", &cfg->connections, 1, BENCH_CONNECTIONS_MAX, "N", "concurrent connections"),
		cli_def(cli_u64("messages", &cfg->messages, 1, 1000000000000000ull, "N", "messages to send"),
			"10000, or unlimited with --duration"),
		cli_reads(cli_custom("duration", parse_duration, &cfg->duration_ns, NULL, "SECS",
				     "stop starting messages after SECS"),
			  CLI_DURATION),
		cli_enum("mode", &cfg->mode, mode_words, "what a session does"),
		cli_flag("no-rset", &cfg->no_rset, "reuse/pipeline: no RSET probe before MAIL (smtp-source -d)"),
		cli_double("rate", &cfg->rate, 0.001, RATE_MAX, "R",
			   "open loop: R messages/s, latency from the intended start"),
		cli_def(cli_reads(cli_custom("size", parse_size, cfg, NULL, "BYTES|MIN-MAX",
					     "message size, or a range to pick from"),
				  CLI_SIZE),
			"1000"),
		cli_u32("rcpts", &cfg->rcpts, 1, CLIENT_RCPTS_MAX, "N", "recipients per message"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* What the messages say, and how the client connects and reports. */
static void rows_client(struct cli *c, struct bench_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_string("from", &cfg->from, "TEMPLATE", "sender; %n: message number"),
		cli_string("to", &cfg->to, "TEMPLATE", "recipient; %n, %r: recipient number"),
		cli_string("body", &cfg->body_file, "FILE", "send FILE as every message's content"),
		cli_string("helo", &cfg->helo, "NAME", "EHLO name"),
		cli_string("auth", &cfg->auth, "USER:PASS", "AUTH PLAIN after EHLO"),
		cli_custom("source-addrs", parse_source, cfg, NULL, "LIST",
			   "bind to these, round-robin: 127.0.0.2-127.0.0.9 or a,b,c"),
		cli_def(cli_u32("workers", &cfg->workers, 0, BENCH_WORKERS_MAX, "N", "processes"),
			"0: as the descriptor limit needs"),
		cli_enum("io", &cfg->io, io_words, "I/O backend: auto is io_uring, else epoll"),
		cli_duration32("timeout", &cfg->timeout_s, CLI_SECONDS, 1, 86400, "SECS",
			       "a connect or reply slower than this fails"),
		cli_def(cli_u64("max-failures", &cfg->max_failures, 0, UINT64_MAX, "N",
				"failed transactions (and connections) tolerated; past them, exit 1"),
			"0"),
		cli_flag("json", &cfg->json, "print the results as JSON"),
		cli_string("qid-log", &cfg->qid_log, "FILE", "write \"QUEUE-ID SEQ\" per message accepted"),
		cli_def(cli_u64("seed", &cfg->seed, 0, UINT64_MAX, "N", "seed of the --size MIN-MAX choice"), "0"),
		cli_custom("no-progress", parse_no_progress, &cfg->progress, NULL, NULL,
			   "no live progress line (default: one on a terminal)"),
		cli_custom("progress", parse_progress, &cfg->progress, NULL, NULL,
			   "the live progress line on stderr even off a terminal"),
		cli_custom("prometheus", parse_prometheus, cfg, NULL, "HOST:PORT",
			   "serve live counters at http://HOST:PORT/metrics"),
		cli_def(cli_reads(cli_custom("prometheus-linger", parse_duration, &cfg->prom_linger_ns, NULL, "SECS",
					     "after the run, serve the final counts this long (a signal ends it)"),
				  CLI_DURATION),
			"0"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

static void set_defaults(struct bench_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->connections = DEFAULT_CONNECTIONS;
	cfg->messages = 0; /* decided once --duration is known */
	cfg->mode = CLIENT_MODE_REUSE;
	cfg->size_min = cfg->size_max = DEFAULT_SIZE_BYTES;
	cfg->rcpts = 1;
	cfg->from = "bench@example.com";
	cfg->to = "rcpt%r@example.com";
	cfg->helo = "smtpsink-bench";
	cfg->timeout_s = DEFAULT_TIMEOUT_S;
	cfg->progress = -1;
}

static const char *check_helo(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > CLIENT_HELO_MAX_BYTES)
		return "empty or too long";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f)
			return "only printable ASCII without spaces";
	return NULL;
}

/* TLS (tls/): STARTTLS or implicit TLS, resumption, versions, ciphers. */
static void rows_tls(struct cli *c, struct bench_config *cfg)
{
	const struct cli_opt rows[] = {
		cli_flag("starttls", &cfg->starttls, "EHLO, STARTTLS, TLS handshake, EHLO again (RFC 3207)"),
		cli_flag("tls", &cfg->implicit_tls, "implicit TLS: the handshake right after connect (port 465 style)"),
		cli_flag("tls-resume", &cfg->tls_resume,
			 "resume TLS sessions from the tickets each worker's connections were given"),
		cli_def(cli_string("tls-protocols", &cfg->tls_protocols, "LIST", "TLS versions: TLSv1.2,TLSv1.3"),
			"TLSv1.2,TLSv1.3"),
		cli_def(cli_string("tls-ciphers", &cfg->tls_ciphers, "LIST",
				   "OpenSSL cipher names, ':'-separated (TLS_* are TLS 1.3 suites)"),
			"OpenSSL's"),
		cli_string("tls-sni", &cfg->tls_sni, "NAME", "server name indication to send"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* The TLS flags together. */
static int check_tls(const struct cli *c, struct bench_config *cfg)
{
	if (cfg->starttls && cfg->implicit_tls) {
		cli_error(c, "--starttls or --tls, not both");
		return -1;
	}
	cfg->tls = cfg->starttls ? BENCH_TLS_STARTTLS : cfg->implicit_tls ? BENCH_TLS_IMPLICIT : BENCH_TLS_NONE;
	bool tuned = cfg->tls_resume || cfg->tls_protocols || cfg->tls_ciphers || cfg->tls_sni;
	if (cfg->tls == BENCH_TLS_NONE && tuned) {
		cli_error(c, "--tls-resume, --tls-protocols, --tls-ciphers and --tls-sni need --starttls or --tls");
		return -1;
	}
	const char *why = tls_ctx_check_protocols(cfg->tls_protocols);
	if (why != NULL) {
		cli_error(c, "%s", why);
		return -1;
	}
	if (cfg->tls_sni != NULL && check_helo(cfg->tls_sni) != NULL)
		return cli_bad(c, "tls-sni", cfg->tls_sni, "a host name: printable ASCII without spaces");
	return 0;
}

/* Checks that need every option. */
static int check(const struct cli *c, struct bench_config *cfg)
{
	const char *why;
	if ((why = client_msg_template_check(cfg->from)) != NULL)
		return cli_bad(c, "from", cfg->from, why);
	if ((why = client_msg_template_check(cfg->to)) != NULL)
		return cli_bad(c, "to", cfg->to, why);
	if ((why = check_helo(cfg->helo)) != NULL)
		return cli_bad(c, "helo", cfg->helo, why);
	if (cfg->auth != NULL && strchr(cfg->auth, ':') == NULL)
		return cli_bad(c, "auth", cfg->auth, "expected USER:PASS");
	for (uint32_t i = 0; i < cfg->source_count; i++)
		if (cfg->source[i].sa.ss_family != cfg->target.sa.ss_family)
			return cli_bad(c, "source-addrs", "", "not the target's address family");
	if (cfg->messages == 0)
		cfg->messages = cfg->duration_ns ? BENCH_SCHED_UNLIMITED : DEFAULT_MESSAGES;
	return check_tls(c, cfg);
}

int bench_options_parse(int argc, char **argv, struct bench_config *cfg)
{
	struct cli c = {
		.prog = "smtpsink-bench",
		.args = "HOST:PORT | [V6]:PORT | unix:/path",
		.about = "An SMTP load generator with per-step latency percentiles.",
		.version = SMTPSINK_VERSION,
		.help_col = 40,
	};
	set_defaults(cfg);
	rows_run(&c, cfg);
	rows_client(&c, cfg);
	rows_tls(&c, cfg);
	const char *target;
	size_t npos;
	int r = cli_parse(&c, argc, argv, &target, 1, &npos);
	if (r != 0)
		return r;
	if (npos == 0) {
		cli_help_print(&c, stderr);
		return -1;
	}
	const char *why = parse_target(target, cfg);
	if (why != NULL) {
		cli_error(&c, "%s: %s", target, why);
		return -1;
	}
	return check(&c, cfg);
}
