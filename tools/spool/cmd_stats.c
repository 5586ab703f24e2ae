/*
 * tools/spool/cmd_stats.c - `stats [--json]`: messages, message bytes,
 * disk bytes, segments (sealed / open), quarantined and cut files, and the
 * time range, per shard and in total.
 *
 * Owns: the tallies (session reports are not messages: not counted; the
 * intact messages of quarantined segments are, as ls lists them; prune
 * counts the same way, cmd_prune.c).
 * Message counts and times come from the indexes of
 * sealed segments (and the scan of open ones); message bytes need each
 * record's 48-byte header (the index holds the record length, not the
 * body length), so each record's head is read, never its body.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "json_out.h"
#include "report.h"
#include "seg_reader.h"
#include "spool_cli.h"
#include "spool_dir.h"
#include "spool_set.h"
#include "when.h"

struct tally {
	uint64_t messages, bytes, disk_bytes, sealed, open, corrupt, cut, damaged;
	uint64_t damage_files, damaged_ranges;
	uint64_t oldest_us, newest_us; /* oldest 0: no message */
};

static void tally_msg(struct tally *t, uint64_t received_us, uint64_t body_len)
{
	t->messages++;
	t->bytes += body_len;
	if (t->oldest_us == 0 || received_us < t->oldest_us)
		t->oldest_us = received_us;
	if (received_us > t->newest_us)
		t->newest_us = received_us;
}

static void tally_add(struct tally *sum, const struct tally *t)
{
	uint64_t oldest = sum->oldest_us, newest = sum->newest_us;
	sum->messages += t->messages;
	sum->bytes += t->bytes;
	sum->disk_bytes += t->disk_bytes;
	sum->sealed += t->sealed;
	sum->open += t->open;
	sum->corrupt += t->corrupt;
	sum->cut += t->cut;
	sum->damaged += t->damaged;
	sum->damage_files += t->damage_files;
	sum->damaged_ranges += t->damaged_ranges;
	sum->oldest_us = oldest == 0 || (t->oldest_us != 0 && t->oldest_us < oldest) ? t->oldest_us : oldest;
	sum->newest_us = t->newest_us > newest ? t->newest_us : newest;
}

/* A segment, or a quarantined one (counted as a corrupt file; its intact
 * messages count like any others: ls lists them). */
static void tally_segment(struct tally *t, int fd, uint32_t shard, uint64_t segno, bool quarantined)
{
	struct seg_reader r;
	if (seg_reader_open(&r, fd, shard, segno, quarantined) != 0)
		return;
	t->disk_bytes += r.file_bytes;
	if (quarantined)
		t->corrupt++;
	else if (r.state == SEG_SEALED)
		t->sealed++;
	else
		t->open++;
	t->damaged_ranges += r.damage_count;
	uint32_t n = seg_reader_count(&r);
	for (uint32_t i = 0; i < n; i++) {
		struct spool_index_entry e;
		struct msg m;
		seg_reader_entry(&r, i, &e);
		if (e.flags & SPOOL_FLAG_SESSION)
			continue; /* a session report, not a message */
		if (seg_reader_msg(&r, &e, false, &m) == MSG_OK)
			tally_msg(t, e.received_us, m.rec.body_len);
		else
			t->damaged++;
	}
	seg_reader_close(&r);
}

static int tally_shard(struct tally *t, int fd, uint32_t shard)
{
	struct spool_file *files;
	size_t n;
	memset(t, 0, sizeof *t);
	int e = spool_dir_files(fd, &files, &n);
	for (size_t i = 0; e == 0 && i < n; i++) {
		struct stat st;
		enum spool_file_kind k = files[i].kind;
		if (k == SPOOL_FILE_SEG || k == SPOOL_FILE_CORRUPT)
			tally_segment(t, fd, shard, files[i].segno, k == SPOOL_FILE_CORRUPT);
		else if (k == SPOOL_FILE_CUT)
			t->cut++;
		else if (k == SPOOL_FILE_DAMAGE)
			t->damage_files++;
		if (k != SPOOL_FILE_SEG && k != SPOOL_FILE_CORRUPT &&
		    fstatat(fd, files[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			t->disk_bytes += (uint64_t)st.st_size;
	}
	free(files);
	return e;
}

static void print_time_json(const char *key, uint64_t us)
{
	char when[WHEN_TEXT_BYTES];
	if (us == 0) {
		printf(",\"%s\":null,\"%s_us\":null", key, key);
		return;
	}
	when_iso(us, true, when, sizeof when);
	printf(",\"%s\":\"%s\",\"%s_us\":%llu", key, when, key, (unsigned long long)us);
}

static void print_json(const struct tally *t)
{
	printf("\"messages\":%llu,\"bytes\":%llu,\"disk_bytes\":%llu,\"segments\":%llu,\"sealed_segments\":%llu,"
	       "\"open_segments\":%llu,\"corrupt_files\":%llu,\"cut_files\":%llu,\"damaged_records\":%llu,"
	       "\"damage_files\":%llu,\"damaged_ranges\":%llu",
	       (unsigned long long)t->messages, (unsigned long long)t->bytes, (unsigned long long)t->disk_bytes,
	       (unsigned long long)(t->sealed + t->open), (unsigned long long)t->sealed, (unsigned long long)t->open,
	       (unsigned long long)t->corrupt, (unsigned long long)t->cut, (unsigned long long)t->damaged,
	       (unsigned long long)t->damage_files, (unsigned long long)t->damaged_ranges);
	print_time_json("oldest", t->oldest_us);
	print_time_json("newest", t->newest_us);
}

static void print_human(const char *label, const struct tally *t)
{
	char oldest[WHEN_TEXT_BYTES] = "-", newest[WHEN_TEXT_BYTES] = "-";
	if (t->messages) {
		when_iso(t->oldest_us, false, oldest, sizeof oldest);
		when_iso(t->newest_us, false, newest, sizeof newest);
	}
	printf("%-9s %10llu %14llu %14llu %6llu %4llu  %-20s  %-20s", label, (unsigned long long)t->messages,
	       (unsigned long long)t->bytes, (unsigned long long)t->disk_bytes, (unsigned long long)t->sealed,
	       (unsigned long long)t->open, oldest, newest);
	if (t->corrupt || t->cut || t->damaged || t->damage_files || t->damaged_ranges)
		printf("  (%llu corrupt, %llu cut, %llu damaged, %llu salvaged, %llu ranges skipped: run verify)",
		       (unsigned long long)t->corrupt, (unsigned long long)t->cut, (unsigned long long)t->damaged,
		       (unsigned long long)t->damage_files, (unsigned long long)t->damaged_ranges);
	putchar('\n');
}

/* The rows of one spool's shards, added to sum; merged: several spools,
 * each row names its spool (JSON "spool"; a heading line for people). */
static int stats_spool(const struct spool_dir *d, bool json, bool merged, struct tally *sum, bool *first)
{
	struct tally t;
	if (merged && !json)
		printf("spool %s:\n", d->path);
	for (uint32_t i = 0; i < d->shard_count; i++) {
		int e = d->shard_fd[i] < 0 ? -EIO : tally_shard(&t, d->shard_fd[i], d->shards[i]);
		if (e != 0) {
			report_error("stats: cannot read %s: %s", d->path, strerror(e < 0 ? -e : EIO));
			return -EIO;
		}
		char label[16];
		snprintf(label, sizeof label, "shard-%02u", d->shards[i]);
		if (json) {
			printf("%s{", *first ? "" : ",");
			if (merged) {
				fputs("\"spool\":", stdout);
				json_out_str(stdout, (const uint8_t *)d->path, strlen(d->path));
				putchar(',');
			}
			printf("\"shard\":%u,", d->shards[i]);
			print_json(&t);
			putchar('}');
		} else {
			print_human(label, &t);
		}
		*first = false;
		tally_add(sum, &t);
	}
	return 0;
}

static int stats_run(const struct spool_set *set, bool json)
{
	struct tally sum = { 0 };
	bool first = true;
	if (!json)
		printf("%-9s %10s %14s %14s %6s %4s  %-20s  %-20s\n", "SHARD", "MESSAGES", "BYTES", "DISK BYTES",
		       "SEALED", "OPEN", "OLDEST (UTC)", "NEWEST (UTC)");
	else
		printf("{\"shards\":[");
	for (size_t s = 0; s < set->count; s++)
		if (stats_spool(&set->dirs[s], json, set->count > 1, &sum, &first) != 0)
			return -EIO;
	if (json) {
		printf("],");
		print_json(&sum);
		printf("}\n");
	} else {
		print_human("total", &sum);
	}
	return 0;
}

int cmd_stats(const struct cmd_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	struct cli c;
	spool_cli_init(&c, "stats", NULL, "Messages, bytes, segments and time range, per shard and in total.");
	cli_add(&c, cli_flag("json", &json, "one JSON object (docs/SPOOL-TOOL.md)"));
	size_t npos;
	int rc = cli_parse(&c, argc, argv, NULL, 0, &npos);
	if (rc != 0)
		return rc > 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_USAGE;
	struct spool_set set;
	rc = spool_set_open(&set, ctx);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	int e = stats_run(&set, json);
	spool_set_close(&set);
	if (e != 0)
		return SPOOL_EXIT_IO;
	return fflush(stdout) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_IO;
}
