/*
 * tests/core/test_spool_scan.c - spool format v1: the recovery scan and the
 * segment header.
 *
 * Owns: the recovery decision for segments built with spool_support.h:
 * clean (zeros or the image's end after the last record), torn tails (cut
 * at every length, trailer or head missing, header lost), garbage after
 * the last record, damage proved durable by a later record's
 * synced_before (salvage: every other record kept), damage before records
 * that never saw it durable (a torn tail), every byte of a segment
 * flipped, forged records inside a client's body, an impossible
 * synced_before, the queue-ID floor (with the RECEIVED_US fallback), the
 * search's work budget, and bad segment headers.  Every image is scanned
 * against a PROT_NONE page.  The walker's ranges themselves are tested in
 * test_spool_salvage.c.
 *
 * Workload: segments of a few records; one 1 MiB image whose search would
 * hash ~400 MiB without the budget.
 */
#define _GNU_SOURCE
#include "spool_support.h"

#define ZERO_TAIL_BYTES 4096u

static void expect_scan(const struct seg *s, size_t len, enum spool_recovery r, uint64_t good_end, uint64_t records,
			enum spool_verdict first_bad, const char *what)
{
	struct spool_scan sc;
	scan_guarded(s->img.p, len, &sc);
	bool ok = sc.recovery == r && sc.good_end == good_end && sc.records == records && sc.first_bad == first_bad;
	if (!ok)
		fprintf(stderr, "  %s: got recovery %d good_end %llu records %llu first_bad %d\n", what, sc.recovery,
			(unsigned long long)sc.good_end, (unsigned long long)sc.records, sc.first_bad);
	harness_check(ok, __FILE__, __LINE__, what);
}

/* A salvage: records before and after the damage, ranges, where it ends. */
static void expect_salvage(const struct seg *s, uint64_t salvaged, uint64_t ranges, uint64_t salvage_end,
			   const char *what)
{
	struct spool_scan sc;
	scan_guarded(s->img.p, s->img.len, &sc);
	bool ok = sc.recovery == SPOOL_RECOVERY_SALVAGE && sc.salvaged == salvaged && sc.damaged_ranges == ranges &&
		  sc.salvage_end == salvage_end;
	if (!ok)
		fprintf(stderr, "  %s: got recovery %d salvaged %llu ranges %llu salvage_end %llu\n", what, sc.recovery,
			(unsigned long long)sc.salvaged, (unsigned long long)sc.damaged_ranges,
			(unsigned long long)sc.salvage_end);
	harness_check(ok, __FILE__, __LINE__, what);
}

static void test_scan_clean(void)
{
	struct seg s;
	struct spool_scan sc;
	seg_five(&s);
	uint64_t end = s.img.len;
	expect_scan(&s, end, SPOOL_RECOVERY_CLEAN, end, 5, SPOOL_END, "clean, image ends at the last record");
	seg_zeros(&s, ZERO_TAIL_BYTES);
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_CLEAN, end, 5, SPOOL_END, "clean, then zeros");
	scan_guarded(s.img.p, s.img.len, &sc);
	CHECK_U64(sc.durable, s.off[3]);
	CHECK_U64(sc.last_qid_us, s.qid_us[4]);
	expect_scan(&s, SPOOL_SEGMENT_HEADER_BYTES, SPOOL_RECOVERY_CLEAN, 64, 0, SPOOL_END, "header only");
	free(s.img.p);
}

static void test_scan_torn_tail(void)
{
	struct seg s;
	seg_five(&s);
	seg_zeros(&s, ZERO_TAIL_BYTES);
	uint64_t last = s.off[4], end = s.img.len - ZERO_TAIL_BYTES;
	unsigned bad = 0;
	for (uint64_t n = last + 1; n < end; n++) { /* the image ends inside it */
		struct spool_scan sc;
		scan_guarded(s.img.p, n, &sc);
		bad += sc.recovery != SPOOL_RECOVERY_TORN_TAIL || sc.good_end != last || sc.records != 4 ||
		       sc.first_bad != SPOOL_SHORT;
	}
	CHECK_U64(bad, 0);
	memset(s.img.p + end - 16, 0, 16); /* trailer not written */
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, last, 4, SPOOL_BAD_CHECKSUM, "last trailer zero");
	memset(s.img.p + last + 60, 0, end - last - 60); /* only the head written */
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, last, 4, SPOOL_BAD_CHECKSUM, "half written");
	memset(s.img.p + last, 0, 48); /* header page lost, body there */
	s.img.p[last + 100] = 'x';
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, last, 4, SPOOL_END, "header lost");
	free(s.img.p);
}

static void test_scan_garbage_tail(void)
{
	struct seg s;
	struct harness_rng g;
	uint8_t junk[300];
	seg_five(&s);
	uint64_t end = s.img.len;
	harness_rng_seed(&g, 7);
	harness_rng_bytes(&g, junk, sizeof(junk), NULL);
	junk[0] = 'J';
	bytes_add(&s.img, junk, sizeof(junk));
	seg_zeros(&s, 64);
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, end, 5, SPOOL_BAD_HEADER, "garbage after the last");
	expect_scan(&s, end + 10, SPOOL_RECOVERY_TORN_TAIL, end, 5, SPOOL_BAD_HEADER, "short garbage");
	free(s.img.p);
}

static void test_scan_salvage(void)
{
	struct seg s;
	struct spool_scan sc;
	seg_five(&s);
	uint64_t end = s.img.len;
	s.img.p[s.off[2] + 70] ^= 0x20; /* record 2's meta: records 3 and 4 saw it durable */
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, s.off[2], 2, SPOOL_BAD_CHECKSUM, "body flip, later durable");
	expect_salvage(&s, 2, 1, end, "body flip: records 3 and 4 kept");
	s.img.p[s.off[2] + 70] ^= 0x20;
	s.img.p[s.off[2] + 3] ^= 0x01; /* its header */
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, s.off[2], 2, SPOOL_BAD_HEADER, "header flip, later durable");
	expect_salvage(&s, 2, 1, end, "header flip: resync finds record 3");
	seg_zeros(&s, 64);
	expect_salvage(&s, 2, 1, end, "zeros after: not part of the salvage");
	s.img.p[s.img.len - 8] = 'G'; /* garbage after the last record: never durable, cut */
	expect_salvage(&s, 2, 1, end, "garbage after the last record is cut");
	s.img.len = end;
	s.img.p[s.off[2] + 3] ^= 0x01;
	/* Record 3: record 4 saw everything before record 3 durable, not
	 * record 3 itself, so it may be cut. */
	s.img.p[s.off[3] + 3] ^= 0x01;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, s.off[3], 3, SPOOL_BAD_HEADER, "record 3, not durable");
	scan_guarded(s.img.p, s.img.len, &sc);
	CHECK_U64(sc.durable, s.off[3]);
	CHECK_U64(sc.last_qid_us, s.qid_us[4]); /* from the record after the damage */
	s.img.p[s.off[3] + 3] ^= 0x01;
	/* Records 2 and 3 damaged (3 with a valid header): the search passes
	 * over record 3 (a valid header alone is not trusted there: it could
	 * be forged in a body, claiming a length that hides real records) and
	 * record 4 still proves record 2 durable: one range of two records. */
	s.img.p[s.off[2] + 3] ^= 0x01;
	s.img.p[s.off[3] + 90] ^= 0x01;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, s.off[2], 2, SPOOL_BAD_HEADER, "two damaged, later durable");
	expect_salvage(&s, 1, 1, end, "two damaged: one range, record 4 kept");
	free(s.img.p);
}

/* A queue ID that does not parse: the floor comes from RECEIVED_US. */
static void test_scan_qid_fallback(void)
{
	struct seg s;
	struct spool_scan sc;
	struct spool_envelope e;
	size_t len;
	seg_init(&s);
	seg_add(&s, "a", 1, 64);
	env_basic(&e, "not-a-queue-id", T0_US + 5000);
	uint8_t *r = encode(&e, "b", 1, 64, 0, &len);
	bytes_add(&s.img, r, len);
	scan_guarded(s.img.p, s.img.len, &sc);
	CHECK(sc.recovery == SPOOL_RECOVERY_CLEAN && sc.records == 2);
	CHECK_U64(sc.last_qid_us, T0_US + 5000);
	free(r), free(s.img.p);
}

/* Hundreds of valid headers after the damage, each claiming a record to
 * the end of a 1 MiB image with a wrong checksum: hashing them all would
 * be ~400 MiB.  The budget (len + SPOOL_SCAN_SLACK_BYTES) stops the search
 * and the verdict is the safe one, SALVAGE of everything up to the last
 * non-zero byte: what was not searched is never cut. */
static void test_scan_budget(void)
{
	struct seg s;
	size_t img_len = 1u << 20;
	seg_init(&s);
	seg_add(&s, "a", 1, 64);
	uint64_t good_end = s.img.len;
	seg_zeros(&s, img_len - s.img.len);
	s.img.p[good_end] = 'X'; /* BAD_HEADER: the search starts right after */
	for (uint64_t p = good_end + 48, k = 0; k < 400; k++, p += 48) {
		uint8_t *h = s.img.p + p;
		uint64_t record_len = img_len - p;
		memcpy(h, "SSR1", 4);
		put_le(h + 4, 1, 2);
		put_le(h + 6, 48, 2);
		put_le(h + 16, record_len - 64, 8); /* no meta, the rest is body */
		put_le(h + 24, record_len, 8);
		put_le(h + 32, 64, 8);
		put_le(h + 40, XXH3_64bits(h, 40), 8);
	}
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, good_end, 1, SPOOL_BAD_HEADER, "search budget spent");
	expect_salvage(&s, 0, 0, good_end + 48 * 400 + 48, "unsearched range kept to its last byte");
	free(s.img.p);
}

/* Damage before records that were written while it was not durable yet
 * (out-of-order completion, or --sync none): a torn tail. */
static void test_scan_torn_before_undurable(void)
{
	struct seg s;
	struct spool_scan sc;
	seg_init(&s);
	for (unsigned k = 0; k < SCAN_RECORDS; k++)
		seg_add(&s, "body\r\n", 6, k < 3 ? SPOOL_SEGMENT_HEADER_BYTES : s.off[2]);
	seg_zeros(&s, 64);
	s.img.p[s.off[2] + 90] ^= 0x04;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, s.off[2], 2, SPOOL_BAD_CHECKSUM, "later not durable");
	scan_guarded(s.img.p, s.img.len, &sc);
	CHECK_U64(sc.durable, s.off[2]);
	CHECK_U64(sc.last_qid_us, s.qid_us[4]);
	/* One byte more of durability and it is corruption. */
	free(s.img.p);
	seg_init(&s);
	for (unsigned k = 0; k < SCAN_RECORDS; k++)
		seg_add(&s, "body\r\n", 6, k < 3 ? SPOOL_SEGMENT_HEADER_BYTES : s.off[2] + 8);
	s.img.p[s.off[2] + 90] ^= 0x04;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, s.off[2], 2, SPOOL_BAD_CHECKSUM, "later durable past it");
	expect_salvage(&s, 2, 1, s.img.len, "later durable past it: records 3, 4 kept");
	free(s.img.p);
}

/* Every byte of a segment of three records, flipped: never CLEAN; the
 * segment header: CORRUPT; the first two records: SALVAGE (the third saw
 * them durable), the third kept; the last: a torn tail, cut. */
static void test_scan_flip_every_byte(void)
{
	struct seg s;
	unsigned bad = 0;
	seg_init(&s);
	seg_add(&s, "one\r\n", 5, 64);
	seg_add(&s, "two\r\n", 5, 64);
	seg_add(&s, "three\r\n", 7, 0);
	s.img.p[s.off[2] + 32] = (uint8_t)s.off[2]; /* synced_before = off[2] */
	s.img.p[s.off[2] + 33] = (uint8_t)(s.off[2] >> 8);
	put_le(s.img.p + s.off[2] + 40, XXH3_64bits(s.img.p + s.off[2], 40), 8);
	uint64_t end = s.img.len;
	put_le(s.img.p + end - 16, XXH3_64bits(s.img.p + s.off[2], end - s.off[2] - 16), 8);
	expect_scan(&s, end, SPOOL_RECOVERY_CLEAN, end, 3, SPOOL_END, "three records");
	for (uint64_t i = 0; i < end; i++) {
		struct spool_scan sc;
		s.img.p[i] ^= 0x40;
		scan_guarded(s.img.p, end, &sc);
		s.img.p[i] ^= 0x40;
		if (i < 64)
			bad += sc.recovery != SPOOL_RECOVERY_CORRUPT || sc.good_end != 0;
		else if (i < s.off[1]) /* records 1 and 2 kept */
			bad += sc.recovery != SPOOL_RECOVERY_SALVAGE || sc.good_end != 64 || sc.salvage_end != end ||
			       sc.salvaged != 2 || sc.damaged_ranges != 1;
		else if (i < s.off[2])
			bad += sc.recovery != SPOOL_RECOVERY_SALVAGE || sc.good_end != s.off[1] || sc.salvaged != 1 ||
			       sc.damaged_ranges != 1 || sc.salvage_end != end;
		else /* the last record: nothing proves it durable */
			bad += sc.recovery != SPOOL_RECOVERY_TORN_TAIL || sc.good_end != s.off[2];
	}
	CHECK_U64(bad, 0);
	free(s.img.p);
}

/* Valid records forged inside a client's body, claiming the damage was
 * durable (synced_before just past it, below their own offset).  When the
 * torn record's header is valid, the search skips its body and the cut
 * stands; when its header is damaged too, the forgery is found and the
 * segment is salvaged with it (the documented worst case: never a silent
 * drop). */
static void test_scan_forged_in_torn_body(void)
{
	struct seg s, inner;
	seg_init(&s);
	seg_add(&s, "ok\r\n", 4, 64);
	seg_init(&inner);
	seg_add(&inner, "forged", 6, s.img.len + 8);
	uint64_t fake_len = inner.img.len - inner.off[0];
	uint8_t *body = calloc(1, fake_len * 9);
	for (unsigned a = 0; a < 8; a++) /* at every alignment */
		memcpy(body + a * (fake_len + 1), inner.img.p + inner.off[0], fake_len);
	seg_add(&s, body, fake_len * 9, 64);
	s.img.p[s.img.len - 20] ^= 1; /* the last byte of padding or body */
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, s.off[1], 1, SPOOL_BAD_CHECKSUM, "forged in torn body");
	s.img.p[s.off[1]] ^= 1;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_SALVAGE, s.off[1], 1, SPOOL_BAD_HEADER, "forged, header lost too");
	free(body), free(inner.img.p), free(s.img.p);
}

static void test_scan_impossible_synced_before(void)
{
	struct seg s;
	seg_init(&s);
	seg_add(&s, "a", 1, 64);
	seg_add(&s, "b", 1, 64);
	put_le(s.img.p + s.off[1] + 32, s.off[1] + 8, 8); /* beyond itself */
	put_le(s.img.p + s.off[1] + 40, XXH3_64bits(s.img.p + s.off[1], 40), 8);
	put_le(s.img.p + s.img.len - 16, XXH3_64bits(s.img.p + s.off[1], s.img.len - s.off[1] - 16), 8);
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_TORN_TAIL, s.off[1], 1, SPOOL_BAD_HEADER, "synced_before > offset");
	free(s.img.p);
}

static void test_segment_header(void)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES], z[SPOOL_SEGMENT_HEADER_BYTES] = { 0 };
	uint32_t shard = 0;
	uint64_t segno = 0;
	unsigned bad = 0;
	spool_segment_header(9, 65535, 123456789, T0_US, h);
	CHECK(spool_segment_header_ok(h, sizeof(h), &shard, &segno) && shard == 9 && segno == 123456789);
	CHECK(!spool_segment_header_ok(h, sizeof(h) - 1, NULL, NULL));
	for (size_t i = 0; i < sizeof(h); i++) {
		h[i] ^= 0x10;
		bad += spool_segment_header_ok(h, sizeof(h), NULL, NULL);
		h[i] ^= 0x10;
	}
	CHECK_U64(bad, 0);
	struct seg s;
	seg_five(&s);
	s.img.p[20] ^= 1;
	expect_scan(&s, s.img.len, SPOOL_RECOVERY_CORRUPT, 0, 0, SPOOL_BAD_HEADER, "bad segment header");
	expect_scan(&s, 63, SPOOL_RECOVERY_CORRUPT, 0, 0, SPOOL_SHORT, "short segment header");
	free(s.img.p);
	struct spool_scan sc;
	scan_guarded(z, sizeof(z), &sc);
	CHECK(sc.recovery == SPOOL_RECOVERY_CORRUPT && sc.good_end == 0 && sc.first_bad == SPOOL_END);
	scan_guarded(z, 0, &sc);
	CHECK(sc.recovery == SPOOL_RECOVERY_CORRUPT && sc.first_bad == SPOOL_END);
	uint8_t zh[SPOOL_SEGMENT_HEADER_BYTES + 8] = { 0 };
	zh[sizeof(zh) - 1] = 1; /* a zero header, something after it */
	scan_guarded(zh, sizeof(zh), &sc);
	CHECK(sc.recovery == SPOOL_RECOVERY_CORRUPT && sc.good_end == 0 && sc.first_bad == SPOOL_BAD_HEADER);
}

int main(void)
{
	test_scan_clean();
	test_scan_torn_tail();
	test_scan_garbage_tail();
	test_scan_salvage();
	test_scan_qid_fallback();
	test_scan_budget();
	test_scan_torn_before_undurable();
	test_scan_flip_every_byte();
	test_scan_forged_in_torn_body();
	test_scan_impossible_synced_before();
	test_segment_header();
	return harness_finish("spool_scan");
}
