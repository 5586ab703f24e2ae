/*
 * tests/core/test_smtp_auth.c - base64 decoding and SASL PLAIN parsing.
 *
 * Owns: RFC 4648 test vectors, malformed base64 (bad characters, padding in
 * the middle, wrong length, output that would not fit), and the PLAIN
 * message layouts of RFC 4616 (with and without authzid, missing NULs).
 */
#include "session_harness.h"
#include "smtp_auth.h"

static const struct {
	const char *in;
	long len; /* -1: refused */
	const char *out;
} b64_rows[] = {
	{ "", 0, "" },
	{ "Zg==", 1, "f" },
	{ "Zm8=", 2, "fo" },
	{ "Zm9v", 3, "foo" },
	{ "Zm9vYg==", 4, "foob" },
	{ "Zm9vYmE=", 5, "fooba" },
	{ "Zm9vYmFy", 6, "foobar" },
	{ "Zm9vYmFy\n", -1, "" },
	{ "Zm9", -1, "" },
	{ "Zg=a", -1, "" },
	{ "Z===", -1, "" },
	{ "Zg==Zg==", -1, "" },
	{ "Zm 9v", -1, "" },
	{ "Zm9*", -1, "" },
	{ "=", -1, "" },
};

static void test_b64(void)
{
	for (size_t i = 0; i < sizeof b64_rows / sizeof b64_rows[0]; i++) {
		uint8_t out[64];
		const char *in = b64_rows[i].in;
		long n = smtp_auth_b64_decode(smtp_view_make(in, strlen(in)), out, sizeof out);
		harness_check(n == b64_rows[i].len, __FILE__, __LINE__, in);
		if (n >= 0 && b64_rows[i].len >= 0)
			harness_check_mem(out, (size_t)n, b64_rows[i].out, strlen(b64_rows[i].out), __FILE__, __LINE__,
					  in);
	}
	uint8_t small[5];
	CHECK(smtp_auth_b64_decode(smtp_view_make("Zm9vYmFy", 8), small, sizeof small) == -1);
	CHECK(smtp_auth_b64_decode(smtp_view_make("Zm9vYmE=", 8), small, sizeof small) == 5);
}

static void test_plain(void)
{
	struct smtp_view user;
	CHECK(smtp_auth_plain_user((const uint8_t *)"\0joe\0secret", 11, &user));
	CHECK_STR(user.ptr, user.len, "joe");
	CHECK(smtp_auth_plain_user((const uint8_t *)"admin\0joe\0secret", 16, &user));
	CHECK_STR(user.ptr, user.len, "joe");
	CHECK(smtp_auth_plain_user((const uint8_t *)"\0joe\0", 5, &user)); /* empty password */
	CHECK(!smtp_auth_plain_user((const uint8_t *)"\0\0secret", 8, &user)); /* empty authcid */
	CHECK(!smtp_auth_plain_user((const uint8_t *)"joe", 3, &user));
	CHECK(!smtp_auth_plain_user((const uint8_t *)"\0joe", 4, &user));
	CHECK(!smtp_auth_plain_user((const uint8_t *)"\0joe\0se\0cret", 12, &user));
	CHECK(!smtp_auth_plain_user((const uint8_t *)"", 0, &user));
}

int main(void)
{
	test_b64();
	test_plain();
	return harness_finish("smtp_auth");
}
