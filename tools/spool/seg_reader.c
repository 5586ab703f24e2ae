/*
 * tools/spool/seg_reader.c - reading one segment (seg_reader.h).
 *
 * Owns: mmapping sealed segments and their indexes, the incremental pread
 * scan of open segments, and the mapping of their validated prefix.
 * Invariant: nothing past scan_end of an open segment is ever mapped, and
 * every pointer handed out lies inside the mapping (seg_reader_bytes
 * checks), so a damaged index entry cannot make the tool read outside the
 * file.  Damage is skipped only through core/'s walker (spool_walker), on
 * the server's terms: past a proof of durability in a segment that may
 * still grow, past anything in a quarantined one.  The one way a validated prefix could shrink is a server that
 * poisons a segment after a failed write and cuts it below records it had
 * already written to the page cache; the tool then dies of SIGBUS.
 */
#define _GNU_SOURCE
#include "seg_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "session_out.h"
#include "spool_dir.h"

#define SCAN_FIRST_BYTES 4096u /* enough to see that nothing new arrived */
#define SCAN_WINDOW_MAX_BYTES (4u << 20)
#define SCAN_GROWTH 8u
#define RESYNC_FIRST_BYTES (256u << 10) /* the lookahead past a stop */
#define RESYNC_ZERO_RUN_BYTES (64u << 10) /* zeros that long: the unwritten rest */
#define RESYNC_GROWTH 4u

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

void seg_reader_name(const struct seg_reader *r, char *buf, size_t size)
{
	char name[SPOOL_DIR_NAME_BYTES];
	spool_dir_seg_name(name, sizeof name, r->segno, r->quarantined ? "seg.corrupt" : "seg");
	snprintf(buf, size, "shard-%02u/%s", r->shard, name);
}

static int map_fd(int fd, size_t len, const uint8_t **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static void unmap(const uint8_t **p, size_t *len)
{
	if (*p != NULL)
		munmap((void *)*p, *len);
	*p = NULL;
	*len = 0;
}

/* The .idx, if present and valid; -ENOENT without one. */
static int open_index(struct seg_reader *r)
{
	char name[SPOOL_DIR_NAME_BYTES];
	struct stat st;
	spool_dir_seg_name(name, sizeof name, r->segno, "idx");
	int fd = openat(r->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int e = fstat(fd, &st) == 0 ? map_fd(fd, (size_t)st.st_size, &r->idx_map) : -errno;
	close(fd);
	if (e != 0)
		return e;
	r->idx_len = (size_t)st.st_size;
	uint64_t segno = 0;
	if (r->idx_map == NULL || !spool_index_decode(r->idx_map, r->idx_len, &segno, &r->idx_entries, &r->idx_count) ||
	    segno != r->segno) {
		unmap(&r->idx_map, &r->idx_len);
		r->idx_count = 0;
		r->index_bad = true;
		return -EINVAL;
	}
	return 0;
}

static int open_sealed(struct seg_reader *r)
{
	int e = map_fd(r->fd, (size_t)r->file_bytes, &r->map);
	if (e != 0)
		return e;
	r->map_len = (size_t)r->file_bytes;
	uint64_t segno = 0;
	if (r->map == NULL || !spool_segment_header_ok(r->map, r->map_len, NULL, &segno) || segno != r->segno) {
		r->state = SEG_BAD_HEADER;
		return 0;
	}
	r->created_us = spool_segment_created_us(r->map);
	r->state = SEG_SEALED;
	return 0;
}

/* Open segment: the header, once it is there. */
static int read_header(struct seg_reader *r)
{
	uint8_t h[SPOOL_SEGMENT_HEADER_BYTES];
	ssize_t n = pread(r->fd, h, sizeof h, 0);
	if (n < 0)
		return -errno;
	uint64_t segno = 0;
	if (spool_segment_header_ok(h, (size_t)n, NULL, &segno) && segno == r->segno) {
		r->state = SEG_OPEN;
		r->scan_end = SPOOL_SEGMENT_HEADER_BYTES;
		r->created_us = spool_segment_created_us(h);
		return 0;
	}
	/* created, header not written yet: the server writes it right after */
	r->state = (size_t)n < sizeof h || all_zero(h, (size_t)n) ? SEG_NOT_READY : SEG_BAD_HEADER;
	return 0;
}

static int add_entry(struct seg_reader *r, uint64_t off, const struct spool_record *rec)
{
	if (!grow_array((void **)&r->ents, &r->ent_cap, (size_t)r->ent_count + 1, sizeof *r->ents, 1024))
		return -ENOMEM;
	spool_index_entry_of(rec, off, &r->ents[r->ent_count++]);
	return 0;
}

static int add_damage(struct seg_reader *r, const struct spool_item *it)
{
	if (!grow_array((void **)&r->damage, &r->damage_cap, (size_t)r->damage_count + 1, sizeof *r->damage, 16))
		return -ENOMEM;
	r->damage[r->damage_count++] =
		(struct seg_damage){ it->offset, it->length, it->why, it->kind == SPOOL_ITEM_TAIL };
	return 0;
}

/* A quarantined segment, at rest: mapped whole, walked past all damage. */
static int open_quarantined(struct seg_reader *r)
{
	struct spool_walker w;
	struct spool_item it;
	int e = map_fd(r->fd, (size_t)r->file_bytes, &r->map);
	r->map_len = (size_t)r->file_bytes;
	r->state = SEG_QUARANTINED;
	if (e != 0 || r->map == NULL)
		return e;
	if (spool_segment_header_ok(r->map, r->map_len, NULL, NULL))
		r->created_us = spool_segment_created_us(r->map);
	spool_walker_init(&w, r->map, r->map_len);
	while (e == 0 && spool_walker_next(&w, &it))
		e = it.kind == SPOOL_ITEM_RECORD ? add_entry(r, it.offset, &it.rec) : add_damage(r, &it);
	r->scan_end = r->map_len;
	return e;
}

int seg_reader_open(struct seg_reader *r, int shard_fd, uint32_t shard, uint64_t segno, bool quarantined)
{
	char name[SPOOL_DIR_NAME_BYTES];
	struct stat st;
	memset(r, 0, sizeof *r);
	r->dir_fd = shard_fd;
	r->shard = shard;
	r->segno = segno;
	r->quarantined = quarantined;
	r->scan_stop = SPOOL_END;
	spool_dir_seg_name(name, sizeof name, segno, quarantined ? "seg.corrupt" : "seg");
	r->fd = openat(shard_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st) != 0) {
		int e = -errno;
		seg_reader_close(r);
		return e;
	}
	r->file_bytes = (uint64_t)st.st_size;
	int e = quarantined ? open_quarantined(r) : open_index(r); /* a quarantined one has no index */
	if (e == 0 && !quarantined)
		e = open_sealed(r);
	else if (!quarantined && (e == -ENOENT || e == -EINVAL)) {
		r->state = SEG_NOT_READY; /* read_header() decides */
		e = seg_reader_refresh(r) < 0 ? -EIO : 0;
	}
	if (e != 0)
		seg_reader_close(r);
	return e;
}

void seg_reader_close(struct seg_reader *r)
{
	unmap(&r->map, &r->map_len);
	unmap(&r->idx_map, &r->idx_len);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->ents);
	free(r->win);
	free(r->damage);
	r->ents = NULL;
	r->win = NULL;
	r->damage = NULL;
	r->ent_count = r->ent_cap = r->damage_count = r->damage_cap = 0;
	r->idx_count = 0;
}

/* Read up to want bytes at off into the window; bytes read (less at the
 * end of the file) or -errno. */
static ssize_t read_window(struct seg_reader *r, size_t want, uint64_t off)
{
	if (want > r->win_cap) {
		uint8_t *p = realloc(r->win, want);
		if (p == NULL)
			return -ENOMEM;
		r->win = p;
		r->win_cap = want;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(r->fd, r->win + got, want - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Decode the records in one window; returns the verdict that stopped it
 * (OK: the window was used up) and the bytes consumed. */
static enum spool_verdict scan_window(struct seg_reader *r, size_t got, size_t *used, uint64_t *need, int *err)
{
	size_t pos = 0;
	struct spool_record rec;
	enum spool_verdict v = SPOOL_OK;
	*err = 0;
	while (pos < got && *err == 0) {
		v = spool_record_decode(r->win + pos, got - pos, &rec);
		if (v != SPOOL_OK)
			break;
		*err = add_entry(r, r->scan_end + pos, &rec);
		if (*err == 0)
			pos += (size_t)rec.record_len;
	}
	*used = pos;
	*need = v == SPOOL_SHORT && rec.record_len != 0 ? rec.record_len : SPOOL_RECORD_HEADER_BYTES;
	return v;
}

static int scan(struct seg_reader *r)
{
	size_t want = SCAN_FIRST_BYTES;
	for (;;) {
		ssize_t got = read_window(r, want, r->scan_end);
		if (got < 0)
			return (int)got;
		size_t used;
		uint64_t need;
		int err;
		enum spool_verdict v = scan_window(r, (size_t)got, &used, &need, &err);
		r->scan_end += used;
		if (err != 0)
			return err;
		bool full = (size_t)got == want;
		if (v == SPOOL_OK && !full) {
			r->scan_stop = SPOOL_END; /* the file ends after the last record */
			return 0;
		}
		if (v != SPOOL_OK && (v != SPOOL_SHORT || !full || (used == 0 && need <= want))) {
			r->scan_stop = v; /* END, damage, or a record still being written */
			return 0;
		}
		size_t next = want < SCAN_WINDOW_MAX_BYTES / SCAN_GROWTH ? want * SCAN_GROWTH : SCAN_WINDOW_MAX_BYTES;
		want = need > next ? (size_t)need : next;
	}
}

/* The last RESYNC_ZERO_RUN_BYTES of the window are zeros: the written part
 * of the segment ended before them. */
static bool ends_in_zeros(const uint8_t *p, size_t n)
{
	return n >= RESYNC_ZERO_RUN_BYTES && all_zero(p + n - RESYNC_ZERO_RUN_BYTES, RESYNC_ZERO_RUN_BYTES);
}

/* The window holds the bytes at scan_end, where the scan stopped.  1 if
 * the scan may go on: a record completed there meanwhile, or the stop is
 * damage a later record proves durable (recorded, scan_end moved to the
 * first valid record after it); 0 if nothing proves it (a write in
 * progress, or a tail the server would cut); -errno. */
static int resync_window(struct seg_reader *r, size_t got)
{
	struct spool_walker w;
	struct spool_item it, first = { 0 };
	uint64_t next = 0, proof = 0;
	spool_walker_init_at(&w, r->win, got, r->scan_end);
	while (spool_walker_next(&w, &it)) {
		if (it.kind != SPOOL_ITEM_RECORD) {
			if (first.length == 0)
				first = it;
			continue;
		}
		if (it.offset == r->scan_end)
			return 1;
		if (next == 0)
			next = it.offset;
		if (it.rec.synced_before > proof)
			proof = it.rec.synced_before;
	}
	if (next == 0 || proof <= r->scan_end)
		return 0;
	int e = add_damage(r, &first); /* first ends at next */
	if (e == 0)
		r->scan_end = next;
	return e == 0 ? 1 : e;
}

/* Look past a stop of the scan, in growing windows, until a proof, a run
 * of zeros or the end of the file. */
static int resync(struct seg_reader *r)
{
	struct stat st;
	if (fstat(r->fd, &st) != 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	for (size_t want = RESYNC_FIRST_BYTES; r->scan_end < size; want *= RESYNC_GROWTH) {
		uint64_t left = size - r->scan_end;
		if (want > left)
			want = (size_t)left;
		ssize_t got = read_window(r, want, r->scan_end);
		if (got < 0)
			return (int)got;
		int k = resync_window(r, (size_t)got);
		if (k != 0)
			return k;
		if ((uint64_t)got >= left || (size_t)got < want || ends_in_zeros(r->win, (size_t)got))
			return 0;
	}
	return 0;
}

/* Map the validated prefix of an open segment. */
static int remap(struct seg_reader *r)
{
	if (r->scan_end <= r->map_len)
		return 0;
	unmap(&r->map, &r->map_len);
	int e = map_fd(r->fd, (size_t)r->scan_end, &r->map);
	if (e == 0)
		r->map_len = (size_t)r->scan_end;
	return e;
}

int seg_reader_refresh(struct seg_reader *r)
{
	if (r->state == SEG_SEALED || r->state == SEG_BAD_HEADER || r->state == SEG_QUARANTINED)
		return 0;
	if (r->state == SEG_NOT_READY) {
		int e = read_header(r);
		if (e != 0 || r->state != SEG_OPEN)
			return e;
	}
	uint32_t before = r->ent_count;
	int e = scan(r), k = 1;
	while (e == 0 && k > 0 && (k = resync(r)) > 0)
		e = scan(r);
	if (e == 0)
		e = k < 0 ? k : remap(r);
	struct stat st;
	if (fstat(r->fd, &st) == 0)
		r->file_bytes = (uint64_t)st.st_size;
	return e < 0 ? e : (int)(r->ent_count - before);
}

int seg_reader_map_whole(struct seg_reader *r)
{
	if (r->map != NULL && r->map_len == r->file_bytes)
		return 0;
	unmap(&r->map, &r->map_len);
	int e = map_fd(r->fd, (size_t)r->file_bytes, &r->map);
	if (e == 0)
		r->map_len = (size_t)r->file_bytes;
	return e;
}

uint32_t seg_reader_count(const struct seg_reader *r)
{
	return r->state == SEG_SEALED ? r->idx_count : r->ent_count;
}

void seg_reader_entry(const struct seg_reader *r, uint32_t i, struct spool_index_entry *e)
{
	if (r->state == SEG_SEALED)
		spool_index_entry_get(r->idx_entries, i, e);
	else
		*e = r->ents[i];
}

const uint8_t *seg_reader_bytes(const struct seg_reader *r, uint64_t off, uint64_t len)
{
	if (r->map == NULL || off > r->map_len || len > r->map_len - off)
		return NULL;
	return r->map + off;
}

long seg_reader_find(const struct seg_reader *r, const char *qid, size_t qid_len)
{
	if (r->state == SEG_SEALED)
		return spool_index_find(r->idx_entries, r->idx_count, qid, qid_len);
	if (qid_len > MSG_QID_BYTES)
		return -1;
	for (uint32_t i = 0; i < r->ent_count; i++)
		if (strnlen(r->ents[i].qid, MSG_QID_BYTES) == qid_len && memcmp(r->ents[i].qid, qid, qid_len) == 0)
			return (long)i;
	return -1;
}

enum msg_status seg_reader_msg(const struct seg_reader *r, const struct spool_index_entry *e, bool verify,
			       struct msg *m)
{
	const uint8_t *p = seg_reader_bytes(r, e->offset, e->record_len);
	enum msg_status st = msg_decode(m, p, p ? e->record_len : 0, e, verify);
	m->shard = r->shard;
	m->segno = r->segno;
	m->offset = e->offset;
	return st;
}

enum msg_status seg_reader_session(const struct seg_reader *r, const struct spool_index_entry *e,
				   struct session_view *s)
{
	const uint8_t *p = seg_reader_bytes(r, e->offset, e->record_len);
	struct spool_record rec;
	s->shard = r->shard;
	s->segno = r->segno;
	s->offset = e->offset;
	if (p == NULL || e->record_len < SPOOL_RECORD_HEADER_BYTES)
		return MSG_OUT_OF_RANGE;
	enum spool_verdict v = spool_record_decode(p, (size_t)e->record_len, &rec);
	if (v != SPOOL_OK)
		return v == SPOOL_BAD_CHECKSUM ? MSG_BAD_CHECKSUM : MSG_BAD_HEADER;
	if (rec.record_len != e->record_len || rec.flags != e->flags || !(rec.flags & SPOOL_FLAG_SESSION))
		return MSG_MISMATCH;
	if (!session_report_decode(&rec, &s->img))
		return MSG_BAD_META;
	struct smtp_view id = s->img.r.id;
	size_t qlen = strnlen(e->qid, MSG_QID_BYTES);
	return id.len == qlen && memcmp(id.ptr, e->qid, qlen) == 0 ? MSG_OK : MSG_MISMATCH;
}
