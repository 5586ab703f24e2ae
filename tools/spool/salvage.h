/*
 * tools/spool/salvage.h - `verify --salvage`: what a damaged segment at
 * rest still holds, whether its index lists exactly that, and (with
 * --rewrite-index) making it so.
 *
 * Owns: walking a whole segment image past damage (core/'s spool_walker:
 * the server's own salvage rule) into its intact records, as sorted index
 * entries with repeated queue IDs dropped, and its damaged ranges;
 * comparing those entries with an index; writing the index and the
 * NNNNNNNN.damage list (io/spool_fs.h: O_EXCL | O_NOFOLLOW, through
 * NAME.tmp, the segment file's own mode), and renaming a quarantined
 * segment back to NNNNNNNN.seg once it has an index.  Never deletes or
 * changes a byte of a segment.  Only for segments the server no longer
 * writes (sealed or quarantined) and only under the spool's lock
 * (cmd_verify.c takes it).
 */
#ifndef SMTPSINK_SPOOL_SALVAGE_H
#define SMTPSINK_SPOOL_SALVAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seg_reader.h"
#include "spool_format.h"

struct salvage_view {
	struct spool_index_entry *entries; /* intact records, sorted by queue ID, unique */
	uint32_t count;
	struct spool_item *ranges; /* DAMAGE and TAIL items, in file order */
	uint32_t range_count;
	size_t range_cap;
	struct spool_index_entry *dups; /* records dropped for a repeated queue ID */
	uint32_t dup_count;
	uint64_t durable; /* the largest synced_before of its records */
};

/* Walk img (a whole segment file) into v.  0 or -ENOMEM. */
int salvage_view_build(struct salvage_view *v, const uint8_t *img, size_t len);
void salvage_view_free(struct salvage_view *v);

/* Does the sealed segment r's index list exactly v's entries? */
bool salvage_index_matches(const struct salvage_view *v, const struct seg_reader *r);

/* Write v's index and damage list for segment r (sealed or quarantined;
 * a quarantined one is then renamed to .seg, never over an existing file).
 * 0 or -errno (-EINVAL: a quarantined segment whose header does not
 * verify or names another segment, which cannot become a .seg again). */
int salvage_rewrite(const struct salvage_view *v, const struct seg_reader *r);

#endif
