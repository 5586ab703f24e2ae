/*
 * tests/io/spool_fake.c - the fake backend, the verdict double and the
 * on-disk checks of the spool writer tests (see spool_fake.h).
 *
 * Owns: test scaffolding only; every file is read back through core's
 * decoder (spool_record_decode, spool_index_decode, session_report_decode),
 * never through io/.  Allocation failure aborts: a fixture holds at most
 * FAKE_CONNS_MAX small messages.
 */
#define _GNU_SOURCE
#include "spool_fake.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "conn_int.h"
#include "session_harness.h"

#define FAKE_NOW_S 1000u /* the shard's monotonic clock at open */
#define FAKE_MAIL_FROM "sender@example.com"
#define FAKE_RCPT "rcpt@example.com"
#define FAKE_HELO "client.example"

static struct spool_fake *fake_of(struct shard *sh)
{
	return (struct spool_fake *)((char *)sh - offsetof(struct spool_fake, sh));
}

static struct smtp_view view(const char *s)
{
	return smtp_view_make(s, strlen(s));
}

/* The bytes of message conn's body: letters, a CRLF every 64 bytes. */
static void fake_body(unsigned conn, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = i % 64 == 62 ? '\r' : i % 64 == 63 ? '\n' : (uint8_t)('a' + (conn * 7u + i) % 26u);
}

/* What conn.c's fill_envelope() gives: the session's facts. */
static void fake_envelope(struct spool_envelope *env)
{
	memset(env, 0, sizeof *env);
	env->client_family = 4;
	env->client_port = 40000;
	env->client_addr[0] = 127;
	env->client_addr[3] = 1;
	env->helo = view(FAKE_HELO);
	env->protocol = view("ESMTP");
}

/* ---- the fake backend ---------------------------------------------------- */

static void fake_spool_write(struct shard *sh, struct spool_batch *b)
{
	struct spool_fake *f = fake_of(sh);
	f->overlaps += f->inflight != NULL;
	f->inflight = b;
	f->submitted++;
	f->last = (struct fake_batch){ b->segno, b->offset, b->bytes, b->count, b->iov_count, b->fsync, "", "" };
	if (b->head != NULL)
		memcpy(f->last.first_qid, b->head->qid, sizeof f->last.first_qid);
	if (b->tail != NULL)
		memcpy(f->last.last_qid, b->tail->qid, sizeof f->last.last_qid);
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.spool_write = fake_spool_write,
};

/* Write the first n bytes of the batch where it goes. */
static void fake_pwrite(const struct spool_batch *b, uint64_t n)
{
	uint8_t *flat = malloc(b->bytes ? b->bytes : 1);
	uint64_t at = 0;
	if (flat == NULL)
		abort();
	for (uint32_t i = 0; i < b->iov_count; i++) {
		memcpy(flat + at, b->iov[i].iov_base, b->iov[i].iov_len);
		at += b->iov[i].iov_len;
	}
	CHECK_U64(at, b->bytes);
	CHECK(pwrite(b->seg_fd, flat, n, (off_t)b->offset) == (ssize_t)n);
	free(flat);
}

void fake_write_done(struct spool_fake *f, enum fake_write how, int err)
{
	struct spool_batch *b = f->inflight;
	if (!CHECK(b != NULL))
		return;
	int res = err;
	if (how != FAKE_WRITE_ERROR) {
		uint64_t n = how == FAKE_WRITE_FULL ? b->bytes : b->bytes / 2;
		fake_pwrite(b, n);
		res = (int)n;
	}
	if (!b->fsync)
		f->inflight = NULL; /* the write was all: the batch is over */
	spool_on_write(&f->sh, b, res);
}

void fake_fsync_done(struct spool_fake *f, int err)
{
	struct spool_batch *b = f->inflight;
	if (!CHECK(b != NULL && b->fsync))
		return;
	f->inflight = NULL; /* the completion may submit the next batch */
	f->in_fsync_ok = err == 0;
	spool_on_fsync(&f->sh, b, err);
	f->in_fsync_ok = false;
}

void fake_batch_ok(struct spool_fake *f)
{
	bool sync = f->inflight != NULL && f->inflight->fsync;
	fake_write_done(f, FAKE_WRITE_FULL, 0);
	if (sync)
		fake_fsync_done(f, 0);
}

/* A record's queue ID, MAIL FROM and first RCPT, from its meta. */
struct fake_meta {
	struct smtp_view qid, from, rcpt;
};

static void fake_meta(const struct spool_record *rec, struct fake_meta *m)
{
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool bad = false;
	memset(m, 0, sizeof *m);
	while (spool_meta_next(rec, &pos, &tag, &v, &bad)) {
		if (tag == SPOOL_TAG_QUEUE_ID)
			m->qid = v;
		else if (tag == SPOOL_TAG_MAIL_FROM)
			m->from = v;
		else if (tag == SPOOL_TAG_RCPT && m->rcpt.ptr == NULL)
			m->rcpt = v;
	}
	CHECK(!bad);
}

/* io/conn_capture.c's, replaced: a message's spill write is done.  The
 * bodies here stay under a chunk, so nothing ever spills. */
void conn_capture_unblocked(struct conn *c)
{
	(void)c;
	fprintf(stderr, "spool_fake: a spill write in a test that never spills\n");
	abort();
}

/* ---- the verdict double --------------------------------------------------- */

/* Does message conn's record decode at its place in its segment file? */
static bool fake_on_disk(const struct spool_fake *f, unsigned conn)
{
	const struct fake_msg *m = &f->msgs[conn];
	size_t len;
	uint8_t *img = fake_read(f, m->segno, "seg", &len);
	struct spool_record rec;
	struct fake_meta meta;
	bool ok = img != NULL && m->offset < len &&
		  spool_record_decode(img + m->offset, len - m->offset, &rec) == SPOOL_OK &&
		  rec.record_len == m->record_len;
	if (ok) {
		fake_meta(&rec, &meta);
		ok = meta.qid.len == QUEUE_ID_LEN && memcmp(meta.qid.ptr, m->qid, QUEUE_ID_LEN) == 0;
	}
	free(img);
	return ok;
}

/* io/conn.c's, replaced: the spool answers a message here. */
void conn_on_verdict(struct conn *c, const struct spool_answer *ans)
{
	struct spool_fake *f = fake_of(c->shard);
	ptrdiff_t i = c - f->conns;
	if (i < 0 || (size_t)i >= f->conns_used) {
		f->unknown_conn++;
		return;
	}
	if (ans->code == 250) {
		f->early_250 += f->sh.spool.sync != SPOOL_SYNC_NONE && !f->in_fsync_ok;
		f->not_on_disk += !fake_on_disk(f, (unsigned)i);
	}
	if (f->verdict_count == FAKE_CONNS_MAX)
		abort(); /* more verdicts than connections */
	struct fake_verdict *v = &f->verdicts[f->verdict_count++];
	v->conn = (unsigned)i;
	v->code = ans->code;
	snprintf(v->text, sizeof v->text, "%s", ans->text != NULL ? ans->text : "");
	memcpy(v->qid, ans->qid, sizeof v->qid);
}

unsigned fake_verdicts_for(const struct spool_fake *f, unsigned conn, struct fake_verdict *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->verdict_count; i++)
		if (f->verdicts[i].conn == conn && n++ == 0)
			*out = f->verdicts[i];
	return n;
}

void fake_expect_verdict(const struct spool_fake *f, unsigned conn, uint16_t code, const char *text)
{
	struct fake_verdict v = { 0 };
	if (!CHECK_U64(fake_verdicts_for(f, conn, &v), 1))
		return;
	CHECK_U64(v.code, code);
	CHECK_STR(v.qid, strlen(v.qid), f->msgs[conn].qid);
	if (text != NULL)
		CHECK(strncmp(v.text, text, strlen(text)) == 0);
}

void fake_check_clean(const struct spool_fake *f)
{
	CHECK_U64(f->overlaps, 0);
	CHECK_U64(f->early_250, 0);
	CHECK_U64(f->not_on_disk, 0);
	CHECK_U64(f->unknown_conn, 0);
}

/* ---- the shard and its spool ------------------------------------------------ */

bool fake_open(struct spool_fake *f, enum spool_sync sync, uint64_t seg_size)
{
	memset(f, 0, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->top, sizeof f->top, "%s/smtpsink-spool-test-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(f->top) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", f->top, strerror(errno));
		return false;
	}
	snprintf(f->dir, sizeof f->dir, "%s/shard-%02u", f->top, FAKE_SHARD);
	f->cfg.spool_dir = f->top;
	f->cfg.segment_size = seg_size;
	f->cfg.sync = sync;
	f->cfg.shards = 1;
	f->cfg.node_id = FAKE_NODE;
	f->sh.index = FAKE_SHARD;
	f->sh.cfg = &f->cfg;
	f->sh.ops = &fake_ops;
	f->sh.shared = &f->shared;
	mem_budget_init(&f->shared.mem, 1ull << 30);
	mem_local_init(&f->sh.mem, &f->shared.mem);
	f->sh.now_s = FAKE_NOW_S;
	f->sh.now_ms = (uint64_t)FAKE_NOW_S * 1000u;
	f->sh.wall_us = FAKE_T0_US;
	int e = spool_open(&f->sh.spool, &f->cfg, FAKE_SHARD, f->sh.wall_us);
	if (e != 0) {
		fprintf(stderr, "spool_open %s: %s\n", f->top, strerror(-e));
		return false;
	}
	queue_id_init(&f->sh.qids, FAKE_NODE, FAKE_SHARD, f->sh.spool.qid_floor_us);
	f->conns = calloc(FAKE_CONNS_MAX, sizeof *f->conns);
	if (f->conns == NULL)
		abort();
	for (unsigned i = 0; i < FAKE_CONNS_MAX; i++)
		f->conns[i].shard = &f->sh;
	return true;
}

struct spool_fake *fake_new(const char *test, enum spool_sync sync, uint64_t seg_size)
{
	struct spool_fake *f = calloc(1, sizeof *f);
	if (f == NULL)
		abort();
	fprintf(stderr, "-- %s\n", test);
	if (!CHECK(fake_open(f, sync, seg_size))) {
		free(f);
		return NULL;
	}
	return f;
}

static int fake_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void fake_stop(struct spool_fake *f)
{
	if (!f->stopped)
		spool_close(&f->sh.spool);
	f->stopped = true;
}

void fake_close(struct spool_fake *f)
{
	fake_stop(f);
	free(f->conns);
	f->conns = NULL;
	nftw(f->top, fake_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void fake_free(struct spool_fake *f)
{
	fake_check_clean(f);
	fake_close(f);
	free(f);
}

void fake_advance_s(struct spool_fake *f)
{
	fake_advance_ms(f, 1000);
}

void fake_advance_ms(struct spool_fake *f, unsigned ms)
{
	f->sh.now_ms += ms;
	f->sh.now_s = f->sh.now_ms / 1000u;
	f->sh.wall_us += (uint64_t)ms * 1000u;
}

void fake_tick(struct spool_fake *f)
{
	spool_tick(&f->sh);
}

/* ---- messages and sessions -------------------------------------------------- */

unsigned fake_append(struct spool_fake *f, size_t body_len, struct spool_answer *ans, bool *decided)
{
	if (f->conns_used == FAKE_CONNS_MAX)
		abort();
	unsigned c = f->conns_used++;
	struct capture *cap = capture_begin(&f->sh, NULL, view(FAKE_MAIL_FROM), view(""), 0);
	uint8_t *body = malloc(body_len ? body_len : 1);
	if (cap == NULL || body == NULL)
		abort();
	capture_add_rcpt(cap, view(FAKE_RCPT), view(""));
	fake_body(c, body, body_len);
	if (body_len > 0) /* as conn.c: only BODY events add bytes */
		capture_add_body(cap, smtp_view_make((const char *)body, body_len));
	free(body);
	cap->conn = &f->conns[c];
	struct spool_envelope env;
	fake_envelope(&env);
	f->sh.wall_us++;
	*decided = spool_append(&f->sh, cap, &env, f->sh.wall_us, ans);
	struct fake_msg *m = &f->msgs[c];
	*m = (struct fake_msg){ .body_len = body_len, .queued = !*decided };
	if (!*decided || ans->code == 250) { /* the spool still holds cap */
		m->segno = cap->segno;
		m->offset = cap->offset;
		m->record_len = cap->record_len;
	}
	memcpy(m->qid, ans->qid, sizeof m->qid);
	return c;
}

unsigned fake_append_queued(struct spool_fake *f, size_t body_len)
{
	struct spool_answer ans;
	bool decided;
	unsigned c = fake_append(f, body_len, &ans, &decided);
	CHECK(!decided);
	return c;
}

uint64_t fake_record_len(size_t body_len)
{
	struct spool_envelope env;
	struct smtp_view rcpt = view(FAKE_RCPT), params = view("");
	fake_envelope(&env);
	env.qid = view("00000000000000");
	env.mail_from = view(FAKE_MAIL_FROM);
	env.mail_params = params;
	env.rcpts = &rcpt;
	env.rcpt_params = &params;
	env.rcpt_count = 1;
	return spool_record_len(&env, body_len);
}

void fake_new_sid(struct spool_fake *f, char sid[QUEUE_ID_LEN + 1])
{
	f->sh.wall_us++;
	queue_id_next(&f->sh.qids, f->sh.wall_us, sid);
}

bool fake_session(struct spool_fake *f, const char *sid)
{
	struct session_report r;
	memset(&r, 0, sizeof r);
	r.id = view(sid);
	r.connect_us = FAKE_T0_US;
	r.end_us = f->sh.wall_us;
	r.shard = FAKE_SHARD;
	r.node = FAKE_NODE;
	r.client_family = 4;
	r.helo = view(FAKE_HELO);
	r.helo_verb = SMTP_VERB_EHLO;
	r.end_reason = SMTP_REASON_QUIT;
	r.ended_by_client = true;
	return spool_append_session(&f->sh, &r);
}

/* ---- reading the files back ------------------------------------------------- */

static void fake_path(const struct spool_fake *f, uint64_t segno, const char *ext, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%08llu.%s", f->dir, (unsigned long long)segno, ext);
}

bool fake_exists(const struct spool_fake *f, uint64_t segno, const char *ext)
{
	char path[PATH_MAX + 48];
	fake_path(f, segno, ext, path, sizeof path);
	return access(path, F_OK) == 0;
}

uint8_t *fake_read(const struct spool_fake *f, uint64_t segno, const char *ext, size_t *len)
{
	char path[PATH_MAX + 48];
	struct stat st;
	fake_path(f, segno, ext, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	uint8_t *img = NULL;
	if (fstat(fd, &st) == 0 && (img = malloc((size_t)st.st_size + 1)) != NULL &&
	    read(fd, img, (size_t)st.st_size) != st.st_size) {
		free(img);
		img = NULL;
	}
	close(fd);
	*len = img != NULL ? (size_t)st.st_size : 0;
	return img;
}

/* The message fake_append() made with this queue ID, or NULL. */
static const struct fake_msg *fake_msg_by_qid(const struct spool_fake *f, struct smtp_view qid, unsigned *conn)
{
	for (unsigned i = 0; i < f->conns_used; i++)
		if (qid.len == QUEUE_ID_LEN && memcmp(f->msgs[i].qid, qid.ptr, QUEUE_ID_LEN) == 0) {
			*conn = i;
			return &f->msgs[i];
		}
	return NULL;
}

/* A decoded record is what the test queued under this queue ID. */
static void fake_check_record(const struct spool_fake *f, const struct spool_record *rec, const char *want_qid)
{
	struct fake_meta m;
	fake_meta(rec, &m);
	CHECK_STR(m.qid.ptr, m.qid.len, want_qid);
	if (rec->flags & SPOOL_FLAG_SESSION) {
		struct session_report_image *img = malloc(sizeof *img);
		if (img == NULL)
			abort();
		CHECK_U64(rec->body_len, 0);
		CHECK(session_report_decode(rec, img));
		CHECK_STR(img->r.id.ptr, img->r.id.len, want_qid);
		free(img);
		return;
	}
	unsigned conn = 0;
	const struct fake_msg *msg = fake_msg_by_qid(f, m.qid, &conn);
	if (!CHECK(msg != NULL))
		return;
	uint8_t *body = malloc(msg->body_len + 1);
	if (body == NULL)
		abort();
	fake_body(conn, body, msg->body_len);
	harness_check_mem(rec->body, rec->body_len, body, msg->body_len, __FILE__, __LINE__, "record body");
	free(body);
	CHECK_STR(m.from.ptr, m.from.len, FAKE_MAIL_FROM);
	CHECK_STR(m.rcpt.ptr, m.rcpt.len, FAKE_RCPT);
}

/* The sealed segment's index: one entry per record, at its offset, with
 * the record's facts (spool_index_decode() has checked the ID order). */
static void fake_check_index(const struct spool_fake *f, uint64_t segno, const struct spool_index_entry *want,
			     unsigned n)
{
	size_t len;
	uint8_t *idx = fake_read(f, segno, "idx", &len);
	uint64_t idx_segno = 0;
	const uint8_t *entries;
	uint32_t count = 0;
	if (!CHECK(idx != NULL) || !CHECK(spool_index_decode(idx, len, &idx_segno, &entries, &count))) {
		free(idx);
		return;
	}
	CHECK_U64(idx_segno, segno);
	CHECK_U64(count, n);
	unsigned matched = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct spool_index_entry e;
		spool_index_entry_get(entries, i, &e);
		for (unsigned k = 0; k < n; k++)
			matched += want[k].offset == e.offset && memcmp(want[k].qid, e.qid, sizeof e.qid) == 0 &&
				   want[k].record_len == e.record_len && want[k].meta_len == e.meta_len &&
				   want[k].flags == e.flags;
	}
	CHECK_U64(matched, n);
	free(idx);
}

void fake_check_segment(const struct spool_fake *f, uint64_t segno, const char *const *qids, unsigned n, bool sealed)
{
	size_t len;
	uint8_t *img = fake_read(f, segno, "seg", &len);
	if (!CHECK(img != NULL))
		return;
	uint32_t shard = ~0u;
	uint64_t hdr_segno = 0;
	CHECK(spool_segment_header_ok(img, len, &shard, &hdr_segno));
	CHECK_U64(hdr_segno, segno);
	CHECK_U64(shard, FAKE_SHARD);
	struct spool_index_entry *seen = calloc(n + 1, sizeof *seen);
	if (seen == NULL)
		abort();
	uint64_t off = SPOOL_SEGMENT_HEADER_BYTES;
	unsigned i = 0;
	while (off < len) {
		struct spool_record rec;
		enum spool_verdict v = spool_record_decode(img + off, len - off, &rec);
		if (v == SPOOL_END || !CHECK(v == SPOOL_OK))
			break;
		if (i < n) {
			struct fake_meta m;
			fake_check_record(f, &rec, qids[i]);
			fake_meta(&rec, &m);
			memcpy(seen[i].qid, m.qid.ptr, m.qid.len < sizeof seen[i].qid ? m.qid.len : sizeof seen[i].qid);
			seen[i].offset = off;
			seen[i].record_len = rec.record_len;
			seen[i].meta_len = rec.meta_len;
			seen[i].flags = rec.flags;
		}
		i++;
		off += rec.record_len;
	}
	CHECK_U64(i, n);
	if (sealed) {
		CHECK_U64(len, off); /* cut to its used length */
		fake_check_index(f, segno, seen, n);
	} else {
		/* preallocated in steps, up to --segment-size, past what it holds */
		CHECK(len >= off && len <= f->cfg.segment_size);
		CHECK(len == f->cfg.segment_size || len % SPOOL_SEGMENT_STEP_BYTES == 0);
		CHECK(!fake_exists(f, segno, "idx"));
	}
	free(seen);
	free(img);
}
