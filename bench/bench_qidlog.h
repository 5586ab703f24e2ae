/*
 * bench/bench_qidlog.h - the --qid-log file: one line per message the
 * server accepted, "QUEUE-ID SEQ" ("-" when the reply named no queue ID),
 * so a test can check them against the server's spool.
 *
 * Owns: buffering lines and writing whole lines only.  The file is opened
 * O_APPEND once by the parent; each worker has its own buffer and writes
 * it with one write() when it fills (or at the end), so lines from several
 * processes never interleave within a line.
 */
#ifndef SMTPSINK_BENCH_QIDLOG_H
#define SMTPSINK_BENCH_QIDLOG_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_QIDLOG_BUF_BYTES 65536u
#define BENCH_QIDLOG_LINE_MAX_BYTES 128u /* a 64-byte ID, a 20-digit number */

struct bench_qidlog {
	int fd;
	size_t len;
	uint64_t lost_lines; /* the write failed */
	char buf[BENCH_QIDLOG_BUF_BYTES];
};

/* Open (create, truncate, append) path: the descriptor, or -errno. */
int bench_qidlog_open(const char *path);
void bench_qidlog_init(struct bench_qidlog *q, int fd);
void bench_qidlog_add(struct bench_qidlog *q, const char *qid, size_t qid_len, uint64_t seq);
void bench_qidlog_flush(struct bench_qidlog *q);

#endif
