/*
 * bench/bench_qidlog.c - buffered "QUEUE-ID SEQ" lines (see bench_qidlog.h).
 */
#define _GNU_SOURCE
#include "bench_qidlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_classify.h"

int bench_qidlog_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

void bench_qidlog_init(struct bench_qidlog *q, int fd)
{
	q->fd = fd;
	q->len = 0;
	q->lost_lines = 0;
}

void bench_qidlog_flush(struct bench_qidlog *q)
{
	size_t off = 0;
	while (off < q->len) {
		ssize_t n = write(q->fd, q->buf + off, q->len - off);
		if (n < 0 && io_classify(IO_VERB_WRITE, -errno) == IO_RETRY)
			continue;
		if (n <= 0) {
			for (size_t i = off; i < q->len; i++) /* count what is lost */
				q->lost_lines += q->buf[i] == '\n';
			break;
		}
		off += (size_t)n;
	}
	q->len = 0;
}

void bench_qidlog_add(struct bench_qidlog *q, const char *qid, size_t qid_len, uint64_t seq)
{
	if (q->fd < 0)
		return;
	if (sizeof q->buf - q->len < BENCH_QIDLOG_LINE_MAX_BYTES)
		bench_qidlog_flush(q);
	if (qid == NULL || qid_len == 0) {
		qid = "-";
		qid_len = 1;
	}
	int n = snprintf(q->buf + q->len, BENCH_QIDLOG_LINE_MAX_BYTES, "%.*s %llu\n", (int)qid_len, qid,
			 (unsigned long long)seq);
	if (n > 0 && n < (int)BENCH_QIDLOG_LINE_MAX_BYTES)
		q->len += (size_t)n;
	else
		q->lost_lines++;
}
