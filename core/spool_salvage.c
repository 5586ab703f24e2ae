/*
 * core/spool_salvage.c - spool format v1: walking a segment past damage,
 * the start-up recovery decision, and the damage side file's lines
 * (docs/SPOOL-FORMAT.md "Recovery" and "Salvage").
 *
 * Owns: the walker (valid records and the damaged ranges between them),
 * spool_segment_scan() on top of it, and encoding one damaged range as a
 * line of NNNNNNNN.damage.  It does not own files: the server (io/) and the
 * spool tool read and write them, and act on the decision.
 *
 * Resynchronising.  A record that does not verify (header, lengths, record
 * checksum, trailer, or a synced_before past its own offset) starts a
 * damaged range.  When its header verified, its extent is known and the
 * search for the next valid record starts at its end: a record forged
 * inside the client-written body of a damaged record is never looked at.
 * Otherwise the search tries every 8-aligned offset after it (records are
 * 8-aligned), comparing the magic before hashing anything; a candidate
 * must have a valid header checksum, consistent lengths that fit the image,
 * a valid record checksum and trailer, and synced_before <= its offset.
 * The range ends where the next valid record starts.  With none after it,
 * the range is the TAIL: up to the last non-zero byte.  Record checksums
 * computed by the search are charged to a budget of len +
 * SPOOL_SCAN_SLACK_BYTES per walk (a client can fill a body with valid
 * headers claiming long records); when it runs out, the rest is a TAIL
 * marked unsearched, which nobody may cut.
 *
 * Recovery: torn tail, salvage or corruption, without a separate sync
 * marker.  Every record carries synced_before, the segment's durable
 * offset when it was written: every byte before it had been fdatasync'ed.
 * durable = the largest synced_before of all valid records (before and
 * after any damage).  good_end = the end of the valid records before the
 * first damage.  Only zeros after it: CLEAN.  good_end >= durable: nothing
 * from good_end on was ever acknowledged as durable (group/always modes
 * only acknowledge after the sync): TORN_TAIL, cut at good_end (the caller
 * keeps the bytes).  good_end < durable: a byte once synced is damaged
 * (media or software corruption, a reordered write after the sync):
 * SALVAGE, every valid record before and after the damage is kept and the
 * damaged ranges are skipped, reported, never deleted.  Whatever follows
 * the last valid record can still be cut: durable <= the offset of the
 * record that proved it, so nothing after the last record was durable.  A
 * segment header that does not verify: CORRUPT (quarantine; the tool still
 * reads its records with this walker).
 *
 * A record forged inside a message body (a client can compute XXH3 too)
 * is only seen when the record holding it has a damaged header.  Then it
 * is salvaged like a genuine one; it can raise durable (turning a cut into
 * a salvage that keeps more), never cause a silent cut.
 *
 * Limitation to know: damage to the last durable records of a segment with
 * no later record is indistinguishable from a torn tail (no later record
 * carries a synced_before beyond it).  The caller keeps the bytes it cuts.
 *
 * Workload: the scan once per unsealed segment at start-up (up to 256 MiB:
 * one XXH3 pass over the records, a zero test of the rest; after damage, a
 * magic test per 8 bytes); the tool walks quarantined and damaged segments.
 */
#include "spool_format.h"

#include <stdio.h>
#include <string.h>

#include "queue_id.h"
#include "spool_format_int.h"

enum search_result {
	SEARCH_FOUND,
	SEARCH_NONE,
	SEARCH_BUDGET, /* the budget ran out before the image did */
};

/* The record at segment offset off (in the window): OK only if it
 * verifies and its synced_before is not beyond its own offset (a genuine
 * record never claims that). */
static enum spool_verdict walk_decode(const struct spool_walker *w, uint64_t off, struct spool_record *rec)
{
	uint64_t at = off - w->base;
	enum spool_verdict v = spool_record_decode(w->img + at, w->len - (size_t)at, rec);
	if (v == SPOOL_OK && rec->synced_before > off)
		return SPOOL_BAD_HEADER;
	return v;
}

/* The next valid record at an 8-aligned offset >= from (aligned). */
static enum search_result search_next(struct spool_walker *w, uint64_t from, uint64_t *found)
{
	uint64_t end = w->base + w->len;
	for (uint64_t p = from; p < end && end - p >= SPOOL_RECORD_HEADER_BYTES; p += SPOOL_RECORD_ALIGN) {
		struct spool_record rec = { 0 };
		if (spool_record_header_decode(w->img + (p - w->base), &rec) != SPOOL_OK || rec.record_len > end - p)
			continue;
		if (rec.record_len > w->budget)
			return SEARCH_BUDGET;
		w->budget -= rec.record_len;
		if (walk_decode(w, p, &rec) == SPOOL_OK) {
			*found = p;
			return SEARCH_FOUND;
		}
	}
	return SEARCH_NONE;
}

/* The end of the last non-zero byte of img[from..len), from if none. */
static uint64_t nonzero_end(const uint8_t *img, uint64_t from, uint64_t len)
{
	uint64_t end = len;
	while (end - from >= SPOOL_ZERO_CHUNK_BYTES &&
	       spool_all_zero(img + end - SPOOL_ZERO_CHUNK_BYTES, SPOOL_ZERO_CHUNK_BYTES))
		end -= SPOOL_ZERO_CHUNK_BYTES;
	while (end > from && img[end - 1] == 0)
		end--;
	return end;
}

void spool_walker_init_at(struct spool_walker *w, const uint8_t *img, size_t len, uint64_t base)
{
	w->img = img;
	w->len = len;
	w->base = base;
	w->off = base;
	w->budget = (uint64_t)len + SPOOL_SCAN_SLACK_BYTES;
}

void spool_walker_init(struct spool_walker *w, const uint8_t *img, size_t len)
{
	spool_walker_init_at(w, img, len, 0);
	w->off = SPOOL_SEGMENT_HEADER_BYTES;
}

uint64_t spool_walker_offset(const struct spool_walker *w)
{
	return w->off;
}

/* Damage at it->offset (verdict v, header fields in *rec when its header
 * verified): up to the next valid record, or the tail. */
static void walk_damage(struct spool_walker *w, enum spool_verdict v, const struct spool_record *rec,
			struct spool_item *it)
{
	uint64_t off = it->offset, next = 0, end = w->base + w->len;
	uint64_t from = off + SPOOL_RECORD_ALIGN;
	if ((v == SPOOL_BAD_CHECKSUM || v == SPOOL_SHORT) && rec->record_len != 0)
		from = rec->record_len > end - off ? end : off + rec->record_len;
	it->why = v;
	enum search_result r = search_next(w, from, &next);
	if (r == SEARCH_FOUND) {
		it->kind = SPOOL_ITEM_DAMAGE;
		it->length = next - off;
		w->off = next;
		return;
	}
	it->kind = SPOOL_ITEM_TAIL;
	it->unsearched = r == SEARCH_BUDGET;
	it->length = w->base + nonzero_end(w->img, off - w->base, w->len) - off;
	w->off = end;
}

bool spool_walker_next(struct spool_walker *w, struct spool_item *it)
{
	struct spool_record rec;
	uint64_t end = w->base + w->len;
	memset(it, 0, sizeof(*it));
	if (w->off >= end)
		return false;
	uint64_t off = w->off;
	enum spool_verdict v = walk_decode(w, off, &rec);
	it->offset = off;
	if (v == SPOOL_OK) {
		it->kind = SPOOL_ITEM_RECORD;
		it->length = rec.record_len;
		it->rec = rec;
		w->off += rec.record_len;
		return true;
	}
	if (v == SPOOL_END && spool_all_zero(w->img + (off - w->base), (size_t)(end - off))) {
		w->off = end;
		return false;
	}
	walk_damage(w, v, &rec, it);
	return true;
}

/* ---- recovery scan ------------------------------------------------------- */

/* The time of a record's queue ID (RECEIVED_US when the ID does not
 * parse); 0 if it has neither. */
static uint64_t record_qid_us(const struct spool_record *rec)
{
	char qid[16];
	uint64_t qid_us = 0, received_us = 0;
	uint32_t node, shard;
	spool_record_ids(rec, qid, &received_us);
	if (queue_id_parse(qid, strnlen(qid, sizeof(qid)), &qid_us, &node, &shard))
		return qid_us;
	return received_us;
}

/* Account for a valid record (before or after the damage). */
static void note_record(struct spool_scan *out, const struct spool_record *rec)
{
	uint64_t t = record_qid_us(rec);
	if (rec->synced_before > out->durable)
		out->durable = rec->synced_before;
	if (t > out->last_qid_us)
		out->last_qid_us = t;
}

/* END: the whole image is zeros (created, header never durable, so no
 * record was ever acknowledged in it); SHORT: less than a header; else
 * BAD_HEADER. */
static enum spool_verdict bad_segment_header(const uint8_t *img, size_t len)
{
	if (spool_all_zero(img, len))
		return SPOOL_END;
	return len < SPOOL_SEGMENT_HEADER_BYTES ? SPOOL_SHORT : SPOOL_BAD_HEADER;
}

void spool_segment_scan(const uint8_t *img, size_t len, struct spool_scan *out)
{
	memset(out, 0, sizeof(*out));
	if (!spool_segment_header_ok(img, len, NULL, NULL)) {
		out->recovery = SPOOL_RECOVERY_CORRUPT;
		out->first_bad = bad_segment_header(img, len);
		return;
	}
	struct spool_walker w;
	struct spool_item it;
	bool damaged = false, unsearched = false;
	out->good_end = out->salvage_end = SPOOL_SEGMENT_HEADER_BYTES;
	out->first_bad = SPOOL_END;
	spool_walker_init(&w, img, len);
	while (spool_walker_next(&w, &it)) {
		if (it.kind == SPOOL_ITEM_RECORD) {
			note_record(out, &it.rec);
			out->salvage_end = it.offset + it.length;
			if (damaged)
				out->salvaged++;
			else
				out->records++, out->good_end = out->salvage_end;
			continue;
		}
		if (!damaged)
			out->first_bad = it.why;
		damaged = true;
		out->damaged_ranges += it.kind == SPOOL_ITEM_DAMAGE;
		if (it.unsearched) {
			unsearched = true;
			out->salvage_end = it.offset + it.length; /* never cut what was not searched */
		}
	}
	if (!damaged)
		out->recovery = SPOOL_RECOVERY_CLEAN;
	else if (!unsearched && out->good_end >= out->durable)
		out->recovery = SPOOL_RECOVERY_TORN_TAIL;
	else
		out->recovery = SPOOL_RECOVERY_SALVAGE;
}

/* ---- the damage side file ------------------------------------------------ */

/* Stable names: they are part of the file format. */
static const char *reason_name(const struct spool_damage *d)
{
	if (d->action == SPOOL_DAMAGE_DUPLICATE)
		return "duplicate-id";
	switch (d->why) {
	case SPOOL_END:
		return "zeros";
	case SPOOL_SHORT:
		return "short";
	case SPOOL_BAD_HEADER:
		return "bad-header";
	case SPOOL_BAD_CHECKSUM:
		return "bad-checksum";
	default:
		return "unknown";
	}
}

static const char *action_name(enum spool_damage_action a)
{
	static const char *const names[] = { "skipped", "cut", "unsearched", "duplicate" };
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

/* A file name the server made (digits, letters, '.', '-'): nothing to
 * escape in JSON. */
static bool plain_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '.' ||
		      *s == '-'))
			return false;
	return true;
}

size_t spool_damage_line(const struct spool_damage *d, char *out, size_t cap)
{
	bool saved = d->saved_as != NULL && plain_name(d->saved_as);
	int n = snprintf(out, cap,
			 "{\"shard\":%u,\"segment\":%llu,\"offset\":%llu,\"length\":%llu,\"reason\":\"%s\","
			 "\"durable\":%s,\"action\":\"%s\"%s%s%s}\n",
			 d->shard, (unsigned long long)d->segno, (unsigned long long)d->offset,
			 (unsigned long long)d->length, reason_name(d), d->durable ? "true" : "false",
			 action_name(d->action), saved ? ",\"saved_as\":\"" : "", saved ? d->saved_as : "",
			 saved ? "\"" : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void spool_damage_from_item(const struct spool_item *it, uint32_t shard, uint64_t segno, uint64_t durable,
			    bool cut_tail, struct spool_damage *d)
{
	memset(d, 0, sizeof(*d));
	d->shard = shard;
	d->segno = segno;
	d->offset = it->offset;
	d->length = it->length;
	d->why = it->why;
	d->durable = it->offset < durable;
	if (it->unsearched)
		d->action = SPOOL_DAMAGE_UNSEARCHED;
	else
		d->action = it->kind == SPOOL_ITEM_TAIL && cut_tail ? SPOOL_DAMAGE_CUT : SPOOL_DAMAGE_SKIPPED;
}
