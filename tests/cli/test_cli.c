/*
 * tests/cli/test_cli.c - the one option parser (cli/).
 *
 * Owns: every kind of row taking "--name value" and "--name=value" (or
 * refusing a value, for flags); whole numbers at lo-1, lo, hi, hi+1 and
 * past 64 bits; the error line of each refusal (it names the option and
 * goes through the program's report function, with "command: " first for
 * a command's table); positionals, "--", and one too many; --help answered
 * wherever it stands (not as an option's value) and showing the defaults
 * from before parsing; --version; and the --help text generated from the
 * rows (enum words, defaults from the value or the row, none for zero).
 * Sizes and durations with units: every suffix, the range at lo-1, lo, hi,
 * hi+1, 64-bit overflow, decimals that do or do not come to whole units,
 * spellings refused, how --help writes their defaults, and its note.
 * The config file (--config): every syntax, the command line overriding
 * it key by key (a repeatable key replaced, not added to), each error line
 * (file and line named), line length, key count and file size at limit-1,
 * limit and limit+1, and comparing two files' keys.  The man page's rows
 * (--help-man): the same options as --help, escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "session_harness.h"

static char last_error[1024]; /* test-only: what the report function got */
static unsigned errors;

static void report(const char *line)
{
	snprintf(last_error, sizeof last_error, "%s", line);
	errors++;
}

struct opts {
	bool flag;
	uint32_t bits;
	const char *str;
	uint32_t u32;
	uint64_t u64;
	double d;
	unsigned color;
	unsigned customs;
	const char *custom_seen;
	struct cli_file file; /* --config */
};

static const char *const colors[] = { "red", "green", "blue", NULL };

static const char *parse_even(const struct cli_opt *o, const char *v)
{
	struct opts *x = o->dest;
	if (strlen(v) % 2 != 0)
		return "odd length";
	x->customs++;
	x->custom_seen = v;
	return NULL;
}

static void table(struct cli *c, struct opts *x, const char *command)
{
	*c = (struct cli){ .prog = "prog",
			   .command = command,
			   .about = "A test.",
			   .version = "1.2",
			   .help_col = 20,
			   .report = report };
	*x = (struct opts){ .bits = 0xff, .u32 = 7, .str = "dflt", .color = 1 };
	const struct cli_opt rows[] = {
		cli_flag("flag", &x->flag, "a flag"),
		cli_flag_clear("no-low", &x->bits, 0x0f, "clear the low bits"),
		cli_string("str", &x->str, "TEXT", "a string"),
		cli_u32("u32", &x->u32, 5, 100, "N", "a small number"),
		cli_def(cli_u64("u64", &x->u64, 0, UINT64_MAX, "N", "a big number"), "none"),
		cli_double("d", &x->d, 0.5, 2.5, "X", "a fraction"),
		cli_enum("color", &x->color, colors, "a color"),
		cli_custom("even", parse_even, x, NULL, "S", "an even-length text"),
		cli_config("config", &x->file, "read options from FILE"),
	};
	cli_add_rows(c, rows, sizeof rows / sizeof rows[0]);
}

/* Parse the NULL-terminated words after the program name; the result,
 * with stdout (help, version) into out. */
static int run(struct cli *c, const char *const *words, const char **pos, size_t max_pos, size_t *npos, char *out,
	       size_t out_len)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)"prog";
	for (size_t i = 0; words[i] != NULL; i++)
		argv[argc++] = (char *)words[i];
	argv[argc] = NULL;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *tmp = tmpfile();
	dup2(fileno(tmp), STDOUT_FILENO);
	last_error[0] = '\0';
	size_t np = 0;
	int r = cli_parse(c, argc, argv, pos, max_pos, npos ? npos : &np);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, out_len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return r;
}

/* Each row parses; both spellings give the same. */
static void test_kinds(void)
{
	struct cli c;
	struct opts x;
	char out[4096];
	static const char *const a[] = { "--flag", "--no-low", "--str",	  "s",
					 "--u32",  "100",      "--u64",	  "18446744073709551615",
					 "--d",	   "2.5",      "--color", "blue",
					 "--even", "ab",       NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, a, NULL, 0, NULL, out, sizeof out), 0);
	CHECK(x.flag && x.bits == 0xf0 && strcmp(x.str, "s") == 0 && x.u32 == 100 && x.u64 == UINT64_MAX);
	CHECK(x.d == 2.5 && x.color == 2 && x.customs == 1 && strcmp(x.custom_seen, "ab") == 0);
	static const char *const b[] = { "--str=s=t", "--u32=5", "--u64=0", "--d=0.5", "--color=red", "--even=", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, b, NULL, 0, NULL, out, sizeof out), 0);
	CHECK(strcmp(x.str, "s=t") == 0 && x.u32 == 5 && x.u64 == 0 && x.d == 0.5 && x.color == 0);
	CHECK(x.customs == 1 && strcmp(x.custom_seen, "") == 0);
	CHECK_U64(errors, 0);
}

static const char *parse_maybe(const struct cli_opt *o, const char *v)
{
	const char **seen = o->dest;
	*seen = v != NULL ? v : "(none)";
	return v != NULL && *v == '\0' ? "empty" : NULL;
}

/* An optional value: "--opt" alone, "--opt=V"; the next word stays a
 * positional; --help shows "--opt[=V]". */
static void test_optional_value(void)
{
	const char *seen = NULL, *pos[2];
	size_t n;
	char out[4096];
	struct cli c = { .prog = "prog", .about = "A test.", .help_col = 20, .report = report };
	cli_add(&c, cli_optional(cli_custom("opt", parse_maybe, &seen, NULL, "V", "maybe a value")));
	static const char *const a[] = { "--opt", "word", NULL };
	CHECK_U64((uint64_t)run(&c, a, pos, 2, &n, out, sizeof out), 0);
	CHECK(n == 1 && strcmp(pos[0], "word") == 0 && strcmp(seen, "(none)") == 0);
	static const char *const b[] = { "--opt=x y", NULL };
	CHECK_U64((uint64_t)run(&c, b, pos, 2, &n, out, sizeof out), 0);
	CHECK(n == 0 && strcmp(seen, "x y") == 0);
	static const char *const d[] = { "--opt=", NULL };
	unsigned before = errors;
	CHECK_U64((uint64_t)run(&c, d, pos, 2, &n, out, sizeof out), (uint64_t)-1);
	CHECK(errors == before + 1 && strcmp(last_error, "--opt : empty") == 0);
	static const char *const h[] = { "--help", NULL };
	CHECK_U64((uint64_t)run(&c, h, pos, 2, &n, out, sizeof out), 1);
	CHECK(strstr(out, "--opt[=V]") != NULL);
}

struct bad_row {
	const char *words[4];
	const char *command; /* NULL: a program's own table */
	const char *error; /* the line the report function gets */
};

static const struct bad_row bad_rows[] = {
	{ { "--u32", "4" }, NULL, "--u32 4: out of range" }, /* lo-1 */
	{ { "--u32", "101" }, NULL, "--u32 101: out of range" }, /* hi+1 */
	{ { "--u32", "4294967301" }, NULL, "--u32 4294967301: out of range" }, /* wraps to 5 in 32 bits */
	{ { "--u64", "18446744073709551616" }, NULL, "--u64 18446744073709551616: out of range" }, /* 2^64 */
	{ { "--u64", "-1" }, NULL, "--u64 -1: not a whole number" },
	{ { "--u64", "+1" }, NULL, "--u64 +1: not a whole number" },
	{ { "--u64", "1x" }, NULL, "--u64 1x: not a whole number" },
	{ { "--u64=" }, NULL, "--u64 : not a whole number" },
	{ { "--d", "0.49" }, NULL, "--d 0.49: out of range" },
	{ { "--d", "nan" }, NULL, "--d nan: not a number" },
	{ { "--d", "1e999" }, NULL, "--d 1e999: not a number" },
	{ { "--color", "Red" }, NULL, "--color Red: unknown value" },
	{ { "--even", "abc" }, NULL, "--even abc: odd length" },
	{ { "--flag=1" }, NULL, "--flag takes no value" },
	{ { "--no-low=" }, NULL, "--no-low takes no value" },
	{ { "--u32" }, NULL, "--u32 needs a value (N)" },
	{ { "--colour", "red" }, NULL, "unknown option '--colour' (see --help)" },
	{ { "--fla" }, NULL, "unknown option '--fla' (see --help)" },
	{ { "stray" }, NULL, "unexpected argument 'stray' (see --help)" },
	{ { "--u32", "x" }, "ls", "ls: --u32 x: not a whole number" },
	{ { "--x" }, "ls", "ls: unknown option '--x' (see prog ls --help)" },
	{ { "stray" }, "ls", "ls: unexpected argument 'stray' (see prog ls --help)" },
};

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		const struct bad_row *r = &bad_rows[i];
		struct cli c;
		struct opts x;
		char out[4096];
		table(&c, &x, r->command);
		unsigned before = errors;
		int got = run(&c, r->words, NULL, 0, NULL, out, sizeof out);
		bool ok = got == -1 && errors == before + 1 && strcmp(last_error, r->error) == 0;
		if (!CHECK(ok))
			fprintf(stderr, "  row %zu: %d, '%s', want '%s'\n", i, got, last_error, r->error);
	}
}

static void test_positionals(void)
{
	struct cli c;
	struct opts x;
	char out[4096];
	const char *pos[2];
	size_t n;
	static const char *const a[] = { "one", "--flag", "two", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, a, pos, 2, &n, out, sizeof out), 0);
	CHECK(n == 2 && strcmp(pos[0], "one") == 0 && strcmp(pos[1], "two") == 0 && x.flag);
	/* after "--" everything is positional, --help included */
	static const char *const b[] = { "--", "--flag", "--help", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, b, pos, 2, &n, out, sizeof out), 0);
	CHECK(n == 2 && strcmp(pos[0], "--flag") == 0 && strcmp(pos[1], "--help") == 0 && !x.flag);
	CHECK_U64(strlen(out), 0);
	/* max_pos, max_pos + 1 */
	static const char *const d[] = { "a", "b", "c", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, d, pos, 2, &n, out, sizeof out), (uint64_t)-1);
	CHECK(strcmp(last_error, "unexpected argument 'c' (see --help)") == 0);
}

static void test_help_and_version(void)
{
	struct cli c;
	struct opts x;
	char out[4096];
	/* anywhere on the line, before anything is parsed (so no error for
	 * the bad value before it, and the defaults, not --u32 50) */
	static const char *const a[] = { "--u32", "50", "--u64", "x", "-h", NULL };
	table(&c, &x, NULL);
	unsigned before = errors;
	CHECK_U64((uint64_t)run(&c, a, NULL, 0, NULL, out, sizeof out), 1);
	CHECK_U64(errors, before);
	CHECK(strncmp(out, "usage: prog [options]\n\nA test.\n\n", 32) == 0);
	CHECK(strstr(out, "  --u32 N              a small number (default 7)\n") != NULL);
	CHECK(strstr(out, "  --u64 N              a big number (default none)\n") != NULL);
	CHECK(strstr(out, "  --color red|green|blue a color (default green)\n") != NULL);
	CHECK(strstr(out, "  --str TEXT           a string (default dflt)\n") != NULL);
	CHECK(strstr(out, "  --d X                a fraction\n") != NULL); /* 0: no default */
	CHECK(strstr(out, "  --flag               a flag\n") != NULL);
	CHECK(strstr(out, "  --help               this text\n  --version            print the version\n") != NULL);
	/* "--help" as an option's value is that value */
	static const char *const b[] = { "--str", "--help", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, b, NULL, 0, NULL, out, sizeof out), 0);
	CHECK(strcmp(x.str, "--help") == 0);
	static const char *const v[] = { "--version", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, v, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strcmp(out, "prog 1.2\n") == 0);
	/* a command's synopsis, and no --version where there is none */
	table(&c, &x, "ls");
	c.global = "[--spool DIR]";
	c.args = "ID";
	c.version = NULL;
	static const char *const h[] = { "--help", NULL };
	CHECK_U64((uint64_t)run(&c, h, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strncmp(out, "usage: prog [--spool DIR] ls [options] ID\n", 42) == 0);
	CHECK(strstr(out, "--version") == NULL);
	CHECK_U64((uint64_t)run(&c, v, NULL, 0, NULL, out, sizeof out), (uint64_t)-1);
}

struct size_row {
	const char *text;
	uint64_t lo, hi;
	uint64_t want; /* when why is NULL */
	const char *why;
};

#define NOT_SIZE "not a size (bytes, or with K, M, G, T)"

static const struct size_row size_rows[] = {
	{ "0", 0, UINT64_MAX, 0, NULL },
	{ "512", 0, UINT64_MAX, 512, NULL }, /* a plain number stays bytes */
	{ "512K", 0, UINT64_MAX, 512ull << 10, NULL },
	{ "512KiB", 0, UINT64_MAX, 512ull << 10, NULL },
	{ "10M", 0, UINT64_MAX, 10ull << 20, NULL },
	{ "10MiB", 0, UINT64_MAX, 10ull << 20, NULL },
	{ "1G", 0, UINT64_MAX, 1ull << 30, NULL },
	{ "1GiB", 0, UINT64_MAX, 1ull << 30, NULL },
	{ "2T", 0, UINT64_MAX, 2ull << 40, NULL },
	{ "2TiB", 0, UINT64_MAX, 2ull << 40, NULL },
	/* the range, in bytes: 1M is hi, hi+1 and lo-1 are not */
	{ "1M", 1024, 1ull << 20, 1ull << 20, NULL },
	{ "1048577", 1024, 1ull << 20, 0, "out of range" },
	{ "1023", 1024, 1ull << 20, 0, "out of range" },
	{ "1K", 1024, 1ull << 20, 1024, NULL },
	/* 64 bits: 16777215T fits, 16777216T (2^64) does not; nor 2^64 bytes */
	{ "16777215T", 0, UINT64_MAX, 16777215ull << 40, NULL },
	{ "16777216T", 0, UINT64_MAX, 0, "out of range" },
	{ "18446744073709551615", 0, UINT64_MAX, UINT64_MAX, NULL },
	{ "18446744073709551616", 0, UINT64_MAX, 0, "out of range" },
	{ "17179869184G", 0, UINT64_MAX, 0, "out of range" },
	/* spellings that are not sizes */
	{ "", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "K", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "1k", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "1KB", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "1 K", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "1.5G", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "-1", 0, UINT64_MAX, 0, NOT_SIZE },
	{ "1E", 0, UINT64_MAX, 0, NOT_SIZE },
};

static void test_sizes(void)
{
	for (size_t i = 0; i < sizeof size_rows / sizeof size_rows[0]; i++) {
		const struct size_row *r = &size_rows[i];
		uint64_t got = 7;
		const char *why = cli_value_size(r->text, r->lo, r->hi, &got);
		bool ok = r->why ? why != NULL && strcmp(why, r->why) == 0 && got == 7 : why == NULL && got == r->want;
		if (!CHECK(ok))
			fprintf(stderr, "  size row %zu '%s': %s, %llu\n", i, r->text, why ? why : "ok",
				(unsigned long long)got);
	}
}

struct duration_row {
	const char *text;
	uint64_t plain_ns, unit_ns, lo, hi;
	uint64_t want; /* when why is NULL */
	const char *why;
};

#define SEC CLI_SECONDS
#define MSEC CLI_MS
#define NOT_DUR "not a duration (e.g. 500ms, 30s, 5m, 2h, 1d)"

static const struct duration_row duration_rows[] = {
	/* a plain number keeps the option's unit */
	{ "300", SEC, SEC, 1, 86400, 300, NULL },
	{ "1000", MSEC, MSEC, 1, 86400000, 1000, NULL },
	{ "30s", SEC, SEC, 1, 86400, 30, NULL },
	{ "5m", SEC, SEC, 1, 86400, 300, NULL },
	{ "2h", SEC, SEC, 1, 86400, 7200, NULL },
	{ "1d", SEC, SEC, 1, 86400, 86400, NULL }, /* hi */
	{ "86401", SEC, SEC, 1, 86400, 0, "out of range" }, /* hi+1 */
	{ "1441m", SEC, SEC, 1, 86400, 0, "out of range" },
	{ "0", SEC, SEC, 1, 86400, 0, "out of range" }, /* lo-1 */
	{ "1s", SEC, SEC, 1, 86400, 1, NULL }, /* lo */
	{ "1.5m", SEC, SEC, 1, 86400, 90, NULL }, /* decimals that come to whole units */
	{ "500ms", SEC, SEC, 1, 86400, 0, "not a whole number of seconds" },
	{ "1.5", SEC, SEC, 1, 86400, 0, "not a whole number of seconds" },
	{ "1500ms", SEC, SEC, 1, 86400, 0, "not a whole number of seconds" },
	{ "2000ms", SEC, SEC, 1, 86400, 2, NULL },
	{ "500ms", MSEC, MSEC, 1, 86400000, 500, NULL }, /* sub-second where the unit allows */
	{ "1.5s", MSEC, MSEC, 1, 86400000, 1500, NULL },
	{ "0.5ms", MSEC, MSEC, 1, 86400000, 0, "not a whole number of milliseconds" },
	/* seconds kept in nanoseconds (the generator's --duration) */
	{ "0.001", SEC, CLI_NS, 1000000, UINT64_MAX, 1000000, NULL },
	{ "0.000999999", SEC, CLI_NS, 1000000, UINT64_MAX, 0, "out of range" },
	{ "1.000000001", SEC, CLI_NS, 1, UINT64_MAX, 1000000001, NULL },
	{ "1.0000000001", SEC, CLI_NS, 1, UINT64_MAX, 0, "finer than a nanosecond" },
	{ "1.0000000000", SEC, CLI_NS, 1, UINT64_MAX, 1000000000, NULL }, /* zeros are fine */
	/* 64 bits of nanoseconds: 213503d fits, 213504d does not */
	{ "213503d", SEC, SEC, 0, UINT64_MAX, 213503ull * 86400, NULL },
	{ "213504d", SEC, SEC, 0, UINT64_MAX, 0, "out of range" },
	{ "18446744073709551616", SEC, SEC, 0, UINT64_MAX, 0, "out of range" },
	/* spellings that are not durations */
	{ "", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "s", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "5 m", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "5min", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "5S", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "1.", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ ".5", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "-1s", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "1e3", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
	{ "1.5.5s", SEC, SEC, 0, UINT64_MAX, 0, NOT_DUR },
};

static void test_durations(void)
{
	for (size_t i = 0; i < sizeof duration_rows / sizeof duration_rows[0]; i++) {
		const struct duration_row *r = &duration_rows[i];
		uint64_t got = 7;
		const char *why = cli_value_duration(r->text, r->plain_ns, r->unit_ns, r->lo, r->hi, &got);
		bool ok = r->why ? why != NULL && strcmp(why, r->why) == 0 && got == 7 : why == NULL && got == r->want;
		if (!CHECK(ok))
			fprintf(stderr, "  duration row %zu '%s': %s, %llu\n", i, r->text, why ? why : "ok",
				(unsigned long long)got);
	}
}

/* How --help writes defaults: the largest exact unit. */
static void test_formats(void)
{
	char b[32];
	cli_value_format_size(268435456, b, sizeof b);
	CHECK(strcmp(b, "256M") == 0);
	cli_value_format_size(52428800, b, sizeof b);
	CHECK(strcmp(b, "50M") == 0);
	cli_value_format_size(1536, b, sizeof b);
	CHECK(strcmp(b, "1536") == 0); /* 1.5K: not exact in K */
	cli_value_format_size(1ull << 50, b, sizeof b);
	CHECK(strcmp(b, "1024T") == 0);
	cli_value_format_duration(300, CLI_SECONDS, b, sizeof b);
	CHECK(strcmp(b, "5m") == 0);
	cli_value_format_duration(10, CLI_SECONDS, b, sizeof b);
	CHECK(strcmp(b, "10s") == 0);
	cli_value_format_duration(1000, CLI_MS, b, sizeof b);
	CHECK(strcmp(b, "1s") == 0);
	cli_value_format_duration(1500, CLI_MS, b, sizeof b);
	CHECK(strcmp(b, "1500ms") == 0);
	cli_value_format_duration(172800, CLI_SECONDS, b, sizeof b);
	CHECK(strcmp(b, "2d") == 0);
}

/* Size and duration rows through the parser, and the note in --help. */
static void test_unit_rows(void)
{
	struct cli c = { .prog = "prog", .about = "A test.", .help_col = 20, .report = report };
	uint64_t max = 50ull << 20;
	uint32_t timeout = 300, gap = 1000;
	cli_add(&c, cli_size64("max", &max, 0, UINT64_MAX / 2, "BYTES", "a size"));
	cli_add(&c, cli_duration32("timeout", &timeout, CLI_SECONDS, 1, 86400, "SECS", "a duration"));
	cli_add(&c, cli_duration32("gap", &gap, CLI_MS, 1, 86400000, "MS", "a short one"));
	char out[4096];
	static const char *const h[] = { "--help", NULL };
	CHECK_U64((uint64_t)run(&c, h, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strstr(out, "  --max BYTES          a size (default 50M)\n") != NULL);
	CHECK(strstr(out, "  --timeout SECS       a duration (default 5m)\n") != NULL);
	CHECK(strstr(out, "  --gap MS             a short one (default 1s)\n") != NULL);
	CHECK(strstr(out, "\nBYTES: a number of bytes, or with K, M, G, T") != NULL);
	CHECK(strstr(out, "\nSECS, MS: a number of seconds (milliseconds), or with ms, s, m, h, d") != NULL);
	static const char *const a[] = { "--max=1G", "--timeout", "2h", "--gap", "1.5s", NULL };
	CHECK_U64((uint64_t)run(&c, a, NULL, 0, NULL, out, sizeof out), 0);
	CHECK(max == 1ull << 30 && timeout == 7200 && gap == 1500);
	static const char *const bad[] = { "--timeout", "500ms", NULL };
	CHECK_U64((uint64_t)run(&c, bad, NULL, 0, NULL, out, sizeof out), (uint64_t)-1);
	CHECK(strcmp(last_error, "--timeout 500ms: not a whole number of seconds") == 0);
	/* a table without such rows has no note */
	struct cli plain = { .prog = "prog", .about = "A test.", .help_col = 20, .report = report };
	CHECK_U64((uint64_t)run(&plain, h, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strstr(out, "BYTES:") == NULL && strstr(out, "SECS, MS:") == NULL);
	/* a custom row that reads sizes brings the note for sizes only */
	struct opts x;
	cli_add(&plain, cli_reads(cli_custom("even", parse_even, &x, NULL, "S", "sized"), CLI_SIZE));
	CHECK_U64((uint64_t)run(&plain, h, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strstr(out, "\nBYTES: ") != NULL && strstr(out, "SECS, MS:") == NULL);
}

/* A config file of these bytes, in a fresh temporary file; its path. */
static const char *config_file(const char *text, size_t len)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/test_cli_conf.XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
	return path;
}

/* Parse words after "--config PATH" (PATH holding text); the result. */
static int run_config(struct cli *c, const char *text, size_t len, const char *const *words)
{
	const char *path = config_file(text, len);
	const char *w[16] = { "--config", path };
	size_t n = 2;
	for (size_t i = 0; words != NULL && words[i] != NULL; i++)
		w[n++] = words[i];
	w[n] = NULL;
	char out[4096];
	int r = run(c, w, NULL, 0, NULL, out, sizeof out);
	unlink(path);
	return r;
}

/* Comments, blank lines, spaces, quotes, flags alone or "= true". */
static void test_config_syntax(void)
{
	struct cli c;
	struct opts x;
	static const char text[] = "# a comment\n\n   # indented comment\nflag\nno-low = true\n"
				   "str = \"a # b\"\n\tu32=50  \r\ncolor = blue\neven = ab\neven=cdcd\n"
				   "u64 = 1 # not a comment\n";
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run_config(&c, text, sizeof text - 1, NULL), (uint64_t)-1);
	CHECK(strstr(last_error, ":11: u64 = 1 # not a comment: not a whole number") != NULL);
	cli_file_free(&x.file);
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run_config(&c, text, sizeof text - 1 - 24, NULL), 0); /* without the last line */
	CHECK(x.flag && x.bits == 0xf0 && strcmp(x.str, "a # b") == 0 && x.u32 == 50 && x.color == 2);
	CHECK(x.customs == 2 && strcmp(x.custom_seen, "cdcd") == 0 && x.file.n == 7);
	cli_file_free(&x.file);
	static const char off[] = "flag = false\nno-low = false\n";
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run_config(&c, off, sizeof off - 1, NULL), 0);
	CHECK(!x.flag && x.bits == 0xff);
	cli_file_free(&x.file);
	/* --help is answered before the file is read (it need not exist) */
	static const char *const h[] = { "--config", "/nonexistent/x.conf", "--help", NULL };
	char out[4096];
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run(&c, h, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strstr(out, "  --config FILE        read options from FILE\n") != NULL);
}

/* The command line wins key by key; its repeatable option replaces the
 * file's list; a key it gives is not even parsed from the file. */
static void test_config_override(void)
{
	struct cli c;
	struct opts x;
	static const char text[] = "u32 = 50\neven = ab\neven = cd\nstr = file\nu64 = bad\n";
	static const char *const w[] = { "--u32", "60", "--even=xyzw", "--u64", "9", NULL };
	table(&c, &x, NULL);
	CHECK_U64((uint64_t)run_config(&c, text, sizeof text - 1, w), 0);
	CHECK(x.u32 == 60 && x.customs == 1 && strcmp(x.custom_seen, "xyzw") == 0 && x.u64 == 9);
	CHECK(strcmp(x.str, "file") == 0);
	CHECK(x.file.n == 5 && x.file.v[0].overridden && x.file.v[1].overridden && !x.file.v[3].overridden);
	cli_file_free(&x.file);
	/* the last --config counts; "--config=FILE" too */
	table(&c, &x, NULL);
	const char *path = config_file("u32 = 70\n", 9);
	char arg[96], out[256];
	snprintf(arg, sizeof arg, "--config=%s", path);
	const char *const two[] = { "--config", "/nonexistent", arg, NULL };
	CHECK_U64((uint64_t)run(&c, two, NULL, 0, NULL, out, sizeof out), 0);
	CHECK(x.u32 == 70 && strcmp(x.file.path, path) == 0);
	unlink(path);
	cli_file_free(&x.file);
}

struct config_error {
	const char *text;
	const char *want; /* after "PATH:" */
};

static const struct config_error config_errors[] = {
	{ "flag\n\nlisen = 1\n", "3: unknown key \"lisen\"" },
	{ "--u32 = 5\n", "1: unknown key \"--u32\"" },
	{ "= 5\n", "1: unknown key \"\"" },
	{ "u32\n", "1: key \"u32\": needs a value (key = value)" },
	{ "u32 =\n", "1: u32 = : not a whole number" },
	{ "flag = yes\n", "1: key \"flag\": a flag: true, false, or the key alone" },
	{ "even = abc\n", "1: even = abc: odd length" },
	{ "u32 = 4\n", "1: u32 = 4: out of range" },
	{ "color = pink\n", "1: color = pink: unknown value" },
	{ "config = x\n", "1: key \"config\": not allowed in a config file" },
	{ "flag\nstr = a\0b\n", "2: a NUL byte" },
};

static void test_config_errors(void)
{
	struct cli c;
	struct opts x;
	char want[256];
	for (size_t i = 0; i < sizeof config_errors / sizeof config_errors[0]; i++) {
		const struct config_error *e = &config_errors[i];
		size_t len = strlen(e->text);
		if (strcmp(e->text, "flag\nstr = a") == 0)
			len = 15; /* the NUL and "b\n" */
		table(&c, &x, NULL);
		const char *path = config_file(e->text, len);
		const char *const w[] = { "--config", path, NULL };
		char out[256];
		CHECK_U64((uint64_t)run(&c, w, NULL, 0, NULL, out, sizeof out), (uint64_t)-1);
		snprintf(want, sizeof want, "%s:%s", path, e->want);
		if (strcmp(last_error, want) != 0)
			fprintf(stderr, "config error %zu: got '%s', want '%s'\n", i, last_error, want);
		CHECK(strcmp(last_error, want) == 0);
		unlink(path);
		cli_file_free(&x.file);
	}
	/* a command's table says which; a missing file is named */
	table(&c, &x, "ls");
	static const char *const missing[] = { "--config", "/nonexistent/x.conf", NULL };
	char out[256];
	CHECK_U64((uint64_t)run(&c, missing, NULL, 0, NULL, out, sizeof out), (uint64_t)-1);
	CHECK(strcmp(last_error, "ls: --config /nonexistent/x.conf: No such file or directory") == 0);
	cli_file_free(&x.file);
}

/* A file of n lines "str = xxx..." each len bytes long (newline apart). */
static char *long_lines(size_t n, size_t len, size_t *total)
{
	char *t = malloc(n * (len + 1) + 1);
	for (size_t i = 0; i < n; i++) {
		char *l = t + i * (len + 1);
		memset(l, 'x', len);
		memcpy(l, "str = ", 6);
		l[len] = '\n';
	}
	*total = n * (len + 1);
	return t;
}

/* Line length, key count and file size at limit-1, limit, limit+1. */
static void test_config_limits(void)
{
	struct cli c;
	struct opts x;
	size_t total;
	for (size_t len = CLI_CONFIG_LINE_MAX - 1; len <= CLI_CONFIG_LINE_MAX + 1; len++) {
		char *t = long_lines(1, len, &total);
		table(&c, &x, NULL);
		int r = run_config(&c, t, total, NULL);
		CHECK_U64((uint64_t)r, len <= CLI_CONFIG_LINE_MAX ? 0 : (uint64_t)-1);
		CHECK(r != 0 || strlen(x.str) == len - 6);
		CHECK(r == 0 || strstr(last_error, ":1: line too long (at most 4096 bytes)") != NULL);
		cli_file_free(&x.file);
		free(t);
	}
	for (size_t n = CLI_CONFIG_KEYS_MAX - 1; n <= CLI_CONFIG_KEYS_MAX + 1; n++) {
		char *t = long_lines(n, 8, &total);
		table(&c, &x, NULL);
		int r = run_config(&c, t, total, NULL);
		CHECK_U64((uint64_t)r, n <= CLI_CONFIG_KEYS_MAX ? 0 : (uint64_t)-1);
		CHECK(r == 0 || strstr(last_error, ":1025: too many keys (at most 1024)") != NULL);
		cli_file_free(&x.file);
		free(t);
	}
	for (size_t size = CLI_CONFIG_FILE_MAX - 1; size <= CLI_CONFIG_FILE_MAX + 1; size++) {
		char *t = malloc(size); /* comment lines of 1024 bytes, the last one shorter */
		for (size_t i = 0; i < size; i++)
			t[i] = i % 1024 == 1023 || i == size - 1 ? '\n' : '#';
		table(&c, &x, NULL);
		int r = run_config(&c, t, size, NULL);
		CHECK_U64((uint64_t)r, size <= CLI_CONFIG_FILE_MAX ? 0 : (uint64_t)-1);
		CHECK(r == 0 || strstr(last_error, ": larger than 1048576 bytes") != NULL);
		cli_file_free(&x.file);
		free(t);
	}
}

/* Two reads of a file compared key by key (what SIGHUP reports). */
static void test_config_same(void)
{
	struct cli c;
	struct opts a, b;
	static const char one[] = "u32 = 50\neven = ab\neven = cd\nflag\n";
	static const char two[] = "u32 = 50\neven = ab\nflag = true\n";
	static const char *const w[] = { "--flag", NULL };
	table(&c, &a, NULL);
	CHECK_U64((uint64_t)run_config(&c, one, sizeof one - 1, w), 0);
	table(&c, &b, NULL);
	CHECK_U64((uint64_t)run_config(&c, two, sizeof two - 1, w), 0);
	CHECK(cli_file_same(&a.file, &b.file, "u32"));
	CHECK(!cli_file_same(&a.file, &b.file, "even")); /* one value fewer */
	CHECK(cli_file_same(&a.file, &b.file, "flag")); /* on the command line: the file's do not count */
	CHECK(cli_file_same(&a.file, &b.file, "str")); /* in neither */
	CHECK(!cli_file_same(&a.file, NULL, "u32") && cli_file_same(&a.file, NULL, "str"));
	cli_file_free(&a.file);
	cli_file_free(&b.file);
}

/* --help-man: the rows as roff, escaped; a command's table as a
 * subsection. */
static void test_help_man(void)
{
	struct cli c;
	struct opts x;
	char out[8192];
	static const char *const m[] = { "--u32", "9", "--help-man", NULL };
	table(&c, &x, NULL);
	cli_add(&c, cli_flag("dot", &x.flag, ".starts with a dot \\ and a backslash"));
	CHECK_U64((uint64_t)run(&c, m, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strncmp(out, ".SH NAME\nprog \\- A test.\n.SH SYNOPSIS\n\\fBprog\\fR [\\fIoptions\\fR]\n.SH OPTIONS\n",
		      73) == 0);
	CHECK(strstr(out, ".TP\n\\fB\\-\\-u32\\fR \\fIN\\fR\na small number (default 7)\n") != NULL);
	CHECK(strstr(out, ".TP\n\\fB\\-\\-color\\fR \\fIred|green|blue\\fR\na color (default green)\n") != NULL);
	CHECK(strstr(out, ".TP\n\\fB\\-\\-flag\\fR\na flag\n") != NULL);
	CHECK(strstr(out, ".TP\n\\fB\\-\\-dot\\fR\n\\&.starts with a dot \\e and a backslash\n") != NULL);
	CHECK(strstr(out, ".TP\n\\fB\\-\\-help\\fR\n") != NULL && strstr(out, "\\fB\\-\\-version\\fR\n") != NULL);
	table(&c, &x, "ls");
	c.global = "[--spool DIR]";
	c.args = "ID";
	c.version = NULL;
	CHECK_U64((uint64_t)run(&c, m + 2, NULL, 0, NULL, out, sizeof out), 1);
	CHECK(strncmp(out,
		      ".SS ls\n.PP\n\\fBprog\\fR [\\-\\-spool DIR] \\fBls\\fR [\\fIoptions\\fR] \\fIID\\fR\n.br\nA "
		      "test.\n",
		      83) == 0);
	CHECK(strstr(out, "version") == NULL);
}

int main(void)
{
	test_kinds();
	test_refusals();
	test_positionals();
	test_help_and_version();
	test_sizes();
	test_durations();
	test_formats();
	test_unit_rows();
	test_config_syntax();
	test_config_override();
	test_config_errors();
	test_config_limits();
	test_config_same();
	test_help_man();
	test_optional_value(); /* last: test_kinds counts errors from 0 */
	return harness_finish("cli");
}
