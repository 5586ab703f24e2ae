/*
 * tools/spool/spool_dir.h - the files of a spool directory, as the server
 * names them (io/spool_files.c, docs/SPOOL-FORMAT.md "Files").
 *
 * Owns: finding the shard directories DIR/shard-NN, listing the files of a
 * shard by kind (segment, index, quarantined segment, saved torn tail,
 * damage list, index being written) and segment number, and the names of
 * those files.  DIR/lock is the spool's owner lock (io/spool_fs.h), not
 * listed here.
 * Does not open segments (seg_reader.c) or judge their contents.
 */
#ifndef SMTPSINK_SPOOL_DIR_H
#define SMTPSINK_SPOOL_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_DIR_SHARDS_MAX 256u /* queue IDs hold shards 0..255 */
#define SPOOL_DIR_NAME_BYTES 64u

enum spool_file_kind {
	SPOOL_FILE_SEG, /* NNNNNNNN.seg */
	SPOOL_FILE_IDX, /* NNNNNNNN.idx */
	SPOOL_FILE_TMP, /* NNNNNNNN.idx.tmp, .damage.tmp, .seg.tmp (prune --deleted): being written, or a crash
			  interrupted it */
	SPOOL_FILE_CORRUPT, /* NNNNNNNN.seg.corrupt: quarantined at start-up */
	SPOOL_FILE_CUT, /* NNNNNNNN.seg.cut-OFFSET: bytes cut off a torn tail */
	SPOOL_FILE_DAMAGE, /* NNNNNNNN.damage: the ranges a salvage did not index */
	SPOOL_FILE_OTHER, /* anything else */
};

struct spool_file {
	char name[SPOOL_DIR_NAME_BYTES];
	enum spool_file_kind kind;
	uint64_t segno; /* 0 for SPOOL_FILE_OTHER */
	uint64_t cut_off; /* SPOOL_FILE_CUT: OFFSET */
};

struct spool_dir {
	const char *path;
	int fd; /* the spool directory */
	uint32_t shard_count;
	uint32_t shards[SPOOL_DIR_SHARDS_MAX]; /* ascending */
	int shard_fd[SPOOL_DIR_SHARDS_MAX]; /* per entry of shards[] */
};

/* Open DIR and its shard directories: 0 or -errno (-ENOENT: no DIR). */
int spool_dir_open(struct spool_dir *d, const char *path);
/* Look again for shard directories (a server started later adds them). */
int spool_dir_rescan(struct spool_dir *d);
void spool_dir_close(struct spool_dir *d);

/* The index in shards[] of shard number `shard`, or -1. */
int spool_dir_shard_index(const struct spool_dir *d, uint32_t shard);

/* Every file of a shard directory, sorted by segment number then kind
 * (OTHER files first).  *out is malloc'ed.  0 or -errno. */
int spool_dir_files(int shard_fd, struct spool_file **out, size_t *count);

/* A segment file: NNNNNNNN.seg, or a quarantined NNNNNNNN.seg.corrupt. */
struct spool_seg {
	uint64_t segno;
	bool quarantined;
};

/* The segments of a shard (with_quarantined: the .seg.corrupt files too,
 * whose records the tool still reads), by number (a .seg before a
 * .seg.corrupt of the same number).  *out is malloc'ed. */
int spool_dir_segments(int shard_fd, bool with_quarantined, struct spool_seg **out, size_t *count);

/* "NNNNNNNN.EXT" */
void spool_dir_seg_name(char *buf, size_t size, uint64_t segno, const char *ext);

/* The spool's owner lock (DIR/lock, io/spool_fs.h) for a command that
 * changes the spool (cmd: its name, for the messages): its descriptor
 * (close it when done), -ENOENT when DIR does not exist (not reported:
 * spool_dir_open says so), or another -errno after reporting why, naming
 * the server's PID when one owns the spool. */
int spool_dir_lock(const char *path, const char *cmd);

/* True if the shard directory holds NNNNNNNN.idx. */
bool spool_dir_has_index(int shard_fd, uint64_t segno);

#endif
