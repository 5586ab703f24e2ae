/*
 * tests/core/test_fault_decide.c - fault decisions, their generator, and
 * recipient outcomes.
 *
 * Owns: what each answer and delay puts in a fault_action; client= and
 * domain= matching; stage isolation and the "any" fallback; the generator
 * against a naive xorshift64* / splitmix64 reference, its repeatability
 * and independence across shards and ordinals; draws taken only for
 * matching rules; statistics over 100 000 seeded decisions (single p,
 * cumulative shares, independent delay dice, uniform delay ranges), within
 * 5 standard deviations (deterministic: the seed is fixed); and
 * fault_rcpt_outcome() / fault_addr_domain().
 */
#include <stdio.h>
#include <stdlib.h>

#include "fault_rules.h"
#include "session_harness.h"
#include "test_text.h"

#define DRAWS 100000u

/* Newton's square root and an absolute value, so the test needs no libm. */
static double root(double x)
{
	double r = x > 1 ? x : 1;
	for (int i = 0; i < 64; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static double absd(double x)
{
	return x < 0 ? -x : x;
}

/* A set of rules that must all parse. */
static struct fault_rules *set_of(const char *const *rules, size_t n)
{
	char err[512];
	struct fault_rules *r = fault_rules_new();
	for (size_t i = 0; i < n; i++)
		if (!harness_check(fault_rules_add(r, rules[i], err, sizeof err), __FILE__, __LINE__, rules[i]))
			printf("    %s\n", err);
	return r;
}

#define SET(...) \
	set_of((const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))

static const uint8_t addr4[4] = { 192, 0, 2, 1 };
static const uint8_t addr10[4] = { 10, 1, 2, 3 };
static const uint8_t addr6_mapped10[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [13] = 1, [14] = 2, [15] = 3 };
static const uint8_t addr6_one[16] = { [15] = 1 };

static struct fault_subject subject(uint8_t family, const uint8_t *addr, const char *domain)
{
	struct fault_subject s = { family, addr, smtp_view_make(domain, strlen(domain)) };
	return s;
}

/* ---- actions ------------------------------------------------------------- */

static void test_answers(void)
{
	struct fault_rules *r = SET("rcpt:reply=550 5.1.1 No such user", "mail:close", "helo:close=554 5.7.1 Bye",
				    "data:disconnect", "noop:delay=250ms", "rset:reply=250 2.0.0 Flushed:delay=2s");
	struct fault_subject who = subject(4, addr4, "");
	struct fault_action a;
	uint64_t rng = fault_rng_seed(1, 0, 0);

	CHECK(fault_decide(r, FAULT_STAGE_RCPT, &who, &rng, &a));
	CHECK(a.rule == 0 && a.answer == FAULT_ANSWER_REPLY && a.code == 550 && a.delay_ms == 0);
	CHECK_STR(a.text, strlen(a.text), "5.1.1 No such user");
	CHECK(fault_decide(r, FAULT_STAGE_MAIL, &who, &rng, &a));
	CHECK(a.rule == 1 && a.answer == FAULT_ANSWER_CLOSE && a.code == 421 && a.text == NULL);
	CHECK(fault_decide(r, FAULT_STAGE_HELO, &who, &rng, &a));
	CHECK(a.rule == 2 && a.answer == FAULT_ANSWER_CLOSE && a.code == 554);
	CHECK_STR(a.text, strlen(a.text), "5.7.1 Bye");
	CHECK(fault_decide(r, FAULT_STAGE_DATA, &who, &rng, &a));
	CHECK(a.rule == 3 && a.answer == FAULT_ANSWER_DISCONNECT && a.code == 0 && a.text == NULL);
	CHECK(fault_decide(r, FAULT_STAGE_NOOP, &who, &rng, &a));
	CHECK(a.rule == 4 && a.answer == FAULT_ANSWER_NONE && a.delay_ms == 250 && a.text == NULL);
	CHECK(fault_decide(r, FAULT_STAGE_RSET, &who, &rng, &a));
	CHECK(a.rule == 5 && a.answer == FAULT_ANSWER_REPLY && a.code == 250 && a.delay_ms == 2000);
	/* nothing for quit, connect, or with no rules at all */
	memset(&a, 0x55, sizeof a);
	CHECK(!fault_decide(r, FAULT_STAGE_QUIT, &who, &rng, &a));
	CHECK(a.rule == -1 && a.answer == FAULT_ANSWER_NONE && a.code == 0 && a.text == NULL && a.delay_ms == 0);
	CHECK(!fault_decide(r, FAULT_STAGE_CONNECT, &who, &rng, &a));
	memset(&a, 0x55, sizeof a);
	CHECK(!fault_decide(NULL, FAULT_STAGE_RCPT, &who, &rng, &a));
	CHECK(a.rule == -1 && a.answer == FAULT_ANSWER_NONE && a.delay_ms == 0);
	CHECK(!fault_decide(r, (enum fault_stage)(FAULT_STAGE_NONE + 1), &who, &rng, &a));
	fault_rules_free(r);
}

/* Delay-only rules add up; the answering rule's index wins over them; an
 * answer and its delay come together. */
static void test_delays_add_up(void)
{
	struct fault_rules *r = SET("rcpt:delay=1s", "rcpt:delay=200ms", "rcpt:reply=450 x:delay=30ms",
				    "rcpt:delay=4ms", "rcpt:reply=550 never reached", "mail:delay=1s", "mail:delay=2s");
	struct fault_action a;
	uint64_t rng = fault_rng_seed(2, 0, 0);
	CHECK(fault_decide(r, FAULT_STAGE_RCPT, NULL, &rng, &a));
	CHECK(a.rule == 2 && a.answer == FAULT_ANSWER_REPLY && a.code == 450 && a.delay_ms == 1234);
	CHECK(fault_decide(r, FAULT_STAGE_MAIL, NULL, &rng, &a));
	CHECK(a.rule == 5 && a.answer == FAULT_ANSWER_NONE && a.delay_ms == 3000);
	fault_rules_free(r);
	/* 1193 one-hour delays overflow 32 bits: the total saturates */
	struct fault_rules *big = fault_rules_new();
	char err[512];
	for (int i = 0; i < 1200; i++)
		fault_rules_add(big, "noop:delay=60m", err, sizeof err);
	CHECK(fault_decide(big, FAULT_STAGE_NOOP, NULL, &rng, &a));
	CHECK_U64(a.delay_ms, UINT32_MAX);
	fault_rules_free(big);
}

static void test_client_match(void)
{
	struct fault_rules *r = SET("connect:reply=554 5.7.1 ten:client=10.0.0.0/8",
				    "connect:reply=421 4.7.0 six:client=::1", "connect:delay=1s");
	struct fault_action a;
	uint64_t rng = fault_rng_seed(3, 0, 0);
	struct fault_subject v4 = subject(4, addr10, ""), mapped = subject(6, addr6_mapped10, "");
	struct fault_subject one = subject(6, addr6_one, ""), other = subject(4, addr4, ""),
			     unix_ = subject(0, NULL, "");
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, &v4, &rng, &a) && a.rule == 0 && a.delay_ms == 1000);
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, &mapped, &rng, &a) && a.rule == 0);
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, &one, &rng, &a) && a.rule == 1);
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, &other, &rng, &a) && a.rule == 2 && a.answer == FAULT_ANSWER_NONE);
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, &unix_, &rng, &a) && a.rule == 2);
	CHECK(fault_decide(r, FAULT_STAGE_CONNECT, NULL, &rng, &a) && a.rule == 2);
	fault_rules_free(r);
}

static void test_domain_match(void)
{
	static const struct {
		const char *domain;
		int rule; /* -1: none */
	} rows[] = {
		{ "example.com", 0 },
		{ "EXAMPLE.com", 0 },
		{ "Example.COM", 0 },
		{ "mx.example.com", -1 },
		{ "sub.example.org", 1 },
		{ "a.b.EXAMPLE.ORG", 1 },
		{ "example.org", -1 },
		{ "xexample.org", -1 },
		{ "notexample.com", -1 },
		{ "example.com.", -1 },
		{ "", -1 },
		{ "example.co", -1 },
		{ ".example.org", -1 }, /* the suffix alone names no subdomain */
	};
	struct fault_rules *r =
		SET("rcpt:reply=550 5.1.1 a:domain=Example.com", "rcpt:reply=550 5.1.1 b:domain=*.example.org");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct fault_subject who = subject(4, addr4, rows[i].domain);
		struct fault_action a;
		uint64_t rng = 7;
		fault_decide(r, FAULT_STAGE_RCPT, &who, &rng, &a);
		harness_check(a.rule == rows[i].rule, __FILE__, __LINE__, rows[i].domain);
	}
	struct fault_action a;
	uint64_t rng = 7;
	CHECK(!fault_decide(r, FAULT_STAGE_RCPT, NULL, &rng, &a));
	fault_rules_free(r);
}

/* A command's own stage first; "any" only when none of its rules fired;
 * connect, content and dot never reach "any"; verbs of no stage only do. */
static void test_any_fallback(void)
{
	struct fault_rules *r = SET("mail:delay=1s", "rcpt:reply=550 x:client=10.0.0.0/8", "any:reply=421 4.7.0 any");
	struct fault_subject who = subject(4, addr4, "");
	struct fault_action a;
	uint64_t rng = fault_rng_seed(4, 0, 0);
	CHECK(fault_decide(r, FAULT_STAGE_MAIL, &who, &rng, &a));
	CHECK(a.rule == 0 && a.answer == FAULT_ANSWER_NONE && a.delay_ms == 1000);
	CHECK(fault_decide(r, FAULT_STAGE_RCPT, &who, &rng, &a) && a.rule == 2 && a.code == 421);
	CHECK(fault_decide(r, FAULT_STAGE_HELO, &who, &rng, &a) && a.rule == 2);
	CHECK(fault_decide(r, FAULT_STAGE_AUTH, &who, &rng, &a) && a.rule == 2);
	CHECK(fault_decide(r, FAULT_STAGE_NONE, &who, &rng, &a) && a.rule == 2);
	CHECK(fault_decide(r, FAULT_STAGE_ANY, &who, &rng, &a) && a.rule == 2);
	CHECK(!fault_decide(r, FAULT_STAGE_CONNECT, &who, &rng, &a));
	CHECK(!fault_decide(r, FAULT_STAGE_CONTENT, &who, &rng, &a));
	CHECK(!fault_decide(r, FAULT_STAGE_DOT, &who, &rng, &a));
	struct fault_subject ten = subject(4, addr10, "");
	CHECK(fault_decide(r, FAULT_STAGE_RCPT, &ten, &rng, &a) && a.rule == 1 && a.code == 550);
	fault_rules_free(r);
}

/* ---- the generator ------------------------------------------------------- */

static uint64_t ref_splitmix(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t ref_xorshift64star(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void test_rng_reference(void)
{
	uint64_t mine = 1, ref = 1;
	unsigned differ = 0;
	for (int i = 0; i < 1000; i++)
		differ += fault_rng_next(&mine) != ref_xorshift64star(&ref);
	CHECK_U64(differ, 0);
	CHECK_U64(mine, ref);
	/* the first output from state 1, worked by hand: state 0x2000001 */
	uint64_t s = 1;
	CHECK_U64(fault_rng_next(&s), 0x2000001ull * 0x2545f4914f6cdd1dull);
	CHECK_U64(s, 0x2000001ull);
	CHECK_U64(fault_rng_seed(0, 0, 0), ref_splitmix(ref_splitmix(ref_splitmix(0))));
	CHECK_U64(fault_rng_seed(42, 3, 77), ref_splitmix(ref_splitmix(ref_splitmix(42) ^ 3) ^ 77));
	/* a zero state (never made by fault_rng_seed) does not stick at 0 */
	uint64_t z = 0;
	CHECK(fault_rng_next(&z) != 0 && z != 0);
}

static void test_rng_streams(void)
{
	unsigned zero = 0, collide = 0, same = 0;
	uint64_t prev = 0;
	for (uint64_t seed = 0; seed < 4; seed++)
		for (uint32_t shard = 0; shard < 8; shard++)
			for (uint64_t ord = 0; ord < 64; ord++) {
				uint64_t s = fault_rng_seed(seed, shard, ord);
				zero += s == 0;
				collide += s == prev;
				prev = s;
			}
	CHECK_U64(zero, 0);
	CHECK_U64(collide, 0);
	/* same seed: same sequence; other ordinal, shard or seed: another */
	uint64_t a = fault_rng_seed(9, 1, 5), b = fault_rng_seed(9, 1, 5);
	uint64_t c = fault_rng_seed(9, 1, 6), d = fault_rng_seed(9, 2, 5), e = fault_rng_seed(10, 1, 5);
	unsigned c_same = 0, d_same = 0, e_same = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t va = fault_rng_next(&a);
		same += va == fault_rng_next(&b);
		c_same += va == fault_rng_next(&c);
		d_same += va == fault_rng_next(&d);
		e_same += va == fault_rng_next(&e);
	}
	CHECK_U64(same, 1000);
	CHECK_U64(c_same + d_same + e_same, 0);
}

static void test_rng_unit(void)
{
	uint64_t s = fault_rng_seed(5, 0, 0);
	double lo = 1, hi = 0, sum = 0;
	unsigned below_half = 0;
	for (unsigned i = 0; i < 1000000; i++) {
		double u = fault_rng_unit(&s);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		sum += u;
		below_half += u < 0.5;
	}
	CHECK(lo >= 0 && lo < 0.00001 && hi < 1 && hi > 0.99999);
	CHECK(absd(sum / 1000000 - 0.5) < 0.002);
	CHECK(below_half > 497500 && below_half < 502500);
}

/* Decisions replay from the same state, and draw nothing for rules that do
 * not match (other stages, clients, domains) or for p = 1 delays. */
static void test_draws_only_for_matching(void)
{
	struct fault_rules *one = SET("rcpt:reply=550 x:p=0.5", "rcpt:delay=1-9s:p=0.3");
	struct fault_rules *more =
		SET("mail:reply=450 y:p=0.5", "rcpt:reply=451 z:p=0.5:client=10.0.0.0/8", "rcpt:reply=550 x:p=0.5",
		    "rcpt:delay=5s:domain=other.example", "rcpt:delay=1-9s:p=0.3", "connect:delay=1s:p=0.5",
		    "rcpt:delay=1s:p=0.1:client=::1");
	struct fault_subject who = subject(4, addr4, "example.com");
	uint64_t s1 = fault_rng_seed(6, 0, 0), s2 = s1, s3 = s1;
	unsigned differ = 0, fired = 0;
	for (int i = 0; i < 2000; i++) {
		struct fault_action a, b, c;
		fault_decide(one, FAULT_STAGE_RCPT, &who, &s1, &a);
		fault_decide(more, FAULT_STAGE_RCPT, &who, &s2, &b);
		fault_decide(one, FAULT_STAGE_RCPT, &who, &s3, &c);
		fired += a.rule >= 0;
		differ += a.answer != b.answer || a.code != b.code || a.delay_ms != b.delay_ms;
		differ += a.rule != c.rule || a.delay_ms != c.delay_ms;
	}
	CHECK_U64(differ, 0);
	CHECK(s1 == s2 && s1 == s3);
	CHECK(fired > 1000 && fired < 2000);
	/* nothing matches: the state does not move */
	struct fault_rules *none =
		SET("rcpt:reply=550 x:p=0.5:domain=other.example", "rcpt:delay=1s:p=0.5:client=::1", "rcpt:delay=2s");
	uint64_t before = s1;
	struct fault_action a;
	CHECK(fault_decide(none, FAULT_STAGE_RCPT, &who, &s1, &a) && a.delay_ms == 2000);
	CHECK_U64(s1, before);
	fault_rules_free(one);
	fault_rules_free(more);
	fault_rules_free(none);
}

/* ---- statistics ---------------------------------------------------------- */

/* |got - n p| within 5 standard deviations of a binomial count. */
static bool near(unsigned got, double p, int line, const char *what)
{
	double mean = DRAWS * p, sd = root(DRAWS * p * (1 - p));
	bool ok = absd((double)got - mean) <= 5 * sd + 1;
	if (!harness_check(ok, __FILE__, line, what))
		printf("    got %u, expected %.0f +- %.0f\n", got, mean, 5 * sd);
	return ok;
}

static void test_single_p(void)
{
	struct fault_rules *r = SET("rcpt:reply=550 5.1.1 No such user:p=0.1", "mail:delay=1s:p=3%");
	uint64_t s = fault_rng_seed(11, 0, 0);
	unsigned replies = 0, delays = 0;
	for (unsigned i = 0; i < DRAWS; i++) {
		struct fault_action a;
		replies += fault_decide(r, FAULT_STAGE_RCPT, NULL, &s, &a);
		delays += fault_decide(r, FAULT_STAGE_MAIL, NULL, &s, &a) && a.delay_ms == 1000;
	}
	near(replies, 0.1, __LINE__, "p=0.1 answers");
	near(delays, 0.03, __LINE__, "p=3% delays");
	fault_rules_free(r);
}

/* One draw shared by the answering rules: shares are each rule's own p. */
static void test_cumulative_shares(void)
{
	struct fault_rules *r =
		SET("rcpt:reply=421 4.7.0 a:p=0.02", "rcpt:reply=550 5.1.1 b:p=0.05", "rcpt:reply=452 4.2.2 c:p=0.1");
	struct fault_rules *over = SET("mail:reply=451 a:p=0.7", "mail:reply=452 b:p=0.7", "mail:reply=453 c:p=0.7");
	uint64_t s = fault_rng_seed(12, 0, 0);
	unsigned n[4] = { 0 }, m[4] = { 0 };
	for (unsigned i = 0; i < DRAWS; i++) {
		struct fault_action a;
		fault_decide(r, FAULT_STAGE_RCPT, NULL, &s, &a);
		n[a.rule + 1]++;
		fault_decide(over, FAULT_STAGE_MAIL, NULL, &s, &a);
		m[a.rule + 1]++;
	}
	near(n[1], 0.02, __LINE__, "2% rule");
	near(n[2], 0.05, __LINE__, "5% rule");
	near(n[3], 0.1, __LINE__, "10% rule");
	near(n[0], 0.83, __LINE__, "no rule");
	/* sums past 1: the first takes 70%, the second the rest, the third nothing */
	near(m[1], 0.7, __LINE__, "first of 0.7+0.7");
	near(m[2], 0.3, __LINE__, "second of 0.7+0.7");
	CHECK_U64(m[3] + m[0], 0);
	fault_rules_free(r);
	fault_rules_free(over);
}

/* Delay-only rules roll their own dice, independent of each other and of
 * the answer's draw. */
static void test_independent_dice(void)
{
	struct fault_rules *r = SET("data:delay=1s:p=0.5", "data:reply=451 4.3.0 x:p=0.5", "data:delay=2s:p=0.5");
	uint64_t s = fault_rng_seed(13, 0, 0);
	unsigned by_delay[4] = { 0 }, answer_and_3s = 0, answers = 0;
	for (unsigned i = 0; i < DRAWS; i++) {
		struct fault_action a;
		fault_decide(r, FAULT_STAGE_DATA, NULL, &s, &a);
		by_delay[a.delay_ms / 1000]++;
		answers += a.answer == FAULT_ANSWER_REPLY;
		answer_and_3s += a.answer == FAULT_ANSWER_REPLY && a.delay_ms == 3000;
	}
	for (int d = 0; d < 4; d++)
		near(by_delay[d], 0.25, __LINE__, "each delay total a quarter");
	near(answers, 0.5, __LINE__, "answers");
	near(answer_and_3s, 0.125, __LINE__, "answer and both delays");
	fault_rules_free(r);
}

/* Delay ranges: every value within bounds, uniform, both ends reached. */
static void test_delay_range(void)
{
	struct fault_rules *r = SET("rcpt:delay=100-199ms", "mail:delay=0s-2s:reply=450 4.7.1 wait");
	uint64_t s = fault_rng_seed(14, 0, 0);
	unsigned hist[100] = { 0 }, out = 0, lo_hit = 0, hi_hit = 0, bad = 0;
	double sum = 0;
	for (unsigned i = 0; i < DRAWS; i++) {
		struct fault_action a;
		fault_decide(r, FAULT_STAGE_RCPT, NULL, &s, &a);
		if (a.delay_ms < 100 || a.delay_ms > 199)
			out++;
		else
			hist[a.delay_ms - 100]++;
		sum += a.delay_ms;
		fault_decide(r, FAULT_STAGE_MAIL, NULL, &s, &a);
		bad += a.delay_ms > 2000 || a.code != 450;
		lo_hit += a.delay_ms == 0;
		hi_hit += a.delay_ms == 2000;
	}
	CHECK_U64(out, 0);
	CHECK_U64(bad, 0);
	CHECK(lo_hit > 0 && hi_hit > 0);
	CHECK(absd(sum / DRAWS - 149.5) < 0.5);
	unsigned uneven = 0;
	for (int v = 0; v < 100; v++)
		uneven += absd((double)hist[v] - DRAWS / 100.0) > 5 * root(DRAWS / 100.0);
	CHECK_U64(uneven, 0);
	fault_rules_free(r);
}

/* ---- recipient outcomes -------------------------------------------------- */

static const struct {
	const char *addr;
	unsigned code;
	const char *text;
} outcome_rows[] = {
	{ "tempfail@example.com", 450,
	  "4.2.0 <tempfail@example.com>: Recipient address rejected: Temporary failure (test)" },
	{ "TempFail+1@x", 450, "4.2.0 <TempFail+1@x>: Recipient address rejected: Temporary failure (test)" },
	{ "TEMPFAIL-abc@x", 450, "4.2.0 <TEMPFAIL-abc@x>: Recipient address rejected: Temporary failure (test)" },
	{ "tempfail.x@x", 450, "4.2.0 <tempfail.x@x>: Recipient address rejected: Temporary failure (test)" },
	{ "permfail@example.com", 550,
	  "5.1.1 <permfail@example.com>: Recipient address rejected: User unknown (test)" },
	{ "PermFail+z@x", 550, "5.1.1 <PermFail+z@x>: Recipient address rejected: User unknown (test)" },
	{ "450-foo@x", 450, "4.0.0 <450-foo@x>: Recipient address rejected: 450 requested (test)" },
	{ "554-@x", 554, "5.0.0 <554-@x>: Recipient address rejected: 554 requested (test)" },
	{ "400-a@b", 400, "4.0.0 <400-a@b>: Recipient address rejected: 400 requested (test)" },
	{ "599-a@b", 599, "5.0.0 <599-a@b>: Recipient address rejected: 599 requested (test)" },
	{ "\"a@b\"@tempfail.example", 0, NULL }, /* the local part is "a@b" */
	{ "tempfailx@x", 0, NULL },
	{ "tempfai@x", 0, NULL },
	{ "xtempfail@x", 0, NULL },
	{ "tempfail_x@x", 0, NULL },
	{ "tempfail@x@y", 0, NULL },
	{ "permfailure@x", 0, NULL },
	{ "250-foo@x", 0, NULL },
	{ "354-foo@x", 0, NULL },
	{ "399-a@b", 0, NULL },
	{ "600-a@b", 0, NULL },
	{ "999-x@y", 0, NULL },
	{ "45-x@y", 0, NULL },
	{ "4500-x@y", 0, NULL },
	{ "450@x", 0, NULL },
	{ "450+x@x", 0, NULL },
	{ "4a0-x@x", 0, NULL },
	{ "tempfail", 0, NULL }, /* no '@' */
	{ "450-x", 0, NULL },
	{ "", 0, NULL },
	{ "user@tempfail", 0, NULL },
};

static void test_outcomes(void)
{
	for (size_t i = 0; i < sizeof outcome_rows / sizeof outcome_rows[0]; i++) {
		char buf[FAULT_OUTCOME_TEXT_MAX + 1] = "unchanged";
		const char *addr = outcome_rows[i].addr;
		unsigned code = fault_rcpt_outcome(smtp_view_make(addr, strlen(addr)), buf, sizeof buf);
		harness_check_u64(code, outcome_rows[i].code, __FILE__, __LINE__, addr);
		const char *want = outcome_rows[i].text ? outcome_rows[i].text : "unchanged";
		harness_check_mem(buf, strlen(buf), want, strlen(want), __FILE__, __LINE__, addr);
	}
}

static void test_outcome_cut(void)
{
	char buf[FAULT_OUTCOME_TEXT_MAX + 100];
	struct smtp_view a = smtp_view_make("tempfail@x", 10);
	CHECK_U64(fault_rcpt_outcome(a, buf, 10), 450);
	CHECK_STR(buf, strlen(buf), "4.2.0 <te");
	CHECK_U64(fault_rcpt_outcome(a, buf, 1), 450);
	CHECK_STR(buf, strlen(buf), "");
	memcpy(buf, "keep", 5);
	CHECK_U64(fault_rcpt_outcome(a, buf, 0), 450);
	CHECK_STR(buf, strlen(buf), "keep");
	/* a long address: cut at FAULT_OUTCOME_TEXT_MAX even in a larger buffer */
	struct test_text t = { 0 };
	text_str(&t, "permfail+");
	text_fill(&t, 'x', 500);
	text_str(&t, "@x");
	CHECK_U64(fault_rcpt_outcome(smtp_view_make(t.p, t.len), buf, sizeof buf), 550);
	CHECK_U64(strlen(buf), FAULT_OUTCOME_TEXT_MAX);
	CHECK(memcmp(buf, "5.1.1 <permfail+xxx", 19) == 0);
	text_free(&t);
	/* bytes that could end the reply line are shown as '?' */
	CHECK_U64(fault_rcpt_outcome(smtp_view_make("tempfail+\r\n\x7f\xc3\xa9@x", 16), buf, sizeof buf), 450);
	CHECK_STR(buf, strlen(buf),
		  "4.2.0 <tempfail+???\xc3\xa9@x>: Recipient address rejected: Temporary failure (test)");
}

static void test_addr_domain(void)
{
	static const struct {
		const char *addr, *domain;
	} rows[] = {
		{ "user@Example.COM", "Example.COM" },
		{ "a@b@c", "c" },
		{ "\"x@y\"@z.example", "z.example" },
		{ "nouser", "" },
		{ "user@", "" },
		{ "", "" },
		{ "@d", "d" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct smtp_view d = fault_addr_domain(smtp_view_make(rows[i].addr, strlen(rows[i].addr)));
		harness_check_mem(d.ptr, d.len, rows[i].domain, strlen(rows[i].domain), __FILE__, __LINE__,
				  rows[i].addr);
	}
	struct smtp_view none = fault_addr_domain(smtp_view_make(NULL, 0));
	CHECK_U64(none.len, 0);
}

int main(void)
{
	test_answers();
	test_delays_add_up();
	test_client_match();
	test_domain_match();
	test_any_fallback();
	test_rng_reference();
	test_rng_streams();
	test_rng_unit();
	test_draws_only_for_matching();
	test_single_p();
	test_cumulative_shares();
	test_independent_dice();
	test_delay_range();
	test_outcomes();
	test_outcome_cut();
	test_addr_domain();
	return harness_finish("fault_decide");
}
