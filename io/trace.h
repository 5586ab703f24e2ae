/*
 * io/trace.h - session transcripts (--trace FILE|-, --trace-client CIDR).
 *
 * Owns: the transcript file and the line format.  Each line is
 *   TIME SESSION-ID DIR TEXT
 * with TIME the wall clock in RFC 3339 UTC with microseconds
 * (2026-12-08T01:02:03.123456Z), so lines match an MTA's log, or with
 * --trace-time session SECONDS.MICROS since the session's connect (a
 * monotonic clock: a clock step does not show); DIR "C:" for
 * what the client sent, "S:" for what the server sent, "--" for what
 * happened (connect, pipelined groups, message summaries, pauses, faults,
 * timeouts, who closed).  Bytes that are not printable ASCII are written
 * as \xHH, so a line is always one line.  Each shard gathers its lines in a
 * buffer of its own and writes it once per loop turn (under a lock taken
 * only then), so sessions of different shards interleave by whole lines
 * and tracing costs no syscall per line.  Tracing is for debugging clients:
 * --trace-client keeps it to a few while the rest run at full speed.
 */
#ifndef SMTPSINK_TRACE_H
#define SMTPSINK_TRACE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server_config.h"

struct trace_sink {
	int fd; /* -1: tracing is off */
	bool own_fd; /* opened here (not stdout) */
	pthread_mutex_t lock;
	enum trace_time time; /* --trace-time */
	/* --trace-client: the list in force (SIGHUP may publish another; every
	 * list stays valid until exit: io/config_live.h) */
	_Atomic(const struct cidr_list *) clients;
};

#define TRACE_STAMP_BYTES 24u /* "2026-12-08T01:02:03" and its NUL, with room */

struct trace_buf {
	char *buf;
	size_t len, cap;
	uint64_t stamp_s; /* the second stamp holds (TRACE_TIME_UTC) */
	char stamp[TRACE_STAMP_BYTES];
};

/* Open cfg->trace_path (append; "-" is stdout).  0 or -errno. */
int trace_open(struct trace_sink *t, const struct server_config *cfg);
void trace_close(struct trace_sink *t);

/* Is a client of this address traced?  (family 4, 6, 0) */
bool trace_wanted(const struct trace_sink *t, uint8_t family, const uint8_t *addr);
/* SIGHUP: trace these clients from now on (l must stay valid until exit). */
void trace_set_clients(struct trace_sink *t, const struct cidr_list *l);

/* Append one line: dir is "C:", "S:" or "--"; text is escaped; start_us
 * is trace_clock() at the session's connect.  _at stamps it with a time
 * taken earlier. */
void trace_line(struct trace_buf *b, const struct trace_sink *t, uint64_t start_us, const char *sid, const char *dir,
		const void *text, size_t len);
void trace_line_at(struct trace_buf *b, const struct trace_sink *t, uint64_t us, uint64_t start_us, const char *sid,
		   const char *dir, const void *text, size_t len);

/* The lines' clock, in microseconds, for _at and start_us: the wall clock
 * (TRACE_TIME_UTC) or a monotonic one (TRACE_TIME_SESSION). */
uint64_t trace_clock(const struct trace_sink *t);

/* Write and empty the buffer. */
void trace_flush(struct trace_buf *b, struct trace_sink *t);
void trace_buf_free(struct trace_buf *b);

#endif
