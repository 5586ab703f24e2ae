/*
 * io/fault_live.h - the fault rule sets in force over the server's life:
 * the one loaded at start, a reload on SIGHUP, and the HTTP API's chaos
 * triggers (Mailpit's GET|PUT /api/v1/chaos) appended as rules.
 *
 * Owns: building each new set (the command line's rules and --fault-file,
 * then the chaos rules), publishing it to the shards with one atomic
 * store (server_shared.faults: a shard takes the pointer once per loop
 * turn, so the hot path holds no lock), and keeping every set ever
 * published until exit (a shard may still use a replaced one; their
 * counts are reported at exit).  The lock here serializes the main
 * thread's SIGHUP reload and the HTTP thread's chaos changes, nothing
 * else; no shard ever takes it.
 */
#ifndef SMTPSINK_FAULT_LIVE_H
#define SMTPSINK_FAULT_LIVE_H

#include <pthread.h>
#include <stddef.h>

#include "fault_set.h"
#include "http_chaos.h"
#include "shard.h"

#define FAULT_LIVE_CHAOS_RULES 3u
#define FAULT_LIVE_RULE_BYTES 96u

struct fault_live {
	pthread_mutex_t lock;
	const struct server_config *cfg;
	struct server_shared *shared;
	struct fault_set **v; /* every set published, in order; the last is in force */
	size_t n, cap;
	struct http_chaos_triggers chaos;
	char chaos_text[FAULT_LIVE_CHAOS_RULES][FAULT_LIVE_RULE_BYTES];
	const char *chaos_rules[FAULT_LIVE_CHAOS_RULES];
	unsigned chaos_count;
};

/* Load the first set and publish it: 0, or -1 with the reason printed. */
int fault_live_init(struct fault_live *fl, const struct server_config *cfg, struct server_shared *shared);
/* SIGHUP: read the rules again, from cfg's rules and fault file (NULL:
 * the configuration in use; cfg must stay valid until exit); a failed
 * read keeps the old set and the old configuration. */
void fault_live_reload(struct fault_live *fl, const struct server_config *cfg);
/* The chaos endpoint's operations (arg: the struct fault_live). */
void fault_live_chaos_get(void *arg, struct http_chaos_triggers *t);
int fault_live_chaos_set(void *arg, const struct http_chaos_triggers *t, char *err, size_t err_len);
/* One rule's firings over every set ever published (a rule kept across a
 * reload keeps counting): its canonical text, owned by a set (kept until
 * exit). */
struct fault_live_hit {
	const char *text;
	uint64_t hits;
};
/* Every rule's firings, one entry per distinct text, sorted by text:
 * *out malloc'd (the caller frees it).  The count, or -1: no memory. */
long fault_live_hits(struct fault_live *fl, struct fault_live_hit **out);
/* At exit, once no shard runs: each set's firing counts, then free. */
void fault_live_fini(struct fault_live *fl);

#endif
