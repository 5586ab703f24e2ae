/*
 * tests/io/test_spool.c - the spool writer (io/spool.c, io/spool_files.c)
 * when every write and sync succeeds, driven through a fake backend
 * (spool_fake.h): the test decides when each completion arrives.
 *
 * Owns: group commit (the messages of one loop turn share one write and one
 * fdatasync; at most one batch in flight; the next batch fills meanwhile
 * and is submitted as soon as the previous one is durable; no 250 before
 * its batch's sync completed, and only with its record on disk); --sync
 * always (one message a batch) and --sync none (250 at once, a write with
 * no sync); the batch cap SPOOL_BATCH_MAX_MSGS at limit-1, limit and
 * limit+1, and the byte cap (a record over it alone); rotation when a
 * record does not fit (exactly fitting, one alignment unit short), a
 * record too big for any segment, a batch never spanning two segments
 * (--sync group and always), a next segment number already taken;
 * sealing (only once the segment's last batch is durable: cut to its used
 * length, an index of every record); session
 * records queued with nobody to answer; finding an open segment's message
 * by queue ID (a table built at the first lookup); the indexer's bell rung
 * after commits; retention (--spool-max-bytes at,
 * over and under its limit, the whole spool's limit kept by one shard
 * while the other stalls, --spool-max-age; never the open segment).  Every file is read back through
 * core's decoder.  Failures are in test_spool_fail.c.
 *
 * Workload: a few hundred small messages in temporary directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit_bell.h"
#include "session_harness.h"
#include "spool_fake.h"
#include "spool_files.h"

/* The synced_before field of message conn's record. */
static uint64_t synced_before(const struct spool_fake *f, unsigned conn)
{
	size_t len;
	uint8_t *img = fake_read(f, f->msgs[conn].segno, "seg", &len);
	struct spool_record rec = { 0 };
	if (img != NULL && f->msgs[conn].offset < len)
		spool_record_decode(img + f->msgs[conn].offset, len - f->msgs[conn].offset, &rec);
	free(img);
	return rec.synced_before;
}

/* One turn's messages share one write and one sync; the next batch fills
 * while it is in flight and goes as soon as it is durable. */
static void test_group_commit(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	uint64_t r = fake_record_len(FAKE_BODY);
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY),
		 c = fake_append_queued(f, FAKE_BODY);
	CHECK_U64(f->submitted, 0); /* nothing is written before the loop's turn */
	fake_tick(f);
	CHECK_U64(f->submitted, 1);
	CHECK_U64(f->last.count, 3);
	CHECK(f->last.fsync);
	CHECK_U64(f->last.segno, 1);
	CHECK_U64(f->last.offset, FAKE_HDR);
	CHECK_U64(f->last.bytes, 3 * r);
	CHECK_U64(f->last.iov_count, 9); /* head, body, tail each */
	CHECK_STR(f->last.first_qid, strlen(f->last.first_qid), f->msgs[a].qid);
	CHECK_STR(f->last.last_qid, strlen(f->last.last_qid), f->msgs[c].qid);

	unsigned d = fake_append_queued(f, FAKE_BODY), e = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	CHECK_U64(f->submitted, 1); /* one batch in flight at most */
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	CHECK_U64(f->verdict_count, 0); /* written, not yet synced: no 250 */
	fake_tick(f);
	CHECK_U64(f->submitted, 1); /* still in flight until its sync completes */
	fake_fsync_done(f, 0);
	CHECK_U64(f->verdict_count, 3);
	CHECK(f->verdict_count == 3 && f->verdicts[0].conn == a && f->verdicts[1].conn == b &&
	      f->verdicts[2].conn == c); /* in order */
	fake_expect_verdict(f, a, 250, NULL);
	fake_expect_verdict(f, b, 250, NULL);
	fake_expect_verdict(f, c, 250, NULL);
	CHECK_U64(f->submitted, 2); /* the next batch went at once */
	CHECK_U64(f->last.count, 2);
	CHECK_U64(f->last.offset, FAKE_HDR + 3 * r);
	fake_batch_ok(f);
	fake_expect_verdict(f, d, 250, NULL);
	fake_expect_verdict(f, e, 250, NULL);
	CHECK(spool_idle(&f->sh.spool));
	CHECK_U64(f->sh.spool.writes, 2);
	CHECK_U64(f->sh.spool.fsyncs, 2);

	/* synced_before: the durable offset when the record was laid out */
	unsigned g = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	fake_batch_ok(f);
	fake_expect_verdict(f, g, 250, NULL);
	CHECK_U64(synced_before(f, a), FAKE_HDR);
	CHECK_U64(synced_before(f, e), FAKE_HDR); /* laid out while the first batch was in flight */
	CHECK_U64(synced_before(f, g), FAKE_HDR + 5 * r);
	const char *q[] = { f->msgs[a].qid, f->msgs[b].qid, f->msgs[c].qid,
			    f->msgs[d].qid, f->msgs[e].qid, f->msgs[g].qid };
	fake_check_segment(f, 1, q, 6, false);
	fake_stop(f); /* a clean stop seals the open segment */
	fake_check_segment(f, 1, q, 6, true);
	fake_free(f);
}

/* --sync always: one message a batch, each answered after its own sync. */
static void test_sync_always(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_ALWAYS, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	unsigned m[3];
	for (unsigned i = 0; i < 3; i++)
		m[i] = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_U64(f->submitted, i + 1);
		CHECK_U64(f->last.count, 1);
		CHECK(f->last.fsync);
		CHECK_STR(f->last.first_qid, strlen(f->last.first_qid), f->msgs[m[i]].qid);
		CHECK_U64(f->verdict_count, i);
		fake_batch_ok(f);
		fake_expect_verdict(f, m[i], 250, NULL);
	}
	CHECK_U64(f->submitted, 3);
	CHECK_U64(f->sh.spool.fsyncs, 3);
	CHECK(spool_idle(&f->sh.spool));
	const char *q[] = { f->msgs[m[0]].qid, f->msgs[m[1]].qid, f->msgs[m[2]].qid };
	fake_check_segment(f, 1, q, 3, false);
	fake_free(f);
}

/* --sync none: 250 once queued, then a write and no sync; the spool keeps
 * the message until the write is done and answers nobody. */
static void test_sync_none(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_NONE, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	unsigned m[3];
	for (unsigned i = 0; i < 3; i++) {
		struct spool_answer ans;
		bool decided = false;
		m[i] = fake_append(f, FAKE_BODY, &ans, &decided);
		CHECK(decided);
		CHECK_U64(ans.code, 250);
		CHECK_U64(strlen(ans.qid), QUEUE_ID_LEN);
	}
	CHECK(!spool_idle(&f->sh.spool)); /* queued, not yet written */
	fake_tick(f);
	CHECK_U64(f->submitted, 1);
	CHECK_U64(f->last.count, 3);
	CHECK(!f->last.fsync);
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	CHECK(spool_idle(&f->sh.spool));
	CHECK_U64(f->sh.spool.fsyncs, 0);
	CHECK_U64(f->verdict_count, 0); /* already answered */
	const char *q[] = { f->msgs[m[0]].qid, f->msgs[m[1]].qid, f->msgs[m[2]].qid };
	fake_check_segment(f, 1, q, 3, false);
	fake_free(f);
}

/* n messages in one turn: batches of at most SPOOL_BATCH_MAX_MSGS; a
 * message without a body takes two iovecs, one with a body three. */
static void batch_cap_case(unsigned n)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	const char **q = calloc(n, sizeof *q);
	if (q == NULL)
		abort();
	uint32_t iovs = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned c = fake_append_queued(f, i % 2 ? 16 : 0);
		q[i] = f->msgs[c].qid;
		if (i < SPOOL_BATCH_MAX_MSGS)
			iovs += i % 2 ? 3 : 2;
	}
	uint32_t first = n < SPOOL_BATCH_MAX_MSGS ? n : SPOOL_BATCH_MAX_MSGS;
	fake_tick(f);
	CHECK_U64(f->submitted, 1);
	CHECK_U64(f->last.count, first);
	CHECK_U64(f->last.iov_count, iovs);
	fake_batch_ok(f);
	CHECK_U64(f->verdict_count, first);
	if (n > SPOOL_BATCH_MAX_MSGS) {
		CHECK_U64(f->submitted, 2);
		CHECK_U64(f->last.count, n - SPOOL_BATCH_MAX_MSGS);
		fake_batch_ok(f);
	}
	CHECK_U64(f->submitted, n > SPOOL_BATCH_MAX_MSGS ? 2 : 1);
	CHECK_U64(f->verdict_count, n);
	unsigned ok = 0;
	for (unsigned i = 0; i < f->verdict_count; i++)
		ok += f->verdicts[i].code == 250 && f->verdicts[i].conn == i;
	CHECK_U64(ok, n);
	fake_check_segment(f, 1, q, n, false);
	free(q);
	fake_free(f);
}

/* The byte cap (lowered here from SPOOL_BATCH_MAX_BYTES): a batch stops
 * before the record that would pass it, and a record bigger than the cap
 * goes alone. */
static void batch_bytes_case(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	uint64_t r = fake_record_len(FAKE_BODY);
	f->sh.spool.batch_max_bytes = 2 * r + r / 2;
	size_t bodies[] = { FAKE_BODY, FAKE_BODY, FAKE_BODY, 16 * FAKE_BODY, FAKE_BODY }; /* the 4th: over the cap */
	uint32_t want[] = { 2, 1, 1, 1 };
	const char *q[5];
	for (unsigned i = 0; i < 5; i++)
		q[i] = f->msgs[fake_append_queued(f, bodies[i])].qid;
	CHECK(fake_record_len(16 * FAKE_BODY) > f->sh.spool.batch_max_bytes);
	fake_tick(f);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_U64(f->last.count, want[i]);
		CHECK(f->last.bytes <= f->sh.spool.batch_max_bytes || f->last.count == 1);
		fake_batch_ok(f);
	}
	CHECK_U64(f->submitted, 4);
	CHECK_U64(f->verdict_count, 5);
	fake_check_segment(f, 1, q, 5, false);
	fake_free(f);
}

static void test_batch_cap(void)
{
	batch_cap_case(SPOOL_BATCH_MAX_MSGS - 1);
	batch_cap_case(SPOOL_BATCH_MAX_MSGS);
	batch_cap_case(SPOOL_BATCH_MAX_MSGS + 1);
	batch_bytes_case();
}

/* A segment with room for `fit` records of FAKE_BODY bytes plus slack_bytes:
 * fit + 1 messages in one turn; the last does not fit and rotates to
 * segment 2, which the first batch never reaches; segment 1 is sealed only
 * once its last batch is durable, cut to its used length. */
static void rotation_case(unsigned fit, uint64_t slack_bytes)
{
	uint64_t r = fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_HDR + fit * r + slack_bytes);
	if (f == NULL)
		return;
	const char *q[4];
	unsigned m[4], n = fit + 1;
	for (unsigned i = 0; i < n; i++) {
		m[i] = fake_append_queued(f, FAKE_BODY);
		q[i] = f->msgs[m[i]].qid;
		CHECK_U64(f->msgs[m[i]].segno, i < fit ? 1 : 2);
	}
	CHECK_U64(f->sh.spool.segno, 2);
	fake_tick(f);
	CHECK_U64(f->last.segno, 1);
	CHECK_U64(f->last.count, fit);
	CHECK(!fake_exists(f, 1, "idx")); /* its last batch is not durable yet */
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	CHECK(!fake_exists(f, 1, "idx"));
	fake_fsync_done(f, 0);
	fake_check_segment(f, 1, q, fit, true);
	CHECK_U64(f->last.segno, 2); /* the next segment's batch went at once */
	CHECK_U64(f->last.offset, FAKE_HDR);
	CHECK_U64(f->last.count, 1);
	fake_batch_ok(f);
	for (unsigned i = 0; i < n; i++)
		fake_expect_verdict(f, m[i], 250, NULL);
	fake_check_segment(f, 2, q + fit, 1, false);
	fake_free(f);
}

static void test_rotation(void)
{
	rotation_case(2, 0); /* the second record fills the segment exactly */
	rotation_case(2, SPOOL_RECORD_ALIGN); /* room left, not enough for a third */
	rotation_case(3, fake_record_len(FAKE_BODY) - SPOOL_RECORD_ALIGN); /* one unit short of four */
}

/* --sync always across a rotation: the full segment is sealed after its
 * last message's own batch, not after the first one's. */
static void test_rotation_always(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_ALWAYS, FAKE_HDR + 2 * fake_record_len(FAKE_BODY));
	if (f == NULL)
		return;
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY),
		 c = fake_append_queued(f, FAKE_BODY);
	CHECK_U64(f->msgs[c].segno, 2);
	fake_tick(f);
	fake_batch_ok(f);
	fake_expect_verdict(f, a, 250, NULL);
	CHECK_U64(f->last.segno, 1);
	CHECK_STR(f->last.first_qid, strlen(f->last.first_qid), f->msgs[b].qid);
	CHECK(!fake_exists(f, 1, "idx")); /* b is still to be written into it */
	fake_batch_ok(f);
	fake_expect_verdict(f, b, 250, NULL);
	const char *q[] = { f->msgs[a].qid, f->msgs[b].qid, f->msgs[c].qid };
	fake_check_segment(f, 1, q, 2, true);
	CHECK_U64(f->last.segno, 2);
	fake_batch_ok(f);
	fake_expect_verdict(f, c, 250, NULL);
	fake_check_segment(f, 2, q + 2, 1, false);
	fake_free(f);
}

/* A record bigger than an empty segment is refused at once (451), without
 * rotating, and the spool stays up. */
static void test_record_too_big(void)
{
	uint64_t seg_size = FAKE_HDR + fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, seg_size);
	if (f == NULL)
		return;
	struct spool_answer ans;
	bool decided = false;
	fake_append(f, FAKE_BODY + SPOOL_RECORD_ALIGN, &ans, &decided);
	CHECK(decided);
	CHECK_U64(ans.code, 451);
	CHECK(ans.text != NULL && strncmp(ans.text, "4.3.0", 5) == 0);
	CHECK(spool_idle(&f->sh.spool));
	CHECK(spool_ready(&f->sh.spool));
	CHECK_U64(f->sh.spool.segno, 1);
	unsigned a = fake_append_queued(f, FAKE_BODY); /* exactly fits the empty segment */
	fake_tick(f);
	fake_batch_ok(f);
	fake_expect_verdict(f, a, 250, NULL);
	const char *q[] = { f->msgs[a].qid };
	fake_check_segment(f, 1, q, 1, false);
	fake_free(f);
}

/* A session's report is queued like a message, written in the same batch,
 * and answered to nobody; the sealed index sorts it by its ID (taken at
 * connect, so older than the session's messages though written after). */
static void test_session_records(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	char sid[QUEUE_ID_LEN + 1];
	fake_new_sid(f, sid);
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, 0);
	CHECK(fake_session(f, sid));
	fake_tick(f);
	CHECK_U64(f->last.count, 3);
	CHECK_STR(f->last.last_qid, strlen(f->last.last_qid), sid);
	CHECK_U64(f->last.iov_count, 3 + 2 + 2); /* the report has no body */
	fake_batch_ok(f);
	CHECK_U64(f->verdict_count, 2);
	fake_expect_verdict(f, a, 250, NULL);
	fake_expect_verdict(f, b, 250, NULL);
	CHECK(spool_idle(&f->sh.spool));
	const char *q[] = { f->msgs[a].qid, f->msgs[b].qid, sid };
	CHECK(strcmp(sid, q[0]) < 0); /* the index must reorder it */
	fake_check_segment(f, 1, q, 3, false);
	fake_stop(f);
	fake_check_segment(f, 1, q, 3, true);
	fake_free(f);
}

/* Seven messages, each turn written and synced, under these retention
 * limits (as spool_open() sets them from the options): segments 1-3
 * sealed with two records each, segment 4 open with one. */
static struct spool_fake *four_segments(const char *test, const char **q, uint64_t max_bytes, uint64_t max_age_s)
{
	struct spool_fake *f = fake_new(test, SPOOL_SYNC_GROUP, FAKE_HDR + 2 * fake_record_len(FAKE_BODY));
	if (f == NULL)
		return NULL;
	f->sh.spool.max_bytes = max_bytes;
	f->sh.spool.max_age_s = max_age_s;
	for (unsigned i = 0; i < 7; i++) {
		unsigned c = fake_append_queued(f, FAKE_BODY);
		q[i] = f->msgs[c].qid;
		fake_tick(f);
		fake_batch_ok(f);
	}
	return f;
}

/* --spool-max-bytes: past it, the oldest sealed segments go (segment and
 * index), never the open one, as soon as a segment is sealed (or a new one
 * begins): what counts is what the spool takes on disk, the open segment
 * as preallocated (here its whole --segment-size: two records' worth, as
 * much as a sealed one).  At the limit nothing more goes.  The limit is
 * one segment under the total, less over_bytes. */
static void retention_bytes_case(int64_t over_bytes, unsigned gone)
{
	uint64_t r = fake_record_len(FAKE_BODY), sealed_bytes = FAKE_HDR + 2 * r;
	uint64_t total = 4 * sealed_bytes; /* 1-3 sealed, 4 open and preallocated */
	const char *q[7];
	struct spool_fake *f = four_segments(__func__, q, total - sealed_bytes - (uint64_t)over_bytes, 0);
	if (f == NULL)
		return;
	CHECK_U64(f->sh.spool.write_off, FAKE_HDR + r);
	CHECK_U64(f->sh.spool.seg_alloc, sealed_bytes);
	for (unsigned s = 1; s <= 3; s++) { /* no second had to pass */
		CHECK(fake_exists(f, s, "seg") == (s > gone));
		CHECK(fake_exists(f, s, "idx") == (s > gone));
		if (s > gone)
			fake_check_segment(f, s, q + 2 * (s - 1), 2, true);
	}
	fake_check_segment(f, 4, q + 6, 1, false);
	fake_advance_s(f); /* a second later: nothing more */
	fake_tick(f);
	CHECK(fake_exists(f, gone + 1, "seg"));
	fake_free(f);
}

/* --spool-max-age: sealed segments older than it go; the open one stays,
 * however old. */
static void test_retention_age(void)
{
	const char *q[7];
	struct spool_fake *f = four_segments(__func__, q, 0, 2);
	if (f == NULL)
		return;
	fake_advance_s(f);
	fake_tick(f);
	CHECK(fake_exists(f, 1, "seg")); /* a second old */
	fake_advance_s(f);
	fake_advance_s(f);
	fake_tick(f);
	for (unsigned s = 1; s <= 3; s++)
		CHECK(!fake_exists(f, s, "seg") && !fake_exists(f, s, "idx"));
	fake_check_segment(f, 4, q + 6, 1, false);
	fake_free(f);
}

/* A segment is preallocated a step at a time as it fills, up to
 * --segment-size: it starts at SPOOL_SEGMENT_STEP_BYTES (a small disk
 * holds a spool), appends within it change no file size, and a record
 * past it grows it (doubling) before the record's write. */
static void test_segment_grows(void)
{
	enum {
		BODY = 200 * 1024,
		RECORDS = 48
	}; /* under a capture chunk: nothing spills */
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, 64u << 20);
	if (f == NULL)
		return;
	char path[sizeof f->dir + 32];
	snprintf(path, sizeof path, "%s/%08u.seg", f->dir, 1u);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == SPOOL_SEGMENT_STEP_BYTES);
	const char *q[RECORDS];
	uint64_t r = fake_record_len(BODY);
	for (unsigned i = 0; i < RECORDS; i++) {
		unsigned c = fake_append_queued(f, BODY);
		q[i] = f->msgs[c].qid;
		fake_tick(f);
		fake_batch_ok(f);
		CHECK(stat(path, &st) == 0);
		uint64_t size = (uint64_t)st.st_size, end = FAKE_HDR + (i + 1) * r;
		CHECK(size >= end); /* never written past its allocation */
		/* the first step while it holds them, then doubled */
		CHECK_U64(size,
			  end <= SPOOL_SEGMENT_STEP_BYTES ? SPOOL_SEGMENT_STEP_BYTES : 2 * SPOOL_SEGMENT_STEP_BYTES);
	}
	fake_check_segment(f, 1, q, RECORDS, false);
	fake_free(f);
}

/* --spool-max-bytes of the whole spool, two shards: each deletes only its
 * own segments, and only when its oldest is the spool's oldest, so the
 * segments go oldest first across both, until the whole spool fits.
 * Shard 0 made segments at t = 1, 3, 5, 7 s and shard 1 at 2, 4, 6, 8 s,
 * 10 bytes each, nothing open; the limit is 50. */
static void retire_dir_free(const char *dir, struct spool *sp)
{
	for (unsigned k = 0; k < 2; k++) {
		free(sp[k].sealed);
		close(sp[k].dir_fd);
	}
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void retention_whole_spool(bool stalled)
{
	char dir[] = "/tmp/smtpsink-retire-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static struct spool_usage usage[2];
	struct spool sp[2];
	for (unsigned k = 0; k < 2; k++) {
		memset(&sp[k], 0, sizeof sp[k]);
		sp[k].dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
		sp[k].shard = k;
		sp[k].max_bytes = 50;
		sp[k].seg_size = sp[k].seg_min = stalled ? 10 : 1u << 20;
		spool_share_usage(&sp[k], usage, 2);
		for (unsigned i = 0; i < 4; i++) {
			uint64_t segno = 10 * k + i + 1; /* distinct names in one directory */
			char name[SPOOL_FILES_NAME_BYTES];
			spool_files_name(name, segno, "seg");
			close(openat(sp[k].dir_fd, name, O_CREAT | O_WRONLY, 0600));
			spool_files_add_sealed(&sp[k], segno, 10, (uint64_t)(2 * i + k + 1) * 1000000u);
		}
	}
	if (stalled) { /* shard 0 holds the oldest and stops running: shard 1 keeps the limit */
		spool_files_retire(&sp[0], 100000000u, 0, 0, 0); /* its last turn: usage published */
		for (int turn = 0; turn < 4; turn++)
			spool_files_retire(&sp[1], 100000000u, 50, 0, 0);
		/* 80 bytes: over by more than a segment (10) until 60 */
		CHECK_U64(sp[0].sealed_count, 4);
		CHECK_U64(sp[1].sealed_count, 2);
		CHECK_U64(sp[1].sealed[0].created_us, 6000000u);
		CHECK(sp[1].over_bytes);
		retire_dir_free(dir, sp);
		return;
	}
	for (int turn = 0; turn < 8; turn++) /* the shards' loop turns, alternating */
		spool_files_retire(&sp[turn % 2], 100000000u, 50, 0, 0);
	/* 80 bytes, 50 allowed: the three oldest of the spool went (t = 1, 2, 3) */
	uint64_t left[2] = { sp[0].sealed_count, sp[1].sealed_count };
	CHECK_U64(left[0] + left[1], 5);
	CHECK_U64(sp[0].sealed[0].created_us, 5000000u);
	CHECK_U64(sp[1].sealed[0].created_us, 4000000u);
	CHECK(!sp[0].over_bytes && !sp[1].over_bytes);
	char name[SPOOL_FILES_NAME_BYTES];
	spool_files_name(name, 1, "seg");
	CHECK(faccessat(sp[0].dir_fd, name, F_OK, 0) != 0);
	spool_files_name(name, 12, "seg");
	CHECK(faccessat(sp[1].dir_fd, name, F_OK, 0) == 0);
	retire_dir_free(dir, sp);
}

/* The index's bytes count with the segments (one shard, 4 sealed
 * segments of 10 bytes, 50 allowed): at index + segments = 49, 50 and 51,
 * and with an index that alone takes most of the limit. */
static void retention_with_index(uint64_t index_bytes, uint32_t gone)
{
	char dir[] = "/tmp/smtpsink-retire-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct spool sp[2];
	memset(sp, 0, sizeof sp);
	sp[1].dir_fd = open("/", O_RDONLY | O_DIRECTORY); /* retire_dir_free closes both */
	sp[0].dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	sp[0].seg_fd = -1;
	sp[0].max_bytes = 50;
	for (unsigned i = 0; i < 4; i++) {
		char name[SPOOL_FILES_NAME_BYTES];
		spool_files_name(name, i + 1, "seg");
		close(openat(sp[0].dir_fd, name, O_CREAT | O_WRONLY, 0600));
		spool_files_add_sealed(&sp[0], i + 1, 10, (uint64_t)(i + 1) * 1000000u);
	}
	CHECK_U64(spool_files_retire(&sp[0], 100000000u, 50, 0, index_bytes), gone);
	CHECK_U64(sp[0].sealed_count, 4 - gone);
	CHECK(!sp[0].over_bytes || gone == 4);
	retire_dir_free(dir, sp);
}

static void test_retention_counts_index(void)
{
	retention_with_index(9, 0);
	retention_with_index(10, 0);
	retention_with_index(11, 1);
	retention_with_index(35, 3); /* 40 + 35: 25 over, three segments */
	retention_with_index(60, 4); /* the index alone is over: every sealed segment goes */
}

static void test_retention_whole_spool(void)
{
	retention_whole_spool(false);
	retention_whole_spool(true);
}

static void test_retention(void)
{
	retention_bytes_case(-1, 1); /* under the limit once segment 1 is gone */
	retention_bytes_case(0, 1); /* exactly at it */
	retention_bytes_case(1, 2); /* a byte over it: segment 2 goes too */
	test_retention_age();
}

/* The next segment's number is taken (a file put there, or a segment an
 * I/O error left behind at start-up): the spool passes over it instead of
 * trying it for ever, and leaves the file alone. */
static void test_segment_number_taken(void)
{
	uint64_t r = fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_HDR + r);
	if (f == NULL)
		return;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/00000002.seg", f->dir);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	CHECK(fd >= 0 && write(fd, "planted", 7) == 7);
	close(fd);
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY);
	CHECK_U64(f->msgs[a].segno, 1);
	CHECK_U64(f->msgs[b].segno, 3);
	while (f->inflight != NULL || !spool_idle(&f->sh.spool)) {
		fake_tick(f);
		fake_batch_ok(f);
	}
	fake_expect_verdict(f, a, 250, NULL);
	fake_expect_verdict(f, b, 250, NULL);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 7);
	fake_free(f);
}

/* Finding a message of the open segment by queue ID: the table is built
 * at the first lookup (not on the hot path), then kept up to date; a
 * rotation leaves only the new segment's messages in it. */
static void test_find_open(void)
{
	uint64_t r = fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_HDR + 40 * r);
	if (f == NULL)
		return;
	unsigned m[50];
	for (unsigned i = 0; i < 30; i++)
		m[i] = fake_append_queued(f, FAKE_BODY);
	CHECK(!f->sh.spool.table_live);
	struct spool *sp = &f->sh.spool;
	for (unsigned i = 0; i < 30; i++) {
		const struct spool_index_entry *e = spool_find_open(sp, f->msgs[m[i]].qid, QUEUE_ID_LEN);
		CHECK(e != NULL && e->offset == f->msgs[m[i]].offset && e->record_len == f->msgs[m[i]].record_len);
	}
	CHECK(sp->table_live);
	CHECK(spool_find_open(sp, "00000000000000", QUEUE_ID_LEN) == NULL);
	CHECK(spool_find_open(sp, f->msgs[m[0]].qid, QUEUE_ID_LEN - 1) == NULL);
	for (unsigned i = 30; i < 50; i++) /* the 41st rotates */
		m[i] = fake_append_queued(f, FAKE_BODY);
	CHECK_U64(sp->segno, 2);
	for (unsigned i = 0; i < 50; i++) {
		const struct spool_index_entry *e = spool_find_open(sp, f->msgs[m[i]].qid, QUEUE_ID_LEN);
		if (f->msgs[m[i]].segno == 2)
			CHECK(e != NULL && e->offset == f->msgs[m[i]].offset);
		else
			CHECK(e == NULL); /* sealed: found through its .idx */
	}
	while (f->inflight != NULL || !spool_idle(sp)) {
		fake_tick(f);
		fake_batch_ok(f);
	}
	fake_free(f);
}

/* The indexer's bell (io/commit_bell.h) rings after 250s, never before the
 * sync, once per arming however many batches commit, never unarmed, and
 * not for a failed batch. */
static void test_commit_bell(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	struct commit_bell bell = { .fd = eventfd(0, EFD_NONBLOCK) };
	CHECK(bell.fd >= 0);
	atomic_store(&f->shared.bell, &bell);
	uint64_t n = 0;
	commit_bell_arm(&bell);
	fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	CHECK(read(bell.fd, &n, sizeof n) < 0 && errno == EAGAIN); /* written, not durable: silent */
	fake_fsync_done(f, 0);
	CHECK(read(bell.fd, &n, sizeof n) == sizeof n && n == 1);
	fake_append_queued(f, FAKE_BODY); /* not armed again: no write */
	fake_tick(f);
	fake_batch_ok(f);
	CHECK(read(bell.fd, &n, sizeof n) < 0 && errno == EAGAIN);
	commit_bell_arm(&bell); /* two batches after one arming: one write */
	for (int i = 0; i < 2; i++) {
		fake_append_queued(f, FAKE_BODY);
		fake_tick(f);
		fake_batch_ok(f);
	}
	CHECK(read(bell.fd, &n, sizeof n) == sizeof n && n == 1);
	commit_bell_arm(&bell); /* a failed batch answers 451: silent, still armed */
	fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	fake_write_done(f, FAKE_WRITE_ERROR, -EIO);
	fake_fsync_done(f, -ECANCELED);
	CHECK(read(bell.fd, &n, sizeof n) < 0 && errno == EAGAIN);
	CHECK(atomic_load(&bell.armed));
	commit_bell_ring(NULL); /* no listener */
	atomic_store(&f->shared.bell, NULL);
	fake_free(f);
	close(bell.fd);
}

int main(void)
{
	test_group_commit();
	test_sync_always();
	test_sync_none();
	test_batch_cap();
	test_rotation();
	test_rotation_always();
	test_record_too_big();
	test_session_records();
	test_retention();
	test_retention_whole_spool();
	test_retention_counts_index();
	test_segment_grows();
	test_find_open();
	test_segment_number_taken();
	test_commit_bell();
	return harness_finish("spool");
}
