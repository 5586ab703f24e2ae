/*
 * tests/fuzz/fuzz_spool_record.c - libFuzzer harness: the spool format v1
 * decoder, recovery scan, salvage walk (resync past damage) and index
 * decoder on arbitrary images.
 *
 * Owns: running spool_segment_scan(), the salvage walker,
 * spool_record_decode() at every 8-aligned offset, spool_meta_next() over
 * every valid record, and spool_index_decode()/_find() on one image held in
 * an allocation of its exact size (ASan sees any over-read), and checking
 * what must hold:
 *  - scan: good_end <= len, 8-aligned, 0 with a bad segment header (then
 *    CORRUPT, no records) and >= 64 otherwise; re-decoding from 64 gives
 *    exactly `records` OK records ending at good_end, each with
 *    synced_before <= its offset, and the verdict at good_end is first_bad;
 *    CLEAN exactly when first_bad is END and only zeros follow; durable and
 *    last_qid_us are at least what the valid records before good_end give,
 *    equal to it when CLEAN, and a larger durable is the synced_before of a
 *    valid record found after good_end; TORN_TAIL only if good_end >=
 *    durable, SALVAGE only if good_end < durable (or, for images over
 *    FUZZ_BUDGET_SAFE_BYTES, when the search budget ran out), CORRUPT
 *    exactly for a bad segment header; END for a bad segment header
 *    exactly when the image is all zeros; records + salvaged and
 *    damaged_ranges are the walker's RECORD and DAMAGE items;
 *  - walk: items tile the image from 64 without gaps; a RECORD decodes OK
 *    with synced_before <= its offset; a DAMAGE is followed by a RECORD and
 *    holds no valid record where the search looked (after the damaged
 *    record's extent when its header verified, else after its first 8
 *    bytes); a TAIL is last, holds no valid record there either, and ends
 *    at the last non-zero byte; only zeros follow the last item; a window
 *    from the middle item boundary (spool_walker_init_at, a copy of that
 *    exact size) walks the same items at the same offsets;
 *  - decode: OK means record_len == align8(64 + meta_len + body_len), fits
 *    the image, and its prefixes of record_len - 1, 48 and 47 bytes are
 *    SHORT; meta fields walk inside meta_len and the walk ends;
 *  - index: a decoded index has len == spool_index_bytes(count), sorted
 *    qids, and find() returns each entry's own position;
 *  - session records (flag SPOOL_FLAG_SESSION): session_report_decode()
 *    keeps its lists within their MAX and its views inside the meta; a
 *    record without the flag is never decoded as a session.
 *
 * Input layout: byte 0 is a mode; the rest is the image.  Checksums are
 * hard to hit by mutation, so the mode can repair them first (in the copy):
 *   bit 0  reseal the segment header checksum (bytes 56..63)
 *   bit 1  reseal every record found by magic at an 8-aligned offset >= 64
 *          (header checksum; record checksum, end magic and zero word when
 *          the sizes are consistent and it fits), last offset first
 *   bit 2  reseal the image as an index (header and entries checksums)
 * so the fuzzer reaches the size checks, the walk and the recovery search.
 *
 * Workload: images up to a few KB.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_report.h"
#include "spool_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_SEGMENT 1u
#define MODE_RECORDS 2u
#define MODE_INDEX 4u

#define HDR SPOOL_RECORD_HEADER_BYTES
#define SEG_SUM_OFF 56u
#define REC_SUM_OFF 40u
#define IDX_SUM_OFF 56u
#define IDX_TRAILER 8u

/* Below this, the scan's search cannot spend its budget: at most len / 8
 * candidates of at most len bytes each, len^2 / 8 < SPOOL_SCAN_SLACK_BYTES. */
#define FUZZ_BUDGET_SAFE_BYTES (32u * 1024u)

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_spool_record: %s\n", what);
		abort();
	}
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 8; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* ---- repairs (only in the copy) ------------------------------------------ */

static void reseal_record(uint8_t *img, size_t len, size_t p)
{
	uint8_t *r = img + p;
	put64(r + REC_SUM_OFF, XXH3_64bits(r, REC_SUM_OFF));
	uint64_t meta = (uint64_t)r[8] | (uint64_t)r[9] << 8 | (uint64_t)r[10] << 16 | (uint64_t)r[11] << 24;
	uint64_t body = get64(r + 16), total = get64(r + 24);
	if (body > SPOOL_RECORD_MAX_BYTES || total != align8(HDR + meta + body + SPOOL_RECORD_TRAILER_BYTES) ||
	    total > len - p)
		return;
	uint8_t *t = r + total - SPOOL_RECORD_TRAILER_BYTES;
	put64(t, XXH3_64bits(r, (size_t)total - SPOOL_RECORD_TRAILER_BYTES));
	memcpy(t + 8, "SSRE\0\0\0\0", 8);
}

static void repair(uint8_t *img, size_t len, unsigned mode)
{
	if ((mode & MODE_RECORDS) && len >= SPOOL_SEGMENT_HEADER_BYTES + HDR) {
		size_t p = (len - HDR) & ~(size_t)7;
		for (; p >= SPOOL_SEGMENT_HEADER_BYTES; p -= 8)
			if (memcmp(img + p, "SSR1", 4) == 0)
				reseal_record(img, len, p);
	}
	if ((mode & MODE_SEGMENT) && len >= SPOOL_SEGMENT_HEADER_BYTES)
		put64(img + SEG_SUM_OFF, XXH3_64bits(img, SEG_SUM_OFF));
	if ((mode & MODE_INDEX) && len >= SPOOL_INDEX_HEADER_BYTES + IDX_TRAILER) {
		put64(img + IDX_SUM_OFF, XXH3_64bits(img, IDX_SUM_OFF));
		size_t n = len - SPOOL_INDEX_HEADER_BYTES - IDX_TRAILER;
		put64(img + len - IDX_TRAILER, XXH3_64bits(img + SPOOL_INDEX_HEADER_BYTES, n));
	}
}

/* ---- records ------------------------------------------------------------- */

static void check_meta(const struct spool_record *rec)
{
	size_t pos = 0, steps = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed;
	while (spool_meta_next(rec, &pos, &tag, &v, &malformed)) {
		check(v.ptr >= rec->meta && v.ptr + v.len <= rec->meta + rec->meta_len, "field outside meta");
		check(pos <= rec->meta_len && ++steps <= rec->meta_len / 4, "meta walk does not progress");
	}
}

static bool view_in_meta(const struct spool_record *rec, struct smtp_view v)
{
	return v.len == 0 || (v.ptr >= rec->meta && v.ptr + v.len <= rec->meta + rec->meta_len);
}

static void check_session(const struct spool_record *rec)
{
	static struct session_report_image img;
	if (!(rec->flags & SPOOL_FLAG_SESSION)) {
		check(!session_report_decode(rec, &img), "a message record decoded as a session");
		return;
	}
	if (!session_report_decode(rec, &img))
		return;
	const struct session_report *r = &img.r;
	check(r->abort_count <= SESSION_REPORT_ABORTS_MAX && r->gap_count <= SESSION_REPORT_GAPS_MAX &&
		      r->message_count <= SESSION_REPORT_MESSAGES_MAX,
	      "session list over its MAX");
	check(view_in_meta(rec, r->id) && view_in_meta(rec, r->helo), "session view outside meta");
	for (uint32_t i = 0; i < r->message_count; i++)
		check(r->messages[i].len > 0 && view_in_meta(rec, r->messages[i]), "session message ID outside meta");
	check(r->fault_rule_count <= SESSION_REPORT_FAULT_RULES_MAX, "named fault rules over their MAX");
	for (uint32_t i = 0; i < r->fault_rule_count; i++)
		check(r->fault_rules[i].rule.len > 0 && r->fault_rules[i].rule.len <= SESSION_REPORT_FAULT_TEXT_MAX &&
			      view_in_meta(rec, r->fault_rules[i].rule),
		      "fault rule text outside meta or its bounds");
	check(session_report_faults_unnamed(r) <= r->faults, "more unnamed firings than firings");
	for (uint32_t i = 0; i < r->abort_count; i++)
		session_reason_name(r->aborts[i].reason);
	session_reason_name(r->end_reason);
	session_verb_name(r->helo_verb);
}

/* Decode at img + p; on OK check its facts and a few prefixes. */
static enum spool_verdict decode_at(const uint8_t *img, size_t len, size_t p, struct spool_record *rec)
{
	enum spool_verdict v = spool_record_decode(img + p, len - p, rec);
	check(v <= SPOOL_BAD_CHECKSUM, "unknown verdict");
	if (v == SPOOL_SHORT && len - p >= HDR)
		check(rec->record_len > len - p, "SHORT but the record fits");
	if (v != SPOOL_OK)
		return v;
	check(rec->record_len % 8 == 0 && rec->record_len <= len - p, "OK record does not fit");
	check(rec->record_len == align8(HDR + (uint64_t)rec->meta_len + rec->body_len + SPOOL_RECORD_TRAILER_BYTES),
	      "OK record with inconsistent sizes");
	check(rec->meta == img + p + HDR && rec->body == rec->meta + rec->meta_len, "meta/body pointers");
	check_meta(rec);
	check_session(rec);
	struct spool_record r2;
	size_t cuts[3] = { (size_t)rec->record_len - 1, HDR, HDR - 1 };
	for (unsigned i = 0; i < 3; i++)
		check(spool_record_decode(img + p, cuts[i], &r2) == SPOOL_SHORT, "a prefix of an OK record not SHORT");
	check(spool_record_decode(img + p, (size_t)rec->record_len, &r2) == SPOOL_OK, "exact image not OK");
	return v;
}

/* ---- segment scan -------------------------------------------------------- */

/* Is there a valid record after good_end whose synced_before is durable? */
static bool witness(const uint8_t *img, size_t len, uint64_t good_end, uint64_t durable)
{
	for (size_t p = (size_t)good_end + 8; p < len; p += 8) {
		struct spool_record rec;
		if (spool_record_decode(img + p, len - p, &rec) == SPOOL_OK && rec.synced_before == durable &&
		    durable <= p)
			return true;
	}
	return false;
}

/* Is there a valid record (synced_before <= its offset) at an 8-aligned
 * offset in [from, to)? */
static bool valid_between(const uint8_t *img, size_t len, uint64_t from, uint64_t to)
{
	for (uint64_t p = from; p < to && p < len; p += 8) {
		struct spool_record rec;
		if (spool_record_decode(img + p, len - p, &rec) == SPOOL_OK && rec.synced_before <= p)
			return true;
	}
	return false;
}

/* Where the search after damage at off started (the walker's rule). */
static uint64_t search_start(const uint8_t *img, size_t len, uint64_t off)
{
	struct spool_record rec;
	enum spool_verdict v = spool_record_decode(img + off, len - off, &rec);
	if ((v == SPOOL_BAD_CHECKSUM || v == SPOOL_SHORT) && rec.record_len != 0)
		return rec.record_len > len - off ? len : off + rec.record_len;
	return off + 8;
}

struct walk_counts {
	uint64_t records, ranges;
	bool unsearched;
};

static void check_walk(const uint8_t *img, size_t len, struct walk_counts *n)
{
	struct spool_walker w;
	struct spool_item it;
	uint64_t at = SPOOL_SEGMENT_HEADER_BYTES;
	bool tail = false, after_damage = false;
	memset(n, 0, sizeof(*n));
	spool_walker_init(&w, img, len);
	while (spool_walker_next(&w, &it)) {
		check(!tail, "an item after the tail");
		check(it.offset == at && it.length > 0 && it.length <= len - it.offset, "items do not tile the image");
		at = it.offset + it.length;
		if (it.kind == SPOOL_ITEM_RECORD) {
			struct spool_record rec;
			check(decode_at(img, len, it.offset, &rec) == SPOOL_OK && rec.synced_before <= it.offset &&
				      rec.record_len == it.length,
			      "a RECORD item that is not a valid record");
			n->records++;
			after_damage = false;
			continue;
		}
		check(it.kind == SPOOL_ITEM_DAMAGE || it.kind == SPOOL_ITEM_TAIL, "unknown item kind");
		check(!after_damage, "two damaged ranges in a row");
		after_damage = true;
		n->unsearched |= it.unsearched;
		if (!it.unsearched)
			check(!valid_between(img, len, search_start(img, len, it.offset), at),
			      "a valid record inside a damaged range");
		if (it.kind == SPOOL_ITEM_DAMAGE) {
			n->ranges++;
			continue;
		}
		tail = true;
		check(img[at - 1] != 0 && (it.unsearched || zeros(img + at, len - at)), "a tail not to its last byte");
	}
	check(zeros(img + at, len - at), "non-zero bytes after the walk");
	check(!after_damage || tail || len == 0, "a damaged range not followed by a record");
}

/* A window of the image from an item boundary (a reader of a growing
 * segment, spool_walker_init_at) walks the same items as the whole image
 * does from there, at the same segment offsets. */
static void check_window(const uint8_t *img, size_t len)
{
	struct spool_walker whole, part;
	struct spool_item a, b;
	uint64_t boundaries = 0;
	spool_walker_init(&whole, img, len);
	while (spool_walker_next(&whole, &a))
		boundaries++;
	if (boundaries < 2 || len > FUZZ_BUDGET_SAFE_BYTES)
		return;
	spool_walker_init(&whole, img, len);
	for (uint64_t i = 0; i < boundaries / 2; i++)
		spool_walker_next(&whole, &a);
	uint64_t base = spool_walker_offset(&whole);
	uint8_t *copy = malloc(len - base); /* exact size: ASan sees an over-read */
	check(copy != NULL, "malloc");
	memcpy(copy, img + base, len - base);
	spool_walker_init_at(&part, copy, len - base, base);
	bool more;
	do {
		bool ma = spool_walker_next(&whole, &a), mb = spool_walker_next(&part, &b);
		check(ma == mb, "a window walks a different number of items");
		more = ma;
		check(!more || (a.kind == b.kind && a.offset == b.offset && a.length == b.length && a.why == b.why),
		      "a window walks different items");
	} while (more);
	free(copy);
}

static void check_scan(const uint8_t *img, size_t len)
{
	struct spool_scan sc;
	spool_segment_scan(img, len, &sc);
	check(sc.good_end <= len && sc.good_end % 8 == 0, "good_end out of bounds or unaligned");
	check(sc.recovery <= SPOOL_RECOVERY_SALVAGE && sc.first_bad != SPOOL_OK, "bad recovery or first_bad");
	if (!spool_segment_header_ok(img, len, NULL, NULL)) {
		check(sc.good_end == 0 && sc.records == 0 && sc.recovery == SPOOL_RECOVERY_CORRUPT && sc.durable == 0,
		      "bad segment header not CORRUPT at 0");
		check((sc.first_bad == SPOOL_END) == zeros(img, len), "END for a segment that is not all zeros");
		struct walk_counts n; /* the tool walks quarantined segments too */
		if (len >= SPOOL_SEGMENT_HEADER_BYTES)
			check_walk(img, len, &n);
		return;
	}
	check(sc.good_end >= SPOOL_SEGMENT_HEADER_BYTES, "good_end inside the segment header");
	size_t off = SPOOL_SEGMENT_HEADER_BYTES;
	uint64_t durable = 0;
	struct spool_record rec;
	for (uint64_t i = 0; i < sc.records; i++) {
		check(decode_at(img, len, off, &rec) == SPOOL_OK && rec.synced_before <= off, "re-decode differs");
		durable = rec.synced_before > durable ? rec.synced_before : durable;
		off += (size_t)rec.record_len;
	}
	check(off == sc.good_end, "records do not end at good_end");
	enum spool_verdict v = decode_at(img, len, off, &rec);
	if (v == SPOOL_OK && rec.synced_before > off)
		v = SPOOL_BAD_HEADER;
	check(v == sc.first_bad, "first_bad differs from a re-decode");
	bool clean = v == SPOOL_END && zeros(img + off, len - off);
	check(clean == (sc.recovery == SPOOL_RECOVERY_CLEAN), "CLEAN iff zeros after good_end");
	check(sc.durable >= durable, "durable below the valid records'");
	check(!clean || sc.durable == durable, "CLEAN with a durable from nowhere");
	check(sc.durable == durable || witness(img, len, sc.good_end, sc.durable), "durable without a witness");
	check(sc.recovery != SPOOL_RECOVERY_TORN_TAIL || sc.good_end >= sc.durable, "TORN_TAIL below durable");
	check(sc.recovery != SPOOL_RECOVERY_CORRUPT, "CORRUPT with a good segment header");
	struct walk_counts n;
	check_walk(img, len, &n);
	check(!n.unsearched || len > FUZZ_BUDGET_SAFE_BYTES, "budget spent on a small image");
	check(sc.recovery != SPOOL_RECOVERY_SALVAGE || sc.good_end < sc.durable || n.unsearched,
	      "SALVAGE without proof");
	check(n.records == sc.records + sc.salvaged && n.ranges == sc.damaged_ranges, "scan and walk disagree");
	check_window(img, len);
	check(sc.salvage_end >= sc.good_end && sc.salvage_end <= len, "salvage_end out of bounds");
}

/* ---- index --------------------------------------------------------------- */

static void check_index(const uint8_t *img, size_t len)
{
	uint64_t segno;
	const uint8_t *entries;
	uint32_t count;
	if (!spool_index_decode(img, len, &segno, &entries, &count))
		return;
	check(len == spool_index_bytes(count), "index length");
	struct spool_index_entry e, prev;
	for (uint32_t i = 0; i < count; i++) {
		spool_index_entry_get(entries, i, &e);
		check(i == 0 || memcmp(prev.qid, e.qid, sizeof(e.qid)) < 0, "index not sorted");
		check(e.offset % 8 == 0 && e.record_len % 8 == 0 && e.offset + e.record_len >= e.offset,
		      "index entry bounds");
		size_t qlen = strnlen(e.qid, sizeof(e.qid));
		if (zeros((const uint8_t *)e.qid + qlen, sizeof(e.qid) - qlen))
			check(spool_index_find(entries, count, e.qid, qlen) == (long)i, "find misses an entry");
		prev = e;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	uint8_t *img = malloc(len ? len : 1);
	check(img != NULL, "malloc");
	if (len)
		memcpy(img, data + 1, len);
	repair(img, len, data[0]);
	check_scan(img, len);
	for (size_t p = 0; p < len; p += 8) {
		struct spool_record rec;
		decode_at(img, len, p, &rec);
	}
	check_index(img, len);
	free(img);
	return 0;
}
