/*
 * tests/index/test_index_phases.c - indexing in two phases, and deletion
 * in two steps (index/indexer.h, index/index_doc.h, index/index_body.c).
 *
 * Owns:
 *  - phase 1 from a record's head: the fields the header reader gives
 *    (RFC 2047 subject and names, quoted names with commas, groups,
 *    Message-ID without <>, Bcc from the envelope; at most
 *    INDEX_DOC_HEAD_ADDRS_MAX mailboxes); the row listed, counted
 *    and found by header terms at once, before its trigrams (the rows past
 *    meta.trigram_through are checked directly) and after them; free text
 *    and has:attachment not seeing it until phase 2;
 *  - phase 2: snippet, attachments, free text filled; a field GMime reads
 *    differently (an ISO-8859-2 encoded word the head reader leaves as it
 *    is) overwritten, its trigram entries replaced (FTS5 integrity-check);
 *  - deleting everything: hidden at once (count, list, get, latest, raw),
 *    rows still there until purged in chunks; one message deleted: the
 *    same; later mail visible;
 *  - the indexer: a backlog of phase-2 work does not hold back phase 1 of
 *    new mail (it is listed while the backlog still waits) nor another
 *    connection's marks; stopped in the middle of phase 2, a restart
 *    finishes it; everything deleted while it runs is purged by it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "index_doc.h"
#include "index_support.h"
#include "indexer.h"
#include "mail_index_int.h"
#include "search_query.h"

#define T0 1765000000000000ull
#define WAIT_MS 60000u
#define BACKLOG_SEGS 160u
#define PER_SEG 60u

static const char rich[] =
	"From: =?UTF-8?Q?Ren=C3=A9e?= Dupont <renee@example.com>\r\n"
	"To: \"Smith, Alice\" <alice@example.org>, team: bob@example.org (Bob B);\r\n"
	"Cc: =?ISO-8859-2?Q?Tom=E1=B9?= <tomas@example.cz>\r\n"
	"Subject: =?UTF-8?B?UGFzc3dvcmQgcsOpc2V0?= now\r\nMessage-ID: <rich-1@example.com>\r\n"
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
	"--XX\r\nContent-Type: text/plain\r\n\r\nClick the zanzibar link.\r\n"
	"--XX\r\nContent-Type: application/pdf; name=a.pdf\r\n"
	"Content-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"JVBERi0xLjQK\r\n--XX--\r\n";
static const char plain[] = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
			    "Subject: Hello\r\nMessage-ID: <p@x>\r\n\r\nOrdinary quokka text.\r\n";

static uint64_t count_q(struct mail_index *ix, const char *query)
{
	static struct search_query q;
	size_t at;
	uint64_t total = 0, unread;
	CHECK(search_query_parse(query, strlen(query), &q, &at) == SEARCH_OK);
	CHECK(mail_index_count(ix, &q, &total, &unread) == 0);
	return total;
}

struct page {
	unsigned n;
	struct mail_summary last; /* its strings are gone: copied below */
	char snippet[128], to_json[256], from_name[64], from_address[64], subject[64], message_id[64];
};

static int page_row(void *arg, const struct mail_summary *s)
{
	struct page *p = arg;
	p->n++;
	p->last = *s;
	snprintf(p->snippet, sizeof p->snippet, "%s", s->snippet);
	snprintf(p->to_json, sizeof p->to_json, "%s", s->to_json);
	snprintf(p->from_name, sizeof p->from_name, "%s", s->from_name);
	snprintf(p->from_address, sizeof p->from_address, "%s", s->from_address);
	snprintf(p->subject, sizeof p->subject, "%s", s->subject);
	snprintf(p->message_id, sizeof p->message_id, "%s", s->message_id);
	return 0;
}

/* Rows listed by a query (NULL: all), one page of 100. */
static unsigned list_q(struct mail_index *ix, const char *query, struct page *p)
{
	static struct search_query q;
	size_t at;
	memset(p, 0, sizeof *p);
	if (query != NULL)
		CHECK(search_query_parse(query, strlen(query), &q, &at) == SEARCH_OK);
	CHECK(mail_index_search(ix, query != NULL ? &q : NULL, 0, 100, page_row, p) == 0);
	return p->n;
}

static bool fts_ok(struct mail_index *ix)
{
	return index_exec(ix, "INSERT INTO fts_addr(fts_addr) VALUES('integrity-check');"
			      "INSERT INTO fts_text(fts_text) VALUES('integrity-check')") == 0;
}

static int64_t sql_int(struct mail_index *ix, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Phase 1 of entry k of s, as the indexer does it (head decode). */
static void add_head(struct mail_index *ix, struct index_doc_store *st, const struct tseg *s, unsigned k)
{
	struct msg m;
	struct index_doc d;
	const struct spool_index_entry *e = &s->ents[k];
	CHECK(msg_decode(&m, s->img.p + e->offset, e->record_len, e, false) == MSG_OK);
	m.shard = s->shard;
	m.segno = s->segno;
	m.offset = e->offset;
	CHECK(index_doc_build_head(&d, st, &m) == 0 && d.phase == 1);
	CHECK(index_add(ix, &d) == 1);
}

/* Phase 2 of every waiting row, as the indexer does it. */
static unsigned run_body(struct mail_index *ix, struct index_doc_store *st, const char *spool)
{
	struct index_pending p[8];
	int n = index_body_pending(ix, 0, p, 8);
	CHECK(n >= 0 && index_begin(ix) == 0);
	for (int i = 0; i < n; i++) {
		struct msg m;
		struct index_doc d;
		uint8_t *rec = NULL;
		int fd = index_raw_open_segment(spool, &p[i].at);
		CHECK(fd >= 0 && index_raw_read_record(fd, &p[i].at, &rec, &m) == 0);
		CHECK(index_doc_build(&d, st, &m) == 0 && d.phase == 2);
		CHECK(index_body_set(ix, &p[i], &d) == 0);
		free(rec);
		close(fd);
	}
	CHECK(index_commit(ix) == 0);
	return n > 0 ? (unsigned)n : 0;
}

static void check_head_fields(struct mail_index *ix, const char *qid)
{
	struct page p = { 0 };
	CHECK(mail_index_get(ix, qid, page_row, &p) == 0);
	CHECK(strcmp(p.subject, "Password réset now") == 0);
	CHECK(strcmp(p.from_name, "Renée Dupont") == 0 && strcmp(p.from_address, "renee@example.com") == 0);
	CHECK(strcmp(p.message_id, "rich-1@example.com") == 0);
	CHECK(strcmp(p.to_json, "[{\"Name\":\"Smith, Alice\",\"Address\":\"alice@example.org\"},"
				"{\"Name\":\"Bob B\",\"Address\":\"bob@example.org\"}]") == 0);
	/* no body phase yet: the summary reads snippet and attachments from the
	 * message itself, as phase 2 will store them */
	CHECK(strstr(p.snippet, "zanzibar") != NULL && p.last.attachments == 1);
}

/* Phase 1 rows served at once, before and after their trigrams; phase 2
 * completing them. */
static void test_phases(void)
{
	char spool[TSPOOL_PATH_BYTES], qids[2][QUEUE_ID_LEN + 1];
	const char *err;
	struct mail_index *ix;
	struct tseg s;
	struct page p;
	struct index_doc_store *st = index_doc_store_new();
	tspool_make(spool, sizeof spool, "phases");
	tseg_init(&s, 0, 1, T0);
	tseg_add(&s, T0 + 10, "hidden@example.net", rich, false, qids[0]);
	tseg_add(&s, T0 + 20, "bob@example.org", plain, false, qids[1]);
	tseg_write(&s, spool, true);
	CHECK(st != NULL && mail_index_open(&ix, spool, &err) == 0);
	CHECK(index_begin(ix) == 0);
	add_head(ix, st, &s, 0);
	add_head(ix, st, &s, 1);
	CHECK(index_commit(ix) == 0);
	/* phase 1, no trigrams yet */
	check_head_fields(ix, qids[0]);
	CHECK_U64(sql_int(ix, "SELECT count(*) FROM message WHERE phase = 0"), 2);
	CHECK_U64(list_q(ix, NULL, &p), 2);
	CHECK_U64(count_q(ix, "to:alice@example.org"), 1);
	CHECK_U64(count_q(ix, "to:\"Smith, Alice\""), 1);
	CHECK_U64(count_q(ix, "bcc:hidden@example"), 1); /* envelope only */
	CHECK_U64(count_q(ix, "from:renée"), 1);
	CHECK_U64(count_q(ix, "subject:réset"), 1);
	CHECK_U64(count_q(ix, "message-id:rich-1"), 1);
	CHECK_U64(count_q(ix, "zanzibar"), 0); /* free text: phase 2 */
	CHECK_U64(count_q(ix, "has:attachment"), 0);
	/* its trigrams */
	CHECK(index_begin(ix) == 0);
	CHECK(index_trigram_slice(ix, 1) == 1 && index_trigram_slice(ix, 10) == 1 && index_trigram_slice(ix, 10) == 0);
	CHECK(index_commit(ix) == 0);
	CHECK_U64(sql_int(ix, "SELECT value FROM meta WHERE key = 'trigram_through'"), 2);
	CHECK_U64(count_q(ix, "to:bob@example.org"), 2);
	CHECK_U64(count_q(ix, "to:zzqqxx"), 0);
	CHECK_U64(count_q(ix, "cc:=?ISO-8859-2?Q"), 1); /* the head reader does not decode that charset */
	CHECK(fts_ok(ix));
	/* phase 2 */
	CHECK_U64(run_body(ix, st, spool), 2);
	CHECK_U64(run_body(ix, st, spool), 0);
	CHECK_U64(count_q(ix, "zanzibar"), 1);
	CHECK_U64(count_q(ix, "quokka"), 1);
	CHECK_U64(count_q(ix, "has:attachment"), 1);
	CHECK_U64(count_q(ix, "cc:=?ISO-8859-2?Q"), 0); /* GMime's reading replaced it, trigrams too */
	CHECK_U64(count_q(ix, "cc:tomáš"), 1);
	CHECK_U64(count_q(ix, "to:bob@example.org"), 2);
	CHECK(mail_index_get(ix, qids[0], page_row, &p) == 0 && p.last.attachments == 1);
	CHECK(strstr(p.snippet, "zanzibar") != NULL);
	CHECK(fts_ok(ix));
	mail_index_close(ix);
	index_doc_store_free(st);
	tseg_free(&s);
	tspool_rm(spool);
}

/* The mailboxes phase 1 keeps per message (From's included), at the
 * bound -1, 0, +1. */
static void test_head_bound(void)
{
	struct index_doc_store *st = index_doc_store_new();
	const unsigned lims[] = { INDEX_DOC_HEAD_ADDRS_MAX - 1, INDEX_DOC_HEAD_ADDRS_MAX,
				  INDEX_DOC_HEAD_ADDRS_MAX + 1 };
	for (unsigned k = 0; k < 3; k++) {
		char *body = NULL, qid[QUEUE_ID_LEN + 1];
		size_t len = 0;
		FILE *f = open_memstream(&body, &len);
		fputs("From: a@x\r\nTo: ", f);
		for (unsigned i = 0; i < lims[k]; i++)
			fprintf(f, "%sU%u <u%u@x>", i ? ",\r\n " : "", i, i);
		fputs("\r\nSubject: many\r\n\r\nbody\r\n", f);
		fclose(f);
		struct tseg s;
		struct msg m;
		struct index_doc d;
		tseg_init(&s, 0, 1, T0);
		tseg_add(&s, T0 + 1, "u0@x", body, false, qid);
		const struct spool_index_entry *e = &s.ents[0];
		CHECK(msg_decode(&m, s.img.p + e->offset, e->record_len, e, false) == MSG_OK);
		CHECK(index_doc_build_head(&d, st, &m) == 0);
		unsigned n = 0;
		for (const char *p = d.to_json; (p = strstr(p, "\"Address\"")) != NULL; p++)
			n++;
		CHECK_U64(n, lims[k] < INDEX_DOC_HEAD_ADDRS_MAX - 1 ? lims[k] : INDEX_DOC_HEAD_ADDRS_MAX - 1);
		CHECK(strcmp(d.subject, "many") == 0);
		tseg_free(&s);
		free(body);
	}
	index_doc_store_free(st);
}

/* A doc of a message that is not in the spool (the rows are all this
 * test needs). */
static void fake_doc(struct index_doc *d, unsigned i)
{
	memset(d, 0, sizeof *d);
	snprintf(d->qid, sizeof d->qid, "F%015u", i);
	d->received_us = (int64_t)T0 + i;
	d->subject = i % 2 ? "odd one" : "even one";
	d->to_text = i % 2 ? "<odd@example.org>" : "<even@example.org>";
	d->body_text = "words";
	d->segno = 1;
}

/* Deleting everything: hidden at once, purged in chunks; then one. */
static void test_delete_fast(void)
{
	char spool[TSPOOL_PATH_BYTES];
	const char *err;
	struct mail_index *ix, *other;
	struct index_doc d;
	struct page p;
	uint64_t total, unread;
	tspool_make(spool, sizeof spool, "purge");
	CHECK(mail_index_open(&ix, spool, &err) == 0 && mail_index_open(&other, spool, &err) == 0);
	CHECK(index_begin(ix) == 0);
	for (unsigned i = 0; i < 2500; i++) {
		fake_doc(&d, i);
		CHECK(index_add(ix, &d) == 1);
	}
	CHECK(index_commit(ix) == 0);
	CHECK(mail_index_count(other, NULL, &total, &unread) == 0 && total == 2500);
	CHECK(mail_index_delete(other, NULL, 0) == 0);
	/* hidden at once for every connection, though no row was deleted */
	CHECK_U64(sql_int(ix, "SELECT count(*) FROM message"), 2500);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 0 && unread == 0);
	CHECK_U64(count_q(ix, "to:odd@example.org"), 0);
	CHECK_U64(count_q(ix, "words"), 0);
	CHECK_U64(list_q(ix, NULL, &p), 0);
	CHECK(mail_index_get(ix, "F000000000000007", page_row, &p) == -ENOENT);
	CHECK(mail_index_get(ix, "latest", page_row, &p) == -ENOENT);
	struct mail_summary gone = { .qid = "F000000000000007", .received_us = (int64_t)T0 + 7, .segno = 1 };
	uint8_t *body;
	size_t len;
	CHECK(mail_index_raw(ix, &gone, &body, &len) == -ENOENT);
	/* purged in chunks, never visible meanwhile */
	CHECK(index_purge(ix, 1000) == 1000);
	CHECK(mail_index_count(other, NULL, &total, &unread) == 0 && total == 0);
	CHECK(index_purge(ix, 1000) == 1000 && index_purge(ix, 1000) == 500 && index_purge(ix, 1000) == 0);
	CHECK_U64(sql_int(ix, "SELECT count(*) FROM message"), 0);
	CHECK(fts_ok(ix));
	/* mail received after the mark is there; deleting one hides it */
	CHECK(index_begin(ix) == 0);
	fake_doc(&d, 1000000000u); /* received long after the mark? no: T0 + 1e9 us, still before now */
	CHECK(index_add(ix, &d) == 0); /* received before the delete-all mark: never indexed again */
	CHECK(index_commit(ix) == 0);
	CHECK(index_begin(ix) == 0);
	fake_doc(&d, 7);
	snprintf(d.qid, sizeof d.qid, "LATE000000000001");
	d.received_us = INT64_MAX / 2; /* after the mark */
	CHECK(index_add(ix, &d) == 1);
	CHECK(index_commit(ix) == 0);
	CHECK(mail_index_count(other, NULL, &total, &unread) == 0 && total == 1 && unread == 1);
	CHECK_U64(count_q(other, "to:odd@example.org"), 1);
	const char *one[] = { "LATE000000000001" };
	CHECK(mail_index_delete(other, one, 1) == 0);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 0 && unread == 0);
	CHECK(mail_index_get(ix, one[0], page_row, &p) == -ENOENT);
	CHECK_U64(sql_int(ix, "SELECT count(*) FROM message"), 1);
	CHECK(index_purge(ix, 1000) == 1 && index_purge(ix, 1000) == 0);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 0);
	CHECK(fts_ok(ix));
	mail_index_close(other);
	mail_index_close(ix);
	tspool_rm(spool);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until phase 1 has `want` messages (and, if body, phase 2 none
 * left); the stats then. */
static bool wait_for(struct indexer *x, uint64_t want, bool body, struct indexer_stats *st)
{
	for (unsigned ms = 0; ms < WAIT_MS; ms += 2) {
		indexer_stats(x, st);
		if (st->caught_up && st->indexed >= want && st->pending == 0 && (!body || st->body_pending == 0))
			return true;
		sleep_ms(2);
	}
	return false;
}

/* The backlog: BACKLOG_SEGS sealed segments of PER_SEG messages. */
static void write_backlog(const char *spool)
{
	for (unsigned k = 0; k < BACKLOG_SEGS; k++) {
		struct tseg s;
		char qid[QUEUE_ID_LEN + 1];
		tseg_init(&s, k % 2, 1 + k / 2, T0);
		for (unsigned i = 0; i < PER_SEG; i++)
			tseg_add(&s, T0 + k * PER_SEG + i, "bob@example.org", i % 2 ? rich : plain, false, qid);
		tseg_write(&s, spool, true);
		tseg_free(&s);
	}
}

/* New mail gets its phase 1 while phase 2 of a backlog still waits; a
 * restart in the middle of phase 2 finishes it. */
static void test_indexer_backlog(void)
{
	char spool[TSPOOL_PATH_BYTES], qid[QUEUE_ID_LEN + 1];
	const char *err;
	struct indexer *x;
	struct indexer_stats st;
	struct mail_index *ix;
	struct page p;
	const uint64_t backlog = BACKLOG_SEGS * PER_SEG;
	tspool_make(spool, sizeof spool, "backlog");
	write_backlog(spool);
	CHECK(indexer_start(&x, spool, NULL, NULL, &err) == 0);
	CHECK(wait_for(x, backlog, false, &st) && st.indexed == backlog);
	CHECK(st.body_pending > 2 * INDEXER_BODY_SLICE); /* else the machine outran the test */
	struct tseg s;
	tseg_init(&s, 0, 999, T0);
	tseg_add(&s, T0 + backlog + 5, "new@example.org", plain, false, qid);
	tseg_write(&s, spool, false);
	tseg_free(&s);
	uint64_t one = 1;
	CHECK(write(indexer_notify_fd(x), &one, sizeof one) == sizeof one);
	CHECK(wait_for(x, backlog + 1, false, &st));
	if (!CHECK(st.body_pending > INDEXER_BODY_SLICE && st.body_lag_us > 0)) /* the backlog still waits */
		fprintf(stderr, "body_pending %llu, lag %lld us\n", (unsigned long long)st.body_pending,
			(long long)st.body_lag_us);
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(mail_index_get(ix, qid, page_row, &p) == 0);
	CHECK_U64(count_q(ix, "to:bob@example.org"), backlog + 1);
	const char *ids[] = { qid };
	CHECK(mail_index_set_read(ix, ids, 1, true) == 0); /* a mark gets the write lock between slices */
	indexer_stats(x, &st);
	CHECK(st.body_pending > 0); /* ... long before the backlog is done */
	indexer_stop(x); /* in the middle of phase 2 */
	uint64_t done = backlog + 1 - (uint64_t)sql_int(ix, "SELECT count(*) FROM message WHERE phase < 2");
	CHECK(done < backlog);
	CHECK(indexer_start(&x, spool, NULL, NULL, &err) == 0);
	CHECK(wait_for(x, 0, true, &st) && st.indexed == 0 && st.body_lag_us == 0);
	CHECK_U64(st.body_indexed, backlog + 1 - done);
	indexer_stop(x);
	CHECK_U64(sql_int(ix, "SELECT count(*) FROM message WHERE phase < 2"), 0);
	CHECK_U64(count_q(ix, "zanzibar"), backlog / 2);
	CHECK_U64(count_q(ix, "quokka"), backlog / 2 + 1);
	CHECK(fts_ok(ix));
	/* delete everything while the indexer runs: hidden now, purged by it */
	CHECK(indexer_start(&x, spool, NULL, NULL, &err) == 0);
	CHECK(mail_index_delete(ix, NULL, 0) == 0);
	CHECK(list_q(ix, NULL, &p) == 0 && count_q(ix, "quokka") == 0);
	int64_t rows = -1;
	for (unsigned ms = 0; ms < WAIT_MS && rows != 0; ms += 5) {
		sleep_ms(5);
		rows = sql_int(ix, "SELECT count(*) FROM message");
	}
	CHECK_U64(rows, 0);
	indexer_stop(x);
	CHECK(fts_ok(ix));
	mail_index_close(ix);
	tspool_rm(spool);
}

int main(void)
{
	mime_msg_init();
	test_phases();
	test_head_bound();
	test_delete_fast();
	test_indexer_backlog();
	return harness_finish("test_index_phases");
}
