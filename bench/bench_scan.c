/*
 * bench/bench_scan.c - micro-benchmark of the byte scanners in core/.
 *
 * Owns: generating two synthetic streams in memory and timing the scanners
 * over them, as the engine would call them:
 *   line_scan  a pipelined command stream (RSET/MAIL/RCPT/NOOP lines) fed to
 *              line_scan_next() in 16 KiB receive-sized pieces, so lines
 *              split across pieces go through the carry;
 *   data_dot   DATA content (76-character lines, some dot-stuffed, CRLF,
 *              ending in CRLF.CRLF) fed to data_decoder_dot() in 64 KiB
 *              pieces with a sink that only adds up lengths;
 *   find_crlf  data_decoder_find_crlf() alone, walked over the same content
 *              one line end per call (a CRLF is stepped over whole).
 * Each is run --reps times; the best run is reported in GB/s (1e9 bytes/s).
 * Results are checked (line counts, content length, end of data found), so
 * the work cannot be optimised away or silently wrong.
 *
 * It does not own: the scanners, or any I/O cost (recv, copies, syscalls).
 *
 * Usage: bench_scan [--size-mib N] [--reps R] [--json]
 *   --size-mib N  DATA stream of N MiB (default 256); the command stream is
 *                 N/4 MiB (default 64)
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data_decoder.h"
#include "line_scan.h"

#define BENCH_CMD_PIECE_BYTES (16u * 1024u)
#define BENCH_DATA_PIECE_BYTES (64u * 1024u)
#define BENCH_TEXT_LINE_CHARS 76u
#define BENCH_DEFAULT_SIZE_MIB 256u
#define BENCH_DEFAULT_REPS 5u

struct measure {
	const char *name;
	const char *what;
	size_t bytes;
	double best_s;
	uint64_t items; /* lines, or CR/LF found */
};

/* Results land here so the compiler must compute them. */
static volatile uint64_t bench_sink_total;

static void die(const char *msg)
{
	fprintf(stderr, "bench_scan: %s\n", msg);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* ---- stream generation --------------------------------------------------- */

/* Pipelined command groups until size bytes; returns lines written. */
static uint64_t make_commands(uint8_t *buf, size_t size, size_t *len)
{
	uint64_t seed = 0x5eed, lines = 0;
	size_t at = 0;
	for (;;) {
		char group[256];
		unsigned a = (unsigned)(rng_next(&seed) % 1000000), b = (unsigned)(rng_next(&seed) % 1000000);
		int n = snprintf(group, sizeof(group),
				 "RSET\r\nMAIL FROM:<sender%u@example.com>\r\nRCPT TO:<rcpt%u@example.org>\r\nNOOP\r\n",
				 a, b);
		if (n < 0 || at + (size_t)n > size)
			break;
		memcpy(buf + at, group, (size_t)n);
		at += (size_t)n;
		lines += 4;
	}
	*len = at;
	return lines;
}

/* Mail text: 76 printable characters per line, about 1 line in 40 starting
 * with a (stuffed) dot, then CRLF.CRLF.  Returns the unstuffed length. */
static uint64_t make_content(uint8_t *buf, size_t size, size_t *len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
				       " ,;:-_()=+/?!'\"<>@#";
	uint64_t seed = 0xda7a, content = 0;
	size_t at = 0;
	while (at + BENCH_TEXT_LINE_CHARS + 4 + 5 <= size) {
		if (rng_next(&seed) % 40 == 0) {
			buf[at++] = '.';
			buf[at++] = '.';
			content++;
		}
		for (unsigned i = 0; i < BENCH_TEXT_LINE_CHARS; i++)
			buf[at++] = (uint8_t)alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
		buf[at++] = '\r';
		buf[at++] = '\n';
		content += BENCH_TEXT_LINE_CHARS + 2;
	}
	memcpy(buf + at, ".\r\n", 3);
	at += 3;
	*len = at;
	return content;
}

/* ---- the measured loops -------------------------------------------------- */

static uint64_t run_line_scan(const uint8_t *buf, size_t len)
{
	static struct line_scan ls;
	static uint8_t carry[LINE_SCAN_CARRY_BYTES];
	uint64_t lines = 0;
	line_scan_reset(&ls);
	line_scan_lend(&ls, carry); /* for good: one scanner */
	for (size_t at = 0; at < len; at += BENCH_CMD_PIECE_BYTES) {
		size_t n = len - at < BENCH_CMD_PIECE_BYTES ? len - at : BENCH_CMD_PIECE_BYTES;
		const uint8_t *p = buf + at;
		while (n > 0) {
			struct line_scan_line line;
			size_t used;
			enum line_scan_status st = line_scan_next(&ls, p, n, &used, &line);
			if (st == LINE_SCAN_LINE)
				lines++;
			else if (st == LINE_SCAN_TOO_LONG)
				die("line_scan: unexpected TOO_LONG");
			p += used;
			n -= used;
		}
	}
	return lines;
}

static void sum_sink(void *ctx, const uint8_t *bytes, size_t len)
{
	(void)bytes;
	*(uint64_t *)ctx += len;
}

static uint64_t run_data_dot(const uint8_t *buf, size_t len)
{
	struct data_decoder d;
	uint64_t total = 0;
	bool done = false;
	size_t consumed = 0;
	data_decoder_begin(&d, SMTP_BARE_LF_PRESERVE);
	for (size_t at = 0; at < len && !done; at += BENCH_DATA_PIECE_BYTES) {
		size_t n = len - at < BENCH_DATA_PIECE_BYTES ? len - at : BENCH_DATA_PIECE_BYTES;
		consumed += data_decoder_dot(&d, buf + at, n, &done, sum_sink, &total);
	}
	if (!done || consumed != len)
		die("data_decoder_dot: end of data not found at the end");
	return total;
}

/* One call per line end, as the decoder makes them: a CRLF is stepped over
 * whole.  Returns the line ends found. */
static uint64_t run_find_crlf(const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	uint32_t flags = 0;
	uint64_t found = 0;
	for (;;) {
		p = data_decoder_find_crlf(p, end, &flags);
		if (p == end)
			break;
		found++;
		p += (*p == '\r' && end - p > 1 && p[1] == '\n') ? 2 : 1;
	}
	if (flags != 0)
		die("find_crlf: flags on plain ASCII");
	return found;
}

typedef uint64_t (*bench_fn)(const uint8_t *buf, size_t len);

/* Best of reps runs; every run must give the same, expected result. */
static void measure(struct measure *m, bench_fn fn, const uint8_t *buf, size_t len, uint64_t want, unsigned reps)
{
	m->bytes = len;
	m->best_s = 1e30;
	m->items = want;
	for (unsigned r = 0; r < reps; r++) {
		double t0 = now_s();
		uint64_t got = fn(buf, len);
		double dt = now_s() - t0;
		if (got != want) {
			fprintf(stderr, "bench_scan: %s: got %llu, want %llu\n", m->name, (unsigned long long)got,
				(unsigned long long)want);
			exit(1);
		}
		bench_sink_total += got;
		if (dt < m->best_s)
			m->best_s = dt;
	}
}

static void report(const struct measure *m, size_t n, bool json, unsigned reps)
{
	if (json) {
		printf("{\"benchmark\":\"bench_scan\",\"reps\":%u,\"results\":[", reps);
		for (size_t i = 0; i < n; i++)
			printf("%s{\"name\":\"%s\",\"bytes\":%zu,\"best_s\":%.6f,\"gb_per_s\":%.3f,\"items\":%llu}",
			       i ? "," : "", m[i].name, m[i].bytes, m[i].best_s, (double)m[i].bytes / m[i].best_s / 1e9,
			       (unsigned long long)m[i].items);
		printf("]}\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%-10s %-40s %8.1f MiB  best of %u %8.4f s  %7.3f GB/s\n", m[i].name, m[i].what,
		       (double)m[i].bytes / (1024.0 * 1024.0), reps, m[i].best_s,
		       (double)m[i].bytes / m[i].best_s / 1e9);
}

static unsigned parse_uint(const char *s, const char *opt)
{
	char *end;
	unsigned long v = strtoul(s ? s : "", &end, 10);
	if (!s || *end != '\0' || v == 0 || v > 65536) {
		fprintf(stderr, "bench_scan: %s needs a number in 1..65536\n", opt);
		exit(2);
	}
	return (unsigned)v;
}

/* The naive count of what run_find_crlf() must find. */
static uint64_t count_line_ends(const uint8_t *buf, size_t len)
{
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\r' && buf[i] != '\n')
			continue;
		n++;
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
			i++;
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned size_mib = BENCH_DEFAULT_SIZE_MIB, reps = BENCH_DEFAULT_REPS;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--size-mib") == 0) {
			size_mib = parse_uint(val, "--size-mib");
			i++;
		} else if (strcmp(argv[i], "--reps") == 0) {
			reps = parse_uint(val, "--reps");
			i++;
		} else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "usage: %s [--size-mib N] [--reps R] [--json]\n", argv[0]);
			return 2;
		}
	}
	size_t data_cap = (size_t)size_mib << 20, cmd_cap = data_cap / 4 ? data_cap / 4 : 4096;
	uint8_t *cmds = malloc(cmd_cap), *data = malloc(data_cap);
	if (!cmds || !data)
		die("out of memory");
	size_t cmd_len, data_len;
	uint64_t lines = make_commands(cmds, cmd_cap, &cmd_len);
	uint64_t content = make_content(data, data_cap, &data_len);
	uint64_t crlf = count_line_ends(data, data_len);

	struct measure m[3] = {
		{ "line_scan", "pipelined commands, 16 KiB pieces", 0, 0, 0 },
		{ "data_dot", "DATA content, 64 KiB pieces", 0, 0, 0 },
		{ "find_crlf", "find_crlf over DATA content", 0, 0, 0 },
	};
	measure(&m[0], run_line_scan, cmds, cmd_len, lines, reps);
	measure(&m[1], run_data_dot, data, data_len, content, reps);
	measure(&m[2], run_find_crlf, data, data_len, crlf, reps);
	report(m, 3, json, reps);
	free(cmds);
	free(data);
	return 0;
}
