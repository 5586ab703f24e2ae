/*
 * core/mail_marks_format.c - encoding and decoding the records of the marks
 * log (layout in mail_marks_format.h, docs/SPOOL-FORMAT.md "Marks log").
 *
 * Owns: the checks that make a record trustworthy, in this order: magic
 * and version, the fixed lengths (the record length is exactly the aligned
 * header + payload + checksum, at most MAIL_MARKS_RECORD_MAX_BYTES), the
 * record must fit the bytes given (else SHORT), the checksum, then the
 * payload (tag lengths adding up, no empty tag, no NUL in the queue ID's
 * used part).  Nothing is used before the checksum passes.
 * Workload: a few hundred records per second at most (API calls).
 */
#include "mail_marks_format.h"

#include <string.h>

#include "spool_format.h" /* xxhash.h */
#include "spool_format_int.h"

static const uint8_t marks_magic[4] = { 'S', 'S', 'M', 'K' };

#define OFF_VERSION 4u
#define OFF_TYPE 5u
#define OFF_TAGS 6u
#define OFF_LEN 8u
#define OFF_PAYLOAD_LEN 12u
#define OFF_AT 16u
#define OFF_QID 24u
#define MARKS_ALIGN 8u

static size_t marks_align(size_t n)
{
	return (n + MARKS_ALIGN - 1) & ~(size_t)(MARKS_ALIGN - 1);
}

/* Payload bytes of m's tags, or 0 with *ok false if a tag is invalid. */
static size_t marks_payload_len(const struct mail_mark *m, bool *ok)
{
	size_t n = 0;
	*ok = m->tag_count <= MAIL_MARKS_TAGS_MAX && (m->type == MAIL_MARK_TAGS || m->tag_count == 0);
	for (uint32_t i = 0; *ok && i < m->tag_count; i++) {
		*ok = m->tag_len[i] > 0 && memchr(m->tags[i], 0, m->tag_len[i]) == NULL;
		n += 1u + m->tag_len[i];
	}
	return n;
}

size_t mail_marks_record_len(const struct mail_mark *m)
{
	bool ok;
	if (m->type < MAIL_MARK_READ || m->type > MAIL_MARK_TAGS || strlen(m->qid) > MAIL_MARKS_QID_BYTES)
		return 0;
	size_t payload = marks_payload_len(m, &ok);
	return ok ? marks_align(MAIL_MARKS_HEADER_BYTES + payload) + MAIL_MARKS_SUM_BYTES : 0;
}

size_t mail_marks_encode(const struct mail_mark *m, uint8_t *out)
{
	bool ok;
	size_t len = mail_marks_record_len(m);
	if (len == 0)
		return 0;
	size_t payload = marks_payload_len(m, &ok);
	memset(out, 0, len);
	memcpy(out, marks_magic, sizeof marks_magic);
	out[OFF_VERSION] = MAIL_MARKS_VERSION;
	out[OFF_TYPE] = (uint8_t)m->type;
	spool_put16(out + OFF_TAGS, (uint16_t)m->tag_count);
	spool_put32(out + OFF_LEN, (uint32_t)len);
	spool_put32(out + OFF_PAYLOAD_LEN, (uint32_t)payload);
	spool_put64(out + OFF_AT, m->at_us);
	memcpy(out + OFF_QID, m->qid, strlen(m->qid));
	uint8_t *p = out + MAIL_MARKS_HEADER_BYTES;
	for (uint32_t i = 0; i < m->tag_count; i++) {
		*p++ = m->tag_len[i];
		memcpy(p, m->tags[i], m->tag_len[i]);
		p += m->tag_len[i];
	}
	spool_put64(out + len - MAIL_MARKS_SUM_BYTES, XXH3_64bits(out, len - MAIL_MARKS_SUM_BYTES));
	return len;
}

/* The payload and queue ID of a record whose checksum passed. */
static enum mail_marks_verdict marks_decode_body(const uint8_t *p, uint32_t payload, struct mail_mark *m)
{
	const uint8_t *q = p + OFF_QID;
	size_t qid_len = strnlen((const char *)q, MAIL_MARKS_QID_BYTES);
	if (!spool_all_zero(q + qid_len, MAIL_MARKS_QID_BYTES - qid_len))
		return MAIL_MARKS_BAD;
	memcpy(m->qid, q, qid_len);
	m->qid[qid_len] = '\0';
	const uint8_t *t = p + MAIL_MARKS_HEADER_BYTES, *end = t + payload;
	for (uint32_t i = 0; i < m->tag_count; i++) {
		if (t >= end || t[0] == 0 || (size_t)(end - t - 1) < t[0] || memchr(t + 1, 0, t[0]) != NULL)
			return MAIL_MARKS_BAD;
		m->tag_len[i] = t[0];
		m->tags[i] = (const char *)t + 1;
		t += 1u + t[0];
	}
	return t == end ? MAIL_MARKS_OK : MAIL_MARKS_BAD;
}

enum mail_marks_verdict mail_marks_decode(const uint8_t *p, size_t len, struct mail_mark *m, size_t *record_len)
{
	memset(m, 0, sizeof *m);
	if (len == 0 || spool_all_zero(p, len < MAIL_MARKS_HEADER_BYTES ? len : MAIL_MARKS_HEADER_BYTES))
		return MAIL_MARKS_END;
	if (len < MAIL_MARKS_HEADER_BYTES)
		return memcmp(p, marks_magic, len < 4 ? len : 4) == 0 ? MAIL_MARKS_SHORT : MAIL_MARKS_BAD;
	uint8_t type = p[OFF_TYPE];
	uint16_t tags = spool_get16(p + OFF_TAGS);
	uint32_t rlen = spool_get32(p + OFF_LEN), payload = spool_get32(p + OFF_PAYLOAD_LEN);
	if (memcmp(p, marks_magic, sizeof marks_magic) != 0 || p[OFF_VERSION] != MAIL_MARKS_VERSION ||
	    type < MAIL_MARK_READ || type > MAIL_MARK_TAGS || tags > MAIL_MARKS_TAGS_MAX ||
	    (type != MAIL_MARK_TAGS && (tags != 0 || payload != 0)) || rlen > MAIL_MARKS_RECORD_MAX_BYTES ||
	    payload > MAIL_MARKS_RECORD_MAX_BYTES ||
	    rlen != marks_align(MAIL_MARKS_HEADER_BYTES + payload) + MAIL_MARKS_SUM_BYTES)
		return MAIL_MARKS_BAD;
	if (len < rlen)
		return MAIL_MARKS_SHORT;
	if (spool_get64(p + rlen - MAIL_MARKS_SUM_BYTES) != XXH3_64bits(p, rlen - MAIL_MARKS_SUM_BYTES))
		return MAIL_MARKS_BAD;
	m->type = (enum mail_mark_type)type;
	m->tag_count = tags;
	m->at_us = spool_get64(p + OFF_AT);
	enum mail_marks_verdict v = marks_decode_body(p, payload, m);
	if (v == MAIL_MARKS_OK)
		*record_len = rlen;
	else
		memset(m, 0, sizeof *m);
	return v;
}
