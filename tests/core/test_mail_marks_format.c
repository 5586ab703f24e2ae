/*
 * tests/core/test_mail_marks_format.c - the marks log record
 * (core/mail_marks_format.h): round trips of every type, the layout
 * against a reference written from the header's table, every truncation
 * SHORT (a torn tail), every single-bit flip refused, invalid marks not
 * encoded, records decoded against a PROT_NONE page (no over-read).
 */
#include "mail_marks_format.h"
#include "spool_support.h"

static void mark_tags(struct mail_mark *m, const char *const *tags, uint32_t n)
{
	m->tag_count = n;
	for (uint32_t i = 0; i < n; i++) {
		m->tags[i] = tags[i];
		m->tag_len[i] = (uint8_t)strlen(tags[i]);
	}
}

static bool same_mark(const struct mail_mark *a, const struct mail_mark *b)
{
	bool ok = a->type == b->type && a->at_us == b->at_us && strcmp(a->qid, b->qid) == 0 &&
		  a->tag_count == b->tag_count;
	for (uint32_t i = 0; ok && i < a->tag_count; i++)
		ok = a->tag_len[i] == b->tag_len[i] && memcmp(a->tags[i], b->tags[i], a->tag_len[i]) == 0;
	return ok;
}

/* The layout, written from the table in mail_marks_format.h. */
static void test_reference_layout(void)
{
	static const char *const tags[] = { "urgent", "x" };
	struct mail_mark m = { .type = MAIL_MARK_TAGS, .at_us = 0x0102030405060708ull };
	strcpy(m.qid, "ABCDEFGHIJKLMN");
	mark_tags(&m, tags, 2);
	struct bytes ref = { 0 };
	bytes_add(&ref, "SSMK", 4);
	bytes_le(&ref, 1, 1);
	bytes_le(&ref, MAIL_MARK_TAGS, 1);
	bytes_le(&ref, 2, 2);
	bytes_le(&ref, 64, 4); /* 40 + 9 payload -> 56, + 8 */
	bytes_le(&ref, 9, 4);
	bytes_le(&ref, m.at_us, 8);
	bytes_add(&ref, "ABCDEFGHIJKLMN\0\0", 16);
	bytes_add(&ref, "\006urgent\001x\0\0\0\0\0\0\0", 16);
	bytes_le(&ref, XXH3_64bits(ref.p, ref.len), 8);
	uint8_t out[MAIL_MARKS_RECORD_MAX_BYTES];
	CHECK_U64(mail_marks_record_len(&m), 64);
	CHECK_U64(mail_marks_encode(&m, out), 64);
	CHECK(ref.len == 64 && memcmp(out, ref.p, 64) == 0);
	free(ref.p);
}

/* Every prefix is SHORT (or END when empty), every bit flip BAD, the
 * whole record OK and equal. */
static void check_record(const struct mail_mark *m)
{
	uint8_t out[MAIL_MARKS_RECORD_MAX_BYTES];
	struct mail_mark d;
	struct guard g;
	size_t len = mail_marks_encode(m, out), rlen = 0;
	CHECK(len > 0 && len % 8 == 0 && len == mail_marks_record_len(m));
	uint8_t *p = guard_place(&g, out, len);
	CHECK(mail_marks_decode(p, len, &d, &rlen) == MAIL_MARKS_OK && rlen == len && same_mark(m, &d));
	guard_free(&g);
	for (size_t cut = 0; cut < len; cut++) {
		p = guard_place(&g, out, cut);
		enum mail_marks_verdict v = mail_marks_decode(p, cut, &d, &rlen);
		CHECK(v == (cut == 0 ? MAIL_MARKS_END : MAIL_MARKS_SHORT));
		guard_free(&g);
	}
	for (size_t bit = 0; bit < len * 8; bit++) {
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum mail_marks_verdict v = mail_marks_decode(out, len, &d, &rlen);
		CHECK(v == MAIL_MARKS_BAD);
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

static void test_round_trips(void)
{
	static const char *const tags[] = { "a", "two words", "ünï", "x\"y" };
	static const enum mail_mark_type types[] = { MAIL_MARK_READ, MAIL_MARK_UNREAD, MAIL_MARK_DELETE };
	for (size_t i = 0; i < 3; i++) {
		struct mail_mark m = { .type = types[i], .at_us = 1765000000000000ull + i };
		strcpy(m.qid, i == 2 ? "" : "0123456789ABCDEF"); /* "": every message */
		check_record(&m);
	}
	for (uint32_t n = 0; n <= 4; n++) {
		struct mail_mark m = { .type = MAIL_MARK_TAGS, .at_us = 7 };
		strcpy(m.qid, "Q1");
		mark_tags(&m, tags, n);
		check_record(&m);
	}
	/* the limits: MAIL_MARKS_TAGS_MAX tags of MAIL_MARKS_TAG_MAX_BYTES */
	static char longest[MAIL_MARKS_TAG_MAX_BYTES + 1];
	memset(longest, 'L', MAIL_MARKS_TAG_MAX_BYTES);
	const char *many[MAIL_MARKS_TAGS_MAX + 1];
	for (size_t i = 0; i <= MAIL_MARKS_TAGS_MAX; i++)
		many[i] = longest;
	struct mail_mark m = { .type = MAIL_MARK_TAGS };
	strcpy(m.qid, "Q2");
	mark_tags(&m, many, MAIL_MARKS_TAGS_MAX);
	CHECK_U64(mail_marks_record_len(&m), MAIL_MARKS_RECORD_MAX_BYTES - 7u);
	check_record(&m);
	m.tag_count = MAIL_MARKS_TAGS_MAX + 1;
	CHECK_U64(mail_marks_record_len(&m), 0);
}

static void test_invalid(void)
{
	uint8_t out[MAIL_MARKS_RECORD_MAX_BYTES];
	static const char *const tags[] = { "ok", "" };
	struct mail_mark m = { .type = MAIL_MARK_READ };
	strcpy(m.qid, "Q");
	mark_tags(&m, tags, 1); /* tags on READ */
	CHECK_U64(mail_marks_encode(&m, out), 0);
	m.type = MAIL_MARK_TAGS;
	mark_tags(&m, tags, 2); /* an empty tag */
	CHECK_U64(mail_marks_record_len(&m), 0);
	m.tag_count = 0;
	m.type = (enum mail_mark_type)9;
	CHECK_U64(mail_marks_record_len(&m), 0);
	/* zeros (a preallocated or zero-filled tail) are END */
	struct mail_mark d;
	size_t rlen;
	memset(out, 0, 64);
	CHECK(mail_marks_decode(out, 64, &d, &rlen) == MAIL_MARKS_END);
	/* a record whose checksum is right but whose tag lengths overrun */
	m.type = MAIL_MARK_TAGS;
	mark_tags(&m, tags, 1);
	size_t len = mail_marks_encode(&m, out);
	out[40] = 5; /* "ok" announced as 5 bytes */
	put_le(out + len - 8, XXH3_64bits(out, len - 8), 8);
	CHECK(mail_marks_decode(out, len, &d, &rlen) == MAIL_MARKS_BAD);
}

int main(void)
{
	test_reference_layout();
	test_round_trips();
	test_invalid();
	return harness_finish("test_mail_marks_format");
}
