/*
 * tools/spool/salvage.c - a damaged segment's intact records, checked
 * against its index and written as one (salvage.h).
 *
 * Owns the tool's side of docs/SPOOL-FORMAT.md "Salvage": the same walk
 * and the same entries the server would make at start-up (core/), so an
 * index rewritten here is the one the server would have written, and the
 * .damage lines are core/'s.  Durability in the damage lines: a sealed
 * segment was synced whole before its index was written, so every range
 * in it counts as durable; a quarantined one says what its records prove.
 * Workload: one walk of a whole segment (mmapped by seg_reader).
 */
#define _GNU_SOURCE
#include "salvage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "spool_dir.h"
#include "spool_fs.h"

#define FIRST_CAP 64u

static int grow(void **p, size_t *cap, uint32_t count, size_t size)
{
	return grow_array(p, cap, (size_t)count + 1, size, FIRST_CAP) ? 0 : -ENOMEM;
}

static void note_dup(void *arg, const struct spool_index_entry *e)
{
	struct salvage_view *v = arg;
	v->dups[v->dup_count++] = *e; /* dups has room for every entry */
}

int salvage_view_build(struct salvage_view *v, const uint8_t *img, size_t len)
{
	struct spool_walker w;
	struct spool_item it;
	size_t cap = 0;
	int e = 0;
	memset(v, 0, sizeof *v);
	spool_walker_init(&w, img, len);
	while (e == 0 && spool_walker_next(&w, &it)) {
		if (it.kind != SPOOL_ITEM_RECORD) {
			e = grow((void **)&v->ranges, &v->range_cap, v->range_count, sizeof *v->ranges);
			if (e == 0)
				v->ranges[v->range_count++] = it;
			continue;
		}
		e = grow((void **)&v->entries, &cap, v->count, sizeof *v->entries);
		if (e == 0)
			spool_index_entry_of(&it.rec, it.offset, &v->entries[v->count++]);
		if (it.rec.synced_before > v->durable)
			v->durable = it.rec.synced_before;
	}
	v->dups = e == 0 ? malloc((v->count ? v->count : 1) * sizeof *v->dups) : NULL;
	if (e == 0 && v->dups == NULL)
		e = -ENOMEM;
	if (e == 0)
		v->count = spool_index_sort(v->entries, v->count, note_dup, v);
	return e;
}

void salvage_view_free(struct salvage_view *v)
{
	free(v->entries);
	free(v->ranges);
	free(v->dups);
	memset(v, 0, sizeof *v);
}

bool salvage_index_matches(const struct salvage_view *v, const struct seg_reader *r)
{
	if (r->state != SEG_SEALED || seg_reader_count(r) != v->count)
		return false;
	for (uint32_t i = 0; i < v->count; i++) { /* both sorted by queue ID */
		struct spool_index_entry e;
		const struct spool_index_entry *w = &v->entries[i];
		seg_reader_entry(r, i, &e);
		if (memcmp(e.qid, w->qid, sizeof e.qid) != 0 || e.offset != w->offset ||
		    e.record_len != w->record_len || e.received_us != w->received_us || e.meta_len != w->meta_len ||
		    e.flags != w->flags)
			return false;
	}
	return true;
}

/* The .damage text: one line per range and per dropped duplicate. */
static char *damage_text(const struct salvage_view *v, const struct seg_reader *r, size_t *len)
{
	size_t lines = (size_t)v->range_count + v->dup_count;
	char *text = malloc(lines * SPOOL_DAMAGE_LINE_MAX_BYTES + 1);
	uint64_t durable = r->state == SEG_SEALED ? UINT64_MAX : v->durable;
	*len = 0;
	for (uint32_t i = 0; text != NULL && i < v->range_count; i++) {
		struct spool_damage d;
		spool_damage_from_item(&v->ranges[i], r->shard, r->segno, durable, false, &d);
		*len += spool_damage_line(&d, text + *len, SPOOL_DAMAGE_LINE_MAX_BYTES);
	}
	for (uint32_t i = 0; text != NULL && i < v->dup_count; i++) {
		const struct spool_index_entry *e = &v->dups[i];
		struct spool_damage d = { .shard = r->shard,
					  .segno = r->segno,
					  .offset = e->offset,
					  .length = e->record_len,
					  .action = SPOOL_DAMAGE_DUPLICATE,
					  .durable = e->offset < durable };
		*len += spool_damage_line(&d, text + *len, SPOOL_DAMAGE_LINE_MAX_BYTES);
	}
	return text;
}

/* A quarantined segment with its index in place: back to NNNNNNNN.seg. */
static int unquarantine(const struct seg_reader *r)
{
	char from[SPOOL_DIR_NAME_BYTES], to[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(from, sizeof from, r->segno, "seg.corrupt");
	spool_dir_seg_name(to, sizeof to, r->segno, "seg");
	if (renameat2(r->dir_fd, from, r->dir_fd, to, RENAME_NOREPLACE) != 0)
		return -errno;
	return fsync(r->dir_fd) == 0 ? 0 : -errno;
}

int salvage_rewrite(const struct salvage_view *v, const struct seg_reader *r)
{
	char name[SPOOL_DIR_NAME_BYTES];
	struct stat st;
	size_t bytes = spool_index_bytes(v->count), dlen;
	uint64_t segno = 0;
	if (r->quarantined && (!spool_segment_header_ok(r->map, r->map_len, NULL, &segno) || segno != r->segno))
		return -EINVAL; /* an .idx needs a .seg, and this one cannot be one */
	if (fstat(r->fd, &st) != 0)
		return -errno;
	uint32_t mode = (uint32_t)st.st_mode & 0666u; /* the segment's own */
	uint8_t *img = malloc(bytes);
	char *dtext = damage_text(v, r, &dlen);
	int e = img && dtext ? 0 : -ENOMEM;
	if (e == 0) {
		spool_dir_seg_name(name, sizeof name, r->segno, "damage");
		e = spool_fs_replace(r->dir_fd, name, dtext, dlen, mode);
	}
	if (e == 0) {
		spool_index_encode(r->segno, v->entries, v->count, img);
		spool_dir_seg_name(name, sizeof name, r->segno, "idx");
		e = spool_fs_replace(r->dir_fd, name, img, bytes, mode);
	}
	if (e == 0 && r->quarantined)
		e = unquarantine(r);
	free(img);
	free(dtext);
	return e;
}
