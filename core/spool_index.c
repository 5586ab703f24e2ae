/*
 * core/spool_index.c - spool format v1: the sealed-segment index (layout in
 * spool_format.h).
 *
 * Owns: encoding the index of a sealed segment from entries the caller
 * gathered while appending (or salvaged from a damaged segment), sorting
 * them with duplicate IDs dropped, verifying an index image, reading
 * entries, and finding one by queue ID.  It does not own the in-memory table of open
 * segments (io/) nor the segment bytes an entry points to (a reader still
 * decodes and verifies the record there).
 *
 * Invariants of a decoded index: both checksums match, len is exactly the
 * index size for its count, entries are in strictly increasing qid order
 * (binary search relies on it: decode checks it, so a buggy writer cannot
 * make find() miss silently), and each entry's offset and record_len are
 * 8-aligned, past the segment header and do not wrap.  Entries are
 * unaligned bytes: read them with spool_index_entry_get().
 *
 * Workload: written once per sealed segment (256 MiB of mail: up to a few
 * hundred thousand entries, ~10 MB); decoded when a reader opens the index;
 * a lookup is ~20 16-byte comparisons.
 */
#include "spool_format.h"

#include <stdlib.h>
#include <string.h>

#include "spool_format_int.h"

static const uint8_t index_magic[8] = { 'S', 'S', 'S', 'I', 'D', 'X', 0, 1 };

/* Index header offsets. */
#define IDX_OFF_VERSION 8u
#define IDX_OFF_ENTRY_SIZE 10u
#define IDX_OFF_COUNT 12u
#define IDX_OFF_SEGNO 16u
#define IDX_OFF_SUM 56u

/* Entry offsets. */
#define QID_BYTES 16u
#define ENT_OFF_RECEIVED 16u
#define ENT_OFF_OFFSET 24u
#define ENT_OFF_RECORD_LEN 32u
#define ENT_OFF_META_LEN 40u
#define ENT_OFF_FLAGS 44u

/* The XXH3-64 of all entries, after them. */
#define IDX_SUM_BYTES 8u

/* The smallest record: header, no meta, no body, trailer. */
#define RECORD_MIN_BYTES (SPOOL_RECORD_HEADER_BYTES + SPOOL_RECORD_TRAILER_BYTES)

size_t spool_index_bytes(uint32_t count)
{
	return SPOOL_INDEX_HEADER_BYTES + (size_t)count * SPOOL_INDEX_ENTRY_BYTES + IDX_SUM_BYTES;
}

static void put_entry(uint8_t *p, const struct spool_index_entry *e)
{
	size_t n = strnlen(e->qid, QID_BYTES);
	memset(p, 0, QID_BYTES);
	memcpy(p, e->qid, n);
	spool_put64(p + ENT_OFF_RECEIVED, e->received_us);
	spool_put64(p + ENT_OFF_OFFSET, e->offset);
	spool_put64(p + ENT_OFF_RECORD_LEN, e->record_len);
	spool_put32(p + ENT_OFF_META_LEN, e->meta_len);
	spool_put32(p + ENT_OFF_FLAGS, e->flags);
}

void spool_index_encode(uint64_t segno, const struct spool_index_entry *entries, uint32_t count, uint8_t *out)
{
	uint8_t *body = out + SPOOL_INDEX_HEADER_BYTES;
	size_t body_len = (size_t)count * SPOOL_INDEX_ENTRY_BYTES;
	memset(out, 0, SPOOL_INDEX_HEADER_BYTES);
	memcpy(out, index_magic, sizeof(index_magic));
	spool_put16(out + IDX_OFF_VERSION, SPOOL_FORMAT_VERSION);
	spool_put16(out + IDX_OFF_ENTRY_SIZE, SPOOL_INDEX_ENTRY_BYTES);
	spool_put32(out + IDX_OFF_COUNT, count);
	spool_put64(out + IDX_OFF_SEGNO, segno);
	spool_put64(out + IDX_OFF_SUM, XXH3_64bits(out, IDX_OFF_SUM));
	for (uint32_t i = 0; i < count; i++)
		put_entry(body + (size_t)i * SPOOL_INDEX_ENTRY_BYTES, &entries[i]);
	spool_put64(body + body_len, XXH3_64bits(body, body_len));
}

/* Order and bounds of every entry (after the checksum passed). */
static bool entries_sane(const uint8_t *entries, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *p = entries + (size_t)i * SPOOL_INDEX_ENTRY_BYTES;
		uint64_t off = spool_get64(p + ENT_OFF_OFFSET), len = spool_get64(p + ENT_OFF_RECORD_LEN);
		if (off < SPOOL_SEGMENT_HEADER_BYTES || off % SPOOL_RECORD_ALIGN != 0 || len < RECORD_MIN_BYTES ||
		    len % SPOOL_RECORD_ALIGN != 0 || len > UINT64_MAX - off)
			return false;
		if (i > 0 && memcmp(p - SPOOL_INDEX_ENTRY_BYTES, p, QID_BYTES) >= 0)
			return false;
	}
	return true;
}

bool spool_index_decode(const uint8_t *img, size_t len, uint64_t *segno, const uint8_t **entries, uint32_t *count)
{
	if (len < SPOOL_INDEX_HEADER_BYTES + IDX_SUM_BYTES || memcmp(img, index_magic, sizeof(index_magic)) != 0 ||
	    spool_get16(img + IDX_OFF_VERSION) != SPOOL_FORMAT_VERSION ||
	    spool_get16(img + IDX_OFF_ENTRY_SIZE) != SPOOL_INDEX_ENTRY_BYTES ||
	    spool_get64(img + IDX_OFF_SUM) != XXH3_64bits(img, IDX_OFF_SUM))
		return false;
	uint32_t n = spool_get32(img + IDX_OFF_COUNT);
	size_t body_len = len - SPOOL_INDEX_HEADER_BYTES - IDX_SUM_BYTES;
	/* Divide rather than multiply: a count from disk never wraps. */
	if (body_len % SPOOL_INDEX_ENTRY_BYTES != 0 || body_len / SPOOL_INDEX_ENTRY_BYTES != n)
		return false;
	const uint8_t *body = img + SPOOL_INDEX_HEADER_BYTES;
	if (spool_get64(body + body_len) != XXH3_64bits(body, body_len) || !entries_sane(body, n))
		return false;
	*segno = spool_get64(img + IDX_OFF_SEGNO);
	*entries = body;
	*count = n;
	return true;
}

void spool_index_entry_get(const uint8_t *entries, uint32_t i, struct spool_index_entry *e)
{
	const uint8_t *p = entries + (size_t)i * SPOOL_INDEX_ENTRY_BYTES;
	memcpy(e->qid, p, QID_BYTES);
	e->received_us = spool_get64(p + ENT_OFF_RECEIVED);
	e->offset = spool_get64(p + ENT_OFF_OFFSET);
	e->record_len = spool_get64(p + ENT_OFF_RECORD_LEN);
	e->meta_len = spool_get32(p + ENT_OFF_META_LEN);
	e->flags = spool_get32(p + ENT_OFF_FLAGS);
}

long spool_index_find(const uint8_t *entries, uint32_t count, const char *qid, size_t qid_len)
{
	uint8_t key[QID_BYTES] = { 0 };
	if (qid_len > QID_BYTES)
		return -1;
	if (qid_len)
		memcpy(key, qid, qid_len);
	uint32_t lo = 0, hi = count; /* the key, if present, is in [lo, hi) */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(entries + (size_t)mid * SPOOL_INDEX_ENTRY_BYTES, key, QID_BYTES);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool spool_index_entry_of(const struct spool_record *rec, uint64_t off, struct spool_index_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->offset = off;
	e->record_len = rec->record_len;
	e->meta_len = rec->meta_len;
	e->flags = rec->flags;
	return spool_record_ids(rec, e->qid, &e->received_us);
}

static int by_qid_offset(const void *a, const void *b)
{
	const struct spool_index_entry *x = a, *y = b;
	int c = memcmp(x->qid, y->qid, QID_BYTES);
	if (c != 0)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

uint32_t spool_index_sort(struct spool_index_entry *e, uint32_t count,
			  void (*dup)(void *arg, const struct spool_index_entry *e), void *arg)
{
	if (count == 0)
		return 0;
	qsort(e, count, sizeof(*e), by_qid_offset);
	uint32_t kept = 1;
	for (uint32_t i = 1; i < count; i++) {
		if (memcmp(e[i].qid, e[kept - 1].qid, QID_BYTES) == 0) {
			if (dup)
				dup(arg, &e[i]);
			continue;
		}
		e[kept++] = e[i];
	}
	return kept;
}
