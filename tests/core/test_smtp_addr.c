/*
 * tests/core/test_smtp_addr.c - MAIL/RCPT path syntax and parameters.
 *
 * Owns: table tests of smtp_addr_parse() (brackets, quoted local parts,
 * spaces after the colon, control bytes, the 256-octet path limit at
 * limit-1/limit/limit+1), smtp_addr_next_param(), and the refusals of
 * smtp_params_mail()/smtp_params_rcpt() (code and text for each bad
 * parameter, SIZE overflow, extensions switched off).
 */
#include <stdio.h>
#include <stdlib.h>

#include "session_harness.h"
#include "smtp_addr.h"
#include "smtp_config.h"
#include "smtp_params.h"

static const struct {
	const char *arg;
	const char *keyword;
	enum smtp_path_status status;
	const char *addr;
	const char *params;
	bool bracketed;
} path_rows[] = {
	{ "FROM:<a@b>", "FROM", SMTP_PATH_OK, "a@b", "", true },
	{ "from:<a@b>", "FROM", SMTP_PATH_OK, "a@b", "", true },
	{ "FROM:<>", "FROM", SMTP_PATH_OK, "", "", true },
	{ "FROM: <a@b>", "FROM", SMTP_PATH_OK, "a@b", "", true },
	{ "FROM:<a@b>  SIZE=10 BODY=8BITMIME", "FROM", SMTP_PATH_OK, "a@b", "SIZE=10 BODY=8BITMIME", true },
	{ "FROM:a@b", "FROM", SMTP_PATH_OK, "a@b", "", false },
	{ "FROM:a@b SIZE=1", "FROM", SMTP_PATH_OK, "a@b", "SIZE=1", false },
	{ "FROM:<\"a> b\"@c>", "FROM", SMTP_PATH_OK, "\"a> b\"@c", "", true },
	{ "FROM:<\"a\\\"b\"@c>", "FROM", SMTP_PATH_OK, "\"a\\\"b\"@c", "", true },
	{ "FROM:<@x,@y:a@b>", "FROM", SMTP_PATH_OK, "@x,@y:a@b", "", true },
	{ "FROM:<;sleep 66;>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<$(id)@x>", "FROM", SMTP_PATH_OK, "$(id)@x", "", true },
	{ "TO:<c@d>", "TO", SMTP_PATH_OK, "c@d", "", true },
	{ "TO:<c@d>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM<a@b>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<a@b", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<a@b>x", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<a<b>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<a\x01@b>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<a\x7f@b>", "FROM", SMTP_PATH_SYNTAX, "", "", true },
	{ "FROM:<\xc3\xa9@b>", "FROM", SMTP_PATH_OK, "\xc3\xa9@b", "", true },
};

static void test_paths(void)
{
	for (size_t i = 0; i < sizeof path_rows / sizeof path_rows[0]; i++) {
		struct smtp_path p;
		const char *a = path_rows[i].arg;
		enum smtp_path_status st = smtp_addr_parse(smtp_view_make(a, strlen(a)), path_rows[i].keyword, &p);
		harness_check(st == path_rows[i].status, __FILE__, __LINE__, a);
		if (st != SMTP_PATH_OK || path_rows[i].status != SMTP_PATH_OK)
			continue;
		harness_check_mem(p.addr.ptr, p.addr.len, path_rows[i].addr, strlen(path_rows[i].addr), __FILE__,
				  __LINE__, a);
		harness_check_mem(p.params.ptr, p.params.len, path_rows[i].params, strlen(path_rows[i].params),
				  __FILE__, __LINE__, a);
		harness_check(p.bracketed == path_rows[i].bracketed, __FILE__, __LINE__, a);
	}
}

/* RFC 5321 4.5.3.1.3: 256 octets including the brackets. */
static void test_path_limit(void)
{
	char arg[400];
	for (size_t total = 255; total <= 257; total++) {
		size_t inner = total - 2;
		memcpy(arg, "TO:<", 4);
		memset(arg + 4, 'a', inner - 2);
		memcpy(arg + 4 + inner - 2, "@b>", 3);
		size_t len = 4 + inner + 1;
		struct smtp_path p;
		enum smtp_path_status st = smtp_addr_parse(smtp_view_make(arg, len), "TO", &p);
		CHECK(st == (total <= SMTP_PATH_MAX_BYTES ? SMTP_PATH_OK : SMTP_PATH_TOO_LONG));
	}
}

static const struct {
	const char *params;
	uint32_t ext;
	bool ok;
	unsigned code;
	const char *text; /* refusal text + tail */
} mail_rows[] = {
	{ "", SMTP_EXT_ALL, true, 0, "" },
	{ "SIZE=1000", SMTP_EXT_ALL, true, 0, "" },
	{ "SIZE=1000", SMTP_EXT_ALL & ~SMTP_EXT_SIZE, false, 555, "5.5.4 Unsupported option: SIZE" },
	{ "SIZE=abc", SMTP_EXT_ALL, false, 501, "5.5.4 Bad message size syntax" },
	{ "SIZE=", SMTP_EXT_ALL, false, 501, "5.5.4 Bad message size syntax" },
	{ "SIZE", SMTP_EXT_ALL, false, 501, "5.5.4 Bad message size syntax" },
	{ "SIZE=99999999999999999999999", SMTP_EXT_ALL, false, 552, "5.3.4 Message size exceeds fixed limit" },
	{ "SIZE=18446744073709551615", SMTP_EXT_ALL, false, 552, "5.3.4 Message size exceeds fixed limit" },
	{ "SIZE=1 SIZE=2", SMTP_EXT_ALL, false, 501, "5.5.4 Error: duplicate parameter" },
	{ "BODY=8BITMIME", SMTP_EXT_ALL, true, 0, "" },
	{ "body=7bit", SMTP_EXT_ALL, true, 0, "" },
	{ "BODY=BINARYMIME", SMTP_EXT_ALL, true, 0, "" },
	{ "BODY=BINARYMIME", SMTP_EXT_ALL & ~SMTP_EXT_CHUNKING, false, 501, "5.5.4 Bad BODY keyword" },
	{ "BODY=9BIT", SMTP_EXT_ALL, false, 501, "5.5.4 Bad BODY keyword" },
	{ "SMTPUTF8", SMTP_EXT_ALL, true, 0, "" },
	{ "SMTPUTF8=YES", SMTP_EXT_ALL, false, 501, "5.5.4 Bad SMTPUTF8 parameter" },
	{ "AUTH=<>", SMTP_EXT_ALL, true, 0, "" },
	{ "AUTH=joe+40example.com", SMTP_EXT_ALL, true, 0, "" },
	{ "AUTH=x+0D+0AX", SMTP_EXT_ALL, false, 501, "5.5.4 Bad AUTH parameter syntax" },
	{ "AUTH=x+4", SMTP_EXT_ALL, false, 501, "5.5.4 Bad AUTH parameter syntax" },
	{ "RET=HDRS ENVID=QQ314159", SMTP_EXT_ALL, true, 0, "" },
	{ "RET=HDRS", SMTP_EXT_ALL & ~SMTP_EXT_DSN, false, 555, "5.5.4 Unsupported option: RET" },
	{ "RET=ALL", SMTP_EXT_ALL, false, 501, "5.5.4 Bad RET parameter syntax" },
	{ "ENVID=a+0Ab", SMTP_EXT_ALL, false, 501, "5.5.4 Bad ENVID parameter syntax" },
	{ "FOO=bar", SMTP_EXT_ALL, false, 555, "5.5.4 Unsupported option: FOO" },
	{ "=", SMTP_EXT_ALL, false, 501, "5.5.4 Error: bad parameter syntax" },
	{ "X=\"", SMTP_EXT_ALL, false, 555, "5.5.4 Unsupported option: X" },
	{ "-X=1", SMTP_EXT_ALL, false, 501, "5.5.4 Error: bad parameter syntax" },
	{ "SIZE=1=2", SMTP_EXT_ALL, false, 501, "5.5.4 Error: bad parameter syntax" },
};

static void check_refusal(bool ok, const struct smtp_reply_spec *r, bool want_ok, unsigned code, const char *text,
			  const char *what)
{
	harness_check(ok == want_ok, __FILE__, __LINE__, what);
	if (ok || want_ok)
		return;
	char got[256];
	snprintf(got, sizeof got, "%s%.*s", r->text, (int)r->tail.len, (const char *)r->tail.ptr);
	harness_check(r->code == code, __FILE__, __LINE__, what);
	harness_check_mem(got, strlen(got), text, strlen(text), __FILE__, __LINE__, what);
}

static void test_mail_params(void)
{
	for (size_t i = 0; i < sizeof mail_rows / sizeof mail_rows[0]; i++) {
		struct smtp_mail_params mp;
		struct smtp_reply_spec r;
		const char *p = mail_rows[i].params;
		bool ok = smtp_params_mail(smtp_view_make(p, strlen(p)), mail_rows[i].ext, 1u << 20, &mp, &r);
		check_refusal(ok, &r, mail_rows[i].ok, mail_rows[i].code, mail_rows[i].text, p);
	}
}

/* SIZE at the limit - 1, the limit and limit + 1. */
static void test_size_limit(void)
{
	const uint64_t max = 1000;
	const char *vals[] = { "999", "1000", "1001" };
	for (int i = 0; i < 3; i++) {
		char p[32];
		struct smtp_mail_params mp;
		struct smtp_reply_spec r;
		snprintf(p, sizeof p, "SIZE=%s", vals[i]);
		bool ok = smtp_params_mail(smtp_view_make(p, strlen(p)), SMTP_EXT_ALL, max, &mp, &r);
		CHECK(ok == (i < 2));
		if (ok)
			CHECK_U64(mp.size_bytes, 999 + (uint64_t)i);
	}
}

static const struct {
	const char *params;
	bool ok;
	unsigned code;
	const char *text;
	uint8_t notify;
} rcpt_rows[] = {
	{ "", true, 0, "", 0 },
	{ "NOTIFY=NEVER", true, 0, "", SMTP_NOTIFY_NEVER },
	{ "NOTIFY=SUCCESS,FAILURE,DELAY", true, 0, "", SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY },
	{ "NOTIFY=NEVER,SUCCESS", false, 501, "5.5.4 Bad NOTIFY parameter syntax", 0 },
	{ "NOTIFY=SUCCESS,SUCCESS", false, 501, "5.5.4 Bad NOTIFY parameter syntax", 0 },
	{ "NOTIFY=", false, 501, "5.5.4 Bad NOTIFY parameter syntax", 0 },
	{ "ORCPT=rfc822;a+40b", true, 0, "", 0 },
	{ "ORCPT=utf-8;\xc3\xa9@b", true, 0, "", 0 },
	{ "ORCPT=rfc822", false, 501, "5.5.4 Bad ORCPT parameter syntax", 0 },
	{ "ORCPT=rfc822;a+0Db", false, 501, "5.5.4 Bad ORCPT parameter syntax", 0 },
	{ "FOO", false, 555, "5.5.4 Unsupported option: FOO", 0 },
};

static void test_rcpt_params(void)
{
	for (size_t i = 0; i < sizeof rcpt_rows / sizeof rcpt_rows[0]; i++) {
		struct smtp_rcpt_params rp;
		struct smtp_reply_spec r;
		const char *p = rcpt_rows[i].params;
		bool ok = smtp_params_rcpt(smtp_view_make(p, strlen(p)), SMTP_EXT_ALL, &rp, &r);
		check_refusal(ok, &r, rcpt_rows[i].ok, rcpt_rows[i].code, rcpt_rows[i].text, p);
		if (ok)
			harness_check(rp.notify == rcpt_rows[i].notify, __FILE__, __LINE__, p);
	}
	struct smtp_rcpt_params rp;
	struct smtp_reply_spec r;
	CHECK(!smtp_params_rcpt(smtp_view_make("NOTIFY=NEVER", 12), SMTP_EXT_ALL & ~SMTP_EXT_DSN, &rp, &r));
	CHECK(r.code == 555);
}

/* 200 parameters and a 600-byte value: clean answers, no overrun. */
static void test_many_params(void)
{
	char p[4000];
	size_t n = 0;
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(p + n, sizeof p - n, "BODY=7BIT ");
	struct smtp_mail_params mp;
	struct smtp_reply_spec r;
	CHECK(!smtp_params_mail(smtp_view_make(p, n), SMTP_EXT_ALL, 0, &mp, &r) && r.code == 501);
	memcpy(p, "ENVID=", 6);
	memset(p + 6, 'a', 600);
	CHECK(!smtp_params_mail(smtp_view_make(p, 606), SMTP_EXT_ALL, 0, &mp, &r) && r.code == 501);
}

int main(void)
{
	test_paths();
	test_path_limit();
	test_mail_params();
	test_size_limit();
	test_rcpt_params();
	test_many_params();
	return harness_finish("smtp_addr");
}
