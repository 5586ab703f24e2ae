/*
 * tools/spool/cmd_verify.c - `verify [--quiet]`: check every record and
 * every index of the spool; exit 0 when clean, 1 when something is wrong.
 *
 * Owns the checks, each reported as "FILE: offset N: what" on stdout:
 *  - segment header: verifies, names the shard and segment of its file;
 *  - every record of every segment, walked from offset 64: header checksum,
 *    lengths, record checksum and trailer (spool_record_decode); metadata
 *    well formed, with a queue ID of this shard, increasing (session
 *    reports excepted: their ID is taken at connect, their record written
 *    at the end), and synced_before not past the record's own offset;
 *  - a sealed segment ends exactly after its last record, and its .idx
 *    verifies (spool_index_decode) and agrees with it (entries taken in
 *    offset order, as sessions make queue-ID order differ): one entry per
 *    record, each at the offset of a valid record with the same queue ID,
 *    time, lengths and flags; after damage, the walk resumes at the next
 *    entry, so one bad record does not hide the rest;
 *  - an unsealed segment is valid up to its first invalid record and
 *    zeros after it.  The newest one is being written: an invalid record
 *    at its end is given VERIFY_SETTLE_MS to complete (a write in
 *    progress) before it counts as damage;
 *  - .seg.corrupt (quarantined at start-up) is a problem; .seg.cut-N
 *    (a torn tail the server cut and saved) and .idx.tmp are noted.
 * Workload: one XXH3 pass over every byte of the spool (~GB/s).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "poll_sleep.h"
#include "queue_id.h"
#include "report.h"
#include "salvage.h"
#include "seg_reader.h"
#include "spool_cli.h"
#include "spool_dir.h"
#include "text_out.h"

#define VERIFY_SETTLE_MS 1000u /* how long a write in progress may take */
#define VERIFY_RETRY_MS 100u
#define ZERO_CHUNK_BYTES (1u << 20)
#define FILE_TEXT_BYTES (2u * SPOOL_DIR_NAME_BYTES)
#define QID_TEXT_BYTES (4u * MSG_QID_BYTES) /* cleaned: '?' for each control */

struct verify_run {
	bool quiet, salvage, rewrite;
	uint64_t problems, notes, segments, indexes, records;
};

/* Where a check is: the file and, for records, what came before. */
struct verify_at {
	char file[FILE_TEXT_BYTES];
	uint32_t shard;
	char prev_qid[MSG_QID_BYTES];
	bool ranges_reported; /* --salvage listed the damaged ranges already */
};

static void say(struct verify_run *v, bool is_problem, const char *file, int64_t off, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void say(struct verify_run *v, bool is_problem, const char *file, int64_t off, const char *fmt, ...)
{
	if (is_problem)
		v->problems++;
	else
		v->notes++;
	if (!is_problem && v->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("%s: ", file);
	if (off >= 0)
		printf("offset %lld: ", (long long)off);
	if (!is_problem)
		printf("note: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static const char *verdict_text(enum spool_verdict vd)
{
	switch (vd) {
	case SPOOL_END:
		return "zeros where a record should start";
	case SPOOL_SHORT:
		return "the file ends inside a record";
	case SPOOL_BAD_HEADER:
		return "record header does not verify (magic, version, lengths or header checksum)";
	case SPOOL_BAD_CHECKSUM:
		return "record checksum or trailer is wrong";
	default:
		return "?";
	}
}

/* A queue ID read from the spool, cleaned for the terminal. */
static const char *qid_text(const char qid[MSG_QID_BYTES], char *buf, size_t size)
{
	return text_out_safe(qid, strnlen(qid, MSG_QID_BYTES), buf, size);
}

/* Metadata checks of a valid record at off. */
static void check_record(struct verify_run *v, struct verify_at *at, uint64_t off, const struct spool_record *rec)
{
	char qid[MSG_QID_BYTES + 1] = { 0 }, a[QID_TEXT_BYTES], b[QID_TEXT_BYTES];
	uint64_t received_us, qid_us;
	uint32_t node, shard;
	v->records++;
	if (rec->synced_before > off)
		say(v, true, at->file, (int64_t)off, "synced_before %llu is past the record's own offset",
		    (unsigned long long)rec->synced_before);
	if (!spool_record_ids(rec, qid, &received_us)) {
		say(v, true, at->file, (int64_t)off, "metadata malformed, or without queue ID or time");
		return;
	}
	if (!queue_id_parse(qid, strlen(qid), &qid_us, &node, &shard))
		say(v, true, at->file, (int64_t)off, "queue ID '%s' is not a queue ID", qid_text(qid, a, sizeof a));
	else if (shard != at->shard)
		say(v, true, at->file, (int64_t)off, "queue ID %s belongs to shard %u", qid, shard);
	if (rec->flags & SPOOL_FLAG_SESSION)
		return; /* its ID was taken at connect, its record written at the end */
	if (at->prev_qid[0] && memcmp(qid, at->prev_qid, MSG_QID_BYTES) <= 0)
		say(v, true, at->file, (int64_t)off, "queue ID %s does not come after %s", qid_text(qid, a, sizeof a),
		    qid_text(at->prev_qid, b, sizeof b));
	memcpy(at->prev_qid, qid, MSG_QID_BYTES);
}

/* The header of segment file `segno`: false if it cannot be read as one. */
static bool check_header(struct verify_run *v, struct verify_at *at, int fd, uint64_t segno, bool newest)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES] = { 0 };
	char name[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(name, sizeof name, segno, "seg");
	int sfd = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = sfd >= 0 ? pread(sfd, h, sizeof h, 0) : -1;
	if (sfd >= 0)
		close(sfd);
	uint32_t shard = 0;
	uint64_t hsegno = 0;
	if (n >= 0 && spool_segment_header_ok(h, (size_t)n, &shard, &hsegno)) {
		if (shard != at->shard || hsegno != segno)
			say(v, true, at->file, 0, "segment header says shard %u segment %llu", shard,
			    (unsigned long long)hsegno);
		return true;
	}
	bool zeros = n >= 0 && (size_t)n == sizeof h && h[0] == 0 && memcmp(h, h + 1, sizeof h - 1) == 0;
	if (newest && zeros)
		say(v, false, at->file, -1, "segment being created (no header yet)");
	else
		say(v, true, at->file, n < 0 ? -1 : 0, "%s",
		    n < 0 ? strerror(errno) : "segment header does not verify");
	return false;
}

/* Does index entry e describe the valid record rec at its offset? */
static void match_entry(struct verify_run *v, const char *idx, uint32_t k, const struct spool_index_entry *e,
			const struct spool_record *rec)
{
	char qid[MSG_QID_BYTES] = { 0 }, a[QID_TEXT_BYTES], b[QID_TEXT_BYTES];
	uint64_t received_us = 0;
	spool_record_ids(rec, qid, &received_us);
	if (memcmp(qid, e->qid, MSG_QID_BYTES) != 0 || received_us != e->received_us ||
	    rec->record_len != e->record_len || rec->meta_len != e->meta_len || rec->flags != e->flags)
		say(v, true, idx, -1,
		    "entry %u in offset order (%s at offset %llu) does not match the record there (%s)", k,
		    qid_text(e->qid, a, sizeof a), (unsigned long long)e->offset, qid_text(qid, b, sizeof b));
}

/* The index entries in offset order (the index is in queue-ID order,
 * which differs from offset order when session reports, written at the
 * end of their session under an ID taken at connect, are in the segment). */
struct by_offset {
	struct spool_index_entry *e;
	uint32_t n;
};

static int offset_cmp(const void *a, const void *b)
{
	const struct spool_index_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool by_offset_load(struct by_offset *o, const struct seg_reader *r)
{
	o->n = r->idx_count;
	o->e = malloc((o->n ? o->n : 1) * sizeof *o->e);
	if (o->e == NULL)
		return false;
	for (uint32_t i = 0; i < o->n; i++)
		seg_reader_entry(r, i, &o->e[i]);
	qsort(o->e, o->n, sizeof *o->e, offset_cmp);
	return true;
}

/* Entries [*k, ...) before offset off: no record starts where they point. */
static void skip_entries(struct verify_run *v, const char *idx, const struct by_offset *o, uint32_t *k, uint64_t off)
{
	for (; *k < o->n; (*k)++) {
		if (o->e[*k].offset >= off)
			return;
		char a[QID_TEXT_BYTES];
		say(v, true, idx, -1, "entry for %s points at offset %llu, where no valid record starts",
		    qid_text(o->e[*k].qid, a, sizeof a), (unsigned long long)o->e[*k].offset);
	}
}

/* Entry k's offset, or end when there is none. */
static uint64_t entry_offset(const struct by_offset *o, uint32_t k, uint64_t end)
{
	return k < o->n ? o->e[k].offset : end;
}

/* A sealed segment: every record, and the index against them. */
static void verify_sealed(struct verify_run *v, struct verify_at *at, const struct seg_reader *r, const char *idx)
{
	uint64_t off = SPOOL_SEGMENT_HEADER_BYTES, len = r->map_len, valid = 0;
	uint32_t k = 0;
	struct by_offset o;
	if (!by_offset_load(&o, r)) {
		say(v, true, idx, -1, "out of memory");
		return;
	}
	while (off < len) {
		struct spool_record rec;
		enum spool_verdict vd = spool_record_decode(r->map + off, (size_t)(len - off), &rec);
		skip_entries(v, idx, &o, &k, off);
		if (vd != SPOOL_OK) {
			if (at->ranges_reported)
				; /* as a damaged range, by salvage_segment() */
			else if (rec.record_len != 0)
				say(v, true, at->file, (int64_t)off, "%s (record of %llu bytes)", verdict_text(vd),
				    (unsigned long long)rec.record_len);
			else
				say(v, true, at->file, (int64_t)off, "%s", verdict_text(vd));
			if (entry_offset(&o, k, len) == off)
				k++; /* the entry of the damaged record */
			off = entry_offset(&o, k, len); /* resume at the next indexed record */
			continue;
		}
		check_record(v, at, off, &rec);
		valid++;
		if (entry_offset(&o, k, len) == off) {
			match_entry(v, idx, k, &o.e[k], &rec);
			k++;
		} else {
			say(v, true, at->file, (int64_t)off, "this record is not in the index %s", idx);
		}
		off += rec.record_len;
	}
	skip_entries(v, idx, &o, &k, UINT64_MAX);
	if (valid != r->idx_count)
		say(v, true, idx, -1, "%u entries for %llu valid records", r->idx_count, (unsigned long long)valid);
	free(o.e);
}

/* First non-zero byte of [from, end) of fd, or end. */
static uint64_t first_nonzero(int fd, uint64_t from, uint64_t end)
{
	static const uint8_t zeros[4096];
	uint8_t *buf = malloc(ZERO_CHUNK_BYTES);
	uint64_t off = from;
	while (buf != NULL && off < end) {
		ssize_t n = pread(fd, buf, end - off < ZERO_CHUNK_BYTES ? (size_t)(end - off) : ZERO_CHUNK_BYTES,
				  (off_t)off);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i += (ssize_t)sizeof zeros) {
			size_t m = (size_t)(n - i) < sizeof zeros ? (size_t)(n - i) : sizeof zeros;
			if (memcmp(buf + i, zeros, m) != 0)
				for (size_t j = 0; j < m; j++)
					if (buf[i + (ssize_t)j] != 0) {
						free(buf);
						return off + (uint64_t)i + j;
					}
		}
		off += (uint64_t)n;
	}
	free(buf);
	return end;
}

/* The newest segment is being written: let a record in progress finish. */
static void settle(struct seg_reader *r, volatile sig_atomic_t *stop)
{
	for (unsigned waited = 0; r->scan_stop != SPOOL_END && waited < VERIFY_SETTLE_MS && !*stop;) {
		poll_sleep(VERIFY_RETRY_MS, stop);
		waited = seg_reader_refresh(r) > 0 ? 0 : waited + VERIFY_RETRY_MS;
	}
}

/* An unsealed segment (or one whose index is bad): records up to the
 * first invalid one, zeros after. */
static void verify_unsealed(struct verify_run *v, struct verify_at *at, struct seg_reader *r, bool live,
			    volatile sig_atomic_t *stop)
{
	if (live)
		settle(r, stop);
	uint32_t n = seg_reader_count(r);
	for (uint32_t i = 0; i < n; i++) {
		struct spool_index_entry e;
		struct msg m;
		seg_reader_entry(r, i, &e);
		if (seg_reader_msg(r, &e, false, &m) == MSG_OK)
			check_record(v, at, e.offset, &m.rec);
	}
	for (uint32_t i = 0; i < r->damage_count; i++)
		say(v, true, at->file, (int64_t)r->damage[i].offset,
		    "%s (a damaged range of %llu bytes: a later record proves it was durable; the records after it "
		    "were read; the server salvages this segment at its next start)",
		    verdict_text(r->damage[i].why), (unsigned long long)r->damage[i].length);
	if (r->scan_stop != SPOOL_END) {
		say(v, true, at->file, (int64_t)r->scan_end, "%s%s (%llu bytes after it not checked)",
		    verdict_text(r->scan_stop), live ? ", and no write completed it" : "",
		    (unsigned long long)(r->file_bytes - r->scan_end));
		return;
	}
	uint64_t nz = first_nonzero(r->fd, r->scan_end, r->file_bytes);
	if (nz < r->file_bytes)
		say(v, true, at->file, (int64_t)nz, "non-zero bytes after the last valid record (which ends at %llu)",
		    (unsigned long long)r->scan_end);
}

/* The damaged ranges and dropped duplicates of a salvage view; problems
 * unless the segment is salvaged (its index lists exactly its intact
 * records). */
static void report_view(struct verify_run *v, const char *file, const struct salvage_view *sv, bool salvaged)
{
	const char *what = salvaged ? "not indexed (salvaged)" : "skipped";
	for (uint32_t i = 0; i < sv->range_count; i++)
		say(v, !salvaged, file, (int64_t)sv->ranges[i].offset, "%s (a damaged range of %llu bytes%s): %s",
		    verdict_text(sv->ranges[i].why), (unsigned long long)sv->ranges[i].length,
		    sv->ranges[i].unsearched ? ", not searched: search budget spent" : "", what);
	for (uint32_t i = 0; i < sv->dup_count; i++)
		say(v, !salvaged, file, (int64_t)sv->dups[i].offset, "a record whose queue ID an earlier one has: %s",
		    what);
}

/* --rewrite-index: true when the segment now has an index of its intact
 * records (a quarantined one is back as NNNNNNNN.seg). */
static bool rewrite(struct verify_run *v, const char *file, const struct salvage_view *sv, const struct seg_reader *r)
{
	int e = salvage_rewrite(sv, r);
	if (e == 0) {
		say(v, false, file, -1,
		    "index rewritten: it lists the %u intact record(s); the damaged ranges are in %08llu.damage%s",
		    sv->count, (unsigned long long)r->segno, r->quarantined ? "; renamed back to .seg" : "");
		return true;
	}
	say(v, true, file, -1, "index not rewritten: %s",
	    e == -EINVAL ? "its segment header does not verify (or names another segment), so it stays quarantined "
			   "(its intact records are read)" :
			   strerror(-e));
	return false;
}

/* --salvage for a segment at rest (sealed, index bad, or quarantined):
 * its intact records against its index; true if the index was rewritten
 * (the reader must be reopened). */
static bool salvage_segment(struct verify_run *v, struct verify_at *at, struct seg_reader *r, const char *idx)
{
	struct salvage_view sv;
	bool rewritten = false;
	int e = seg_reader_map_whole(r);
	if (e == 0)
		e = salvage_view_build(&sv, r->map, r->map_len);
	if (e != 0) {
		say(v, true, at->file, -1, "cannot read it whole: %s", strerror(-e));
		return false;
	}
	bool salvaged = salvage_index_matches(&sv, r);
	if (!salvaged && v->rewrite)
		salvaged = rewritten = rewrite(v, at->file, &sv, r);
	else if (!salvaged)
		say(v, true, r->quarantined ? at->file : idx, -1,
		    "%s: %u intact record(s) (verify --salvage --rewrite-index writes an index of them%s)",
		    r->quarantined ? "quarantined segment" : "the index does not list exactly the intact records",
		    sv.count, r->quarantined ? " and returns it to .seg" : "");
	report_view(v, at->file, &sv, salvaged);
	at->ranges_reported = true;
	salvage_view_free(&sv);
	return rewritten;
}

/* A quarantined NNNNNNNN.seg.corrupt: its intact records are read by the
 * tool; --salvage can give it an index and its name back. */
static void verify_quarantined(struct verify_run *v, int fd, uint32_t shard, uint64_t segno)
{
	struct verify_at at = { .shard = shard };
	struct seg_reader r;
	snprintf(at.file, sizeof at.file, "shard-%02u/%08llu.seg.corrupt", shard, (unsigned long long)segno);
	int e = seg_reader_open(&r, fd, shard, segno, true);
	if (e != 0) {
		say(v, e != -ENOENT, at.file, -1, "%s", e == -ENOENT ? "deleted while verifying" : strerror(-e));
		return;
	}
	if (v->salvage)
		salvage_segment(v, &at, &r, at.file);
	else
		say(v, true, at.file, -1,
		    "quarantined segment (its header does not verify, or an older server found damage): the tool "
		    "reads its %u intact record(s) past %u damaged range(s) (verify --salvage)",
		    seg_reader_count(&r), r.damage_count);
	seg_reader_close(&r);
}

static void verify_segment(struct verify_run *v, int fd, uint32_t shard, uint64_t segno, bool newest,
			   volatile sig_atomic_t *stop)
{
	struct verify_at at = { .shard = shard };
	char idx[FILE_TEXT_BYTES];
	snprintf(at.file, sizeof at.file, "shard-%02u/%08llu.seg", shard, (unsigned long long)segno);
	snprintf(idx, sizeof idx, "shard-%02u/%08llu.idx", shard, (unsigned long long)segno);
	v->segments++;
	if (!check_header(v, &at, fd, segno, newest))
		return;
	struct seg_reader r;
	int e = seg_reader_open(&r, fd, shard, segno, false);
	if (e == 0 && v->salvage && (r.state == SEG_SEALED || r.index_bad) && salvage_segment(v, &at, &r, idx)) {
		seg_reader_close(&r); /* its new index */
		e = seg_reader_open(&r, fd, shard, segno, false);
	}
	if (e != 0) {
		say(v, e != -ENOENT, at.file, -1, "%s", e == -ENOENT ? "deleted while verifying" : strerror(-e));
		return;
	}
	if (r.index_bad)
		say(v, true, idx, -1, "index does not verify (header or entries checksum, size, order or bounds)");
	if (r.state == SEG_SEALED) {
		v->indexes++;
		verify_sealed(v, &at, &r, idx);
	} else if (r.state == SEG_OPEN) {
		verify_unsealed(v, &at, &r, newest && !r.index_bad, stop);
		if (!newest && !r.index_bad)
			say(v, false, at.file, -1,
			    "not sealed (no .idx) although a newer segment exists: sealing, or "
			    "the server stopped before sealing it");
	}
	seg_reader_close(&r);
}

/* Is there a file of this kind and segment number in the listing? */
static bool listed(const struct spool_file *files, size_t n, enum spool_file_kind kind, uint64_t segno)
{
	for (size_t i = 0; i < n; i++)
		if (files[i].kind == kind && files[i].segno == segno)
			return true;
	return false;
}

static void verify_file(struct verify_run *v, int fd, uint32_t shard, const struct spool_file *f, uint64_t newest,
			const struct spool_file *files, size_t n, volatile sig_atomic_t *stop)
{
	char file[FILE_TEXT_BYTES];
	snprintf(file, sizeof file, "shard-%02u/%s", shard, f->name);
	switch (f->kind) {
	case SPOOL_FILE_SEG:
		verify_segment(v, fd, shard, f->segno, f->segno == newest, stop);
		break;
	case SPOOL_FILE_IDX:
		if (!listed(files, n, SPOOL_FILE_SEG, f->segno))
			say(v, true, file, -1, "index without its segment");
		break;
	case SPOOL_FILE_TMP:
		say(v, false, file, -1, "a file being written (or a seal, salvage or prune a crash interrupted)");
		break;
	case SPOOL_FILE_CORRUPT:
		verify_quarantined(v, fd, shard, f->segno);
		break;
	case SPOOL_FILE_DAMAGE:
		say(v, false, file, -1, "the damaged ranges the server skipped when it salvaged segment %llu",
		    (unsigned long long)f->segno);
		break;
	case SPOOL_FILE_CUT:
		say(v, false, file, -1, "%s", "bytes the server cut from a torn tail at start-up and saved");
		break;
	case SPOOL_FILE_OTHER:
		say(v, false, file, -1, "not a spool file");
		break;
	}
}

static int verify_shard(struct verify_run *v, int fd, uint32_t shard, volatile sig_atomic_t *stop)
{
	struct spool_file *files;
	size_t n;
	int e = spool_dir_files(fd, &files, &n);
	uint64_t newest = 0;
	for (size_t i = 0; e == 0 && i < n; i++)
		if (files[i].kind == SPOOL_FILE_SEG && files[i].segno > newest)
			newest = files[i].segno;
	for (size_t i = 0; e == 0 && i < n; i++)
		verify_file(v, fd, shard, &files[i], newest, files, n, stop);
	free(files);
	return e;
}

int cmd_verify(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct verify_run v = { 0 };
	struct cli c;
	spool_cli_init(&c, "verify", NULL, "Check every record checksum and every index; exit 1 if anything is wrong.");
	cli_add(&c, cli_flag("quiet", &v.quiet, "print problems only (no notes, no summary)"));
	cli_add(&c, cli_flag("salvage", &v.salvage,
			     "list every damaged range; damage whose segment's index lists exactly its intact records "
			     "is a note"));
	cli_add(&c, cli_flag("rewrite-index", &v.rewrite,
			     "with --salvage: index the intact records of damaged sealed and quarantined segments (no "
			     "server)"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	if (v.rewrite && !v.salvage) {
		report_error("verify: --rewrite-index needs --salvage");
		return SPOOL_EXIT_USAGE;
	}
	int lock = v.rewrite ? spool_dir_lock(ctx->spool, "verify --rewrite-index") : -ENOENT;
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
			e = verify_shard(&v, d.shard_fd[i], d.shards[i], ctx->stop);
	spool_dir_close(&d);
	if (lock >= 0)
		close(lock);
	if (e != 0) {
		report_error("verify: %s", strerror(-e));
		return SPOOL_EXIT_IO;
	}
	if (!v.quiet)
		printf("verify: %llu segment(s), %llu index(es), %llu record(s): %s%llu problem(s)\n",
		       (unsigned long long)v.segments, (unsigned long long)v.indexes, (unsigned long long)v.records,
		       v.problems ? "" : "clean, ", (unsigned long long)v.problems);
	fflush(stdout);
	return v.problems ? SPOOL_EXIT_NOT_FOUND : SPOOL_EXIT_OK;
}
