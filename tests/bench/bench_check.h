/*
 * tests/bench/bench_check.h - the check macro and verdict of the bench unit
 * tests.
 *
 * Owns: CHECK(cond, fmt, ...) that records a failure with a printf-style
 * message and carries on (it never returns or jumps for the caller), and
 * bench_check_finish() printing "<name>: N passed, N failed" and giving the
 * exit status.  One counter per test binary.
 */
#ifndef SMTPSINK_TESTS_BENCH_CHECK_H
#define SMTPSINK_TESTS_BENCH_CHECK_H

#include <stdio.h>

static unsigned bench_checks, bench_failures;

#define CHECK(cond, ...)                                                \
	do {                                                            \
		bench_checks++;                                         \
		if (!(cond)) {                                          \
			bench_failures++;                               \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
		}                                                       \
	} while (0)

static inline int bench_check_finish(const char *name)
{
	printf("%s: %u passed, %u failed\n", name, bench_checks - bench_failures, bench_failures);
	return bench_failures != 0;
}

#endif
