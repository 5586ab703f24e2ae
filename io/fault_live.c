/*
 * io/fault_live.c - the fault rule sets in force (fault_live.h).
 *
 * Chaos triggers become rules of the stage Mailpit names (Sender: mail,
 * Recipient: rcpt, Authentication: auth), "reply=CODE Chaos ...:p=P%",
 * after the configured rules; a trigger with probability 0 adds none.
 * Workload: a handful of loads per run.
 */
#include "fault_live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

static bool keep_set(struct fault_live *fl, struct fault_set *fs)
{
	if (!grow_array((void **)&fl->v, &fl->cap, fl->n + 1, sizeof *fl->v, 4))
		return false;
	fl->v[fl->n++] = fs;
	return true;
}

/* Under the lock: a new set from the configuration and the chaos rules,
 * published unless it equals the one in force.  0, 1 (unchanged), -1. */
static int publish(struct fault_live *fl, char *err, size_t err_len)
{
	struct fault_set *fs = fault_set_load_extra(fl->cfg, fl->chaos_rules, fl->chaos_count, fl->n + 1, err, err_len);
	if (fs != NULL && fl->n > 0 && fault_set_same(fs, fl->v[fl->n - 1])) {
		fault_set_free(fs);
		return 1;
	}
	if (fs == NULL || !keep_set(fl, fs)) {
		if (fs != NULL)
			snprintf(err, err_len, "out of memory");
		fault_set_free(fs);
		return -1;
	}
	atomic_store_explicit(&fl->shared->faults, fs, memory_order_release);
	return 0;
}

int fault_live_init(struct fault_live *fl, const struct server_config *cfg, struct server_shared *shared)
{
	char err[512];
	memset(fl, 0, sizeof *fl);
	pthread_mutex_init(&fl->lock, NULL);
	fl->cfg = cfg;
	fl->shared = shared;
	fl->chaos = (struct http_chaos_triggers){ { 451, 0 }, { 451, 0 }, { 535, 0 } }; /* Mailpit's defaults */
	if (publish(fl, err, sizeof err) != 0) {
		fprintf(stderr, "smtpsink: fault rules: %s\n", err);
		return -1;
	}
	return 0;
}

void fault_live_reload(struct fault_live *fl, const struct server_config *cfg)
{
	char err[512];
	pthread_mutex_lock(&fl->lock);
	const struct server_config *old = fl->cfg;
	fl->cfg = cfg != NULL ? cfg : old;
	int r = publish(fl, err, sizeof err);
	if (r < 0)
		fl->cfg = old;
	unsigned count = fault_rules_count(fl->v[fl->n - 1]->rules);
	pthread_mutex_unlock(&fl->lock);
	if (r == 1)
		fprintf(stderr, "smtpsink: SIGHUP: fault rules unchanged (%u in force)\n", count);
	else if (r < 0)
		fprintf(stderr, "smtpsink: SIGHUP: fault rules not reloaded, the old ones stay: %s\n", err);
	else
		fprintf(stderr, "smtpsink: SIGHUP: %u fault rules in force\n", count);
}

void fault_live_chaos_get(void *arg, struct http_chaos_triggers *t)
{
	struct fault_live *fl = arg;
	pthread_mutex_lock(&fl->lock);
	*t = fl->chaos;
	pthread_mutex_unlock(&fl->lock);
}

/* The rule text of one trigger, if it fires at all. */
static void chaos_rule(struct fault_live *fl, const char *stage, const char *what, const struct http_chaos_trigger *t)
{
	if (t->probability <= 0)
		return;
	char *text = fl->chaos_text[fl->chaos_count];
	snprintf(text, FAULT_LIVE_RULE_BYTES, "%s:reply=%d Chaos %s error:p=%d%%", stage, t->error_code, what,
		 t->probability);
	fl->chaos_rules[fl->chaos_count++] = text;
}

static void chaos_rules(struct fault_live *fl, const struct http_chaos_triggers *t)
{
	fl->chaos = *t;
	fl->chaos_count = 0;
	chaos_rule(fl, "mail", "sender", &t->sender);
	chaos_rule(fl, "rcpt", "recipient", &t->recipient);
	chaos_rule(fl, "auth", "authentication", &t->authentication);
}

int fault_live_chaos_set(void *arg, const struct http_chaos_triggers *t, char *err, size_t err_len)
{
	struct fault_live *fl = arg;
	pthread_mutex_lock(&fl->lock);
	struct http_chaos_triggers old = fl->chaos;
	chaos_rules(fl, t);
	int r = publish(fl, err, err_len);
	if (r < 0)
		chaos_rules(fl, &old); /* the old rules stay in force */
	pthread_mutex_unlock(&fl->lock);
	return r < 0 ? -EINVAL : 0;
}

static int hit_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fault_live_hit *)a)->text, ((const struct fault_live_hit *)b)->text);
}

long fault_live_hits(struct fault_live *fl, struct fault_live_hit **out)
{
	size_t n = 0, k = 0;
	pthread_mutex_lock(&fl->lock);
	for (size_t i = 0; i < fl->n; i++)
		n += fault_rules_count(fl->v[i]->rules);
	struct fault_live_hit *h = malloc((n ? n : 1) * sizeof *h);
	for (size_t i = 0; h != NULL && i < fl->n; i++)
		for (uint32_t r = 0; r < fault_rules_count(fl->v[i]->rules); r++)
			h[k++] = (struct fault_live_hit){ fault_rules_text(fl->v[i]->rules, r),
							  atomic_load_explicit(&fl->v[i]->hits[r],
									       memory_order_relaxed) };
	pthread_mutex_unlock(&fl->lock);
	if (h == NULL)
		return -1;
	qsort(h, k, sizeof *h, hit_cmp);
	size_t m = 0; /* the same text in several sets (or twice in one): one entry */
	for (size_t i = 0; i < k; i++) {
		if (m > 0 && strcmp(h[m - 1].text, h[i].text) == 0)
			h[m - 1].hits += h[i].hits;
		else
			h[m++] = h[i];
	}
	*out = h;
	return (long)m;
}

void fault_live_fini(struct fault_live *fl)
{
	for (size_t i = 0; i < fl->n; i++) {
		if (fl->n > 1 && fault_rules_count(fl->v[i]->rules) > 0)
			fprintf(stderr, "smtpsink: fault rules, load %zu%s:\n", i + 1,
				i + 1 < fl->n ? " (replaced)" : "");
		fault_set_report(fl->v[i], stderr);
		fault_set_free(fl->v[i]);
	}
	free(fl->v);
	fl->v = NULL;
	fl->n = fl->cap = 0;
	pthread_mutex_destroy(&fl->lock);
}
