/*
 * bench/bench_options.c - smtpsink-bench's command line and --help, from
 * one option table (like io/options.c).
 *
 * Owns: the option table (name, argument kind, where the value goes, range,
 * help), "--name value" and "--name=value", the target HOST:PORT /
 * [V6]:PORT / unix:/path, --size MIN-MAX, --source-addrs lists and IPv4
 * ranges, and every cross-option check.  Errors name the option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "bench_config.h"
#include "bench_sched.h"

#ifndef SMTPSINK_VERSION
#define SMTPSINK_VERSION "0"
#endif

#define DEFAULT_CONNECTIONS 100u
#define DEFAULT_MESSAGES 10000u
#define DEFAULT_SIZE_BYTES 1000u
#define DEFAULT_TIMEOUT_S 30u
#define DURATION_MAX_S (30.0 * 86400)
#define RATE_MAX 1e9
#define HOST_MAX_BYTES 256u

enum opt_kind {
	OPT_FLAG,
	OPT_U32,
	OPT_U64,
	OPT_SECONDS,
	OPT_DOUBLE,
	OPT_STRING,
	OPT_MODE,
	OPT_SIZE,
	OPT_IO,
	OPT_SOURCE
};

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t offset; /* into struct bench_config */
	double lo, hi; /* numeric range */
	const char *arg; /* argument name in --help, NULL for flags */
	const char *help;
};

#define CFG(f) offsetof(struct bench_config, f)

static const struct opt opts[] = {
	{ "connections", OPT_U32, CFG(connections), 1, BENCH_CONNECTIONS_MAX, "N",
	  "concurrent connections (default 100)" },
	{ "messages", OPT_U64, CFG(messages), 1, 1e15, "N",
	  "messages to send (default 10000, or unlimited with --duration)" },
	{ "duration", OPT_SECONDS, CFG(duration_ns), 0.001, DURATION_MAX_S, "SECS",
	  "stop starting messages after SECS" },
	{ "mode", OPT_MODE, CFG(mode), 0, 0, "connect|reuse|pipeline|bdat", "what a session does (default reuse)" },
	{ "no-rset", OPT_FLAG, CFG(no_rset), 0, 0, NULL, "reuse/pipeline: no RSET probe before MAIL (smtp-source -d)" },
	{ "rate", OPT_DOUBLE, CFG(rate), 0.001, RATE_MAX, "R",
	  "open loop: R messages/s, latency from the intended start" },
	{ "size", OPT_SIZE, 0, 0, 0, "BYTES|MIN-MAX", "message size in bytes (default 1000)" },
	{ "rcpts", OPT_U32, CFG(rcpts), 1, CLIENT_RCPTS_MAX, "N", "recipients per message (default 1)" },
	{ "from", OPT_STRING, CFG(from), 0, 0, "TEMPLATE", "sender; %n: message number (default bench@example.com)" },
	{ "to", OPT_STRING, CFG(to), 0, 0, "TEMPLATE",
	  "recipient; %n, %r: recipient number (default rcpt%r@example.com)" },
	{ "body", OPT_STRING, CFG(body_file), 0, 0, "FILE", "send FILE as every message's content" },
	{ "helo", OPT_STRING, CFG(helo), 0, 0, "NAME", "EHLO name (default smtpsink-bench)" },
	{ "auth", OPT_STRING, CFG(auth), 0, 0, "USER:PASS", "AUTH PLAIN after EHLO" },
	{ "source-addrs", OPT_SOURCE, 0, 0, 0, "LIST", "bind to these, round-robin: 127.0.0.2-127.0.0.9 or a,b,c" },
	{ "workers", OPT_U32, CFG(workers), 0, BENCH_WORKERS_MAX, "N",
	  "processes (default 0: as the descriptor limit needs)" },
	{ "io", OPT_IO, CFG(io), 0, 0, "auto|uring|epoll", "I/O backend (default auto: io_uring, else epoll)" },
	{ "timeout", OPT_U32, CFG(timeout_s), 1, 86400, "SECS",
	  "a connect or reply slower than this fails (default 30)" },
	{ "json", OPT_FLAG, CFG(json), 0, 0, NULL, "print the results as JSON" },
	{ "qid-log", OPT_STRING, CFG(qid_log), 0, 0, "FILE", "write \"QUEUE-ID SEQ\" per message accepted" },
	{ "seed", OPT_U64, CFG(seed), 0, 1.8e19, "N", "seed of the --size MIN-MAX choice (default 0)" },
	{ "no-progress", OPT_FLAG, 0, 0, 0, NULL, "no live progress line (default: one on a terminal)" },
};
#define OPT_COUNT (sizeof opts / sizeof opts[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: smtpsink-bench [options] HOST:PORT | [V6]:PORT | unix:/path\n\n"
		   "An SMTP load generator with per-step latency percentiles.\n\n");
	for (size_t i = 0; i < OPT_COUNT; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-40s %s\n", left, opts[i].help);
	}
	fprintf(f, "  %-40s %s\n  %-40s %s\n", "--help", "this text", "--version", "print the version");
}

static int bad(const char *name, const char *value, const char *why)
{
	if (name[0] == '\0') /* the target or an unknown option */
		fprintf(stderr, "smtpsink-bench: %s: %s\n", value ? value : "", why);
	else
		fprintf(stderr, "smtpsink-bench: --%s %s: %s\n", name, value ? value : "", why);
	return -1;
}

static int parse_double(const struct opt *o, const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d))
		return bad(o->name, v, "not a number");
	if (d < o->lo || d > o->hi)
		return bad(o->name, v, "out of range");
	*out = d;
	return 0;
}

static int parse_u64(const struct opt *o, const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		return bad(o->name, v, "not a number");
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return bad(o->name, v, "not a number");
	if ((double)n < o->lo || (double)n > o->hi)
		return bad(o->name, v, "out of range");
	*out = n;
	return 0;
}

static int parse_size(const char *v, struct bench_config *cfg)
{
	struct opt o = { "size", OPT_U32, 0, 0, BENCH_SIZE_MAX_BYTES, NULL, NULL };
	char lo[32];
	uint64_t a, b;
	const char *dash = strchr(v, '-');
	if (dash == NULL) {
		if (parse_u64(&o, v, &a) != 0)
			return -1;
		cfg->size_min = cfg->size_max = (uint32_t)a;
		return 0;
	}
	if ((size_t)(dash - v) >= sizeof lo)
		return bad("size", v, "expected BYTES or MIN-MAX");
	memcpy(lo, v, (size_t)(dash - v));
	lo[dash - v] = '\0';
	if (parse_u64(&o, lo, &a) != 0 || parse_u64(&o, dash + 1, &b) != 0)
		return -1;
	if (a > b)
		return bad("size", v, "MIN is above MAX");
	cfg->size_min = (uint32_t)a;
	cfg->size_max = (uint32_t)b;
	return 0;
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

static int add_source(struct bench_config *cfg, const struct bench_addr *a, const char *v)
{
	if (cfg->source_count >= BENCH_SOURCE_ADDRS_MAX)
		return bad("source-addrs", v, "too many addresses");
	cfg->source[cfg->source_count++] = *a;
	return 0;
}

/* One item: an address, or an IPv4 range A-B. */
static int parse_source_item(struct bench_config *cfg, char *item, const char *v)
{
	int family = strchr(item, ':') ? AF_INET6 : AF_INET;
	char *dash = family == AF_INET ? strchr(item, '-') : NULL;
	struct bench_addr a, b;
	if (dash != NULL)
		*dash = '\0';
	if (parse_ip(item, family, &a) != 0 || (dash != NULL && parse_ip(dash + 1, family, &b) != 0))
		return bad("source-addrs", v, "not a numeric address or IPv4 range");
	if (dash == NULL)
		return add_source(cfg, &a, v);
	uint32_t lo = ntohl(((struct sockaddr_in *)&a.sa)->sin_addr.s_addr);
	uint32_t hi = ntohl(((struct sockaddr_in *)&b.sa)->sin_addr.s_addr);
	if (lo > hi || hi - lo >= BENCH_SOURCE_ADDRS_MAX)
		return bad("source-addrs", v, "empty or too large a range");
	for (uint64_t ip = lo; ip <= hi; ip++) {
		((struct sockaddr_in *)&a.sa)->sin_addr.s_addr = htonl((uint32_t)ip);
		if (add_source(cfg, &a, v) != 0)
			return -1;
	}
	return 0;
}

static int parse_source(const char *v, struct bench_config *cfg)
{
	char *copy = strdup(v), *save = NULL;
	if (copy == NULL)
		return bad("source-addrs", v, "out of memory");
	free(cfg->source);
	cfg->source = calloc(BENCH_SOURCE_ADDRS_MAX, sizeof *cfg->source);
	cfg->source_count = 0;
	int r = cfg->source ? 0 : bad("source-addrs", v, "out of memory");
	for (char *item = strtok_r(copy, ",", &save); item != NULL && r == 0; item = strtok_r(NULL, ",", &save))
		r = parse_source_item(cfg, item, v);
	free(copy);
	if (r == 0 && cfg->source_count == 0)
		r = bad("source-addrs", v, "no address");
	return r;
}

static int parse_enum(const struct opt *o, const char *v, const char *const *names, int *out)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return bad(o->name, v, "unknown value");
}

static int set_option(const struct opt *o, const char *v, struct bench_config *cfg)
{
	static const char *const modes[] = { "connect", "reuse", "pipeline", "bdat", NULL };
	static const char *const ios[] = { "auto", "uring", "epoll", NULL };
	char *field = (char *)cfg + o->offset;
	uint64_t n;
	double d;
	int e;
	switch (o->kind) {
	case OPT_FLAG:
		if (strcmp(o->name, "no-progress") == 0)
			cfg->progress = 0;
		else
			*(bool *)field = true;
		return 0;
	case OPT_U32:
	case OPT_U64:
		if (parse_u64(o, v, &n) != 0)
			return -1;
		if (o->kind == OPT_U32)
			*(uint32_t *)field = (uint32_t)n;
		else
			*(uint64_t *)field = n;
		return 0;
	case OPT_SECONDS:
	case OPT_DOUBLE:
		if (parse_double(o, v, &d) != 0)
			return -1;
		if (o->kind == OPT_SECONDS)
			*(uint64_t *)field = (uint64_t)(d * 1e9);
		else
			*(double *)field = d;
		return 0;
	case OPT_STRING:
		*(const char **)field = v;
		return 0;
	case OPT_MODE:
		if (parse_enum(o, v, modes, &e) != 0)
			return -1;
		cfg->mode = (enum client_mode)e;
		return 0;
	case OPT_IO:
		if (parse_enum(o, v, ios, &e) != 0)
			return -1;
		cfg->io = (enum bench_io)e;
		return 0;
	case OPT_SIZE:
		return parse_size(v, cfg);
	case OPT_SOURCE:
		return parse_source(v, cfg);
	}
	return -1;
}

static int parse_unix_target(const char *v, struct bench_config *cfg)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&cfg->target.sa;
	if (strlen(v + 5) == 0 || strlen(v + 5) >= sizeof un->sun_path)
		return bad("", v, "bad unix socket path");
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, v + 5);
	cfg->target.len = sizeof *un;
	return 0;
}

/* HOST:PORT, [V6]:PORT or unix:/path; host names are resolved once here. */
static int parse_target(const char *v, struct bench_config *cfg)
{
	snprintf(cfg->target_text, sizeof cfg->target_text, "%s", v);
	memset(&cfg->target, 0, sizeof cfg->target);
	if (strncmp(v, "unix:", 5) == 0)
		return parse_unix_target(v, cfg);
	char host[HOST_MAX_BYTES];
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof host || colon[1] == '\0')
		return bad("", v, "expected HOST:PORT, [V6]:PORT or unix:/path");
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
		return bad("", v, gai_strerror(e));
	memcpy(&cfg->target.sa, res->ai_addr, res->ai_addrlen);
	cfg->target.len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static const struct opt *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
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

static int check_helo(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > CLIENT_HELO_MAX_BYTES)
		return bad("helo", h, "empty or too long");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f)
			return bad("helo", h, "only printable ASCII without spaces");
	return 0;
}

/* Checks that need every option. */
static int check(struct bench_config *cfg)
{
	const char *why;
	if ((why = client_msg_template_check(cfg->from)) != NULL)
		return bad("from", cfg->from, why);
	if ((why = client_msg_template_check(cfg->to)) != NULL)
		return bad("to", cfg->to, why);
	if (check_helo(cfg->helo) != 0)
		return -1;
	if (cfg->auth != NULL && strchr(cfg->auth, ':') == NULL)
		return bad("auth", cfg->auth, "expected USER:PASS");
	for (uint32_t i = 0; i < cfg->source_count; i++)
		if (cfg->source[i].sa.ss_family != cfg->target.sa.ss_family)
			return bad("source-addrs", "", "not the target's address family");
	if (cfg->messages == 0)
		cfg->messages = cfg->duration_ns ? BENCH_SCHED_UNLIMITED : DEFAULT_MESSAGES;
	return 0;
}

int bench_options_parse(int argc, char **argv, struct bench_config *cfg)
{
	set_defaults(cfg);
	const char *target = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("smtpsink-bench %s\n", SMTPSINK_VERSION);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (target != NULL)
				return bad("", a, "one target only");
			target = a;
			continue;
		}
		const char *eq = strchr(a + 2, '=');
		const struct opt *o = find_opt(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (o == NULL)
			return bad("", a, "unknown option (see --help)");
		const char *v = NULL;
		if (o->arg != NULL) {
			v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (v == NULL)
				return bad(o->name, "", "needs a value");
		} else if (eq != NULL) {
			return bad(o->name, eq + 1, "takes no value");
		}
		if (set_option(o, v, cfg) != 0)
			return -1;
	}
	if (target == NULL) {
		usage(stderr);
		return -1;
	}
	if (parse_target(target, cfg) != 0)
		return -1;
	return check(cfg);
}
