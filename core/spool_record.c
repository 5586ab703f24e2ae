/*
 * core/spool_record.c - spool format v1: segment header, record encoding and
 * decoding (spool_format.h is the normative layout; the index lives in
 * spool_index.c, the recovery scan and salvage in spool_salvage.c).
 *
 * Owns: turning an envelope into a record head, the streamed record
 * checksum, verifying a record without trusting any length before its
 * checksum, and walking metadata fields.  It does not own files, offsets on disk or syncing:
 * the caller (io/) allocates offsets, writes and fdatasyncs, and tells each
 * record what was durable when it was written (synced_before).
 *
 * Decoding order, so that nothing read from the image is used before it is
 * checked: the 48 header bytes (zeros mean END) -> magic, version, header
 * size and the header checksum over bytes 0..39 -> the sizes (record_len is
 * exactly align8(48 + meta_len + body_len + 16), computed without wrapping,
 * and at most SPOOL_RECORD_MAX_BYTES, so body_len = 2^63 is BAD_HEADER,
 * never a small wrapped length nor an impossible SHORT) -> the
 * record must fit the image (else SHORT) -> record checksum, end magic and
 * the zero word of the trailer (else BAD_CHECKSUM).
 *
 * The recovery scan and the walk past damage (salvage) are in
 * spool_salvage.c, built on spool_record_decode().
 *
 * Workload: encode once per message (header + a few hundred bytes of meta);
 * decode on every read.
 */
#include "spool_format.h"

#include <assert.h>
#include <string.h>

#include "spool_format_int.h"

static const uint8_t segment_magic[8] = { 'S', 'S', 'S', 'E', 'G', 0, 0, 1 };
static const uint8_t record_magic[4] = { 'S', 'S', 'R', '1' };
static const uint8_t end_magic[4] = { 'S', 'S', 'R', 'E' };

#define MAGIC_BYTES 4u

/* Segment header offsets. */
#define SEG_OFF_VERSION 8u
#define SEG_OFF_HSIZE 10u
#define SEG_OFF_SHARD 12u
#define SEG_OFF_NODE 16u
#define SEG_OFF_SEGNO 24u
#define SEG_OFF_CREATED 32u
#define SEG_OFF_SUM 56u

/* Record header offsets. */
#define REC_OFF_VERSION 4u
#define REC_OFF_HSIZE 6u
#define REC_OFF_META_LEN 8u
#define REC_OFF_FLAGS 12u
#define REC_OFF_BODY_LEN 16u
#define REC_OFF_RECORD_LEN 24u
#define REC_OFF_SYNCED 32u
#define REC_OFF_SUM 40u

/* Trailer offsets, from the trailer's start. */
#define TRL_OFF_MAGIC 8u
#define TRL_OFF_ZERO 12u

/* A meta field: u8 tag, u8 0, u16 len, then len bytes. */
#define FIELD_HEAD_BYTES 4u
#define CLIENT_OFF_PORT 2u
#define CLIENT_OFF_ADDR 4u

/* Fixed part of every record: header and trailer. */
#define RECORD_FIXED_BYTES (SPOOL_RECORD_HEADER_BYTES + SPOOL_RECORD_TRAILER_BYTES)

static uint64_t align8(uint64_t n)
{
	return (n + SPOOL_RECORD_ALIGN - 1) & ~(uint64_t)(SPOOL_RECORD_ALIGN - 1);
}

/* ---- segment header ---------------------------------------------------- */

void spool_segment_header(uint32_t shard, uint32_t node, uint64_t segno, uint64_t created_us, uint8_t *out64)
{
	memset(out64, 0, SPOOL_SEGMENT_HEADER_BYTES);
	memcpy(out64, segment_magic, sizeof(segment_magic));
	spool_put16(out64 + SEG_OFF_VERSION, SPOOL_FORMAT_VERSION);
	spool_put16(out64 + SEG_OFF_HSIZE, SPOOL_SEGMENT_HEADER_BYTES);
	spool_put32(out64 + SEG_OFF_SHARD, shard);
	spool_put32(out64 + SEG_OFF_NODE, node);
	spool_put64(out64 + SEG_OFF_SEGNO, segno);
	spool_put64(out64 + SEG_OFF_CREATED, created_us);
	spool_put64(out64 + SEG_OFF_SUM, XXH3_64bits(out64, SEG_OFF_SUM));
}

bool spool_segment_header_ok(const uint8_t *img, size_t len, uint32_t *shard, uint64_t *segno)
{
	if (len < SPOOL_SEGMENT_HEADER_BYTES || memcmp(img, segment_magic, sizeof(segment_magic)) != 0 ||
	    spool_get16(img + SEG_OFF_VERSION) != SPOOL_FORMAT_VERSION ||
	    spool_get16(img + SEG_OFF_HSIZE) != SPOOL_SEGMENT_HEADER_BYTES ||
	    spool_get64(img + SEG_OFF_SUM) != XXH3_64bits(img, SEG_OFF_SUM))
		return false;
	if (shard)
		*shard = spool_get32(img + SEG_OFF_SHARD);
	if (segno)
		*segno = spool_get64(img + SEG_OFF_SEGNO);
	return true;
}

uint64_t spool_segment_created_us(const uint8_t *img)
{
	return spool_get64(img + SEG_OFF_CREATED);
}

/* ---- encoding ------------------------------------------------------------ */

void spool_meta_put(struct spool_meta_writer *w, uint8_t tag, const void *value, size_t len)
{
	if (len > SPOOL_FIELD_MAX_BYTES)
		len = SPOOL_FIELD_MAX_BYTES;
	if (w->out) {
		uint8_t *p = w->out + w->n;
		p[0] = tag;
		p[1] = 0;
		spool_put16(p + 2, (uint16_t)len);
		if (len)
			memcpy(p + FIELD_HEAD_BYTES, value, len);
	}
	w->n += FIELD_HEAD_BYTES + len;
}

static void put_view(struct spool_meta_writer *w, uint8_t tag, struct smtp_view v)
{
	spool_meta_put(w, tag, v.ptr, v.len);
}

static void put_optional(struct spool_meta_writer *w, uint8_t tag, struct smtp_view v)
{
	if (v.len)
		spool_meta_put(w, tag, v.ptr, v.len);
}

void spool_meta_put_u32(struct spool_meta_writer *w, uint8_t tag, uint32_t v)
{
	uint8_t b[4];
	spool_put32(b, v);
	spool_meta_put(w, tag, b, sizeof(b));
}

void spool_meta_put_u64(struct spool_meta_writer *w, uint8_t tag, uint64_t v)
{
	uint8_t b[8];
	spool_put64(b, v);
	spool_meta_put(w, tag, b, sizeof(b));
}

void spool_meta_put_client(struct spool_meta_writer *w, uint8_t family, uint16_t port, const uint8_t addr[16])
{
	uint8_t b[SPOOL_CLIENT_FIELD_BYTES] = { 0 };
	b[0] = family;
	spool_put16(b + CLIENT_OFF_PORT, port);
	memcpy(b + CLIENT_OFF_ADDR, addr, 16);
	spool_meta_put(w, SPOOL_TAG_CLIENT, b, sizeof(b));
}

/* The field order spool_format.h documents. */
static void put_meta(struct spool_meta_writer *w, const struct spool_envelope *env)
{
	put_view(w, SPOOL_TAG_QUEUE_ID, env->qid);
	spool_meta_put_u64(w, SPOOL_TAG_RECEIVED_US, env->received_us);
	spool_meta_put_u32(w, SPOOL_TAG_SHARD, env->shard);
	spool_meta_put_u32(w, SPOOL_TAG_NODE, env->node);
	spool_meta_put_client(w, env->client_family, env->client_port, env->client_addr);
	put_view(w, SPOOL_TAG_HELO, env->helo);
	put_view(w, SPOOL_TAG_PROTOCOL, env->protocol);
	put_optional(w, SPOOL_TAG_AUTH_USER, env->auth_user);
	put_view(w, SPOOL_TAG_MAIL_FROM, env->mail_from);
	put_optional(w, SPOOL_TAG_MAIL_PARAMS, env->mail_params);
	for (uint32_t i = 0; i < env->rcpt_count; i++) {
		put_view(w, SPOOL_TAG_RCPT, env->rcpts[i]);
		if (env->rcpt_params)
			put_optional(w, SPOOL_TAG_RCPT_PARAMS, env->rcpt_params[i]);
	}
	put_optional(w, SPOOL_TAG_SESSION_ID, env->session_id);
	put_optional(w, SPOOL_TAG_TLS, env->tls);
	put_optional(w, SPOOL_TAG_TLS_SNI, env->tls_sni);
}

static uint32_t meta_len(const struct spool_envelope *env)
{
	struct spool_meta_writer w = { NULL, 0 };
	put_meta(&w, env);
	assert(w.n <= UINT32_MAX); /* 65539 bytes a field: ~65000 recipients */
	return (uint32_t)w.n;
}

size_t spool_record_meta_bytes(const struct spool_envelope *env)
{
	return SPOOL_RECORD_HEADER_BYTES + (size_t)meta_len(env);
}

/* align8(48 + meta + body_len + 16), or 0 past SPOOL_RECORD_MAX_BYTES;
 * meta < 2^32, so nothing here wraps. */
uint64_t spool_record_len_for(uint64_t meta, uint64_t body_len)
{
	uint64_t fixed = RECORD_FIXED_BYTES + meta;
	if (body_len > SPOOL_RECORD_MAX_BYTES - fixed)
		return 0;
	return align8(fixed + body_len);
}

uint64_t spool_record_len(const struct spool_envelope *env, uint64_t body_len)
{
	return spool_record_len_for(meta_len(env), body_len);
}

void spool_record_header(uint8_t *head, uint32_t meta_len, uint32_t flags, uint64_t body_len, uint64_t synced_before)
{
	memcpy(head, record_magic, MAGIC_BYTES);
	spool_put16(head + REC_OFF_VERSION, SPOOL_FORMAT_VERSION);
	spool_put16(head + REC_OFF_HSIZE, SPOOL_RECORD_HEADER_BYTES);
	spool_put32(head + REC_OFF_META_LEN, meta_len);
	spool_put32(head + REC_OFF_FLAGS, flags);
	spool_put64(head + REC_OFF_BODY_LEN, body_len);
	spool_put64(head + REC_OFF_RECORD_LEN, spool_record_len_for(meta_len, body_len));
	spool_put64(head + REC_OFF_SYNCED, synced_before);
	spool_put64(head + REC_OFF_SUM, XXH3_64bits(head, REC_OFF_SUM));
}

void spool_record_head(const struct spool_envelope *env, uint64_t body_len, uint64_t synced_before, uint8_t *head)
{
	struct spool_meta_writer w = { head + SPOOL_RECORD_HEADER_BYTES, 0 };
	put_meta(&w, env);
	assert(w.n <= UINT32_MAX);
	spool_record_header(head, (uint32_t)w.n, env->flags, body_len, synced_before);
}

void spool_record_move(uint8_t *rec, uint64_t record_len, uint64_t synced_before)
{
	assert(record_len >= RECORD_FIXED_BYTES && record_len % SPOOL_RECORD_ALIGN == 0);
	spool_put64(rec + REC_OFF_SYNCED, synced_before);
	spool_put64(rec + REC_OFF_SUM, XXH3_64bits(rec, REC_OFF_SUM));
	uint64_t body_end = record_len - SPOOL_RECORD_TRAILER_BYTES;
	spool_put64(rec + body_end, XXH3_64bits(rec, (size_t)body_end));
}

void spool_checksum_init(struct spool_checksum *c)
{
	XXH3_64bits_reset(&c->st);
}

void spool_checksum_update(struct spool_checksum *c, const void *bytes, size_t len)
{
	if (len)
		XXH3_64bits_update(&c->st, bytes, len);
}

size_t spool_record_tail(struct spool_checksum *c, uint64_t record_len, uint64_t bytes_so_far, uint8_t *tail)
{
	static const uint8_t zeros[SPOOL_RECORD_ALIGN - 1];
	if (record_len % SPOOL_RECORD_ALIGN != 0 || record_len < RECORD_FIXED_BYTES ||
	    bytes_so_far < SPOOL_RECORD_HEADER_BYTES || bytes_so_far > record_len - SPOOL_RECORD_TRAILER_BYTES)
		return 0;
	uint64_t pad = record_len - SPOOL_RECORD_TRAILER_BYTES - bytes_so_far;
	if (pad >= SPOOL_RECORD_ALIGN)
		return 0;
	spool_checksum_update(c, zeros, (size_t)pad);
	memset(tail, 0, (size_t)pad);
	uint8_t *t = tail + pad;
	spool_put64(t, XXH3_64bits_digest(&c->st));
	memcpy(t + TRL_OFF_MAGIC, end_magic, MAGIC_BYTES);
	spool_put32(t + TRL_OFF_ZERO, 0);
	return (size_t)pad + SPOOL_RECORD_TRAILER_BYTES;
}

/* ---- decoding ------------------------------------------------------------ */

/* Fewer than 48 bytes: END if zeros, BAD_HEADER if what is there cannot
 * start a record, else SHORT. */
static enum spool_verdict decode_partial(const uint8_t *img, size_t len)
{
	if (spool_all_zero(img, len))
		return SPOOL_END;
	size_t n = len < MAGIC_BYTES ? len : MAGIC_BYTES;
	return memcmp(img, record_magic, n) == 0 ? SPOOL_SHORT : SPOOL_BAD_HEADER;
}

/* The 48 header bytes at img: magic first (before any hashing), then the
 * header checksum, then the sizes.  Fills the header fields of *rec on OK. */
enum spool_verdict spool_record_header_decode(const uint8_t *img, struct spool_record *rec)
{
	if (memcmp(img, record_magic, MAGIC_BYTES) != 0 || spool_get16(img + REC_OFF_VERSION) != SPOOL_FORMAT_VERSION ||
	    spool_get16(img + REC_OFF_HSIZE) != SPOOL_RECORD_HEADER_BYTES ||
	    spool_get64(img + REC_OFF_SUM) != XXH3_64bits(img, REC_OFF_SUM))
		return SPOOL_BAD_HEADER;
	uint32_t meta = spool_get32(img + REC_OFF_META_LEN);
	uint64_t body = spool_get64(img + REC_OFF_BODY_LEN);
	uint64_t total = spool_get64(img + REC_OFF_RECORD_LEN);
	uint64_t want = spool_record_len_for(meta, body);
	if (want == 0 || total != want)
		return SPOOL_BAD_HEADER;
	rec->flags = spool_get32(img + REC_OFF_FLAGS);
	rec->meta_len = meta;
	rec->body_len = body;
	rec->record_len = total;
	rec->synced_before = spool_get64(img + REC_OFF_SYNCED);
	return SPOOL_OK;
}

/* The record checksum and trailer of a record whose header passed and
 * which fits the image. */
static bool record_sum_ok(const uint8_t *img, uint64_t record_len)
{
	const uint8_t *t = img + record_len - SPOOL_RECORD_TRAILER_BYTES;
	return memcmp(t + TRL_OFF_MAGIC, end_magic, MAGIC_BYTES) == 0 && spool_get32(t + TRL_OFF_ZERO) == 0 &&
	       spool_get64(t) == XXH3_64bits(img, (size_t)(record_len - SPOOL_RECORD_TRAILER_BYTES));
}

enum spool_verdict spool_record_decode(const uint8_t *img, size_t len, struct spool_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (len < SPOOL_RECORD_HEADER_BYTES)
		return decode_partial(img, len);
	if (spool_all_zero(img, SPOOL_RECORD_HEADER_BYTES))
		return SPOOL_END;
	enum spool_verdict v = spool_record_header_decode(img, rec);
	if (v != SPOOL_OK) {
		memset(rec, 0, sizeof(*rec));
		return v;
	}
	if (rec->record_len > len)
		return SPOOL_SHORT;
	if (!record_sum_ok(img, rec->record_len))
		return SPOOL_BAD_CHECKSUM;
	rec->meta = img + SPOOL_RECORD_HEADER_BYTES;
	rec->body = rec->meta + rec->meta_len;
	return SPOOL_OK;
}

bool spool_meta_next(const struct spool_record *rec, size_t *pos, uint8_t *tag, struct smtp_view *value,
		     bool *malformed)
{
	*malformed = false;
	if (!rec->meta || *pos >= rec->meta_len)
		return false;
	size_t left = rec->meta_len - *pos;
	const uint8_t *p = rec->meta + *pos;
	if (left < FIELD_HEAD_BYTES || left - FIELD_HEAD_BYTES < spool_get16(p + 2)) {
		*malformed = true;
		return false;
	}
	size_t len = spool_get16(p + 2);
	*tag = p[0];
	*value = smtp_view_make(p + FIELD_HEAD_BYTES, len);
	*pos += FIELD_HEAD_BYTES + len;
	return true;
}

bool spool_record_ids(const struct spool_record *rec, char qid[16], uint64_t *received_us)
{
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed = false, have_qid = false, have_time = false, fits = true;
	memset(qid, 0, 16);
	while (spool_meta_next(rec, &pos, &tag, &v, &malformed) && !(have_qid && have_time)) {
		if (tag == SPOOL_TAG_QUEUE_ID && !have_qid && v.len > 0) {
			fits = v.len <= 16;
			memcpy(qid, v.ptr, fits ? v.len : 16);
			have_qid = true;
		} else if (tag == SPOOL_TAG_RECEIVED_US && !have_time && v.len == sizeof(uint64_t)) {
			*received_us = spool_get64(v.ptr);
			have_time = true;
		}
	}
	return have_qid && fits && have_time && !malformed;
}
