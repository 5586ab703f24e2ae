/*
 * tests/spool/spool_gen.c - write a synthetic spool through core/'s encoder,
 * without a server: for the spool tool's tests (controlled times, old
 * segments to prune) and for bench/spool_ls_bench.sh (a million messages
 * in seconds).
 *
 * Usage: spool_gen DIR [--messages N] [--shards S] [--segment-bytes B]
 *                      [--start-us T] [--step-us D] [--body-bytes N] [--open-last]
 *                      [--node N] [--sessions]
 * Message i goes to shard i % S, received at T + i * D microseconds, from
 * sender<i % 97>@example.com to user<i % 1009>@example.org (and
 * cc<i % 7>@example.net when i % 3 == 0), Subject "message i", a body of
 * about N bytes; queue IDs name node N (--node-id; default 0).  Segments
 * are filled up to B bytes and sealed as the
 * server seals them (cut to their used length, .idx beside them); with
 * --open-last the last segment of each shard is left open: no .idx,
 * preallocated to B with zeros.
 *
 * With --sessions, each message i also gets a session report (encoded by
 * core/session_report.c), written just before it: session ID from the
 * shard's generator at T + i * D - 1 (its connect time), ended at
 * T + i * D + 500, the message's queue ID as its one message and the
 * message's SESSION_ID naming it.  Client 10.1.2.3 when i % 5 == 0 (the
 * message too), else 127.0.0.1; EHLO gen.example, or when i % 7 == 0 a
 * HELO without a name (quirk helo-no-name); when i % 3 == 1 an aborted
 * transaction first (at +100 us, 1 RCPT, no DATA, ended by RSET; quirk
 * rset-for-data) and an idle gap of 10 s at +50 us after EHLO.
 *
 * Owns nothing the server relies on: records come from spool_record_head,
 * spool_checksum_* and spool_record_tail, indexes from spool_index_encode,
 * so what it writes is what core/ defines.  Exit 0, or 1 with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_id.h"
#include "session_report.h"
#include "spool_format.h"

#define BODY_MAX_BYTES (1u << 20)
#define TEXT_BYTES 128u

struct gen_opts {
	const char *dir;
	uint64_t messages, shards, segment_bytes, start_us, step_us, body_bytes, node;
	int open_last, sessions;
};

/* One segment being filled in memory. */
struct seg_buf {
	uint8_t *img;
	uint64_t len, cap, segno;
	struct spool_index_entry *ents;
	uint32_t count, ent_cap;
};

static int die(const char *what)
{
	fprintf(stderr, "spool_gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(int dir_fd, const char *name, const uint8_t *p, uint64_t len, uint64_t size)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(name);
	for (uint64_t off = 0; off < len;) {
		ssize_t n = write(fd, p + off, len - off);
		if (n <= 0)
			die(name);
		off += (uint64_t)n;
	}
	if (size > len && ftruncate(fd, (off_t)size) != 0)
		die(name);
	close(fd);
}

/* Write the segment (sealed: with its index) and start the next one. */
static void flush_segment(int dir_fd, struct seg_buf *s, const struct gen_opts *o, int seal)
{
	char name[TEXT_BYTES];
	snprintf(name, sizeof name, "%08llu.seg", (unsigned long long)s->segno);
	write_file(dir_fd, name, s->img, s->len, seal ? 0 : o->segment_bytes);
	if (seal) {
		size_t n = spool_index_bytes(s->count);
		uint8_t *idx = malloc(n);
		if (idx == NULL)
			die("malloc");
		spool_index_encode(s->segno, s->ents, s->count, idx);
		snprintf(name, sizeof name, "%08llu.idx", (unsigned long long)s->segno);
		write_file(dir_fd, name, idx, n, 0);
		free(idx);
	}
	s->segno++;
	s->len = 0;
	s->count = 0;
}

static void start_segment(struct seg_buf *s, uint32_t shard, uint64_t created_us)
{
	spool_segment_header(shard, 0, s->segno, created_us, s->img);
	s->len = SPOOL_SEGMENT_HEADER_BYTES;
}

static void add_entry(struct seg_buf *s, struct smtp_view qid, uint64_t received_us, uint32_t flags, uint64_t off,
		      uint64_t record_len, uint32_t meta_len)
{
	if (s->count == s->ent_cap) {
		s->ent_cap = s->ent_cap ? 2 * s->ent_cap : 4096;
		s->ents = realloc(s->ents, s->ent_cap * sizeof *s->ents);
		if (s->ents == NULL)
			die("realloc");
	}
	struct spool_index_entry *e = &s->ents[s->count++];
	memset(e, 0, sizeof *e);
	memcpy(e->qid, qid.ptr, qid.len);
	e->received_us = received_us;
	e->offset = off;
	e->record_len = record_len;
	e->meta_len = meta_len;
	e->flags = flags;
}

/* Append one record at the end of the segment. */
static void put_record(struct seg_buf *s, const struct spool_envelope *env, const uint8_t *body, uint64_t body_len)
{
	uint64_t off = s->len, record_len = spool_record_len(env, body_len);
	size_t head_len = spool_record_meta_bytes(env);
	uint8_t *p = s->img + off;
	struct spool_checksum c;
	spool_record_head(env, body_len, off, p);
	memcpy(p + head_len, body, body_len);
	spool_checksum_init(&c);
	spool_checksum_update(&c, p, head_len + body_len);
	spool_record_tail(&c, record_len, head_len + body_len, p + head_len + body_len);
	add_entry(s, env->qid, env->received_us, env->flags, off, record_len,
		  (uint32_t)(head_len - SPOOL_RECORD_HEADER_BYTES));
	s->len += record_len;
}

/* Append one session report (empty body) at the end of the segment. */
static void put_session(struct seg_buf *s, const struct session_report *r)
{
	uint64_t off = s->len, record_len = session_report_record_len(r);
	size_t head_len = session_report_meta_bytes(r);
	uint8_t *p = s->img + off;
	struct spool_checksum c;
	session_report_head(r, off, p);
	spool_checksum_init(&c);
	spool_checksum_update(&c, p, head_len);
	spool_record_tail(&c, record_len, head_len, p + head_len);
	add_entry(s, r->id, r->connect_us, SPOOL_FLAG_SESSION, off, record_len,
		  (uint32_t)(head_len - SPOOL_RECORD_HEADER_BYTES));
	s->len += record_len;
}

/* The session report of message i (see the file header). */
struct gen_session {
	char id[QUEUE_ID_LEN + 1];
	struct smtp_view msg;
	struct session_abort abort;
	struct session_gap gap;
	struct session_report r;
};

static void make_session(struct gen_session *g, const struct spool_envelope *env, uint64_t i)
{
	struct session_report *r = &g->r;
	bool aborted = i % 3 == 1, no_name = i % 7 == 0;
	memset(r, 0, sizeof *r);
	r->id = smtp_view_make(g->id, QUEUE_ID_LEN);
	r->connect_us = env->received_us - 1;
	r->end_us = env->received_us + 500;
	r->shard = env->shard;
	r->client_family = env->client_family;
	r->client_port = env->client_port;
	memcpy(r->client_addr, env->client_addr, sizeof r->client_addr);
	r->helo = no_name ? smtp_view_make("", 0) : env->helo;
	r->helo_verb = no_name ? SMTP_VERB_HELO : SMTP_VERB_EHLO;
	r->end_reason = SMTP_REASON_QUIT;
	r->ended_by_client = true;
	r->quirks = (no_name ? SMTP_QUIRK_HELO_NO_NAME : 0) | (aborted ? SMTP_QUIRK_RSET_FOR_DATA : 0);
	r->verbs[r->helo_verb] = 1;
	r->verbs[SMTP_VERB_MAIL] = aborted ? 2 : 1;
	r->verbs[SMTP_VERB_RCPT] = env->rcpt_count + (aborted ? 1 : 0);
	r->verbs[SMTP_VERB_DATA] = 1;
	r->verbs[SMTP_VERB_RSET] = aborted ? 1 : 0;
	r->verbs[SMTP_VERB_QUIT] = 1;
	r->txn_completed = 1;
	r->txn_aborted = aborted ? 1 : 0;
	r->rcpts_accepted = r->verbs[SMTP_VERB_RCPT];
	r->bytes_in = 1000 + i;
	r->bytes_out = 300;
	g->abort = (struct session_abort){ 100, 1, 0, false, SMTP_REASON_RSET };
	g->gap = (struct session_gap){ 50, 10000000, SMTP_VERB_EHLO, false };
	r->aborts = &g->abort;
	r->abort_count = r->txn_aborted;
	r->gaps = &g->gap;
	r->gap_count = r->gaps_total = r->txn_aborted;
	g->msg = env->qid;
	r->messages = &g->msg;
	r->message_count = 1;
}

/* The envelope and body of message i (views into the caller's buffers). */
struct gen_msg {
	char qid[QUEUE_ID_LEN + 1], from[TEXT_BYTES], rcpt[2][TEXT_BYTES];
	struct smtp_view rcpts[2];
	uint8_t *body;
	uint64_t body_len;
};

static void make_msg(struct gen_msg *g, struct spool_envelope *env, uint64_t i, uint32_t shard, uint64_t t_us,
		     uint64_t body_bytes)
{
	snprintf(g->from, sizeof g->from, "sender%llu@example.com", (unsigned long long)(i % 97));
	snprintf(g->rcpt[0], sizeof g->rcpt[0], "user%llu@example.org", (unsigned long long)(i % 1009));
	snprintf(g->rcpt[1], sizeof g->rcpt[1], "cc%llu@example.net", (unsigned long long)(i % 7));
	int n = snprintf((char *)g->body, BODY_MAX_BYTES, "From: <%s>\r\nTo: <%s>\r\nSubject: message %llu\r\n\r\n",
			 g->from, g->rcpt[0], (unsigned long long)i);
	uint64_t len = (uint64_t)n;
	while (len + 2 <= body_bytes && len + 2 < BODY_MAX_BYTES) {
		g->body[len] = (uint8_t)('a' + len % 26);
		len++;
		if (len % 72 == 0) {
			g->body[len++] = '\r';
			g->body[len++] = '\n';
		}
	}
	g->body_len = len;
	for (int k = 0; k < 2; k++)
		g->rcpts[k] = smtp_view_make(g->rcpt[k], strlen(g->rcpt[k]));
	memset(env, 0, sizeof *env);
	env->qid = smtp_view_make(g->qid, QUEUE_ID_LEN);
	env->received_us = t_us;
	env->shard = shard;
	env->client_family = 4;
	env->client_port = (uint16_t)(40000 + i % 20000);
	memcpy(env->client_addr, "\x7f\x00\x00\x01", 4);
	env->helo = smtp_view_make("gen.example", 11);
	env->protocol = smtp_view_make("ESMTP", 5);
	env->mail_from = smtp_view_make(g->from, strlen(g->from));
	env->rcpts = g->rcpts;
	env->rcpt_count = i % 3 == 0 ? 2 : 1;
}

static void gen_shard(const struct gen_opts *o, int top_fd, uint32_t shard, struct gen_msg *g)
{
	char name[TEXT_BYTES];
	snprintf(name, sizeof name, "shard-%02u", shard);
	if (mkdirat(top_fd, name, 0755) != 0 && errno != EEXIST)
		die(name);
	int fd = openat(top_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die(name);
	struct seg_buf s = { 0 };
	s.cap = o->segment_bytes;
	s.img = malloc(s.cap);
	s.segno = 1;
	if (s.img == NULL)
		die("malloc");
	struct queue_id_gen qg;
	queue_id_init(&qg, (uint32_t)o->node, shard, 0);
	struct gen_session gs;
	for (uint64_t i = shard; i < o->messages; i += o->shards) {
		struct spool_envelope env;
		uint64_t t_us = o->start_us + i * o->step_us;
		make_msg(g, &env, i, shard, t_us, o->body_bytes);
		if (o->sessions) {
			if (i % 5 == 0)
				memcpy(env.client_addr, "\x0a\x01\x02\x03", 4);
			queue_id_next(&qg, t_us - 1, gs.id);
			env.session_id = smtp_view_make(gs.id, QUEUE_ID_LEN);
		}
		queue_id_next(&qg, t_us, g->qid);
		if (o->sessions)
			make_session(&gs, &env, i);
		uint64_t need =
			spool_record_len(&env, g->body_len) + (o->sessions ? session_report_record_len(&gs.r) : 0);
		if (s.len != 0 && s.len + need > s.cap)
			flush_segment(fd, &s, o, 1);
		if (s.len == 0)
			start_segment(&s, shard, o->sessions ? t_us - 1 : t_us);
		if (o->sessions)
			put_session(&s, &gs.r);
		put_record(&s, &env, g->body, g->body_len);
	}
	if (s.len != 0)
		flush_segment(fd, &s, o, !o->open_last);
	free(s.img);
	free(s.ents);
	close(fd);
}

static uint64_t number(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = v ? strtoull(v, &end, 10) : 0;
	if (v == NULL || errno != 0 || *end != '\0') {
		fprintf(stderr, "spool_gen: %s needs a number\n", opt);
		exit(2);
	}
	return n;
}

static const struct {
	const char *name;
	size_t offset;
} number_opts[] = {
	{ "--messages", offsetof(struct gen_opts, messages) },
	{ "--shards", offsetof(struct gen_opts, shards) },
	{ "--segment-bytes", offsetof(struct gen_opts, segment_bytes) },
	{ "--start-us", offsetof(struct gen_opts, start_us) },
	{ "--step-us", offsetof(struct gen_opts, step_us) },
	{ "--body-bytes", offsetof(struct gen_opts, body_bytes) },
	{ "--node", offsetof(struct gen_opts, node) },
};

static void parse(int argc, char **argv, struct gen_opts *o)
{
	*o = (struct gen_opts){ NULL, 1000, 2, 64u << 20, 1700000000000000ull, 1000, 200, 0, 0, 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *dst = NULL;
		for (size_t k = 0; k < sizeof number_opts / sizeof number_opts[0]; k++)
			if (strcmp(a, number_opts[k].name) == 0)
				dst = (uint64_t *)((char *)o + number_opts[k].offset);
		if (dst != NULL) {
			*dst = number(a, v);
			i++;
		} else if (!strcmp(a, "--open-last")) {
			o->open_last = 1;
		} else if (!strcmp(a, "--sessions")) {
			o->sessions = 1;
		} else if (a[0] != '-' && o->dir == NULL) {
			o->dir = a;
		} else {
			fprintf(stderr, "usage: spool_gen DIR [--messages N] [--shards S] [--segment-bytes B] "
					"[--start-us T] [--step-us D] [--body-bytes N] [--node N] [--open-last] "
					"[--sessions]\n");
			exit(2);
		}
	}
	if (o->dir == NULL || o->shards == 0 || o->shards > QUEUE_ID_SHARD_MAX + 1 || o->segment_bytes < (1u << 20) ||
	    o->body_bytes > BODY_MAX_BYTES / 2 || o->node > QUEUE_ID_NODE_MAX) {
		fprintf(stderr,
			"spool_gen: need DIR, 1..256 shards, --segment-bytes >= 1 MiB, --body-bytes <= 512 KiB, "
			"--node <= 65535\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	parse(argc, argv, &o);
	if (mkdir(o.dir, 0755) != 0 && errno != EEXIST)
		die(o.dir);
	int top = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		die(o.dir);
	struct gen_msg g;
	g.body = malloc(BODY_MAX_BYTES);
	if (g.body == NULL)
		die("malloc");
	for (uint32_t shard = 0; shard < o.shards; shard++)
		gen_shard(&o, top, shard, &g);
	free(g.body);
	close(top);
	return 0;
}
