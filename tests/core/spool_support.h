/*
 * tests/core/spool_support.h - what the spool format tests share: a naive
 * reference encoder written from the layout table in core/spool_format.h
 * (not from spool_record.c), images placed against a PROT_NONE page, an
 * encoder driving the streamed API, a session report round trip through
 * the record framing, and a segment builder.
 *
 * Owns: test scaffolding only.  Record, index and meta tests live in
 * test_spool_format.c, recovery scans and the segment header in
 * test_spool_scan.c.  Allocation failure aborts: images are at most 1 MiB.
 */
#ifndef SMTPSINK_TESTS_SPOOL_SUPPORT_H
#define SMTPSINK_TESTS_SPOOL_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue_id.h"
#include "session_harness.h"
#include "session_report.h"
#include "spool_format.h"

#define T0_US 1764000000000000ull
#define SCAN_RECORDS 5u

/* ---- growing byte buffer and the reference encoder ---------------------- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static inline void bytes_add(struct bytes *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static inline void bytes_le(struct bytes *b, uint64_t v, unsigned width)
{
	uint8_t t[8];
	for (unsigned i = 0; i < width; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	bytes_add(b, t, width);
}

static inline void ref_field(struct bytes *m, uint8_t tag, const void *v, size_t len)
{
	uint8_t h[2] = { tag, 0 };
	bytes_add(m, h, 2);
	bytes_le(m, len, 2);
	bytes_add(m, v, len);
}

/* A record from raw meta, following spool_format.h's table. */
static inline void ref_record(const struct bytes *meta, const void *body, size_t body_len, uint32_t flags,
			      uint64_t synced, struct bytes *out)
{
	size_t start = out->len;
	size_t unpadded = 48 + meta->len + body_len + 16;
	size_t record_len = (unpadded + 7) / 8 * 8;
	static const uint8_t zeros[8];
	bytes_add(out, "SSR1", 4);
	bytes_le(out, 1, 2);
	bytes_le(out, 48, 2);
	bytes_le(out, meta->len, 4);
	bytes_le(out, flags, 4);
	bytes_le(out, body_len, 8);
	bytes_le(out, record_len, 8);
	bytes_le(out, synced, 8);
	bytes_le(out, XXH3_64bits(out->p + start, 40), 8);
	bytes_add(out, meta->p, meta->len);
	bytes_add(out, body, body_len);
	bytes_add(out, zeros, record_len - unpadded);
	bytes_le(out, XXH3_64bits(out->p + start, record_len - 16), 8);
	bytes_add(out, "SSRE", 4);
	bytes_le(out, 0, 4);
}

/* ---- guarded images ------------------------------------------------------ */

struct guard {
	uint8_t *map;
	size_t map_len;
};

/* A copy of src[0..len) that ends exactly at a PROT_NONE page. */
static inline uint8_t *guard_place(struct guard *g, const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (len + page - 1) / page * page;
	g->map_len = data + page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED || mprotect(g->map + data, page, PROT_NONE) != 0)
		abort();
	uint8_t *p = g->map + data - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static inline void guard_free(struct guard *g)
{
	munmap(g->map, g->map_len);
}

static inline enum spool_verdict decode_guarded(const void *img, size_t len, struct spool_record *rec)
{
	struct guard g;
	enum spool_verdict v = spool_record_decode(guard_place(&g, img, len), len, rec);
	guard_free(&g);
	rec->meta = rec->body = NULL; /* they pointed into the unmapped copy */
	return v;
}

static inline void scan_guarded(const void *img, size_t len, struct spool_scan *s)
{
	struct guard g;
	spool_segment_scan(guard_place(&g, img, len), len, s);
	guard_free(&g);
}

/* ---- envelopes and encoding ---------------------------------------------- */

static inline struct smtp_view sv(const char *s)
{
	return smtp_view_make(s, strlen(s));
}

static inline void env_basic(struct spool_envelope *e, const char *qid, uint64_t received_us)
{
	memset(e, 0, sizeof(*e));
	e->qid = sv(qid);
	e->received_us = received_us;
	e->shard = 3;
	e->node = 77;
	e->client_family = 4;
	e->client_port = 54321;
	memcpy(e->client_addr, "\xc0\x00\x02\x01", 4);
	e->helo = sv("client.example");
	e->protocol = sv("ESMTP");
	e->mail_from = sv("alice@example.com");
}

/* Encode with the body streamed in pieces of `piece` bytes (0: whole). */
static inline uint8_t *encode(const struct spool_envelope *env, const void *body, size_t body_len, uint64_t synced,
			      size_t piece, size_t *out_len)
{
	size_t head = spool_record_meta_bytes(env);
	uint64_t record_len = spool_record_len(env, body_len);
	uint8_t *r = malloc(record_len);
	struct spool_checksum c;
	if (!r)
		abort();
	spool_record_head(env, body_len, synced, r);
	spool_checksum_init(&c);
	spool_checksum_update(&c, r, head);
	if (body_len)
		memcpy(r + head, body, body_len);
	for (size_t at = 0; at < body_len;) {
		size_t n = piece && body_len - at > piece ? piece : body_len - at;
		spool_checksum_update(&c, (const uint8_t *)body + at, n);
		at += n;
	}
	size_t tail = spool_record_tail(&c, record_len, head + body_len, r + head + body_len);
	CHECK_U64(tail, record_len - head - body_len);
	*out_len = (size_t)record_len;
	return r;
}

static inline void put_le(uint8_t *p, uint64_t v, unsigned width)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- session reports ----------------------------------------------------- */

/* A whole record for r: head, checksum, tail (as the server writes it). */
static inline uint8_t *report_encode(const struct session_report *r, uint64_t synced, size_t *out_len)
{
	size_t head = session_report_meta_bytes(r);
	uint64_t record_len = session_report_record_len(r);
	uint8_t *p = malloc(record_len);
	struct spool_checksum c;
	if (!p)
		abort();
	session_report_head(r, synced, p);
	spool_checksum_init(&c);
	spool_checksum_update(&c, p, head);
	CHECK_U64(spool_record_tail(&c, record_len, head, p + head), record_len - head);
	*out_len = (size_t)record_len;
	return p;
}

/* Encode, verify the framing, decode into *img; the record stays mapped
 * in *g (views point into it) until guard_free. */
static inline bool report_round_trip(const struct session_report *r, struct guard *g, struct session_report_image *img)
{
	size_t len;
	uint8_t *raw = report_encode(r, 64, &len);
	uint8_t *p = guard_place(g, raw, len);
	free(raw);
	struct spool_record rec;
	CHECK(spool_record_decode(p, len, &rec) == SPOOL_OK);
	CHECK_U64(rec.flags, SPOOL_FLAG_SESSION);
	CHECK_U64(rec.body_len, 0);
	CHECK_U64(rec.record_len, len);
	CHECK_U64(rec.meta_len + SPOOL_RECORD_HEADER_BYTES, session_report_meta_bytes(r));
	return session_report_decode(&rec, img);
}

/* Patch a header field of a copy, reseal its header checksum, decode. */
/* ---- segments ------------------------------------------------------------ */

struct seg {
	struct bytes img;
	uint64_t off[16];
	uint64_t qid_us[16];
	unsigned n;
};

static inline void seg_init(struct seg *s)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES];
	memset(s, 0, sizeof(*s));
	spool_segment_header(3, 77, 1, T0_US, h);
	bytes_add(&s->img, h, sizeof(h));
}

/* Append a record with a real queue ID for time T0 + 10 * (n + 1) us. */
static inline void seg_add(struct seg *s, const void *body, size_t body_len, uint64_t synced)
{
	struct queue_id_gen g;
	char qid[QUEUE_ID_LEN + 1];
	struct spool_envelope e;
	size_t len;
	queue_id_init(&g, 77, 3, 0);
	s->qid_us[s->n] = T0_US + 10 * (s->n + 1);
	queue_id_next(&g, s->qid_us[s->n], qid);
	env_basic(&e, qid, T0_US);
	uint8_t *r = encode(&e, body, body_len, synced, 0, &len);
	s->off[s->n++] = s->img.len;
	bytes_add(&s->img, r, len);
	free(r);
}

static inline void seg_zeros(struct seg *s, size_t n)
{
	uint8_t *z = calloc(1, n);
	bytes_add(&s->img, z, n);
	free(z);
}

/* Five records; record k was written when everything before record k - 1
 * was durable (a group commit one record behind). */
static inline void seg_five(struct seg *s)
{
	static const char body[] = "Subject: t\r\n\r\nbody\r\nand more";
	seg_init(s);
	for (unsigned k = 0; k < SCAN_RECORDS; k++)
		seg_add(s, body, 20 + k, k ? s->off[k - 1] : SPOOL_SEGMENT_HEADER_BYTES);
}
#endif
