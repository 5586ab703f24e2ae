/*
 * tests/core/test_session_report.c - session reports as spool records
 * (core/session_report.h).
 *
 * Owns: encode -> spool_record_decode -> session_report_decode round trips
 * of a report with every field set and its lists at, below and over their
 * MAX (totals kept, lists cut), of an empty report; a small report checked
 * byte for byte against a reference written from the tag table in
 * spool_format.h and the code tables of docs/SPOOL-FORMAT.md (so a code
 * that follows enum order silently would show); unknown tags and unknown
 * verb codes skipped; bad sizes, malformed metadata and message records
 * rejected; names and parsing of quirks, reasons and verbs; named fault
 * rules at, below and over their limits (count and text length) and a
 * report without them; who ended a session (session_report_end).  Images are
 * decoded against a PROT_NONE page (spool_support.h).
 *
 * Workload: a handful of records of up to ~25 KB.
 */
#define _GNU_SOURCE
#include "session_report.h"
#include "spool_support.h"

#define QID_TEXT_BYTES 16u

static void fill_ids(char (*ids)[QID_TEXT_BYTES], struct smtp_view *views, uint32_t n)
{
	struct queue_id_gen qg;
	queue_id_init(&qg, 77, 3, 0);
	for (uint32_t i = 0; i < n; i++) {
		queue_id_next(&qg, T0_US + i, ids[i]);
		views[i] = smtp_view_make(ids[i], QUEUE_ID_LEN);
	}
}

static void report_basic(struct session_report *r, const char *id)
{
	memset(r, 0, sizeof(*r));
	r->id = sv(id);
	r->connect_us = T0_US;
	r->end_us = T0_US + 12345678;
	r->shard = 3;
	r->node = 77;
	r->client_family = 6;
	r->client_port = 2525;
	memcpy(r->client_addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	r->helo = sv("client.example");
	r->helo_verb = SMTP_VERB_EHLO;
	r->end_reason = SMTP_REASON_QUIT;
	r->ended_by_client = true;
}

static void check_same(const struct session_report *a, const struct session_report *b, uint32_t aborts, uint32_t gaps,
		       uint32_t messages)
{
	CHECK_STR(b->id.ptr, b->id.len, (const char *)a->id.ptr);
	CHECK_U64(b->connect_us, a->connect_us);
	CHECK_U64(b->end_us, a->end_us);
	CHECK_U64(b->shard, a->shard);
	CHECK_U64(b->node, a->node);
	CHECK(b->client_family == a->client_family && b->client_port == a->client_port &&
	      memcmp(b->client_addr, a->client_addr, 16) == 0);
	CHECK(b->helo.len == a->helo.len && (a->helo.len == 0 || memcmp(b->helo.ptr, a->helo.ptr, a->helo.len) == 0));
	CHECK_U64(b->helo_verb, a->helo_verb);
	CHECK_U64(b->end_reason, a->end_reason);
	CHECK(b->ended_by_client == a->ended_by_client);
	CHECK_U64(b->quirks, a->quirks);
	CHECK(memcmp(b->verbs, a->verbs, sizeof(a->verbs)) == 0);
	CHECK(b->pipelined == a->pipelined && b->errors == a->errors && b->txn_completed == a->txn_completed &&
	      b->txn_refused == a->txn_refused);
	CHECK(b->txn_aborted == a->txn_aborted && b->rcpts_accepted == a->rcpts_accepted);
	CHECK(b->rcpts_refused == a->rcpts_refused && b->faults == a->faults && b->gaps_total == a->gaps_total);
	CHECK(b->bytes_in == a->bytes_in && b->bytes_out == a->bytes_out);
	CHECK_U64(b->abort_count, aborts);
	CHECK_U64(b->gap_count, gaps);
	CHECK_U64(b->message_count, messages);
	for (uint32_t i = 0; i < aborts && i < a->abort_count; i++)
		CHECK(b->aborts[i].at_us == a->aborts[i].at_us && b->aborts[i].rcpts == a->aborts[i].rcpts &&
		      b->aborts[i].rcpts_refused == a->aborts[i].rcpts_refused &&
		      b->aborts[i].had_data == a->aborts[i].had_data && b->aborts[i].reason == a->aborts[i].reason);
	for (uint32_t i = 0; i < gaps && i < a->gap_count; i++)
		CHECK(b->gaps[i].at_us == a->gaps[i].at_us && b->gaps[i].len_us == a->gaps[i].len_us &&
		      b->gaps[i].after_verb == a->gaps[i].after_verb && b->gaps[i].in_txn == a->gaps[i].in_txn);
	for (uint32_t i = 0; i < messages && i < a->message_count; i++)
		CHECK(b->messages[i].len == a->messages[i].len &&
		      memcmp(b->messages[i].ptr, a->messages[i].ptr, a->messages[i].len) == 0);
}

/* Every field, lists of n entries each (n * 16 messages). */
static void full_round_trip(uint32_t n_aborts, uint32_t n_gaps, uint32_t n_msgs)
{
	static struct session_abort aborts[SESSION_REPORT_ABORTS_MAX + 1];
	static struct session_gap gaps[SESSION_REPORT_GAPS_MAX + 1];
	static char ids[SESSION_REPORT_MESSAGES_MAX + 1][QID_TEXT_BYTES];
	static struct smtp_view msgs[SESSION_REPORT_MESSAGES_MAX + 1];
	static struct session_report_image img;
	struct session_report r;
	report_basic(&r, "8DxLfD0Ch01F03");
	r.quirks = (1u << SMTP_QUIRK_COUNT) - 1;
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++)
		r.verbs[v] = v * 1000 + 1;
	r.pipelined = 11, r.errors = 12, r.txn_completed = n_msgs, r.txn_refused = 14, r.txn_aborted = n_aborts;
	r.rcpts_accepted = 16, r.rcpts_refused = 17, r.faults = 18, r.gaps_total = n_gaps;
	r.bytes_in = UINT64_MAX - 1, r.bytes_out = (uint64_t)1 << 40;
	for (uint32_t i = 0; i < n_aborts; i++)
		aborts[i] = (struct session_abort){ 1000 * i + 7, i, i / 2, i % 2 == 0, (uint8_t)(i % 15) };
	for (uint32_t i = 0; i < n_gaps; i++)
		gaps[i] = (struct session_gap){ 2000 * i, 10000000 + i, (uint8_t)(i % (SMTP_VERB_COUNT + 1)),
						i % 3 == 0 };
	fill_ids(ids, msgs, n_msgs);
	r.aborts = aborts, r.abort_count = n_aborts;
	r.gaps = gaps, r.gap_count = n_gaps;
	r.messages = msgs, r.message_count = n_msgs;
	struct guard g;
	CHECK(report_round_trip(&r, &g, &img));
	uint32_t ka = n_aborts < SESSION_REPORT_ABORTS_MAX ? n_aborts : SESSION_REPORT_ABORTS_MAX;
	uint32_t kg = n_gaps < SESSION_REPORT_GAPS_MAX ? n_gaps : SESSION_REPORT_GAPS_MAX;
	uint32_t km = n_msgs < SESSION_REPORT_MESSAGES_MAX ? n_msgs : SESSION_REPORT_MESSAGES_MAX;
	check_same(&r, &img.r, ka, kg, km);
	CHECK_U64(img.r.txn_aborted, n_aborts); /* totals are kept when lists are cut */
	CHECK_U64(img.r.gaps_total, n_gaps);
	CHECK_U64(img.r.txn_completed, n_msgs);
	guard_free(&g);
}

static void test_full(void)
{
	full_round_trip(3, 2, 5);
	full_round_trip(SESSION_REPORT_ABORTS_MAX - 1, SESSION_REPORT_GAPS_MAX - 1, SESSION_REPORT_MESSAGES_MAX - 1);
	full_round_trip(SESSION_REPORT_ABORTS_MAX, SESSION_REPORT_GAPS_MAX, SESSION_REPORT_MESSAGES_MAX);
	full_round_trip(SESSION_REPORT_ABORTS_MAX + 1, SESSION_REPORT_GAPS_MAX + 1, SESSION_REPORT_MESSAGES_MAX + 1);
}

static void test_empty(void)
{
	static struct session_report_image img;
	struct session_report r;
	memset(&r, 0, sizeof(r));
	r.id = sv("8DxLfD0Ch01F03");
	struct guard g;
	CHECK(report_round_trip(&r, &g, &img));
	check_same(&r, &img.r, 0, 0, 0);
	CHECK_U64(img.r.helo_verb, SMTP_VERB_UNKNOWN);
	CHECK_U64(img.r.helo.len, 0);
	guard_free(&g);
}

/* The reference meta of the report of test_reference, from the tag table
 * and the code tables (EHLO 2, MAIL 4, QUIT 10, RSET 8; disconnect 4,
 * rset 1, quit 3; no verb 255). */
static void ref_small(struct bytes *m)
{
	uint8_t b[36] = { 0 };
	ref_field(m, 1, "8DxLfD0Ch01F03", 14);
	put_le(b, T0_US, 8);
	ref_field(m, 2, b, 8);
	put_le(b, 3, 4);
	ref_field(m, 3, b, 4);
	put_le(b, 77, 4);
	ref_field(m, 13, b, 4);
	memset(b, 0, sizeof(b));
	b[0] = 4, put_le(b + 2, 40000, 2), memcpy(b + 4, "\x7f\0\0\x01", 4);
	ref_field(m, 4, b, 20);
	ref_field(m, 5, "h.example", 9);
	put_le(b, T0_US + 5000000, 8);
	ref_field(m, 32, b, 8);
	ref_field(m, 33, "\x04\x01\0\0", 4);
	ref_field(m, 34, "\x02", 1);
	put_le(b, SMTP_QUIRK_RSET_FOR_DATA | SMTP_QUIRK_CONTENT_BEFORE_354, 4);
	ref_field(m, 35, b, 4);
	ref_field(m, 36, "\x02\0\0\0\x01\0\0\0", 8); /* EHLO 1 */
	ref_field(m, 36, "\x04\0\0\0\x02\0\0\0", 8); /* MAIL 2 */
	ref_field(m, 36, "\x08\0\0\0\x01\0\0\0", 8); /* RSET 1 */
	ref_field(m, 36, "\x0a\0\0\0\x01\0\0\0", 8); /* QUIT 1 */
	memset(b, 0, sizeof(b));
	for (unsigned i = 0; i < 9; i++)
		put_le(b + 4 * i, 100 + i, 4);
	ref_field(m, 37, b, 36);
	put_le(b, 300, 8), put_le(b + 8, 400, 8);
	ref_field(m, 38, b, 16);
	memset(b, 0, sizeof(b));
	put_le(b, 1234000, 8), put_le(b + 8, 1, 4), put_le(b + 12, 0, 4), b[16] = 1, b[17] = 0;
	ref_field(m, 39, b, 20);
	memset(b, 0, sizeof(b));
	put_le(b, 2100000, 8), put_le(b + 8, 10000000, 8), b[16] = 8, b[17] = 0;
	ref_field(m, 40, b, 20);
	memset(b, 0, sizeof(b));
	put_le(b + 8, 50, 8), b[16] = 255, b[17] = 1;
	ref_field(m, 40, b, 20);
	ref_field(m, 41, "8DxLfD0Ch11F03", 14);
	ref_field(m, 42, "\x02\0\0\0rcpt:reply=550 5.1.1 x", 4 + 22);
}

static void test_reference(void)
{
	struct session_abort ab = { 1234000, 1, 0, false, SMTP_REASON_RSET };
	struct session_gap gp[2] = { { 2100000, 10000000, SMTP_VERB_RSET, false }, { 0, 50, SMTP_VERB_COUNT, true } };
	struct smtp_view msg = sv("8DxLfD0Ch11F03");
	struct session_fault rule = { sv("rcpt:reply=550 5.1.1 x"), 2 };
	struct session_report r;
	memset(&r, 0, sizeof(r));
	r.id = sv("8DxLfD0Ch01F03");
	r.connect_us = T0_US, r.end_us = T0_US + 5000000, r.shard = 3, r.node = 77;
	r.client_family = 4, r.client_port = 40000;
	memcpy(r.client_addr, "\x7f\0\0\x01", 4);
	r.helo = sv("h.example"), r.helo_verb = SMTP_VERB_EHLO;
	r.end_reason = SMTP_REASON_EOF, r.ended_by_client = true;
	r.quirks = SMTP_QUIRK_RSET_FOR_DATA | SMTP_QUIRK_CONTENT_BEFORE_354;
	r.verbs[SMTP_VERB_EHLO] = 1, r.verbs[SMTP_VERB_MAIL] = 2, r.verbs[SMTP_VERB_RSET] = 1;
	r.verbs[SMTP_VERB_QUIT] = 1;
	uint32_t *counts[9] = { &r.pipelined,	   &r.errors,	     &r.txn_completed, &r.txn_refused, &r.txn_aborted,
				&r.rcpts_accepted, &r.rcpts_refused, &r.faults,	       &r.gaps_total };
	for (unsigned i = 0; i < 9; i++)
		*counts[i] = 100 + i;
	r.bytes_in = 300, r.bytes_out = 400;
	r.aborts = &ab, r.abort_count = 1, r.gaps = gp, r.gap_count = 2, r.messages = &msg, r.message_count = 1;
	r.fault_rules = &rule, r.fault_rule_count = 1;
	struct bytes meta = { 0 }, want = { 0 };
	ref_small(&meta);
	ref_record(&meta, "", 0, SPOOL_FLAG_SESSION, 64, &want);
	size_t len;
	uint8_t *got = report_encode(&r, 64, &len);
	harness_check_mem(got, len, want.p, want.len, __FILE__, __LINE__, "session record equals the reference");
	static struct session_report_image img;
	struct guard g;
	CHECK(report_round_trip(&r, &g, &img));
	check_same(&r, &img.r, 1, 2, 1);
	CHECK_U64(img.r.fault_rule_count, 1);
	CHECK_U64(img.r.fault_rules[0].count, 2);
	CHECK_U64(session_report_faults_unnamed(&img.r), 107 - 2); /* faults is 107 */
	guard_free(&g);
	free(got);
	free(meta.p);
	free(want.p);
}

/* Decode a record made of raw meta with SPOOL_FLAG_SESSION (or flags).
 * The record is unmapped on return: img's views must not be read. */
static bool decode_meta(const struct bytes *meta, uint32_t flags, struct session_report_image *img)
{
	struct bytes rec = { 0 };
	ref_record(meta, "", 0, flags, 64, &rec);
	struct guard g;
	struct spool_record sr;
	uint8_t *p = guard_place(&g, rec.p, rec.len);
	bool ok = spool_record_decode(p, rec.len, &sr) == SPOOL_OK && session_report_decode(&sr, img);
	guard_free(&g);
	free(rec.p);
	return ok;
}

static void test_unknown_skipped(void)
{
	static struct session_report_image img;
	struct bytes m = { 0 };
	uint8_t b[20] = { 0 };
	ref_field(&m, 1, "8DxLfD0Ch01F03", 14);
	ref_field(&m, 200, "future", 6);
	ref_field(&m, 36, "\xc8\0\0\0\x05\0\0\0", 8); /* verb code 200: unknown, skipped */
	ref_field(&m, 36, "\x05\0\0\0\x07\0\0\0", 8); /* RCPT 7 */
	ref_field(&m, 33, "\xc8\0\0\0", 4); /* reason code 200: no name */
	ref_field(&m, 31, "", 0);
	b[16] = 200; /* a gap after a verb this reader does not know */
	ref_field(&m, 40, b, 20);
	ref_field(&m, 255, "x", 1);
	CHECK(decode_meta(&m, SPOOL_FLAG_SESSION, &img));
	CHECK_U64(img.r.verbs[SMTP_VERB_RCPT], 7);
	CHECK_U64(img.r.verbs[SMTP_VERB_UNKNOWN], 0);
	CHECK(session_reason_name(img.r.end_reason) == NULL);
	CHECK_U64(img.r.gap_count, 1);
	CHECK(session_verb_name(img.r.gaps[0].after_verb) == NULL);
	CHECK_U64(img.r.id.len, 14); /* its bytes were in the freed guard copy */
	free(m.p);
}

static void test_malformed(void)
{
	static struct session_report_image img;
	static const struct {
		uint8_t tag;
		size_t len;
	} bad[] = {
		{ 2, 7 },  { 2, 9 },   { 3, 3 },   { 13, 5 },  { 4, 19 },
		{ 4, 21 }, { 32, 4 },  { 33, 3 },  { 34, 0 },  { 34, 2 },
		{ 35, 8 }, { 36, 4 },  { 36, 12 }, { 37, 32 }, { 37, 40 },
		{ 38, 8 }, { 39, 19 }, { 39, 24 }, { 40, 16 }, { 40, 21 },
		{ 41, 0 }, { 41, 21 }, { 42, 0 },  { 42, 4 },  { 42, 4 + SESSION_REPORT_FAULT_TEXT_MAX + 1 },
	};
	static const uint8_t zeros[4 + SESSION_REPORT_FAULT_TEXT_MAX + 1];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bytes m = { 0 };
		ref_field(&m, 1, "8DxLfD0Ch01F03", 14);
		ref_field(&m, bad[i].tag, zeros, bad[i].len);
		if (decode_meta(&m, SPOOL_FLAG_SESSION, &img))
			CHECK(!"a bad field size was accepted");
		free(m.p);
	}
	struct bytes m = { 0 };
	ref_field(&m, 1, "8DxLfD0Ch01F03", 14);
	ref_field(&m, 41, "8DxLfD0Ch11F03", 14);
	CHECK(decode_meta(&m, SPOOL_FLAG_SESSION, &img));
	CHECK(!decode_meta(&m, 0, &img)); /* a message record is not a session */
	bytes_add(&m, "\x05\0\xff", 3); /* a field head cut short */
	CHECK(!decode_meta(&m, SPOOL_FLAG_SESSION, &img));
	m.len -= 3;
	bytes_add(&m, "\x05\0\x10\0abc", 7); /* a length past the meta */
	CHECK(!decode_meta(&m, SPOOL_FLAG_SESSION, &img));
	free(m.p);
}

/* n distinct named rules (texts i bytes long, the last one long_len),
 * each fired i + 1 times, plus extra unnamed firings. */
static void fault_round_trip(uint32_t n, size_t long_len, uint32_t extra)
{
	static char texts[SESSION_REPORT_FAULT_RULES_MAX + 1][SESSION_REPORT_FAULT_TEXT_MAX + 8];
	static struct session_fault rules[SESSION_REPORT_FAULT_RULES_MAX + 1];
	static struct session_report_image img;
	struct session_report r;
	report_basic(&r, "8DxLfD0Ch01F03");
	uint32_t total = extra;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = i + 1 == n ? long_len : 10 + i;
		memset(texts[i], 'a' + (int)(i % 26), len);
		memcpy(texts[i], "any:p=", 6);
		rules[i] = (struct session_fault){ smtp_view_make(texts[i], len), i + 1 };
		total += i + 1;
	}
	r.faults = total;
	r.fault_rules = rules, r.fault_rule_count = n;
	struct guard g;
	CHECK(report_round_trip(&r, &g, &img));
	uint32_t kept = n < SESSION_REPORT_FAULT_RULES_MAX ? n : SESSION_REPORT_FAULT_RULES_MAX;
	uint32_t named = 0;
	CHECK_U64(img.r.fault_rule_count, kept);
	for (uint32_t i = 0; i < kept && i < img.r.fault_rule_count; i++) {
		size_t want = rules[i].rule.len < SESSION_REPORT_FAULT_TEXT_MAX ? rules[i].rule.len :
										  SESSION_REPORT_FAULT_TEXT_MAX;
		CHECK_U64(img.r.fault_rules[i].count, i + 1);
		CHECK(img.r.fault_rules[i].rule.len == want &&
		      memcmp(img.r.fault_rules[i].rule.ptr, texts[i], want) == 0);
		named += i + 1;
	}
	CHECK_U64(img.r.faults, total);
	CHECK_U64(session_report_faults_unnamed(&img.r), total - named);
	guard_free(&g);
}

static void test_fault_rules(void)
{
	fault_round_trip(0, 0, 3); /* counted, none named: all unnamed */
	fault_round_trip(1, 1, 0); /* a one-byte text */
	fault_round_trip(SESSION_REPORT_FAULT_RULES_MAX - 1, SESSION_REPORT_FAULT_TEXT_MAX - 1, 0);
	fault_round_trip(SESSION_REPORT_FAULT_RULES_MAX, SESSION_REPORT_FAULT_TEXT_MAX, 5);
	/* one rule too many is left out (its firings unnamed); the last kept
	 * rule's text is cut to the maximum */
	fault_round_trip(SESSION_REPORT_FAULT_RULES_MAX + 1, SESSION_REPORT_FAULT_TEXT_MAX + 1, 0);
	{
		static char t[SESSION_REPORT_FAULT_TEXT_MAX + 1];
		static struct session_report_image img;
		struct session_fault one = { smtp_view_make(t, sizeof t), 1 };
		struct session_report r;
		report_basic(&r, "8DxLfD0Ch01F03");
		memset(t, 'x', sizeof t);
		r.faults = 1, r.fault_rules = &one, r.fault_rule_count = 1;
		struct guard g;
		CHECK(report_round_trip(&r, &g, &img));
		CHECK_U64(img.r.fault_rules[0].rule.len, SESSION_REPORT_FAULT_TEXT_MAX);
		guard_free(&g);
	}
	/* a report from before rules were named: only the count */
	static struct session_report_image img;
	struct bytes m = { 0 };
	uint8_t b[36] = { 0 };
	ref_field(&m, 1, "8DxLfD0Ch01F03", 14);
	put_le(b + 28, 9, 4); /* faults */
	ref_field(&m, 37, b, 36);
	CHECK(decode_meta(&m, SPOOL_FLAG_SESSION, &img));
	CHECK_U64(img.r.faults, 9);
	CHECK_U64(img.r.fault_rule_count, 0);
	CHECK_U64(session_report_faults_unnamed(&img.r), 9);
	free(m.p);
}

/* Who ended a session: the close event's reason, else the engine's. */
static void test_end(void)
{
	static const struct {
		bool closed;
		enum smtp_reason close, unclosed, want;
		bool by_client;
	} rows[] = {
		{ true, SMTP_REASON_QUIT, SMTP_REASON_NONE, SMTP_REASON_QUIT, true },
		{ true, SMTP_REASON_EOF, SMTP_REASON_NONE, SMTP_REASON_EOF, true },
		{ true, SMTP_REASON_TIMEOUT, SMTP_REASON_EOF, SMTP_REASON_TIMEOUT, false },
		{ true, SMTP_REASON_FAULT, SMTP_REASON_EOF, SMTP_REASON_FAULT, false },
		{ true, SMTP_REASON_SHUTDOWN, SMTP_REASON_NONE, SMTP_REASON_SHUTDOWN, false },
		{ true, SMTP_REASON_TOO_MANY_ERRORS, SMTP_REASON_NONE, SMTP_REASON_TOO_MANY_ERRORS, false },
		{ false, SMTP_REASON_QUIT, SMTP_REASON_EOF, SMTP_REASON_EOF, true },
		{ false, SMTP_REASON_QUIT, SMTP_REASON_NONE, SMTP_REASON_NONE, false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct session_end e = session_report_end(rows[i].closed, rows[i].close, rows[i].unclosed);
		CHECK_U64(e.reason, rows[i].want);
		CHECK(e.by_client == rows[i].by_client);
	}
}

static void test_names(void)
{
	const char *seen[SMTP_QUIRK_COUNT + SMTP_VERB_COUNT + 16];
	size_t n = 0;
	for (unsigned i = 0; i < SMTP_QUIRK_COUNT; i++) {
		const char *name = session_quirk_name(1u << i);
		CHECK(name != NULL);
		if (name) {
			CHECK_U64(session_quirk_parse(name), 1u << i);
			seen[n++] = name;
		}
	}
	CHECK(session_quirk_name(1u << SMTP_QUIRK_COUNT) == NULL && session_quirk_name(0) == NULL);
	CHECK(session_quirk_parse("no-such-quirk") == 0 && session_quirk_parse("") == 0);
	CHECK(session_quirk_parse("HELO-NO-NAME") == 0);
	CHECK_U64(session_quirk_parse("rset-for-data"), SMTP_QUIRK_RSET_FOR_DATA);
	CHECK_U64(session_quirk_parse("content-before-354"), SMTP_QUIRK_CONTENT_BEFORE_354);
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const char *name = session_verb_name((uint8_t)v);
		CHECK(name != NULL);
		if (name)
			seen[n++] = name;
	}
	CHECK(session_verb_name(SMTP_VERB_COUNT) == NULL);
	CHECK(strcmp(session_verb_name(SMTP_VERB_AUTH_RESPONSE), "AUTH-RESPONSE") == 0);
	CHECK(strcmp(session_verb_name(SMTP_VERB_MAIL), "MAIL") == 0);
	static const char *const reasons[] = {
		"none",	    "rset",    "helo",	  "quit",	"disconnect",	   "timeout",
		"shutdown", "too-big", "bare-lf", "bdat-error", "too-many-errors", "syntax",
		"sync",	    "fault",   "verdict"
	};
	for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		const char *name = session_reason_name((uint8_t)i);
		CHECK(name != NULL && strcmp(name, reasons[i]) == 0);
		seen[n++] = reasons[i];
	}
	CHECK(session_reason_name(SMTP_REASON_VERDICT + 1) == NULL);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			CHECK(strcmp(seen[i], seen[k]) != 0);
}

int main(void)
{
	test_full();
	test_empty();
	test_reference();
	test_unknown_skipped();
	test_malformed();
	test_names();
	test_fault_rules();
	test_end();
	return harness_finish("session_report");
}
