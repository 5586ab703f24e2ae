/*
 * core/queue_id.h - queue IDs: unique, time-ordered, short, printable.
 *
 * Owns: the ID layout and its generator.  An ID is 14 base-62 characters
 * (0-9A-Za-z, which sort in ASCII order): 9 for a per-shard strictly
 * increasing microsecond clock, 3 for the node (--node-id, 0..65535), 2 for
 * the shard (0..255).  So IDs are unique across shards (shard field), hosts
 * (node field) and restarts (the clock is seeded above the newest ID already
 * stored), and sort by time as strings.  The generator is fed the time; it
 * never reads a clock itself.
 */
#ifndef SMTPSINK_QUEUE_ID_H
#define SMTPSINK_QUEUE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_LEN 14u
#define QUEUE_ID_NODE_MAX 65535u
#define QUEUE_ID_SHARD_MAX 255u

struct queue_id_gen {
	uint64_t last_us; /* the last timestamp issued; strictly increasing */
	uint32_t node;
	uint32_t shard;
};

/* floor_us: no ID is issued at or below it (the newest stored one). */
void queue_id_init(struct queue_id_gen *g, uint32_t node, uint32_t shard, uint64_t floor_us);

/* Next ID for wall-clock time now_us (microseconds since the epoch).  If the
 * clock stands still or steps back, the ID's time is last + 1 us. */
void queue_id_next(struct queue_id_gen *g, uint64_t now_us, char out[QUEUE_ID_LEN + 1]);

/* Decode an ID; false if it is not one. */
bool queue_id_parse(const char *s, size_t len, uint64_t *us, uint32_t *node, uint32_t *shard);

#endif
