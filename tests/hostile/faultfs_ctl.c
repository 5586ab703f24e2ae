/*
 * tests/hostile/faultfs_ctl.c - the fault plan of faultfs (see faultfs_ctl.h).
 *
 * Settings are "key=value" words:
 *   OP_eio=P, OP_enospc=P   fail this fraction of OP calls (P in [0, 1])
 *   fail_OP=N               fail the next N OP calls (then the rates rule)
 *   fail_errno=eio|enospc   the errno of those N failures (default eio)
 *   match=GLOB              only files whose basename matches (default *)
 *   seed=N                  restart the random draws from N
 * OP is create, write, fsync or fallocate.  A call is counted whatever the
 * file; only calls on matching files draw and may fail, so a plan with a
 * glob does not shift the draws of the files it leaves alone.
 */
#define _GNU_SOURCE
#include "faultfs_ctl.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BYTES 512u

static const char *const op_names[FAULTFS_OP_COUNT] = { "create", "write", "fsync", "fallocate" };
static const char *const err_names[FAULTFS_ERR_COUNT] = { "eio", "enospc" };
static const int err_values[FAULTFS_ERR_COUNT] = { EIO, ENOSPC };

void faultfs_ctl_init(struct faultfs_ctl *c, uint64_t seed)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	c->plan.rng = seed;
	strcpy(c->plan.match, "*");
}

void faultfs_ctl_fini(struct faultfs_ctl *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* splitmix64: a uniform draw in [0, 1). */
static double faultfs_ctl_draw(struct faultfs_plan *p)
{
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static int faultfs_ctl_lookup(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

static int faultfs_ctl_number(const char *v, double max, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= 0.0 && d <= max))
		return -EINVAL;
	*out = d;
	return 0;
}

/* Apply one "key=value" word to next (a copy of the plan). */
static int faultfs_ctl_word(struct faultfs_plan *next, const char *key, const char *v)
{
	double d;
	const char *us = strchr(key, '_');
	if (strcmp(key, "match") == 0) {
		if (strlen(v) >= sizeof next->match)
			return -EINVAL;
		strcpy(next->match, v);
		return 0;
	}
	if (strcmp(key, "fail_errno") == 0) {
		int e = faultfs_ctl_lookup(err_names, FAULTFS_ERR_COUNT, v, strlen(v));
		next->fail_err = (enum faultfs_err)e;
		return e < 0 ? -EINVAL : 0;
	}
	if (strcmp(key, "seed") == 0 || strncmp(key, "fail_", 5) == 0) {
		if (faultfs_ctl_number(v, 1e19, &d) != 0 || d != (double)(uint64_t)d)
			return -EINVAL;
		if (key[0] == 's') {
			next->rng = (uint64_t)d;
			return 0;
		}
		int op = faultfs_ctl_lookup(op_names, FAULTFS_OP_COUNT, key + 5, strlen(key + 5));
		if (op >= 0)
			next->fail_next[op] = (uint64_t)d;
		return op < 0 ? -EINVAL : 0;
	}
	if (us == NULL || faultfs_ctl_number(v, 1.0, &d) != 0)
		return -EINVAL;
	int op = faultfs_ctl_lookup(op_names, FAULTFS_OP_COUNT, key, (size_t)(us - key));
	int err = faultfs_ctl_lookup(err_names, FAULTFS_ERR_COUNT, us + 1, strlen(us + 1));
	if (op < 0 || err < 0)
		return -EINVAL;
	next->rate[op][err] = d;
	return 0;
}

/* The rates of each operation must leave room for success. */
static int faultfs_ctl_check(const struct faultfs_plan *next)
{
	for (int op = 0; op < FAULTFS_OP_COUNT; op++) {
		double sum = 0.0;
		for (int e = 0; e < FAULTFS_ERR_COUNT; e++)
			sum += next->rate[op][e];
		if (sum > 1.0)
			return -EINVAL;
	}
	return 0;
}

/* Parse every word into a copy, then swap it in: all or nothing. */
int faultfs_ctl_apply(struct faultfs_ctl *c, const char *text, size_t len, char *err, size_t err_len)
{
	char word[WORD_BYTES];
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	struct faultfs_plan next = c->plan;
	for (size_t i = 0; i < len && rc == 0;) {
		while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
			i++;
		size_t start = i;
		while (i < len && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
			i++;
		if (i == start)
			break;
		char *eq;
		if (i - start >= sizeof word) {
			rc = -EINVAL;
			snprintf(err, err_len, "faultfs: setting too long");
			break;
		}
		memcpy(word, text + start, i - start);
		word[i - start] = '\0';
		eq = strchr(word, '=');
		if (eq != NULL)
			*eq = '\0';
		rc = eq == NULL ? -EINVAL : faultfs_ctl_word(&next, word, eq + 1);
		if (rc != 0)
			snprintf(err, err_len, "faultfs: bad setting '%.*s'", (int)(i - start), text + start);
	}
	if (rc == 0 && (rc = faultfs_ctl_check(&next)) != 0)
		snprintf(err, err_len, "faultfs: the rates of one operation add up to more than 1");
	if (rc == 0)
		c->plan = next;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int faultfs_ctl_decide(struct faultfs_ctl *c, enum faultfs_op op, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	int e = 0;
	pthread_mutex_lock(&c->lock);
	c->calls[op]++;
	struct faultfs_plan *p = &c->plan;
	if (fnmatch(p->match, base, 0) == 0) {
		double u = faultfs_ctl_draw(p);
		if (p->fail_next[op] > 0) {
			p->fail_next[op]--;
			e = err_values[p->fail_err];
		} else if (u < p->rate[op][FAULTFS_ERR_EIO]) {
			e = EIO;
		} else if (u < p->rate[op][FAULTFS_ERR_EIO] + p->rate[op][FAULTFS_ERR_ENOSPC]) {
			e = ENOSPC;
		}
		if (e != 0)
			c->failed[op]++;
	}
	pthread_mutex_unlock(&c->lock);
	return -e;
}

size_t faultfs_ctl_format(struct faultfs_ctl *c, char *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&c->lock);
	const struct faultfs_plan *p = &c->plan;
	for (int op = 0; op < FAULTFS_OP_COUNT; op++) {
		for (int e = 0; e < FAULTFS_ERR_COUNT; e++)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s_%s=%g\n", op_names[op], err_names[e],
					      p->rate[op][e]);
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "fail_%s=%llu\n%s_calls=%llu\n%s_failed=%llu\n",
				      op_names[op], (unsigned long long)p->fail_next[op], op_names[op],
				      (unsigned long long)c->calls[op], op_names[op],
				      (unsigned long long)c->failed[op]);
	}
	n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "fail_errno=%s\nmatch=%s\n", err_names[p->fail_err],
			      p->match);
	pthread_mutex_unlock(&c->lock);
	return n < len ? n : len - 1;
}
