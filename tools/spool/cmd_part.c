/*
 * tools/spool/cmd_part.c - `part ID N`: the decoded bytes of part N of one
 * message (a part ID as `parts` lists it, or any other leaf of the MIME
 * tree: "1", "2.1", "0" for a single-part message's body), to stdout or
 * to a file (-o FILE).
 *
 * Owns: the refusal to write raw bytes to a terminal (a part may hold any
 * bytes, escape sequences included): with stdout a terminal and no -o,
 * nothing is written and the exit status is 2.  The bytes are exactly
 * what mime_msg_part() decodes (no charset conversion).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "mime_msg.h"
#include "msg_source.h"
#include "report.h"
#include "spool_cli.h"
#include "text_out.h"

#define PART_ID_TEXT_BYTES 64u

struct part_opts {
	const char *out; /* --output FILE (or -o FILE), or NULL: stdout */
	const char *rest[1]; /* the part ID, after the message ID */
};

/* data[0..n) to path (created or truncated) or to stdout. */
static int write_out(const char *path, const uint8_t *data, size_t n)
{
	FILE *f = path ? fopen(path, "wb") : stdout;
	if (!f) {
		report_error("part: %s: %s", path, strerror(errno));
		return SPOOL_EXIT_IO;
	}
	bool ok = fwrite(data, 1, n, f) == n;
	ok = (path ? fclose(f) : fflush(f)) == 0 && ok;
	if (!ok) {
		report_error("part: writing %s: %s", path ? path : "to stdout", strerror(errno));
		return SPOOL_EXIT_IO;
	}
	return SPOOL_EXIT_OK;
}

static int part_one(void *arg, struct msg *m)
{
	const struct part_opts *o = arg;
	const char *part_id = o->rest[0];
	if (!o->out && isatty(STDOUT_FILENO)) {
		report_error("part: not writing a part's raw bytes to a terminal: use --output FILE or a pipe");
		return SPOOL_EXIT_USAGE;
	}
	uint8_t *data;
	size_t n;
	struct mime_part info;
	mime_msg_init();
	int e = mime_msg_part(m->rec.body, (size_t)m->rec.body_len, part_id, &data, &n, &info);
	if (e == -ENOENT) {
		char id[PART_ID_TEXT_BYTES];
		report_error("part: the message has no part %s (see parts ID)",
			     text_out_safe(part_id, strlen(part_id), id, sizeof id));
		return SPOOL_EXIT_NOT_FOUND;
	}
	if (e != 0) {
		report_error("part: %s", strerror(-e));
		return SPOOL_EXIT_IO;
	}
	int rc = write_out(o->out, data, n);
	free(data);
	mime_part_free(&info);
	return rc;
}

int cmd_part(const struct cmd_ctx *ctx, int argc, char **argv)
{
	struct part_opts o = { NULL, { NULL } };
	struct cli c;
	spool_cli_init(&c, "part", "ID N", "Write the decoded bytes of part N of one message (see parts).");
	cli_add(&c, cli_string("output", &o.out, "FILE", "write to FILE instead of stdout (also -o FILE)"));
	/* cli/ parses long options only; -o is the customary spelling for an
	 * output file (cc, curl), so it is taken as --output */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-o") == 0)
			argv[i] = (char *)"--output";
	}
	struct msg_source_acts acts = { part_one, NULL, &o };
	return msg_source_with_args(ctx, &c, argc, argv, o.rest, 1, &acts);
}
