/*
 * tools/spool/seg_reader.h - one segment file opened for reading, while
 * the server may still be appending to it.
 *
 * Owns: the list of records of a segment, as index entries, and read-only
 * access to their bytes.
 *  - A sealed segment (its .idx verifies) is immutable: the .seg and the
 *    .idx are mmapped whole and the entries are the index's
 *    (spool_index_decode); no record is read to list them.
 *  - An open segment (no .idx, or one that does not verify) is scanned
 *    with pread from where the last scan stopped, through
 *    spool_record_decode: a record that is SHORT or fails its checksum is
 *    still being written and is simply "not there yet"
 *    (docs/SPOOL-FORMAT.md, "Reading the spool while the server writes"),
 *    unless a valid record after it proves it was durable (its
 *    synced_before lies past it): then it is damage, recorded in damage[],
 *    and the scan resumes at the first valid record after it (the
 *    server's own salvage rule, so nothing intact is hidden while the
 *    server is down before it salvages).  That lookahead reads on until a
 *    run of RESYNC_ZERO_RUN_BYTES zeros (the unwritten rest) or the end.
 *    Only the validated prefix [0, scan_end) is mmapped.  The tail is never
 *    mmapped because the server cuts the file to its used length when it
 *    seals it: a mapped page past the new end would raise SIGBUS, a pread
 *    just returns less.
 *  - A quarantined segment (NNNNNNNN.seg.corrupt: the server never touches
 *    it again) is mmapped whole and walked past every damage
 *    (spool_walker): its entries are all its valid records, whatever its
 *    header says.
 * Does not decide what damage means (cmd_verify.c does) nor order messages
 * across segments (spool_walk.c, spool_tail.c).
 *
 * Workload: a sealed segment costs two mmaps and an index checksum; an
 * open one a sequential pread pass over what was written since the last
 * refresh, and a lookahead of a few hundred KiB where the scan stops.
 */
#ifndef SMTPSINK_SPOOL_SEG_READER_H
#define SMTPSINK_SPOOL_SEG_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "spool_format.h"

enum seg_state {
	SEG_SEALED, /* entries from a valid index */
	SEG_OPEN, /* entries from scanning */
	SEG_NOT_READY, /* no valid segment header yet (being created) */
	SEG_BAD_HEADER, /* the segment header does not verify */
	SEG_QUARANTINED, /* a .seg.corrupt: entries from walking the whole file */
};

/* A damaged range the reader skipped (SEG_OPEN, SEG_QUARANTINED). */
struct seg_damage {
	uint64_t offset, length;
	enum spool_verdict why;
	bool tail; /* no valid record after it */
};

struct seg_reader {
	int dir_fd; /* the shard directory (borrowed) */
	uint32_t shard;
	uint64_t segno;
	bool quarantined; /* NNNNNNNN.seg.corrupt */
	int fd;
	enum seg_state state;
	bool index_bad; /* an .idx exists but does not verify: scanned instead */
	uint64_t created_us; /* from the segment header */
	uint64_t file_bytes; /* at the last open or refresh */
	const uint8_t *map; /* sealed: the whole file; open: [0, map_len) */
	size_t map_len;
	/* sealed */
	const uint8_t *idx_map;
	size_t idx_len;
	const uint8_t *idx_entries;
	uint32_t idx_count;
	/* open: entries found by scanning, and where the scan stopped */
	struct spool_index_entry *ents;
	uint32_t ent_count;
	size_t ent_cap;
	uint64_t scan_end;
	enum spool_verdict scan_stop;
	uint8_t *win; /* pread window */
	size_t win_cap;
	struct seg_damage *damage; /* ranges skipped, in file order */
	uint32_t damage_count;
	size_t damage_cap;
};

/* Open shard_fd/NNNNNNNN.seg (and its .idx), or NNNNNNNN.seg.corrupt when
 * quarantined.  0 or -errno; a segment whose header is bad or not yet
 * written opens with no entries (state says which). */
int seg_reader_open(struct seg_reader *r, int shard_fd, uint32_t shard, uint64_t segno, bool quarantined);

/* Open segments: scan what was written since the last call.  Returns the
 * number of new entries, or -errno. */
int seg_reader_refresh(struct seg_reader *r);

void seg_reader_close(struct seg_reader *r);

/* Map the whole file of a segment at rest (it has an .idx, valid or not:
 * the server never writes it again, so it cannot shrink under the
 * mapping).  0 or -errno. */
int seg_reader_map_whole(struct seg_reader *r);

uint32_t seg_reader_count(const struct seg_reader *r);
void seg_reader_entry(const struct seg_reader *r, uint32_t i, struct spool_index_entry *e);

/* Bytes [off, off + len) of the segment if mapped, else NULL. */
const uint8_t *seg_reader_bytes(const struct seg_reader *r, uint64_t off, uint64_t len);

/* The entry for a queue ID, or -1. */
long seg_reader_find(const struct seg_reader *r, const char *qid, size_t qid_len);

/* Decode entry e's record into m (verify: check the record checksum). */
enum msg_status seg_reader_msg(const struct seg_reader *r, const struct spool_index_entry *e, bool verify,
			       struct msg *m);

/* Decode entry e's record as a session report (always verified: a report
 * is a few hundred bytes) into s (session_out.h).  MISMATCH if it is not a
 * session record or does not match e; BAD_META if the report does not
 * decode. */
struct session_view;
enum msg_status seg_reader_session(const struct seg_reader *r, const struct spool_index_entry *e,
				   struct session_view *s);

/* "shard-NN/NNNNNNNN.seg" (or .seg.corrupt) */
void seg_reader_name(const struct seg_reader *r, char *buf, size_t size);

#endif
