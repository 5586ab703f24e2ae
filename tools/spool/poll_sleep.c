/*
 * tools/spool/poll_sleep.c - an interruptible pause (poll_sleep.h).
 */
#define _GNU_SOURCE
#include "poll_sleep.h"

#include <errno.h>
#include <time.h>

void poll_sleep(uint64_t ms, volatile sig_atomic_t *stop)
{
	struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
	while (!*stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
