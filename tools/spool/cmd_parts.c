/*
 * tools/spool/cmd_parts.c - `parts ID`: the attachments and inline parts
 * of one message, as Mailpit lists them (mime_msg.h): part ID, kind,
 * content type, decoded size, file name; `--json`: one object per line,
 *   {"part_id":"2","kind":"attachment","content_type":"application/pdf",
 *    "file_name":"a.pdf","content_id":"","size":1234}
 *
 * Owns: that table and that JSON.  Names come from mail: they reach a
 * terminal only through text_out_clean(), JSON through json_out_str().
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "json_out.h"
#include "mime_out.h"
#include "msg_source.h"
#include "report.h"
#include "spool_cli.h"
#include "text_out.h"

#define COL_PART 10u
#define COL_KIND 10u
#define COL_TYPE 28u
#define COL_SIZE 10u

static void json_field(const char *name, const char *value, bool first)
{
	printf("%s\"%s\":", first ? "{" : ",", name);
	json_out_str(stdout, (const uint8_t *)value, strlen(value));
}

static void part_json(const struct mime_part *p)
{
	json_field("part_id", p->part_id, true);
	json_field("kind", p->is_inline ? "inline" : "attachment", false);
	json_field("content_type", p->content_type, false);
	json_field("file_name", p->file_name, false);
	json_field("content_id", p->content_id, false);
	printf(",\"size\":%llu}\n", (unsigned long long)p->size);
}

static void col(const char *s, size_t width)
{
	text_out_clean(stdout, (const uint8_t *)s, strlen(s), width, width);
	fputc(' ', stdout);
}

static void part_row(const struct mime_part *p)
{
	col(p->part_id, COL_PART);
	col(p->is_inline ? "inline" : "attachment", COL_KIND);
	col(p->content_type, COL_TYPE);
	printf("%*llu  ", COL_SIZE, (unsigned long long)p->size);
	const char *name = p->file_name[0] ? p->file_name : p->content_id;
	text_out_clean(stdout, (const uint8_t *)name, strlen(name), 0, 0);
	fputc('\n', stdout);
}

static int parts_one(void *arg, struct msg *m)
{
	bool json = *(const bool *)arg;
	struct mime_msg mm;
	int rc = mime_out_parse("parts", m, &mm);
	if (rc != SPOOL_EXIT_OK)
		return rc;
	if (!json)
		printf("%-*s %-*s %-*s %*s  %s\n", COL_PART, "PART", COL_KIND, "KIND", COL_TYPE, "TYPE", COL_SIZE,
		       "SIZE", "NAME (or CONTENT-ID)");
	const struct {
		const struct mime_part *v;
		size_t n;
	} lists[] = { { mm.attachments, mm.attachment_count }, { mm.inlines, mm.inline_count } };
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l].n; i++) {
			if (json)
				part_json(&lists[l].v[i]);
			else
				part_row(&lists[l].v[i]);
		}
	}
	mime_msg_free(&mm);
	if (fflush(stdout) != 0) {
		report_error("parts: writing to stdout failed");
		return SPOOL_EXIT_IO;
	}
	return SPOOL_EXIT_OK;
}

int cmd_parts(const struct cmd_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	struct cli c;
	spool_cli_init(&c, "parts", "ID", "List the attachments and inline parts of one message.");
	cli_add(&c, cli_flag("json", &json, "one JSON object per part"));
	struct msg_source_acts acts = { parts_one, NULL, &json };
	return msg_source_with(ctx, &c, argc, argv, &acts);
}
