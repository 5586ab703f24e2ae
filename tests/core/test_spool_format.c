/*
 * tests/core/test_spool_format.c - spool format v1: records, metadata and
 * the index.
 *
 * Owns: round trips of every metadata field (empty, cut at the maximum,
 * 0 and many recipients) and of bodies needing 0..7 bytes of padding,
 * checked against the reference encoder of spool_support.h; a streamed
 * body gives the same bytes whatever its pieces; every single-byte flip of
 * a record is caught; every truncation is SHORT; impossible lengths are
 * BAD_HEADER; a moved record (spool_record_move) is a fresh encoding with
 * its new synced_before; unknown tags are skipped and malformed fields reported; the
 * index round trip, lookups against a linear search, and its corruption
 * checks.  Images are decoded against a PROT_NONE page, so an over-read is
 * a SIGSEGV even without ASan.  Recovery scans: test_spool_scan.c.
 *
 * Workload: small records (a few hundred bytes), flips and truncations
 * byte by byte, one 1000-recipient and one 64 KiB-field record.
 */
#define _GNU_SOURCE
#include "spool_support.h"

#define MANY_RCPTS 1000u
#define INDEX_MANY 1000u

/* The reference meta for env, in the documented field order. */
static void ref_meta(const struct spool_envelope *e, struct bytes *m)
{
	uint8_t b[20] = { 0 };
	size_t cut = SPOOL_FIELD_MAX_BYTES;
	ref_field(m, 1, e->qid.ptr, e->qid.len < cut ? e->qid.len : cut);
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(e->received_us >> (8 * i));
	ref_field(m, 2, b, 8);
	memset(b, 0, sizeof(b));
	for (unsigned i = 0; i < 4; i++)
		b[i] = (uint8_t)(e->shard >> (8 * i)), b[4 + i] = (uint8_t)(e->node >> (8 * i));
	ref_field(m, 3, b, 4);
	ref_field(m, 13, b + 4, 4);
	memset(b, 0, sizeof(b));
	b[0] = e->client_family;
	b[2] = (uint8_t)e->client_port;
	b[3] = (uint8_t)(e->client_port >> 8);
	memcpy(b + 4, e->client_addr, 16);
	ref_field(m, 4, b, 20);
	ref_field(m, 5, e->helo.ptr, e->helo.len < cut ? e->helo.len : cut);
	ref_field(m, 6, e->protocol.ptr, e->protocol.len);
	if (e->auth_user.len)
		ref_field(m, 7, e->auth_user.ptr, e->auth_user.len);
	ref_field(m, 8, e->mail_from.ptr, e->mail_from.len < cut ? e->mail_from.len : cut);
	if (e->mail_params.len)
		ref_field(m, 9, e->mail_params.ptr, e->mail_params.len);
	for (uint32_t i = 0; i < e->rcpt_count; i++) {
		ref_field(m, 10, e->rcpts[i].ptr, e->rcpts[i].len < cut ? e->rcpts[i].len : cut);
		if (e->rcpt_params && e->rcpt_params[i].len)
			ref_field(m, 11, e->rcpt_params[i].ptr, e->rcpt_params[i].len);
	}
	if (e->session_id.len)
		ref_field(m, 12, e->session_id.ptr, e->session_id.len);
}

/* Encode (whole and in 1- and 3-byte pieces), compare with the reference,
 * decode, and check the body and the meta text byte for byte. */
static void round_trip(const struct spool_envelope *env, const void *body, size_t body_len)
{
	struct bytes meta = { 0 }, want = { 0 }, got_meta = { 0 };
	size_t len, len1, len3;
	uint8_t *r = encode(env, body, body_len, 64, 0, &len);
	uint8_t *r1 = encode(env, body, body_len, 64, 1, &len1);
	uint8_t *r3 = encode(env, body, body_len, 64, 3, &len3);
	ref_meta(env, &meta);
	ref_record(&meta, body, body_len, env->flags, 64, &want);
	harness_check_mem(r, len, want.p, want.len, __FILE__, __LINE__, "record equals the reference encoding");
	CHECK(len1 == len && memcmp(r1, r, len) == 0 && len3 == len && memcmp(r3, r, len) == 0);
	CHECK_U64(len % SPOOL_RECORD_ALIGN, 0);
	CHECK_U64(spool_record_meta_bytes(env), SPOOL_RECORD_HEADER_BYTES + meta.len);

	struct guard g;
	struct spool_record rec;
	uint8_t *img = guard_place(&g, r, len);
	CHECK(spool_record_decode(img, len, &rec) == SPOOL_OK);
	CHECK_U64(rec.record_len, len);
	CHECK_U64(rec.body_len, body_len);
	CHECK_U64(rec.meta_len, meta.len);
	CHECK_U64(rec.flags, env->flags);
	CHECK_U64(rec.synced_before, 64);
	harness_check_mem(rec.body, rec.body_len, body, body_len, __FILE__, __LINE__, "body byte-exact");
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed;
	while (spool_meta_next(&rec, &pos, &tag, &v, &malformed))
		ref_field(&got_meta, tag, v.ptr, v.len);
	CHECK(!malformed);
	harness_check_mem(got_meta.p, got_meta.len, meta.p, meta.len, __FILE__, __LINE__, "meta fields walk back");
	guard_free(&g);
	free(r), free(r1), free(r3), free(meta.p), free(want.p), free(got_meta.p);
}

/* ---- records ------------------------------------------------------------- */

static void test_round_trip_all_fields(void)
{
	struct spool_envelope e;
	struct smtp_view rcpts[3] = { sv("bob@example.org"), sv(""), sv("carol@example.net") };
	struct smtp_view params[3] = { sv("NOTIFY=NEVER"), sv(""), sv("ORCPT=rfc822;c@x") };
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	e.client_family = 6;
	memcpy(e.client_addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	e.auth_user = sv("alice");
	e.mail_params = sv("SIZE=42 BODY=8BITMIME");
	e.rcpts = rcpts;
	e.rcpt_params = params;
	e.rcpt_count = 3;
	e.flags = 0x1e01;
	e.session_id = sv("s-123");
	round_trip(&e, "Subject: x\r\n\r\nHello \x00\xff\r\n", 23);
}

static void test_round_trip_empty(void)
{
	struct spool_envelope e;
	memset(&e, 0, sizeof(e)); /* every view empty, no recipients */
	round_trip(&e, "", 0);
	env_basic(&e, "", 0);
	e.helo = sv("");
	e.mail_from = sv(""); /* the null reverse-path */
	round_trip(&e, "", 0);
}

static void test_round_trip_max_fields(void)
{
	size_t big = SPOOL_FIELD_MAX_BYTES + 10;
	char *s = malloc(big);
	struct spool_envelope e;
	struct smtp_view rcpts[2];
	memset(s, 'h', big);
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	e.helo = smtp_view_make(s, SPOOL_FIELD_MAX_BYTES); /* exactly the maximum */
	e.mail_from = smtp_view_make(s, big); /* cut to it */
	rcpts[0] = smtp_view_make(s, SPOOL_FIELD_MAX_BYTES - 1);
	rcpts[1] = smtp_view_make(s, big);
	e.rcpts = rcpts;
	e.rcpt_count = 2;
	round_trip(&e, "x", 1);
	/* 10 field heads; qid, time, shard, node, client, protocol; 4 texts. */
	CHECK_U64(spool_record_meta_bytes(&e), 48 + 10 * 4 + 14 + 8 + 4 + 4 + 20 + 5 + 65535 * 3 + 65534);
	free(s);
}

static void test_round_trip_many_rcpts(void)
{
	struct smtp_view *rcpts = calloc(MANY_RCPTS, sizeof(*rcpts)), *params = calloc(MANY_RCPTS, sizeof(*params));
	struct spool_envelope e;
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	for (unsigned i = 0; i < MANY_RCPTS; i++) {
		rcpts[i] = sv(i % 2 ? "odd@example.org" : "even@example.org");
		params[i] = sv(i % 3 ? "" : "NOTIFY=SUCCESS");
	}
	e.rcpts = rcpts;
	e.rcpt_params = params;
	e.rcpt_count = MANY_RCPTS;
	round_trip(&e, "body\r\n", 6);
	free(rcpts), free(params);
}

/* Bodies of 0..23 bytes: every padding length 0..7 three times over. */
static void test_padding(void)
{
	static const char body[] = "0123456789abcdefghijklmn";
	struct spool_envelope e;
	unsigned seen = 0;
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	size_t head = spool_record_meta_bytes(&e);
	for (size_t n = 0; n < sizeof(body); n++) {
		uint64_t pad = spool_record_len(&e, n) - head - n - SPOOL_RECORD_TRAILER_BYTES;
		CHECK(pad < SPOOL_RECORD_ALIGN);
		seen |= 1u << pad;
		round_trip(&e, body, n);
	}
	CHECK_U64(seen, 0xff);
}

static void test_tail_mismatch(void)
{
	struct spool_envelope e;
	struct spool_checksum c;
	uint8_t tail[SPOOL_RECORD_TAIL_MAX_BYTES];
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	size_t head = spool_record_meta_bytes(&e);
	uint64_t rl = spool_record_len(&e, 10);
	spool_checksum_init(&c);
	CHECK_U64(spool_record_tail(&c, rl, head + 2, tail), 0); /* 8 bytes short */
	CHECK_U64(spool_record_tail(&c, rl, rl - 15, tail), 0); /* past the trailer */
	CHECK_U64(spool_record_tail(&c, rl + 4, head + 10, tail), 0); /* unaligned */
	CHECK_U64(spool_record_tail(&c, rl, head + 10, tail), rl - head - 10);
	CHECK_U64(spool_record_len(&e, UINT64_C(1) << 63), 0);
}

static uint8_t *small_record(size_t *len, uint64_t synced)
{
	struct spool_envelope e;
	env_basic(&e, "0Wq3Xyz0001A03", T0_US);
	return encode(&e, "Hi!\r\n", 5, synced, 0, len);
}

/* Every byte, three masks: header bytes give BAD_HEADER, the rest
 * BAD_CHECKSUM, never OK. */
static void test_flip_every_byte(void)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	size_t len;
	uint8_t *r = small_record(&len, 64);
	struct spool_record rec;
	unsigned bad = 0;
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			r[i] ^= masks[m];
			enum spool_verdict v = decode_guarded(r, len, &rec);
			r[i] ^= masks[m];
			if (v != (i < SPOOL_RECORD_HEADER_BYTES ? SPOOL_BAD_HEADER : SPOOL_BAD_CHECKSUM)) {
				fprintf(stderr, "flip of byte %zu with 0x%02x gave verdict %d\n", i, masks[m], v);
				bad++;
			}
		}
	}
	CHECK_U64(bad, 0);
	CHECK(decode_guarded(r, len, &rec) == SPOOL_OK);
	free(r);
}

/* A record moved by prune --deleted is the record the encoder would have
 * written with the new synced_before: byte for byte, and it decodes. */
static void test_record_move(void)
{
	size_t len, want_len;
	uint8_t *r = small_record(&len, 4096);
	uint8_t *want = small_record(&want_len, 136);
	spool_record_move(r, len, 136);
	harness_check_mem(r, len, want, want_len, __FILE__, __LINE__, "moved record equals a fresh encoding");
	struct spool_record rec;
	CHECK(decode_guarded(r, len, &rec) == SPOOL_OK);
	CHECK_U64(rec.synced_before, 136);
	free(r), free(want);
}

static void test_truncation(void)
{
	size_t len;
	uint8_t *r = small_record(&len, 64);
	struct spool_record rec;
	unsigned bad = 0;
	CHECK(decode_guarded(r, 0, &rec) == SPOOL_END);
	for (size_t n = 1; n < len; n++)
		if (decode_guarded(r, n, &rec) != SPOOL_SHORT)
			bad++;
	CHECK_U64(bad, 0);
	CHECK(decode_guarded(r, len, &rec) == SPOOL_OK);
	uint8_t zeros[SPOOL_RECORD_HEADER_BYTES] = { 0 };
	for (size_t n = 0; n <= sizeof(zeros); n++)
		if (decode_guarded(zeros, n, &rec) != SPOOL_END)
			bad++;
	CHECK_U64(bad, 0);
	CHECK(decode_guarded("SSRX", 4, &rec) == SPOOL_BAD_HEADER);
	free(r);
}

static enum spool_verdict patched(const uint8_t *r, size_t len, unsigned off, unsigned width, uint64_t v)
{
	struct spool_record rec;
	uint8_t *c = malloc(len);
	memcpy(c, r, len);
	put_le(c + off, v, width);
	put_le(c + 40, XXH3_64bits(c, 40), 8);
	enum spool_verdict got = decode_guarded(c, len, &rec);
	free(c);
	return got;
}

static void test_impossible_lengths(void)
{
	size_t len;
	uint8_t *r = small_record(&len, 64);
	uint64_t two63 = UINT64_C(1) << 63;
	CHECK(patched(r, len, 24, 8, len) == SPOOL_OK); /* resealing alone is harmless */
	CHECK(patched(r, len, 16, 8, two63) == SPOOL_BAD_HEADER);
	CHECK(patched(r, len, 16, 8, UINT64_MAX - 7) == SPOOL_BAD_HEADER); /* would wrap to small */
	CHECK(patched(r, len, 24, 8, two63) == SPOOL_BAD_HEADER);
	CHECK(patched(r, len, 8, 4, UINT32_MAX) == SPOOL_BAD_HEADER);
	CHECK(patched(r, len, 24, 8, len + 8) == SPOOL_BAD_HEADER); /* padding past 7 */
	CHECK(patched(r, len, 24, 8, len - 8) == SPOOL_BAD_HEADER);
	CHECK(patched(r, len, 24, 8, len + 4) == SPOOL_BAD_HEADER); /* unaligned */
	CHECK(patched(r, len, 4, 2, 2) == SPOOL_BAD_HEADER); /* version */
	CHECK(patched(r, len, 6, 2, 56) == SPOOL_BAD_HEADER); /* header size */
	/* Consistent but longer than the image: SHORT, and nothing read past. */
	uint64_t big_meta = (48 + (uint64_t)UINT32_MAX + 5 + 16 + 7) / 8 * 8;
	uint8_t *c = malloc(len);
	memcpy(c, r, len);
	put_le(c + 8, UINT32_MAX, 4);
	put_le(c + 24, big_meta, 8);
	put_le(c + 40, XXH3_64bits(c, 40), 8);
	struct spool_record rec;
	CHECK(decode_guarded(c, len, &rec) == SPOOL_SHORT);
	CHECK_U64(rec.record_len, big_meta);
	free(c);
	free(r);
}

static void test_meta_walk(void)
{
	struct bytes meta = { 0 }, rec_bytes = { 0 };
	struct spool_record rec;
	ref_field(&meta, SPOOL_TAG_QUEUE_ID, "0Wq3Xyz0001A03", 14);
	ref_field(&meta, 200, "future", 6); /* unknown tag: skipped by readers */
	ref_field(&meta, SPOOL_TAG_HELO, "h", 1);
	ref_record(&meta, "b", 1, 0, 64, &rec_bytes);
	CHECK(spool_record_decode(rec_bytes.p, rec_bytes.len, &rec) == SPOOL_OK);
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed;
	unsigned n = 0, helo = 0;
	while (spool_meta_next(&rec, &pos, &tag, &v, &malformed)) {
		n++;
		helo += tag == SPOOL_TAG_HELO && v.len == 1 && v.ptr[0] == 'h';
	}
	CHECK(!malformed && n == 3 && helo == 1);
	/* A field running past meta_len (checksums valid): malformed. */
	struct spool_record cut = rec;
	cut.meta_len = 4 + 14 + 4 + 3;
	pos = 0;
	CHECK(spool_meta_next(&cut, &pos, &tag, &v, &malformed) && !malformed);
	CHECK(!spool_meta_next(&cut, &pos, &tag, &v, &malformed) && malformed);
	cut.meta_len = 4 + 14 + 2; /* a cut field head */
	pos = 4 + 14;
	CHECK(!spool_meta_next(&cut, &pos, &tag, &v, &malformed) && malformed);
	free(meta.p), free(rec_bytes.p);
}

/* ---- index --------------------------------------------------------------- */

static void make_entries(struct spool_index_entry *e, uint32_t n)
{
	struct queue_id_gen g;
	char qid[QUEUE_ID_LEN + 1];
	queue_id_init(&g, 5, 1, 0);
	for (uint32_t i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		queue_id_next(&g, T0_US + 1000 * i, qid);
		memcpy(e[i].qid, qid, QUEUE_ID_LEN);
		e[i].received_us = T0_US + 1000 * i;
		e[i].offset = 64 + 512 * (uint64_t)i;
		e[i].record_len = 512;
		e[i].meta_len = 100 + i;
		e[i].flags = i;
	}
}

static long linear_find(const struct spool_index_entry *e, uint32_t n, const char *qid, size_t len)
{
	for (uint32_t i = 0; i < n; i++)
		if (len <= 16 && strncmp(e[i].qid, qid, len) == 0 && (len == 16 || e[i].qid[len] == '\0'))
			return (long)i;
	return -1;
}

static void index_round_trip(uint32_t n)
{
	struct spool_index_entry *e = calloc(n + 1, sizeof(*e)), got;
	make_entries(e, n);
	size_t len = spool_index_bytes(n);
	uint8_t *img = malloc(len);
	spool_index_encode(42, e, n, img);
	CHECK_U64(len, 64 + 48 * (uint64_t)n + 8);
	struct guard g;
	uint8_t *gi = guard_place(&g, img, len);
	const uint8_t *entries;
	uint32_t count;
	uint64_t segno;
	CHECK(spool_index_decode(gi, len, &segno, &entries, &count) && segno == 42 && count == n);
	unsigned bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		spool_index_entry_get(entries, i, &got);
		bad += memcmp(&got, &e[i], sizeof(got)) != 0;
		bad += spool_index_find(entries, count, e[i].qid, QUEUE_ID_LEN) != (long)i;
		char probe[QUEUE_ID_LEN];
		memcpy(probe, e[i].qid, QUEUE_ID_LEN);
		probe[QUEUE_ID_LEN - 1] = 'z'; /* absent: between or after entries */
		bad += spool_index_find(entries, count, probe, QUEUE_ID_LEN) != linear_find(e, n, probe, QUEUE_ID_LEN);
	}
	CHECK_U64(bad, 0);
	CHECK(spool_index_find(entries, count, "", 0) == -1);
	CHECK(spool_index_find(entries, count, "00000000000000000", 17) == -1);
	CHECK(spool_index_find(entries, count, "0", 1) == -1);
	CHECK(!spool_index_decode(gi + 1, len - 1, &segno, &entries, &count));
	guard_free(&g);
	free(e), free(img);
}

static void test_index_round_trip(void)
{
	index_round_trip(0);
	index_round_trip(1);
	index_round_trip(2);
	index_round_trip(INDEX_MANY);
}

/* Reseal the entries checksum after editing entries. */
static void index_reseal(uint8_t *img, size_t len)
{
	put_le(img + len - 8, XXH3_64bits(img + 64, len - 72), 8);
}

static void test_index_corrupt(void)
{
	struct spool_index_entry e[3];
	make_entries(e, 3);
	size_t len = spool_index_bytes(3);
	uint8_t img[64 + 3 * 48 + 8], big[sizeof(img) + 8] = { 0 };
	const uint8_t *entries;
	uint32_t count;
	uint64_t segno;
	unsigned bad = 0;
	spool_index_encode(7, e, 3, img);
	for (size_t i = 0; i < len; i++) {
		img[i] ^= 0x08;
		bad += spool_index_decode(img, len, &segno, &entries, &count);
		img[i] ^= 0x08;
	}
	CHECK_U64(bad, 0);
	CHECK(spool_index_decode(img, len, &segno, &entries, &count));
	CHECK(!spool_index_decode(img, len - 1, &segno, &entries, &count));
	memcpy(big, img, len);
	CHECK(!spool_index_decode(big, len + 8, &segno, &entries, &count));
	struct spool_index_entry swapped[3] = { e[1], e[0], e[2] };
	spool_index_encode(7, swapped, 3, img);
	CHECK(!spool_index_decode(img, len, &segno, &entries, &count)); /* out of order */
	struct spool_index_entry dup[3] = { e[0], e[0], e[2] };
	spool_index_encode(7, dup, 3, img);
	CHECK(!spool_index_decode(img, len, &segno, &entries, &count));
	spool_index_encode(7, e, 3, img);
	put_le(img + 64 + 48 + 24, 12, 8); /* entry 1's offset inside the segment header */
	index_reseal(img, len);
	CHECK(!spool_index_decode(img, len, &segno, &entries, &count));
	spool_index_encode(7, e, 3, img);
	put_le(img + 64 + 48 + 32, UINT64_MAX - 7, 8); /* offset + record_len wraps */
	index_reseal(img, len);
	CHECK(!spool_index_decode(img, len, &segno, &entries, &count));
	spool_index_encode(7, e, 3, img);
	put_le(img + 12, 0x40000000, 4); /* count: reseal the header */
	put_le(img + 56, XXH3_64bits(img, 56), 8);
	CHECK(!spool_index_decode(img, len, &segno, &entries, &count));
	/* A qid with garbage after its NUL is stored NUL-padded. */
	memcpy(e[0].qid, "AB\0garbagegarba", 16);
	spool_index_encode(7, e, 1, img);
	CHECK(spool_index_decode(img, spool_index_bytes(1), &segno, &entries, &count));
	CHECK(spool_index_find(entries, count, "AB", 2) == 0);
}

int main(void)
{
	test_round_trip_all_fields();
	test_round_trip_empty();
	test_round_trip_max_fields();
	test_round_trip_many_rcpts();
	test_padding();
	test_tail_mismatch();
	test_flip_every_byte();
	test_record_move();
	test_truncation();
	test_impossible_lengths();
	test_meta_walk();
	test_index_round_trip();
	test_index_corrupt();
	return harness_finish("spool_format");
}
