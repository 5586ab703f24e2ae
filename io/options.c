/*
 * io/options.c - command-line parsing and --help, from one option table.
 *
 * Owns: the option table (name, argument kind, where the value goes, help
 * text, default), parsing "--name value" and "--name=value", range checks,
 * listen address syntax, and the --help text generated from the table so it
 * can never disagree with the parser.  Errors name the option and exit 2.
 * The --no-X switches are not in the table: each extension's row in core's
 * registry (core/smtp_verbs.c) names its switch and help (ext_opt).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "server_config.h"
#include "smtp_limits.h"
#include "smtp_verbs.h"
#include "spool_fs.h"

#ifndef SMTPSINK_VERSION
#define SMTPSINK_VERSION "0"
#endif

enum opt_kind {
	OPT_FLAG,
	OPT_EXT_OFF,
	OPT_U32,
	OPT_U64,
	OPT_STRING,
	OPT_LISTEN,
	OPT_IO,
	OPT_BARE_LF,
	OPT_SYNC,
	OPT_FAULT, /* a rule; lo: index of the prefix in fault_prefix[] */
	OPT_CIDR /* an address range, added to the struct cidr_list at offset */
};

/* Options that are shorthands for a fault rule: the value is appended. */
static const char *const fault_prefix[] = { "", "connect:delay=", "any:delay=" };

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t offset; /* into struct server_config */
	uint64_t lo, hi; /* OPT_U32/OPT_U64 range; OPT_EXT_OFF: the ext bit */
	const char *arg; /* argument name in --help, NULL for flags */
	const char *help;
};

#define CFG(f) offsetof(struct server_config, f)

static const struct opt opts[] = {
	{ "listen", OPT_LISTEN, 0, 0, 0, "ADDR", "listen on 127.0.0.1:2525, [::1]:2525, unix:/path (repeatable)" },
	{ "shards", OPT_U32, CFG(shards), 0, 256, "N", "event loops, one per CPU (default: online CPUs)" },
	{ "io", OPT_IO, CFG(io), 0, 0, "auto|uring|epoll", "I/O backend (default auto: io_uring, else epoll)" },
	{ "discard", OPT_FLAG, CFG(discard), 0, 0, NULL, "accept and throw away every message (no spool)" },
	{ "spool", OPT_STRING, CFG(spool_dir), 0, 0, "DIR", "capture every message in DIR (default ./spool)" },
	{ "sync", OPT_SYNC, CFG(sync), 0, 0, "none|group|always",
	  "when a 250 may leave (default group: after fdatasync)" },
	{ "segment-size", OPT_U64, CFG(segment_size), 1u << 20, 1ull << 40, "BYTES",
	  "spool segment size (default 268435456)" },
	{ "spool-max-bytes", OPT_U64, CFG(spool_max_bytes), 0, UINT64_MAX / 2, "BYTES",
	  "delete oldest segments past this, 0: keep all" },
	{ "spool-mode", OPT_STRING, CFG(spool_mode_text), 0, 0, "MODE",
	  "spool file mode, octal (default 0600; 0640: the group may read); directories get x where r is" },
	{ "spool-max-age", OPT_U64, CFG(spool_max_age_s), 0, 100ull * 365 * 86400, "SECS",
	  "delete segments older than this, 0: keep all" },
	{ "max-conns", OPT_U32, CFG(max_conns), 1, 10000000, "N", "concurrent sessions (default 100000)" },
	{ "timeout", OPT_U32, CFG(timeout_s), 1, 86400, "SECS",
	  "idle limit, and deadline for each command from its first byte (default 300)" },
	{ "session-max", OPT_U32, CFG(session_max_s), 0, 30u * 86400, "SECS",
	  "deadline for a whole session, 0: none (default 3600)" },
	{ "client-max-conns", OPT_U32, CFG(client_max_conns), 0, 10000000, "N",
	  "concurrent sessions from one address, 0: any (default 0)" },
	{ "data-min-rate", OPT_U32, CFG(data_min_rate), 0, 1u << 30, "BYTES",
	  "minimum DATA rate in bytes/s (default 500; 0 off)" },
	{ "grace", OPT_U32, CFG(grace_s), 0, 86400, "SECS", "shutdown: time for transactions to finish (default 10)" },
	{ "proxy-protocol", OPT_FLAG, CFG(proxy_protocol), 0, 0, NULL, "expect a HAProxy PROXY v1/v2 header" },
	{ "proxy-from", OPT_CIDR, CFG(proxy_from), 0, 0, "CIDR",
	  "PROXY headers only from these peers, others refused (repeatable; implies --proxy-protocol)" },
	{ "node-id", OPT_U32, CFG(node_id), 0, 65535, "N", "host number in queue IDs (default 0)" },
	{ "recv-buffer", OPT_U32, CFG(recv_buf_bytes), 1024, 1u << 20, "BYTES", "receive buffer size (default 8192)" },
	{ "recv-buffers", OPT_U32, CFG(recv_bufs), 64, 32768, "N",
	  "receive buffers per shard, power of 2 (default 2048)" },
	{ "memory-limit", OPT_U64, CFG(memory_limit), 1u << 20, 1ull << 50, "BYTES",
	  "memory held for clients' data, past it reading slows (default: RAM/4)" },
	{ "hostname", OPT_STRING, CFG(smtp.hostname), 0, 0, "NAME",
	  "name in the greeting and replies (default smtpsink)" },
	{ "max-size", OPT_U64, CFG(smtp.max_size_bytes), 0, UINT64_MAX / 2, "BYTES",
	  "message size limit, 0: none (default 52428800)" },
	{ "max-rcpts", OPT_U32, CFG(smtp.max_rcpts), SMTP_RCPTS_MIN_ALLOWED, 1u << 24, "N",
	  "recipients per message (default 1000)" },
	{ "max-errors", OPT_U32, CFG(smtp.max_errors), 0, 1u << 24, "N",
	  "client errors before 421, 0: no limit (default 20)" },
	{ "lmtp", OPT_FLAG, CFG(smtp.lmtp), 0, 0, NULL, "speak LMTP (LHLO, one reply per recipient)" },
	{ "bare-lf", OPT_BARE_LF, CFG(smtp.bare_lf), 0, 0, "preserve|normalize|reject",
	  "bare LF policy (default preserve)" },
	{ "auth-reject", OPT_FLAG, CFG(smtp.auth_reject), 0, 0, NULL, "AUTH always fails 535 (default: any accepted)" },
	{ "strict-helo-name", OPT_FLAG, CFG(smtp.strict_helo_name), 0, 0, NULL, "HELO/EHLO without a hostname: 501" },
	{ "strict-helo-first", OPT_FLAG, CFG(smtp.strict_helo_first), 0, 0, NULL, "MAIL before HELO/EHLO: 503" },
	{ "strict-sync", OPT_FLAG, CFG(smtp.strict_sync), 0, 0, NULL,
	  "input before a reply that must be awaited: 554, close" },
	{ "strict-address", OPT_FLAG, CFG(smtp.strict_address), 0, 0, NULL,
	  "paths without <>, 8-bit without SMTPUTF8: refused" },
	{ NULL, OPT_EXT_OFF, 0, 0, 0, NULL, NULL }, /* here: --no-X of each extension (ext_opt) */
	{ "fault", OPT_FAULT, 0, 0, 0, "RULE",
	  "fault rule, e.g. 'rcpt:reply=550 5.1.1 No such user:p=0.1' (repeatable)" },
	{ "fault-file", OPT_STRING, CFG(fault_file), 0, 0, "FILE", "fault rules, one per line; re-read on SIGHUP" },
	{ "seed", OPT_U64, CFG(seed), 0, UINT64_MAX, "N", "seed for random fault choices (default: from the clock)" },
	{ "greeting-delay", OPT_FAULT, 0, 1, 0, "DUR", "hold the banner DUR (e.g. 2s, 500ms, 1s-5s)" },
	{ "tarpit", OPT_FAULT, 0, 2, 0, "DUR", "hold every command's reply DUR" },
	{ "no-recipient-outcomes", OPT_FLAG, CFG(no_recipient_outcomes), 0, 0, NULL,
	  "tempfail@, permfail@, 450-x@ are ordinary recipients" },
	{ "msg-rate", OPT_U32, CFG(msg_rate), 0, 1u << 30, "N", "421 at MAIL beyond N messages/s in all, 0: off" },
	{ "conn-rate", OPT_U32, CFG(conn_rate), 0, 1u << 30, "N", "421 beyond N connections/s in all, 0: off" },
	{ "client-msg-rate", OPT_U32, CFG(client_msg_rate), 0, 1u << 30, "N",
	  "421 at MAIL beyond N messages/s from one address" },
	{ "client-conn-rate", OPT_U32, CFG(client_conn_rate), 0, 1u << 30, "N",
	  "421 beyond N connections/s from one address" },
	{ "trace", OPT_STRING, CFG(trace_path), 0, 0, "FILE|-", "write session transcripts to FILE (- stdout)" },
	{ "trace-client", OPT_CIDR, CFG(trace_clients), 0, 0, "CIDR", "trace only these clients (repeatable)" },
	{ "idle-gap", OPT_U32, CFG(idle_gap_ms), 1, 86400000, "MS",
	  "session reports note client silences over MS (default 1000)" },
	{ "no-session-reports", OPT_FLAG, CFG(no_session_reports), 0, 0, NULL, "keep no session reports in the spool" },
};
#define OPT_COUNT (sizeof opts / sizeof opts[0])

/* The --no-X switch of extension bit number b, from its row in core's
 * registry (core/smtp_verbs.c), in bit order; false past the last. */
static bool ext_opt(unsigned b, struct opt *o)
{
	const struct smtp_ext_info *e = b < SMTP_EXT_COUNT ? smtp_verbs_ext_of_bit(1u << b) : NULL;
	if (e == NULL)
		return false;
	*o = (struct opt){ e->option, OPT_EXT_OFF, 0, e->bit, 0, NULL, e->help };
	return true;
}

static void usage_line(FILE *f, const struct opt *o)
{
	char left[64];
	snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-34s %s\n", left, o->help);
}

static void usage(FILE *f)
{
	struct opt ext;
	fprintf(f, "usage: smtpsink [options]\n\nAn SMTP sink: takes mail as fast as the machine allows.\n\n");
	for (size_t i = 0; i < OPT_COUNT; i++) {
		if (opts[i].name != NULL)
			usage_line(f, &opts[i]);
		for (unsigned b = 0; opts[i].name == NULL && ext_opt(b, &ext); b++)
			usage_line(f, &ext);
	}
	fprintf(f, "  %-34s %s\n  %-34s %s\n", "--help", "this text", "--version", "print the version");
}

static int bad(const char *name, const char *value, const char *why)
{
	fprintf(stderr, "smtpsink: --%s %s: %s\n", name, value ? value : "", why);
	return -1;
}

static int parse_number(const struct opt *o, const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		return bad(o->name, v, "not a number");
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return bad(o->name, v, "not a number");
	if (n < o->lo || n > o->hi)
		return bad(o->name, v, "out of range");
	*out = n;
	return 0;
}

/* "host:port", "[v6]:port" or "unix:/path". */
static int parse_listen(const char *v, struct listen_addr *la)
{
	memset(la, 0, sizeof *la);
	snprintf(la->text, sizeof la->text, "%s", v);
	if (strncmp(v, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&la->sa;
		if (strlen(v + 5) == 0 || strlen(v + 5) >= sizeof un->sun_path)
			return bad("listen", v, "bad unix socket path");
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, v + 5);
		la->sa_len = sizeof *un;
		return 0;
	}
	char host[64];
	const char *colon = strrchr(v, ':');
	if (colon == NULL || (size_t)(colon - v) >= sizeof host)
		return bad("listen", v, "expected HOST:PORT");
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	struct opt port_opt = { "listen", OPT_U32, 0, 1, 65535, NULL, NULL };
	uint64_t port;
	if (parse_number(&port_opt, colon + 1, &port) != 0)
		return -1;
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la->sa;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return bad("listen", v, "bad IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		la->sa_len = sizeof *s6;
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la->sa;
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return bad("listen", v, "bad IPv4 address (use [v6] for IPv6)");
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	la->sa_len = sizeof *s4;
	return 0;
}

static int parse_enum(const char *name, const char *v, const char *const *words, size_t n, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, words[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return bad(name, v, "unknown value");
}

/* Keep a rule's text (checked when the rule set is built, with the
 * file's rules, before anything starts). */
static int add_fault(struct server_config *cfg, const char *prefix, const char *v)
{
	if (cfg->fault_count == SERVER_FAULTS_MAX)
		return bad("fault", v, "too many rules on the command line (use --fault-file)");
	size_t n = strlen(prefix) + strlen(v) + 1;
	char *text = malloc(n);
	if (text == NULL)
		return bad("fault", v, "out of memory");
	snprintf(text, n, "%s%s", prefix, v);
	cfg->fault_text[cfg->fault_count++] = text; /* until options_free() */
	return 0;
}

void options_free(struct server_config *cfg)
{
	for (unsigned i = 0; i < cfg->fault_count; i++)
		free((char *)cfg->fault_text[i]);
	cfg->fault_count = 0;
}

static int apply(const struct opt *o, const char *v, struct server_config *cfg)
{
	static const char *const io_words[] = { "auto", "uring", "epoll" };
	static const char *const lf_words[] = { "preserve", "normalize", "reject" };
	static const char *const sync_words[] = { "none", "group", "always" };
	char *field = (char *)cfg + o->offset;
	uint64_t n;
	int e;
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_EXT_OFF:
		cfg->smtp.ext &= ~(uint32_t)o->lo;
		return 0;
	case OPT_U32:
		if (parse_number(o, v, &n) != 0)
			return -1;
		*(uint32_t *)field = (uint32_t)n;
		return 0;
	case OPT_U64:
		if (parse_number(o, v, &n) != 0)
			return -1;
		*(uint64_t *)field = n;
		return 0;
	case OPT_STRING:
		*(const char **)field = v;
		return 0;
	case OPT_LISTEN:
		if (cfg->listen_count == SERVER_LISTEN_MAX)
			return bad(o->name, v, "too many listen addresses");
		return parse_listen(v, &cfg->listen[cfg->listen_count++]);
	case OPT_IO:
		if (parse_enum(o->name, v, io_words, 3, &e) != 0)
			return -1;
		cfg->io = (enum io_backend_kind)e;
		return 0;
	case OPT_SYNC:
		if (parse_enum(o->name, v, sync_words, 3, &e) != 0)
			return -1;
		cfg->sync = (uint32_t)e;
		return 0;
	case OPT_BARE_LF:
		if (parse_enum(o->name, v, lf_words, 3, &e) != 0)
			return -1;
		cfg->smtp.bare_lf = (enum smtp_bare_lf_policy)e;
		return 0;
	case OPT_FAULT:
		return add_fault(cfg, fault_prefix[o->lo], v);
	case OPT_CIDR: {
		struct cidr_list *l = (struct cidr_list *)field;
		if (l->count == SERVER_CIDRS_MAX)
			return bad(o->name, v, "too many ranges");
		if (!cidr_parse(v, &l->v[l->count++]))
			return bad(o->name, v, "expected an address or ADDR/BITS");
		return 0;
	}
	}
	return -1;
}

static void defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	smtp_config_defaults(&cfg->smtp);
	cfg->io = IO_BACKEND_AUTO;
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
	cfg->idle_gap_ms = 1000;
}

/* Checks across options, after all were read. */
static int check(struct server_config *cfg)
{
	const char *why = smtp_config_check(&cfg->smtp);
	if (why != NULL) {
		fprintf(stderr, "smtpsink: %s\n", why);
		return -1;
	}
	/* a record must fit in an empty segment: the body, up to 1000 recipients
	 * of command-line size, and framing */
	if (!cfg->discard &&
	    (cfg->smtp.max_size_bytes == 0 || cfg->segment_size < cfg->smtp.max_size_bytes + (16u << 20))) {
		fprintf(stderr,
			"smtpsink: --segment-size must be at least --max-size + 16 MiB (and --max-size not 0)\n");
		return -1;
	}
	if (cfg->spool_mode_text && spool_fs_parse_mode(cfg->spool_mode_text, &cfg->spool_mode) != 0)
		return bad("spool-mode", cfg->spool_mode_text,
			   "an octal file mode with 0600, at most 0666 (0640, 0644)");
	if (cfg->proxy_from.count > 0)
		cfg->proxy_protocol = true; /* trusted proxies: the header is expected */
	if ((cfg->recv_bufs & (cfg->recv_bufs - 1)) != 0) {
		fprintf(stderr, "smtpsink: --recv-buffers must be a power of two\n");
		return -1;
	}
	if (cfg->listen_count == 0 && parse_listen("127.0.0.1:2525", &cfg->listen[cfg->listen_count++]) != 0)
		return -1;
	return 0;
}

/* The option named name[0..len); an extension's switch is built in *ext. */
static const struct opt *find_opt(const char *name, size_t len, struct opt *ext)
{
	for (size_t k = 0; k < OPT_COUNT; k++)
		if (opts[k].name != NULL && strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
			return &opts[k];
	for (unsigned b = 0; ext_opt(b, ext); b++)
		if (strlen(ext->name) == len && strncmp(ext->name, name, len) == 0)
			return ext;
	return NULL;
}

int options_parse(int argc, char **argv, struct server_config *cfg)
{
	defaults(cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("smtpsink %s\n", SMTPSINK_VERSION);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "smtpsink: unexpected argument '%s' (see --help)\n", a);
			return -1;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		struct opt ext;
		const struct opt *o = find_opt(a + 2, nlen, &ext);
		if (o == NULL) {
			fprintf(stderr, "smtpsink: unknown option '%s' (see --help)\n", a);
			return -1;
		}
		const char *v = NULL;
		if (o->arg != NULL) {
			v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (v == NULL)
				return bad(o->name, "", "needs a value");
		} else if (eq != NULL) {
			return bad(o->name, eq + 1, "takes no value");
		}
		if (apply(o, v, cfg) != 0)
			return -1;
	}
	return check(cfg);
}
