/*
 * tests/io/test_options.c - the --no-X extension switches of io/options.c,
 * which come from the rows of core's verb and extension registry
 * (core/smtp_verbs.c).
 *
 * Owns: every extension row gives one switch that clears exactly its bit
 * and takes no value, and --help lists each with the row's help text, in
 * bit order (the order --help had before the registry); a --no-X that no
 * row names is refused, and so is an empty name.  It does not cover the
 * other options (tests/cli/test_cli.c covers the parser).
 *
 * Workload: a few dozen parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_config.h"
#include "session_harness.h"
#include "smtp_verbs.h"

#define ARG_MAX_BYTES 64u
#define HELP_MAX_BYTES 16384u

/* options_parse of "smtpsink arg"; its return value, *cfg filled. */
static int parse_one(const char *arg, struct server_config *cfg)
{
	char a[ARG_MAX_BYTES];
	snprintf(a, sizeof a, "%s", arg);
	char *argv[] = { "smtpsink", a, NULL };
	return options_parse(2, argv, cfg);
}

/* What --help writes to stdout. */
static void help_text(char *buf, size_t size)
{
	struct server_config cfg;
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	size_t n = 0;
	fflush(stdout);
	if (tmp != NULL && saved >= 0 && dup2(fileno(tmp), STDOUT_FILENO) >= 0) {
		CHECK_U64(parse_one("--help", &cfg), 1);
		fflush(stdout);
		dup2(saved, STDOUT_FILENO);
		rewind(tmp);
		n = fread(buf, 1, size - 1, tmp);
	}
	CHECK(n > 0);
	buf[n] = '\0';
	if (saved >= 0)
		close(saved);
	if (tmp != NULL)
		fclose(tmp);
}

static void test_switches(void)
{
	static char help[HELP_MAX_BYTES];
	const char *after = help;
	help_text(help, sizeof help);
	for (unsigned b = 0; b < SMTP_EXT_COUNT; b++) {
		const struct smtp_ext_info *e = smtp_verbs_ext_of_bit(1u << b);
		struct server_config cfg;
		char arg[ARG_MAX_BYTES], line[2 * ARG_MAX_BYTES];
		CHECK(e != NULL);
		if (e == NULL)
			continue;
		snprintf(arg, sizeof arg, "--%s", e->option);
		harness_check(parse_one(arg, &cfg) == 0 &&
				      cfg.smtp.ext == (SMTP_EXT_ALL & ~SMTP_EXT_STARTTLS & ~e->bit),
			      __FILE__, __LINE__, arg);
		snprintf(arg, sizeof arg, "--%s=1", e->option);
		harness_check(parse_one(arg, &cfg) == -1, __FILE__, __LINE__, arg);
		snprintf(line, sizeof line, "  --%-32s %s\n", e->option, e->help);
		const char *at = strstr(help, line);
		harness_check(at != NULL && at >= after, __FILE__, __LINE__, line);
		after = at != NULL ? at : after;
	}
	struct server_config cfg;
	CHECK(parse_one("--no-such-extension", &cfg) == -1);
	CHECK(parse_one("--no-", &cfg) == -1);
	CHECK(parse_one("--=x", &cfg) == -1); /* an empty name is no option */
	CHECK(parse_one("--", &cfg) == 0); /* the end of the options (cli/) */
	options_free(&cfg);
}

int main(void)
{
	test_switches();
	return harness_finish("options");
}
