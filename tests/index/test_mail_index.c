/*
 * tests/index/test_mail_index.c - the SQLite index (index/mail_index.h):
 * adding, listing, counting, getting; every search term against a naive
 * reference filter over the same messages (random queries); user text with
 * %, _, *, quotes and FTS5 syntax taken literally; marks (read, tags,
 * deletions) surviving a rebuild of the database, a deletion hiding a
 * message forever, a torn marks-log tail cut off; a database of another
 * version rebuilt; rows of deleted segments dropped; raw bytes read and
 * verified from the spool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/stat.h>

#include "index_support.h"
#include "mail_index_int.h"

#define MSGS 300u
#define QUERIES 400u
#define T_BASE_US 1765000000000000ll
#define STR_BYTES 160u

/* A message as the tests know it: the reference model. */
struct tmsg {
	struct index_doc d;
	char qid[QUEUE_ID_LEN + 1];
	char subject[STR_BYTES], message_id[STR_BYTES], from_text[STR_BYTES], to_text[STR_BYTES];
	char cc_text[STR_BYTES], bcc_text[STR_BYTES], headers[4 * STR_BYTES], body[STR_BYTES];
	bool read, deleted;
};

static const char *const names[] = { "Alice Smith", "Bob", "Carol Jones", "dave", "Eve Ng" };
static const char *const domains[] = { "example.com", "example.org", "test.net", "Mail.Example.COM" };
static const char *const subjects[] = { "Password reset",  "Invoice 42 due",	"hello world",	    "100%_off* today",
					"a OR b",	   "NEAR(x, y) tricky", "col:val and more", "say \"hi\" there",
					"Résumé attached", "ünïcode Straße" };
static const char *const words[] = { "apple", "banana", "cherry", "dog", "elephant", "fig", "grape", "apricot" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct tmsg msgs[MSGS];

static void make_addr(struct harness_rng *g, char *out, size_t cap, unsigned k)
{
	const char *n = names[harness_rng_below(g, COUNT(names))];
	char local[32];
	snprintf(local, sizeof local, "%s%u", n, k);
	for (char *p = local; *p; p++)
		*p = *p == ' ' ? '.' : *p;
	snprintf(out, cap, "%s <%s@%s>", n, local, domains[harness_rng_below(g, COUNT(domains))]);
}

static void make_msg(struct harness_rng *g, struct tmsg *m, unsigned i)
{
	memset(m, 0, sizeof *m);
	struct queue_id_gen qg;
	int64_t t = T_BASE_US + (int64_t)harness_rng_below(g, 1000000) * 1000; /* ties are possible */
	queue_id_init(&qg, 0, i % 4, 0);
	queue_id_next(&qg, (uint64_t)t + i, m->qid);
	snprintf(m->subject, STR_BYTES, "%s %u", subjects[harness_rng_below(g, COUNT(subjects))], i);
	snprintf(m->message_id, STR_BYTES, "msg%u.%llx@%s", i, (unsigned long long)harness_rng_next(g) & 0xffff,
		 domains[i % COUNT(domains)]);
	make_addr(g, m->from_text, STR_BYTES, i % 7);
	make_addr(g, m->to_text, STR_BYTES, i % 11);
	if (i % 3 == 0)
		make_addr(g, m->cc_text, STR_BYTES, i % 5);
	if (i % 4 == 0)
		make_addr(g, m->bcc_text, STR_BYTES, i % 13);
	for (unsigned w = 0, n = 1 + (unsigned)harness_rng_below(g, 6); w < n; w++)
		snprintf(m->body + strlen(m->body), STR_BYTES - strlen(m->body), "%s%s", w ? " " : "",
			 words[harness_rng_below(g, COUNT(words))]);
	snprintf(m->headers, sizeof m->headers, "%s %s %s %s", m->subject, m->from_text, m->to_text, m->cc_text);
	struct index_doc *d = &m->d;
	memcpy(d->qid, m->qid, sizeof d->qid);
	d->received_us = t;
	d->size = 100 + harness_rng_below(g, 5000);
	d->shard = i % 4;
	d->segno = 1 + i % 3;
	d->offset = 64 + i * 8;
	d->message_id = m->message_id;
	d->subject = m->subject;
	d->snippet = m->body;
	d->from_name = "";
	d->from_address = m->from_text;
	d->to_json = d->cc_json = d->bcc_json = d->reply_to_json = "[]";
	d->from_text = m->from_text;
	d->to_text = m->to_text;
	d->cc_text = m->cc_text;
	d->bcc_text = m->bcc_text;
	d->attachments = (uint32_t)harness_rng_below(g, 3);
	d->headers_text = m->headers;
	d->body_text = m->body;
}

static void add_all(struct mail_index *ix, struct tmsg *m, size_t n)
{
	CHECK(index_begin(ix) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(index_add(ix, &m[i].d) >= 0);
	CHECK(index_commit(ix) == 0);
}

/* ---- the reference filter ------------------------------------------------ */

static bool ref_substr(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static bool ref_wordch(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Split into lower-case ASCII words (non-ASCII bytes kept as they are). */
static size_t ref_words(const char *s, char out[][48], size_t cap)
{
	size_t n = 0;
	while (*s && n < cap) {
		while (*s && !ref_wordch((unsigned char)*s))
			s++;
		size_t k = 0;
		while (ref_wordch((unsigned char)*s)) {
			if (k < 47)
				out[n][k++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
			s++;
		}
		out[n][k] = '\0';
		n += k > 0;
	}
	return n;
}

/* The query's words in order and adjacent in one column (the last one a
 * prefix unless phrase). */
static bool ref_text_col(const char *col, const char *text, bool phrase)
{
	char cw[64][48], qw[16][48];
	size_t nc = ref_words(col, cw, 64), nq = ref_words(text, qw, 16);
	for (size_t at = 0; nq > 0 && at + nq <= nc; at++) {
		size_t k = 0;
		for (; k < nq; k++) {
			bool last = k + 1 == nq && !phrase;
			if (last ? strncmp(cw[at + k], qw[k], strlen(qw[k])) != 0 : strcmp(cw[at + k], qw[k]) != 0)
				break;
		}
		if (k == nq)
			return true;
	}
	return false;
}

static bool ref_text(const struct tmsg *m, const struct search_term *t)
{
	bool word = false;
	for (const char *p = t->text; *p; p++)
		word |= ref_wordch((unsigned char)*p);
	if (!word) {
		char all[8 * STR_BYTES];
		snprintf(all, sizeof all, "%s %s %s %s %s", m->subject, m->from_text, m->to_text, m->cc_text,
			 m->message_id);
		return ref_substr(all, t->text);
	}
	if (!ref_text_col(m->headers, t->text, t->phrase) && !ref_text_col(m->body, t->text, t->phrase))
		return false;
	bool literal = false; /* a character the words drop: the text itself must be there */
	for (const char *p = t->text; *p; p++)
		literal |= !ref_wordch((unsigned char)*p) && *p != ' ';
	char all[5 * STR_BYTES + 2];
	snprintf(all, sizeof all, "%s %s", m->headers, m->body);
	return !literal || ref_substr(all, t->text);
}

static bool ref_term(const struct tmsg *m, const struct search_term *t)
{
	const struct index_doc *d = &m->d;
	switch (t->field) {
	case SEARCH_TEXT:
		return ref_text(m, t);
	case SEARCH_TO:
		return ref_substr(m->to_text, t->text);
	case SEARCH_FROM:
		return ref_substr(m->from_text, t->text);
	case SEARCH_CC:
		return ref_substr(m->cc_text, t->text);
	case SEARCH_BCC:
		return ref_substr(m->bcc_text, t->text);
	case SEARCH_SUBJECT:
		return ref_substr(m->subject, t->text);
	case SEARCH_MESSAGE_ID:
		return ref_substr(m->message_id, t->text);
	case SEARCH_IS_READ:
		return m->read;
	case SEARCH_HAS_ATTACHMENT:
		return d->attachments > 0;
	case SEARCH_BEFORE:
		return (uint64_t)d->received_us < t->value;
	case SEARCH_AFTER:
		return (uint64_t)d->received_us >= t->value;
	case SEARCH_LARGER:
		return d->size > t->value;
	case SEARCH_SMALLER:
		return d->size < t->value;
	}
	return false;
}

static bool ref_match(const struct tmsg *m, const struct search_query *q)
{
	if (m->deleted)
		return false;
	for (size_t i = 0; q != NULL && i < q->count; i++)
		if (ref_term(m, &q->terms[i]) == q->terms[i].negated)
			return false;
	return true;
}

/* Newest first: received time, then queue ID, both descending. */
static int ref_cmp(const void *a, const void *b)
{
	const struct tmsg *x = *(const struct tmsg *const *)a, *y = *(const struct tmsg *const *)b;
	if (x->d.received_us != y->d.received_us)
		return x->d.received_us < y->d.received_us ? 1 : -1;
	return -strcmp(x->qid, y->qid);
}

/* ---- collecting results -------------------------------------------------- */

struct got {
	char qids[MSGS + 1][MAIL_INDEX_QID_BYTES + 1];
	size_t n;
	struct mail_summary last;
	char subject[STR_BYTES], tags[STR_BYTES];
};

static int got_row(void *arg, const struct mail_summary *s)
{
	struct got *g = arg;
	if (g->n <= MSGS)
		snprintf(g->qids[g->n++], MAIL_INDEX_QID_BYTES + 1, "%s", s->qid);
	g->last = *s;
	snprintf(g->subject, sizeof g->subject, "%s", s->subject);
	snprintf(g->tags, sizeof g->tags, "%s", s->tags_json);
	return 0;
}

/* The index's answer to q against the reference's, whole and paged. */
static bool check_query(struct mail_index *ix, const struct search_query *q, const char *what)
{
	static struct got g;
	const struct tmsg *want[MSGS];
	size_t n = 0, unread = 0;
	for (size_t i = 0; i < MSGS; i++)
		if (ref_match(&msgs[i], q)) {
			want[n++] = &msgs[i];
			unread += !msgs[i].read;
		}
	qsort(want, n, sizeof want[0], ref_cmp);
	g.n = 0;
	bool ok = mail_index_search(ix, q, 0, UINT64_MAX, got_row, &g) == 0 && g.n == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(g.qids[i], want[i]->qid) == 0;
	uint64_t total = 0, unr = 0;
	ok = ok && mail_index_count(ix, q, &total, &unr) == 0 && total == n && unr == unread;
	g.n = 0; /* a page from the middle */
	ok = ok && mail_index_search(ix, q, n / 3, 5, got_row, &g) == 0 && g.n == (n - n / 3 < 5 ? n - n / 3 : 5);
	for (size_t i = 0; ok && i < g.n; i++)
		ok = strcmp(g.qids[i], want[n / 3 + i]->qid) == 0;
	if (!ok)
		fprintf(stderr, "query %s: index %zu rows, reference %zu\n", what, g.n, n);
	return CHECK(ok);
}

/* ---- random queries ------------------------------------------------------ */

static void term_text(struct search_term *t, enum search_field f, const char *text, bool phrase)
{
	memset(t, 0, sizeof *t);
	t->field = f;
	t->phrase = phrase;
	t->text_len = strlen(text);
	memcpy(t->text, text, t->text_len + 1);
}

/* A random piece of s (1..8 bytes, cut at a byte: may split UTF-8; the
 * parser refuses invalid UTF-8, so stay on ASCII starts and ends). */
static void random_piece(struct harness_rng *g, const char *s, char *out)
{
	size_t len = strlen(s), at, n;
	if (len == 0) {
		strcpy(out, "zz");
		return;
	}
	do {
		at = harness_rng_below(g, len);
		n = 1 + harness_rng_below(g, 8);
		n = at + n > len ? len - at : n;
	} while ((unsigned char)s[at] >= 0x80 || (unsigned char)s[at + n - 1] >= 0x80);
	memcpy(out, s + at, n);
	out[n] = '\0';
}

static void random_term(struct harness_rng *g, struct search_term *t)
{
	const struct tmsg *m = &msgs[harness_rng_below(g, MSGS)];
	const char *fields[] = { m->to_text, m->from_text, m->cc_text, m->bcc_text, m->subject, m->message_id };
	static const enum search_field ff[] = { SEARCH_TO,  SEARCH_FROM,    SEARCH_CC,
						SEARCH_BCC, SEARCH_SUBJECT, SEARCH_MESSAGE_ID };
	char piece[16];
	unsigned k = (unsigned)harness_rng_below(g, 12);
	if (k < 6) {
		random_piece(g, fields[k], piece);
		term_text(t, ff[k], piece, harness_rng_below(g, 2));
	} else if (k < 8) {
		const char *w = words[harness_rng_below(g, COUNT(words))];
		size_t n = 1 + harness_rng_below(g, strlen(w));
		snprintf(piece, sizeof piece, "%.*s", (int)n, w);
		term_text(t, SEARCH_TEXT, piece, harness_rng_below(g, 2));
	} else {
		static const enum search_field cf[] = { SEARCH_IS_READ, SEARCH_HAS_ATTACHMENT, SEARCH_BEFORE,
							SEARCH_AFTER,	SEARCH_LARGER,	       SEARCH_SMALLER };
		memset(t, 0, sizeof *t);
		t->field = cf[harness_rng_below(g, COUNT(cf))];
		t->value = t->field == SEARCH_LARGER || t->field == SEARCH_SMALLER ? 100 + harness_rng_below(g, 5000) :
										     (uint64_t)m->d.received_us;
	}
	t->negated = harness_rng_below(g, 4) == 0;
}

static void test_random_queries(struct mail_index *ix)
{
	struct harness_rng g;
	static struct search_query q;
	harness_rng_seed(&g, 77);
	for (unsigned i = 0; i < QUERIES; i++) {
		q.count = 1 + harness_rng_below(&g, 3);
		for (size_t k = 0; k < q.count; k++)
			random_term(&g, &q.terms[k]);
		char what[SEARCH_TERM_MAX_BYTES + 64];
		snprintf(what, sizeof what, "#%u (%zu terms, first %d '%s')", i, q.count, (int)q.terms[0].field,
			 q.terms[0].text);
		check_query(ix, &q, what);
	}
	q.count = 0;
	check_query(ix, &q, "empty");
	check_query(ix, NULL, "NULL");
}

/* User text that means something to SQL or FTS5 is plain text. */
static void test_literals(struct mail_index *ix)
{
	static const struct {
		enum search_field f;
		const char *text;
		bool phrase;
	} rows[] = {
		{ SEARCH_SUBJECT, "%", false },
		{ SEARCH_SUBJECT, "_", false },
		{ SEARCH_SUBJECT, "*", false },
		{ SEARCH_SUBJECT, "100%_off*", false },
		{ SEARCH_SUBJECT, "%_o", false },
		{ SEARCH_SUBJECT, "a OR b", true },
		{ SEARCH_SUBJECT, "NEAR(x", false },
		{ SEARCH_SUBJECT, "col:val", false },
		{ SEARCH_SUBJECT, "\"hi\"", false },
		{ SEARCH_SUBJECT, "\"", false },
		{ SEARCH_TEXT, "%", false },
		{ SEARCH_TEXT, "*", false },
		{ SEARCH_TEXT, "OR", false },
		{ SEARCH_TEXT, "NEAR(x", false },
		{ SEARCH_TEXT, "col:val", false },
		{ SEARCH_TEXT, "\"hi\"", true },
		{ SEARCH_TEXT, "subject:hello", false },
		{ SEARCH_TEXT, "a OR b", true },
		{ SEARCH_TO, "%", false },
		{ SEARCH_TO, "'; DROP TABLE message; --", false },
		{ SEARCH_TEXT, "'; DROP TABLE message; --", false },
		{ SEARCH_TEXT, "*)\"", false },
		{ SEARCH_MESSAGE_ID, "@", false },
		{ SEARCH_TEXT, "résumé", false },
	};
	static struct search_query q;
	for (size_t i = 0; i < COUNT(rows); i++) {
		q.count = 1;
		term_text(&q.terms[0], rows[i].f, rows[i].text, rows[i].phrase);
		check_query(ix, &q, rows[i].text);
		q.terms[0].negated = true;
		check_query(ix, &q, rows[i].text);
	}
	/* and the table is still there */
	uint64_t total, unread;
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total > 0);
}

/* Query strings through the real parser (core/search_query.c), then the
 * index against the reference on what it parsed. */
static void test_parsed(struct mail_index *ix)
{
	static const char *const queries[] = {
		"to:alice",
		"-to:example.org cherry",
		"subject:\"password reset\" is:unread",
		"!has:attachment larger:1K smaller:4K",
		"\"hello world\" from:bob",
		"subject:100%_off* -is:read",
		"message-id:msg1 -cc:carol",
		"bcc:eve OR NEAR(x col:val",
		"after:2025-12-06 before:2025-12-07T00:00:00Z",
		"*",
	};
	static struct search_query q;
	for (size_t i = 0; i < COUNT(queries); i++) {
		size_t at;
		enum search_status st = search_query_parse(queries[i], strlen(queries[i]), &q, &at);
		if (CHECK(st == SEARCH_OK))
			check_query(ix, &q, queries[i]);
	}
}

/* ---- list, get, counts --------------------------------------------------- */

static void test_get(struct mail_index *ix)
{
	static struct got g;
	const struct tmsg *want[MSGS];
	size_t n = 0;
	for (size_t i = 0; i < MSGS; i++)
		want[n++] = &msgs[i];
	qsort(want, n, sizeof want[0], ref_cmp);
	g.n = 0;
	CHECK(mail_index_get(ix, "latest", got_row, &g) == 0);
	CHECK(g.n == 1 && strcmp(g.qids[0], want[0]->qid) == 0);
	g.n = 0;
	CHECK(mail_index_get(ix, msgs[7].qid, got_row, &g) == 0);
	CHECK(g.n == 1 && strcmp(g.subject, msgs[7].subject) == 0);
	CHECK_U64(g.last.size, msgs[7].d.size);
	CHECK_U64(g.last.segno, msgs[7].d.segno);
	CHECK_U64(g.last.offset, msgs[7].d.offset);
	CHECK(strcmp(g.tags, "[]") == 0);
	CHECK(mail_index_get(ix, "NOSUCHID", got_row, &g) == -ENOENT);
	CHECK(mail_index_get(ix, "' OR 1=1 --", got_row, &g) == -ENOENT);
	uint64_t seq = mail_index_last_seq(ix);
	CHECK_U64(seq, MSGS);
	/* a message indexed twice stays one row */
	add_all(ix, msgs, 3);
	CHECK_U64(mail_index_last_seq(ix), seq);
	struct mail_index_info info;
	CHECK(mail_index_info(ix, &info) == 0 && info.messages == MSGS && info.unread == MSGS && info.db_bytes > 0);
	/* the long poll's query: the oldest after a seq and a time */
	g.n = 0;
	CHECK(mail_index_first_since(ix, NULL, 0, want[0]->d.received_us, got_row, &g) == 0);
	CHECK(g.n == 1 && g.last.received_us == want[0]->d.received_us);
	CHECK(mail_index_first_since(ix, NULL, seq, 0, got_row, &g) == -ENOENT);
}

/* ---- marks --------------------------------------------------------------- */

static struct mail_index *reopen(struct mail_index *ix, const char *spool, bool rebuild)
{
	const char *err;
	char path[TSPOOL_SUB_BYTES];
	mail_index_close(ix);
	if (rebuild) {
		tspool_sub(path, spool, "index");
		tspool_rm(path);
	}
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	if (rebuild)
		add_all(ix, msgs, MSGS);
	return ix;
}

static void set_read_model(size_t i, bool read)
{
	msgs[i].read = read;
}

static void test_marks(struct mail_index **ixp, const char *spool)
{
	struct mail_index *ix = *ixp;
	static struct search_query q;
	const char *ids[3] = { msgs[1].qid, msgs[2].qid, msgs[3].qid };
	CHECK(mail_index_set_read(ix, ids, 3, true) == 0);
	for (int i = 1; i <= 3; i++)
		set_read_model((size_t)i, true);
	q.count = 1;
	memset(&q.terms[0], 0, sizeof q.terms[0]);
	q.terms[0].field = SEARCH_IS_READ;
	check_query(ix, &q, "is:read");
	const char *tags[] = { "urgent", "a\"b" };
	CHECK(mail_index_set_tags(ix, ids, 1, tags, 2) == 0);
	CHECK(mail_index_set_tags(ix, ids, 1, tags, 0) == 0 - 0); /* cleared, then set again below */
	CHECK(mail_index_set_tags(ix, ids + 1, 1, tags, 1) == 0);
	CHECK(mail_index_set_tags(ix, ids, 1, tags, MAIL_INDEX_TAGS_MAX + 1) == -EINVAL);
	const char *empty_tag[] = { "" };
	CHECK(mail_index_set_tags(ix, ids, 1, empty_tag, 1) == -EINVAL);
	/* delete 4 and 5, and all that match subject:"hello world" */
	const char *del[2] = { msgs[4].qid, msgs[5].qid };
	CHECK(mail_index_delete(ix, del, 2) == 0);
	msgs[4].deleted = msgs[5].deleted = true;
	term_text(&q.terms[0], SEARCH_SUBJECT, "hello world", true);
	CHECK(mail_index_delete_search(ix, &q) == 0);
	for (size_t i = 0; i < MSGS; i++)
		msgs[i].deleted |= strstr(msgs[i].subject, "hello world") != NULL;
	/* unread by search: everything from a domain */
	term_text(&q.terms[0], SEARCH_TO, "example.org", false);
	CHECK(mail_index_set_read_search(ix, &q, true) == 0);
	for (size_t i = 0; i < MSGS; i++)
		msgs[i].read |= strcasestr(msgs[i].to_text, "example.org") != NULL;
	q.count = 0;
	check_query(ix, &q, "after marks");
	char *json;
	CHECK(mail_index_tags_json(ix, &json) == 0 && strcmp(json, "[\"urgent\"]") == 0);
	free(json);
	/* a deleted message comes back neither from the indexer nor rebuilt */
	add_all(ix, msgs, MSGS);
	check_query(ix, &q, "re-added");
	for (int pass = 0; pass < 2; pass++) {
		ix = reopen(ix, spool, pass == 1);
		check_query(ix, &q, pass ? "rebuilt" : "reopened");
		q.count = 1;
		memset(&q.terms[0], 0, sizeof q.terms[0]);
		q.terms[0].field = SEARCH_IS_READ;
		check_query(ix, &q, "is:read rebuilt");
		q.count = 0;
		static struct got g;
		g.n = 0;
		CHECK(mail_index_get(ix, msgs[2].qid, got_row, &g) == 0 && strcmp(g.tags, "[\"urgent\"]") == 0);
		CHECK(mail_index_get(ix, msgs[4].qid, got_row, &g) == -ENOENT);
	}
	/* every message read, then one unread again, across a rebuild */
	CHECK(mail_index_set_read(ix, NULL, 0, true) == 0);
	CHECK(mail_index_set_read(ix, ids, 1, false) == 0);
	for (size_t i = 0; i < MSGS; i++)
		set_read_model(i, i != 1);
	ix = reopen(ix, spool, true);
	check_query(ix, &q, "all read, rebuilt");
	*ixp = ix;
}

/* A torn tail of the marks log is ignored and cut off. */
static void test_torn_marks(struct mail_index **ixp, const char *spool)
{
	char path[TSPOOL_SUB_BYTES];
	struct stat st;
	tspool_sub(path, spool, "marks/marks.log");
	CHECK(stat(path, &st) == 0 && st.st_size > 0 && st.st_size % 8 == 0);
	off_t good = st.st_size;
	struct mail_mark m = { .type = MAIL_MARK_DELETE, .at_us = 1 };
	strcpy(m.qid, msgs[9].qid);
	uint8_t rec[MAIL_MARKS_RECORD_MAX_BYTES];
	size_t len = mail_marks_encode(&m, rec);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, rec, len - 3) == (ssize_t)(len - 3));
	close(fd);
	struct mail_index *ix = reopen(*ixp, spool, true);
	static struct search_query q;
	check_query(ix, &q, "torn tail ignored"); /* msgs[9] not deleted */
	CHECK(stat(path, &st) == 0 && st.st_size == good);
	*ixp = ix;
}

/* A database of another version (or not a database) is rebuilt. */
static void test_version(struct mail_index **ixp, const char *spool)
{
	char path[TSPOOL_SUB_BYTES];
	const char *err;
	struct mail_index *ix = *ixp;
	CHECK(index_exec(ix, "PRAGMA user_version = 99") == 0);
	mail_index_close(ix);
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	uint64_t total = 1, unread = 1;
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 0);
	mail_index_close(ix);
	tspool_sub(path, spool, "index/mail.sqlite");
	tspool_rm(path);
	tspool_write(path, "this is not a database, not at all: just bytes", 46);
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 0);
	add_all(ix, msgs, MSGS);
	static struct search_query q;
	check_query(ix, &q, "rebuilt after garbage");
	*ixp = ix;
}

static void test_modes(const char *spool)
{
	char path[TSPOOL_SUB_BYTES];
	struct stat st;
	tspool_sub(path, spool, "marks/marks.log");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	tspool_sub(path, spool, "index/mail.sqlite");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	tspool_sub(path, spool, "index");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0750);
}

/* A message of a real segment: its doc points at its record. */
static void seg_doc(struct tmsg *m, const struct tseg *s, unsigned k, const char *qid)
{
	memset(m, 0, sizeof *m);
	snprintf(m->qid, sizeof m->qid, "%s", qid);
	memcpy(m->d.qid, qid, strlen(qid) + 1);
	m->d.received_us = (int64_t)s->ents[k].received_us;
	m->d.shard = s->shard;
	m->d.segno = s->segno;
	m->d.offset = s->ents[k].offset;
	m->d.size = 10;
}

static int raw_of(struct mail_index *ix, const struct tmsg *m, char *out, size_t cap)
{
	static struct got g;
	uint8_t *body;
	size_t len;
	g.n = 0;
	int err = mail_index_get(ix, m->qid, got_row, &g);
	if (err != 0)
		return err;
	if ((err = mail_index_raw(ix, &g.last, &body, &len)) == 0) {
		snprintf(out, cap, "%.*s", (int)len, (const char *)body);
		free(body);
	}
	return err;
}

/* Raw bytes from sealed and open segments, verified; rows of segments
 * that are gone dropped by the sweep. */
static void test_raw_and_segments(void)
{
	char spool[TSPOOL_PATH_BYTES], path[TSPOOL_SUB_BYTES], out[256], qid[QUEUE_ID_LEN + 1], body[64];
	const char *err;
	static struct tmsg m[6];
	struct tseg s;
	struct mail_index *ix;
	tspool_make(spool, sizeof spool, "raw");
	for (unsigned segno = 1; segno <= 2; segno++) {
		tseg_init(&s, 0, segno, (uint64_t)T_BASE_US);
		for (unsigned k = 0; k < 3; k++) {
			snprintf(body, sizeof body, "Subject: s%u\r\n\r\nbody %u of %u\r\n", k, k, segno);
			tseg_add(&s, (uint64_t)T_BASE_US + segno * 100 + k, "to@example.com", body, false, qid);
			seg_doc(&m[(segno - 1) * 3 + k], &s, k, qid);
		}
		tseg_write(&s, spool, segno == 1);
		tseg_free(&s);
	}
	CHECK(mail_index_open(&ix, spool, &err) == 0);
	CHECK(index_begin(ix) == 0);
	for (unsigned i = 0; i < 6; i++)
		CHECK(index_add(ix, &m[i].d) == 1);
	CHECK(index_segment_set_progress(ix, 0, 1, 3) == 0 && index_segment_set_progress(ix, 0, 2, 3) == 0);
	CHECK(index_commit(ix) == 0);
	CHECK_U64(index_segment_progress(ix, 0, 1), 3);
	CHECK_U64(index_segment_progress(ix, 0, 7), 0);
	CHECK(raw_of(ix, &m[1], out, sizeof out) == 0 && strcmp(out, "Subject: s1\r\n\r\nbody 1 of 1\r\n") == 0);
	CHECK(raw_of(ix, &m[4], out, sizeof out) == 0 && strcmp(out, "Subject: s1\r\n\r\nbody 1 of 2\r\n") == 0);
	/* a flipped byte in the body: damaged, not served */
	tspool_sub(path, spool, "shard-00/00000002.seg");
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, "X", 1, (off_t)(m[3].d.offset + 200)) == 1);
	close(fd);
	CHECK(raw_of(ix, &m[3], out, sizeof out) == -EIO);
	/* deleted: not served although the record is there */
	const char *del[] = { m[0].qid };
	CHECK(mail_index_delete(ix, del, 1) == 0);
	CHECK(raw_of(ix, &m[0], out, sizeof out) == -ENOENT);
	/* segment 1 removed (retention): its rows go, segment 2's stay */
	uint64_t dropped = 9;
	CHECK(index_drop_missing_segments(ix, &dropped) == 0 && dropped == 0);
	unlink(tspool_sub(path, spool, "shard-00/00000001.seg"));
	unlink(tspool_sub(path, spool, "shard-00/00000001.idx"));
	CHECK(index_drop_missing_segments(ix, &dropped) == 0 && dropped == 2);
	uint64_t total, unread;
	CHECK(mail_index_count(ix, NULL, &total, &unread) == 0 && total == 3 && unread == 3);
	CHECK_U64(index_segment_progress(ix, 0, 1), 0);
	CHECK(raw_of(ix, &m[4], out, sizeof out) == 0);
	mail_index_close(ix);
	tspool_rm(spool);
}

int main(void)
{
	char spool[TSPOOL_PATH_BYTES];
	const char *err;
	struct harness_rng g;
	struct mail_index *ix;
	tspool_make(spool, sizeof spool, "index");
	chmod(spool, 0750);
	harness_rng_seed(&g, 13);
	for (unsigned i = 0; i < MSGS; i++)
		make_msg(&g, &msgs[i], i);
	if (!CHECK(mail_index_open(&ix, spool, &err) == 0))
		return harness_finish("test_mail_index");
	test_modes(spool);
	add_all(ix, msgs, MSGS);
	test_get(ix);
	test_random_queries(ix);
	ix->plan.rare_rows = 8; /* common trigrams: candidates from the scan, or from the few rare ones */
	test_random_queries(ix);
	test_literals(ix);
	test_parsed(ix);
	ix->plan.rare_rows = SEARCH_TRIGRAM_RARE_ROWS;
	test_parsed(ix);
	test_literals(ix);
	test_marks(&ix, spool);
	test_random_queries(ix);
	test_torn_marks(&ix, spool);
	test_version(&ix, spool);
	mail_index_close(ix);
	tspool_rm(spool);
	test_raw_and_segments();
	return harness_finish("test_mail_index");
}
