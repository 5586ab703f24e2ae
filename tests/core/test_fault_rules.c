/*
 * tests/core/test_fault_rules.c - the fault rule language: parsing,
 * validation, canonical text, the rule set and rules files.
 *
 * Owns: one table row per accepted rule (its canonical text, which must
 * parse again to itself) and per refused rule (the exact one-line error),
 * covering every stage, item and validation; the ':'-splitting rule; the
 * bounds (TEXT 400 bytes, rule 1000 bytes, 4096 rules, 1 h delays, 255-byte
 * domains) at limit-1/limit/limit+1; stage names and the verb -> stage
 * map; has_stage; rules files (comments, blanks, CRLF, errors as
 * NAME:LINE: with the set rolled back); and the example profile
 * docs/profiles/bulk-providers.rules (its path is argv[1]).
 * Decisions and outcomes are in test_fault_decide.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fault_rules.h"
#include "session_harness.h"
#include "test_text.h"

#define ERR_LEN 512

/* text must parse alone to canon, and canon to itself. */
static void accept_rule(const char *text, const char *canon, int line)
{
	char err[ERR_LEN] = "";
	struct fault_rules *r = fault_rules_new();
	bool ok = fault_rules_add(r, text, err, sizeof err);
	if (!harness_check(ok, __FILE__, line, text)) {
		printf("    error: %s\n", err);
	} else {
		const char *got = fault_rules_text(r, 0);
		harness_check_mem(got, strlen(got), canon, strlen(canon), __FILE__, line, text);
		struct fault_rules *again = fault_rules_new();
		bool ok2 = fault_rules_add(again, got, err, sizeof err);
		const char *got2 = ok2 ? fault_rules_text(again, 0) : err;
		harness_check_mem(got2, strlen(got2), canon, strlen(canon), __FILE__, line, "canonical text again");
		fault_rules_free(again);
	}
	fault_rules_free(r);
}

/* text must be refused with "text: reason" (text cut to 120 bytes and
 * "...") and leave the set empty. */
static void refuse_rule(const char *text, const char *reason, int line)
{
	char err[ERR_LEN] = "", want[ERR_LEN + 200];
	struct fault_rules *r = fault_rules_new();
	bool ok = fault_rules_add(r, text, err, sizeof err);
	harness_check(!ok && fault_rules_count(r) == 0, __FILE__, line, text);
	size_t n = strlen(text);
	snprintf(want, sizeof want, "%.120s%s: %s", text, n > 120 ? "..." : "", reason);
	harness_check_mem(err, strlen(err), want, strlen(want), __FILE__, line, text);
	fault_rules_free(r);
}

static const struct {
	const char *text, *canon;
} good_rows[] = {
	/* the examples of docs/FAULTS.md */
	{ "rcpt:reply=550 5.1.1 No such user:p=0.1", "rcpt:reply=550 5.1.1 No such user:p=0.1" },
	{ "data:delay=2s", "data:delay=2s" },
	{ "connect:reply=421 4.7.0 Busy", "connect:reply=421 4.7.0 Busy" },
	/* every stage */
	{ "connect:disconnect", "connect:disconnect" },
	{ "connect:close=554 5.7.1 Go away", "connect:close=554 5.7.1 Go away" },
	{ "connect:delay=10s", "connect:delay=10s" },
	{ "helo:reply=250 hi", "helo:reply=250 2.0.0 hi" },
	{ "helo:close", "helo:close" },
	{ "mail:reply=451", "mail:reply=451 4.0.0" },
	{ "mail:close=421", "mail:close=421 4.0.0" },
	{ "rcpt:reply=250 Accepted", "rcpt:reply=250 2.0.0 Accepted" },
	{ "data:reply=354 Go ahead", "data:reply=354 Go ahead" },
	{ "data:reply=354", "data:reply=354" },
	{ "data:reply=354 ", "data:reply=354" },
	{ "data:reply=554 5.5.1 No valid recipients", "data:reply=554 5.5.1 No valid recipients" },
	{ "bdat:reply=452 4.3.1 Insufficient system storage", "bdat:reply=452 4.3.1 Insufficient system storage" },
	{ "content:delay=30s:close=550 5.0.0 Error: aborted", "content:close=550 5.0.0 Error: aborted:delay=30s" },
	{ "content:disconnect:p=0.01", "content:disconnect:p=0.01" },
	{ "content:close", "content:close" },
	{ "dot:reply=451 4.3.0 Queue write failed", "dot:reply=451 4.3.0 Queue write failed" },
	{ "dot:close=421 4.3.2 Shutting down", "dot:close=421 4.3.2 Shutting down" },
	{ "dot:delay=5s", "dot:delay=5s" },
	{ "rset:reply=250 2.0.0 Flushed", "rset:reply=250 2.0.0 Flushed" },
	{ "noop:delay=500ms", "noop:delay=500ms" },
	{ "quit:reply=221 2.0.0 Bye", "quit:reply=221 2.0.0 Bye" },
	{ "vrfy:reply=252 2.1.5 Cannot verify", "vrfy:reply=252 2.1.5 Cannot verify" },
	{ "auth:reply=334 VXNlcm5hbWU6", "auth:reply=334 VXNlcm5hbWU6" },
	{ "auth:reply=235 2.7.0 Authentication successful", "auth:reply=235 2.7.0 Authentication successful" },
	{ "auth:reply=535 5.7.8 Bad credentials", "auth:reply=535 5.7.8 Bad credentials" },
	{ "any:close:p=50%", "any:close:p=0.5" },
	{ "any:disconnect:p=1%", "any:disconnect:p=0.01" },
	{ "any:reply=421 4.7.0 Try later", "any:reply=421 4.7.0 Try later" },
	/* texts: class prefix, enhanced codes, ':' inside */
	{ "rcpt:reply=550 No such user", "rcpt:reply=550 5.0.0 No such user" },
	{ "rcpt:reply=550 5.1.1", "rcpt:reply=550 5.1.1" },
	{ "rcpt:reply=550 5.123.456 x", "rcpt:reply=550 5.123.456 x" },
	{ "rcpt:reply=550 5.1.1x", "rcpt:reply=550 5.0.0 5.1.1x" },
	{ "rcpt:reply=550 5.1234.1 x", "rcpt:reply=550 5.0.0 5.1234.1 x" },
	{ "rcpt:reply=550  two spaces", "rcpt:reply=550 5.0.0  two spaces" },
	{ "rcpt:reply=550 ", "rcpt:reply=550 5.0.0" },
	{ "rcpt:reply=550 5.1.1 Error: user: unknown:p=0.1", "rcpt:reply=550 5.1.1 Error: user: unknown:p=0.1" },
	{ "rcpt:reply=550 5.0.0 a:p:b", "rcpt:reply=550 5.0.0 a:p:b" },
	{ "rcpt:reply=421 4.4.2 Connection:closed", "rcpt:reply=421 4.4.2 Connection:closed" },
	{ "rcpt:reply=421 4.4.2 x:disconnected", "rcpt:reply=421 4.4.2 x:disconnected" },
	{ "rcpt:reply=550 5.0.0 x:", "rcpt:reply=550 5.0.0 x:" },
	{ "rcpt:reply=550 5.0.0 x::p=0.5", "rcpt:reply=550 5.0.0 x::p=0.5" },
	{ "rcpt:reply=550 5.0.0 see http://x.example/p=1", "rcpt:reply=550 5.0.0 see http://x.example/p=1" },
	{ "rcpt:reply=550 5.0.0 Reply=no", "rcpt:reply=550 5.0.0 Reply=no" },
	/* durations */
	{ "rcpt:delay=500-1500ms", "rcpt:delay=500ms-1500ms" },
	{ "rcpt:delay=1-3s", "rcpt:delay=1s-3s" },
	{ "rcpt:delay=2-1500ms", "rcpt:delay=2ms-1500ms" },
	{ "rcpt:delay=1-1m", "rcpt:delay=1m" },
	{ "rcpt:delay=1s-2m", "rcpt:delay=1s-2m" },
	{ "rcpt:delay=1.5s", "rcpt:delay=1500ms" },
	{ "rcpt:delay=0.5m", "rcpt:delay=30s" },
	{ "rcpt:delay=90", "rcpt:delay=90s" },
	{ "rcpt:delay=60s", "rcpt:delay=1m" },
	{ "rcpt:delay=0-1m", "rcpt:delay=0s-1m" },
	{ "rcpt:delay=2s-2s", "rcpt:delay=2s" },
	{ "rcpt:delay=0.001s", "rcpt:delay=1ms" },
	{ "rcpt:delay=1ms", "rcpt:delay=1ms" },
	{ "rcpt:delay=60m", "rcpt:delay=60m" },
	{ "rcpt:delay=3600s", "rcpt:delay=60m" },
	{ "rcpt:delay=3599999ms", "rcpt:delay=3599999ms" },
	{ "rcpt:delay=3600000ms", "rcpt:delay=60m" },
	{ "rcpt:delay=007s", "rcpt:delay=7s" },
	/* p */
	{ "rcpt:delay=1s:p=1", "rcpt:delay=1s" },
	{ "rcpt:delay=1s:p=1.0", "rcpt:delay=1s" },
	{ "rcpt:delay=1s:p=100%", "rcpt:delay=1s" },
	{ "rcpt:delay=1s:p=0.10", "rcpt:delay=1s:p=0.1" },
	{ "rcpt:delay=1s:p=10%", "rcpt:delay=1s:p=0.1" },
	{ "rcpt:delay=1s:p=0.5%", "rcpt:delay=1s:p=0.005" },
	{ "rcpt:delay=1s:p=0.000000001", "rcpt:delay=1s:p=0.000000001" },
	{ "rcpt:delay=1s:p=0.0000001%", "rcpt:delay=1s:p=0.000000001" },
	{ "rcpt:delay=1s:p=0.999999999", "rcpt:delay=1s:p=0.999999999" },
	{ "rcpt:delay=1s:p=33.3%", "rcpt:delay=1s:p=0.333" },
	/* client= and domain= */
	{ "rcpt:reply=550 5.7.1 Blocked:client=10.0.0.0/8", "rcpt:reply=550 5.7.1 Blocked:client=10.0.0.0/8" },
	{ "rcpt:reply=550 5.7.1 Blocked:client=::1/128:p=0.5", "rcpt:reply=550 5.7.1 Blocked:p=0.5:client=::1" },
	{ "rcpt:client=::1:reply=550 x", "rcpt:reply=550 5.0.0 x:client=::1" },
	{ "connect:reply=554 5.7.1 No:client=2001:db8::/32", "connect:reply=554 5.7.1 No:client=2001:db8::/32" },
	{ "connect:client=::ffff:10.0.0.0/104:disconnect", "connect:disconnect:client=::ffff:10.0.0.0/104" },
	{ "rcpt:reply=550 x:domain=Example.COM", "rcpt:reply=550 5.0.0 x:domain=example.com" },
	{ "mail:reply=553 5.1.8 Bad domain:domain=*.Example.com",
	  "mail:reply=553 5.1.8 Bad domain:domain=*.example.com" },
	{ "rcpt:delay=1s:domain=mx_1.a-b.example", "rcpt:delay=1s:domain=mx_1.a-b.example" },
	/* every item at once, in any order */
	{ "rcpt:domain=gmail.com:client=192.0.2.0/24:p=2%:delay=1s:reply=421 4.7.0 Slow down",
	  "rcpt:reply=421 4.7.0 Slow down:delay=1s:p=0.02:client=192.0.2.0/24:domain=gmail.com" },
	{ "mail:p=0.25:disconnect:delay=250ms", "mail:disconnect:delay=250ms:p=0.25" },
};

static void test_accepted(void)
{
	for (size_t i = 0; i < sizeof good_rows / sizeof good_rows[0]; i++)
		accept_rule(good_rows[i].text, good_rows[i].canon, __LINE__);
}

#define NEEDS_ANSWER "needs an answer (reply=, close, disconnect, fail) or a delay="
#define ONE_ANSWER "more than one answer (reply=, close, disconnect, fail)"
#define TWICE "an item appears twice"
#define CODE_SYNTAX "a reply wants a 3-digit code, then optionally a space and text"
#define CODE_RANGE "reply code must be 200..599"
#define CLASS_DIFFERS "enhanced status code class differs from the reply code's"
#define ONLY_45 "this stage allows only 4xx and 5xx replies"
#define WRONG_CLASS "this stage does not succeed with that reply class"
#define DELAY_SYNTAX "delay= wants DUR or DUR-DUR, DUR a number and ms, s or m"
#define DELAY_LONG "delay longer than 1h"
#define P_SYNTAX "p= wants a number 0 < p <= 1 (at most 9 decimals) or a percentage"
#define CLIENT_SYNTAX "client= wants ADDR or ADDR/BITS"
#define CLIENT_BITS "client= wants ADDR or ADDR/BITS, host bits zero"
#define DOMAIN_LEN "domain= wants a domain of 1..255 bytes, or *.DOMAIN"
#define DOMAIN_CHARS "domain= allows letters, digits, '-', '_' and '.' (and a leading \"*.\")"
#define DOMAIN_LABEL "domain= has an empty label"

static const struct {
	const char *text, *reason;
} bad_rows[] = {
	/* shape */
	{ "rcpt", "wants STAGE:ITEM[:ITEM...]" },
	{ "bogus:delay=1s", "unknown stage \"bogus\"" },
	{ "RCPT:delay=1s", "unknown stage \"RCPT\"" },
	{ ":delay=1s", "unknown stage \"\"" },
	{ "none:delay=1s", "unknown stage \"none\"" },
	{ "rcpt:", "empty item" },
	{ "rcpt::delay=1s", "empty item" },
	{ "rcpt:foo=1", "unknown item \"foo=1\"" },
	{ "rcpt:Reply=550 x", "unknown item \"Reply=550 x\"" },
	{ "rcpt:reply", "unknown item \"reply\"" },
	{ "rcpt:closed", "unknown item \"closed\"" },
	{ "rcpt: delay=1s", "unknown item \" delay=1s\"" },
	/* answers */
	{ "rcpt:p=0.5", NEEDS_ANSWER },
	{ "rcpt:client=::1", NEEDS_ANSWER },
	{ "rcpt:reply=550 x:reply=450 y", ONE_ANSWER },
	{ "rcpt:close:disconnect", ONE_ANSWER },
	{ "rcpt:reply=550 x:close", ONE_ANSWER },
	{ "rcpt:disconnect:close=421 x", ONE_ANSWER },
	{ "rcpt:disconnect=1", "disconnect takes no value" },
	{ "rcpt:disconnect=", "disconnect takes no value" },
	{ "rcpt:delay=1s:delay=2s", TWICE },
	{ "rcpt:delay=1s:p=0.5:p=0.5", TWICE },
	{ "rcpt:delay=1s:client=::1:client=::2", TWICE },
	{ "rcpt:delay=1s:domain=a.example:domain=b.example", TWICE },
	/* codes and texts */
	{ "rcpt:reply=650 x", CODE_RANGE },
	{ "rcpt:reply=199 x", CODE_RANGE },
	{ "rcpt:reply=099", CODE_RANGE },
	{ "rcpt:reply=55 x", CODE_SYNTAX },
	{ "rcpt:reply=5500", CODE_SYNTAX },
	{ "rcpt:reply=", CODE_SYNTAX },
	{ "rcpt:reply=5x0 x", CODE_SYNTAX },
	{ "rcpt:reply=550-x", CODE_SYNTAX },
	{ "rcpt:close=", CODE_SYNTAX },
	{ "rcpt:close=x", CODE_SYNTAX },
	{ "rcpt:reply=550 4.1.1 x", CLASS_DIFFERS },
	{ "rcpt:reply=250 5.0.0 x", CLASS_DIFFERS },
	{ "rcpt:reply=450 5.1.1", CLASS_DIFFERS },
	{ "rcpt:reply=550 1.2.3 x", CLASS_DIFFERS },
	{ "rcpt:close=421 5.0.0 x", CLASS_DIFFERS },
	/* per stage */
	{ "connect:reply=250 hi", ONLY_45 },
	{ "connect:reply=354 x", ONLY_45 },
	{ "dot:reply=250 ok", ONLY_45 },
	{ "any:reply=250 ok", ONLY_45 },
	{ "content:reply=550 x", "content allows only delay=, close and disconnect" },
	{ "content:reply=250 x", "content allows only delay=, close and disconnect" },
	{ "mail:reply=354 x", WRONG_CLASS },
	{ "rcpt:reply=334 x", WRONG_CLASS },
	{ "data:reply=250 x", WRONG_CLASS },
	{ "quit:reply=354 x", WRONG_CLASS },
	{ "rcpt:close=250 x", "close code must be 4xx or 5xx" },
	{ "quit:close=221", "close code must be 4xx or 5xx" },
	{ "helo:reply=550 x:domain=example.com", "domain= is only for the mail and rcpt stages" },
	{ "any:delay=1s:domain=example.com", "domain= is only for the mail and rcpt stages" },
	{ "connect:disconnect:domain=example.com", "domain= is only for the mail and rcpt stages" },
	/* delays */
	{ "rcpt:delay=", DELAY_SYNTAX },
	{ "rcpt:delay=1h", DELAY_SYNTAX },
	{ "rcpt:delay=s", DELAY_SYNTAX },
	{ "rcpt:delay=-1s", DELAY_SYNTAX },
	{ "rcpt:delay=1s-", DELAY_SYNTAX },
	{ "rcpt:delay=1s-2s-3s", DELAY_SYNTAX },
	{ "rcpt:delay=1.s", DELAY_SYNTAX },
	{ "rcpt:delay=.5s", DELAY_SYNTAX },
	{ "rcpt:delay=1.0005s", DELAY_SYNTAX },
	{ "rcpt:delay=1 s", DELAY_SYNTAX },
	{ "rcpt:delay=1S", DELAY_SYNTAX },
	{ "rcpt:delay=1.5ms", "delay= is finer than a millisecond" },
	{ "rcpt:delay=3601s", DELAY_LONG },
	{ "rcpt:delay=61m", DELAY_LONG },
	{ "rcpt:delay=3600001ms", DELAY_LONG },
	{ "rcpt:delay=3600.001s", DELAY_LONG },
	{ "rcpt:delay=0-3601s", DELAY_LONG },
	{ "rcpt:delay=99999999999999999999999s", DELAY_LONG },
	{ "rcpt:delay=3s-1s", "delay range runs backwards" },
	{ "rcpt:delay=2000-1500ms", "delay range runs backwards" },
	{ "rcpt:delay=0", "delay=0 does nothing" },
	{ "rcpt:delay=0s-0ms", "delay=0 does nothing" },
	/* p */
	{ "rcpt:delay=1s:p=0", "p= must be more than 0" },
	{ "rcpt:delay=1s:p=0%", "p= must be more than 0" },
	{ "rcpt:delay=1s:p=0.0000000001", P_SYNTAX },
	{ "rcpt:delay=1s:p=1.5", "p= must be at most 1 (100%)" },
	{ "rcpt:delay=1s:p=1.000000001", "p= must be at most 1 (100%)" },
	{ "rcpt:delay=1s:p=101%", "p= must be at most 1 (100%)" },
	{ "rcpt:delay=1s:p=99999999999999999999", "p= must be at most 1 (100%)" },
	{ "rcpt:delay=1s:p=0.00000001%", "p= percentage has more than 7 decimals" },
	{ "rcpt:delay=1s:p=", P_SYNTAX },
	{ "rcpt:delay=1s:p=%", P_SYNTAX },
	{ "rcpt:delay=1s:p=abc", P_SYNTAX },
	{ "rcpt:delay=1s:p=-0.5", P_SYNTAX },
	{ "rcpt:delay=1s:p=.5", P_SYNTAX },
	{ "rcpt:delay=1s:p=0.5 ", P_SYNTAX },
	{ "rcpt:delay=1s:p=1e-3", P_SYNTAX },
	{ "rcpt:delay=1s:p=10%%", P_SYNTAX },
	/* client= */
	{ "rcpt:delay=1s:client=", CLIENT_SYNTAX },
	{ "rcpt:delay=1s:client=10.0.0.1/8", CLIENT_BITS },
	{ "rcpt:delay=1s:client=localhost", CLIENT_BITS },
	{ "rcpt:delay=1s:client=10.0.0.0/33", CLIENT_BITS },
	{ "rcpt:delay=1s:client=0000000000000000000000000000000000000000000000000000000000000000", CLIENT_SYNTAX },
	/* domain= */
	{ "rcpt:delay=1s:domain=", DOMAIN_LEN },
	{ "rcpt:delay=1s:domain=*", DOMAIN_CHARS },
	{ "rcpt:delay=1s:domain=*.", DOMAIN_LABEL },
	{ "rcpt:delay=1s:domain=*.*.example", DOMAIN_CHARS },
	{ "rcpt:delay=1s:domain=a..b", DOMAIN_LABEL },
	{ "rcpt:delay=1s:domain=.a", DOMAIN_LABEL },
	{ "rcpt:delay=1s:domain=a.", DOMAIN_LABEL },
	{ "rcpt:delay=1s:domain=ex ample.com", DOMAIN_CHARS },
	{ "rcpt:delay=1s:domain=a@b.com", DOMAIN_CHARS },
	{ "rcpt:delay=1s:domain=[192.0.2.1]", DOMAIN_CHARS },
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++)
		refuse_rule(bad_rows[i].text, bad_rows[i].reason, __LINE__);
}

/* Errors stay one printable line: control bytes show as '?', long rules
 * are cut, and an empty rule says so. */
static void test_error_lines(void)
{
	char err[ERR_LEN];
	struct fault_rules *r = fault_rules_new();
	CHECK(!fault_rules_add(r, "", err, sizeof err));
	CHECK_STR(err, strlen(err), "(empty): empty rule");
	CHECK(!fault_rules_add(r, "rcpt:reply=550 a\tb", err, sizeof err));
	CHECK_STR(err, strlen(err), "rcpt:reply=550 a?b: control or non-ASCII byte at offset 16");
	CHECK(!fault_rules_add(r, "rcpt:reply=550 caf\xc3\xa9", err, sizeof err));
	CHECK_STR(err, strlen(err), "rcpt:reply=550 caf??: control or non-ASCII byte at offset 18");
	CHECK(!fault_rules_add(r, "rcpt:reply=550 a\x7f", err, sizeof err));
	CHECK_STR(err, strlen(err), "rcpt:reply=550 a?: control or non-ASCII byte at offset 16");
	CHECK(!fault_rules_add(r, "rcpt:reply=550 a\r\nQUIT", err, sizeof err));
	CHECK_STR(err, strlen(err), "rcpt:reply=550 a??QUIT: control or non-ASCII byte at offset 16");

	struct test_text t = { 0 };
	text_str(&t, "rcpt:foo=");
	text_fill(&t, 'x', 200);
	CHECK(!fault_rules_add(r, text_cstr(&t), err, sizeof err));
	struct test_text want = { 0 };
	text_add(&want, t.p, 120);
	text_str(&want, "...: unknown item \"foo=");
	text_fill(&want, 'x', 200);
	text_str(&want, "\"");
	CHECK_STR(err, strlen(err), text_cstr(&want));
	/* a short err buffer is cut, still NUL-terminated */
	char small[8];
	CHECK(!fault_rules_add(r, "rcpt", small, sizeof small));
	CHECK_STR(small, strlen(small), "rcpt: w");
	CHECK(!fault_rules_add(r, "rcpt", NULL, 0));
	CHECK_U64(fault_rules_count(r), 0);
	text_free(&t);
	text_free(&want);
	fault_rules_free(r);
}

/* TEXT: 400 bytes after normalisation, with or without a written code. */
static void test_text_bound(void)
{
	for (size_t extra = 0; extra < 3; extra++) {
		struct test_text bare = { 0 }, coded = { 0 }, canon = { 0 };
		text_str(&bare, "rcpt:reply=550 ");
		text_fill(&bare, 'b', 393 + extra); /* "5.0.0 " + 393 + extra */
		text_str(&coded, "rcpt:reply=550 5.1.1 ");
		text_fill(&coded, 'c', 393 + extra);
		text_str(&canon, "rcpt:reply=550 5.0.0 ");
		text_fill(&canon, 'b', 393 + extra);
		if (extra < 2) {
			accept_rule(bare.p, canon.p, __LINE__);
			accept_rule(coded.p, coded.p, __LINE__);
		} else {
			refuse_rule(bare.p, "reply text longer than 400 bytes", __LINE__);
			refuse_rule(coded.p, "reply text longer than 400 bytes", __LINE__);
		}
		text_free(&bare);
		text_free(&coded);
		text_free(&canon);
	}
}

/* A rule: 1000 bytes (padded with leading zeros of its delay). */
static void test_rule_length_bound(void)
{
	for (size_t len = 999; len <= 1001; len++) {
		struct test_text t = { 0 };
		text_str(&t, "rcpt:delay=");
		text_fill(&t, '0', len - strlen("rcpt:delay=") - 2);
		text_str(&t, "1s");
		CHECK_U64(t.len, len);
		char err[ERR_LEN];
		struct fault_rules *r = fault_rules_new();
		bool ok = fault_rules_add(r, t.p, err, sizeof err);
		CHECK(ok == (len <= 1000));
		if (ok)
			CHECK_STR(fault_rules_text(r, 0), strlen(fault_rules_text(r, 0)), "rcpt:delay=1s");
		else
			CHECK(strstr(err, ": rule longer than 1000 bytes") != NULL);
		fault_rules_free(r);
		text_free(&t);
	}
}

/* A valid domain of exactly n bytes (n >= 1): labels of 9 letters. */
static void make_domain(struct test_text *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		text_str(t, i % 10 == 9 && i + 1 < n ? "." : "a");
}

/* Domains: 255 bytes, counting a wildcard's ".suffix". */
static void test_domain_bound(void)
{
	for (size_t len = 254; len <= 256; len++) {
		struct test_text plain = { 0 }, wild = { 0 };
		text_str(&plain, "rcpt:delay=1s:domain=");
		make_domain(&plain, len);
		text_str(&wild, "rcpt:delay=1s:domain=*.");
		make_domain(&wild, len - 1);
		if (len <= 255) {
			accept_rule(plain.p, plain.p, __LINE__);
			accept_rule(wild.p, wild.p, __LINE__);
		} else {
			refuse_rule(plain.p, DOMAIN_LEN, __LINE__);
			refuse_rule(wild.p, DOMAIN_LEN, __LINE__);
		}
		text_free(&plain);
		text_free(&wild);
	}
}

/* 4096 rules in a set; the 4097th is refused and changes nothing. */
static void test_rule_count_bound(void)
{
	char err[ERR_LEN];
	struct fault_rules *r = fault_rules_new();
	bool all = true;
	for (unsigned i = 0; i < 4095; i++)
		all &= fault_rules_add(r, "rcpt:delay=1s", err, sizeof err);
	CHECK(all);
	CHECK_U64(fault_rules_count(r), 4095);
	CHECK(fault_rules_add(r, "mail:delay=2s", err, sizeof err));
	CHECK_U64(fault_rules_count(r), 4096);
	CHECK(!fault_rules_add(r, "helo:delay=3s", err, sizeof err));
	CHECK_STR(err, strlen(err), "helo:delay=3s: more than 4096 rules");
	CHECK_U64(fault_rules_count(r), 4096);
	CHECK(!fault_rules_has_stage(r, FAULT_STAGE_HELO));
	CHECK_STR(fault_rules_text(r, 4095), strlen(fault_rules_text(r, 4095)), "mail:delay=2s");
	CHECK(fault_rules_text(r, 4096) == NULL);
	fault_rules_free(r);
}

static void test_stage_names_and_verbs(void)
{
	static const char *const names[] = { "connect", "helo", "mail", "rcpt", "data", "bdat", "content", "dot",
					     "rset",	"noop", "quit", "vrfy", "auth", "tls",	"any" };
	CHECK_U64(sizeof names / sizeof names[0], FAULT_STAGE_COUNT);
	for (int st = 0; st < FAULT_STAGE_COUNT; st++)
		CHECK_STR(fault_stage_name((enum fault_stage)st), strlen(fault_stage_name((enum fault_stage)st)),
			  names[st]);
	CHECK_STR(fault_stage_name(FAULT_STAGE_NONE), 4, "none");
	static const struct {
		enum smtp_verb verb;
		enum fault_stage st;
	} map[] = {
		{ SMTP_VERB_UNKNOWN, FAULT_STAGE_NONE },       { SMTP_VERB_HELO, FAULT_STAGE_HELO },
		{ SMTP_VERB_EHLO, FAULT_STAGE_HELO },	       { SMTP_VERB_LHLO, FAULT_STAGE_HELO },
		{ SMTP_VERB_MAIL, FAULT_STAGE_MAIL },	       { SMTP_VERB_RCPT, FAULT_STAGE_RCPT },
		{ SMTP_VERB_DATA, FAULT_STAGE_DATA },	       { SMTP_VERB_BDAT, FAULT_STAGE_BDAT },
		{ SMTP_VERB_RSET, FAULT_STAGE_RSET },	       { SMTP_VERB_NOOP, FAULT_STAGE_NOOP },
		{ SMTP_VERB_QUIT, FAULT_STAGE_QUIT },	       { SMTP_VERB_VRFY, FAULT_STAGE_VRFY },
		{ SMTP_VERB_EXPN, FAULT_STAGE_NONE },	       { SMTP_VERB_HELP, FAULT_STAGE_NONE },
		{ SMTP_VERB_AUTH, FAULT_STAGE_AUTH },	       { SMTP_VERB_STARTTLS, FAULT_STAGE_TLS },
		{ SMTP_VERB_AUTH_RESPONSE, FAULT_STAGE_AUTH },
	};
	CHECK_U64(sizeof map / sizeof map[0], SMTP_VERB_COUNT);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		harness_check(fault_stage_of_verb(map[i].verb) == map[i].st, __FILE__, __LINE__,
			      smtp_cmd_name(map[i].verb));
}

/* The stages whose decisions would look at any rule, as a bit mask. */
static unsigned stage_mask(const struct fault_rules *r)
{
	unsigned m = 0;
	for (int st = 0; st <= FAULT_STAGE_NONE; st++)
		if (fault_rules_has_stage(r, (enum fault_stage)st))
			m |= 1u << st;
	return m;
}

static void test_has_stage(void)
{
	char err[ERR_LEN];
	const unsigned commands = ((1u << (FAULT_STAGE_NONE + 1)) - 1) &
				  ~(1u << FAULT_STAGE_CONNECT | 1u << FAULT_STAGE_CONTENT | 1u << FAULT_STAGE_DOT);
	CHECK_U64(stage_mask(NULL), 0);
	CHECK_U64(fault_rules_count(NULL), 0);
	CHECK(fault_rules_text(NULL, 0) == NULL);
	struct fault_rules *r = fault_rules_new();
	CHECK_U64(stage_mask(r), 0);
	CHECK(fault_rules_add(r, "mail:delay=1s", err, sizeof err));
	CHECK_U64(stage_mask(r), 1u << FAULT_STAGE_MAIL);
	CHECK(fault_rules_add(r, "dot:reply=451 x", err, sizeof err));
	CHECK_U64(stage_mask(r), 1u << FAULT_STAGE_MAIL | 1u << FAULT_STAGE_DOT);
	/* "any" reaches every command and the verbs of no stage, not connect,
	 * content or dot */
	CHECK(fault_rules_add(r, "any:delay=1s", err, sizeof err));
	CHECK_U64(stage_mask(r), commands | 1u << FAULT_STAGE_DOT);
	CHECK(!fault_rules_has_stage(r, (enum fault_stage)(FAULT_STAGE_NONE + 1)));
	fault_rules_free(r);
	fault_rules_free(NULL);
}

/* A rule set made of many rules keeps their order and canonical texts. */
static void test_order_kept(void)
{
	static const char *const rules[] = { "rcpt:delay=1s", "mail:delay=2s", "rcpt:reply=550 x",
					     "any:close",     "rcpt:delay=3s", "connect:disconnect" };
	char err[ERR_LEN];
	struct fault_rules *r = fault_rules_new();
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		CHECK(fault_rules_add(r, rules[i], err, sizeof err));
	CHECK_U64(fault_rules_count(r), 6);
	CHECK_STR(fault_rules_text(r, 2), strlen(fault_rules_text(r, 2)), "rcpt:reply=550 5.0.0 x");
	CHECK_STR(fault_rules_text(r, 5), strlen(fault_rules_text(r, 5)), "connect:disconnect");
	fault_rules_free(r);
}

/* ---- rules files --------------------------------------------------------- */

static const char file_ok[] = "# a profile\n"
			      "\n"
			      "   rcpt:reply=550 5.1.1 No such user:p=0.1   \n"
			      "\t# indented comment\r\n"
			      "data:delay=2s\r\n"
			      " \t \r\n"
			      "connect:reply=421 4.7.0 Busy"; /* no final newline */

static void test_file_ok(void)
{
	char err[ERR_LEN];
	struct fault_rules *r = fault_rules_new();
	CHECK(fault_rules_add_file(r, "ok.rules", file_ok, strlen(file_ok), err, sizeof err));
	CHECK_U64(fault_rules_count(r), 3);
	CHECK_STR(fault_rules_text(r, 0), strlen(fault_rules_text(r, 0)), "rcpt:reply=550 5.1.1 No such user:p=0.1");
	CHECK_STR(fault_rules_text(r, 1), strlen(fault_rules_text(r, 1)), "data:delay=2s");
	CHECK_STR(fault_rules_text(r, 2), strlen(fault_rules_text(r, 2)), "connect:reply=421 4.7.0 Busy");
	CHECK(fault_rules_has_stage(r, FAULT_STAGE_CONNECT));
	/* an empty file and a file of comments add nothing and succeed */
	CHECK(fault_rules_add_file(r, "empty", "", 0, err, sizeof err));
	CHECK(fault_rules_add_file(r, "comments", "#x\n\n# y\n", 8, err, sizeof err));
	CHECK_U64(fault_rules_count(r), 3);
	/* len is honoured: the image need not be NUL-terminated */
	CHECK(fault_rules_add_file(r, "cut", "mail:delay=1sXYZ", 13, err, sizeof err));
	CHECK_STR(fault_rules_text(r, 3), strlen(fault_rules_text(r, 3)), "mail:delay=1s");
	fault_rules_free(r);
}

/* An error names NAME:LINE and leaves the set as it was before the file. */
static void check_file_error(const char *image, size_t len, const char *want)
{
	char err[ERR_LEN];
	struct fault_rules *r = fault_rules_new();
	CHECK(fault_rules_add(r, "helo:delay=1s", err, sizeof err));
	CHECK(!fault_rules_add_file(r, "bad.rules", image, len, err, sizeof err));
	CHECK_STR(err, strlen(err), want);
	CHECK_U64(fault_rules_count(r), 1);
	CHECK_STR(fault_rules_text(r, 0), strlen(fault_rules_text(r, 0)), "helo:delay=1s");
	CHECK(fault_rules_text(r, 1) == NULL);
	CHECK_U64(stage_mask(r), 1u << FAULT_STAGE_HELO);
	/* and it still works: the rolled-back set takes new rules */
	CHECK(fault_rules_add(r, "rcpt:delay=1s", err, sizeof err));
	CHECK_U64(stage_mask(r), 1u << FAULT_STAGE_HELO | 1u << FAULT_STAGE_RCPT);
	fault_rules_free(r);
}

static void test_file_errors(void)
{
	static const char bad4[] = "rcpt:delay=1s\nmail:delay=1s\n# c\n  rcpt:reply=650 x  \nany:close\n";
	check_file_error(bad4, strlen(bad4), "bad.rules:4: rcpt:reply=650 x: reply code must be 200..599");
	static const char bad1[] = "bogus\n";
	check_file_error(bad1, strlen(bad1), "bad.rules:1: bogus: wants STAGE:ITEM[:ITEM...]");
	static const char nul[] = "mail:delay=1s\nrcpt:delay=1s\0x\n";
	check_file_error(nul, sizeof nul - 1, "bad.rules:2: rcpt:delay=1s?x: control or non-ASCII byte at offset 13");
	static const char bare_cr[] = "mail:delay=1s\rrcpt:delay=1s\n";
	check_file_error(bare_cr, strlen(bare_cr),
			 "bad.rules:1: mail:delay=1s?rcpt:delay=1s: control or non-ASCII byte at offset 13");
	/* the last line, without a newline */
	static const char last[] = "mail:delay=1s\n\nrcpt:delay=0";
	check_file_error(last, strlen(last), "bad.rules:3: rcpt:delay=0: delay=0 does nothing");
	/* a line longer than a rule may be */
	struct test_text t = { 0 }, want = { 0 };
	text_str(&t, "mail:delay=1s\nrcpt:delay=");
	text_fill(&t, '0', 1000);
	text_str(&t, "1s\n");
	text_str(&want, "bad.rules:2: rcpt:delay=");
	text_fill(&want, '0', 120 - 11);
	text_str(&want, "...: rule longer than 1000 bytes");
	check_file_error(t.p, t.len, want.p);
	text_free(&t);
	text_free(&want);
}

/* A file that would pass the 4096-rule bound is refused whole. */
static void test_file_count_bound(void)
{
	char err[ERR_LEN];
	struct test_text t = { 0 };
	text_rep(&t, "rcpt:delay=1s\n", 4000);
	struct fault_rules *r = fault_rules_new();
	CHECK(fault_rules_add_file(r, "a", t.p, t.len, err, sizeof err));
	CHECK(!fault_rules_add_file(r, "b", t.p, t.len, err, sizeof err));
	CHECK_STR(err, strlen(err), "b:97: rcpt:delay=1s: more than 4096 rules");
	CHECK_U64(fault_rules_count(r), 4000);
	fault_rules_free(r);
	text_free(&t);
}

/* docs/profiles/bulk-providers.rules parses, and its canonical texts parse
 * to themselves. */
static void test_profile_file(const char *path)
{
	if (!harness_check(path != NULL, __FILE__, __LINE__, "the profile's path is argv[1]"))
		return;
	FILE *f = fopen(path, "rb");
	if (!harness_check(f != NULL, __FILE__, __LINE__, path))
		return;
	struct test_text t = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		text_add(&t, chunk, n);
	fclose(f);
	char err[ERR_LEN] = "";
	struct fault_rules *r = fault_rules_new();
	if (!CHECK(fault_rules_add_file(r, path, text_cstr(&t), t.len, err, sizeof err)))
		printf("    %s\n", err);
	CHECK(fault_rules_count(r) >= 10);
	CHECK(fault_rules_has_stage(r, FAULT_STAGE_RCPT));
	struct fault_rules *again = fault_rules_new();
	unsigned differ = 0;
	for (uint32_t i = 0; i < fault_rules_count(r); i++) {
		const char *c = fault_rules_text(r, i);
		if (!fault_rules_add(again, c, err, sizeof err) || strcmp(fault_rules_text(again, i), c) != 0)
			differ++;
	}
	CHECK_U64(differ, 0);
	fault_rules_free(again);
	fault_rules_free(r);
	text_free(&t);
}

static void test_files(const char *profile)
{
	test_file_ok();
	test_file_errors();
	test_file_count_bound();
	test_profile_file(profile);
}

int main(int argc, char **argv)
{
	test_accepted();
	test_refused();
	test_error_lines();
	test_text_bound();
	test_rule_length_bound();
	test_domain_bound();
	test_rule_count_bound();
	test_stage_names_and_verbs();
	test_has_stage();
	test_order_kept();
	test_files(argc > 1 ? argv[1] : NULL);
	return harness_finish("fault_rules");
}
