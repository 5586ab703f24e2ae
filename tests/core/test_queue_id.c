/*
 * tests/core/test_queue_id.c - queue ID layout, order and uniqueness.
 *
 * Owns: round trips through queue_id_parse(), strict increase when the
 * clock stands still or steps back, string order equal to time order,
 * distinct IDs across shards and nodes at the same instant, rejection of
 * malformed IDs, and the floor seeded at start-up.
 */
#include "queue_id.h"
#include "session_harness.h"

static void test_round_trip(void)
{
	struct queue_id_gen g;
	char id[QUEUE_ID_LEN + 1];
	uint64_t us;
	uint32_t node, shard;
	queue_id_init(&g, 65535, 255, 0);
	queue_id_next(&g, 1764000000123456ull, id);
	CHECK_U64(strlen(id), QUEUE_ID_LEN);
	CHECK(queue_id_parse(id, strlen(id), &us, &node, &shard));
	CHECK_U64(us, 1764000000123456ull);
	CHECK_U64(node, 65535);
	CHECK_U64(shard, 255);
}

static void test_monotonic_and_sorted(void)
{
	struct queue_id_gen g;
	char prev[QUEUE_ID_LEN + 1], id[QUEUE_ID_LEN + 1];
	uint64_t clock[] = { 1000, 1000, 999, 5000, 5000, 1, 7000000000000000ull };
	queue_id_init(&g, 3, 1, 0);
	queue_id_next(&g, 10, prev);
	for (size_t i = 0; i < sizeof clock / sizeof clock[0]; i++) {
		queue_id_next(&g, clock[i], id);
		CHECK(strcmp(prev, id) < 0);
		memcpy(prev, id, sizeof id);
	}
}

static void test_distinct_across_shards_and_nodes(void)
{
	struct queue_id_gen a, b, c;
	char ia[QUEUE_ID_LEN + 1], ib[QUEUE_ID_LEN + 1], ic[QUEUE_ID_LEN + 1];
	queue_id_init(&a, 0, 0, 0);
	queue_id_init(&b, 0, 1, 0);
	queue_id_init(&c, 1, 0, 0);
	queue_id_next(&a, 42, ia);
	queue_id_next(&b, 42, ib);
	queue_id_next(&c, 42, ic);
	CHECK(strcmp(ia, ib) != 0 && strcmp(ia, ic) != 0 && strcmp(ib, ic) != 0);
}

static void test_floor(void)
{
	struct queue_id_gen g;
	char id[QUEUE_ID_LEN + 1];
	uint64_t us;
	uint32_t node, shard;
	queue_id_init(&g, 0, 0, 900);
	queue_id_next(&g, 100, id); /* the clock is behind the stored IDs */
	CHECK(queue_id_parse(id, QUEUE_ID_LEN, &us, &node, &shard));
	CHECK_U64(us, 901);
}

static void test_malformed(void)
{
	uint64_t us;
	uint32_t node, shard;
	CHECK(!queue_id_parse("0000000000000", 13, &us, &node, &shard));
	CHECK(!queue_id_parse("00000000000000", 15, &us, &node, &shard));
	CHECK(!queue_id_parse("000000000000-0", 14, &us, &node, &shard));
	CHECK(!queue_id_parse("000000000zzz00", 14, &us, &node, &shard)); /* node > 65535 */
	CHECK(!queue_id_parse("000000000000zz", 14, &us, &node, &shard)); /* shard > 255 */
	CHECK(queue_id_parse("00000000000000zz", 14, &us, &node, &shard)); /* reads only len */
}

int main(void)
{
	test_round_trip();
	test_monotonic_and_sorted();
	test_distinct_across_shards_and_nodes();
	test_floor();
	test_malformed();
	return harness_finish("queue_id");
}
