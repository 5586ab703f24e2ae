/*
 * tests/core/test_spool_salvage.c - spool format v1: the walker that reads
 * a segment past damage (resync), the damage side file's lines, index
 * entries of salvaged records and the duplicate-dropping index sort.
 *
 * Owns: crafted images of five records (spool_support.h) with a flipped bit
 * in a header, in a body, in a trailer, a zeroed range, garbage that looks
 * like a header with a bad checksum, damage at the first and at the last
 * record, several damaged ranges, a synced_before past itself, a short
 * tail; each walked against a PROT_NONE page and its items compared
 * exactly (kind, offset, length, verdict), and in windows starting at each
 * item (segment offsets kept).  Then random damage (flips,
 * zeroed and garbage ranges, forged magics) over random segments, walked
 * by the walker and by a naive reference written here (full decode at
 * every offset, no budget): same items, and the items tile the image.
 *
 * Workload: a few thousand small images.
 */
#define _GNU_SOURCE
#include "spool_support.h"

#define ITEMS_MAX 64u
#define RANDOM_ROUNDS 1500u
#define RANDOM_RECORDS_MAX 9u

struct item_row {
	enum spool_item_kind kind;
	uint64_t offset, length;
	enum spool_verdict why;
};

struct walk {
	struct spool_item it[ITEMS_MAX];
	unsigned n;
};

static void walk_all(const uint8_t *img, size_t len, struct walk *out)
{
	struct spool_walker w;
	out->n = 0;
	spool_walker_init(&w, img, len);
	while (out->n < ITEMS_MAX && spool_walker_next(&w, &out->it[out->n]))
		out->n++;
}

static void walk_guarded(const struct seg *s, struct walk *out)
{
	struct guard g;
	walk_all(guard_place(&g, s->img.p, s->img.len), s->img.len, out);
	guard_free(&g);
}

static bool same_items(const struct walk *got, const struct item_row *want, unsigned n)
{
	if (got->n != n)
		return false;
	for (unsigned i = 0; i < n; i++) {
		const struct spool_item *a = &got->it[i];
		if (a->kind != want[i].kind || a->offset != want[i].offset || a->length != want[i].length ||
		    (a->kind != SPOOL_ITEM_RECORD && a->why != want[i].why) || a->unsearched)
			return false;
	}
	return true;
}

static void expect_items(const struct seg *s, const struct item_row *want, unsigned n, const char *what)
{
	struct walk w;
	walk_guarded(s, &w);
	bool ok = same_items(&w, want, n);
	if (!ok)
		for (unsigned i = 0; i < w.n; i++)
			fprintf(stderr, "  %s: item %u kind %d offset %llu length %llu why %d\n", what, i, w.it[i].kind,
				(unsigned long long)w.it[i].offset, (unsigned long long)w.it[i].length, w.it[i].why);
	harness_check(ok, __FILE__, __LINE__, what);
}

/* The rows of an undamaged walk of s, records [0, n). */
static unsigned record_rows(const struct seg *s, struct item_row *rows, uint64_t end)
{
	for (unsigned k = 0; k < s->n; k++) {
		uint64_t next = k + 1 < s->n ? s->off[k + 1] : end;
		rows[k] = (struct item_row){ SPOOL_ITEM_RECORD, s->off[k], next - s->off[k], SPOOL_OK };
	}
	return s->n;
}

/* Replace record k's row by a damaged range (of why) up to record k + 1. */
static void damage_row(struct item_row *rows, unsigned k, enum spool_verdict why)
{
	rows[k].kind = SPOOL_ITEM_DAMAGE;
	rows[k].why = why;
}

static void test_walk_clean(void)
{
	struct seg s;
	struct item_row rows[SCAN_RECORDS];
	seg_five(&s);
	uint64_t end = s.img.len;
	record_rows(&s, rows, end);
	expect_items(&s, rows, SCAN_RECORDS, "five records");
	seg_zeros(&s, 4096);
	expect_items(&s, rows, SCAN_RECORDS, "five records, zeros after");
	free(s.img.p);
}

/* One record damaged in its header, body or trailer, or zeroed, or turned
 * into something that looks like a header: the one range, the rest kept. */
static void test_walk_one_damaged_record(void)
{
	static const struct {
		uint64_t at; /* from the record's offset; UINT64_MAX: the last byte */
		uint8_t mask;
		enum spool_verdict why;
		const char *what;
	} flips[] = {
		{ 0, 0x01, SPOOL_BAD_HEADER, "magic" },
		{ 9, 0x10, SPOOL_BAD_HEADER, "meta_len (header checksum)" },
		{ 24, 0x08, SPOOL_BAD_HEADER, "record_len" },
		{ 41, 0x80, SPOOL_BAD_HEADER, "header checksum" },
		{ 70, 0x20, SPOOL_BAD_CHECKSUM, "meta" },
		{ 200, 0x01, SPOOL_BAD_CHECKSUM, "body" },
		{ UINT64_MAX - 15, 0x04, SPOOL_BAD_CHECKSUM, "trailer checksum" },
		{ UINT64_MAX - 7, 0x01, SPOOL_BAD_CHECKSUM, "end magic" },
		{ UINT64_MAX, 0x01, SPOOL_BAD_CHECKSUM, "trailer zero word" },
	};
	for (unsigned k = 0; k < SCAN_RECORDS; k++) {
		for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
			struct seg s;
			struct item_row rows[SCAN_RECORDS];
			seg_five(&s);
			uint64_t end = s.img.len, rec_end = k + 1 < SCAN_RECORDS ? s.off[k + 1] : end;
			uint64_t at = flips[f].at >= UINT64_MAX - 15 ? rec_end - 1 - (UINT64_MAX - flips[f].at) :
								       s.off[k] + flips[f].at;
			s.img.p[at] ^= flips[f].mask;
			record_rows(&s, rows, end);
			damage_row(rows, k, flips[f].why);
			if (k + 1 == SCAN_RECORDS) { /* the last one: nothing valid after it */
				rows[k].kind = SPOOL_ITEM_TAIL; /* to its last non-zero byte */
				while (s.img.p[s.off[k] + rows[k].length - 1] == 0)
					rows[k].length--;
			}
			expect_items(&s, rows, SCAN_RECORDS, flips[f].what);
			free(s.img.p);
		}
	}
}

static void test_walk_zeroed_and_garbage(void)
{
	struct seg s;
	struct item_row rows[SCAN_RECORDS];
	seg_five(&s);
	uint64_t end = s.img.len;
	record_rows(&s, rows, end);
	memset(s.img.p + s.off[2], 0, s.off[3] - s.off[2]); /* record 2 zeroed whole */
	damage_row(rows, 2, SPOOL_END);
	expect_items(&s, rows, SCAN_RECORDS, "record 2 zeroed");
	free(s.img.p);

	seg_five(&s); /* zeros from inside record 1 to inside record 2: one range from record 1 */
	memset(s.img.p + s.off[1] + 100, 0, s.off[2] + 60 - s.off[1] - 100);
	struct item_row two[] = {
		{ SPOOL_ITEM_RECORD, s.off[0], s.off[1] - s.off[0], SPOOL_OK },
		{ SPOOL_ITEM_DAMAGE, s.off[1], s.off[3] - s.off[1], SPOOL_BAD_CHECKSUM },
		{ SPOOL_ITEM_RECORD, s.off[3], s.off[4] - s.off[3], SPOOL_OK },
		{ SPOOL_ITEM_RECORD, s.off[4], end - s.off[4], SPOOL_OK },
	};
	expect_items(&s, two, 4, "zeroed across two records");
	free(s.img.p);

	seg_five(&s); /* garbage that looks like a header, checksum wrong, claiming the rest */
	uint8_t *h = s.img.p + s.off[2];
	put_le(h + 24, end - s.off[2], 8);
	put_le(h + 40, 0x0123456789abcdefull, 8);
	for (uint64_t p = s.off[2] + 48; p < s.off[3]; p += 8) /* more magics inside it */
		memcpy(s.img.p + p, "SSR1", 4);
	record_rows(&s, rows, end);
	damage_row(rows, 2, SPOOL_BAD_HEADER);
	expect_items(&s, rows, SCAN_RECORDS, "a header-looking record with a bad checksum");
	free(s.img.p);
}

static void test_walk_several_ranges(void)
{
	struct seg s;
	struct item_row rows[SCAN_RECORDS];
	seg_five(&s);
	uint64_t end = s.img.len;
	s.img.p[s.off[0] + 2] ^= 1; /* the first record */
	s.img.p[s.off[2] + 120] ^= 1;
	memset(s.img.p + s.off[3] + 48, 0xEE, 16);
	record_rows(&s, rows, end);
	damage_row(rows, 0, SPOOL_BAD_HEADER);
	rows[2] = (struct item_row){ SPOOL_ITEM_DAMAGE, s.off[2], s.off[4] - s.off[2], SPOOL_BAD_CHECKSUM };
	rows[3] = rows[4];
	expect_items(&s, rows, 4, "first record, then records 2 and 3");
	free(s.img.p);
}

static void test_walk_tails(void)
{
	struct seg s;
	struct item_row rows[SCAN_RECORDS + 1];
	seg_five(&s);
	uint64_t end = s.img.len;
	record_rows(&s, rows, end);
	seg_zeros(&s, 256);
	memcpy(s.img.p + end + 64, "junk", 4); /* garbage after zeros */
	rows[SCAN_RECORDS] = (struct item_row){ SPOOL_ITEM_TAIL, end, 68, SPOOL_END };
	expect_items(&s, rows, SCAN_RECORDS + 1, "zeros, then junk: a tail to its last byte");
	free(s.img.p);

	seg_five(&s);
	s.img.len -= 10; /* the last record runs past the image */
	record_rows(&s, rows, end);
	rows[4] = (struct item_row){ SPOOL_ITEM_TAIL, s.off[4], end - 10 - s.off[4], SPOOL_SHORT };
	expect_items(&s, rows, SCAN_RECORDS, "short last record");
	free(s.img.p);

	seg_init(&s); /* a record claiming durability past itself: not genuine */
	seg_add(&s, "a", 1, 64);
	seg_add(&s, "b", 1, 4096);
	seg_add(&s, "c", 1, 64);
	struct item_row three[] = {
		{ SPOOL_ITEM_RECORD, s.off[0], s.off[1] - s.off[0], SPOOL_OK },
		{ SPOOL_ITEM_DAMAGE, s.off[1], s.off[2] - s.off[1], SPOOL_BAD_HEADER },
		{ SPOOL_ITEM_RECORD, s.off[2], s.img.len - s.off[2], SPOOL_OK },
	};
	expect_items(&s, three, 3, "synced_before past itself");
	free(s.img.p);
}

/* A window of the segment from an item boundary (a reader of a growing
 * segment): the same items, with segment offsets. */
static void test_walk_window(void)
{
	struct seg s;
	struct walk whole;
	struct spool_walker w;
	seg_five(&s);
	s.img.p[s.off[3] + 3] ^= 1;
	walk_guarded(&s, &whole);
	for (unsigned from = 0; from < whole.n; from++) {
		struct guard g;
		uint64_t base = whole.it[from].offset;
		const uint8_t *img = guard_place(&g, s.img.p + base, s.img.len - base);
		unsigned bad = 0, n = 0;
		struct spool_item it;
		spool_walker_init_at(&w, img, s.img.len - base, base);
		for (; spool_walker_next(&w, &it); n++) {
			const struct spool_item *want = &whole.it[from + n];
			bad += it.kind != want->kind || it.offset != want->offset || it.length != want->length;
		}
		guard_free(&g);
		CHECK_U64(bad, 0);
		CHECK_U64(n, whole.n - from);
		CHECK_U64(spool_walker_offset(&w), s.img.len);
	}
	free(s.img.p);
}

/* ---- the naive reference ---------------------------------------------------- */

static enum spool_verdict ref_verdict(const uint8_t *img, size_t len, uint64_t p, struct spool_record *rec)
{
	enum spool_verdict v = spool_record_decode(img + p, len - p, rec);
	return v == SPOOL_OK && rec->synced_before > p ? SPOOL_BAD_HEADER : v;
}

static bool ref_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void ref_walk(const uint8_t *img, size_t len, struct walk *out)
{
	uint64_t off = SPOOL_SEGMENT_HEADER_BYTES;
	out->n = 0;
	while (off < len && out->n < ITEMS_MAX) {
		struct spool_record rec;
		struct spool_item *it = &out->it[out->n];
		enum spool_verdict v = ref_verdict(img, len, off, &rec);
		memset(it, 0, sizeof(*it));
		it->offset = off;
		if (v == SPOOL_OK) {
			it->kind = SPOOL_ITEM_RECORD;
			it->length = rec.record_len;
			off += rec.record_len;
			out->n++;
			continue;
		}
		if (ref_zero(img + off, len - off))
			return;
		it->why = v;
		uint64_t from = (v == SPOOL_BAD_CHECKSUM || v == SPOOL_SHORT) && rec.record_len ?
					(rec.record_len > len - off ? len : off + rec.record_len) :
					off + 8;
		uint64_t p = from;
		while (p + SPOOL_RECORD_HEADER_BYTES <= len && ref_verdict(img, len, p, &rec) != SPOOL_OK)
			p += 8;
		out->n++;
		if (p + SPOOL_RECORD_HEADER_BYTES <= len) {
			it->kind = SPOOL_ITEM_DAMAGE;
			it->length = p - off;
			off = p;
			continue;
		}
		uint64_t last = len;
		while (last > off && img[last - 1] == 0)
			last--;
		it->kind = SPOOL_ITEM_TAIL;
		it->length = last - off;
		return;
	}
}

/* One random kind of damage somewhere in the image. */
static void damage_randomly(struct harness_rng *g, struct seg *s)
{
	size_t len = s->img.len, at = SPOOL_SEGMENT_HEADER_BYTES + harness_rng_below(g, len - 64);
	size_t n = 1 + harness_rng_below(g, 200);
	if (n > len - at)
		n = len - at;
	switch (harness_rng_below(g, 4)) {
	case 0:
		s->img.p[at] ^= (uint8_t)(1u << harness_rng_below(g, 8));
		break;
	case 1:
		memset(s->img.p + at, 0, n);
		break;
	case 2:
		harness_rng_bytes(g, s->img.p + at, n, NULL);
		break;
	default: /* a magic where a record could start */
		at &= ~(size_t)7;
		if (at + 4 <= len)
			memcpy(s->img.p + at, "SSR1", 4);
	}
}

static void test_walk_against_reference(void)
{
	struct harness_rng g;
	unsigned bad = 0, damaged = 0;
	harness_rng_seed(&g, 2026);
	for (unsigned round = 0; round < RANDOM_ROUNDS; round++) {
		struct seg s;
		uint8_t body[300];
		seg_init(&s);
		unsigned n = 1 + (unsigned)harness_rng_below(&g, RANDOM_RECORDS_MAX);
		for (unsigned k = 0; k < n; k++) {
			size_t blen = harness_rng_below(&g, sizeof(body));
			harness_rng_bytes(&g, body, blen, NULL);
			seg_add(&s, body, blen, k ? s.off[harness_rng_below(&g, k)] : 64);
		}
		seg_zeros(&s, harness_rng_below(&g, 3) * 64);
		for (unsigned d = (unsigned)harness_rng_below(&g, 4); d-- > 0;)
			damage_randomly(&g, &s);
		struct walk got, want;
		walk_guarded(&s, &got);
		ref_walk(s.img.p, s.img.len, &want);
		uint64_t at = SPOOL_SEGMENT_HEADER_BYTES;
		for (unsigned i = 0; i < got.n && i < want.n; i++) {
			const struct spool_item *a = &got.it[i], *b = &want.it[i];
			bad += a->kind != b->kind || a->offset != b->offset || a->length != b->length ||
			       (a->kind != SPOOL_ITEM_RECORD && a->why != b->why);
			bad += a->offset != at; /* items tile the image */
			at = a->offset + a->length;
			damaged += a->kind != SPOOL_ITEM_RECORD;
		}
		bad += got.n != want.n || !ref_zero(s.img.p + at, s.img.len - at);
		free(s.img.p);
	}
	CHECK_U64(bad, 0);
	CHECK(damaged > RANDOM_ROUNDS / 2); /* the damage reached the walker */
}

/* ---- index entries, sort, damage lines ------------------------------------------ */

static void dup_seen(void *arg, const struct spool_index_entry *e)
{
	uint64_t *sum = arg;
	*sum += e->offset;
}

static void test_index_sort_drops_duplicates(void)
{
	struct spool_index_entry e[6];
	static const char *const ids[] = { "B", "A", "C", "A", "B", "A" };
	memset(e, 0, sizeof(e));
	for (unsigned i = 0; i < 6; i++) {
		memcpy(e[i].qid, ids[i], 1);
		e[i].offset = 64 + 64 * (6 - i); /* later entries at lower offsets */
		e[i].record_len = 64;
	}
	uint64_t dropped = 0;
	uint32_t n = spool_index_sort(e, 6, dup_seen, &dropped);
	CHECK_U64(n, 3);
	CHECK(e[0].qid[0] == 'A' && e[1].qid[0] == 'B' && e[2].qid[0] == 'C');
	CHECK_U64(e[0].offset, 64 + 64 * 1); /* the first A by offset (i = 5) */
	CHECK_U64(e[1].offset, 64 + 64 * 2); /* the first B by offset (i = 4) */
	CHECK_U64(dropped, (64 + 64 * 3) + (64 + 64 * 5) + (64 + 64 * 6)); /* A at i=3, i=1, B at i=0 */
	uint8_t img[SPOOL_INDEX_HEADER_BYTES + 3 * SPOOL_INDEX_ENTRY_BYTES + 8];
	uint64_t segno;
	const uint8_t *ents;
	uint32_t count;
	spool_index_encode(7, e, n, img);
	CHECK(spool_index_decode(img, spool_index_bytes(n), &segno, &ents, &count) && count == 3);
	CHECK_U64(spool_index_sort(e, 0, NULL, NULL), 0);
}

static void test_entry_of_record(void)
{
	struct seg s;
	struct spool_record rec;
	struct spool_index_entry e;
	seg_init(&s);
	seg_add(&s, "body", 4, 64);
	CHECK(spool_record_decode(s.img.p + s.off[0], s.img.len - s.off[0], &rec) == SPOOL_OK);
	CHECK(spool_index_entry_of(&rec, s.off[0], &e));
	CHECK(e.offset == s.off[0] && e.record_len == rec.record_len && e.meta_len == rec.meta_len);
	CHECK_U64(e.received_us, T0_US);
	CHECK_U64(strnlen(e.qid, sizeof(e.qid)), QUEUE_ID_LEN);
	free(s.img.p);
	struct bytes meta = { 0 }, rec_img = { 0 }; /* an ID too long for an index entry */
	ref_field(&meta, SPOOL_TAG_QUEUE_ID, "0123456789abcdefg", 17);
	ref_field(&meta, SPOOL_TAG_RECEIVED_US, "\1\0\0\0\0\0\0\0", 8);
	ref_record(&meta, "", 0, 0, 64, &rec_img);
	CHECK(spool_record_decode(rec_img.p, rec_img.len, &rec) == SPOOL_OK);
	CHECK(!spool_index_entry_of(&rec, 64, &e));
	free(meta.p), free(rec_img.p);
}

static void test_damage_lines(void)
{
	char line[SPOOL_DAMAGE_LINE_MAX_BYTES];
	struct spool_item it = { .kind = SPOOL_ITEM_DAMAGE, .offset = 4096, .length = 512, .why = SPOOL_BAD_CHECKSUM };
	struct spool_damage d;
	spool_damage_from_item(&it, 2, 7, 8192, true, &d);
	size_t n = spool_damage_line(&d, line, sizeof(line));
	CHECK_STR(line, n,
		  "{\"shard\":2,\"segment\":7,\"offset\":4096,\"length\":512,\"reason\":\"bad-checksum\","
		  "\"durable\":true,\"action\":\"skipped\"}\n");
	it.kind = SPOOL_ITEM_TAIL;
	it.why = SPOOL_END;
	spool_damage_from_item(&it, 2, 7, 4096, true, &d);
	d.saved_as = "00000007.seg.cut-4096";
	n = spool_damage_line(&d, line, sizeof(line));
	CHECK_STR(line, n,
		  "{\"shard\":2,\"segment\":7,\"offset\":4096,\"length\":512,\"reason\":\"zeros\","
		  "\"durable\":false,\"action\":\"cut\",\"saved_as\":\"00000007.seg.cut-4096\"}\n");
	spool_damage_from_item(&it, 2, 7, 4096, false, &d);
	d.saved_as = "bad\"name"; /* never written unescaped */
	n = spool_damage_line(&d, line, sizeof(line));
	CHECK(n > 0 && strstr(line, "\"action\":\"skipped\"}") && !strstr(line, "saved_as"));
	it.unsearched = true;
	spool_damage_from_item(&it, 2, 7, 4096, true, &d);
	d.action = SPOOL_DAMAGE_UNSEARCHED;
	n = spool_damage_line(&d, line, sizeof(line));
	CHECK(n > 0 && strstr(line, "\"action\":\"unsearched\"") != NULL);
	d.action = SPOOL_DAMAGE_DUPLICATE;
	n = spool_damage_line(&d, line, sizeof(line));
	CHECK(n > 0 && strstr(line, "\"reason\":\"duplicate-id\",\"durable\":false,\"action\":\"duplicate\"") != NULL);
	CHECK_U64(spool_damage_line(&d, line, 20), 0); /* does not fit */
}

int main(void)
{
	test_walk_clean();
	test_walk_one_damaged_record();
	test_walk_zeroed_and_garbage();
	test_walk_several_ranges();
	test_walk_tails();
	test_walk_window();
	test_walk_against_reference();
	test_index_sort_drops_duplicates();
	test_entry_of_record();
	test_damage_lines();
	return harness_finish("spool_salvage");
}
