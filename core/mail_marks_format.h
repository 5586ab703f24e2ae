/*
 * core/mail_marks_format.h - one record of the marks log (SPOOL/marks/
 * marks.log): a read flag, an unread flag, a deletion or a message's tags
 * (docs/SPOOL-FORMAT.md, "Marks log").
 *
 * Owns: the byte layout, encoding, and decoding that trusts no length
 * before the checksum.  Does not own the file (index/mail_marks.c appends
 * and fdatasyncs it) nor what a mark means for the index (index/).
 *
 * Layout (little-endian, version 1), a multiple of 8 bytes:
 *   0  u8[4] magic "SSMK"
 *   4  u8    version (1)
 *   5  u8    type (enum mail_mark_type)
 *   6  u16   tag count (TAGS; else 0)
 *   8  u32   record length (header + payload + padding + checksum)
 *  12  u32   payload length
 *  16  u64   at_us: when the mark was made (us since the epoch)
 *  24  u8[16] queue ID, NUL-padded; all zero: every message received at
 *             or before at_us
 *  40  payload: TAGS: per tag u8 length, then its bytes
 *      zero padding to a multiple of 8
 *  -8  u64   XXH3-64 of every byte before it
 * Pure: no allocation, no I/O.  Workload: a record per mark; a replay
 * decodes the whole log once per index open.
 */
#ifndef SMTPSINK_MAIL_MARKS_FORMAT_H
#define SMTPSINK_MAIL_MARKS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAIL_MARKS_VERSION 1u
#define MAIL_MARKS_HEADER_BYTES 40u
#define MAIL_MARKS_SUM_BYTES 8u
#define MAIL_MARKS_QID_BYTES 16u
#define MAIL_MARKS_TAGS_MAX 32u /* tags per message (MAIL_INDEX_TAGS_MAX) */
#define MAIL_MARKS_TAG_MAX_BYTES 255u /* a tag's length fits its u8 */
/* The largest record: header, every tag at its longest, padding, sum. */
#define MAIL_MARKS_RECORD_MAX_BYTES \
	(MAIL_MARKS_HEADER_BYTES + MAIL_MARKS_TAGS_MAX * (1u + MAIL_MARKS_TAG_MAX_BYTES) + 7u + MAIL_MARKS_SUM_BYTES)

enum mail_mark_type {
	MAIL_MARK_READ = 1,
	MAIL_MARK_UNREAD = 2,
	MAIL_MARK_DELETE = 3,
	MAIL_MARK_TAGS = 4, /* replaces the message's tags (none: clears them) */
};

/* A mark; views point into the caller's memory (encode) or the record
 * (decode). */
struct mail_mark {
	enum mail_mark_type type;
	uint64_t at_us;
	char qid[MAIL_MARKS_QID_BYTES + 1]; /* "" : every message received at or before at_us */
	uint32_t tag_count;
	const char *tags[MAIL_MARKS_TAGS_MAX];
	uint8_t tag_len[MAIL_MARKS_TAGS_MAX];
};

enum mail_marks_verdict {
	MAIL_MARKS_OK,
	MAIL_MARKS_END, /* zeros or nothing: no record here */
	MAIL_MARKS_SHORT, /* the bytes end inside the record (a torn tail) */
	MAIL_MARKS_BAD, /* magic, version, type, lengths or checksum wrong */
};

/* Bytes the record for m takes, or 0 if m is invalid (unknown type, more
 * than MAIL_MARKS_TAGS_MAX tags, an empty or over-long tag, tags on a type
 * other than TAGS, a queue ID over 16 bytes). */
size_t mail_marks_record_len(const struct mail_mark *m);

/* Encode m into out[0, mail_marks_record_len(m)); returns that length (0:
 * m is invalid, nothing written). */
size_t mail_marks_encode(const struct mail_mark *m, uint8_t *out);

/* Decode the record at p[0, len) into *m (tags point into p); *record_len
 * is its length on OK. */
enum mail_marks_verdict mail_marks_decode(const uint8_t *p, size_t len, struct mail_mark *m, size_t *record_len);

#endif
