/*
 * bench/bench_merge.c - adding up the JSON reports of several runs
 * (bench_merge.h; docs/BENCH-OUTPUT.md "Merging runs").
 *
 * Owns: reading a report back (jansson) into counters, histograms and the
 * configuration it names, and the rules for adding runs up.  Exact: every
 * counter is a sum, every histogram is rebuilt from the report's "exact"
 * section (its non-zero counters and exact count, min, max, sum) and merged
 * counter by counter, so the merged percentiles are those of one histogram
 * that had recorded every run's samples.  The runs are taken to have
 * overlapped: the merged elapsed time is the longest run's (rates divide
 * by it), the schedule's times are the latest, connections, workers and
 * --rate add up, the mode must be the same everywhere.  Printing is
 * bench_report.c's, the same human summary or JSON as one run's; the JSON
 * carries "exact" again, so merged reports merge further.
 *
 * Workload: a few reports of a few hundred KiB (a histogram is at most
 * 24,576 counters).
 */
#include "bench_merge.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench_report.h"
#include "cli.h"

#define BENCH_MERGE_FILES_MAX 4096u
#define BENCH_MERGE_IO_BYTES 32u

struct merged {
	struct bench_config cfg;
	char io[BENCH_MERGE_IO_BYTES];
	uint32_t workers;
	struct bench_stats s;
	size_t runs;
};

/* A non-negative integer member; false if absent or not one. */
static bool get_u64(const json_t *o, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(o, key);
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

/* Counters, by their JSON names, into c (start at 0: times are relative). */
static const char *read_counts(const json_t *root, struct bench_counts *c)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{ "messages", offsetof(struct bench_counts, messages) },
		{ "message_bytes", offsetof(struct bench_counts, message_bytes) },
		{ "transactions_started", offsetof(struct bench_counts, txn_started) },
		{ "transactions_failed", offsetof(struct bench_counts, txn_failed) },
		{ "sessions", offsetof(struct bench_counts, sessions) },
		{ "bytes_sent", offsetof(struct bench_counts, bytes_sent) },
		{ "bytes_received", offsetof(struct bench_counts, bytes_received) },
		{ "loop_turns", offsetof(struct bench_counts, loop_turns) },
		{ "enobufs", offsetof(struct bench_counts, enobufs) },
		{ "qid_log_lost", offsetof(struct bench_counts, qid_log_lost) },
	};
	const json_t *x = json_object_get(root, "exact");
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!get_u64(root, fields[i].key, (uint64_t *)((char *)c + fields[i].off)))
			return fields[i].key;
	if (!get_u64(x, "elapsed_ns", &c->end_ns) || !get_u64(x, "sched_last_ns", &c->sched_last_ns) ||
	    !get_u64(x, "sched_lag_max_ns", &c->sched_lag_max_ns) || !get_u64(x, "cpu_user_us", &c->cpu_user_us) ||
	    !get_u64(x, "cpu_sys_us", &c->cpu_sys_us))
		return "exact (a report of an smtpsink-bench without merge? run it again)";
	for (unsigned e = 0; e < BENCH_ERR_COUNT; e++)
		if (!get_u64(json_object_get(root, "errors"), bench_error_name((enum bench_error)e), &c->errors[e]))
			return "errors";
	const char *code;
	json_t *n;
	json_object_foreach(json_object_get(root, "replies"), code, n)
	{
		unsigned long v = strtoul(code, NULL, 10);
		if (v >= BENCH_REPLY_CODES || !json_is_integer(n) || json_integer_value(n) < 0)
			return "replies";
		c->replies[v] += (uint64_t)json_integer_value(n);
	}
	return NULL;
}

/* One step's histogram image merged into h; its layout must be h's. */
static const char *read_histogram(struct hdr_histogram *h, const json_t *j)
{
	uint64_t lowest, highest, digits, sum_counts = 0;
	struct hdr_exact x;
	const json_t *counts = json_object_get(j, "counts");
	if (!get_u64(j, "lowest_ns", &lowest) || !get_u64(j, "highest_ns", &highest) ||
	    !get_u64(j, "digits", &digits) || !get_u64(j, "count", &x.total_count) || !get_u64(j, "min_ns", &x.min) ||
	    !get_u64(j, "max_ns", &x.max) || !get_u64(j, "sum_ns", &x.sum) || !get_u64(j, "saturated", &x.saturated) ||
	    !json_is_array(counts) || json_array_size(counts) % 2 != 0)
		return "a histogram lacks a field";
	if (lowest != h->lowest || highest != h->highest || digits != h->sig_digits)
		return "a histogram of another layout (another smtpsink-bench version?)";
	for (size_t i = 0; i < json_array_size(counts); i += 2) {
		const json_t *k = json_array_get(counts, i), *n = json_array_get(counts, i + 1);
		if (!json_is_integer(k) || !json_is_integer(n) || json_integer_value(k) < 0 ||
		    json_integer_value(n) < 0 || json_integer_value(k) > UINT32_MAX ||
		    hdr_merge_index(h, (uint32_t)json_integer_value(k), (uint64_t)json_integer_value(n)) != 0)
			return "a histogram counter outside the layout";
		sum_counts += (uint64_t)json_integer_value(n);
	}
	if (sum_counts != x.total_count)
		return "a histogram whose counters do not add up to its count";
	hdr_merge_exact(h, &x);
	return NULL;
}

static const char *read_histograms(struct bench_stats *s, const json_t *root)
{
	const json_t *hs = json_object_get(json_object_get(root, "exact"), "histograms");
	if (!json_is_object(hs))
		return "exact.histograms";
	const char *name;
	json_t *j;
	json_object_foreach((json_t *)hs, name, j)
	{
		unsigned st = 0;
		while (st < CLIENT_STEP_COUNT && strcmp(client_step_name((enum client_step)st), name) != 0)
			st++;
		if (st == CLIENT_STEP_COUNT)
			return "a histogram of an unknown step";
		const char *why = read_histogram(&s->lat[st], j);
		if (why != NULL)
			return why;
	}
	return NULL;
}

/* "a, b": the targets of every run, each once (cut to fit). */
static void add_target(struct bench_config *cfg, const char *t)
{
	size_t have = strlen(cfg->target_text), n = strlen(t);
	for (const char *p = cfg->target_text; (p = strstr(p, t)) != NULL; p += n)
		if ((p == cfg->target_text || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return;
	snprintf(cfg->target_text + have, sizeof cfg->target_text - have, "%s%s", have ? ", " : "", t);
}

/* The configuration a run names, added to the merged one. */
static const char *read_config(struct merged *m, const json_t *root)
{
	const char *target = json_string_value(json_object_get(root, "target"));
	const char *mode = json_string_value(json_object_get(root, "mode"));
	const char *io = json_string_value(json_object_get(root, "io"));
	const json_t *rate = json_object_get(root, "rate");
	uint64_t conns, workers, smin, smax, rcpts;
	if (target == NULL || mode == NULL || io == NULL || !json_is_number(rate) ||
	    !get_u64(root, "connections", &conns) || !get_u64(root, "workers", &workers) ||
	    !get_u64(root, "size_min", &smin) || !get_u64(root, "size_max", &smax) || !get_u64(root, "rcpts", &rcpts))
		return "target, mode, io, rate, connections, workers, size or rcpts";
	unsigned k = 0;
	while (bench_report_mode_name((enum client_mode)k) != NULL &&
	       strcmp(bench_report_mode_name((enum client_mode)k), mode) != 0)
		k++;
	if (bench_report_mode_name((enum client_mode)k) == NULL)
		return "mode";
	if (m->runs > 0 && (enum client_mode)k != m->cfg.mode)
		return "mode: runs of different modes do not add up";
	m->cfg.mode = (enum client_mode)k;
	m->cfg.no_rset |= json_is_true(json_object_get(root, "no_rset"));
	m->cfg.connections += (uint32_t)conns;
	m->workers += (uint32_t)workers;
	m->cfg.rate += json_number_value(rate);
	m->cfg.size_min = m->runs == 0 || smin < m->cfg.size_min ? (uint32_t)smin : m->cfg.size_min;
	m->cfg.size_max = smax > m->cfg.size_max ? (uint32_t)smax : m->cfg.size_max;
	m->cfg.rcpts = rcpts > m->cfg.rcpts ? (uint32_t)rcpts : m->cfg.rcpts;
	add_target(&m->cfg, target);
	if (m->runs > 0 && strcmp(m->io, io) != 0)
		io = "mixed";
	snprintf(m->io, sizeof m->io, "%s", io);
	return NULL;
}

/* Add one report; false after saying why not. */
static bool merge_file(struct merged *m, const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (root == NULL) {
		fprintf(stderr, "smtpsink-bench: merge: %s:%d: %s\n", path, err.line, err.text);
		return false;
	}
	struct bench_counts c;
	const char *why = json_is_object(root) ? read_config(m, root) : "not a report object";
	if (why == NULL)
		why = read_counts(root, &c);
	if (why == NULL)
		why = read_histograms(&m->s, root);
	json_decref(root);
	if (why != NULL) {
		fprintf(stderr, "smtpsink-bench: merge: %s: %s%s\n", path, strchr(why, ' ') ? "" : "no usable field ",
			why);
		return false;
	}
	bench_counts_merge(&m->s.c, &c);
	m->runs++;
	return true;
}

int bench_merge_main(int argc, char **argv)
{
	bool json = false;
	struct cli c = {
		.prog = "smtpsink-bench",
		.command = "merge",
		.args = "REPORT.json...",
		.about = "Add up the --json reports of runs that loaded the same servers at the same time.",
		.help_col = 40,
	};
	cli_add(&c, cli_flag("json", &json, "the merged report as JSON (itself mergeable)"));
	static const char *files[BENCH_MERGE_FILES_MAX];
	size_t n;
	int r = cli_parse(&c, argc, argv, files, BENCH_MERGE_FILES_MAX, &n);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (n == 0) {
		cli_help_print(&c, stderr);
		return 2;
	}
	static struct merged m;
	if (bench_stats_init(&m.s) != 0) {
		fprintf(stderr, "smtpsink-bench: merge: out of memory\n");
		return 1;
	}
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++)
		ok = merge_file(&m, files[i]);
	if (ok) {
		struct bench_report_info ri = { &m.cfg, m.io, m.workers };
		if (json) {
			bench_report_json(stdout, &ri, &m.s);
		} else {
			printf("smtpsink-bench: merge of %zu runs (rates over the longest run's time)\n", m.runs);
			bench_report_human(stdout, &ri, &m.s);
		}
		ok = fflush(stdout) == 0;
	}
	bench_stats_fini(&m.s);
	return ok ? 0 : 1;
}
