/*
 * tests/index/test_indexer.c - the indexer thread (index/indexer.h) over a
 * spool written by core/'s encoder: every message of sealed and open
 * segments of two shards indexed with its MIME facts (session reports
 * skipped), a message appended to the open segment indexed after a poke
 * of the eventfd and handed to on_new, a restart that re-adds nothing, a
 * rebuild (index deleted) that keeps a deletion, and a deleted segment's
 * rows dropped by the sweep at start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "commit_bell.h"
#include "index_support.h"
#include "indexer.h"
#include "mail_index_int.h"

#define T0 1765000000000000ull
#define WAIT_MS 20000

struct seen {
	pthread_mutex_t lock;
	char qids[32][MAIL_INDEX_QID_BYTES + 1];
	unsigned n;
};

static void on_new(void *arg, const struct mail_summary *s)
{
	struct seen *v = arg;
	pthread_mutex_lock(&v->lock);
	if (v->n < 32)
		snprintf(v->qids[v->n++], MAIL_INDEX_QID_BYTES + 1, "%s", s->qid);
	pthread_mutex_unlock(&v->lock);
}

static const char plain[] = "From: Alice Smith <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\n"
			    "Cc: =?UTF-8?Q?D=C3=A9sir=C3=A9e?= <desiree@example.com>\r\n"
			    "Subject: Password reset for Bob\r\nMessage-ID: <reset-1@example.com>\r\n\r\n"
			    "Click the link to reset your password.\r\n";
static const char multi[] =
	"From: shop@example.com\r\nTo: eve@example.org\r\nSubject: Your invoice\r\n"
	"Message-ID: <inv-2@example.com>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
	"--XX\r\nContent-Type: text/html\r\n\r\n<p>Total <b>42</b> euros</p><script>hidden</script>\r\n"
	"--XX\r\nContent-Type: application/pdf; name=inv.pdf\r\n"
	"Content-Disposition: attachment; filename=inv.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"JVBERi0xLjQK\r\n--XX--\r\n";

static char qids[8][QUEUE_ID_LEN + 1];

static void write_spool(const char *spool, struct tseg *open_seg)
{
	struct tseg s;
	char sess[QUEUE_ID_LEN + 1];
	tseg_init(&s, 0, 1, T0);
	tseg_add(&s, T0 + 10, "bob@example.org", plain, false, qids[0]);
	tseg_add(&s, T0 + 20, "x@example.org", "", true, sess); /* a session report */
	tseg_add(&s, T0 + 30, "eve@example.org", multi, false, qids[1]);
	tseg_write(&s, spool, true);
	tseg_free(&s);
	tseg_init(&s, 1, 1, T0);
	tseg_add(&s, T0 + 15, "hidden@example.net", plain, false, qids[2]); /* an envelope-only recipient */
	tseg_add(&s, T0 + 25, "eve@example.org", multi, false, qids[3]);
	tseg_write(&s, spool, true);
	tseg_free(&s);
	tseg_init(open_seg, 0, 2, T0 + 100);
	tseg_add(open_seg, T0 + 110, "bob@example.org", plain, false, qids[4]);
	tseg_write(open_seg, spool, false);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until the indexer caught up with `want` messages indexed since it
 * started, at both phases. */
static bool wait_indexed(struct indexer *x, uint64_t want)
{
	struct indexer_stats st;
	for (unsigned ms = 0; ms < WAIT_MS; ms += 10) {
		indexer_stats(x, &st);
		if (st.caught_up && st.indexed >= want && st.pending == 0 && st.body_pending == 0)
			return st.indexed == want;
		sleep_ms(10);
	}
	fprintf(stderr, "indexer: %llu indexed, caught up %d\n", (unsigned long long)st.indexed, st.caught_up);
	return false;
}

struct one {
	struct mail_summary s;
	char subject[128], from[128], to_json[256], bcc_json[256], message_id[128];
};

static int one_row(void *arg, const struct mail_summary *s)
{
	struct one *o = arg;
	o->s = *s;
	snprintf(o->subject, sizeof o->subject, "%s", s->subject);
	snprintf(o->message_id, sizeof o->message_id, "%s", s->message_id);
	snprintf(o->from, sizeof o->from, "%s|%s", s->from_name, s->from_address);
	snprintf(o->to_json, sizeof o->to_json, "%s", s->to_json);
	snprintf(o->bcc_json, sizeof o->bcc_json, "%s", s->bcc_json);
	return 0;
}

static uint64_t count_where(struct mail_index *ix, enum search_field f, const char *text, bool phrase)
{
	static struct search_query q;
	uint64_t total = 0, unread;
	q.count = 1;
	memset(&q.terms[0], 0, sizeof q.terms[0]);
	q.terms[0].field = f;
	q.terms[0].phrase = phrase;
	q.terms[0].text_len = strlen(text);
	memcpy(q.terms[0].text, text, strlen(text) + 1);
	CHECK(mail_index_count(ix, &q, &total, &unread) == 0);
	return total;
}

static void check_contents(const char *spool)
{
	struct mail_index *ix;
	const char *err;
	struct one o;
	uint64_t total, unread;
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 6 && unread == 6);
	CHECK(mail_index_get(ix, qids[0], one_row, &o) == 0);
	CHECK(strcmp(o.subject, "Password reset for Bob") == 0);
	CHECK(strcmp(o.from, "Alice Smith|alice@example.com") == 0);
	CHECK(strcmp(o.to_json, "[{\"Name\":\"Bob\",\"Address\":\"bob@example.org\"},"
				"{\"Name\":\"\",\"Address\":\"carol@example.net\"}]") == 0);
	CHECK(strcmp(o.bcc_json, "[]") == 0);
	CHECK(o.s.attachments == 0);
	CHECK(strcmp(o.message_id, "reset-1@example.com") == 0);
	CHECK(mail_index_get(ix, qids[2], one_row, &o) == 0);
	CHECK(strcmp(o.bcc_json, "[{\"Name\":\"\",\"Address\":\"hidden@example.net\"}]") == 0);
	CHECK(mail_index_get(ix, qids[1], one_row, &o) == 0 && o.s.attachments == 1);
	CHECK(mail_index_get(ix, "latest", one_row, &o) == 0 && strcmp(o.s.qid, qids[5]) == 0);
	CHECK_U64(count_where(ix, SEARCH_TO, "carol@", false), 3);
	CHECK_U64(count_where(ix, SEARCH_CC, "Désirée", false), 3);
	CHECK_U64(count_where(ix, SEARCH_BCC, "hidden", false), 1);
	CHECK_U64(count_where(ix, SEARCH_TEXT, "passw", false), 3); /* subject and body */
	CHECK_U64(count_where(ix, SEARCH_TEXT, "euros", false), 3); /* HTML stripped */
	CHECK_U64(count_where(ix, SEARCH_TEXT, "hidden", false), 0); /* script content and Bcc are not body text */
	CHECK_U64(count_where(ix, SEARCH_TEXT, "b", true), 0); /* a tag name is not a word */
	uint8_t *body;
	size_t len;
	CHECK(mail_index_get(ix, qids[1], one_row, &o) == 0 && mail_index_raw(ix, &o.s, &body, &len) == 0);
	CHECK(len == strlen(multi) && memcmp(body, multi, len) == 0);
	free(body);
	mail_index_close(ix);
}

static struct indexer *start(const char *spool, struct seen *v)
{
	struct indexer *x = NULL;
	const char *err;
	CHECK(indexer_start(&x, spool, on_new, v, &err) == 0);
	return x;
}

int main(void)
{
	char spool[TSPOOL_PATH_BYTES], path[TSPOOL_SUB_BYTES];
	struct seen v = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct tseg open_seg;
	tspool_make(spool, sizeof spool, "indexer");
	write_spool(spool, &open_seg);
	struct indexer *x = start(spool, &v);
	if (!CHECK(x != NULL) || !CHECK(wait_indexed(x, 5)))
		return harness_finish("test_indexer");
	/* oldest first, across shards */
	CHECK(v.n == 5 && strcmp(v.qids[0], qids[0]) == 0 && strcmp(v.qids[1], qids[2]) == 0 &&
	      strcmp(v.qids[4], qids[4]) == 0);
	/* a message appended to the open segment, and the bell rung: the
	 * indexer armed it before its look (nothing else arms it), the ring
	 * writes to the eventfd, the indexer wakes and arms it again */
	tseg_add(&open_seg, T0 + 120, "eve@example.org", multi, false, qids[5]);
	tseg_write(&open_seg, spool, false);
	struct commit_bell *bell = indexer_bell(x);
	CHECK(bell->fd == indexer_notify_fd(x));
	CHECK(atomic_load(&bell->armed));
	commit_bell_ring(bell); /* (not checked disarmed: the timer may re-arm it at any moment) */
	CHECK(wait_indexed(x, 6));
	for (unsigned ms = 0; ms < WAIT_MS && !atomic_load(&bell->armed); ms += 10)
		sleep_ms(10);
	CHECK(atomic_load(&bell->armed));
	CHECK(v.n == 6 && strcmp(v.qids[5], qids[5]) == 0);
	indexer_stop(x);
	check_contents(spool);
	/* restart: nothing is added again */
	x = start(spool, &v);
	CHECK(wait_indexed(x, 0));
	indexer_stop(x);
	CHECK_U64(v.n, 6);
	/* the restart skipped what its progress covers without reading it: a
	 * row removed behind its back (not a mark) does not come back */
	struct mail_index *ix;
	const char *err;
	char sql[128];
	snprintf(sql, sizeof sql, "DELETE FROM message WHERE qid = '%s'", qids[3]);
	CHECK(mail_index_open(&ix, spool, &err) == 0 && index_exec(ix, sql) == 0);
	mail_index_close(ix);
	x = start(spool, &v);
	CHECK(wait_indexed(x, 0));
	indexer_stop(x);
	/* a deletion, then a rebuild: everything else comes back */
	const char *del[] = { qids[1] };
	CHECK(mail_index_open(&ix, spool, &err) == 0 && mail_index_delete(ix, del, 1) == 0);
	mail_index_close(ix);
	tspool_rm(tspool_sub(path, spool, "index"));
	x = start(spool, &v);
	CHECK(wait_indexed(x, 5));
	indexer_stop(x);
	/* shard 1's segment deleted (retention): its rows dropped at start */
	unlink(tspool_sub(path, spool, "shard-01/00000001.seg"));
	unlink(tspool_sub(path, spool, "shard-01/00000001.idx"));
	x = start(spool, &v);
	CHECK(wait_indexed(x, 0));
	indexer_stop(x);
	uint64_t total, unread;
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 3);
	CHECK(mail_index_get(ix, qids[1], one_row, &(struct one){ 0 }) == -ENOENT); /* still deleted */
	mail_index_close(ix);
	/* a damaged record is skipped, the next one indexed */
	struct tseg bad;
	char bad_qid[2][QUEUE_ID_LEN + 1];
	tseg_init(&bad, 2, 1, T0);
	tseg_add(&bad, T0 + 200, "bob@example.org", plain, false, bad_qid[0]);
	tseg_add(&bad, T0 + 210, "bob@example.org", plain, false, bad_qid[1]);
	bad.img.p[bad.ents[0].offset + bad.ents[0].record_len - 40] ^= 1; /* in the body: checksum fails */
	tseg_write(&bad, spool, true);
	tseg_free(&bad);
	x = start(spool, &v);
	CHECK(wait_indexed(x, 2)); /* phase 1 lists both (no body checksum), phase 2 drops the damaged one */
	indexer_stop(x);
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(mail_index_get(ix, bad_qid[0], one_row, &(struct one){ 0 }) == -ENOENT);
	CHECK(mail_index_get(ix, bad_qid[1], one_row, &(struct one){ 0 }) == 0);
	mail_index_close(ix);
	tseg_free(&open_seg);
	tspool_rm(spool);
	return harness_finish("test_indexer");
}
