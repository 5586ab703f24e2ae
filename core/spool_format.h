/*
 * core/spool_format.h - the on-disk spool format, version 1: segment files,
 * message records and segment indexes (docs/SPOOL-FORMAT.md describes it in
 * prose; this header is the normative layout).
 *
 * Owns: encoding a record from a message's envelope and body, decoding and
 * verifying records, scanning a segment image for the recovery decision
 * (torn tail vs corruption), and the sealed-segment index.  Pure code: it
 * works on caller buffers and never touches a file; the server (io/) writes
 * what this encodes, the spool tool reads through the same decoder.
 *
 * Layout (all integers little-endian):
 *
 * Segment file "shard-NN/SSSSSSSS.seg": a 64-byte segment header, then
 * records back to back, each a multiple of 8 bytes, then zeros (the file is
 * preallocated).
 *   segment header: magic "SSSEG\0\0\1" (8), u16 version, u16 header size
 *   (64), u32 shard, u32 node, u32 reserved, u64 segment number, u64 created
 *   (us since the epoch), 16 reserved bytes, u64 XXH3-64 of bytes 0..55.
 *
 * Record:
 *   0  u32 magic "SSR1"        4  u16 version (1)    6  u16 header size (48)
 *   8  u32 meta_len            12 u32 flags (enum smtp_msg_flag bits)
 *   16 u64 body_len            24 u64 record_len (all of it, multiple of 8)
 *   32 u64 synced_before: the segment's durable offset when this record was
 *      written (every byte before it had been fdatasync'ed)
 *   40 u64 XXH3-64 of bytes 0..39 (lengths can be trusted before reading on)
 *   48 meta: fields, each u8 tag, u8 0, u16 len, len bytes (no padding)
 *   .. body: body_len bytes, exactly the message after dot-unstuffing
 *   .. zero padding so that the trailer ends at record_len
 *   -16 u64 XXH3-64 of bytes [0, record_len - 16), u32 magic "SSRE", u32 0
 * Client strings live only inside length-prefixed fields: no byte a client
 * sends can be read as structure.
 *
 * Index "shard-NN/SSSSSSSS.idx", written when a segment is sealed: a 64-byte
 * header (magic "SSSIDX\0\1", u16 version, u16 entry size, u32 count, u64
 * segment number, 32 reserved, u64 XXH3-64 of bytes 0..55) and count
 * 48-byte entries sorted by queue ID (which is time order): char qid[16]
 * (NUL-padded), u64 received_us, u64 offset, u64 record_len, u32 meta_len,
 * u32 flags; then u64 XXH3-64 of all entries.
 */
#ifndef SMTPSINK_SPOOL_FORMAT_H
#define SMTPSINK_SPOOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct spool_checksum embeds XXH3_state_t, whose definition xxhash.h
 * only exposes under XXH_STATIC_LINKING_ONLY.  The state is 64-byte aligned:
 * a heap object holding one needs aligned_alloc(), not plain malloc(). */
#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY
#endif
#include <xxhash.h>

#include "smtp_view.h"

#define SPOOL_FORMAT_VERSION 1u
#define SPOOL_SEGMENT_HEADER_BYTES 64u
#define SPOOL_RECORD_HEADER_BYTES 48u
#define SPOOL_RECORD_TRAILER_BYTES 16u
#define SPOOL_RECORD_ALIGN 8u
#define SPOOL_INDEX_HEADER_BYTES 64u
#define SPOOL_INDEX_ENTRY_BYTES 48u
#define SPOOL_FIELD_MAX_BYTES 65535u
/* No record is longer (2^62, far past any file system's file size), so that
 * offset + record_len never wraps a u64 nor an off_t for offsets below it:
 * a header claiming more is BAD_HEADER. */
#define SPOOL_RECORD_MAX_BYTES (UINT64_C(1) << 62)

/* Record flag: the record is a session report (core/session_report.h),
 * not a message; its body is empty.  The other flag bits are enum
 * smtp_msg_flag for messages.  Index entries carry the same flags. */
#define SPOOL_FLAG_SESSION (1u << 31)

/* Metadata field tags.  A reader skips tags it does not know.  The encoder
 * writes, in this order: QUEUE_ID, RECEIVED_US, SHARD, NODE, CLIENT, HELO,
 * PROTOCOL, AUTH_USER (if not empty), MAIL_FROM, MAIL_PARAMS (if not
 * empty), then per recipient RCPT and its RCPT_PARAMS (if not empty), then
 * SESSION_ID, TLS, TLS_SNI (each if not empty).  An absent optional field means empty. */
enum spool_tag {
	SPOOL_TAG_QUEUE_ID = 1, /* printable, <= 20 bytes */
	SPOOL_TAG_RECEIVED_US = 2, /* u64, microseconds since the epoch */
	SPOOL_TAG_SHARD = 3, /* u32 */
	SPOOL_TAG_CLIENT = 4, /* u8 family (4, 6, 0 unix), u8 0, u16 port, 16 bytes address */
	SPOOL_TAG_HELO = 5, /* HELO/EHLO/LHLO argument (may be empty) */
	SPOOL_TAG_PROTOCOL = 6, /* "SMTP", "ESMTP", "LMTP" */
	SPOOL_TAG_AUTH_USER = 7,
	SPOOL_TAG_MAIL_FROM = 8, /* reverse-path without <> (may be empty) */
	SPOOL_TAG_MAIL_PARAMS = 9, /* raw ESMTP parameters of MAIL */
	SPOOL_TAG_RCPT = 10, /* forward-path without <>; one per recipient */
	SPOOL_TAG_RCPT_PARAMS = 11, /* raw parameters of the RCPT just before */
	SPOOL_TAG_SESSION_ID = 12, /* links to the session report (issue 7) */
	SPOOL_TAG_NODE = 13, /* u32 */
	SPOOL_TAG_TLS = 14, /* "TLSv1.3 TLS_AES_256_GCM_SHA384": version and cipher; absent: no TLS */
	SPOOL_TAG_TLS_SNI = 15, /* the server name the client asked for; absent: none */
	/* Session records (SPOOL_FLAG_SESSION, core/session_report.h) use
	 * QUEUE_ID (the session ID), RECEIVED_US (connect time), SHARD, NODE,
	 * CLIENT and HELO as above, then these, in this order.  Verb and
	 * reason codes are the stable tables of docs/SPOOL-FORMAT.md, never
	 * enum values.  Integers little-endian; "0" bytes are written 0. */
	SPOOL_TAG_SESSION_END_US = 32, /* u64, disconnect time, us since the epoch */
	SPOOL_TAG_SESSION_END = 33, /* u8 reason code, u8 bit 0: the client closed, u16 0 */
	SPOOL_TAG_SESSION_HELO_VERB = 34, /* u8 verb code of the last HELO/EHLO/LHLO; absent: none */
	SPOOL_TAG_SESSION_QUIRKS = 35, /* u32, enum smtp_quirk bits (explicit values) */
	SPOOL_TAG_SESSION_VERB = 36, /* u8 verb code, u8 0, u16 0, u32 count; one per verb used */
	SPOOL_TAG_SESSION_COUNTS = 37, /* 9 x u32: pipelined, errors, completed, refused, aborted,
					  rcpts accepted, rcpts refused, faults, gaps */
	SPOOL_TAG_SESSION_BYTES = 38, /* u64 bytes in, u64 bytes out */
	SPOOL_TAG_SESSION_ABORT = 39, /* u64 at_us, u32 rcpts, u32 refused, u8 reason code,
					 u8 bit 0: had data, u16 0; one per aborted transaction */
	SPOOL_TAG_SESSION_GAP = 40, /* u64 at_us, u64 len_us, u8 verb code before it, u8 bit 0:
				       in a transaction, u16 0; one per idle gap */
	SPOOL_TAG_SESSION_MESSAGE = 41, /* queue ID of a message of the session; one each */
	SPOOL_TAG_SESSION_FAULT = 42, /* u32 firings, then the rule's canonical text (1..1024
					 bytes); one per distinct rule, at most 16 */
	/* ... and last TLS and TLS_SNI as in messages (TLS may read
	 * "failed: <why>": the handshake did not complete) */
};

/* What the server knows about a message when it is complete.  Views point
 * into memory the caller keeps alive during spool_record_encode(). */
struct spool_envelope {
	struct smtp_view qid;
	uint64_t received_us;
	uint32_t shard, node;
	uint8_t client_family; /* 4, 6, or 0 (unix / unknown) */
	uint16_t client_port;
	uint8_t client_addr[16];
	struct smtp_view helo, protocol, auth_user, mail_from, mail_params;
	const struct smtp_view *rcpts; /* rcpt_count forward-paths */
	const struct smtp_view *rcpt_params; /* rcpt_count texts, or NULL: none */
	uint32_t rcpt_count; /* the whole meta must fit a u32 (asserted) */
	uint32_t flags; /* enum smtp_msg_flag bits */
	struct smtp_view session_id; /* may be empty */
	struct smtp_view tls, tls_sni; /* empty without TLS */
};

/* Size of the header + meta part for *env (fields over
 * SPOOL_FIELD_MAX_BYTES are cut to it). */
size_t spool_record_meta_bytes(const struct spool_envelope *env);

/* Total record length for *env and a body of body_len bytes; 0 if it would
 * exceed SPOOL_RECORD_MAX_BYTES (no real body comes near). */
uint64_t spool_record_len(const struct spool_envelope *env, uint64_t body_len);

/* Write the record head (header + meta) into head[0..spool_record_meta_bytes)
 * for a body of body_len bytes.  The body is not copied: the writer sends
 * head, body, then the tail.  The checksum is streamed:
 *   spool_checksum_init(&c);
 *   spool_checksum_update(&c, head, spool_record_meta_bytes(env));
 *   spool_checksum_update(&c, piece, n);   for each body piece, in order
 *   tail_len = spool_record_tail(&c, record_len, bytes_so_far, tail);
 * bytes_so_far is every record byte given to spool_checksum_update() since
 * init (meta bytes + body_len); record_len is spool_record_len(env,
 * body_len).  spool_record_tail() hashes the zero padding itself, writes
 * padding + trailer (<= 7 + 16 bytes, SPOOL_RECORD_TAIL_MAX_BYTES) into tail
 * and returns its length: record_len - bytes_so_far.  It returns 0 and
 * writes nothing if the two disagree (a caller bug: the body streamed was
 * not the body_len announced in the head). */
void spool_record_head(const struct spool_envelope *env, uint64_t body_len, uint64_t synced_before, uint8_t *head);

/* A copy of a valid record (rec[0..record_len), spool_record_decode said
 * OK) moved to another offset: its synced_before set to synced_before and
 * both checksums computed again; the rest of its bytes are unchanged.
 * synced_before must not exceed the record's new offset (recovery rejects
 * a record that claims bytes after its own start were durable). */
void spool_record_move(uint8_t *rec, uint64_t record_len, uint64_t synced_before);

struct spool_checksum {
	XXH3_state_t st; /* XXH3-64 streaming state */
};
void spool_checksum_init(struct spool_checksum *c);
void spool_checksum_update(struct spool_checksum *c, const void *bytes, size_t len);
#define SPOOL_RECORD_TAIL_MAX_BYTES (SPOOL_RECORD_ALIGN - 1u + SPOOL_RECORD_TRAILER_BYTES)
size_t spool_record_tail(struct spool_checksum *c, uint64_t record_len, uint64_t bytes_so_far, uint8_t *tail);

/* Decoding. */
enum spool_verdict {
	SPOOL_OK,
	SPOOL_END, /* zeros: no record here (end of written data) */
	SPOOL_SHORT, /* the image ends inside the record */
	SPOOL_BAD_HEADER, /* magic, version, sizes or header checksum wrong */
	SPOOL_BAD_CHECKSUM, /* record checksum or end magic wrong */
};

struct spool_record {
	uint32_t flags;
	uint32_t meta_len;
	uint64_t body_len;
	uint64_t record_len;
	uint64_t synced_before;
	const uint8_t *meta; /* meta_len bytes */
	const uint8_t *body; /* body_len bytes */
};

/* Check the record at img[0..len) (len may run past it).  The header
 * fields of *rec are set whenever the header checksum passed (OK,
 * BAD_CHECKSUM, and SHORT once 48 bytes are there); meta and body only on
 * OK.  Otherwise *rec is zeroed. */
enum spool_verdict spool_record_decode(const uint8_t *img, size_t len, struct spool_record *rec);

/* Walk meta fields: returns false at the end or on a malformed field
 * (*malformed set).  *pos starts at 0.  The byte after the tag is written 0
 * and ignored on reading.  The caller skips tags it does not know. */
bool spool_meta_next(const struct spool_record *rec, size_t *pos, uint8_t *tag, struct smtp_view *value,
		     bool *malformed);

/* The queue ID (NUL-padded into qid, at most 16 bytes: what an index entry
 * holds) and RECEIVED_US of a valid record; false if either is missing,
 * the ID is longer, or the meta is malformed (qid and *received_us then
 * hold what was found). */
bool spool_record_ids(const struct spool_record *rec, char qid[16], uint64_t *received_us);

/* ---- salvage (core/spool_salvage.c) ---------------------------------------
 * Walking a segment image past damage: every valid record, and the damaged
 * ranges between them.  After a record that does not verify, the walk
 * resynchronises on the next valid record: at the end of the damaged
 * record when its header verified (its length is known, and a record
 * forged inside its client-written body is never looked at), else at the
 * next 8-aligned offset holding one (magic "SSR1", header checksum,
 * consistent lengths within the image, record checksum and trailer, and
 * synced_before not past its own offset).  Work is bounded: record
 * checksums computed by the search are charged to a budget of len +
 * SPOOL_SCAN_SLACK_BYTES per walk; when it runs out, the rest of the image
 * is one range marked `unsearched`. */
#define SPOOL_SCAN_SLACK_BYTES (256u * 1024u * 1024u)

enum spool_item_kind {
	SPOOL_ITEM_RECORD, /* a valid record at offset, length record_len */
	SPOOL_ITEM_DAMAGE, /* no valid record in [offset, offset + length); a valid one follows */
	SPOOL_ITEM_TAIL, /* after the last valid record: to the last non-zero byte */
};

struct spool_item {
	enum spool_item_kind kind;
	uint64_t offset, length;
	enum spool_verdict why; /* DAMAGE, TAIL: the verdict at offset (END: zeros) */
	bool unsearched; /* DAMAGE, TAIL: the budget ran out: valid records may lie inside */
	struct spool_record rec; /* RECORD */
};

/* A walk over segment bytes, caller-owned.  img holds the segment's bytes
 * [base, base + len); offsets in items are segment offsets. */
struct spool_walker {
	const uint8_t *img;
	size_t len;
	uint64_t base;
	uint64_t off;
	uint64_t budget;
};
/* The whole segment image: base 0, from offset 64. */
void spool_walker_init(struct spool_walker *w, const uint8_t *img, size_t len);
/* A window of it (a reader of a growing segment): from offset base, which
 * must be 8-aligned.  What lies past the window is unknown: a TAIL found
 * in it may end in records beyond. */
void spool_walker_init_at(struct spool_walker *w, const uint8_t *img, size_t len, uint64_t base);
/* The next item, in file order; false at the end (only zeros remain).  The
 * segment header is not checked here (spool_segment_header_ok). */
bool spool_walker_next(struct spool_walker *w, struct spool_item *it);
/* Where the next item starts (the end of the last one). */
uint64_t spool_walker_offset(const struct spool_walker *w);

/* Recovery: the decision for a segment image at start-up. */
enum spool_recovery {
	SPOOL_RECOVERY_CLEAN, /* valid records, then only zeros */
	SPOOL_RECOVERY_TORN_TAIL, /* cut at good_end: nothing from there on was ever durable */
	SPOOL_RECOVERY_CORRUPT, /* the segment header does not verify: quarantine */
	SPOOL_RECOVERY_SALVAGE, /* damage a later record proves was durable (or an unsearched range):
				   keep every valid record, skip the damaged ranges, cut what follows
				   the last valid record (never durable) at salvage_end */
};
struct spool_scan {
	uint64_t good_end; /* end of the last valid record before the first damage */
	uint64_t records; /* valid records before good_end */
	uint64_t durable; /* largest synced_before seen in any valid record */
	uint64_t last_qid_us; /* time of the newest queue ID seen (ID floor) */
	enum spool_recovery recovery;
	enum spool_verdict first_bad; /* what was found at good_end */
	uint64_t salvaged; /* valid records after the first damage */
	uint64_t damaged_ranges; /* DAMAGE items (TAIL not counted) */
	uint64_t salvage_end; /* SALVAGE: end of the last record or kept range; a TAIL after it is cut */
};
/* Scan a whole segment image (file contents from offset 0) with the
 * walker.  A bad segment header gives good_end 0, CORRUPT and first_bad END
 * (the whole image is zeros: created, but its header never became durable,
 * so nothing in it was ever acknowledged), SHORT (fewer than 64 bytes, not
 * all zero) or BAD_HEADER.  A record whose synced_before is beyond its own
 * offset is not valid (first_bad BAD_HEADER).  Valid records after the
 * first damage raise durable; good_end < durable means a byte once synced
 * is damaged: SALVAGE.  Otherwise nothing from good_end on was durable:
 * TORN_TAIL.  An unsearched range is never cut: SALVAGE. */
void spool_segment_scan(const uint8_t *img, size_t len, struct spool_scan *out);

/* Damage side file NNNNNNNN.damage (docs/SPOOL-FORMAT.md "Salvage"): one
 * JSON object per line, one line per range a salvage did not index. */
enum spool_damage_action {
	SPOOL_DAMAGE_SKIPPED, /* left in place, not indexed */
	SPOOL_DAMAGE_CUT, /* after the last valid record: cut, saved in saved_as */
	SPOOL_DAMAGE_UNSEARCHED, /* left in place: the search budget ran out */
	SPOOL_DAMAGE_DUPLICATE, /* a valid record whose ID an earlier one has: not indexed */
};
struct spool_damage {
	uint32_t shard;
	uint64_t segno, offset, length;
	enum spool_verdict why; /* ignored for DUPLICATE */
	enum spool_damage_action action;
	bool durable; /* offset < the segment's durable offset: acknowledged mail may be in it */
	const char *saved_as; /* CUT: the file name, or NULL */
};
#define SPOOL_DAMAGE_LINE_MAX_BYTES 512u
/* The line (with its '\n') into out[0..cap); returns its length, or 0 if
 * it does not fit. */
size_t spool_damage_line(const struct spool_damage *d, char *out, size_t cap);
/* The damage of a walker item (DAMAGE or TAIL; not RECORD): durable is
 * the segment's durable offset; cut_tail: a TAIL is being cut (action
 * CUT; saved_as is left NULL for the caller), else it stays (SKIPPED). */
void spool_damage_from_item(const struct spool_item *it, uint32_t shard, uint64_t segno, uint64_t durable,
			    bool cut_tail, struct spool_damage *d);

/* Segment header. */
void spool_segment_header(uint32_t shard, uint32_t node, uint64_t segno, uint64_t created_us, uint8_t *out64);
bool spool_segment_header_ok(const uint8_t *img, size_t len, uint32_t *shard, uint64_t *segno);
/* The creation time of a segment header that spool_segment_header_ok() accepted. */
uint64_t spool_segment_created_us(const uint8_t *img);

/* Index. */
struct spool_index_entry {
	char qid[16];
	uint64_t received_us;
	uint64_t offset;
	uint64_t record_len;
	uint32_t meta_len;
	uint32_t flags;
};
size_t spool_index_bytes(uint32_t count);
void spool_index_encode(uint64_t segno, const struct spool_index_entry *entries, uint32_t count, uint8_t *out);
/* Encode copies each qid up to its first NUL and zero-pads it; entries
 * must be in strictly increasing qid order (decode rejects anything else).
 * Decode wants len == spool_index_bytes(count) exactly and checks both
 * checksums, the order, and that each entry's offset and record_len are
 * 8-aligned, past the segment header and do not wrap. */
bool spool_index_decode(const uint8_t *img, size_t len, uint64_t *segno, const uint8_t **entries, uint32_t *count);
void spool_index_entry_get(const uint8_t *entries, uint32_t i, struct spool_index_entry *e);
/* Binary search by queue ID; -1 if absent. */
long spool_index_find(const uint8_t *entries, uint32_t count, const char *qid, size_t qid_len);
/* The entry for the valid record rec at offset off; false when its IDs
 * cannot be indexed (spool_record_ids), the entry then filled anyway. */
bool spool_index_entry_of(const struct spool_record *rec, uint64_t off, struct spool_index_entry *e);
/* Sort entries by queue ID (then offset) as spool_index_encode wants, and
 * drop every entry whose queue ID an earlier one (by offset) has: only a
 * record salvaged from damage can repeat one.  dup (may be NULL) is told
 * each one dropped, before it is overwritten.  Returns the count kept. */
uint32_t spool_index_sort(struct spool_index_entry *e, uint32_t count,
			  void (*dup)(void *arg, const struct spool_index_entry *e), void *arg);

#endif
