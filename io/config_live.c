/*
 * io/config_live.c - SIGHUP re-reads the config file (config_live.h).
 */
#include "config_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* Keys applied on SIGHUP; every other key needs a restart. */
static const char *const live_keys[] = { "fault", "fault-file", "greeting-delay", "tarpit", "stats", "trace-client" };

static bool live(const char *key)
{
	for (size_t i = 0; i < sizeof live_keys / sizeof live_keys[0]; i++)
		if (strcmp(key, live_keys[i]) == 0)
			return true;
	return false;
}

void config_live_init(struct config_live *cl, int argc, char **argv, const struct server_config *first)
{
	memset(cl, 0, sizeof *cl);
	cl->argc = argc;
	cl->argv = argv;
	cl->first = first;
}

/* Was key seen in f before entry i (so it is reported once)? */
static bool seen_before(const struct cli_file *f, size_t i, const char *key)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(f->v[j].key, key) == 0)
			return true;
	return false;
}

/* One line per key of either file, not live, whose values differ from
 * those in force since start. */
static void name_restarts(const struct cli_file *was, const struct cli_file *now)
{
	const struct cli_file *files[2] = { was, now };
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < files[k]->n; i++) {
			const char *key = files[k]->v[i].key;
			if (live(key) || seen_before(files[k], i, key) || (k == 1 && seen_before(was, was->n, key)))
				continue;
			if (!cli_file_same(was, now, key))
				fprintf(stderr, "smtpsink: SIGHUP: %s changed: needs a restart\n", key);
		}
	}
}

/* The live keys other than the fault rules (fault_live says what it did). */
static void apply_watch(const struct server_config *now, struct trace_sink *trace, uint32_t *stats_s)
{
	const struct cidr_list *was = atomic_load(&trace->clients);
	if (was->count != now->trace_clients.count ||
	    memcmp(was->v, now->trace_clients.v, was->count * sizeof was->v[0]) != 0) {
		trace_set_clients(trace, &now->trace_clients);
		fprintf(stderr, "smtpsink: SIGHUP: trace-client: %u range%s in force\n", now->trace_clients.count,
			now->trace_clients.count == 1 ? "" : "s");
	}
	if (*stats_s != now->stats_s) {
		*stats_s = now->stats_s;
		fprintf(stderr, "smtpsink: SIGHUP: stats: every %u s%s\n", now->stats_s,
			now->stats_s == 0 ? " (off)" : "");
	}
}

void config_live_reload(struct config_live *cl, struct fault_live *faults, struct trace_sink *trace, uint32_t *stats_s)
{
	if (cl->first->config.path == NULL) { /* no --config: the fault file only */
		fault_live_reload(faults, NULL);
		return;
	}
	struct server_config *now = malloc(sizeof *now);
	if (now == NULL || !grow_array((void **)&cl->v, &cl->cap, cl->n + 1, sizeof *cl->v, 4)) {
		fprintf(stderr, "smtpsink: SIGHUP: out of memory: nothing reloaded\n");
		free(now);
		return;
	}
	if (options_parse(cl->argc, cl->argv, now) != 0) { /* the reason is printed */
		fprintf(stderr, "smtpsink: SIGHUP: %s not reloaded: nothing changed\n", cl->first->config.path);
		options_free(now);
		free(now);
		return;
	}
	cl->v[cl->n++] = now;
	name_restarts(&cl->first->config, &now->config);
	fault_live_reload(faults, now);
	apply_watch(now, trace, stats_s);
}

void config_live_fini(struct config_live *cl)
{
	for (size_t i = 0; i < cl->n; i++) {
		options_free(cl->v[i]);
		free(cl->v[i]);
	}
	free(cl->v);
	memset(cl, 0, sizeof *cl);
}
