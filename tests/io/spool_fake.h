/*
 * tests/io/spool_fake.h - a shard's spool writer (io/spool.c,
 * io/spool_files.c) driven by a test: a fake backend and a verdict double.
 *
 * Owns: a minimal struct shard around a real spool in a temporary
 * directory (spool_open(), so the files are real), a fake struct
 * backend_ops whose spool_write only records the batch it is handed, and
 * completions the test delivers when it chooses (the write whole, short or
 * failed; the fdatasync ok or failed) through spool_on_write() and
 * spool_on_fsync(), as io_uring does for a write hard-linked to its sync;
 * a test double of conn_on_verdict() (io/conn.c is not linked) that
 * records every verdict and checks, as it arrives, that a 250 comes only
 * from a successful fdatasync completion (--sync group/always) and that the
 * message's record is already on disk and decodes; readers that check a
 * segment file and its index through core's decoder only.
 *
 * Does not: run a loop, a ring or a socket; recover a spool at start-up
 * (spool_files_recover() only sees an empty directory here).  The
 * connections are zeroed struct conn used only as identities: the double
 * finds the fixture through c->shard, as conn.c finds its shard, so the
 * fixture needs no global.
 *
 * Time: sh->now_s, now_ms and wall_us are set by the test
 * (fake_advance_s(), fake_advance_ms()),
 * never read from a clock.  Workload: at most FAKE_CONNS_MAX messages of a
 * few KiB per fixture.
 */
#ifndef SMTPSINK_TESTS_SPOOL_FAKE_H
#define SMTPSINK_TESTS_SPOOL_FAKE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "queue_id.h"
#include "server_config.h"
#include "session_report.h"
#include "shard.h"
#include "spool.h"

#define FAKE_CONNS_MAX 400u
#define FAKE_T0_US 1764000000000000ull /* the shard's wall clock at open */
#define FAKE_SHARD 0u
#define FAKE_NODE 7u
#define FAKE_SEG_BIG (1024u * 1024u) /* a segment the tests never fill */
#define FAKE_BODY 200u /* body bytes of a typical test message */
#define FAKE_HDR SPOOL_SEGMENT_HEADER_BYTES /* where a segment's records begin */

/* One verdict as conn_on_verdict() received it. */
struct fake_verdict {
	unsigned conn;
	uint16_t code;
	char text[64];
	char qid[QUEUE_ID_LEN + 1];
};

/* What spool_write() was handed last, copied at submission. */
struct fake_batch {
	uint64_t segno, offset, bytes;
	uint32_t count, iov_count;
	bool fsync;
	char first_qid[QUEUE_ID_LEN + 1], last_qid[QUEUE_ID_LEN + 1];
};

/* A message as fake_append() made it, and where spool_append() put it. */
struct fake_msg {
	size_t body_len;
	uint64_t segno, offset, record_len;
	char qid[QUEUE_ID_LEN + 1];
	bool queued; /* spool_append() left the answer to the spool */
};

struct spool_fake {
	struct shard sh;
	struct server_config cfg;
	struct server_shared shared; /* the memory budget */
	char top[PATH_MAX]; /* the --spool directory (a mkdtemp) */
	char dir[PATH_MAX + 16]; /* top/shard-00 */
	struct conn *conns; /* FAKE_CONNS_MAX identities */
	struct fake_msg msgs[FAKE_CONNS_MAX];
	unsigned conns_used;
	struct spool_batch *inflight; /* handed to spool_write(), not completed */
	struct fake_batch last; /* the latest submission */
	unsigned submitted; /* spool_write() calls */
	unsigned overlaps; /* a submission while one was in flight: must stay 0 */
	struct fake_verdict verdicts[FAKE_CONNS_MAX];
	unsigned verdict_count;
	bool in_fsync_ok; /* inside a successful fdatasync completion */
	unsigned early_250; /* a 250 from anywhere else (sync group/always) */
	unsigned not_on_disk; /* a 250 whose record did not decode on disk */
	unsigned unknown_conn; /* a verdict for no connection of the fixture */
	bool stopped; /* spool_close() done */
};

/* Set up the shard and open a spool with this sync mode and segment size in
 * a new temporary directory.  false (and a message) if that failed. */
bool fake_open(struct spool_fake *f, enum spool_sync sync, uint64_t seg_size);
/* A fixture on the heap, opened as above for the test named (printed on
 * stderr, so that a failed check's line is found in its test); NULL (one
 * failed check) if it could not be opened. */
struct spool_fake *fake_new(const char *test, enum spool_sync sync, uint64_t seg_size);
/* fake_check_clean(), fake_close(), free. */
void fake_free(struct spool_fake *f);
/* spool_close() (a clean stop: seals the open segment), once. */
void fake_stop(struct spool_fake *f);
/* fake_stop(), then remove the directory. */
void fake_close(struct spool_fake *f);

/* One second later on both clocks (the spool's retry works in seconds). */
void fake_advance_s(struct spool_fake *f);
void fake_advance_ms(struct spool_fake *f, unsigned ms);

/* A complete message of body_len bytes ('a'..'z', seeded by its number)
 * from a new connection, appended as conn.c does at end of data.  Returns
 * the connection's number; *ans and *decided as spool_append() gave them. */
unsigned fake_append(struct spool_fake *f, size_t body_len, struct spool_answer *ans, bool *decided);
/* The same for a message the spool must answer later: checks it was not
 * decided at once.  Returns the connection's number. */
unsigned fake_append_queued(struct spool_fake *f, size_t body_len);
/* The record length such a message gets (the envelope is the same for
 * every message; only the body length changes it). */
uint64_t fake_record_len(size_t body_len);

/* A session ID from the shard's generator, as conn.c takes one at accept. */
void fake_new_sid(struct spool_fake *f, char sid[QUEUE_ID_LEN + 1]);
/* A session report with this ID, as conn.c queues it when a connection is
 * gone; spool_append_session()'s result. */
bool fake_session(struct spool_fake *f, const char *sid);

/* The loop's turn: spool_tick(). */
void fake_tick(struct spool_fake *f);

/* Completions of the batch in flight.  write: FAKE_WRITE_FULL writes every
 * byte and reports them; FAKE_WRITE_SHORT writes and reports the first
 * half; FAKE_WRITE_ERROR writes nothing and reports err.  fsync: reports
 * err (0: success; -ECANCELED is what io_uring gives a linked sync whose
 * write failed or came up short). */
enum fake_write {
	FAKE_WRITE_FULL,
	FAKE_WRITE_SHORT,
	FAKE_WRITE_ERROR
};
void fake_write_done(struct spool_fake *f, enum fake_write how, int err);
void fake_fsync_done(struct spool_fake *f, int err);
/* Write whole, then (with a sync) sync successfully. */
void fake_batch_ok(struct spool_fake *f);

/* Verdicts received for connection conn (0 or 1 expected). */
unsigned fake_verdicts_for(const struct spool_fake *f, unsigned conn, struct fake_verdict *out);
/* Check that conn got exactly one verdict, with this code and its message's
 * queue ID, and (refusals) a text starting with text. */
void fake_expect_verdict(const struct spool_fake *f, unsigned conn, uint16_t code, const char *text);
/* Check what the fake and the double watched for all along: never two
 * batches in flight, no 250 outside a successful sync or before its record
 * was on disk, no verdict for an unknown connection. */
void fake_check_clean(const struct spool_fake *f);

/* A file of the spool directory ("00000001.seg"), malloc'd; NULL if absent. */
uint8_t *fake_read(const struct spool_fake *f, uint64_t segno, const char *ext, size_t *len);
bool fake_exists(const struct spool_fake *f, uint64_t segno, const char *ext);

/* Check a segment through core's decoder: its header names it; its records
 * are exactly the queue IDs qids[0..n), in this order: a message's with the
 * envelope and body fake_append() gave it, a session's (fake_session())
 * flagged SPOOL_FLAG_SESSION with an empty body and its ID; sealed: the
 * file ends at the last record and its index lists each record at its
 * offset, sorted by queue ID; open: the file is still seg_size long and has
 * no index.  Counts one check per property. */
void fake_check_segment(const struct spool_fake *f, uint64_t segno, const char *const *qids, unsigned n, bool sealed);

#endif
