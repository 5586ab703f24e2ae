/*
 * io/spool_files.h - what the spool's file layer shares between creating
 * and sealing segments (spool_files.c) and recovering them at start-up
 * (spool_recover.c).  Not for the rest of io/: spool.h is the spool's
 * interface.
 */
#ifndef SMTPSINK_SPOOL_FILES_H
#define SMTPSINK_SPOOL_FILES_H

#include <stdint.h>

#include "spool.h"

#define SPOOL_FILES_NAME_BYTES 40u

/* "NNNNNNNN.EXT" */
void spool_files_name(char *buf, uint64_t segno, const char *ext);

/* fsync the shard directory: 0 or -errno. */
int spool_files_sync_dir(struct spool *sp);

/* Remember a sealed segment for retention. */
void spool_files_add_sealed(struct spool *sp, uint64_t segno, uint64_t bytes, uint64_t created_us);

/* The creation time in the segment header of fd, 0 if unreadable. */
uint64_t spool_files_created_us(int fd);

/* Start-up (spool_recover.c): every segment of the shard directory;
 * leaves the newest clean one open for appending (sp->seg_fd), or none. */
int spool_recover(struct spool *sp);

#endif
