/*
 * tests/hostile/faultfs_ctl.h - the fault plan of faultfs: which calls fail,
 * with which errno, and the counts of what was done.
 *
 * Owns: the settings (a failure rate per operation and errno, "fail the
 * next N calls" counters, a basename glob that limits faults to some
 * files), the seeded random draws, the counters, and the text form of all
 * of it (parsed from the command line and from writes to the control file,
 * printed by reads of it).  Does not: touch any file; faultfs.c calls
 * faultfs_ctl_decide() before it runs the real syscall.
 *
 * Invariants: one mutex guards the whole state, so FUSE's worker threads
 * may call in at once; every rate is within [0, 1] and the rates of one
 * operation add up to at most 1.  Expected workload: one decision per
 * write/fsync/create/fallocate call, a few settings changes per test.
 */
#ifndef FAULTFS_CTL_H
#define FAULTFS_CTL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FAULTFS_MATCH_BYTES 256u

/* The calls faults can be injected into.  fsync covers fsync, fdatasync
 * and fsync of a directory. */
enum faultfs_op {
	FAULTFS_OP_CREATE,
	FAULTFS_OP_WRITE,
	FAULTFS_OP_FSYNC,
	FAULTFS_OP_FALLOCATE,
	FAULTFS_OP_COUNT
};

/* The errnos a fault can carry. */
enum faultfs_err {
	FAULTFS_ERR_EIO,
	FAULTFS_ERR_ENOSPC,
	FAULTFS_ERR_COUNT
};

/* What to fail: replaced whole by each settings change. */
struct faultfs_plan {
	uint64_t rng;
	double rate[FAULTFS_OP_COUNT][FAULTFS_ERR_COUNT];
	uint64_t fail_next[FAULTFS_OP_COUNT]; /* fail this many next calls ... */
	enum faultfs_err fail_err; /* ... with this errno */
	char match[FAULTFS_MATCH_BYTES]; /* fnmatch glob on the basename */
};

struct faultfs_ctl {
	pthread_mutex_t lock; /* guards everything below */
	struct faultfs_plan plan;
	uint64_t calls[FAULTFS_OP_COUNT];
	uint64_t failed[FAULTFS_OP_COUNT];
};

/* A plan that fails nothing, drawing from seed. */
void faultfs_ctl_init(struct faultfs_ctl *c, uint64_t seed);
void faultfs_ctl_fini(struct faultfs_ctl *c);

/* Apply settings "key=value ..." (whitespace separated); all or nothing.
 * 0, or -EINVAL with a message in err. */
int faultfs_ctl_apply(struct faultfs_ctl *c, const char *text, size_t len, char *err, size_t err_len);

/* Count one call of op on path; 0 to run it, or the negative errno to
 * return instead. */
int faultfs_ctl_decide(struct faultfs_ctl *c, enum faultfs_op op, const char *path);

/* The settings and counters as "key=value" lines; the length written (cut
 * to len - 1, NUL-terminated). */
size_t faultfs_ctl_format(struct faultfs_ctl *c, char *buf, size_t len);

#endif
