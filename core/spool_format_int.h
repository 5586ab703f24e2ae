/*
 * core/spool_format_int.h - helpers shared by the spool format's encoders
 * and decoders (spool_record.c, spool_index.c, session_report.c); not part
 * of the spool_format.h contract.
 *
 * Owns: little-endian loads and stores at any alignment, the zero test,
 * and the record-writing pieces every record kind shares: the metadata
 * field writer and the 48-byte record header with its header checksum
 * (implemented in spool_record.c), so a session report is framed by the
 * same code as a message.  Every integer of the on-disk format goes
 * through these, so the format is little-endian on every host and no load
 * is ever a misaligned pointer cast.
 */
#ifndef SMTPSINK_SPOOL_FORMAT_INT_H
#define SMTPSINK_SPOOL_FORMAT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void spool_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void spool_put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void spool_put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t spool_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t spool_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (unsigned i = 4; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t spool_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 8; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* Zero test of up to a whole 256 MiB segment tail at start-up: a word at
 * a time (memcpy: any alignment), 64 bytes per branch. */
#define SPOOL_ZERO_CHUNK_BYTES 64u

static inline bool spool_all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; n - i >= SPOOL_ZERO_CHUNK_BYTES; i += SPOOL_ZERO_CHUNK_BYTES) {
		uint64_t acc = 0;
		for (unsigned k = 0; k < SPOOL_ZERO_CHUNK_BYTES; k += sizeof(uint64_t)) {
			uint64_t w;
			memcpy(&w, p + i + k, sizeof(w));
			acc |= w;
		}
		if (acc != 0)
			return false;
	}
	for (; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- record writing (spool_record.c) ------------------------------------ */

#define SPOOL_CLIENT_FIELD_BYTES 20u /* u8 family, u8 0, u16 port, 16 address */

/* Appends fields at out + n, or only counts them when out is NULL: one
 * function sizes and writes a meta, so the two cannot disagree.  Values
 * over SPOOL_FIELD_MAX_BYTES are cut to it. */
struct spool_meta_writer {
	uint8_t *out;
	uint64_t n;
};
void spool_meta_put(struct spool_meta_writer *w, uint8_t tag, const void *value, size_t len);
void spool_meta_put_u32(struct spool_meta_writer *w, uint8_t tag, uint32_t v);
void spool_meta_put_u64(struct spool_meta_writer *w, uint8_t tag, uint64_t v);
void spool_meta_put_client(struct spool_meta_writer *w, uint8_t family, uint16_t port, const uint8_t addr[16]);

/* align8(48 + meta_len + body_len + 16), or 0 past SPOOL_RECORD_MAX_BYTES. */
uint64_t spool_record_len_for(uint64_t meta_len, uint64_t body_len);

/* The 48-byte record header at head (magic, version, sizes, flags,
 * synced_before, header checksum); the meta follows it at head + 48. */
void spool_record_header(uint8_t *head, uint32_t meta_len, uint32_t flags, uint64_t body_len, uint64_t synced_before);

/* ---- record reading (spool_record.c) ------------------------------------ */

/* The 48 header bytes at img (the caller has them): OK with the header
 * fields of *rec set, or BAD_HEADER.  The magic is compared before any
 * hashing, so a search can try every offset cheaply. */
enum spool_verdict spool_record_header_decode(const uint8_t *img, struct spool_record *rec);

#endif
