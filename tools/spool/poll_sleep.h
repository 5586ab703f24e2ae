/*
 * tools/spool/poll_sleep.h - the pause between two polls of a live spool.
 *
 * Owns: sleeping up to a number of milliseconds unless SIGINT/SIGTERM
 * arrives (the handler is installed without SA_RESTART, so the sleep ends
 * at once and the caller sees the stop flag).
 */
#ifndef SMTPSINK_SPOOL_POLL_SLEEP_H
#define SMTPSINK_SPOOL_POLL_SLEEP_H

#include <signal.h>
#include <stdint.h>

/* Poll periods: follow prints within ~200 ms; wait answers a CI script
 * within ~100 ms of the 250. */
#define POLL_FOLLOW_MS 200u
#define POLL_WAIT_MS 100u

void poll_sleep(uint64_t ms, volatile sig_atomic_t *stop);

#endif
