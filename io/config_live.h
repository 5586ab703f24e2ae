/*
 * io/config_live.h - SIGHUP with --config: read the config file again,
 * apply what can change while the server runs, and name what cannot.
 *
 * Owns: re-parsing the original command line (so the file is read again
 * and the command line still overrides it), the split of keys into live
 * ones (fault, fault-file, greeting-delay, tarpit: a new fault rule set;
 * stats: the interval; trace-client: which clients are traced) and the
 * rest, one stderr line per other key whose value changed ("smtpsink:
 * SIGHUP: listen changed: needs a restart"; the old value stays in force),
 * and every configuration read, kept until exit (the fault rule sets and
 * the trace sink point into the latest; the shards keep the first).
 *
 * Does not: change anything the shards read from their configuration;
 * a file that no longer parses changes nothing.  Workload: one re-parse
 * per SIGHUP, on the main thread.
 */
#ifndef SMTPSINK_CONFIG_LIVE_H
#define SMTPSINK_CONFIG_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "fault_live.h"
#include "server_config.h"
#include "trace.h"

struct config_live {
	int argc;
	char **argv; /* the command line, as at start */
	const struct server_config *first; /* in force since start */
	struct server_config **v; /* read on SIGHUP, in order; kept until exit */
	size_t n, cap;
};

void config_live_init(struct config_live *cl, int argc, char **argv, const struct server_config *first);
/* SIGHUP: *stats_s is the --stats interval in force, updated in place. */
void config_live_reload(struct config_live *cl, struct fault_live *faults, struct trace_sink *trace, uint32_t *stats_s);
/* Once nothing uses the configurations read (after the shards). */
void config_live_fini(struct config_live *cl);

#endif
