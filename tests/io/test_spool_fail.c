/*
 * tests/io/test_spool_fail.c - the spool writer (io/spool.c,
 * io/spool_files.c) when a write or a sync fails, and when no segment can
 * be created, driven through a fake backend (spool_fake.h).
 *
 * Owns: a failed write (EIO, ENOSPC, EDQUOT), a short write and a failed
 * sync (EIO, ENOSPC, EDQUOT) poison their segment: every message queued
 * for it, in the failed batch or behind it, gets 451 4.3.0 (452 4.3.1 for
 * ENOSPC/EDQUOT) and never 250 (--sync group and always; under --sync none
 * they were answered when queued); a session record among them is answered
 * to nobody and not kept; the segment is cut where the failure began (what
 * was durable before stays, with its index) and sealed; a new segment takes
 * the next messages. A failure in a segment already rotated away fails
 * only that segment's messages and cuts that segment.  When no segment can be
 * created (after a failure, or at rotation) the spool is down: messages get
 * 452 4.3.1 at once (451 for the one whose rotation failed), session records
 * are not kept, and the spool comes back on the retry, at most once a second.
 * Every file is read back through core's decoder.
 *
 * "No segment can be created" is made real, not simulated: a directory in
 * the place of the next segment's name makes its O_EXCL create fail
 * (EEXIST), whatever the test's privileges.
 *
 * Workload: a few dozen small messages in temporary directories.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session_harness.h"
#include "spool_fake.h"

#define TEXT_451 "4.3.0 Error: queue file write error"
#define TEXT_452 "4.3.1 Insufficient system storage"

/* Put a directory where segment segno's file would be created. */
static void block_segment(const struct spool_fake *f, uint64_t segno)
{
	char path[sizeof f->dir + 32];
	snprintf(path, sizeof path, "%s/%08llu.seg", f->dir, (unsigned long long)segno);
	CHECK(mkdir(path, 0700) == 0);
}

static void unblock_segment(const struct spool_fake *f, uint64_t segno)
{
	char path[sizeof f->dir + 32];
	snprintf(path, sizeof path, "%s/%08llu.seg", f->dir, (unsigned long long)segno);
	CHECK(rmdir(path) == 0);
}

/* No new segment can be made: every name the spool would try next (it
 * passes over a taken one, SPOOL_SEGMENT_NAME_TRIES of them) is taken. */
static void block_new_segments(const struct spool_fake *f, bool blocked)
{
	for (uint64_t n = 1; n <= SPOOL_SEGMENT_NAME_TRIES; n++)
		(blocked ? block_segment : unblock_segment)(f, f->sh.spool.segno + n);
}

/* One message, written and synced: 250. */
static unsigned durable_message(struct spool_fake *f)
{
	unsigned c = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	fake_batch_ok(f);
	fake_expect_verdict(f, c, 250, NULL);
	return c;
}

struct poison_case {
	const char *name;
	enum fake_write write;
	int write_err; /* FAKE_WRITE_ERROR */
	int fsync_err; /* -ECANCELED after a failed or short write */
	uint16_t code;
	const char *text;
};

static const struct poison_case poison_cases[] = {
	{ "write EIO", FAKE_WRITE_ERROR, -EIO, -ECANCELED, 451, TEXT_451 },
	{ "write ENOSPC", FAKE_WRITE_ERROR, -ENOSPC, -ECANCELED, 452, TEXT_452 },
	{ "write EDQUOT", FAKE_WRITE_ERROR, -EDQUOT, -ECANCELED, 452, TEXT_452 },
	{ "short write", FAKE_WRITE_SHORT, 0, -ECANCELED, 451, TEXT_451 },
	{ "sync EIO", FAKE_WRITE_FULL, 0, -EIO, 451, TEXT_451 },
	{ "sync ENOSPC", FAKE_WRITE_FULL, 0, -ENOSPC, 452, TEXT_452 },
	{ "sync EDQUOT", FAKE_WRITE_FULL, 0, -EDQUOT, 452, TEXT_452 },
};

/* A durable message x; then batch {a, b} fails while c, d and a session
 * record wait behind it for the same segment. */
static void poison_case(const struct poison_case *pc)
{
	fprintf(stderr, "-- poison: %s\n", pc->name);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	uint64_t r = fake_record_len(FAKE_BODY);
	unsigned x = durable_message(f);
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	CHECK_U64(f->last.count, 2);
	char sid[QUEUE_ID_LEN + 1];
	fake_new_sid(f, sid);
	unsigned c = fake_append_queued(f, FAKE_BODY), d = fake_append_queued(f, FAKE_BODY);
	CHECK(fake_session(f, sid));
	fake_write_done(f, pc->write, pc->write_err);
	CHECK_U64(f->verdict_count, 1); /* x only: the sync's completion is still to come */
	fake_fsync_done(f, pc->fsync_err);
	unsigned msgs[] = { a, b, c, d };
	for (unsigned i = 0; i < 4; i++)
		fake_expect_verdict(f, msgs[i], pc->code, pc->text);
	CHECK_U64(f->verdict_count, 5); /* nobody answered for the session */
	CHECK_U64(f->sh.spool.errors, 1);
	CHECK(spool_idle(&f->sh.spool)); /* nothing of segment 1 is left queued */
	const char *q1[] = { f->msgs[x].qid };
	fake_check_segment(f, 1, q1, 1, true); /* cut at FAKE_HDR + r: a and b's bytes are gone */
	CHECK_U64(f->msgs[a].offset, FAKE_HDR + r);
	CHECK(spool_ready(&f->sh.spool));
	CHECK_U64(f->sh.spool.segno, 2);
	unsigned e = durable_message(f);
	CHECK_U64(f->msgs[e].segno, 2);
	CHECK_U64(f->msgs[e].offset, FAKE_HDR);
	const char *q2[] = { f->msgs[e].qid };
	fake_check_segment(f, 2, q2, 1, false);
	fake_free(f);
}

static void test_poison(void)
{
	for (size_t i = 0; i < sizeof poison_cases / sizeof poison_cases[0]; i++)
		poison_case(&poison_cases[i]);
}

/* --sync always: each batch is one message; the first one's failure fails
 * the ones queued behind it for the same segment too. */
static void test_poison_always(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_ALWAYS, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY),
		 c = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	CHECK_U64(f->last.count, 1);
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	fake_fsync_done(f, -EIO);
	fake_expect_verdict(f, a, 451, TEXT_451);
	fake_expect_verdict(f, b, 451, TEXT_451);
	fake_expect_verdict(f, c, 451, TEXT_451);
	CHECK_U64(f->submitted, 1); /* b and c were never written */
	fake_check_segment(f, 1, NULL, 0, true);
	unsigned d = durable_message(f);
	CHECK_U64(f->msgs[d].segno, 2);
	fake_free(f);
}

/* A message under --sync none: answered 250 when queued. */
static unsigned answered_message(struct spool_fake *f)
{
	struct spool_answer ans;
	bool decided = false;
	unsigned c = fake_append(f, FAKE_BODY, &ans, &decided);
	CHECK(decided && ans.code == 250);
	return c;
}

/* --sync none: the messages were answered when queued (a lost write loses
 * them, as documented), but a short write still poisons the segment: cut
 * after what was written whole, sealed, a new one opened. */
static void test_poison_none(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_NONE, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	unsigned x = answered_message(f);
	fake_tick(f);
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	answered_message(f);
	answered_message(f);
	fake_tick(f);
	fake_write_done(f, FAKE_WRITE_SHORT, 0);
	CHECK_U64(f->verdict_count, 0);
	CHECK_U64(f->sh.spool.errors, 1);
	const char *q1[] = { f->msgs[x].qid };
	fake_check_segment(f, 1, q1, 1, true);
	CHECK_U64(f->sh.spool.segno, 2);
	CHECK(spool_ready(&f->sh.spool));
	fake_free(f);
}

/* The failed batch is the last of a segment already rotated away: only its
 * messages fail; the next segment's go on; the old segment is cut where
 * the failure began, not where its records would have ended. */
static void test_poison_rotated(void)
{
	uint64_t r = fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_HDR + 3 * r);
	if (f == NULL)
		return;
	unsigned x = durable_message(f);
	unsigned a = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	unsigned b = fake_append_queued(f, FAKE_BODY), c = fake_append_queued(f, FAKE_BODY);
	CHECK_U64(f->msgs[b].segno, 1);
	CHECK_U64(f->msgs[c].segno, 2); /* rotated while a is in flight */
	fake_write_done(f, FAKE_WRITE_ERROR, -EIO);
	fake_fsync_done(f, -ECANCELED);
	fake_expect_verdict(f, a, 451, TEXT_451);
	fake_expect_verdict(f, b, 451, TEXT_451);
	CHECK_U64(fake_verdicts_for(f, c, &(struct fake_verdict){ 0 }), 0);
	CHECK_U64(f->last.segno, 2); /* c's batch went at once */
	fake_batch_ok(f);
	fake_expect_verdict(f, c, 250, NULL);
	const char *q1[] = { f->msgs[x].qid }, *q2[] = { f->msgs[c].qid };
	fake_check_segment(f, 1, q1, 1, true);
	fake_check_segment(f, 2, q2, 1, false);
	CHECK_U64(f->sh.spool.segno, 2); /* no segment was opened for the failure */
	fake_free(f);
}

/* A failure and no segment to go to: the spool is down until a retry, at
 * most once a second, creates one. */
static void test_down_after_failure(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	unsigned x = durable_message(f);
	block_new_segments(f, true);
	unsigned a = fake_append_queued(f, FAKE_BODY);
	fake_tick(f);
	fake_write_done(f, FAKE_WRITE_ERROR, -EIO);
	fake_fsync_done(f, -ECANCELED);
	fake_expect_verdict(f, a, 451, TEXT_451);
	CHECK(!spool_ready(&f->sh.spool));
	const char *q1[] = { f->msgs[x].qid };
	fake_check_segment(f, 1, q1, 1, true);

	struct spool_answer ans;
	bool decided = false;
	unsigned b = fake_append(f, FAKE_BODY, &ans, &decided);
	CHECK(decided);
	CHECK_U64(ans.code, 452);
	CHECK(ans.text != NULL && strcmp(ans.text, TEXT_452) == 0);
	CHECK_U64(fake_verdicts_for(f, b, &(struct fake_verdict){ 0 }), 0);
	char sid[QUEUE_ID_LEN + 1];
	fake_new_sid(f, sid);
	CHECK(!fake_session(f, sid)); /* not kept: nothing is refused for it */
	CHECK(spool_idle(&f->sh.spool));

	block_new_segments(f, false);
	fake_tick(f);
	CHECK(!spool_ready(&f->sh.spool)); /* retried at most once a second */
	fake_advance_s(f);
	fake_tick(f);
	CHECK(spool_ready(&f->sh.spool));
	CHECK_U64(f->sh.spool.segno, 2);
	unsigned c = durable_message(f);
	const char *q2[] = { f->msgs[c].qid };
	fake_check_segment(f, 2, q2, 1, false);
	fake_free(f);
}

/* Rotation with no segment to go to: the message that needed it gets 451,
 * the spool is down (452 at once), the full segment is still written,
 * answered and sealed, and the retry brings the spool back. */
static void test_down_at_rotation(void)
{
	uint64_t r = fake_record_len(FAKE_BODY);
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_HDR + 2 * r);
	if (f == NULL)
		return;
	block_new_segments(f, true);
	unsigned a = fake_append_queued(f, FAKE_BODY), b = fake_append_queued(f, FAKE_BODY);
	struct spool_answer ans;
	bool decided = false;
	unsigned c = fake_append(f, FAKE_BODY, &ans, &decided);
	CHECK(decided);
	CHECK_U64(ans.code, 451);
	CHECK(!spool_ready(&f->sh.spool));
	fake_append(f, FAKE_BODY, &ans, &decided);
	CHECK(decided);
	CHECK_U64(ans.code, 452);
	fake_tick(f);
	CHECK_U64(f->last.count, 2);
	CHECK(!fake_exists(f, 1, "idx"));
	fake_batch_ok(f);
	fake_expect_verdict(f, a, 250, NULL);
	fake_expect_verdict(f, b, 250, NULL);
	CHECK_U64(fake_verdicts_for(f, c, &(struct fake_verdict){ 0 }), 0);
	const char *q1[] = { f->msgs[a].qid, f->msgs[b].qid };
	fake_check_segment(f, 1, q1, 2, true);
	CHECK(!spool_ready(&f->sh.spool));
	block_new_segments(f, false);
	fake_advance_s(f);
	fake_tick(f);
	CHECK(spool_ready(&f->sh.spool));
	unsigned d = durable_message(f);
	const char *q2[] = { f->msgs[d].qid };
	fake_check_segment(f, 2, q2, 1, false);
	fake_free(f);
}

/* No segment can be had at start-up (EIO on a flaky disk; here segment 1
 * cannot be read, and then the names of the segments after it are taken,
 * more of them than a new segment passes over): the spool starts down (MAIL
 * gets 452) instead of the server not starting, and the retry (100 ms,
 * then 200 ms, ... at most SPOOL_RETRY_MAX_MS apart) makes one as soon as
 * it can. */
static void test_start_without_segment(void)
{
	struct spool_fake *f = fake_new(__func__, SPOOL_SYNC_GROUP, FAKE_SEG_BIG);
	if (f == NULL)
		return;
	fake_stop(f); /* segment 1 was never used: it is removed */
	CHECK(!fake_exists(f, 1, "seg"));
	block_segment(f, 1);
	CHECK_U64(spool_open(&f->sh.spool, &f->cfg, FAKE_SHARD, f->sh.wall_us), 0);
	f->stopped = false;
	CHECK(!spool_ready(&f->sh.spool));
	CHECK_U64(f->sh.spool.segno, 1);
	block_new_segments(f, true);
	fake_tick(f); /* the first retry: fails, next in 100 ms */
	fake_advance_ms(f, SPOOL_RETRY_FIRST_MS);
	fake_tick(f); /* fails again: next in 200 ms */
	CHECK(!spool_ready(&f->sh.spool));
	block_new_segments(f, false);
	fake_advance_ms(f, 2 * SPOOL_RETRY_FIRST_MS - 1);
	fake_tick(f);
	CHECK(!spool_ready(&f->sh.spool)); /* backing off */
	fake_advance_ms(f, 1);
	fake_tick(f);
	CHECK(spool_ready(&f->sh.spool));
	CHECK_U64(f->sh.spool.segno, 2);
	unsigned c = durable_message(f);
	const char *q[] = { f->msgs[c].qid };
	fake_check_segment(f, 2, q, 1, false);
	fake_stop(f);
	unblock_segment(f, 1);
	fake_free(f);
}

int main(void)
{
	test_start_without_segment();
	test_poison();
	test_poison_always();
	test_poison_none();
	test_poison_rotated();
	test_down_after_failure();
	test_down_at_rotation();
	return harness_finish("spool_fail");
}
