/*
 * tools/spool/cmd_prune.c - `prune [--before TIME] [--deleted] [--dry-run]`:
 * delete whole sealed segments whose newest message is older than TIME,
 * and reclaim the space of messages the HTTP API deleted (prune_deleted.h).
 *
 * Owns: the rule for what may go.  Only a sealed segment (its .idx
 * verifies) can be deleted or rewritten, and never the highest-numbered
 * segment of a shard, sealed or not: the server appends to it or numbers
 * the next one after it (and seeds its queue-ID clock from it at
 * start-up, so dropping its newest message could let an ID come back).
 * The index is deleted first, then the segment, as the server's own
 * retention does (io/spool_files.c): a segment without an index is one a
 * reader scans, never one it trusts an index for; then its .damage list,
 * if any.  Quarantined (.seg.corrupt) and cut (.seg.cut-N) files are never
 * touched.  Messages are counted as stats counts them: session reports are
 * not.  --before runs first; --deleted then looks at the segments left.
 * After --deleted changed a segment, DIR/index/ (the HTTP API's index,
 * whose offsets are now stale) is deleted: the server rebuilds it from the
 * spool and the marks log at its next start.
 *
 * Deleting needs the spool: prune takes the server's lock (DIR/lock,
 * io/spool_fs.h) for its run and refuses, naming the server's PID, while
 * a server owns the spool (the server's own retention, --spool-max-age,
 * prunes a live spool).  --dry-run changes nothing and takes no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "marks_deleted.h"
#include "prune_deleted.h"
#include "report.h"
#include "seg_reader.h"
#include "spool_cli.h"
#include "spool_dir.h"
#include "when.h"

struct prune_run {
	uint64_t before_us;
	bool before, deleted, dry_run;
	uint64_t segments, messages, bytes;
	int errors;
	struct marks_deleted marks; /* --deleted */
	struct prune_tally reclaimed; /* --deleted */
};

/* The newest message time and the message count of a sealed segment;
 * false if it is not one. */
static bool sealed_newest(int fd, uint32_t shard, uint64_t segno, uint64_t *newest_us, uint32_t *count, uint64_t *bytes)
{
	struct seg_reader r;
	if (seg_reader_open(&r, fd, shard, segno, false) != 0)
		return false;
	bool sealed = r.state == SEG_SEALED;
	uint32_t n = sealed ? seg_reader_count(&r) : 0;
	*count = 0;
	*bytes = r.file_bytes;
	*newest_us = r.created_us;
	for (uint32_t i = 0; i < n; i++) { /* sorted by ID, which is time order: the last is the newest */
		struct spool_index_entry e;
		seg_reader_entry(&r, i, &e);
		*newest_us = e.received_us;
		*count += !(e.flags & SPOOL_FLAG_SESSION); /* a session report is not a message */
	}
	seg_reader_close(&r);
	return sealed;
}

/* --before: delete the segment if its newest message is older; true if
 * it is gone (or would be). */
static bool prune_segment(struct prune_run *run, int fd, uint32_t shard, uint64_t segno)
{
	uint64_t newest_us, bytes;
	uint32_t count;
	if (!sealed_newest(fd, shard, segno, &newest_us, &count, &bytes) || newest_us >= run->before_us)
		return false;
	char seg[SPOOL_DIR_NAME_BYTES], when[WHEN_TEXT_BYTES];
	spool_dir_seg_name(seg, sizeof seg, segno, "seg");
	when_iso(newest_us, false, when, sizeof when);
	int e = run->dry_run ? 0 : prune_deleted_unlink(fd, segno);
	if (e != 0) {
		report_error("prune: shard-%02u/%s: %s", shard, seg, strerror(-e));
		run->errors++;
		return false;
	}
	printf("%s shard-%02u/%s and .idx: %u messages, %llu bytes, newest %s\n",
	       run->dry_run ? "would delete" : "deleted", shard, seg, count, (unsigned long long)bytes, when);
	run->segments++;
	run->messages += count;
	run->bytes += bytes;
	return true;
}

static int prune_shard(struct prune_run *run, int fd, uint32_t shard)
{
	struct spool_seg *segs;
	size_t n;
	int e = spool_dir_segments(fd, false, &segs, &n);
	/* segs[n - 1], the newest, always stays */
	for (size_t i = 0; e == 0 && i + 1 < n; i++)
		if (!(run->before && prune_segment(run, fd, shard, segs[i].segno)) && run->deleted)
			prune_deleted_segment(&run->marks, run->dry_run, fd, shard, segs[i].segno, &run->reclaimed);
	free(segs);
	return e;
}

/* Options into *run: 0, -1 after --help (exit 0 at once: nothing is
 * pruned), or the exit code to return at once. */
static int prune_args(const struct cmd_ctx *ctx, struct prune_run *run, int argc, char **argv)
{
	const char *before = NULL;
	struct cli c;
	spool_cli_init(&c, "prune", NULL,
		       "Delete sealed segments older than --before; reclaim the messages the API deleted (--deleted).");
	cli_add(&c, cli_string("before", &before, "TIME", "2026-11-28T12:00:00Z, -7d, epoch seconds"));
	cli_add(&c, cli_flag("deleted", &run->deleted, "reclaim deleted messages (the marks log)"));
	cli_add(&c, cli_flag("dry-run", &run->dry_run, "say what would be deleted, delete nothing"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? -1 : SPOOL_EXIT_USAGE;
	run->before = before != NULL;
	if ((before == NULL && !run->deleted) ||
	    (before != NULL && when_parse(before, ctx->now_us, &run->before_us) != 0)) {
		report_error("prune: --before TIME (2026-11-28T12:00:00Z, 2026-11-28, -7d, epoch) or --deleted is "
			     "required%s%s",
			     before ? ": not a time: " : "", before ? before : "");
		return SPOOL_EXIT_USAGE;
	}
	return 0;
}

/* The summary lines; after a change by --deleted, the stale HTTP index goes. */
static int prune_report(const struct cmd_ctx *ctx, struct prune_run *run)
{
	const char *verb = run->dry_run ? "would delete" : "deleted";
	const struct prune_tally *t = &run->reclaimed;
	if (run->before)
		printf("prune: %s %llu segment(s), %llu messages, %llu bytes\n", verb,
		       (unsigned long long)run->segments, (unsigned long long)run->messages,
		       (unsigned long long)run->bytes);
	if (!run->deleted)
		return 0;
	printf("prune --deleted: %s %llu segment(s), %s %llu, %llu deleted messages, %llu bytes reclaimed\n", verb,
	       (unsigned long long)t->segments_deleted, run->dry_run ? "would rewrite" : "rewrote",
	       (unsigned long long)t->segments_rewritten, (unsigned long long)t->messages,
	       (unsigned long long)t->bytes);
	if (run->dry_run || t->segments_deleted + t->segments_rewritten == 0)
		return 0;
	int e = prune_deleted_drop_index(ctx->spool);
	if (e != 0)
		report_error("prune: %s/index: %s (delete it before the server starts)", ctx->spool, strerror(-e));
	else
		printf("prune --deleted: deleted %s/index/ (the server rebuilds it at its next start)\n", ctx->spool);
	return e;
}

int cmd_prune(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct prune_run run = { 0 };
	int rc = prune_args(ctx, &run, argc, argv);
	if (rc != 0)
		return rc < 0 ? SPOOL_EXIT_OK : rc;
	int lock = run.dry_run ? -ENOENT : spool_dir_lock(ctx->spool, "prune"); /* a dry run changes nothing */
	if (lock < 0 && lock != -ENOENT)
		return SPOOL_EXIT_NOT_FOUND;
	struct spool_dir d;
	int e = spool_dir_open(&d, ctx->spool);
	if (e != 0) {
		if (lock >= 0)
			close(lock);
		return report_spool_open(ctx->spool, e);
	}
	int me = run.deleted ? marks_deleted_load(&run.marks, ctx->spool) : 0;
	if (me != 0) /* without the marks nothing is known deleted: change nothing */
		report_error("prune: %s/marks/marks.log: %s", ctx->spool, strerror(-me));
	for (uint32_t i = 0; me == 0 && e == 0 && i < d.shard_count; i++)
		if (d.shard_fd[i] >= 0)
			e = prune_shard(&run, d.shard_fd[i], d.shards[i]);
	spool_dir_close(&d);
	marks_deleted_free(&run.marks);
	int ie = me == 0 ? prune_report(ctx, &run) : me;
	if (lock >= 0)
		close(lock);
	if (e != 0)
		report_error("prune: %s", strerror(-e));
	return e != 0 || ie != 0 || run.errors || run.reclaimed.errors ? SPOOL_EXIT_IO : SPOOL_EXIT_OK;
}
