/*
 * tests/fuzz/fuzz_fault_rules.c - libFuzzer harness: the fault rule
 * language, rule sets, decisions and recipient outcomes.
 *
 * Owns: feeding rule text to fault_rules_add() (one call per line) or
 * fault_rules_add_file() (the whole image), then checking what came out.
 *
 * Input layout: byte 0 picks the mode (bit 0: a file image, else lines) and
 * seeds the decisions' generator; the rest is rule text.
 *
 * Asserted: an error leaves the set as it was (a file's rules all go) and
 * is one printable line (a file's starts with "NAME:"); every canonical
 * text is printable and parses again to itself; a set built from the
 * canonical texts decides exactly like the original from the same
 * generator state, at every stage, for IPv4, mapped IPv6, unix and
 * unknown clients with and without a domain; a decision's fields agree
 * with its answer (codes in range, texts printable and <= 400 bytes); a
 * stage without rules draws nothing.  Each line also goes through
 * cidr_parse() (format and parse again gives the same range),
 * fault_rcpt_outcome() (code 0 or 400..599, a printable text that fits)
 * and fault_addr_domain() (a suffix of the address).
 *
 * Workload: inputs of a few KB; lines mode stops after 64 lines.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fault_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINES_MAX 64u
#define FUZZ_ERR_LEN 512u
#define FUZZ_TEXT_MAX 400u /* fault_rules.h: TEXT fits a reply line */

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_fault_rules: %s\n", what);
		abort();
	}
}

/* Printable ASCII, NUL-terminated within cap bytes. */
static bool printable(const char *s, size_t cap)
{
	for (size_t i = 0; i < cap; i++) {
		if (s[i] == '\0')
			return true;
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return false;
}

static void check_action(const struct fault_rules *r, bool fired, const struct fault_action *a)
{
	if (!fired) {
		check(a->rule == -1 && a->answer == FAULT_ANSWER_NONE && a->delay_ms == 0 && a->text == NULL,
		      "nothing fired, but the action is not empty");
		return;
	}
	check(a->rule >= 0 && (uint32_t)a->rule < fault_rules_count(r), "rule index out of range");
	switch (a->answer) {
	case FAULT_ANSWER_NONE:
		/* a delay may be drawn as 0 from a range like 0-300ms */
		check(a->code == 0 && a->text == NULL, "a delay-only decision with a code or text");
		break;
	case FAULT_ANSWER_REPLY:
		check(a->code >= 200 && a->code <= 599, "reply code out of range");
		check(a->text != NULL && printable(a->text, FUZZ_TEXT_MAX + 1), "reply text missing or bad");
		break;
	case FAULT_ANSWER_CLOSE:
		check(a->code >= 400 && a->code <= 599, "close code out of range");
		check(a->text == NULL || printable(a->text, FUZZ_TEXT_MAX + 1), "close text bad");
		break;
	case FAULT_ANSWER_DISCONNECT:
		check(a->code == 0 && a->text == NULL, "disconnect with a code or text");
		break;
	default:
		check(false, "unknown answer");
	}
}

static bool same_action(const struct fault_action *a, const struct fault_action *b)
{
	return a->rule == b->rule && a->answer == b->answer && a->code == b->code && a->delay_ms == b->delay_ms &&
	       (a->text == NULL) == (b->text == NULL) && (a->text == NULL || strcmp(a->text, b->text) == 0);
}

/* Decide at every stage for several subjects, on r and its canonical
 * copy, from the same states. */
static void check_decisions(const struct fault_rules *r, const struct fault_rules *canon, uint64_t seed)
{
	static const uint8_t v4[4] = { 10, 1, 2, 3 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [13] = 1, [14] = 2, [15] = 3 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const char *const domains[] = { "", "example.com", "Mail.Example.COM", "gmail.com" };
	struct fault_subject who[] = {
		{ 4, v4, { NULL, 0 } },
		{ 6, mapped, { NULL, 0 } },
		{ 6, v6, { NULL, 0 } },
		{ 0, NULL, { NULL, 0 } },
	};
	uint64_t s1 = fault_rng_seed(seed, 0, 0), s2 = s1;
	for (size_t w = 0; w <= sizeof who / sizeof who[0]; w++) {
		for (size_t d = 0; d < sizeof domains / sizeof domains[0]; d++) {
			struct fault_subject *sub = w < sizeof who / sizeof who[0] ? &who[w] : NULL;
			if (sub)
				sub->domain = (struct smtp_view){ (const uint8_t *)domains[d], strlen(domains[d]) };
			for (int st = 0; st <= FAULT_STAGE_NONE; st++) {
				struct fault_action a, b;
				uint64_t before = s1;
				bool fa = fault_decide(r, (enum fault_stage)st, sub, &s1, &a);
				bool fb = fault_decide(canon, (enum fault_stage)st, sub, &s2, &b);
				check(fa == fb && same_action(&a, &b) && s1 == s2,
				      "the canonical rules decide differently");
				check_action(r, fa, &a);
				if (!fault_rules_has_stage(r, (enum fault_stage)st))
					check(!fa && s1 == before, "a stage without rules fired or drew");
			}
		}
	}
}

/* Every canonical text is printable and parses to itself; returns the set
 * built from them. */
static struct fault_rules *check_canonical(const struct fault_rules *r)
{
	char err[FUZZ_ERR_LEN];
	struct fault_rules *c = fault_rules_new();
	check(c != NULL, "fault_rules_new");
	for (uint32_t i = 0; i < fault_rules_count(r); i++) {
		const char *t = fault_rules_text(r, i);
		check(t != NULL && printable(t, 2048), "a canonical text is not printable");
		if (!fault_rules_add(c, t, err, sizeof err)) {
			fprintf(stderr, "canonical \"%s\" refused: %s\n", t, err);
			check(false, "a canonical text does not parse");
		}
		check(strcmp(fault_rules_text(c, i), t) == 0, "a canonical text parses to another text");
	}
	check(fault_rules_text(r, fault_rules_count(r)) == NULL, "a text past the end");
	return c;
}

static void check_err(const char *err, const char *prefix)
{
	check(printable(err, FUZZ_ERR_LEN) && err[0] != '\0', "an error message is empty or not one printable line");
	check(strncmp(err, prefix, strlen(prefix)) == 0, "an error message lacks its prefix");
}

/* One line through the address-level functions. */
static void check_line_helpers(const char *line, size_t n)
{
	struct cidr c, again;
	char buf[CIDR_TEXT_MAX];
	if (cidr_parse(line, &c)) {
		check(c.family == 4 || c.family == 6, "cidr family");
		check(c.prefix <= (c.family == 4 ? 32 : 128), "cidr prefix");
		cidr_format(&c, buf);
		check(cidr_parse(buf, &again) && memcmp(&c, &again, sizeof c) == 0, "cidr format does not parse back");
	}
	char out[FAULT_OUTCOME_TEXT_MAX + 1];
	struct smtp_view addr = { (const uint8_t *)line, n };
	unsigned code = fault_rcpt_outcome(addr, out, sizeof out);
	check(code == 0 || (code >= 400 && code <= 599), "outcome code out of range");
	if (code != 0)
		for (size_t i = 0; out[i]; i++)
			check((unsigned char)out[i] >= 0x20 && out[i] != 0x7f, "outcome text has a control byte");
	struct smtp_view d = fault_addr_domain(addr);
	check(d.len <= n && (d.len == 0 || d.ptr + d.len == addr.ptr + n), "domain is not a suffix");
}

static void run_lines(struct fault_rules *r, const char *text, size_t len)
{
	char err[FUZZ_ERR_LEN];
	size_t lines = 0;
	for (size_t at = 0; at <= len && lines < FUZZ_LINES_MAX; lines++) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		char *line = malloc(end - at + 1);
		check(line != NULL, "malloc");
		memcpy(line, text + at, end - at);
		line[end - at] = '\0';
		uint32_t before = fault_rules_count(r);
		if (fault_rules_add(r, line, err, sizeof err)) {
			check(fault_rules_count(r) == before + 1, "an added rule was not counted");
		} else {
			check(fault_rules_count(r) == before, "a refused rule changed the set");
			check_err(err, "");
		}
		check_line_helpers(line, strlen(line));
		free(line);
		at = end + 1;
	}
}

static void run_file(struct fault_rules *r, const char *text, size_t len)
{
	char err[FUZZ_ERR_LEN];
	check(fault_rules_add(r, "helo:delay=1s", err, sizeof err), "a fixed rule was refused");
	if (!fault_rules_add_file(r, "fuzz.rules", text, len, err, sizeof err)) {
		check_err(err, "fuzz.rules:");
		check(fault_rules_count(r) == 1 && strcmp(fault_rules_text(r, 0), "helo:delay=1s") == 0,
		      "a refused file left rules behind");
		check(fault_rules_has_stage(r, FAULT_STAGE_HELO) && !fault_rules_has_stage(r, FAULT_STAGE_MAIL),
		      "a refused file changed the stage index");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct fault_rules *r = fault_rules_new();
	check(r != NULL, "fault_rules_new");
	/* a copy of exactly the text's size: ASan sees any over-read */
	size_t len = size - 1;
	char *text = malloc(len ? len : 1);
	check(text != NULL, "malloc");
	memcpy(text, data + 1, len);
	if (data[0] & 1)
		run_file(r, text, len);
	else
		run_lines(r, text, len);
	free(text);
	struct fault_rules *c = check_canonical(r);
	check_decisions(r, c, data[0] >> 1);
	fault_rules_free(c);
	fault_rules_free(r);
	return 0;
}
