/*
 * io/spool.h - a shard's spool writer: append-only segments, group commit.
 *
 * Owns: turning completed captures into records at the end of the shard's
 * open segment, batching them (one write + one fdatasync per batch, at most
 * one batch in flight, the next one filling meanwhile), releasing each
 * message's verdict when its batch is durable (--sync group/always) or
 * when it is queued (--sync none), rotating and sealing segments, failing
 * messages with 451/452 on write errors, and recovering the segment files
 * at start-up (spool_recover.c).  Each shard writes only its own directory
 * DIR/shard-NN, so writers never share a file or a lock.
 */
#ifndef SMTPSINK_SPOOL_H
#define SMTPSINK_SPOOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"
#include "capture.h"
#include "spool_format.h"
#include "spool_table.h"

struct shard;
struct server_config;
struct index_share;

/* A segment is preallocated in steps as it fills (appends then change no
 * file size, so fdatasync commits none), up to --segment-size: a small
 * disk holds a spool, and a big one pays one fallocate per step. */
#define SPOOL_SEGMENT_STEP_BYTES (8u << 20)
#define SPOOL_SEGMENT_MIN_GROWTH_BYTES (1u << 20) /* on a nearly full disk */
#define SPOOL_SEGMENT_NAME_TRIES 64u /* segment numbers tried past one that exists */
#define SPOOL_RETRY_FIRST_MS 100u /* while down: the first wait before a new segment is tried */
#define SPOOL_RETRY_MAX_MS 1000u /* ... doubled after each failure, up to this */
#define SPOOL_ROOM_CHECK_MS 200u /* free space is looked at this often (fstatvfs) */
/* Retention looks this often (every turn while over --spool-max-bytes):
 * the index beside the spool can grow by megabytes in a second while its
 * body phase catches up, without a segment filling. */
#define SPOOL_RETIRE_MS 200u

/* What one shard's spool holds, published for --spool-max-bytes of the
 * whole spool (every shard reads every shard's; each deletes only its own
 * segments, the oldest of the whole spool first). */
struct spool_usage { /* a cache line each: shards write their own */
	atomic_uint_fast64_t bytes; /* sealed segments + the open one's used length */
	atomic_uint_fast64_t oldest_us; /* creation of its oldest sealed segment; UINT64_MAX: none */
} __attribute__((aligned(64)));

enum spool_sync {
	SPOOL_SYNC_NONE,
	SPOOL_SYNC_GROUP,
	SPOOL_SYNC_ALWAYS
};

#define SPOOL_BATCH_MAX_MSGS 300u
/* A batch is one write, and the kernel writes at most ~2 GiB at once: a
 * batch stops short of this (unless its first record alone is bigger,
 * which --max-size keeps under SPOOL_MESSAGE_MAX_BYTES + envelope). */
#define SPOOL_BATCH_MAX_BYTES (1u << 30)
#define SPOOL_MESSAGE_MAX_BYTES (1u << 30) /* --max-size's ceiling with a spool */
/* head, body pieces (CAPTURE_BODY_IOV_MAX), tail per record: IOV_MAX */
#define SPOOL_BATCH_IOV_MAX 1024u

/* The records of one contiguous region of one segment, written together:
 * the captures queued since the previous batch was submitted (one, with
 * --sync always).  The iovecs and the captures they point into belong to
 * the kernel from submission until both completions (write, fsync). */
struct spool_batch {
	struct capture *head, *tail;
	uint32_t count;
	int seg_fd;
	uint64_t segno;
	uint64_t offset, bytes;
	struct iovec iov[SPOOL_BATCH_IOV_MAX];
	uint32_t iov_count;
	bool fsync; /* --sync group/always */
	bool busy; /* submitted, completions pending */
	uint8_t pending; /* completions still to come */
	int result; /* 0, or the first -errno */
	uint64_t submit_us; /* monotonic, at submission: the fsync histogram */
	struct io_op write_op, fsync_op;
};

/* A segment that is sealed (or being sealed): for retention. */
struct spool_sealed {
	uint64_t segno;
	uint64_t bytes;
	uint64_t created_us;
};

/* A full (or poisoned) segment waiting for its last batch to be durable
 * before its index is written and it is closed. */
struct spool_sealing {
	struct spool_sealing *next;
	int fd;
	uint64_t segno, end_off, created_us;
	struct spool_index_entry *entries;
	uint32_t entry_count;
};

struct spool {
	int dir_fd; /* DIR/shard-NN */
	unsigned shard;
	uint32_t node;
	enum spool_sync sync;
	uint64_t seg_size; /* --segment-size: the most a segment grows to */
	uint64_t seg_alloc; /* the open segment's preallocated length */
	uint64_t seg_min; /* the largest record: no segment is smaller */
	uint32_t file_mode; /* --spool-mode (directories: x where r is set) */
	int seg_fd; /* -1: the spool is down (disk full, I/O error) */
	uint64_t segno;
	uint64_t seg_created_us;
	uint64_t write_off; /* next record goes here */
	uint64_t durable_off; /* fdatasync'ed through here */
	uint64_t retry_ms; /* when down: next attempt to open a segment */
	uint64_t retry_delay_ms; /* ... and the wait after that one fails (backoff) */
	bool over_bytes; /* the last retention pass found the spool over --spool-max-bytes */
	bool full; /* the open segment could not grow (ENOSPC): down until it can */
	uint64_t full_need; /* ... to this length (the record that did not fit) */
	uint64_t min_free; /* --spool-min-free: less room than this and MAIL gets 452 */
	uint64_t room_check_ms; /* when the disk's free space is looked at next */
	bool low_space; /* ... and the last look found less than min_free */
	struct spool_index_entry *entries; /* the open segment's index */
	uint32_t entry_count;
	size_t entry_cap;
	struct spool_table table; /* queue ID -> entries[], open segment: built by the first */
	bool table_live; /* ... spool_find_open(), kept up to date from then on */
	struct capture *queue_head, *queue_tail; /* laid out, not yet written */
	uint32_t queued;
	struct spool_batch batch; /* the one in flight */
	struct spool_sealing *sealing; /* list */
	uint64_t retire_ms; /* next retention pass */
	uint64_t max_bytes, max_age_s; /* retention: of the whole spool when usage is shared */
	struct spool_usage *usage; /* every shard's (shards of them), or NULL: this one alone */
	/* server_shared.index (the index's share of the disk: io/index_share.h),
	 * or NULL: no index counted (tests) */
	_Atomic(struct index_share *) *index;
	unsigned shards;
	struct spool_sealed *sealed; /* oldest first */
	uint32_t sealed_count;
	size_t sealed_cap;
	uint64_t qid_floor_us; /* newest queue ID time found at start-up */
	uint64_t batch_max_bytes; /* SPOOL_BATCH_MAX_BYTES (a test may lower it) */
	uint64_t writes, fsyncs, errors;
};

/* Start-up, main thread: create or recover DIR/shard-NN. 0 or -errno. */
int spool_open(struct spool *sp, const struct server_config *cfg, unsigned shard, uint64_t now_us);
void spool_close(struct spool *sp);

/* Can a message be stored?  (false: its end of data gets 452 4.3.1) */
bool spool_ready(const struct spool *sp);

/* Can a new transaction start?  Ready, and the disk has --spool-min-free
 * room beside what the index will still write (false: MAIL gets 452 4.3.1). */
bool spool_accepting(const struct spool *sp);

/* A write for a message (its spill file) found the disk full: MAIL gets
 * 452 4.3.1 now, until a look at free space finds --spool-min-free. */
void spool_out_of_room(struct shard *sh);

/* The open segment's index entry for a queue ID, or NULL (sealed segments
 * are found through their .idx files). */
const struct spool_index_entry *spool_find_open(struct spool *sp, const char *qid, size_t qid_len);

/* Nothing queued or in flight (shutdown may finish). */
bool spool_idle(const struct spool *sp);

/* Is any record of segment segno still queued or being written? */
bool spool_writing(const struct spool *sp, uint64_t segno);

/* A complete message; the spool takes cap.  env holds the session's facts
 * (HELO, protocol, AUTH user, client); the rest comes from cap.  Returns
 * true with *ans filled if the answer is decided now (--sync none: 250 once
 * queued; or a refusal); false if it will come through conn_on_verdict()
 * once the batch that holds it is durable (cap->conn is answered then). */
/* What a message gets: 250 and its queue ID, or a refusal. */
struct spool_answer {
	uint16_t code;
	const char *text; /* refusals: a literal */
	char qid[QUEUE_ID_LEN + 1];
};

bool spool_append(struct shard *sh, struct capture *cap, struct spool_envelope *env, uint64_t now_us,
		  struct spool_answer *ans);

/* A session's report (conn.c, when the connection is gone): queued like a
 * message, with nobody to answer.  False if it could not be kept (spool
 * down, no memory): a report is never worth refusing anything for. */
struct session_report;
bool spool_append_session(struct shard *sh, const struct session_report *r);

/* Once per loop turn: submit the next batch if none is in flight; retry a
 * down spool; apply retention.  */
void spool_tick(struct shard *sh);

/* Backend completions for a batch's write and fdatasync. */
void spool_on_write(struct shard *sh, struct spool_batch *b, int res);
void spool_on_fsync(struct shard *sh, struct spool_batch *b, int res);

/* Files (spool_files.c): creating, sealing, recovering, retiring. */
int spool_files_new_segment(struct spool *sp, uint64_t now_us);
void spool_files_seal(struct spool *sp); /* the open segment is full */
void spool_files_seal_done(struct spool *sp); /* finish seals now durable */
/* Delete the oldest sealed segments past max_bytes (the whole spool's
 * segments plus index_bytes, the index's share) or max_age_s; returns how
 * many went. */
uint32_t spool_files_retire(struct spool *sp, uint64_t now_us, uint64_t max_bytes, uint64_t max_age_s,
			    uint64_t index_bytes);
/* The open segment preallocated through need_end: in steps, doubling while
 * the disk has room, growing ahead of need_end only while keep_bytes stay
 * free (the index's room; 0: no such limit); 0, or -errno (-ENOSPC: the
 * record does not fit). */
int spool_files_reserve(struct spool *sp, uint64_t need_end, uint64_t keep_bytes);
/* What this shard's spool takes on the disk (the open segment as
 * preallocated) and its segments (open, being sealed, sealed): the
 * metrics' gauges. */
void spool_files_measure(const struct spool *sp, uint64_t *bytes, uint64_t *segments);
/* The disk's free space (UINT64_MAX if it does not say).  The open
 * segment's preallocated tail is not counted: a message spilled to a file
 * while it arrives needs free space besides its record's. */
uint64_t spool_files_room(const struct spool *sp);
/* The largest record a message may make under these options: a segment
 * must hold it (--segment-size is checked against it). */
#define SPOOL_RECORD_LINE_FIELDS_BYTES 1024u /* a command line's two fields */
#define SPOOL_RECORD_SLACK_BYTES (64u * 1024u)
uint64_t spool_record_max_bytes(const struct server_config *cfg);

/* Share the usage of every shard's spool (main thread, before start):
 * --spool-max-bytes then holds for the whole spool. */
void spool_share_usage(struct spool *sp, struct spool_usage *all, unsigned shards);

#endif
