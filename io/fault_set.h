/*
 * io/fault_set.h - the fault rules in force, shared by every shard, and
 * their reload on SIGHUP.
 *
 * Owns: building a rule set from the command line (--fault, and the
 * --greeting-delay/--tarpit shorthands) followed by --fault-file, the
 * per-rule firing counters, publishing a new set to the shards without a
 * lock (each shard takes the current set once per loop turn and says which
 * generation it holds), and freeing a replaced set once no shard can still
 * be using it.  A reload that fails to parse keeps the old set.
 */
#ifndef SMTPSINK_FAULT_SET_H
#define SMTPSINK_FAULT_SET_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "fault_rules.h"
#include "server_config.h"

struct fault_set {
	struct fault_rules *rules;
	atomic_uint_fast64_t *hits; /* per rule: times it fired */
	uint64_t gen; /* 1, 2, ... in load order */
};

/* Build the set; NULL with a one-line reason in err on a bad rule, an
 * unreadable file or no memory. */
struct fault_set *fault_set_load(const struct server_config *cfg, uint64_t gen, char *err, size_t err_len);
/* The same, with more rules after the file's (the HTTP API's chaos rules). */
struct fault_set *fault_set_load_extra(const struct server_config *cfg, const char *const *extra, unsigned n_extra,
				       uint64_t gen, char *err, size_t err_len);
void fault_set_free(struct fault_set *fs);

/* Count a firing of rule i (from any shard). */
static inline void fault_set_hit(struct fault_set *fs, int rule)
{
	if (rule >= 0)
		atomic_fetch_add_explicit(&fs->hits[rule], 1, memory_order_relaxed);
}

/* The same rules, in the same order (canonical texts)? */
bool fault_set_same(const struct fault_set *a, const struct fault_set *b);

/* "smtpsink: fault rule 'TEXT' fired N times", one line per rule. */
void fault_set_report(const struct fault_set *fs, FILE *f);

#endif
