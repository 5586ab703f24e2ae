/*
 * tools/spool/cmd_prune.c - `prune --before TIME [--dry-run]`: delete whole
 * sealed segments whose newest message is older than TIME.
 *
 * Owns: the rule for what may go.  Only a sealed segment (its .idx
 * verifies) can be deleted, and never the highest-numbered segment of a
 * shard, sealed or not: the server appends to it or numbers the next one
 * after it (and seeds its queue-ID clock from it at start-up).  The index
 * is deleted first, then the segment, as the server's own retention does
 * (io/spool_files.c): a segment without an index is one a reader scans,
 * never one it trusts an index for; then its .damage list, if any.
 * Quarantined (.seg.corrupt) and cut (.seg.cut-N) files are never touched.
 * Messages are counted as stats counts them: session reports are not.
 *
 * Deleting needs the spool: prune takes the server's lock (DIR/lock,
 * io/spool_fs.h) for its run and refuses, naming the server's PID, while
 * a server owns the spool (the server's own retention, --spool-max-age,
 * prunes a live spool).  --dry-run deletes nothing and takes no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "report.h"
#include "seg_reader.h"
#include "spool_cli.h"
#include "spool_dir.h"
#include "when.h"

struct prune_run {
	uint64_t before_us;
	bool dry_run;
	uint64_t segments, messages, bytes;
	int errors;
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

static void prune_segment(struct prune_run *run, int fd, uint32_t shard, uint64_t segno)
{
	uint64_t newest_us, bytes;
	uint32_t count;
	if (!sealed_newest(fd, shard, segno, &newest_us, &count, &bytes) || newest_us >= run->before_us)
		return;
	char idx[SPOOL_DIR_NAME_BYTES], seg[SPOOL_DIR_NAME_BYTES], dmg[SPOOL_DIR_NAME_BYTES], when[WHEN_TEXT_BYTES];
	spool_dir_seg_name(idx, sizeof idx, segno, "idx");
	spool_dir_seg_name(seg, sizeof seg, segno, "seg");
	spool_dir_seg_name(dmg, sizeof dmg, segno, "damage");
	when_iso(newest_us, false, when, sizeof when);
	if (!run->dry_run && (unlinkat(fd, idx, 0) != 0 || unlinkat(fd, seg, 0) != 0)) {
		report_error("prune: shard-%02u/%s: %s", shard, seg, strerror(errno));
		run->errors++;
		return;
	}
	if (!run->dry_run)
		unlinkat(fd, dmg, 0); /* a salvaged segment's damage list goes with it */
	printf("%s shard-%02u/%s and .idx: %u messages, %llu bytes, newest %s\n",
	       run->dry_run ? "would delete" : "deleted", shard, seg, count, (unsigned long long)bytes, when);
	run->segments++;
	run->messages += count;
	run->bytes += bytes;
}

static int prune_shard(struct prune_run *run, int fd, uint32_t shard)
{
	struct spool_seg *segs;
	size_t n;
	int e = spool_dir_segments(fd, false, &segs, &n);
	/* segs[n - 1], the newest, always stays */
	for (size_t i = 0; e == 0 && i + 1 < n; i++)
		prune_segment(run, fd, shard, segs[i].segno);
	free(segs);
	return e;
}

int cmd_prune(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct prune_run run = { 0 };
	const char *before = NULL;
	struct cli c;
	spool_cli_init(&c, "prune", NULL, "Delete sealed segments whose newest message is older than --before.");
	cli_add(&c, cli_string("before", &before, "TIME", "required: 2026-11-28T12:00:00Z, -7d, epoch seconds"));
	cli_add(&c, cli_flag("dry-run", &run.dry_run, "say what would be deleted, delete nothing"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (before == NULL || when_parse(before, ctx->now_us, &run.before_us) != 0) {
		report_error("prune: --before TIME is required (2026-11-28T12:00:00Z, 2026-11-28, -7d, epoch)%s%s",
			     before ? ": not a time: " : "", before ? before : "");
		return SPOOL_EXIT_USAGE;
	}
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
	for (uint32_t i = 0; e == 0 && i < d.shard_count; i++)
		if (d.shard_fd[i] >= 0)
			e = prune_shard(&run, d.shard_fd[i], d.shards[i]);
	spool_dir_close(&d);
	if (lock >= 0)
		close(lock);
	printf("prune: %s %llu segment(s), %llu messages, %llu bytes\n", run.dry_run ? "would delete" : "deleted",
	       (unsigned long long)run.segments, (unsigned long long)run.messages, (unsigned long long)run.bytes);
	if (e != 0)
		report_error("prune: %s", strerror(-e));
	return e != 0 || run.errors ? SPOOL_EXIT_IO : SPOOL_EXIT_OK;
}
