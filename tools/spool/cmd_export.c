/*
 * tools/spool/cmd_export.c - `export --eml DIR | --mbox FILE | --maildir
 * DIR [filters]`: write the selected messages out, oldest first.
 *
 * Owns: choosing the messages (a walk with the ls filters that only
 * remembers where each one is: shard, segment, entry), exporting them in
 * time order with one open segment per shard, verifying each record's
 * checksum before it is written, and the progress line on a terminal.
 * A damaged record is reported and skipped; the exit status is then 1.
 *
 * Workload: the list costs one entry (64 bytes) per selected message; the
 * export reads each selected body once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "export.h"
#include "filter.h"
#include "grow.h"
#include "report.h"
#include "spool_cli.h"
#include "spool_set.h"
#include "spool_walk.h"
#include "text_out.h"
#include "when.h"

#define PROGRESS_EVERY_US 250000u
#define MIB (1024.0 * 1024.0)

struct picked {
	uint32_t src; /* the spool */
	uint32_t shard_index; /* into that spool_dir's shards[] */
	uint64_t segno;
	bool quarantined;
	struct spool_index_entry e;
};

struct export_run {
	struct filter filter;
	const struct spool_set *set;
	size_t *first_reader; /* per spool: the index of its first shard's reader */
	size_t readers;
	struct picked *v;
	size_t n, cap;
	uint64_t limit;
	uint64_t skipped;
};

static int pick(void *arg, size_t src, const struct seg_reader *r, const struct spool_index_entry *e)
{
	struct export_run *run = arg;
	struct msg m;
	if (filter_select(&run->filter, r, e, false, &m) != FILTER_YES)
		return 0;
	if (!grow_array((void **)&run->v, &run->cap, run->n + 1, sizeof *run->v, 1024))
		return -ENOMEM;
	run->v[run->n++] =
		(struct picked){ (uint32_t)src, (uint32_t)spool_dir_shard_index(&run->set->dirs[src], r->shard),
				 r->segno, r->quarantined, *e };
	return run->limit != 0 && run->n >= run->limit ? 1 : 0;
}

static void progress(const struct exporter *x, size_t total, uint64_t *last_us, bool done)
{
	uint64_t now = when_now_us();
	if (!done && now - *last_us < PROGRESS_EVERY_US)
		return;
	*last_us = now;
	fprintf(stderr, "\rexported %llu/%zu messages (%.1f MiB)%s", (unsigned long long)x->count, total,
		(double)x->bytes / MIB, done ? "\n" : "");
}

/* Export one picked message; the per-shard reader is reopened only when
 * the segment changes. */
static int export_one(struct export_run *run, struct exporter *x, struct seg_reader *readers, const struct picked *p)
{
	const struct spool_dir *d = &run->set->dirs[p->src];
	struct seg_reader *r = &readers[run->first_reader[p->src] + p->shard_index];
	if (r->fd < 0 || r->segno != p->segno || r->quarantined != p->quarantined) {
		if (r->fd >= 0)
			seg_reader_close(r);
		int e = seg_reader_open(r, d->shard_fd[p->shard_index], d->shards[p->shard_index], p->segno,
					p->quarantined);
		if (e != 0) {
			r->fd = -1;
			char qid[4 * MSG_QID_BYTES];
			text_out_safe(p->e.qid, strnlen(p->e.qid, MSG_QID_BYTES), qid, sizeof qid);
			report_warning("export: %s: segment %llu: %s; skipped", qid, (unsigned long long)p->segno,
				       strerror(-e));
			run->skipped++;
			return 0;
		}
	}
	struct msg m;
	enum msg_status st = seg_reader_msg(r, &p->e, true, &m);
	const char *why = st != MSG_OK ? msg_status_text(st) : NULL;
	if (why == NULL && !export_name_ok(&m)) /* a forged record's ID could name a file elsewhere */
		why = "its queue ID is not a file name (only 0-9A-Za-z)";
	if (why != NULL) {
		spool_walk_warn_record(r, &p->e, why);
		run->skipped++;
		return 0;
	}
	return export_write(x, &m);
}

static int export_all(struct export_run *run, struct exporter *x, bool show_progress)
{
	struct seg_reader *readers = calloc(run->readers ? run->readers : 1, sizeof *readers);
	if (readers == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < run->readers; i++)
		readers[i].fd = -1;
	uint64_t last_us = 0;
	int e = 0;
	for (size_t i = run->n; e == 0 && i-- > 0;) { /* picked newest first: export oldest first */
		e = export_one(run, x, readers, &run->v[i]);
		if (show_progress)
			progress(x, run->n, &last_us, false);
	}
	if (show_progress)
		progress(x, run->n, &last_us, true);
	for (size_t i = 0; i < run->readers; i++)
		if (readers[i].fd >= 0)
			seg_reader_close(&readers[i]);
	free(readers);
	return e;
}

/* Exactly one of --eml, --mbox, --maildir. */
static int target(const char *eml, const char *mbox, const char *maildir, enum export_kind *kind, const char **path)
{
	int n = (eml != NULL) + (mbox != NULL) + (maildir != NULL);
	if (n != 1) {
		report_error("export: give exactly one of --eml DIR, --mbox FILE, --maildir DIR");
		return -1;
	}
	*kind = eml ? EXPORT_EML : mbox ? EXPORT_MBOX : EXPORT_MAILDIR;
	*path = eml ? eml : mbox ? mbox : maildir;
	return 0;
}

static int run_export(const struct cmd_ctx *ctx, struct export_run *run, enum export_kind kind, const char *path,
		      bool quiet)
{
	struct spool_set set;
	int rc = spool_set_open(&set, ctx);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	run->set = &set;
	run->first_reader = calloc(set.count + 1, sizeof *run->first_reader);
	for (size_t i = 0; run->first_reader != NULL && i < set.count; i++) {
		run->first_reader[i] = run->readers;
		run->readers += set.dirs[i].shard_count;
	}
	struct exporter x;
	int e = run->first_reader != NULL ? spool_walk(set.dirs, set.count, &run->filter.range, pick, run) : -ENOMEM;
	if (e < 0) {
		report_error("export: %s", strerror(-e));
		rc = SPOOL_EXIT_IO;
	} else if ((e = export_open(&x, kind, path)) != 0) {
		report_error("export: %s: %s", path, strerror(-e));
		rc = SPOOL_EXIT_IO;
	} else {
		e = export_all(run, &x, !quiet && isatty(STDERR_FILENO));
		int ce = export_close(&x);
		if (e != 0 || ce != 0) {
			report_error("export: writing %s: %s", path, strerror(-(e ? e : ce)));
			rc = SPOOL_EXIT_IO;
		} else if (!quiet) {
			fprintf(stderr, "exported %llu messages (%llu bytes) to %s\n", (unsigned long long)x.count,
				(unsigned long long)x.bytes, path);
		}
	}
	spool_set_close(&set);
	free(run->first_reader);
	free(run->v);
	return rc == SPOOL_EXIT_OK && run->skipped ? SPOOL_EXIT_NOT_FOUND : rc;
}

int cmd_export(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct export_run run = { 0 };
	struct filter_args fa = { 0 };
	const char *eml = NULL, *mbox = NULL, *maildir = NULL;
	bool quiet = false;
	struct cli c;
	spool_cli_init(&c, "export", NULL, "Write the selected messages (oldest first) as files.");
	cli_add(&c, cli_string("eml", &eml, "DIR", "one DIR/<queue ID>.eml per message"));
	cli_add(&c, cli_string("mbox", &mbox, "FILE", "one mboxrd file (replaced)"));
	cli_add(&c, cli_string("maildir", &maildir, "DIR", "a Maildir (messages in DIR/new)"));
	filter_cli(&c, &fa);
	cli_add(&c, cli_u64("limit", &run.limit, 0, UINT64_MAX, "N", "only the N newest matching messages"));
	cli_add(&c, cli_flag("quiet", &quiet, "no progress or summary on stderr"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	enum export_kind kind;
	const char *path;
	if (target(eml, mbox, maildir, &kind, &path) != 0 || filter_compile(&run.filter, &fa, ctx->now_us) != 0)
		return SPOOL_EXIT_USAGE;
	return run_export(ctx, &run, kind, path, quiet);
}
