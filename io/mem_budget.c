/*
 * io/mem_budget.c - the memory budget and the shards' reserves (see
 * mem_budget.h).
 */
#include "mem_budget.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void mem_budget_init(struct mem_budget *b, uint64_t limit_bytes)
{
	atomic_init(&b->held, 0);
	atomic_init(&b->refusals, 0);
	b->limit = limit_bytes > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)limit_bytes;
}

void mem_local_init(struct mem_local *l, struct mem_budget *b)
{
	l->global = b;
	l->reserve = 0;
	l->held = 0;
}

void mem_local_fini(struct mem_local *l)
{
	if (l->global != NULL && l->reserve > 0)
		atomic_fetch_sub(&l->global->held, l->reserve);
	l->reserve = 0;
}

/* Take a batch (at least n) from the global count; false past the limit. */
static bool refill(struct mem_local *l, size_t n)
{
	int64_t want = n > MEM_BUDGET_BATCH_BYTES ? (int64_t)n : (int64_t)MEM_BUDGET_BATCH_BYTES;
	int64_t before = atomic_fetch_add(&l->global->held, want);
	if (before + want <= l->global->limit) {
		l->reserve += want;
		return true;
	}
	atomic_fetch_sub(&l->global->held, want);
	if (before + (int64_t)n > l->global->limit)
		return false;
	atomic_fetch_add(&l->global->held, (int64_t)n); /* just what is needed */
	l->reserve += (int64_t)n;
	return true;
}

bool mem_local_take(struct mem_local *l, size_t n, size_t mine)
{
	if (l->reserve < (int64_t)n && !refill(l, n)) {
		if (mine + n > MEM_BUDGET_FLOOR_BYTES) {
			atomic_fetch_add_explicit(&l->global->refusals, 1, memory_order_relaxed);
			return false;
		}
		atomic_fetch_add(&l->global->held, (int64_t)n); /* the floor: over the limit */
		l->reserve += (int64_t)n;
	}
	l->reserve -= (int64_t)n;
	l->held += (int64_t)n;
	return true;
}

bool mem_local_room(const struct mem_local *l, size_t n, size_t mine)
{
	return l->reserve >= (int64_t)n || mine + n <= MEM_BUDGET_FLOOR_BYTES ||
	       atomic_load_explicit(&l->global->held, memory_order_relaxed) + (int64_t)n <= l->global->limit;
}

void mem_local_force(struct mem_local *l, size_t n)
{
	if (l->reserve < (int64_t)n) {
		atomic_fetch_add(&l->global->held, (int64_t)n);
		l->reserve += (int64_t)n;
	}
	l->reserve -= (int64_t)n;
	l->held += (int64_t)n;
}

void mem_local_give(struct mem_local *l, size_t n)
{
	l->held -= (int64_t)n;
	l->reserve += (int64_t)n;
	if (l->reserve > 2 * (int64_t)MEM_BUDGET_BATCH_BYTES) { /* keep at most two batches */
		int64_t back = l->reserve - MEM_BUDGET_BATCH_BYTES;
		atomic_fetch_sub(&l->global->held, back);
		l->reserve -= back;
	}
}

bool mem_local_tight(const struct mem_local *l)
{
	return atomic_load_explicit(&l->global->held, memory_order_relaxed) > l->global->limit / 2;
}

/* A number from a cgroup file; 0 for "max", a huge v1 value or none. */
static uint64_t read_limit(const char *dir, const char *path, const char *file)
{
	char name[512];
	snprintf(name, sizeof name, "%s%s/%s", dir, path, file);
	FILE *f = fopen(name, "r");
	unsigned long long v = 0;
	int got = f != NULL ? fscanf(f, "%llu", &v) : 0;
	if (f != NULL)
		fclose(f);
	return got == 1 && v > 0 && v < (1ull << 60) ? v : 0;
}

/* This process's cgroup memory limit (v2 "0::/path", or the v1 memory
 * controller's "N:memory:/path"), or 0 when there is none. */
static uint64_t cgroup_limit(void)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];
	uint64_t limit = 0;
	while (f != NULL && limit == 0 && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *path = strrchr(line, ':');
		if (path == NULL)
			continue;
		*path++ = '\0';
		if (strncmp(line, "0:", 2) == 0)
			limit = read_limit("/sys/fs/cgroup", path, "memory.max");
		else if (strstr(line, ":memory") != NULL)
			limit = read_limit("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes");
	}
	if (f != NULL)
		fclose(f);
	return limit;
}

uint64_t mem_budget_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 1ull << 30;
	uint64_t cg = cgroup_limit();
	if (cg != 0 && cg < ram)
		ram = cg;
	return ram / 4;
}
