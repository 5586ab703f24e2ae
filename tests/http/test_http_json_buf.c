/*
 * tests/http/test_http_json_buf.c - the JSON writer (http/json_buf.c).
 *
 * Owns: string escaping for every byte below 0x20, DEL, quote and
 * backslash, UTF-8 passed through, NULL as "", numbers at their limits,
 * RFC 3339 times (before the epoch too), and an empty buffer taken as "".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_buf.h"
#include "session_harness.h"

static void check_taken(struct json_buf *b, const char *want)
{
	size_t len;
	char *p = json_buf_take(b, &len);
	if (CHECK(p != NULL))
		CHECK_STR(p, len, want);
	free(p);
}

static void test_strings(void)
{
	struct json_buf b = { 0 };
	json_buf_strn(&b, "a\"b\\c\n\r\t\x01\x1f\x7f\xc3\xa9", 13);
	check_taken(&b, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\u007f\xc3\xa9\"");
	json_buf_str(&b, NULL);
	check_taken(&b, "\"\"");
	for (int c = 0; c < 0x20; c++) {
		char in[1] = { (char)c };
		json_buf_strn(&b, in, 1);
		size_t len;
		char *p = json_buf_take(&b, &len);
		CHECK(p != NULL && len >= 4 && p[1] == '\\');
		free(p);
	}
}

static void test_numbers_and_times(void)
{
	struct json_buf b = { 0 };
	json_buf_u64(&b, UINT64_MAX);
	json_buf_lit(&b, ",");
	json_buf_i64(&b, INT64_MIN);
	json_buf_lit(&b, ",");
	json_buf_bool(&b, true);
	check_taken(&b, "18446744073709551615,-9223372036854775808,true");
	json_buf_time(&b, 1765143648123456);
	check_taken(&b, "\"2025-12-07T21:40:48.123Z\"");
	json_buf_time(&b, -1000);
	check_taken(&b, "\"1969-12-31T23:59:59.999Z\"");
	json_buf_key(&b, "A", true);
	json_buf_key(&b, "B", false);
	check_taken(&b, "\"A\":,\"B\":");
	check_taken(&b, "");
}

int main(void)
{
	test_strings();
	test_numbers_and_times();
	return harness_finish("http_json_buf");
}
