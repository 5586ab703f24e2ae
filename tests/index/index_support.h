/*
 * tests/index/index_support.h - what the index tests share: a scratch
 * spool directory, segments written through core/'s encoder (the records
 * the server writes: tests/core/spool_support.h's encode()), sealed with
 * their .idx or left open, and removing a directory tree.
 *
 * Owns: test scaffolding only.  Allocation failure aborts.
 */
#ifndef SMTPSINK_TESTS_INDEX_SUPPORT_H
#define SMTPSINK_TESTS_INDEX_SUPPORT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_support.h"

#define TSPOOL_PATH_BYTES 512u
#define TSPOOL_SUB_BYTES (TSPOOL_PATH_BYTES + 64u)
#define TSEG_MAX 64u

/* A segment being written: its records, in file order. */
struct tseg {
	uint32_t shard;
	uint64_t segno;
	struct bytes img;
	struct spool_index_entry ents[TSEG_MAX];
	unsigned n;
};

static inline void tspool_make(char *dir, size_t cap, const char *what)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, cap, "%s/smtpsink-%s-XXXXXX", tmp ? tmp : "/tmp", what);
	if (mkdtemp(dir) == NULL)
		abort();
}

static inline int tspool_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static inline void tspool_rm(const char *dir)
{
	nftw(dir, tspool_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* out (TSPOOL_SUB_BYTES) = spool/rel */
static inline const char *tspool_sub(char *out, const char *spool, const char *rel)
{
	snprintf(out, TSPOOL_SUB_BYTES, "%s/%s", spool, rel);
	return out;
}

static inline void tseg_init(struct tseg *s, uint32_t shard, uint64_t segno, uint64_t created_us)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES];
	memset(s, 0, sizeof *s);
	s->shard = shard;
	s->segno = segno;
	spool_segment_header(shard, 0, segno, created_us, h);
	bytes_add(&s->img, h, sizeof h);
}

/* Append a message (session: a session report record instead, no body);
 * its queue ID is written into qid (QUEUE_ID_LEN + 1 bytes). */
static inline void tseg_add(struct tseg *s, uint64_t received_us, const char *rcpt, const char *body, bool session,
			    char *qid)
{
	struct queue_id_gen g;
	struct spool_envelope e;
	struct smtp_view rv = sv(rcpt);
	size_t len;
	queue_id_init(&g, 0, s->shard, 0);
	queue_id_next(&g, received_us, qid);
	env_basic(&e, qid, received_us);
	e.shard = s->shard;
	e.node = 0;
	e.rcpts = &rv;
	e.rcpt_count = 1;
	e.flags = session ? SPOOL_FLAG_SESSION : 0;
	uint8_t *r = encode(&e, body, strlen(body), SPOOL_SEGMENT_HEADER_BYTES, 0, &len);
	struct spool_index_entry *x = &s->ents[s->n++];
	memset(x, 0, sizeof *x);
	memcpy(x->qid, qid, strlen(qid));
	x->received_us = received_us;
	x->offset = s->img.len;
	x->record_len = len;
	x->meta_len = (uint32_t)(spool_record_meta_bytes(&e) - SPOOL_RECORD_HEADER_BYTES);
	x->flags = e.flags;
	bytes_add(&s->img, r, len);
	free(r);
}

static inline void tspool_write(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* Write the segment into spool/shard-NN (sealed: with its .idx); it may
 * be written again after more tseg_add (an open segment growing). */
static inline void tseg_write(struct tseg *s, const char *spool, bool seal)
{
	char path[TSPOOL_SUB_BYTES];
	snprintf(path, sizeof path, "%s/shard-%02u", spool, s->shard);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/shard-%02u/%08llu.seg", spool, s->shard, (unsigned long long)s->segno);
	tspool_write(path, s->img.p, s->img.len);
	if (seal) {
		size_t n = spool_index_bytes(s->n);
		uint8_t *idx = malloc(n);
		spool_index_encode(s->segno, s->ents, s->n, idx);
		snprintf(path, sizeof path, "%s/shard-%02u/%08llu.idx", spool, s->shard, (unsigned long long)s->segno);
		tspool_write(path, idx, n);
		free(idx);
	}
}

static inline void tseg_free(struct tseg *s)
{
	free(s->img.p);
	s->img.p = NULL;
}

#endif
