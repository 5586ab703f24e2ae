/*
 * tests/core/test_smtp_verbs.c - the verb and extension registry
 * (core/smtp_verbs.h) against every table that derives from it.
 *
 * Owns: walking every verb row and proving that its name parses back to it
 * in both cases (and the non-words do not), that its on-disk code is unique,
 * is the one docs/SPOOL-FORMAT.md lists for its name (argv[1]) and
 * round-trips through the session report encoder and decoder, that it has
 * a handler and a fault stage that a rule of that stage's name reaches,
 * that strict_sync refuses it pipelined exactly when it must end a group,
 * that HELP lists exactly its HELP rows, and that switching off the
 * extension it needs changes its reply to a refusal; walking every
 * extension row and proving one row per bit, a keyword (ESMTP alone has
 * none) and a switch, and that the EHLO reply of every combination of
 * extensions lists exactly the enabled ones in registry order and fits the
 * output reserve; and that the message-flag names are unique and cover
 * every flag bit.  It does not pin reply texts: the golden transcripts do.
 *
 * Workload: a few hundred short sessions.
 */
#define _GNU_SOURCE
#include <ctype.h>

#include "fault_rules.h"
#include "smtp_verbs.h"
#include "spool_support.h"

#define DOC_MAX_BYTES (256u * 1024u)
#define LINE_MAX_BYTES 64u
#define NO_CODE 256u /* a code a doc row never has */

static const char *row_name(unsigned v)
{
	return smtp_verbs_info(v)->name;
}

/* The reply bytes of one whole-input run (cut at `cut` if not 0). */
static char *replies_of(const struct smtp_config *cfg, const char *in, size_t cut)
{
	struct harness_result r;
	harness_run(cfg, (const uint8_t *)in, strlen(in), &cut, cut != 0, &r);
	CHECK_U64(r.harness_errors, 0);
	char *out = strdup(r.replies);
	harness_result_free(&r);
	return out;
}

/* ---- names, words, handlers ---------------------------------------------- */

static void test_rows_and_words(void)
{
	CHECK(smtp_verbs_info(SMTP_VERB_COUNT) == NULL);
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const struct smtp_verb_info *info = smtp_verbs_info(v);
		char line[LINE_MAX_BYTES];
		harness_check(info->name != NULL && info->handle != NULL, __FILE__, __LINE__, "name and handler");
		if (info->name == NULL)
			continue;
		const char *name = info->name;
		struct smtp_cmd c = smtp_cmd_parse(smtp_view_make(name, strlen(name)));
		bool word = (info->flags & SMTP_VERBF_WORD) != 0;
		harness_check(c.verb == (word ? v : SMTP_VERB_UNKNOWN), __FILE__, __LINE__, name);
		harness_check(!c.lowercase, __FILE__, __LINE__, name);
		size_t n = strlen(name);
		for (size_t i = 0; i < n; i++)
			line[i] = (char)tolower((unsigned char)name[i]);
		memcpy(line + n, " x", 3);
		c = smtp_cmd_parse(smtp_view_make(line, n + 2));
		harness_check(c.verb == (word ? v : SMTP_VERB_UNKNOWN), __FILE__, __LINE__, line);
		harness_check(!word || (c.lowercase && c.arg.len == 1 && c.arg.ptr[0] == 'x'), __FILE__, __LINE__,
			      line);
		const char *shown = smtp_cmd_name(v);
		harness_check(strcmp(shown, v == SMTP_VERB_UNKNOWN ? "?" : name) == 0, __FILE__, __LINE__, name);
		harness_check(strcmp(session_verb_name((uint8_t)v), name) == 0, __FILE__, __LINE__, name);
		harness_check(info->ext == 0 || smtp_verbs_ext_of_bit(info->ext) != NULL, __FILE__, __LINE__,
			      "the extension a verb needs has a row");
	}
}

/* ---- on-disk codes ------------------------------------------------------- */

/* The code the verb-code table of docs/SPOOL-FORMAT.md gives name (the
 * first `quoted` word of a row's second cell), or NO_CODE; *rows counts
 * the table's named rows. */
static unsigned doc_code(const char *doc, const char *name, unsigned *rows)
{
	const char *p = strstr(doc, "| verb code | verb |");
	unsigned code = NO_CODE;
	*rows = 0;
	for (p = p ? strchr(p, '\n') : NULL; p != NULL && p[1] == '|'; p = strchr(p + 1, '\n')) {
		char cell[LINE_MAX_BYTES];
		unsigned c;
		if (sscanf(p + 1, "|%*[ ]%u |%*[^`|]`%63[^`]`", &c, cell) != 2)
			continue;
		++*rows;
		if (strcmp(cell, name) == 0)
			code = c;
	}
	return code;
}

static char *read_doc(const char *path)
{
	static char buf[DOC_MAX_BYTES];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	harness_check(f != NULL && n > 0, __FILE__, __LINE__, path);
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_codes(const char *doc_path)
{
	const char *doc = read_doc(doc_path);
	bool seen[256] = { false };
	unsigned rows = 0;
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		uint8_t code = smtp_verbs_info(v)->code;
		enum smtp_verb back = SMTP_VERB_COUNT;
		harness_check(!seen[code] && code != 255, __FILE__, __LINE__, row_name(v));
		seen[code] = true;
		harness_check(smtp_verbs_of_code(code, &back) && back == v, __FILE__, __LINE__, row_name(v));
		harness_check(doc_code(doc, row_name(v), &rows) == code, __FILE__, __LINE__, row_name(v));
	}
	CHECK_U64(rows, SMTP_VERB_COUNT); /* no documented code without a row */
	enum smtp_verb none;
	CHECK(!smtp_verbs_of_code(255, &none) && !smtp_verbs_of_code(SMTP_VERB_COUNT + 100, &none));
}

/* Every verb counted, after a gap, and as the HELO verb, through a record. */
static void test_codes_round_trip(void)
{
	static struct session_report_image img;
	struct session_gap gaps[SMTP_VERB_COUNT + 1];
	struct session_report r;
	memset(&r, 0, sizeof r);
	r.id = sv("8DxLfD0Ch01F03");
	for (unsigned v = 0; v <= SMTP_VERB_COUNT; v++) {
		if (v < SMTP_VERB_COUNT)
			r.verbs[v] = 100 + v;
		gaps[v] = (struct session_gap){ 1000 * v, 5000, (uint8_t)v, v % 2 == 0 };
	}
	r.gaps = gaps;
	r.gap_count = r.gaps_total = SMTP_VERB_COUNT + 1;
	for (unsigned v = 1; v < SMTP_VERB_COUNT; v++) {
		struct guard g;
		r.helo_verb = (uint8_t)v;
		CHECK(report_round_trip(&r, &g, &img));
		harness_check(img.r.helo_verb == v, __FILE__, __LINE__, row_name(v));
		harness_check(memcmp(img.r.verbs, r.verbs, sizeof r.verbs) == 0, __FILE__, __LINE__, "verb counts");
		CHECK_U64(img.r.gap_count, SMTP_VERB_COUNT + 1);
		for (unsigned i = 0; i <= SMTP_VERB_COUNT && i < img.r.gap_count; i++)
			harness_check(img.r.gaps[i].after_verb == i, __FILE__, __LINE__, "gap verb");
		guard_free(&g);
	}
}

/* ---- fault stages -------------------------------------------------------- */

static void test_fault_stages(void)
{
	char err[256], rule[64];
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		enum fault_stage st = smtp_verbs_info(v)->stage;
		harness_check(fault_stage_of_verb(v) == st, __FILE__, __LINE__, row_name(v));
		harness_check(st == FAULT_STAGE_NONE || (st != FAULT_STAGE_CONNECT && st != FAULT_STAGE_CONTENT &&
							 st != FAULT_STAGE_DOT && st != FAULT_STAGE_ANY),
			      __FILE__, __LINE__, "a command's stage");
		if (st == FAULT_STAGE_NONE)
			continue;
		/* the stage's name, read back by the rule parser, is the stage
		 * a decision for this verb looks at */
		struct fault_rules *rs = fault_rules_new();
		struct fault_action act;
		uint64_t rng = 1;
		snprintf(rule, sizeof rule, "%s:delay=7ms", fault_stage_name(st));
		CHECK(rs != NULL && fault_rules_add(rs, rule, err, sizeof err));
		harness_check(fault_decide(rs, fault_stage_of_verb(v), NULL, &rng, &act) && act.delay_ms == 7, __FILE__,
			      __LINE__, rule);
		fault_rules_free(rs);
	}
	CHECK(fault_stage_of_verb(SMTP_VERB_COUNT) == FAULT_STAGE_NONE);
}

/* ---- what the session derives -------------------------------------------- */

/* strict_sync: a pipelined command is refused 554 exactly when its row says
 * it must end a group (PIPELINING offered after EHLO, sent alone first). */
static void test_group_ends(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.strict_sync = true;
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const struct smtp_verb_info *info = smtp_verbs_info(v);
		char in[LINE_MAX_BYTES];
		if (!(info->flags & SMTP_VERBF_WORD) && v != SMTP_VERB_UNKNOWN)
			continue; /* AUTH-RESPONSE lines are never pipelining-checked */
		snprintf(in, sizeof in, "EHLO c\r\n%s\r\nNOOP\r\n", v == SMTP_VERB_UNKNOWN ? "XYZZY" : info->name);
		char *got = replies_of(&c, in, strlen("EHLO c\r\n"));
		bool refused = strstr(got, "554 5.5.0 Error: SMTP protocol synchronization") != NULL;
		harness_check(refused == ((info->flags & SMTP_VERBF_ENDS_GROUP) != 0), __FILE__, __LINE__, info->name);
		free(got);
	}
}

static void test_help(void)
{
	char want[SMTP_REPLY_LINE_MAX_BYTES] = "220 smtpsink ESMTP smtpsink\r\n214 2.0.0 Commands:";
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++)
		if (smtp_verbs_info(v)->flags & SMTP_VERBF_HELP)
			snprintf(want + strlen(want), sizeof want - strlen(want), " %s", row_name(v));
	snprintf(want + strlen(want), sizeof want - strlen(want), "\r\n");
	char *got = replies_of(NULL, "HELP\r\n", 0);
	CHECK_STR(got, strlen(got), want);
	free(got);
}

/* With the extension its row needs switched off, a verb's reply changes
 * into a 5xx refusal. */
static void test_needed_ext(void)
{
	struct smtp_config on, off;
	smtp_config_defaults(&on);
	on.ext = SMTP_EXT_ALL; /* STARTTLS too (off by default: core has no TLS) */
	for (unsigned v = 0; v < SMTP_VERB_COUNT; v++) {
		const struct smtp_verb_info *info = smtp_verbs_info(v);
		char in[LINE_MAX_BYTES];
		if (info->ext == 0 || !(info->flags & SMTP_VERBF_WORD))
			continue;
		off = on;
		off.ext &= ~info->ext;
		snprintf(in, sizeof in, "HELO c\r\n%s 0 LAST\r\n", info->name);
		char *got_on = replies_of(&on, in, 0), *got_off = replies_of(&off, in, 0);
		const char *last = strstr(got_off, "250 smtpsink\r\n");
		last = last ? last + strlen("250 smtpsink\r\n") : "";
		harness_check(strcmp(got_on, got_off) != 0 && last[0] == '5', __FILE__, __LINE__, info->name);
		free(got_on);
		free(got_off);
	}
}

/* ---- extensions ---------------------------------------------------------- */

static void test_ext_rows(void)
{
	const struct smtp_ext_info *e;
	uint32_t all = 0;
	unsigned no_keyword = 0;
	for (size_t i = 0; (e = smtp_verbs_ext(i)) != NULL; i++) {
		const char *what = e->option ? e->option : "?";
		harness_check(e->bit != 0 && (e->bit & (e->bit - 1)) == 0 && !(all & e->bit), __FILE__, __LINE__, what);
		all |= e->bit;
		harness_check(smtp_verbs_ext_of_bit(e->bit) == e, __FILE__, __LINE__, what);
		harness_check(e->option != NULL && strncmp(e->option, "no-", 3) == 0 && e->help != NULL &&
				      e->help[0] != '\0',
			      __FILE__, __LINE__, what);
		for (size_t j = 0; j < i && e->option != NULL; j++)
			harness_check(strcmp(smtp_verbs_ext(j)->option, e->option) != 0, __FILE__, __LINE__, what);
		if (e->keyword == NULL) {
			no_keyword++;
			harness_check(e->bit == SMTP_EXT_ESMTP, __FILE__, __LINE__, what);
		}
	}
	CHECK_U64(all, SMTP_EXT_ALL);
	CHECK_U64(no_keyword, 1);
	CHECK(smtp_verbs_ext_of_bit(0) == NULL && smtp_verbs_ext_of_bit(SMTP_EXT_SIZE | SMTP_EXT_DSN) == NULL);
	CHECK(smtp_verbs_ext_of_bit(SMTP_EXT_ALL + 1) == NULL);
}

/* Does the EHLO reply line at *p (advanced past it) announce e? */
static bool ehlo_line_is(const char **p, const struct smtp_ext_info *e, bool last)
{
	size_t k = strlen(e->keyword);
	bool ok = strncmp(*p, last ? "250 " : "250-", 4) == 0 && strncmp(*p + 4, e->keyword, k) == 0 &&
		  ((*p)[4 + k] == '\r' || (*p)[4 + k] == ' ');
	const char *end = strstr(*p, "\r\n");
	*p = end ? end + 2 : *p + strlen(*p);
	return ok;
}

/* The EHLO reply of every combination with ESMTP on: the hostname, then
 * the enabled extensions with a keyword, in registry order. */
static void test_ehlo_lines(void)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	for (uint32_t mask = 0; mask <= SMTP_EXT_ALL; mask++) {
		const struct smtp_ext_info *e;
		size_t n = 0, seen = 0;
		if (!(mask & SMTP_EXT_ESMTP))
			continue;
		c.ext = mask;
		for (size_t i = 0; (e = smtp_verbs_ext(i)) != NULL; i++)
			n += e->keyword != NULL && (mask & e->bit);
		char *got = replies_of(&c, "EHLO c\r\n", 0);
		const char *p = strstr(got, "\r\n");
		p = p ? p + 2 : got;
		bool ok = strncmp(p, n ? "250-smtpsink\r\n" : "250 smtpsink\r\n", 14) == 0;
		p += ok ? 14 : 0;
		for (size_t i = 0; (e = smtp_verbs_ext(i)) != NULL && ok; i++)
			if (e->keyword != NULL && (mask & e->bit))
				ok = ehlo_line_is(&p, e, ++seen == n);
		harness_check(ok && *p == '\0', __FILE__, __LINE__, got);
		free(got);
	}
}

/* The longest EHLO reply (every extension, a 255-octet hostname, the
 * largest size limit) fits the output the session reserves per command. */
static void test_ehlo_fits(void)
{
	char host[SMTP_DOMAIN_MAX_BYTES + 1];
	struct smtp_config c;
	smtp_config_defaults(&c);
	memset(host, 'h', SMTP_DOMAIN_MAX_BYTES);
	host[SMTP_DOMAIN_MAX_BYTES] = '\0';
	c.hostname = host;
	c.max_size_bytes = UINT64_MAX;
	char *got = replies_of(&c, "EHLO c\r\n", 0);
	const char *ehlo = strstr(got, "\r\n");
	CHECK(ehlo != NULL && strlen(ehlo + 2) <= SMTP_OUT_RESERVE_BYTES);
	CHECK(strstr(got, "250-SIZE 18446744073709551615\r\n") != NULL);
	free(got);
}

/* ---- message flags ------------------------------------------------------- */

static void test_msg_flag_names(void)
{
	const char *names[32];
	for (unsigned i = 0; i < 32; i++) {
		names[i] = smtp_msg_flags_name(1u << i);
		bool flag = (SMTP_MSG_FLAGS_ALL & (1u << i)) != 0;
		harness_check((names[i] != NULL) == flag, __FILE__, __LINE__,
			      "a name for every flag bit, and only those");
		for (unsigned j = 0; j < i && names[i] != NULL; j++)
			harness_check(names[j] == NULL || strcmp(names[j], names[i]) != 0, __FILE__, __LINE__,
				      names[i]);
	}
	CHECK(smtp_msg_flags_name(0) == NULL && smtp_msg_flags_name(SMTP_MSG_BDAT | SMTP_MSG_NUL) == NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_smtp_verbs docs/SPOOL-FORMAT.md\n");
		return 2;
	}
	test_rows_and_words();
	test_codes(argv[1]);
	test_codes_round_trip();
	test_fault_stages();
	test_group_ends();
	test_help();
	test_needed_ext();
	test_ext_rows();
	test_ehlo_lines();
	test_ehlo_fits();
	test_msg_flag_names();
	return harness_finish("smtp_verbs");
}
